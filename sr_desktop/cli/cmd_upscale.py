"""`sr-desktop upscale INPUT... -o OUTPUT`: upscale files with any model."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from sr_desktop.cli.common import (
    Console,
    add_alpha_option,
    add_iterations_option,
    add_metadata_option,
    add_model_options,
    add_output_size_options,
    add_quality_option,
    argparse_type,
    bug_logged,
    check_per_image_options,
    licence_note,
    name_the_file,
    output_arg,
    output_size_from,
    path_arg,
    quality_from,
    quality_note,
    send_warnings_to_log,
    upscale_options_from,
)
from sr_desktop.cli.progress_bar import TerminalProgress
from sr_desktop.cli.stdin_image import STDIN, STDIN_NAME, is_stdin, read_stdin_bytes
from sr_desktop.engine.core.box import parse_region
from sr_desktop.engine.core.errors import Cancelled, ModelError, SRDesktopError
from sr_desktop.engine.core.interrupt import is_terminal
from sr_desktop.engine.core.options import Backend
from sr_desktop.engine.core.text import counted, error_line, printable, result_seconds, with_variant
from sr_desktop.engine.imageio.atomic import into_stdout
from sr_desktop.engine.imageio.formats import WRITE_FORMATS, format_for_path
from sr_desktop.engine.imageio.protected import name_key, same_file

FORMATS = WRITE_FORMATS

EPILOG = """\
OUTPUT is a file for one input, a folder for several (created if missing; files keep
their names, with the suffix of --format when given). INPUT - is the image piped into
standard input (alone; its OUTPUT a file, or - with --format):
  curl -s URL | sr-desktop upscale - -o - --format png > big.png
