"""Options shared by the subcommands that run models.

The flags are parsed into the engine's typed options (`UpscaleOptions`) through the same
parsers and constructor the GUI uses (`sr_desktop.engine.core.options`), so both accept
and refuse the same values.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sr_desktop.engine.core.errors import OptionError, SRDesktopError
from sr_desktop.engine.core.interrupt import handle_stop_signals
from sr_desktop.engine.core.options import (
    ALPHA_CHOICES,
    DEFAULT_MODEL,
    PRECISION_CHOICES,
    UPSCALE_DEVICE_CHOICES,
    Backend,
    TilePolicy,
    UpscaleOptions,
    as_whole_number,
    parse_device,
    parse_iterations,
    parse_scale,
    parse_seed,
    parse_tile,
    parse_torch_device,
)
from sr_desktop.engine.core.paths import DOCS_DIR
from sr_desktop.engine.imageio.formats import DEFAULT_QUALITY, LOSSY_FORMATS, check_quality

T = TypeVar("T")


def argparse_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type=`` from an engine option parser: its `OptionError` becomes
    argparse's usage error (exit 2, the message on one line)."""

    def convert(value: str) -> T:
        text_arg(value)
        try:
            return parse(value)
        except OptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def text_arg(value: str) -> str:
    """An argparse ``type=`` for an option's word (a variant, a degradation, a model id): an
    empty (or blank) one is a usage error, not the default (``--device ''`` ran on auto,
    ``--variant ''`` the default variant)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty: give a value")
    return value


def path_arg(value: str) -> str:
    """An argparse ``type=`` for a file or folder argument: an empty (or blank) one is a
    usage error — ``Path("")`` is the current folder, where a batch wrote its outputs and a
    bench read whatever images were there."""
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty (an empty path would mean the current folder)")
    return value


def output_arg(value: str) -> str:
    """`path_arg` for a file written: ``-`` is standard output (``/dev/stdout``), as in most
    tools; it made a file named ``-`` (``-.png`` for an image) in the current folder. A name
    ending in a separator names a folder: a usage error (``--report reports/`` wrote a file
    named ``reports``)."""
    value = path_arg(value)
    if value.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        raise argparse.ArgumentTypeError(f"{value} names a folder (it ends in {value[-1]}): give a file name")
    if value != "-":
        return value
    if not os.path.exists("/dev/stdout"):
        raise argparse.ArgumentTypeError("'-' (standard output) cannot be written into on this system: name a file")
    return "/dev/stdout"


#: ``--tile N|auto``: a `TilePolicy`
tile_arg: Callable[[str], TilePolicy] = argparse_type(parse_tile)
#: ``--device`` of an upscale: auto, cpu, cuda, cuda:N, mps, vulkan, vulkan:N
device_arg: Callable[[str], str] = argparse_type(parse_device)
#: ``--seed``: 0..MAX_SEED
seed_arg: Callable[[str], int] = argparse_type(parse_seed)
#: ``--device`` of torch's jobs (training, kernel estimation): the same without vulkan
torch_device_arg: Callable[[str], str] = argparse_type(parse_torch_device)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model --scale --variant --device --tile --precision --backend."""
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="ID",
                        help=f"model id (see `sr-desktop models`; default {DEFAULT_MODEL})")
    parser.add_argument("--scale", type=argparse_type(parse_scale), metavar="N",
                        help="output scale (default: the model's native scale; other scales use extra "
                             "passes and/or Lanczos resampling)")
    parser.add_argument("--variant", type=text_arg, metavar="NAME",
                        help="model variant (noise level, conservative, ...)")
    parser.add_argument("--device", default="auto", type=device_arg, metavar="DEVICE",
                        help=f"compute device: {', '.join(UPSCALE_DEVICE_CHOICES)}, cuda:N or vulkan:N (default "
                        "auto; see `sr-desktop devices`); vulkan: a GPU through the ncnn runtime, as Upscayl "
                        "(the model zoo's models only)")
    parser.add_argument("--tile", default="auto", type=tile_arg, metavar="N|auto",
                        help="tile size in input pixels, at least 16; 0 = whole image (default auto: fits free "
                             "memory)")
    parser.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                        help="auto = fp16 on CUDA where the model allows and on Vulkan GPUs that have it, "
                        "fp32 elsewhere")
    add_backend_option(parser)


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """--backend auto|torch|openvino|ncnn."""
    parser.add_argument("--backend", default="auto", choices=Backend.choices(),
                        help="what runs the network: auto = the fastest of torch, OpenVINO and (zoo models) "
                             "the ncnn runtime on this machine, measured once per model, within twice the "
                             "leanest one's memory (default); openvino and ncnn = CPU only")


