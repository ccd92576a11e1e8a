"""Upscaling throughput per model and device, and the cost of tiling.

For each model: input megapixels per second for a whole-image run (tile 0) and for a
tiled run, and their time ratio. Input: a crop of the bundled sample photo (or --image).

    python benchmarks/bench_throughput.py --models span realesr-animevideov3 --size 256 --tile 96
    python benchmarks/bench_throughput.py --device cuda --size 1024 --tile auto   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.paths import SAMPLE_IMAGE
from sr_desktop.engine.imageio import read_image
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, get_model, native_scales_of, plan_scale, upscale_image

DEFAULT_MODELS = ["bicubic", "span", "realesr-animevideov3", "waifu2x-photo", "srmdnf", "realcugan-se"]


def crop(image: Image, size: int) -> Image:
    reps_y = -(-size // image.height)
    reps_x = -(-size // image.width)
    px = np.tile(image.pixels, (reps_y, reps_x, 1))[:size, :size, :3]
    return Image(np.ascontiguousarray(px))


def timed(image: Image, options: UpscaleOptions, repeats: int) -> tuple[float, int]:
    times, tiles = [], 0
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        res = upscale_image(image, options)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        tiles = res.tiles
    return statistics.median(times), tiles


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--size", type=int, default=256, help="square input size in pixels")
    ap.add_argument("--tile", default="96", help="tile size for the tiled run (or auto)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--image", type=Path, default=SAMPLE_IMAGE)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    image = crop(read_image(args.image), args.size)
    device = devices.resolve_device(args.device)
    print(f"device: {devices.describe_device(device)}; input {args.size}×{args.size}; "
          f"median of {args.repeats}")
    print("| model | scale | whole s | whole MP/s | tiled s (tile, tiles) | tiled MP/s | tiled/whole |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    mp = args.size * args.size / 1e6
    for model_id in args.models:
        scales, any_scale = native_scales_of(model_id)
        plan = plan_scale(scales, None, any_scale)
        model = get_model(model_id, plan.native, None, device, args.precision)
        whole_opts = UpscaleOptions(model=model_id, device=args.device, precision=args.precision, tile=0)
        tile = args.tile if args.tile == "auto" else int(args.tile)
        tiled_opts = UpscaleOptions(model=model_id, device=args.device, precision=args.precision, tile=tile)
        upscale_image(crop(image, 64), whole_opts)  # warm-up
        t_whole, _ = timed(image, whole_opts, args.repeats)
        t_tiled, tiles = timed(image, tiled_opts, args.repeats)
        row = {
            "model": model_id, "scale": plan.native, "device": str(device), "size": args.size,
            "whole_s": t_whole, "whole_mp_s": mp / t_whole, "tiled_s": t_tiled, "tile": tile,
            "tiles": tiles, "tiled_mp_s": mp / t_tiled, "ratio": t_tiled / t_whole,
            "tileable": model.tileable, "dtype": str(model.dtype),
        }
        rows.append(row)
        print(f"| {model_id} | ×{plan.native} | {t_whole:.3f} | {row['whole_mp_s']:.4f} | "
              f"{t_tiled:.3f} ({tile}, {tiles}) | {row['tiled_mp_s']:.4f} | {row['ratio']:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
