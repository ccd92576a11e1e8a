"""Options shared by the subcommands that run models."""

from __future__ import annotations

import argparse

from sr_desktop.engine.compute.devices import DEVICE_CHOICES, PRECISION_CHOICES
from sr_desktop.engine.pipeline.upscale import DEFAULT_MODEL, UpscaleOptions


def tile_arg(value: str) -> int | str:
    if value == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tile must be 'auto' or a number of pixels, not {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("tile must be >= 0 (0 = no tiling)")
    return n


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """--model --scale --variant --device --tile --precision."""
    parser.add_argument("--model", default=DEFAULT_MODEL, metavar="ID",
                        help=f"model id (see `sr-desktop models`; default {DEFAULT_MODEL})")
    parser.add_argument("--scale", type=int, metavar="N",
                        help="output scale (default: the model's native scale; other scales use extra "
                             "passes and/or Lanczos resampling)")
    parser.add_argument("--variant", metavar="NAME", help="model variant (noise level, conservative, ...)")
    parser.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="compute device (default auto)")
    parser.add_argument("--tile", default="auto", type=tile_arg, metavar="N|auto",
                        help="tile size in input pixels, 0 = whole image (default auto)")
    parser.add_argument("--precision", default="auto", choices=PRECISION_CHOICES,
                        help="auto = fp16 on CUDA where the model allows, fp32 elsewhere")


def upscale_options_from(args: argparse.Namespace) -> UpscaleOptions:
    return UpscaleOptions(
        model=args.model,
        scale=args.scale,
        variant=args.variant,
        device=args.device,
        tile=args.tile,
        precision=args.precision,
        alpha=getattr(args, "alpha", "model"),
        kernel=getattr(args, "kernel", None),
    )
