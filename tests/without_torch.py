"""Run Python code in a fresh interpreter where importing torch raises: what the torch-free
paths (resamplers, the zoo and literature models on a known backend) promise."""

from __future__ import annotations

import subprocess
import sys

#: put first in the code: any import of torch (or of a torch submodule) raises ImportError
NO_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch was imported")

sys.meta_path.insert(0, NoTorch())
"""


def run_without_torch(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`code` run by this Python with torch blocked, in `env`; stdout and stderr captured."""
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True, text=True, env=env)
