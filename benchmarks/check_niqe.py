"""NIQE against MATLAB's: score an image and compare with the value MATLAB printed.

    python benchmarks/check_niqe.py ../shared/reference/niqe/baboon.png --matlab 5.7296

Exit status 0 when the two agree within --tolerance (default 0.01), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PIL import Image


def main(argv: list[str] | None = None) -> int:
    from sr_desktop.engine.metrics.niqe import niqe

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image")
    parser.add_argument("--matlab", type=float, required=True, help="MATLAB's niqe of the same image")
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args(argv)
    with Image.open(args.image) as img:
        pixels = np.asarray(img.convert("RGB") if img.mode not in ("L", "RGB") else img)
    start = time.perf_counter()
    value = niqe(pixels)
    seconds = time.perf_counter() - start
    diff = value - args.matlab
    ok = abs(diff) <= args.tolerance
    print(f"{args.image}: NIQE {value:.5f}  MATLAB {args.matlab:.5f}  difference {diff:+.5f}  "
          f"({seconds:.2f} s)  {'OK' if ok else 'OUT OF TOLERANCE'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
