"""Training throughput: iterations/s of EDSR-baseline ×2 (48² LR patches, batch 16),
FSRCNN ×2, VDSR ×2 and LapSRN ×4, with the real data pipeline and on pre-made tensors, in
each precision asked for (``--amp off auto``: float32 against mixed precision).

For each configuration a `Trainer` is built on a generated folder of HR images (decoded
once, bicubic LR made once, as a run does), then timed twice after a warm-up:

* ``pipeline``: the batches come from `data.BatchLoader` (random crops, flips, worker
  threads, page-locked memory on CUDA), exactly as ``sr-desktop train`` runs;
* ``tensors``: the same step on one pre-made batch already in memory (the device's speed
  alone).

``ratio`` = pipeline / tensors: the issue's target is ≥ 0.9 on a GPU (the data pipeline
must not starve the device); on a 2-core CPU it is reported.

    python benchmarks/bench_train.py                       # auto device, both configs
    python benchmarks/bench_train.py --device cuda --iterations 200
    python benchmarks/bench_train.py --configs fsrcnn --json out.json --markdown out.md
    python benchmarks/bench_train.py --configs edsr-baseline vdsr --amp off on --threads 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from PIL import Image

from benchmarks._report import emit_table
from sr_desktop.engine.compute.devices import describe_device
from sr_desktop.engine.training import Trainer, TrainOptions
from sr_desktop.engine.training.data import BatchLoader
from sr_desktop.engine.training.precision import AMP_CHOICES, precision_name

#: name -> (arch spec, scale, LR patch, batch)
CONFIGS = {
    "edsr-baseline": ("EDSR-baseline", 2, 48, 16),
    "fsrcnn": ("FSRCNN", 2, 48, 16),
    "vdsr": ("VDSR", 2, 24, 16),
    "lapsrn": ("LapSRN", 4, 16, 16),
}


def make_folder(folder: Path, count: int, size: int) -> Path:
    """`count` noisy-texture RGB PNGs of `size`²."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        base = rng.random((size // 8, size // 8, 3))
        img = np.kron(base, np.ones((8, 8, 1))) * 0.7 + rng.random((size, size, 3)) * 0.3
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"hr{i}.png")
    return folder


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(trainer: Trainer, batches, count: int) -> float:
    _sync(trainer.device)
    start = time.perf_counter()
    for _ in range(count):
        trainer.step(*batches())
    _sync(trainer.device)
    return count / (time.perf_counter() - start)


def bench(name: str, data: Path, out: Path, device: str, iterations: int, warmup: int, workers: int,
          amp: str = "auto") -> dict:
    arch, scale, patch, batch = CONFIGS[name]
    options = TrainOptions(arch=arch, scale=scale, data=(str(data),), out=str(out), iterations=10**6,
                           batch=batch, patch=patch, device=device, workers=workers, ema=0.999, amp=amp)
    trainer = Trainer(options)
    trainer.prepare()
    loader = BatchLoader(trainer.data, batch, 0, 0, workers, pin=trainer.cuda)
    try:
        made = trainer.data.batch(0, 0, batch)
        _timed(trainer, lambda: made, warmup)
        tensors = _timed(trainer, lambda: made, iterations)
        _timed(trainer, loader.next, warmup)
        pipeline = _timed(trainer, loader.next, iterations)
    finally:
        loader.close()
    return {"config": name, "arch": arch, "scale": scale, "patch": patch, "batch": batch,
            "device": describe_device(trainer.device), "amp": precision_name(trainer.amp_dtype),
            "workers": workers, "tensors_its": round(tensors, 3), "pipeline_its": round(pipeline, 3),
            "ratio": round(pipeline / tensors, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations per mode")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="data worker threads")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--images", type=int, default=16, help="generated HR images")
    parser.add_argument("--size", type=int, default=480, help="their side in pixels")
    parser.add_argument("--amp", nargs="+", default=["auto"], choices=AMP_CHOICES,
                        help="train --amp settings to time, one row each (default auto)")
    parser.add_argument("--json")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        data = make_folder(Path(tmp) / "data", args.images, args.size)
        for i, name in enumerate(args.configs):
            for amp in args.amp:
                rows.append(bench(name, data, Path(tmp) / f"out{i}-{amp}", args.device, args.iterations,
                                  args.warmup, args.workers, amp))
                print(rows[-1], file=sys.stderr)
    lines = ["| config | device | AMP | batch × patch² | pre-made tensors it/s | data pipeline it/s | ratio |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['config']} ×{r['scale']} | {r['device']} | {r['amp']} | {r['batch']} × {r['patch']}² | "
              f"{r['tensors_its']} | {r['pipeline_its']} | {r['ratio']} |" for r in rows]
    emit_table("\n".join(lines), rows, args)


if __name__ == "__main__":
    main()
