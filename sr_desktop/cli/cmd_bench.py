"""``sr-desktop bench``: PSNR/SSIM of models on a folder of HR images (the SR protocol)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sr_desktop.cli.common import (
    add_backend_option,
    argparse_type,
    device_arg,
    output_arg,
    path_arg,
    send_warnings_to_log,
    text_arg,
    tile_arg,
)
from sr_desktop.engine.core.options import PRECISION_CHOICES, parse_sr_scale
from sr_desktop.engine.core.paths import DOCS_DIR
from sr_desktop.engine.core.text import printable
from sr_desktop.engine.imageio.formats import READ_FORMAT_NAMES
from sr_desktop.engine.metrics.baseline_ids import ENGINE_BICUBIC_ID, MATLAB_BICUBIC_ID

DESCRIPTION = f"""\
For every HR image of DIR ({READ_FORMAT_NAMES}; other files are skipped): crop to a
multiple of the scale, degrade (MATLAB bicubic imresize, or blur with a kernel then keep
every N-th pixel), upscale with each model, round to 8 bits, and measure PSNR/SSIM on the
Y channel of BT.601 (grey images: grey values) with N pixels shaved per border.
With --lr-dataset, the dataset's own LR images are upscaled instead (real pairs: each HR
image cropped to its LR image's size × N).
'{MATLAB_BICUBIC_ID}' is MATLAB's bicubic (the baseline of the published tables); '{ENGINE_BICUBIC_ID}' is the app's
Pillow bicubic model.
NIQE (no reference, lower is more natural; MATLAB's niqe on Y) scores each result as well,
unless --no-niqe; a result with fewer than two whole 96×96 blocks (under 192×96 or
96×192) has none (null).
LPIPS (--lpips) and DISTS (--dists), lower is closer, compare each whole RGB result with its
HR through VGG16, from weight files you provide (--vgg16; {DOCS_DIR}/benchmarks.md says where they
are published): nothing is downloaded, and a missing or wrong file stops the bench before
any model runs. They add "lpips" / "dists" per image and per model (mean) to the JSON and
CSV, and columns to the table. PI is not available (--pi says why).
JSON: {{"sr_desktop_version", "dataset", "scale", "degradation", "protocol" (shave, round_y,
output, precision, ...), "models": [{{"model", "variant", "weights_sha256" or "weights_package"
(which weights), "psnr_y", "ssim_y", "niqe", "seconds", "images": [{{"name", "psnr_y", "ssim_y",
"niqe", ...}}], ...}}]}}; a kernel degradation adds "degradation_kernel_sha256". The models
compute in fp32 (the published tables'), unless --precision says otherwise. PSNR of an image
identical to its ground truth is infinite and written as null; each model's mean PSNR leaves
out the images any model not exact everywhere reproduced so ("psnr_left_out",
"psnr_rgb_left_out"), or its own only ("psnr_inf_images") where that would leave it none;
null only when every image is one.
Interrupted (Ctrl+C, SIGTERM: exit status 130), the models already measured are written and
shown, and the JSON lists the others as "not_measured". A model that fails (out of memory, a
file it cannot take) does not stop the others: one line each on stderr, "failed" in the JSON
({{"model", "error"}}), exit status 1; when none could be measured, the first error (status 2).
Exit status 141: the reader of standard output closed it (--json - | head): stopped quietly."""


def _kernel_file(degradation: str) -> str | None:
    """The kernel file a ``kernel:FILE.npy[,noise=…]`` degradation names (None for others)."""
    from sr_desktop.engine.core.kernel_file import kernel_spec_parts

    return (kernel_spec_parts(degradation) or ("",))[0] or None


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``sr-desktop`` subcommand parser."""
    parser = subparsers.add_parser(
        "bench",
        help="measure PSNR/SSIM of models on a dataset folder (published-table protocol)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dataset", type=path_arg, required=True, metavar="DIR", help="folder of HR images")
    # extend: `--model a --model b` measured b alone, without a word
    parser.add_argument("--model", nargs="+", action="extend", default=None, metavar="ID",
                        help=f"model id(s), after one --model or each its own (default: {MATLAB_BICUBIC_ID}); "
                        "ID@VARIANT for a variant of it (span@ch52)")
    parser.add_argument("--scale", required=True, type=argparse_type(parse_sr_scale), metavar="N",
                        help="the SR scale, 2..16 (the HR images are degraded by it)")
    parser.add_argument("--degradation", type=text_arg, metavar="bicubic|bicubic-float|kernel:FILE.npy",
                        help="how the LR images are made (default: bicubic = 8-bit MATLAB "
                        "imresize; bicubic-float keeps the LR unrounded, as SRMD's scripts)")
    parser.add_argument("--lr-dataset", type=path_arg, metavar="DIR",
                        help="real pairs: the dataset's own LR images (1/N of the HR's size; RealSR, DRealSR, "
                        "City100), paired by name (DIV2K's NAMEx2 and RealSR's NAME_LR2 count as NAME), upscaled "
                        "instead of LR images made by --degradation; the report's degradation is paired:DIR")
    parser.add_argument("--json", type=output_arg, metavar="OUT",
                        help="write per-image results as JSON (- : standard output, the table then on stderr)")
    parser.add_argument("--csv", type=output_arg, metavar="OUT",
                        help="write per-image results as CSV (- as --json); its MEAN row's seconds are per image, "
                             "where the table and --json give each model's total")
    parser.add_argument("--plot", type=path_arg, metavar="OUT.png", help="plot mean PSNR vs seconds per model")
    parser.add_argument("--save-sr", type=path_arg, metavar="DIR",
                        help="also write each model's SR images, as measured (8-bit PNG), to DIR/MODEL/IMAGE.png: "
                        "for a paper's figures")
    parser.add_argument("--save-maps", action="store_true",
                        help="with --save-sr, also write each SR image's difference, SSIM and gradient maps "
                        "against its HR, as the app's Metrics panel shows them, to "
                        "DIR/MODEL/difference/IMAGE.png, DIR/MODEL/ssim/IMAGE.png, DIR/MODEL/gradient/IMAGE.png")
    parser.add_argument("--difference-max", type=_difference_max, metavar="N",
                        help="with --save-maps, the |SR − HR| (1..255) every difference map shows brightest, so "
                        "that maps of several models compare by colour (default: each map's own 99.5th "
                        "percentile)")
    parser.add_argument("--device", default="auto", type=device_arg, metavar="DEVICE",
                        help="auto|cpu|cuda|cuda:N|mps|vulkan|vulkan:N (default: auto; vulkan runs the model zoo's "
                        "models, see `sr-desktop devices`)")
    parser.add_argument("--tile", default="auto", type=tile_arg,
                        help="tile size in input pixels, 0 = whole image, or auto (default auto: fits free memory)")
    add_backend_option(parser)
    parser.add_argument("--precision", default="fp32", choices=PRECISION_CHOICES,
                        help="what the models compute in: fp32 (default, the published tables'), fp16 on a GPU, "
                        "or auto (fp16 on CUDA and Vulkan GPUs, as upscale's default); the report records it")
    parser.add_argument("--round-y", action="store_true",
                        help="round Y to integers before measuring (MATLAB uint8 rgb2ycbcr, "
                        "as SRMD's scripts); default: Y in double precision")
    parser.add_argument("--float-output", action="store_true",
                        help="measure each model's float output before 8-bit rounding "
                        "(default: the 8-bit result, as saved to PNG)")
    parser.add_argument("--ms-ssim", action="store_true", help="also compute MS-SSIM (Y)")
    parser.add_argument("--no-niqe", action="store_true",
                        help="skip NIQE (no-reference naturalness of each result, lower is better; "
                        "MATLAB's niqe on Y; results under two 96×96 blocks get none)")
    parser.add_argument("--lpips", metavar="VGG.PTH",
                        help="also score LPIPS (Zhang et al. 2018, VGG, v0.1) with this file: the lpips "
                        "package's weights/v0.1/vgg.pth; needs the VGG16 file (--vgg16)")
    parser.add_argument("--dists", metavar="WEIGHTS.PT",
                        help="also score DISTS (Ding et al. 2020) with this file: the DISTS release's "
                        "weights.pt; needs the VGG16 file (--vgg16)")
    parser.add_argument("--vgg16", metavar="FILE",
                        help="torchvision's ImageNet VGG16, vgg16-397923af.pth, for --lpips/--dists "
                        "(default: that file in torch's hub cache, <hub dir>/checkpoints/)")
    parser.add_argument("--pi", action="store_true",
                        help="the Perceptual Index: refused, as the app lacks Ma et al.'s score it needs "
                        "(NIQE, its other half, is scored)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no per-image progress lines (nor the table when --json/--csv go to standard output)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing --json/--csv/--plot files")
    parser.set_defaults(func=run)
    return parser


def _say_kernel_size(args: argparse.Namespace, degradation) -> None:
    """A note when the kernel's size says another scale than --scale (a ×2 estimate, the
    kernel command's default, degraded a ×4 bench without a word)."""
    from sr_desktop.engine.core.kernel_file import kernel_size_note

    if degradation.kernel is not None:
        name = printable(Path(_kernel_file(args.degradation)).name)
        as_given = "the images are blurred with it as given"
        if note := kernel_size_note(name, degradation.kernel, int(args.scale), as_given):
            print(f"sr-desktop: {note}", file=sys.stderr)


def _difference_max(text: str) -> float:
    """--difference-max: a number from 1 to 255."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1 <= value <= 255:
        raise argparse.ArgumentTypeError(f"must be from 1 to 255 (a difference of 8-bit values), got {text}")
    return value


def _check_save_sr(args: argparse.Namespace, models: list[str], images: list[Path]) -> None:
    """--save-sr before any model runs: a folder outside the dataset (the next bench would
    measure the images), and no image already there unless --overwrite."""
    from sr_desktop.engine.imageio import resolved
    from sr_desktop.engine.imageio.atomic import file_target_refusal
    from sr_desktop.engine.metrics.errors import EvaluationError
    from sr_desktop.engine.metrics.evaluate import SAVED_MAPS, image_names, map_image_path, sr_image_path

    folder = Path(args.save_sr)
    for dataset in filter(None, (args.dataset, args.lr_dataset)):
        if resolved(folder).is_relative_to(resolved(Path(dataset))):
            raise EvaluationError(f"--save-sr {folder}: inside the dataset folder {dataset}, the next bench would "
                                  "measure its images")
    if os.path.lexists(folder) and not folder.is_dir():
        raise EvaluationError(f"--save-sr {folder}: not a folder")
    if (why := file_target_refusal(folder / "x.png", make_folders=True)) is not None:
        raise EvaluationError(f"--save-sr {folder}: {why}")
    names = image_names(images).values()
    written = [sr_image_path(folder / model, name) for model in models for name in names]
    if args.save_maps:
        written += [map_image_path(folder / model, name, mode) for model in models for name in names
                    for mode in SAVED_MAPS]
    there = [path for path in written if path.exists()]
    if there and not args.overwrite:
        more = f" (and {len(there) - 1} more)" if len(there) > 1 else ""
        raise EvaluationError(f"--save-sr: {there[0]} exists{more} (use --overwrite to replace them)")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table; write the requested files. Returns 0."""
    from sr_desktop.engine.imageio import ProtectedPaths, is_image_path, resolved
    from sr_desktop.engine.imageio.atomic import into_stdout, is_stream
    from sr_desktop.engine.metrics.degradation import parse_degradation
    from sr_desktop.engine.metrics.errors import EvaluationError
    from sr_desktop.engine.metrics.evaluate import EvalProtocol, evaluate_models
    from sr_desktop.engine.metrics.perceptual import PI_REFUSAL, load_perceptual
    from sr_desktop.engine.metrics.report import check_report_path, format_table, write_csv, write_json, write_plot

    if args.pi:
        raise EvaluationError(PI_REFUSAL)
    send_warnings_to_log(getattr(args, "verbose", False))
    if args.lr_dataset is not None and args.degradation is not None:
        raise EvaluationError(f"--lr-dataset gives the LR images: --degradation {args.degradation} would make "
                              "others (leave it out)")
    args.degradation = args.degradation or "bicubic"
    from sr_desktop.engine.metrics.given_lr import hr_images, list_lr_dataset

    # the HR images measured (RealSR's one folder holds the LR images too); paired, and so
    # checked, by the bench itself before any model runs
    dataset_images = hr_images(args.dataset, args.lr_dataset, args.scale)
    lr_images = list_lr_dataset(args.lr_dataset) if args.lr_dataset is not None else []
    images = ProtectedPaths(dataset_images + lr_images)  # fail early on a bad folder,
    # and on a file that cannot be written, or must not be: a dataset image, an input file
    # (the kernel, weight files), an existing file without --overwrite, an image name for text,
    # a plot inside the dataset (the next bench would measure it as one of its images)
    given = (_kernel_file(args.degradation), args.lpips, args.dists, args.vgg16)
    inputs = ProtectedPaths([Path(p) for p in given if p])
    outputs = [(flag, Path(p)) for flag, p in (("--json", args.json), ("--csv", args.csv), ("--plot", args.plot)) if p]
    for flag, path in outputs:
        check_report_path(path, plot=flag == "--plot")
        if path in images:
            raise EvaluationError(f"{flag} {path}: refusing to write over an image of the dataset")
        if path in inputs:
            raise EvaluationError(f"{flag} {path}: refusing to write over an input of this bench")
        if path.exists() and not is_stream(path) and not args.overwrite:
            raise EvaluationError(f"{flag} {path} exists (use --overwrite to replace it)")
        if flag != "--plot" and is_image_path(path):
            raise EvaluationError(f"{flag} {path}: that is an image file name, not a {flag[2:].upper()} one")
        for folder in filter(None, (args.dataset, args.lr_dataset)):
            if flag == "--plot" and resolved(path).is_relative_to(resolved(Path(folder))):
                raise EvaluationError(f"--plot {path}: inside the dataset folder {folder}, the next bench would "
                                      "measure it")
    for i, (flag, path) in enumerate(outputs):
        for other_flag, other in outputs[i + 1:]:
            if resolved(path) == resolved(other):
                raise EvaluationError(f"{flag} and {other_flag} name the same file {path}")
    models = list(dict.fromkeys(args.model or [MATLAB_BICUBIC_ID]))  # a model named twice is measured once
    if args.save_maps and args.save_sr is None:
        raise EvaluationError("--save-maps writes beside the SR images: give --save-sr DIR too")
    if args.difference_max is not None and not args.save_maps:
        raise EvaluationError("--difference-max sets the scale of the maps --save-maps writes: give --save-maps too")
    if args.save_sr is not None:
        _check_save_sr(args, models, dataset_images)
    degradation = parse_degradation(args.degradation)
    _say_kernel_size(args, degradation)
    # every weight file is read and checked here, before any model runs
    perceptual = load_perceptual(args.lpips, args.dists, args.vgg16, device=args.device)
    protocol = EvalProtocol(round_y=args.round_y, ms_ssim=args.ms_ssim, niqe=not args.no_niqe,
                            quantize_output=not args.float_output, perceptual=perceptual)

    def progress(info) -> None:
        if not args.quiet:
            print(f"  [{info.stage}] {info.done}/{info.total} {info.message}", file=sys.stderr)

    stopped = None
    try:
        report = evaluate_models(
            args.dataset,
            models,
            args.scale,
            degradation,
            device=args.device,
            tile=args.tile,
            protocol=protocol,
            progress=progress,
            backend=args.backend,
            precision=args.precision,
            save_sr=args.save_sr,
            save_maps=args.save_maps,
            difference_max=args.difference_max,
            lr_dataset=args.lr_dataset,
        )
    except KeyboardInterrupt as stop:  # Ctrl+C, SIGTERM: the models already measured are kept
        report = getattr(stop, "partial_report", None)
        if report is None or not report.models:
            raise
        stopped = stop
    # the files first: a terminal that cannot take the table (a full disk behind stdout) must
    # not cost the results of a long evaluation; and a file that cannot be written must not
    # cost the table
    try:
        if args.json:
            write_json(report, args.json)
        if args.csv:
            write_csv(report, args.csv)
        if args.plot:
            write_plot(report, args.plot)
    finally:
        # (on stderr when a file went into stdout: `--json - | jq` read the table after it)
        to_stderr = any(into_stdout(path) for _flag, path in outputs)
        if not (to_stderr and args.quiet):  # (-q with the data on stdout: nothing else to say)
            print(format_table(report), file=sys.stderr if to_stderr else sys.stdout)
    for model, error in report.failed:
        print(f"sr-desktop: error: {model}: {error}", file=sys.stderr)
    if stopped is not None:
        print(f"sr-desktop: interrupted: {len(report.models)} of {len(models)} models measured, "
              "written as above", file=sys.stderr)
        return 130
    return 1 if report.failed else 0
