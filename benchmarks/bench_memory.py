"""Peak memory of a large upscale: the full output lives in host memory in its own dtype
and only tiles are processed at a time, so peak RSS should stay below
output size + 2 GB (engine issue). Runs in a fresh process and reports peak RSS.

    python benchmarks/bench_memory.py --width 4000 --height 3000 --scale 4 --model bicubic
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from sr_desktop.engine.compute.devices import process_rss_bytes
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_image


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--model", default="bicubic")
    ap.add_argument("--tile", default="auto")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    # A smooth-ish synthetic photo (random noise would be just as valid for memory).
    small = rng.integers(0, 256, (args.height // 8 + 1, args.width // 8 + 1, 3), dtype=np.uint8)
    pixels = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)[: args.height, : args.width]
    image = Image(np.ascontiguousarray(pixels))
    base = process_rss_bytes()
    t0 = time.perf_counter()
    tile = args.tile if args.tile == "auto" else int(args.tile)
    res = upscale_image(image, UpscaleOptions(model=args.model, scale=args.scale, tile=tile, device=args.device))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out_bytes = res.image.pixels.nbytes
    print(f"input {args.width}×{args.height} ×{args.scale} with {args.model} on {res.device}: "
          f"{res.tiles} tiles of {res.tile_size} px, {seconds:.1f} s")
    print(f"output {res.image.width}×{res.image.height} = {out_bytes / 2**30:.2f} GiB; "
          f"RSS before {base / 2**30:.2f} GiB; peak RSS {peak / 2**30:.2f} GiB; "
          f"peak - output = {(peak - out_bytes) / 2**30:.2f} GiB (limit 2 GiB)")
    return 0 if peak - out_bytes < 2 * 2**30 else 1


if __name__ == "__main__":
    raise SystemExit(main())