def add_alpha_option(parser: argparse.ArgumentParser) -> None:
    """--alpha model|resample."""
    parser.add_argument("--alpha", choices=ALPHA_CHOICES, default="model",
                        help="upscale alpha through the model (default) or by resampling (Lanczos; a "
                             "resampling model's own method)")


def add_iterations_option(parser: argparse.ArgumentParser) -> None:
    """--iterations N of the per-image models (ZSSR, map-sr); None when not given: each model's
    own default."""
    parser.add_argument("--iterations", type=argparse_type(parse_iterations), default=None, metavar="N",
                        help="the most iterations --model zssr trains at each of its ×2 steps (×4 is two; default "
                             "1000 on a CPU, 3000 on a GPU; it stops sooner once its learning rate has decayed) or "
                             "map-sr solves (default 300, tikhonov 100) on each image: fewer for a quick look, "
                             "more for detail")


def add_quality_option(parser: argparse.ArgumentParser) -> None:
    """--quality Q (JPEG/WebP); left None when not given, so that `quality_from` can tell."""
    parser.add_argument("--quality", type=argparse_type(_parse_quality), default=None, metavar="Q",
                        help=f"JPEG/WebP quality 1..100 (default {DEFAULT_QUALITY}, and lossless WebP from a lossless "
                             "WebP; 100 = lossless WebP)")


def _parse_quality(text: str) -> int:
    """--quality's text: a whole number 1..100 (`check_quality`)."""
    try:
        value = as_whole_number(text)
    except ValueError:
        raise OptionError(f"quality must be 1..100, got {text!r}") from None
    return check_quality(value)


def add_metadata_option(parser: argparse.ArgumentParser) -> None:
    """--no-metadata: outputs without the input's ICC profile, EXIF (camera, GPS, dates), XMP
    (keywords, creator, rights) and resolution; --no-gps: without the GPS position only."""
    parser.add_argument("--no-metadata", action="store_true",
                        help="do not copy the ICC profile, EXIF (camera, GPS position, dates), XMP (keywords, "
                             "creator, rights) or resolution to outputs (values as stored: a wide-gamut photo's "
                             f"colours then show shifted, see {DOCS_DIR / 'formats.md'})")
    parser.add_argument("--no-gps", action="store_true",
                        help="copy the metadata without the GPS position (EXIF's GPS data erased, every XMP "
                             "property named GPS… left out): the date, camera, rights, place names and colour "
                             "profile stay")


def add_output_size_options(parser: argparse.ArgumentParser) -> None:
    """--width W / --height H: the result resized to fit (`pipeline.output_size`)."""
    parser.add_argument("--width", type=argparse_type(_parse_side("width")), metavar="W",
                        help="resize the result to W pixels wide (its aspect ratio kept; with --height: to fit "
                             "within W×H), after the model's upscale, with Lanczos (nearest neighbour after nearest "
                             "and scalenx: pixel art stays square)")
    parser.add_argument("--height", type=argparse_type(_parse_side("height")), metavar="H",
                        help="resize the result to H pixels high (see --width)")


