"""The official KernelGAN code on this project's synthetic set: the same LR images and true
kernels as bench_kernelgan.py, so that "worse/better than the official code" compares runs
on the same kernel (the reference table in ../shared/reference/README.md used its own
kernel files).

    git clone https://github.com/sefibk/KernelGAN /path/KernelGAN   # tested at 7218a37
    PYTHONPATH=. python benchmarks/bench_kernelgan_official.py IMAGES... --official /path/KernelGAN \
        --seeds 0 1 [--set-seed 0] [--only rocket] [--json rows.json]

Nothing of the official code is copied: it is imported from the given checkout and run as
its train.py does (paper defaults: 3000 iterations, one 64-px crop per iteration), on the
CPU with 1 torch thread. Three shims make the 2019 code run on today's stack, none of which
changes its arithmetic: ``.cuda()`` returns its tensor/module unchanged (CPU instead of
GPU), ``np.int``/``np.float`` are the builtins they aliased, and its ZSSR module (TensorFlow,
not used for the kernel) is replaced by an empty one. Seeds: Python's, NumPy's and torch's
generators are seeded with the run's seed before the networks are built. The final kernel
is the official post-processing (``util.post_process_k``), scored like bench_kernelgan.py.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
from _report import emit_table
from bench_kernelgan import load_images
from PIL import Image

from sr_desktop.engine.kernelgan.kernel_ops import bicubic_kernel_x2
from sr_desktop.engine.kernelgan.score import kernel_psnr, lr_psnr
from sr_desktop.engine.kernelgan.synthetic import make_set


def _import_official(path: Path) -> types.SimpleNamespace:
    if not (path / "kernelGAN.py").is_file():
        raise SystemExit(f"error: {path} is not a KernelGAN checkout (no kernelGAN.py)")
    sys.path.insert(0, str(path))
    zssr = types.ModuleType("ZSSRforKernelGAN.ZSSR")
    zssr.ZSSR = None
    sys.modules["ZSSRforKernelGAN.ZSSR"] = zssr
    torch.Tensor.cuda = lambda self, *a, **k: self
    torch.nn.Module.cuda = lambda self, *a, **k: self
    torch.cuda.set_device = lambda *a, **k: None
    np.int = int  # type: ignore[attr-defined]
    np.float = float  # type: ignore[attr-defined]
    import configs
    import data
    import kernelGAN
    import learner
    import util

    return types.SimpleNamespace(Config=configs.Config, DataGenerator=data.DataGenerator,
                                 KernelGAN=kernelGAN.KernelGAN, Learner=learner.Learner,
                                 post_process_k=util.post_process_k)


def run_official(off: types.SimpleNamespace, lr_png: Path, out_dir: Path, seed: int,
                 iterations: int | None) -> tuple[np.ndarray, int]:
    """One official run on an 8-bit LR PNG; returns (kernel, iterations run)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    conf = off.Config().parse(["--input_image_path", str(lr_png), "--output_dir_path", str(out_dir)])
    if iterations:
        conf.max_iters = iterations
    gan = off.KernelGAN(conf)
    learner = off.Learner()
    data = off.DataGenerator(conf, gan)
    for it in range(conf.max_iters):
        g_in, d_in = data.__getitem__(it)
        gan.train(g_in, d_in)
        learner.update(it, gan)
    return off.post_process_k(gan.curr_k, n=conf.n_filtering), conf.max_iters


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+", help="HR images (the list of bench_kernelgan.py: order sets the kernels)")
    ap.add_argument("--official", required=True, type=Path, help="a checkout of github.com/sefibk/KernelGAN")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--set-seed", type=int, default=0, help="seed of the kernel stream")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run these images (file stems) only")
    ap.add_argument("--iterations", type=int, help="override the official 3000 (for a quick check)")
    ap.add_argument("--json", help="write all rows here")
    ap.add_argument("--markdown", help="write the table here")
    args = ap.parse_args(argv)
    off = _import_official(args.official.resolve())
    torch.set_num_threads(1)
    samples = make_set(load_images(args.images), seed=args.set_seed)
    if args.only:
        samples = [s for s in samples if s.name in args.only]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s in samples:
            png = Path(tmp) / f"{s.name}.png"
            Image.fromarray(np.round(s.lr * 255).astype(np.uint8)).save(png)
            row = {"image": s.name, "bicubic_kernel_psnr": kernel_psnr(bicubic_kernel_x2(), s.kernel), "runs": []}
            for seed in args.seeds:
                t0, c0 = time.perf_counter(), time.process_time()
                k, n = run_official(off, png, Path(tmp) / f"{s.name}-{seed}", seed, args.iterations)
                run = {"seed": seed, "kernel_psnr": kernel_psnr(k, s.kernel),
                       "lr_psnr": lr_psnr(s.hr, s.lr, k, s.kernel), "iterations": n,
                       "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}
                row["runs"].append(run)
                print(json.dumps({"image": s.name, **run}), flush=True)
            rows.append(row)
    seeds = " / ".join(str(s) for s in args.seeds)
    lines = [f"| image | kernel PSNR seeds {seeds} | LR PSNR seeds {seeds} | bicubic kernel PSNR | CPU s / run |",
             "|---|---|---|---|---|"]
    for r in rows:
        kernels = " / ".join(f"{x['kernel_psnr']:.2f}" for x in r["runs"])
        lrs = " / ".join(f"{x['lr_psnr']:.2f}" for x in r["runs"])
        lines.append(f"| {r['image']} | {kernels} | {lrs} | {r['bicubic_kernel_psnr']:.2f} | "
                     f"{statistics.mean(x['cpu_s'] for x in r['runs']):.0f} |")
    emit_table("\n".join(lines) + "\n", rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
