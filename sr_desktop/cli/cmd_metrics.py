"""`sr-desktop metrics RESULT [--input LR] [--reference HR]`: the Metrics panel's numbers and
maps of an upscale, for files (the panel measures the window's image)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sr_desktop.cli.common import argparse_type, output_arg, path_arg
from sr_desktop.engine.core.box import parse_region
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.core.options import parse_sr_scale
from sr_desktop.engine.core.text import printable

HELP = "measure an upscaled image: sharpness, NIQE, consistency with its input, PSNR/SSIM against a reference"
EPILOG = """\
Without a reference (a real photo has none): the result's sharpness (mean gradient and Laplacian
variance of Y) and NIQE (lower is more natural; MATLAB's niqe on Y), and with --input the
input's too and the consistency check: the result shrunk back by the scale with MATLAB's
bicubic against the input (PSNR-Y, PSNR-RGB; a faithful upscale scores high). With --reference
(the ground truth): PSNR-Y, SSIM-Y and PSNR-RGB as the bench scores them (Y of BT.601, --shave
pixels shaved at each border: the scale by default). --maps DIR writes the panel's maps of the
result: gradient.png, and difference.png and ssim.png against the reference (or, without one, the
input upscaled with bicubic). The scale is the result's size over the input's (--scale when they
are not a whole multiple apart). --json prints the numbers as JSON: {"result", "size", "input",
"reference", "scale", "region", "sharpness", "niqe", "input_sharpness", "input_niqe",
"consistency", "reference_scores", "maps"} (null where not measured).
Exit status: 0 measured; 2 bad usage or an image it cannot measure; 3 unexpected internal error (a
bug); 130 interrupted; 141 the reader of standard output closed it (--json | head)."""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``metrics`` on the main parser."""
    p = subparsers.add_parser("metrics", help=HELP, description=HELP + ".", epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("result", type=path_arg, metavar="RESULT", help="the upscaled image")
    p.add_argument("--input", type=path_arg, metavar="LR", help="the image it was upscaled from")
    p.add_argument("--reference", type=path_arg, metavar="HR", help="the ground truth, of the result's size")
    p.add_argument("--scale", type=argparse_type(parse_sr_scale), metavar="N",
                   help="the upscale's factor, 2..16 (default: result size / input size)")
    p.add_argument("--shave", type=argparse_type(_shave), metavar="N",
                   help="pixels left out at each border for PSNR/SSIM "
                   "(default: the scale, as the published tables; 0 without an input or --scale)")
    p.add_argument("--region", type=argparse_type(parse_region), metavar="X,Y,W,H",
                   help="measure this region only, as the window's region tool: in the input's pixels (the result's "
                        "area is ×the scale), or the result's without --input")
    p.add_argument("--maps", type=output_arg, metavar="DIR", help="write the difference, SSIM and gradient maps here")
    p.add_argument("--overwrite", action="store_true", help="replace existing maps")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of text")
    p.set_defaults(func=run)
    return p


def _shave(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be 0 or more, got {value}")
    return value


def _read(path: str, role: str):
    from sr_desktop.app.metrics_jobs import eval_pixels
    from sr_desktop.engine.imageio import read_image

    image = read_image(path)
    if image.info.get("frames", 1) > 1:
        print(f"sr-desktop: note: {printable(Path(path).name)} ({role}) has {image.info['frames']} frames: "
              "the first is measured", file=sys.stderr)
    return eval_pixels(image.pixels)


def _scale_of(result, source, given: int | None) -> int:
    """The upscale's factor: `given`, or the result's size over the input's when it is a whole
    multiple in both directions; `SRDesktopError` naming the sizes otherwise."""
    (h, w), (sh, sw) = result.shape[:2], source.shape[:2]
    if given is not None:
        return given
    if (w, h) == (sw, sh):
        raise SRDesktopError(f"the result ({w}×{h}) is the input's size: not an upscale of it (give the image it "
                             "was upscaled from)")
    if w % sw == 0 and h % sh == 0 and w // sw == h // sh:
        return w // sw
    raise SRDesktopError(f"the result ({w}×{h}) is not a whole multiple of the input ({sw}×{sh}): give --scale "
                         "(the consistency check needs the exact ×N size)")


def run(args: argparse.Namespace) -> int:
    """Measure the result; print the numbers (text or JSON); write the maps. Returns 0."""
    from sr_desktop.app.metrics_jobs import (
        bicubic_reference,
        crop,
        display_map,
        no_reference_numbers,
        region_in,
        scale_box,
    )
    from sr_desktop.engine.metrics.evaluate import EvalProtocol, score_pair
    from sr_desktop.engine.metrics.niqe import niqe_or_none
    from sr_desktop.engine.metrics.noref import sharpness

    result = _read(args.result, "result")
    source = _read(args.input, "input") if args.input else None
    reference = _read(args.reference, "reference") if args.reference else None
    scale = _scale_of(result, source, args.scale) if source is not None else args.scale
    shave = args.shave if args.shave is not None else (scale or 0)
    if reference is not None and reference.shape[:2] != result.shape[:2]:  # (in this command's words, not the bench's)
        raise SRDesktopError(f"the reference ({reference.shape[1]}×{reference.shape[0]}) is not the result's size "
                             f"({result.shape[1]}×{result.shape[0]})")
    maps = _maps_folder(args)
    record: dict = {"result": args.result, "size": [result.shape[1], result.shape[0]], "input": args.input,
                    "reference": args.reference, "scale": scale, "region": None}
    box = None
    if args.region is not None:
        box = region_in(args.region, *(source if source is not None else result).shape[1::-1])
        record["region"] = list(box)
    if source is not None:
        numbers = no_reference_numbers(source, result, scale, box)
        if numbers.note:  # (a result of another size: the numbers of each image still stand)
            print(f"sr-desktop: note: no consistency check: {numbers.note}", file=sys.stderr)
        record.update(sharpness=numbers.result_sharpness.to_json(), niqe=numbers.result_niqe,
                      input_sharpness=numbers.input_sharpness.to_json(), input_niqe=numbers.input_niqe,
                      consistency=numbers.consistency.to_json() if numbers.consistency else None)
    else:
        measured = crop(result, box)
        record.update(sharpness=sharpness(measured).to_json(), niqe=niqe_or_none(measured), input_sharpness=None,
                      input_niqe=None, consistency=None)
    if box is not None:  # (the numbers above crop for themselves; the reference and the maps: here)
        in_result = scale_box(box, scale) if source is not None else box
        result, reference = crop(result, in_result), crop(reference, in_result) if reference is not None else None
        source = crop(source, box) if source is not None else None
    record["reference_scores"] = None
    if reference is not None:
        scores = score_pair(result, reference, max(1, shave), EvalProtocol(shave=shave, niqe=False))
        record["reference_scores"] = {**{k: v for k, v in scores.to_json().items() if k != "niqe"}, "shave": shave}
    record["maps"] = None
    if maps is not None:
        against = reference if reference is not None else (
            bicubic_reference(source, (result.shape[1], result.shape[0])) if source is not None else None)
        record["maps"] = _write_maps(maps, result, against, args.overwrite, display_map)
    if args.json:
        print(json.dumps(record, indent=2, allow_nan=False))
    else:
        print(_text(record))
    return 0


#: the maps --maps writes, each as MODE.png
MAP_FILES = ("difference", "ssim", "gradient")


def _maps_folder(args: argparse.Namespace) -> Path | None:
    """The --maps folder, checked before any measuring (a folder, or one to make; its maps
    replaced only with --overwrite); None without --maps."""
    from sr_desktop.engine.imageio.atomic import file_target_refusal

    if args.maps is None:
        return None
    folder = Path(args.maps)
    if folder.exists() and not folder.is_dir():
        raise SRDesktopError(f"--maps {folder}: not a folder")
    if (why := file_target_refusal(folder / "gradient.png", make_folders=True)) is not None:
        raise SRDesktopError(f"--maps {folder}: {why}")
    from sr_desktop.engine.imageio import ProtectedPaths

    measured = ProtectedPaths([Path(p) for p in (args.result, args.input, args.reference) if p])
    for mode in MAP_FILES:  # (--overwrite replaced the measured image by its own map)
        if folder / f"{mode}.png" in measured:
            raise SRDesktopError(f"--maps {folder}: {mode}.png there is an image this command measures")
    there = [folder / f"{mode}.png" for mode in MAP_FILES if (folder / f"{mode}.png").exists()]
    if there and not args.overwrite:
        raise SRDesktopError(f"--maps: {there[0]} exists (use --overwrite to replace the maps)")
    return folder


def _write_maps(folder: Path, result, against, overwrite: bool, display_map) -> dict[str, str]:
    """The maps of `result` (difference and SSIM only with an image to compare `against`),
    written as PNGs into `folder`; {mode: path}."""
    from sr_desktop.engine.imageio import Image, SaveOptions, write_image

    written = {}
    for mode in MAP_FILES:
        if mode != "gradient" and against is None:
            continue
        target = folder / f"{mode}.png"
        folder.mkdir(parents=True, exist_ok=True)
        write_image(Image(display_map(mode, result, against)), target, SaveOptions(format="png"), overwrite=overwrite)
        written[mode] = str(target)
    return written


def _text(record: dict) -> str:
    """The numbers as lines for a person."""
    def sharp(values: dict) -> str:
        return f"mean gradient {values['mean_gradient']:.2f}, Laplacian variance {values['laplacian_variance']:.1f}"

    def niqe(value: float | None) -> str:
        return f"{value:.3f}" if value is not None else "— (needs two 96×96 blocks of some texture)"

    region = record["region"]
    where = (f", region {region[2]}×{region[3]} at ({region[0]}, {region[1]})"
             + (" of the input" if record["input"] is not None else "") if region else "")
    lines = [f"{printable(record['result'])} ({record['size'][0]}×{record['size'][1]}{where})"]
    lines.append(f"  sharpness: {sharp(record['sharpness'])}")
    if record["input_sharpness"] is not None:
        lines.append(f"  input's:   {sharp(record['input_sharpness'])}")
    lines.append(f"  NIQE: {niqe(record['niqe'])}" + (f" (input {niqe(record['input_niqe'])})"
                                                       if record["input"] is not None else ""))
    if (cons := record["consistency"]) is not None:
        lines.append(f"  consistency with the input (×{record['scale']}, shrunk back with MATLAB's bicubic): "
                     f"PSNR-Y {cons['psnr_y']:.2f} dB, PSNR-RGB {cons['psnr_rgb']:.2f} dB")
    if (ref := record["reference_scores"]) is not None:
        def db(value: float | None) -> str:
            return f"{value:.2f} dB" if value is not None else "inf (identical)"

        lines.append(f"  against {printable(Path(record['reference']).name)}: PSNR-Y {db(ref['psnr_y'])}, "
                     f"SSIM-Y {ref['ssim_y']:.4f}, PSNR-RGB {db(ref['psnr_rgb'])} ({ref['shave']} px shaved)")
    if record["maps"]:
        lines.append("  maps: " + ", ".join(printable(path) for path in record["maps"].values()))
    return "\n".join(lines)