def _parse_side(side: str) -> Callable[[str], int]:
    """The parser of --width or --height's text: the rule of `OutputSize`, so that argparse
    names the flag in a refusal."""

    def parse(text: str) -> int:
        from sr_desktop.engine.core.output_size import OutputSize

        try:
            value: object = as_whole_number(text)
        except ValueError:
            value = text  # refused by OutputSize, in its words
        return getattr(OutputSize(**{side: value}), side)

    parse.__name__ = side
    return parse


def output_size_from(args: argparse.Namespace):
    """The `OutputSize` of --width/--height, None without them; `OptionError` for a bad one."""
    from sr_desktop.engine.core.output_size import OutputSize

    width, height = getattr(args, "width", None), getattr(args, "height", None)
    return None if width is None and height is None else OutputSize(width, height)


def quality_from(args: argparse.Namespace) -> int:
    """The --quality to save with (checked: `OptionError` outside 1..100); the default when
    not given. `quality_note` says when it does not apply."""
    if args.quality is None:
        return DEFAULT_QUALITY
    check_quality(args.quality)
    return args.quality


def quality_note(args: argparse.Namespace, formats: set[str]) -> str | None:
    """The note for a --quality given for output `formats` that are all lossless (a silently
    ignored option looks like a bug), or None. Said once every check has passed: before a
    refusal it read as if the refusal were about the quality."""
    if args.quality is None or not formats or formats & set(LOSSY_FORMATS):
        return None
    # (not "lossless": a GIF keeps 256 colours)
    shown = ", ".join(sorted(formats))
    return f"sr-desktop: note: --quality is for jpg and webp output; it does not apply to {shown}, so it is ignored"


def upscale_options_from(args: argparse.Namespace) -> UpscaleOptions:
    """The `UpscaleOptions` of the flags of `add_model_options` (and --alpha / --kernel /
    --iterations where the subcommand has them)."""
    return UpscaleOptions(
        model=args.model,
        scale=args.scale,
        variant=args.variant,
        device=args.device,
        tile=args.tile,
        precision=args.precision,
        alpha=getattr(args, "alpha", None),
        kernel=getattr(args, "kernel", None),
        backend=getattr(args, "backend", None),
        iterations=getattr(args, "iterations", None),
    )


def send_warnings_to_log(verbose: bool = False) -> None:
    """Python warnings (Pillow's about a damaged file, ...) go to the log file, not stderr.

    A failed file is one line on stderr; the warnings a decoder gave on the way there are
    details for the log (``<log dir>/sr-desktop.log``). With ``-v`` they are shown too.
    """
    import logging

    from sr_desktop.cli.log_file import LogFileHandler, log_file_handler

    logging.captureWarnings(True)
    logger = logging.getLogger("py.warnings")
    logger.propagate = verbose
    if any(getattr(h, "_sr_desktop_warnings", False) for h in logger.handlers):
        return
    # the window's own handler of the file where there is one: two handlers of one rotated
    # file each renamed it in turn, and the window's records went out with the old files
    handler = next((h for h in logging.getLogger().handlers if isinstance(h, LogFileHandler)), None)
    if handler is not None and verbose:  # (propagated, they reach it: added too, each was written twice)
        return
    handler = handler or log_file_handler()
    handler._sr_desktop_warnings = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


def name_the_file(message: str, path) -> str:
    """``message`` (one line), prefixed with the file's name when it does not already say it."""
    from sr_desktop.engine.core.text import printable

    shown = printable(path)
    return message if shown in message else f"{shown}: {message}"


class Console:
    """Messages of a command that works through several files: a stream the operating system
    refuses (stdout on a full disk) must not stop the work — the first refusal is kept in
    `lost` (the command ends with status 2 and says so once it has done the files). A closed
    pipe (`| head`) still stops the command, as Unix tools do."""

    def __init__(self) -> None:
        self.lost: OSError | None = None

    def say(self, text: str, stream=None) -> None:
        """Print `text` (a line) to `stream` (default stdout)."""
        try:
            print(text, file=stream if stream is not None else sys.stdout, flush=True)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.lost = self.lost or exc

    def finish(self, status: int) -> int:
        """`status`, or 2 with one line on stderr (if it takes it) when messages were lost."""
        if self.lost is None:
            return status
        try:
            print(f"sr-desktop: error: the messages could not be written ({self.lost.strerror or self.lost}); "
                  "the files are done", file=sys.stderr, flush=True)
        except OSError:
            pass
        return 2


