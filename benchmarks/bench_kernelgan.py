"""KernelGAN accuracy/speed on a DIV2KRK-style synthetic set (reference protocol in
../shared/reference/README.md).

    PYTHONPATH=. python benchmarks/bench_kernelgan.py resources/chelsea.png resources/sample.jpg \
        --seeds 0 1 --iterations 1000 --batch 4 --threads 1 --markdown /tmp/kg.md
    PYTHONPATH=. python benchmarks/bench_kernelgan.py IMAGES... --runs 10 --iterations 1000 --batch 4 --early-stop
    PYTHONPATH=. python benchmarks/bench_kernelgan.py IMAGES... --runs 10 ... --prior fkp --only chelsea

Each HR image (centre crop ≤ 512 px) gets one random ×2 kernel (set seed 0 stream, in
argument order); KernelGAN runs on its 8-bit LR once per --seeds value (--runs N: seeds
0..N-1). Reports kernel PSNR and LR re-degradation PSNR per image and seed, wall and CPU time
per run, and the bicubic-kernel and true-kernel rows; with --runs, the distribution per image
(min / median / max), the failures (runs worse than the bicubic assumption in kernel or LR
PSNR), the elongated-kernel subset (true λ1/λ2 = (σ major/σ minor)² ≥ 4) and the Spearman
correlation of the image-only confidence with the true kernel PSNR. ``--method`` picks the
estimator (default: the engine's, "auto": the mean of the sharpness fit and KernelGAN where
the fit explains the image, else KernelGAN; "kernelgan" / "sharpness" for one alone; each
run's method is in the JSON rows and the table). ``--prior fkp`` runs
KernelGAN-FKP (the learned kernel prior); ``--only NAME`` runs some images of the set only
(their kernels stay those of the full list).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import emit_table
from PIL import Image

from sr_desktop.engine.kernelgan import KernelError, estimate_kernel
from sr_desktop.engine.kernelgan.kernel_ops import bicubic_kernel_x2, kernel_summary
from sr_desktop.engine.kernelgan.options import METHODS, PRIORS
from sr_desktop.engine.kernelgan.score import kernel_psnr, lr_psnr
from sr_desktop.engine.kernelgan.synthetic import make_set


def load_images(paths: list[str]) -> dict[str, np.ndarray]:
    images = {}
    for p in paths:
        images[Path(p).stem] = np.asarray(Image.open(p).convert("RGB"))
    return images


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+", help="HR images")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--runs", type=int, help="seeds 0..N-1 and the distribution table (overrides --seeds)")
    ap.add_argument("--retry-doubtful", type=int, help="KernelGANOptions.retry_doubtful (default: the engine's)")
    ap.add_argument("--official-trigger", action="store_true",
                    help="the official bicubic trigger (fires on a dead generator too): the 'before' of issue 20")
    ap.add_argument("--set-seed", type=int, default=0, help="seed of the kernel stream")
    ap.add_argument("--iterations", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--restarts", type=int, default=1)
    ap.add_argument("--early-stop", action="store_true")
    ap.add_argument("--faithful-quirks", action="store_true",
                    help="official quirks on: accumulating D noise, channel-summing bicubic loss")
    ap.add_argument("--accumulate-noise", action="store_true", help="only the D-noise quirk on")
    ap.add_argument("--prior", choices=PRIORS, help="KernelGANOptions.prior (default: the engine's)")
    ap.add_argument("--method", choices=METHODS, help="KernelGANOptions.method (default: the engine's)")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="run these images (file stems) only; the set, hence every kernel, is still built from all")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write all rows here")
    ap.add_argument("--markdown", help="write the table here")
    args = ap.parse_args(argv)
    if args.runs:
        args.seeds = list(range(args.runs))
    torch.set_num_threads(args.threads)
    samples = make_set(load_images(args.images), seed=args.set_seed)
    opts = {"batch": args.batch, "early_stop": args.early_stop, "threads": args.threads}
    if args.faithful_quirks:
        opts.update(accumulate_d_noise=True, mix_channels=True)
    if args.accumulate_noise:
        opts.update(accumulate_d_noise=True)
    if args.retry_doubtful is not None:
        opts.update(retry_doubtful=args.retry_doubtful)
    if args.official_trigger:
        opts.update(trigger_min_sum=0.0)
    if args.prior:
        opts.update(prior=args.prior)
    if args.method:
        opts.update(method=args.method)
    if args.only:
        samples = [s for s in samples if s.name in args.only]
    rows = []
    for s in samples:
        bic = bicubic_kernel_x2()
        row = {
            "image": s.name,
            "lr_shape": list(s.lr.shape[:2]),
            "true_sigma": [round(kernel_summary(s.kernel)["sigma_major"], 2),
                           round(kernel_summary(s.kernel)["sigma_minor"], 2)],
            "bicubic_kernel_psnr": kernel_psnr(bic, s.kernel),
            "bicubic_lr_psnr": lr_psnr(s.hr, s.lr, bic, s.kernel),
            "true_lr_psnr": lr_psnr(s.hr, s.lr, s.kernel, s.kernel),
            "runs": [],
        }
        for seed in args.seeds:
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                est = estimate_kernel(s.lr, iterations=args.iterations, seed=seed, restarts=args.restarts,
                                      device=args.device, **opts)
            except KernelError as exc:  # a diverged run is a result too: score it as NaN
                print(json.dumps({"image": s.name, "seed": seed, "error": str(exc)}), flush=True)
                row["runs"].append({"seed": seed, "kernel_psnr": float("nan"), "lr_psnr": float("nan"),
                                    "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                                    "iterations_run": None, "est_sigma": None, "trigger": None,
                                    "confidence": float("nan"), "reliable": False, "method": None})
                continue
            run = {
                "seed": seed,
                "kernel_psnr": kernel_psnr(est.kernel, s.kernel),
                "lr_psnr": lr_psnr(s.hr, s.lr, est.kernel, s.kernel),
                "wall_s": time.perf_counter() - t0,
                "cpu_s": time.process_time() - c0,
                "iterations_run": est.iterations_run,
                "est_sigma": [round(kernel_summary(est.kernel)["sigma_major"], 2),
                              round(kernel_summary(est.kernel)["sigma_minor"], 2)],
                "trigger": [h.get("bicubic_trigger_iteration") for h in est.history if "iterations_run" in h],
                "confidence": est.confidence,
                "reliable": est.reliable,
                "method": est.method,
                "fit_misfit": est.fit_misfit,
            }
            row["runs"].append(run)
            print(json.dumps({"image": s.name, **run}), flush=True)
        rows.append(row)
    table = markdown(rows, args)
    if args.runs:
        table += "\n" + distribution_markdown(rows)
    emit_table(table, rows, args)
    return 0


def markdown(rows: list[dict], args) -> str:
    seeds = " / ".join(str(s) for s in args.seeds)
    quirks = "on" if args.faithful_quirks else ("D-noise only" if args.accumulate_noise else "off")
    head = (f"Config: method {args.method or 'default'}, prior {args.prior or 'default'}, "
            f"{args.iterations} iterations, batch {args.batch}, "
            f"restarts {args.restarts}, "
            f"early stop {'on' if args.early_stop else 'off'}, quirks {quirks}, "
            f"{args.threads} thread(s), device {args.device}\n\n"
            f"| image | true σ | kernel PSNR seed {seeds} | LR PSNR seed {seeds} | bicubic kernel PSNR | "
            f"bicubic LR PSNR | true-kernel LR PSNR | wall s / run | CPU s / run |\n"
            f"|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    allk, alll, bk, bl, tl, walls, cpus = [], [], [], [], [], [], []
    for r in rows:
        ks = [x["kernel_psnr"] for x in r["runs"]]
        ls = [x["lr_psnr"] for x in r["runs"]]
        allk += ks
        alll += ls
        bk.append(r["bicubic_kernel_psnr"])
        bl.append(r["bicubic_lr_psnr"])
        tl.append(r["true_lr_psnr"])
        walls += [x["wall_s"] for x in r["runs"]]
        cpus += [x["cpu_s"] for x in r["runs"]]
        lines.append(
            f"| {r['image']} | {r['true_sigma'][0]:.2f}/{r['true_sigma'][1]:.2f} | "
            f"{' / '.join(f'{v:.2f}' for v in ks)} | "
            f"{' / '.join(f'{v:.2f}' for v in ls)} | {r['bicubic_kernel_psnr']:.2f} | {r['bicubic_lr_psnr']:.2f} | "
            f"{r['true_lr_psnr']:.2f} | {statistics.mean(x['wall_s'] for x in r['runs']):.0f} | "
            f"{statistics.mean(x['cpu_s'] for x in r['runs']):.0f} |"
        )
    spread = max((max(x["kernel_psnr"] for x in r["runs"]) - min(x["kernel_psnr"] for x in r["runs"])) for r in rows)
    lines.append(
        f"| mean | | {statistics.mean(allk):.2f} | {statistics.mean(alll):.2f} | {statistics.mean(bk):.2f} | "
        f"{statistics.mean(bl):.2f} | {statistics.mean(tl):.2f} | {statistics.mean(walls):.0f} | "
        f"{statistics.mean(cpus):.0f} |"
    )
    return head + "\n".join(lines) + f"\n\nLargest seed-to-seed kernel-PSNR spread on one image: {spread:.2f} dB\n"


def elongated(row: dict) -> bool:
    """True kernel with λ1/λ2 ≥ 4 (σ major / σ minor ≥ 2)."""
    major, minor = row["true_sigma"]
    return minor > 0 and (major / minor) ** 2 >= 4.0


def _failures(row: dict) -> int:
    return sum(1 for x in row["runs"] if not (x["kernel_psnr"] >= row["bicubic_kernel_psnr"]
                                              and x["lr_psnr"] >= row["bicubic_lr_psnr"]))


def distribution_markdown(rows: list[dict]) -> str:
    """Per image: min / median / max of kernel and LR PSNR over the runs, failures (worse
    than bicubic, or diverged), doubtful runs; the elongated subset; confidence correlation."""
    from scipy.stats import spearmanr

    lines = ["| image | true σ | elongated | kernel PSNR min / median / max | LR PSNR min / median / max | "
             "bicubic kernel / LR | worse than bicubic | doubtful | runs (method) |",
             "|---|---|---|---|---|---|---|---|---|"]

    def trio(values):
        v = np.array(values, dtype=float)
        v = v[np.isfinite(v)]
        return "—" if v.size == 0 else f"{v.min():.2f} / {np.median(v):.2f} / {v.max():.2f}"

    for r in rows:
        ks = [x["kernel_psnr"] for x in r["runs"]]
        ls = [x["lr_psnr"] for x in r["runs"]]
        doubtful = sum(1 for x in r["runs"] if not x["reliable"])
        methods = [x.get("method") or "failed" for x in r["runs"]]
        by_method = ", ".join(f"{m} {methods.count(m)}" for m in sorted(set(methods)))
        lines.append(f"| {r['image']} | {r['true_sigma'][0]:.2f}/{r['true_sigma'][1]:.2f} | "
                     f"{'yes' if elongated(r) else 'no'} | {trio(ks)} | {trio(ls)} | "
                     f"{r['bicubic_kernel_psnr']:.2f} / {r['bicubic_lr_psnr']:.2f} | {_failures(r)} | "
                     f"{doubtful} | {len(r['runs'])} ({by_method}) |")
    out = "\n".join(lines) + "\n"
    for label, subset in (("all", rows), ("elongated (λ1/λ2 ≥ 4)", [r for r in rows if elongated(r)])):
        ks = [x["kernel_psnr"] for r in subset for x in r["runs"]]
        if ks:
            out += (f"\n{label}: {len(ks)} runs, kernel PSNR median {np.nanmedian(ks):.2f}, "
                    f"worse than bicubic {sum(_failures(r) for r in subset)}")
    pairs = [(x["confidence"], x["kernel_psnr"]) for r in rows for x in r["runs"]
             if np.isfinite(x["confidence"]) and np.isfinite(x["kernel_psnr"])]
    if len(pairs) >= 3:
        c, k = zip(*pairs, strict=True)
        out += f"\nconfidence vs true kernel PSNR: Spearman {spearmanr(c, k)[0]:.2f} over {len(pairs)} runs"
        within = [spearmanr([x["confidence"] for x in r["runs"]], [x["kernel_psnr"] for x in r["runs"]])[0]
                  for r in rows if len(r["runs"]) >= 3]
        within = [w for w in within if np.isfinite(w)]
        if within:
            out += f"; within an image (mean over images) {np.mean(within):.2f}"
    return out + "\n"


if __name__ == "__main__":
    sys.exit(main())
