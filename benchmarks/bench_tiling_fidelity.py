"""Tiled vs whole-image output of every zoo model through the engine (seams check).

For each model: a crop of the sample photo is upscaled once whole (tile 0) and once in
small tiles (default 64 px core, so every tile border lies inside the image), both through
`upscale_image` (8-bit output, as saved). Prints PSNR (dB) and the max abs difference in
8-bit levels. Non-tileable models (global pooling) run whole in both cases and are marked.

    python benchmarks/bench_tiling_fidelity.py --size 160 --tile 64
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from sr_desktop.engine.core.paths import SAMPLE_IMAGE
from sr_desktop.engine.imageio import read_image
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.models.registry import list_models
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, resolve_model, upscale_image


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--tile", type=int, default=64)
    ap.add_argument("--models", nargs="*", help="ids (default: every installed zoo model)")
    args = ap.parse_args()
    src = read_image(SAMPLE_IMAGE).pixels
    y0, x0 = (src.shape[0] - args.size) // 2, (src.shape[1] - args.size) // 2
    image = Image(np.ascontiguousarray(src[y0 : y0 + args.size, x0 : x0 + args.size, :3]))
    ids = args.models or [s.id for s in list_models() if s.installed and not s.custom and s.kind == "feedforward"]
    print(f"{args.size}×{args.size} crop of the sample, tiles of {args.tile} px vs whole image, 8-bit output")
    print("| model | scale | context | tiles | PSNR dB | max abs diff (levels) |")
    print("|---|---|---|---|---|---|")
    for model_id in ids:
        opts_whole = UpscaleOptions(model=model_id, tile=0, device="cpu")
        model, plan = resolve_model(opts_whole)
        whole = upscale_image(image, opts_whole).image.pixels.astype(np.float64)
        tiled_res = upscale_image(image, UpscaleOptions(model=model_id, tile=args.tile, device="cpu"))
        tiled = tiled_res.image.pixels.astype(np.float64)
        mse = float(((whole - tiled) ** 2).mean())
        psnr = float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
        note = "" if model.tileable else " (not tileable: whole image)"
        print(f"| {model_id}{note} | ×{plan.native} | {model.context} | {tiled_res.tiles} | "
              f"{psnr:.1f} | {int(np.abs(whole - tiled).max())} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
