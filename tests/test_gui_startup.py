"""The window shows without waiting for torch (1.7 s of its 2.4 s start on the 2-core
machine): building it imports no torch on a CPU-only build; torch loads beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from sr_desktop.engine.compute import devices

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from sr_desktop.gui.main_window.window import MainWindow
from sr_desktop.gui.settings import GuiSettings
window = MainWindow(settings=GuiSettings(sys.argv[1]))
window.show()
app.processEvents()
print("torch" in sys.modules, window.device_label.full_text())
import torch
from sr_desktop.engine.compute.devices import describe_device
print(describe_device("cpu"))
"""


@pytest.mark.skipif(not devices.auto_device_is_cpu_without_torch(), reason="a torch build that may have GPUs")
def test_the_window_is_built_without_importing_torch(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SR_DESKTOP_HOME=str(tmp_path / "home"))
    out = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "gui.ini")], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    first, with_torch = out.stdout.strip().splitlines()
    # the device label, told without torch, is what torch itself says
    assert first == f"False Device: {with_torch}", out.stdout


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_closes_the_window_without_its_questions(tmp_path, signame):
    """Ctrl+C in the terminal that started the app did nothing (Qt's loop ran no Python
    handler) and SIGTERM killed it outright; it closes now as its close button does, without
    its questions, status 130."""
    script = tmp_path / "run.py"
    script.write_text(f"""
import os, signal, sys, threading, time
from pathlib import Path
from sr_desktop.cli import app_launcher

def press_when_shown():
    time.sleep(2.0)
    os.kill(os.getpid(), signal.{signame})

threading.Thread(target=press_when_shown, daemon=True).start()
sys.exit(app_launcher.run_window([Path({str(ROOT / 'resources' / 'chelsea.png')!r})]))
""")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SR_DESKTOP_HOME=str(tmp_path / "home"),
               PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
