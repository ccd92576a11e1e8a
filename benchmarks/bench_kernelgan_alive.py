"""When does KernelGAN's generator come alive? (issue 20: how early a dead run can be told)

    PYTHONPATH=. python benchmarks/bench_kernelgan_alive.py IMAGES... --seeds 0-19 [--set-seed 329] \
        [--only NAME...] --json alive.json

On the synthetic set of ``bench_kernelgan.py`` (same kernels for the same image list and
--set-seed), each KernelGAN run (default settings: 1000 iterations, batch 4, 1 thread) is
followed until its kernel sums to ``ALIVE_MIN_SUM`` (a live generator; every 10 iterations)
and then stopped; a run still dead at --until iterations is stopped there (or ends without
a usable kernel: counted dead too). Prints the
distribution of that iteration and the dead runs. The early part of a run is the same as
in a full run (seeded), so this measures the full runs' first live iteration at a fraction
of their cost.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from bench_kernelgan import load_images

from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.kernelgan import KernelError, estimate_kernel
from sr_desktop.engine.kernelgan.confidence import ALIVE_MIN_SUM
from sr_desktop.engine.kernelgan.synthetic import make_set


def seed_list(text: str) -> list[int]:
    """'0-19' or '0,3,5' -> seeds."""
    if "-" in text:
        a, b = text.split("-", 1)
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def first_alive(lr: np.ndarray, seed: int, iterations: int, until: int) -> int | None:
    """The first progress iteration whose kernel sums to ALIVE_MIN_SUM, None if dead at `until`."""
    cancel, seen = CancelToken(), {}

    def progress(info) -> None:
        extra = info.extra or {}
        it, total = extra.get("iteration"), extra.get("kernel_sum")
        if it is None or total is None:
            return
        if total >= ALIVE_MIN_SUM and "alive" not in seen:
            seen["alive"] = it
        if "alive" in seen or it >= until:
            cancel.cancel()

    try:
        estimate_kernel(lr, iterations=iterations, seed=seed, device="cpu", method="kernelgan", batch=4,
                        early_stop=True, retry_doubtful=0, progress=progress, cancel=cancel)
    except (Cancelled, KernelError):  # stopped here, or a dead run that ended without a usable kernel
        pass
    return seen.get("alive")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+", help="HR images")
    ap.add_argument("--seeds", type=seed_list, default=seed_list("0-9"), help="'0-19' or '0,3,5'")
    ap.add_argument("--set-seed", type=int, default=0, help="seed of the kernel stream")
    ap.add_argument("--only", nargs="+", help="image names (stems) to run")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--until", type=int, default=1000, help="stop a still-dead run here")
    ap.add_argument("--json", help="write the rows here")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for s in make_set(load_images(args.images), seed=args.set_seed):
        if args.only and s.name not in args.only:
            continue
        for seed in args.seeds:
            alive = first_alive(s.lr, seed, args.iterations, args.until)
            rows.append({"image": s.name, "seed": seed, "alive_iteration": alive})
            print(json.dumps(rows[-1]), flush=True)
    live = sorted(r["alive_iteration"] for r in rows if r["alive_iteration"] is not None)
    dead = [f"{r['image']} seed {r['seed']}" for r in rows if r["alive_iteration"] is None]
    if live:
        q = np.percentile(live, [50, 90, 99])
        print(f"{len(rows)} runs: alive at iteration median {q[0]:.0f}, 90th percentile {q[1]:.0f}, "
              f"99th {q[2]:.0f}, latest {live[-1]}; dead at {args.until}: {len(dead)} ({', '.join(dead) or 'none'})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"set_seed": args.set_seed, "until": args.until, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
