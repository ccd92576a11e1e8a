"""The real window under Xvfb, driven by real X input events (xdotool, through XTEST): start
`sr-desktop IMAGE`, upscale with Ctrl+Return, save with Ctrl+S and Return in the Save
dialog, quit with Ctrl+Q — the file written is the result.

Skipped, with the reason, where Xvfb, xdotool or Qt's xcb platform are not available
(`scripts/test.sh` installs them from the distribution's packages when it can).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sr_desktop.engine.imageio import read_image
from tests.test_gui_main_window import write_png

pytestmark = pytest.mark.gui

STEP_TIMEOUT_S = 30.0


def _xcb_problem(env: dict) -> str:
    """"" when a Qt window can open on the display in ``env``, else the reason."""
    probe = ("from PySide6.QtWidgets import QApplication, QLabel\n"
             "app = QApplication([]); w = QLabel('x'); w.show(); app.processEvents()\n")
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
    return "" if run.returncode == 0 else (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[0]


@pytest.fixture
def xvfb(tmp_path):
    """A private X display (its environment for child processes)."""
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install xvfb xdotool)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        display = pipe.readline().strip()
    env = dict(os.environ, DISPLAY=f":{display}", QT_QPA_PLATFORM="xcb",
               SR_DESKTOP_HOME=str(tmp_path / "home"), PYTHONPATH=os.getcwd())
    env.pop("WAYLAND_DISPLAY", None)
    try:
        if not display:
            pytest.skip("Xvfb did not start")
        problem = _xcb_problem(env)
        if problem:
            pytest.skip(f"Qt cannot open a window under Xvfb: {problem}")
        yield env
    finally:
        server.terminate()
        server.wait(10)


def xdotool(env: dict, *args: str) -> str:
    return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S, check=True).stdout.strip()


def focus_window(env: dict, title: str) -> str:
    """Wait for a window whose title contains ``title``, give it the keyboard focus."""
    window = xdotool(env, "search", "--sync", "--onlyvisible", "--name", title).splitlines()[0]
    xdotool(env, "windowfocus", "--sync", window)
    return window


def _window_shown(env: dict, title: str, timeout: float) -> bool:
    """Whether a window whose title contains ``title`` shows within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title], env=env,
                               capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
        if found.stdout.strip():
            return True
        time.sleep(0.1)
    return False


def wait_for(predicate, what: str, timeout: float = STEP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_upscale_and_save_with_the_keyboard_in_a_real_window(xvfb, tmp_path):
    config = Path(xvfb["SR_DESKTOP_HOME"]) / "config"
    config.mkdir(parents=True)
    (config / "gui.ini").write_text("[General]\nmodel=bicubic\nscale=2\n")
    src = write_png(tmp_path / "photo.png", 40, 30)
    expected = tmp_path / "photo_x2_bicubic.png"  # the Save dialog's suggestion
    app = subprocess.Popen([sys.executable, "-m", "sr_desktop", str(src)], env=xvfb,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        focus_window(xvfb, "photo.png — SR Desktop")  # the title once the image is shown
        xdotool(xvfb, "key", "ctrl+Return")
        # Ctrl+S does nothing until the result is there: bicubic ×2 of 40×30 pixels takes
        # milliseconds, but on a loaded machine the window's start (torch loads beside it)
        # took longer than the one second this waited
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while True:
            xdotool(xvfb, "key", "ctrl+s")
            if _window_shown(xvfb, "Save result as", timeout=2.0):
                break
            assert time.monotonic() < deadline, "the Save dialog did not open"
        focus_window(xvfb, "Save result as")
        xdotool(xvfb, "key", "Return")
        wait_for(expected.is_file, f"{expected.name} to be written")
        focus_window(xvfb, "SR Desktop")
        xdotool(xvfb, "key", "ctrl+q")
        assert app.wait(STEP_TIMEOUT_S) == 0
    finally:
        if app.poll() is None:
            app.kill()
        output = app.communicate()[0]
    assert "Traceback" not in output, output
    result = read_image(expected)
    assert (result.width, result.height) == (80, 60)