@contextlib.contextmanager
def stop_signals_call(handler):
    """Within the block, every stop signal (`interrupt.STOP_SIGNAL_NAMES`) calls
    ``handler(signum, frame)`` (in the main thread; elsewhere nothing changes); the previous
    handlers come back after."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = handle_stop_signals(handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def licence_note(model_id: str) -> str | None:
    """The note said before a run with a model whose licence is non-commercial (an added
    checkpoint of spandrel-extra-arches), else None: the licence was only in `models --json`
    and the tooltip, and a run said nothing of it."""
    from sr_desktop.engine.models.community.licence import is_non_commercial
    from sr_desktop.engine.models.registry import get_model_spec

    try:
        spec = get_model_spec(model_id)
    except SRDesktopError:  # (refused in its own words by the run's checks)
        return None
    return f"sr-desktop: note: {spec.id} is under {spec.license}" if is_non_commercial(spec.license) else None


def check_per_image_options(options) -> str | None:
    """--kernel and --iterations before any file (upscale, batch): only for the per-image
    models (ZSSR, map-sr); a kernel file read once (a bad one is one error, not one per
    file). Returns the note to say once every check has passed when its size says ×4 and the
    run is ×2 (a ×2 kernel at ×4 is made the ×4 kernel, as documented), else None."""
    from sr_desktop.engine.core.kernel_file import kernel_size_note, load_kernel_file
    from sr_desktop.engine.core.text import printable
    from sr_desktop.engine.models.registry import get_model_spec, is_per_image

    if options.iterations is not None and not is_per_image(options.model):
        raise SRDesktopError("--iterations only applies to --model zssr or map-sr (they train or solve on each image)")
    if options.kernel is None:
        return None
    if not is_per_image(options.model):
        raise SRDesktopError("--kernel only applies to --model zssr or map-sr")
    if not isinstance(options.kernel, str) or options.kernel == "estimate":
        return None
    if (not Path(options.kernel).exists() and Path(options.kernel).suffix.lower() != ".npy"
            and difflib.get_close_matches(options.kernel.lower(), ["estimate"], 1, 0.75)):
        # ("estimated" was said to be a kernel file that is no .npy array)
        raise SRDesktopError(f"--kernel takes a .npy kernel file or the word estimate; {options.kernel!r} is "
                             "neither (did you mean --kernel estimate?)")
    given = load_kernel_file(options.kernel)
    runs_at = options.scale or max(get_model_spec(options.model).scales)  # (without --scale: its largest, ×4)
    # (a ×4 kernel blurs twice too wide at ×2: 12.8 dB against 29.2 with the ×2 one; said so)
    note = kernel_size_note(printable(Path(options.kernel).name), given, runs_at,
                            "it is used as a ×2 kernel, and a ×4 kernel's blur is twice too wide there: "
                            "estimate one at ×2 (sr-desktop kernel --scale 2) unless it is a wide ×2 blur")
    # (a ×4 estimate used at ×2 went without a word)
    return f"sr-desktop: {note}" if note and runs_at == 2 else None


def bug_logged(what: str, details: str) -> str:
    """For a bug that failed one file (`details`: its traceback, from
    `engine.batch.stages.bug_traceback`; "" for a file's own error, which returns ""): the
    traceback written to the log file, and the words to add to the file's error line. A bug
    on one file read like a bad input, its traceback nowhere without -v."""
    import logging

    from sr_desktop.cli.log_file import write_to_log_file

    if not details:
        return ""
    path = write_to_log_file(logging.ERROR, f"{what} failed\n{details}")
    where = f"its traceback is in {path}" if path else "run again with -v for its traceback"
    return f" (an unexpected error: {where})"