An OUTPUT file named with another format's suffix than --format is refused; one without
an image suffix gets --format's.
Exit status: 0 all files done,
1 some files failed (one line each on stderr, naming the file; the others are done),
2 bad usage or options, 3 unexpected internal error (a bug: please report it with the
output of -v), 130 interrupted, 141 the reader of -o - closed it (| head).
With --model zssr or map-sr, --kernel FILE.npy (from `sr-desktop kernel`) or --kernel estimate.
Animated GIF, PNG and WebP are upscaled frame by frame (durations and loop count kept,
each frame written whole) into gif, png or webp; a multi-page TIFF keeps all its pages
(as tiff). A format that cannot hold every frame is refused, no frame is dropped."""


def add_parser(subparsers) -> None:
    """Register `sr-desktop upscale` and its options on `subparsers`."""
    p = subparsers.add_parser(
        "upscale", help="upscale image files",
        description="Upscale one or more images.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", type=path_arg, nargs="+", metavar="INPUT",
                   help="image files (- : standard input, one image)")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                   help="output file or folder (- : standard output, with --format)")
    add_model_options(p)
    p.add_argument("--format", choices=FORMATS, help="output format (default: from OUTPUT's suffix / the input's)")
    add_quality_option(p)
    add_metadata_option(p)
    add_alpha_option(p)
    add_output_size_options(p)
    p.add_argument("--kernel", metavar="FILE.npy|estimate", help="blur kernel for --model zssr or map-sr")
    add_iterations_option(p)
    p.add_argument("--region", type=argparse_type(parse_region), metavar="X,Y,W,H",
                   help="upscale only this region of each input (pixels of the input: left, top, width, height), "
                        "with the context around it that makes it equal those pixels of the whole result, as the "
                        "window's region tool; the output is the region alone, W·N×H·N (still images)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=run)


def _outputs(inputs: list[Path], given: str, fmt: str | None) -> list[Path]:
    from sr_desktop.engine.imageio import IMAGE_SUFFIXES, format_named_by, suffix_for_format
    from sr_desktop.engine.imageio.atomic import special_target

    output = Path(given)  # (which drops a trailing slash: `given` keeps it)
    as_folder = len(inputs) > 1 or output.is_dir() or given.endswith(("/", "\\"))
    if as_folder and output.exists() and not output.is_dir():
        raise SRDesktopError(f"-o {output} is a file; {len(inputs)} inputs need an output folder")
    if not as_folder:
        named = format_named_by(output)
        if named is None and (special_target(output) == "device" or output.is_symlink()):
            # a device, a pipe or a link (`-o /dev/stdout --format png > x.png`) is written
            # into as it is (`atomic_write`): a suffix appended made /dev/stdout.png, a regular
            # file in /dev
            if not fmt:
                raise SRDesktopError(f"-o {output} is a device, a pipe or a link: say what to write into it "
                                     "with --format (png, jpg, webp, tiff or gif)")
            return [output]
        if named is None and output.suffix.lower() in IMAGE_SUFFIXES:  # (x.heic.png, or "add .heic")
            raise SRDesktopError(f"-o {output}: {output.suffix.lstrip('.').upper()} is read, not written; name the "
                                 f"output {output.stem}{suffix_for_format(fmt) if fmt else '.png'}"
                                 + ("" if fmt else " (or .jpg, .webp, .tif)"))
        if fmt and named is None:  # no suffix, or not an image suffix: --format's is appended
            return [output.with_name(output.name + suffix_for_format(fmt))]
        if named is None:
            example = inputs[0].suffix if format_named_by(inputs[0]) else ".png"
            raise SRDesktopError(f"-o {output} has no image file suffix: name the file (e.g. "
                                 f"{output.name}{example}), add --format, or end the name with / for a folder")
        if fmt and named != fmt:  # FORMATS are the canonical names format_named_by gives
            raise SRDesktopError(f"-o {output} names a {named} file but --format is {fmt}: "
                                 f"name the output {output.stem}{suffix_for_format(fmt)} or leave out --format")
        return [output]
    targets = []
    for src in inputs:
        # an input named without an image suffix is written as PNG (its own name has no format)
        suffix = suffix_for_format(fmt) if fmt else (src.suffix if format_named_by(src) else ".png")
        targets.append(output / (src.stem + suffix))
    first_of: dict[str, Path] = {}
    for src, target in zip(inputs, targets, strict=True):
        if same_file(src, target):  # (refused at the write, after each file's upscale)
            one = "" if len(inputs) > 1 else " (or name the output file)"
            raise SRDesktopError(f"-o {given}: it is {src.name}'s own folder, where upscale would replace it "
                                 f"(files keep their names in an output folder); choose another folder{one}")
        other = first_of.setdefault(name_key(target), src)
        if other is not src:
            raise SRDesktopError(f"{other} and {src} would both be written to {target}; use separate runs, or "
                                 "batch with {ext} in its name template (--name '{stem}_{ext}_x{scale}_{model}')")
    return targets


def _device_format(output: Path, src: Path) -> str | None:
    """The format to write into a device (``-o /dev/null``, a FIFO) named without one: the
    input's, as --format's help promises (it was refused, asking for --format); None else,
    and for the process's own streams (``-o /dev/stdout`` as ``-o -``: what reads them must be
    told the format, --format)."""
    from sr_desktop.engine.imageio import format_named_by
    from sr_desktop.engine.imageio.atomic import own_stream_fd, special_target

    if format_named_by(output) is not None or special_target(output) != "device" or own_stream_fd(output) is not None:
        return None
    return format_named_by(src)


def _check_piped_input(inputs: list[Path], output: str) -> None:
    """`SRDesktopError` when ``-`` (standard input) is not the only input, or its output is a
    folder (the image has no name to keep there: "-.png" was written)."""
    if len(inputs) > 1:
        raise SRDesktopError("- (standard input) is one image: give it as the only INPUT")
    if Path(output).is_dir() or output.endswith(("/", "\\")):
        raise SRDesktopError(f"-o {output} is a folder, but the image from standard input has no name to keep there: "
                             f"name the output file (e.g. {Path(output) / 'out.png'}), or - with --format")


def _formats_of(targets: list[Path], fmt: str | None) -> set[str]:
    """The output formats `targets` will be written in (those their suffixes name; a name
    that names none is for that file's save to refuse)."""
    from sr_desktop.engine.imageio import format_named_by

    if fmt:
        return {fmt}
    return {named for named in map(format_named_by, targets) if named is not None}


def run(args: argparse.Namespace) -> int:
    """Run `sr-desktop upscale` for parsed `args`; returns the exit status (0; 1 some files failed; 130 cancelled)."""
    from sr_desktop.engine.imageio import ProtectedPaths, SaveOptions, check_output_path, format_named_by, lossy_changes
    from sr_desktop.engine.imageio.animation import (
        Animation,
        check_animation_format,
        read_image_or_animation,
        read_image_or_animation_bytes,
    )
    from sr_desktop.engine.imageio.atomic import remove_stale_temps_of
    from sr_desktop.engine.models.registry import is_per_image
    from sr_desktop.engine.pipeline.animation import upscale_any, write_any
    from sr_desktop.engine.pipeline.output_size import box_refusal, enlargement_note, resized
    from sr_desktop.engine.pipeline.upscale import resolve_model, upscale_region

    # an input named twice (a.png ./a.png) is upscaled once: it was "several inputs would be
    # written to the same output name" (a hard link, another name, stays an input of its own)
    first_named: dict[str, Path] = {}
    for given in args.inputs:  # (by its name, links not followed: a link is a name of its own)
        if given == "-":  # (told by the text as typed: Path("./-") is Path("-"), a file of that name)
            first_named.setdefault("-", STDIN)
            continue
        first_named.setdefault(name_key(os.path.normpath(os.path.abspath(given)), resolve=False), Path(given))
    inputs = list(first_named.values())
    if not args.output.strip():  # Path("") is the current folder
        raise SRDesktopError("-o/--output is empty: give an output file, or a folder for several inputs")
    given_output = args.output  # (as typed: `-` becomes /dev/stdout below)
    piped = any(map(is_stdin, inputs))
    if piped:
        _check_piped_input(inputs, args.output)
    if args.output == "-":
        if not args.format:
            raise SRDesktopError("-o - (standard output) takes the image in the format --format names "
                                 "(e.g. --format png)")
        try:
            args.output = output_arg(args.output)
        except argparse.ArgumentTypeError as exc:
            raise SRDesktopError(f"-o/--output {exc}") from None
    if not args.format and len(inputs) == 1 and not piped:
        args.format = _device_format(Path(args.output), inputs[0])
    targets = _outputs(inputs, args.output, args.format)
    if any(map(into_stdout, targets)) and is_terminal(1):
        # (as gzip and curl refuse: the image's bytes garbled the terminal)
        raise SRDesktopError(f"-o {given_output} writes the image into standard output, which is a terminal: "
                             "redirect it (> out.png), pipe it, or name a file")
    quality = quality_from(args)
    options = upscale_options_from(args)
    size = output_size_from(args)
    refusals = [box_refusal(size, args.format or format_named_by(target)) for target in targets]
    if all(refusals):  # (a size no output can have: one line before the upscales, not after each; where
        raise SRDesktopError(refusals[0])  # some can, the others fail as their files, named)
    per_image = is_per_image(options.model)
    notes = [check_per_image_options(options), quality_note(args, _formats_of(targets, args.format)),
             licence_note(options.model)]
    if per_image and options.variant:
        from sr_desktop.engine.models.registry import get_model_spec

        spec = get_model_spec(options.model)
        if options.variant not in spec.variants:  # one usage error, not one per file
            raise ModelError(f"{spec.id} has no variant {options.variant!r}; available: {', '.join(spec.variants)}")
    if per_image and options.backend in (Backend.OPENVINO, Backend.NCNN):  # one usage error, not one per file
        raise ModelError(f"{options.model} works on each image with torch (ZSSR trains a network, map-sr "
                         f"solves for it): --backend {options.backend.value} cannot run it (use auto or torch)")
    if per_image:  # a device or precision this machine lacks: one error, not one per file
        from sr_desktop.engine.compute import devices
        from sr_desktop.engine.core.options import parse_device

        devices.resolve_precision(options.precision.value, devices.resolve_device(parse_device(options.device)))
    model = None
    if not per_image:
        # Unknown model / scale / device: one error before any file. (A per-image model
        # is trained on each image: loading it here would train nothing but cost time.)
        # The first use of a model measures the backends (seconds): the notice says so.
        # Every file then runs this network: one removed (or replaced under its name) while
        # the files ran failed the rest or switched networks without a word.
        notice = TerminalProgress("sr-desktop", enabled=None if not args.quiet else False)
        model = resolve_model(options, progress=notice)[0]
    # (read once every option is checked: a refusal did not wait for a large pipe)
    stdin_data = read_stdin_bytes() if piped else b""
    for note in notes:  # once every check has passed: before a refusal it read as its cause
        if note and not args.quiet:
            print(note, file=sys.stderr)
    save = SaveOptions(format=args.format, quality=quality, keep_metadata=not args.no_metadata, drop_gps=args.no_gps,
                       keep_lossless=args.quality is None)
    send_warnings_to_log(getattr(args, "verbose", False))
    failed = 0
    console = Console()
    protect = ProtectedPaths(inputs)
    for src, dst in zip(inputs, targets, strict=True):
        image = result = None  # the previous file's pixels are freed before this one is read
        shown, name = (STDIN_NAME, STDIN_NAME) if is_stdin(src) else (src, src.name)
        bar = TerminalProgress(printable(name), enabled=None if not args.quiet else False)
        try:
            # the input first: a missing one was said as "cannot write OUT: file exists (use --overwrite)"
            image = (read_image_or_animation_bytes(stdin_data, STDIN_NAME) if is_stdin(src)
                     else read_image_or_animation(src))
            # an existing output is refused before the upscale (minutes for some models), not after
            check_output_path(dst, None if is_stdin(src) else src, save, protect, args.overwrite)
            if isinstance(image, Animation) and args.region is not None:
                raise SRDesktopError(f"--region takes still images; this one has {len(image.frames)} frames")
            if isinstance(image, Animation):  # refused before any frame is upscaled
                check_animation_format(image, dst, save)
            if args.region is not None:
                result = upscale_region(image, args.region, options, progress=bar, model=model)
            else:
                result = upscale_any(image, options, progress=bar, model=model)
            bar.close()
            exported = resized(result.image, size and size.for_model(result.model), args.format or format_named_by(dst))
            # a bar of the rows encoded (PNG, TIFF): a 192-megapixel PNG takes half a minute
            bar = TerminalProgress(f"{printable(dst.name)} (saving)", enabled=None if not args.quiet else False)
            written = write_any(exported, dst, save, overwrite=args.overwrite, protect=protect, progress=bar)
            bar.close()
            remove_stale_temps_of(Path(written))  # what an upscale killed while writing here left
        except Cancelled:
            bar.close()
            console.say(f"sr-desktop: cancelled at {printable(shown)}", sys.stderr)
            return 130
        except Exception as exc:
            bar.close()
            failed += 1
            bug = ""
            if not isinstance(exc, SRDesktopError):
                from sr_desktop.engine.batch.stages import bug_traceback

                logging.getLogger(__name__).debug("upscaling %s failed", shown, exc_info=True)
                bug = bug_logged(f"upscaling {printable(shown)}", bug_traceback(exc))
            console.say(f"sr-desktop: error: {name_the_file(error_line(exc), shown)}{bug}", sys.stderr)
            continue
        estimate = getattr(result, "extra", {}).get("kernel_estimate")
        if estimate is not None and (not args.quiet or not estimate.reliable):
            verdict = ("reliable" if estimate.reliable else f"DOUBTFUL: {estimate.doubt}" if estimate.doubt
                       else "DOUBTFUL: the result may show halos; estimate again with `sr-desktop kernel --seed`")
            frames = result.extra.get("kernel_frames")
            which = f" (the least confident of {frames} frames)" if frames else ""
            console.say(f"{printable(name)}: estimated kernel confidence {estimate.confidence:.2f}{which}, "
                        f"{verdict}", sys.stderr)
        for warning in result.warnings:  # (--quiet too: the result is damaged)
            console.say(f"sr-desktop: warning: {printable(name)}: {warning}", sys.stderr)
        if not args.quiet:
            changes = lossy_changes(exported, args.format or format_for_path(written))
            if exported is not result.image and (enlarged := enlargement_note(
                    (result.image.width, result.image.height), (exported.width, exported.height),
                    result.model, result.scale)):
                changes.append(enlarged)
            if changes:  # (the format's limits applied without a word)
                console.say(f"sr-desktop: note: {printable(Path(written).name)}: {', '.join(changes)}", sys.stderr)
            frames = f", {len(image.frames)} frames" if isinstance(image, Animation) else ""
            # a scale the model does not have says how it was reached ("span ×3" hid a ×4 pass
            # and a Lanczos downscale)
            route = f" ({result.scale_route})" if result.scale_route else ""
            # (on stderr when the image went into a stream: `-o /dev/stdout > x.png`)
            then = (f", resized to {exported.width}×{exported.height}" if exported is not result.image else "")
            # a region: its own size first ("48×40 -> 40×24" read as the image shrinking)
            source = f"{image.width}×{image.height}"
            if args.region is not None:
                x, y, w, h = args.region
                source = f"region {w}×{h} at ({x}, {y}) of {source}"
            # the weights as the window names them ("span · ch52 ×2": two variants' lines were alike)
            weights = with_variant(result.model, result.variant)
            iterations = f", iterations {options.iterations}" if options.iterations else ""  # (ZSSR's: each ×2 step)
            console.say(f"{printable(shown)} -> {printable(written)}  ({source} -> "
                        f"{result.image.width}×{result.image.height}{then}{frames}, {weights} "
                        f"×{result.scale}{route}{iterations}, {result_seconds(result.seconds)} on {result.device} with "
                        f"{result.backend})",
                        sys.stderr if into_stdout(written) else None)
    if failed:
        console.say(f"sr-desktop: {failed} of {counted(len(inputs), 'file')} failed", sys.stderr)
    return console.finish(1 if failed else 0)
