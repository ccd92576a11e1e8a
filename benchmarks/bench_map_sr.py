"""map-sr ×2 on the DIV2KRK-style synthetic set (the protocol of bench_zssr.py): MAP
reconstruction with the TRUE kernel, with the bicubic (MATLAB) degradation, and optionally
with KernelGAN's estimate; plus plain bicubic upsampling. PSNR on Y (BT.601), 2-px border
shaved, outputs rounded to 8 bits; seconds per image (wall, and CPU with 1 torch thread).

    D=/tmp/ski/skimage/data
    PYTHONPATH=. python benchmarks/bench_map_sr.py $D/coffee.png $D/rocket.jpg $D/motorcycle_left.png \
        $D/astronaut.png $D/chelsea.png --set-seed 0 --variant default --variant tikhonov [--estimate]

Tuning α: ``--alpha 0.003 --alpha 0.01 …`` runs each value (on a set made with another
``--set-seed`` / other images than the table's).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import emit_table
from PIL import Image

from sr_desktop.engine.kernelgan.synthetic import make_set
from sr_desktop.engine.metrics.color import luma_y
from sr_desktop.engine.metrics.fullref import psnr
from sr_desktop.engine.models.map_sr import make_map_sr_model


def y_psnr(sr: np.ndarray, hr: np.ndarray, shave: int = 2) -> float:
    a = luma_y(np.round(np.clip(sr, 0, 1) * 255.0).astype(np.uint8))
    b = luma_y(np.round(np.clip(hr, 0, 1) * 255.0).astype(np.uint8))
    return psnr(a, b, 255.0, shave)


def run_map(lr: np.ndarray, kernel, variant: str, device: str, **opts) -> tuple[np.ndarray, float, float]:
    """(SR, wall seconds, CPU seconds) of one map-sr run."""
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    model = make_map_sr_model(2, kernel=kernel, device=device, variant=variant, seed=0, **opts)
    out = model.upscale_array(lr.astype(np.float32))
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - t_wall, time.process_time() - t_cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--hr-size", type=int, default=512)
    ap.add_argument("--set-seed", type=int, default=0)
    ap.add_argument("--variant", action="append", help="map-sr variant(s) (default: default)")
    ap.add_argument("--alpha", type=float, action="append", help="α value(s) to try (default: the variant's)")
    ap.add_argument("--iterations", type=int)
    ap.add_argument("--eps", type=float)
    ap.add_argument("--estimate", action="store_true", help="also with KernelGAN's estimate (~1 min/image on CPU)")
    ap.add_argument("--kg-iters", type=int, default=1000)
    ap.add_argument("--kg-restarts", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    images = {Path(p).stem: np.asarray(Image.open(p).convert("RGB")) for p in args.images}
    samples = make_set(images, seed=args.set_seed, max_size=args.hr_size)
    opts = {k: v for k, v in (("iterations", args.iterations), ("eps", args.eps)) if v is not None}
    configs = [(v, a) for v in (args.variant or ["default"]) for a in (args.alpha or [None])]
    rows = []
    for s in samples:
        from sr_desktop.engine.compute.matlab_resize import imresize

        row = {"image": s.name, "bicubic": y_psnr(imresize(s.lr, scale=2.0), s.hr)}
        kernels = [("true", s.kernel), ("bicubic_k", None)]
        if args.estimate:
            from sr_desktop.engine.kernelgan import estimate_kernel

            t0 = time.perf_counter()
            est = estimate_kernel(s.lr, iterations=args.kg_iters, batch=4, restarts=args.kg_restarts, seed=0,
                                  device=args.device, early_stop=True, threads=args.threads)
            row["kernelgan_s"] = time.perf_counter() - t0
            kernels.append(("kernelgan", est.kernel_x2))
        for variant, alpha in configs:
            extra = dict(opts, **({} if alpha is None else {"alpha": alpha}))
            for label, kernel in kernels:
                out, wall, cpu = run_map(s.lr, kernel, variant, args.device, **extra)
                key = f"{variant}{'' if alpha is None else f'@{alpha:g}'}/{label}"
                row[key] = y_psnr(out, s.hr)
                row[key + "_s"] = wall
                row[key + "_cpu_s"] = cpu
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = ["bicubic"] + [k for k in rows[0] if "/" in k and not k.endswith("_s")]
    head = (f"map-sr ×2, set seed {args.set_seed}, HR ≤ {args.hr_size} px, device {args.device}, "
            f"{args.threads} thread(s); PSNR-Y dB (seconds per image, wall)\n\n"
            f"| image | {' | '.join(keys)} |\n|{'---|' * (len(keys) + 1)}\n")
    lines = []
    for r in rows:
        cells = [f"{r[k]:.2f}" + (f" ({r[k + '_s']:.1f} s)" if k + "_s" in r else "") for k in keys]
        lines.append(f"| {r['image']} | {' | '.join(cells)} |")
    means = [f"**{np.mean([r[k] for r in rows]):.2f}**"
             + (f" ({np.mean([r[k + '_s'] for r in rows]):.1f} s)" if k + "_s" in rows[0] else "") for k in keys]
    lines.append(f"| **mean** | {' | '.join(means)} |")
    table = head + "\n".join(lines) + "\n"
    emit_table(table, rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
