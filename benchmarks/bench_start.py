"""Start-up of the command line (issue 16: CLI start under 0.8 s; a warm model infers within
1 s of its load call), as whole processes, median of `--runs`:

    PYTHONPATH=. python benchmarks/bench_start.py [--runs 5] [--model waifu2x-photo:2]

Rows: ``sr-desktop --help``; ``upscale`` of a 32² image with bicubic; ``upscale`` of a 256²
photo with the zoo model (after one untimed run: its backend measured and its conversion
cached, the steady state); and, in a fresh process, the seconds from `get_model` to the end
of its first 64² tile. Each row says whether the process imported torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

FIRST_TILE = """
import json, sys, time
import numpy as np
start = time.perf_counter()
from sr_desktop.engine.pipeline.model_cache import get_model
t0 = time.perf_counter()
model = get_model({model!r}, {scale}, device="cpu")
t1 = time.perf_counter()
from sr_desktop.engine.pipeline.upscale import upscale_float
upscale_float(np.random.default_rng(0).random((64, 64, 3), dtype=np.float32), model=model)
t2 = time.perf_counter()
print(json.dumps({{"import": t0 - start, "load": t1 - t0, "load_to_first_tile": t2 - t0,
                  "backend": model.backend, "torch": "torch" in sys.modules}}))
"""

TORCH_PROBE = "; import sys, atexit; atexit.register(lambda: print('TORCH', 'torch' in sys.modules, file=sys.stderr))"


def _timed(args: list[str]) -> float:
    """Seconds of the command as a user runs it: the installed ``sr-desktop`` script beside
    this Python (its entry-point lookup included), else ``python -m sr_desktop``."""
    script = Path(sys.executable).parent / "sr-desktop"
    command = [str(script), *args[1:]] if script.exists() else [sys.executable, "-m", "sr_desktop", *args[1:]]
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return seconds


def _imports_torch(args: list[str]) -> bool:
    """Whether the command imports torch (the same command, run once with a probe)."""
    code = f"import runpy, sys{TORCH_PROBE}; sys.argv = ['sr-desktop', *{args[1:]!r}]; " \
           "runpy.run_module('sr_desktop', run_name='__main__')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return "TORCH True" in proc.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default="waifu2x-photo:2", help="zoo model ID:SCALE")
    args = ap.parse_args(argv)
    model_id, scale = args.model.split(":")
    root = Path(tempfile.mkdtemp(prefix="bench-start-"))
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / "small.png")
    photo = np.asarray(Image.open(Path(__file__).resolve().parents[1] / "resources" / "chelsea.png").convert("RGB"))
    Image.fromarray(np.ascontiguousarray(photo[:256, :256])).save(root / "photo.png")
    rows = {
        "sr-desktop --help": ["sr-desktop", "--help"],
        "upscale 32² bicubic ×2": ["sr-desktop", "upscale", str(root / "small.png"), "-o", str(root / "a.png"),
                                   "--model", "bicubic", "--scale", "2", "--overwrite"],
        f"upscale 256² {model_id} ×{scale}": ["sr-desktop", "upscale", str(root / "photo.png"), "-o",
                                               str(root / "b.png"), "--model", model_id, "--scale", scale,
                                               "--overwrite"],
    }
    _timed(rows[f"upscale 256² {model_id} ×{scale}"])  # first use: measures and converts, untimed
    print("| command | median s | min s | imports torch |\n|---|---|---|---|")
    for name, command in rows.items():
        seconds = [_timed(command) for _ in range(args.runs)]
        print(f"| {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {_imports_torch(command)} |")
    firsts = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", FIRST_TILE.format(model=model_id, scale=int(scale))],
                             capture_output=True, text=True, check=True).stdout
        firsts.append(json.loads(out.strip().splitlines()[-1]))
    values = [f["load_to_first_tile"] for f in firsts]
    print(f"| get_model -> first 64² tile ({model_id} ×{scale}, {firsts[0]['backend']}) | "
          f"{statistics.median(values):.2f} | {min(values):.2f} | {firsts[0]['torch']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
