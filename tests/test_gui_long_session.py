"""A long session in the window (issue 18): open 200 images in turn and upscale each one.

Resident memory may not keep growing with every image shown and upscaled: caches of
results, pixmaps or jobs that are never dropped would show up here. The session runs in a
fresh interpreter (this file run as a script), so the measure is the window's alone and
the process's exit is seen too: PySide6 6.12.0's ``SignalInstance.emit()`` returns ``True``
without a new reference, so on Python < 3.12 (where ``True`` is not immortal) every emit
takes one reference away, and a long enough session dies with "Fatal Python error:
bool_dealloc" (at the latest when the interpreter exits).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

IMAGES = 200
WARM_UP = 10  # the first images load the model, fonts, pixmap caches: not a leak
MAX_GROWTH_MB = 100
ROOT = Path(__file__).resolve().parents[1]


def _session(folder: Path) -> dict:
    """Open IMAGES tiny images one after the other, upscale each; RSS growth after the warm-up."""
    import gc

    import numpy as np
    import psutil
    from PIL import Image as PILImage
    from PySide6.QtCore import QCoreApplication, QEventLoop, QThread

    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    def wait_until(condition, seconds=20.0):
        import time

        end = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the window did not become idle")
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            QThread.msleep(2)

    create_application()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(IMAGES):
        path = folder / f"img{i:03d}.png"
        PILImage.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    window = MainWindow(settings=GuiSettings(folder / "gui.ini"), confirm_discard=lambda question: "discard",
                        ask_save_target=lambda suggested, options: None)
    window.resize(1000, 700)
    window.show()
    assert window.picker.set_model_id("bicubic") and window.picker.set_scale(2)
    process = psutil.Process()
    baseline = 0
    for i, path in enumerate(paths):
        assert window.open_image(path)
        wait_until(window.is_idle)
        assert window.image is not None and window.image.path == path, window.last_error
        assert window.start_upscale() is not None
        wait_until(window.is_idle)
        assert window.result is not None and window.result.image.width == 128, window.last_error
        if i + 1 == WARM_UP:
            gc.collect()
            baseline = process.memory_info().rss
    gc.collect()
    growth = process.memory_info().rss - baseline
    window.queue.shutdown(2.0)
    window.close()
    return {"images": IMAGES, "growth_mb": growth / 1e6}


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> tuple[dict, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("long-session")
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    run = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(folder)], capture_output=True,
                         text=True, env=env, timeout=300)
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, run.stderr[-3000:]
    return json.loads(lines[-1]), run


def test_resident_memory_stays_flat_over_200_images(session):
    report, _ = session
    assert report["images"] == IMAGES
    # measured: 5.7 MB over the 190 images after the warm-up
    assert report["growth_mb"] < MAX_GROWTH_MB, report


def _emit_steals_true() -> bool:
    """Whether this PySide6 has the ``emit()`` reference bug (measured, not looked up)."""
    from PySide6.QtCore import QObject, Signal

    class Probe(QObject):
        fired = Signal()

    probe = Probe()
    before = sys.getrefcount(True)
    for _ in range(10):
        probe.fired.emit()
    stolen = before - sys.getrefcount(True) >= 10
    if stolen:  # give the ten references back, or this test process would pay for them
        import ctypes

        for _ in range(10):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return stolen


@pytest.mark.xfail(sys.version_info < (3, 12) and _emit_steals_true(), strict=True,
                   reason="PySide6 SignalInstance.emit() returns True without a reference: fix outside this file")
def test_the_session_ends_cleanly(session):
    _, run = session
    assert run.returncode == 0, run.stderr[-2000:]


if __name__ == "__main__":
    print(json.dumps(_session(Path(sys.argv[1]))), flush=True)
