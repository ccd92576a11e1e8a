"""×2 SR on a DIV2KRK-style synthetic set: (a) SRMDNF (bicubic-trained zoo model),
(b) ZSSR with the bicubic kernel, (c) ZSSR with the estimated kernel (``--kg-method``: the
engine's default "auto" — the mean of the sharpness fit and KernelGAN where the fit explains
the image, else KernelGAN —, "kernelgan" or "sharpness"), (d) ZSSR with the true kernel
(oracle), plus plain bicubic upsampling (``--only-estimated``: (c) alone, the other columns
left empty). PSNR on Y (BT.601, MATLAB style),
2-px border shaved, outputs rounded to 8 bits.

    PYTHONPATH=. python benchmarks/bench_zssr.py resources/chelsea.png resources/sample.jpg \
        --hr-size 512 --zssr-iters 1000 --crop 64 --kg-iters 1000 --kg-batch 4 --markdown /tmp/zssr.md

CPU budget note: the official ZSSR uses 128-px crops and up to 3000 iterations; on a shared
2-core CPU use smaller --crop / --zssr-iters / --hr-size and say so next to the numbers.
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

from sr_desktop.engine.kernelgan import estimate_kernel
from sr_desktop.engine.kernelgan.options import METHODS
from sr_desktop.engine.kernelgan.score import kernel_psnr
from sr_desktop.engine.kernelgan.synthetic import make_set
from sr_desktop.engine.metrics.color import luma_y
from sr_desktop.engine.metrics.fullref import psnr
from sr_desktop.engine.models.zssr import make_zssr_model


def y_psnr(sr: np.ndarray, hr: np.ndarray, shave: int = 2) -> float:
    a = luma_y(np.round(np.clip(sr, 0, 1) * 255.0).astype(np.uint8))
    b = luma_y(np.round(np.clip(hr, 0, 1) * 255.0).astype(np.uint8))
    return psnr(a, b, 255.0, shave)


def bicubic_up(lr: np.ndarray) -> np.ndarray:
    from sr_desktop.engine.compute.matlab_resize import imresize

    return np.clip(imresize(lr, scale=2.0), 0, 1)


def srmdnf_up(lr: np.ndarray) -> np.ndarray | None:
    try:
        from sr_desktop.engine.models.loader import load_model
        from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_float

        model = load_model("srmdnf", scale=2)
        return upscale_float(lr.astype(np.float32), UpscaleOptions(model="srmdnf", scale=2, device="cpu"),
                             model=model).astype(np.float64)
    except Exception as exc:  # noqa: BLE001 - report and continue without this row
        print(f"srmdnf unavailable: {exc}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+")
    ap.add_argument("--hr-size", type=int, default=512, help="centre-crop HR to at most this (default 512)")
    ap.add_argument("--set-seed", type=int, default=0)
    ap.add_argument("--zssr-iters", type=int, default=3000)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--no-ensemble", action="store_true")
    ap.add_argument("--kg-iters", type=int, default=1000)
    ap.add_argument("--kg-batch", type=int, default=4)
    ap.add_argument("--kg-restarts", type=int, default=1)
    ap.add_argument("--kg-method", choices=METHODS, help="kernel estimation method (default: the engine's)")
    ap.add_argument("--only-estimated", action="store_true", help="run (c) only: the kernel estimate's ZSSR")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--preset", default="kernelgan", choices=["kernelgan", "zssr"],
                    help="ZSSR configuration for (b), (c) and (d) alike (default: the KernelGAN paper's)")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    images = {Path(p).stem: np.asarray(Image.open(p).convert("RGB")) for p in args.images}
    samples = make_set(images, seed=args.set_seed, max_size=args.hr_size)
    zopts = dict(iterations=args.zssr_iters, crop=args.crop, seed=0, device="cpu", preset=args.preset)
    if args.no_ensemble:
        zopts["ensemble"] = False
    rows = []
    for s in samples:
        row = {"image": s.name, "lr_shape": list(s.lr.shape[:2])}
        row["bicubic"] = y_psnr(bicubic_up(s.lr), s.hr)
        sr = None if args.only_estimated else srmdnf_up(s.lr)
        row["srmdnf"] = None if sr is None else y_psnr(sr, s.hr)
        t0 = time.process_time()
        method = {"method": args.kg_method} if args.kg_method else {}
        est = estimate_kernel(s.lr, iterations=args.kg_iters, batch=args.kg_batch, restarts=args.kg_restarts,
                              seed=0, device="cpu", threads=args.threads, **method)
        row["kernelgan_cpu_s"] = time.process_time() - t0
        row["kernelgan_kernel_psnr"] = kernel_psnr(est.kernel, s.kernel)
        row["kernel_method"] = est.method
        runs = (("zssr_bicubic", None), ("zssr_kernelgan", est.kernel), ("zssr_true", s.kernel))
        for key in ("zssr_bicubic", "zssr_true") if args.only_estimated else ():
            row[key] = None
        for label, kernel in runs[1:2] if args.only_estimated else runs:
            t0 = time.process_time()
            model = make_zssr_model(2, kernel=kernel, **zopts)
            out = model.upscale_array(s.lr.astype(np.float32))
            row[label] = y_psnr(out, s.hr)
            row[label + "_cpu_s"] = time.process_time() - t0
            row[label + "_iters"] = [log.iterations for log in model.last_logs]
        rows.append(row)
        print(json.dumps(row), flush=True)
    keys = ["bicubic", "srmdnf", "zssr_bicubic", "zssr_kernelgan", "zssr_true"]
    head = (f"ZSSR preset {args.preset}, {args.zssr_iters} max iterations, crop {args.crop}"
            f"{', ensemble off' if args.no_ensemble else ''}; "
            f"kernel method {args.kg_method or 'default'}, KernelGAN {args.kg_iters} its, batch {args.kg_batch}, "
            f"restarts {args.kg_restarts}; "
            f"HR ≤ {args.hr_size} px\n\n"
            "| image | bicubic | (a) SRMDNF | (b) ZSSR bicubic k | (c) ZSSR estimated k | (d) ZSSR true k "
            "| estimated kernel PSNR (method) |\n"
            "|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        vals = " | ".join("n/a" if r[k] is None else f"{r[k]:.2f}" for k in keys)
        lines.append(f"| {r['image']} | {vals} | {r['kernelgan_kernel_psnr']:.2f} ({r['kernel_method']}) |")
    means = []
    for k in keys:
        v = [r[k] for r in rows if r[k] is not None]
        means.append(f"{np.mean(v):.2f}" if v else "n/a")
    lines.append(f"| mean | {' | '.join(means)} | {np.mean([r['kernelgan_kernel_psnr'] for r in rows]):.2f} |")
    table = head + "\n".join(lines) + "\n"
    emit_table(table, rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
