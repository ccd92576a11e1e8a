"""Memory and time of `sr-desktop batch` with OpenVINO over images that all differ in size:
the CPU plugin keeps compiled kernels per input shape (`openvino_runner.RUNTIME_CACHE_SHAPES`).
Each setting runs in a fresh process on the same generated folder.

    python benchmarks/bench_openvino_many_sizes.py --images 300 --capacity 0 32

Capacity 0 is OpenVINO's default (5000 shapes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time
from sr_desktop.engine.models.backends import openvino_runner
openvino_runner.RUNTIME_CACHE_SHAPES = int(sys.argv[1]) or 5000
from sr_desktop.cli.main import main
start = time.perf_counter()
code = main(["batch", sys.argv[2], sys.argv[3], "--model", sys.argv[4], "--scale", "2", "--backend", "openvino"])
print(f"{time.perf_counter() - start:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} {code}")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--model", default="fsrcnn")
    ap.add_argument("--capacity", type=int, nargs="+", default=[0, 32])
    args = ap.parse_args()
    import numpy as np
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.images):  # every size distinct: 32..95 px wide, 32+ px high
            w, h = 32 + i % 64, 32 + i // 64
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
        env = dict(os.environ, PYTHONPATH=str(ROOT), SR_DESKTOP_HOME=str(Path(tmp) / "home"))
        print("| shapes kept | seconds | peak RSS MB | exit |\n|---|---|---|---|")
        for run, capacity in enumerate([args.capacity[0], *args.capacity]):  # the first run converts: not shown
            out = Path(tmp) / f"out{run}"
            done = subprocess.run([sys.executable, "-c", CHILD, str(capacity), str(folder), str(out), args.model],
                                  env=env, capture_output=True, text=True, check=False)
            seconds, rss, code = done.stdout.split()[-3:]
            if run:
                print(f"| {capacity or '5000 (default)'} | {seconds} | {rss} | {code} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
