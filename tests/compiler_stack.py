"""Check that a piece of engine code runs without importing torch's compiler stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def assert_no_torch_dynamo(code: str) -> None:
    """Run `code` in a fresh interpreter with one torch thread; fail if it imported
    ``torch._dynamo`` (≈ 800 modules on the first use of any `torch.optim` optimizer, which
    holds the GIL for up to a second in the GUI's worker thread)."""
    script = "import sys, numpy as np, torch\ntorch.set_num_threads(1)\n" + code + \
        "\nprint('torch._dynamo' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
