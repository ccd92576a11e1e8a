"""`core.native_stderr`: what native code writes on descriptor 2, kept off the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.engine.core.native_stderr import native_stderr_silenced

ROOT = Path(__file__).resolve().parents[1]


def test_blocks_overlapping_in_two_threads_put_the_terminal_back(capfd):
    """Two blocks that overlap (the window's jobs): each saving descriptor 2 and putting it
    back on its own left the null device there for good when the second ended last."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def second():
        first_in.wait()
        with native_stderr_silenced():
            second_in.set()
            first_out.wait()
            os.write(2, b"after the first ended\n")  # (still inside the second block)

    thread = threading.Thread(target=second)
    thread.start()
    with native_stderr_silenced():
        first_in.set()
        second_in.wait()
        os.write(2, b"inside both\n")
    first_out.set()
    thread.join()
    os.write(2, b"after both\n")
    assert capfd.readouterr().err == "after both\n"


def test_a_cluster_batch_prints_only_its_own_lines(tmp_path):
    """Ray's C++ core printed "[… E …] core_worker.cc:…: Actor with class name:
    'MapWorker(MapBatches(UpscaleActor))' … has constructor arguments in the object store"
    into every cluster batch's terminal output (and its log level's own line when the user
    quieted it with RAY_BACKEND_LOG_LEVEL)."""
    pytest.importorskip("ray")
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src / "a.png")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SR_DESKTOP_HOME": str(tmp_path / "home"),
           "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_BACKEND_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-m", "sr_desktop", "batch", str(src), str(tmp_path / "out"), "--model",
                           "bicubic", "--scale", "2", "--cluster", "ray", "--no-progress"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 upscaled, 0 skipped") and done.stderr == ""
    assert (tmp_path / "out" / "a_x2_bicubic.png").is_file()
