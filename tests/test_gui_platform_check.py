"""Qt's X11 platform checked before the QApplication (a missing system library is one line,
not Qt's abort: SIGABRT, exit status 134), and what create_application gives every window."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sr_desktop.gui import platform_check

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb platform is Linux's")


@pytest.mark.parametrize(("library", "package"), [
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-icccm.so.4.0.0", "libxcb-icccm4"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libX11-xcb.so.1", "libx11-xcb1"),  # package names are lower case
    ("libEGL.so.1", "libegl1"),
    ("libglib-2.0.so.0", "libglib2.0-0"),
    ("weird", "weird"),
])
def test_debian_package_names(library, package):
    assert platform_check.debian_package(library) == package


@pytest.mark.parametrize("env", [
    {},  # no display at all
    {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},  # Qt takes Wayland first
    {"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"},
    {"QT_QPA_PLATFORM": "wayland"},
])
def test_no_check_when_xcb_is_not_the_platform(env, monkeypatch):
    monkeypatch.setattr(platform_check, "_load_error", lambda path: pytest.fail(f"loaded {path}"))
    assert platform_check.xcb_problem(env) is None


def test_a_library_the_plugin_links_is_named(monkeypatch):
    reason = "libxcb-icccm.so.4: cannot open shared object file: No such file or directory"
    monkeypatch.setattr(platform_check, "_load_error", lambda path: reason if path.endswith("libqxcb.so") else None)
    assert platform_check.xcb_problem({"DISPLAY": ":0"}) == (
        "the window cannot open: Qt's X11 platform needs libxcb-icccm.so.4 "
        "(Debian/Ubuntu: sudo apt install libxcb-icccm4); --offscreen runs without a window")
    assert platform_check.xcb_problem({"QT_QPA_PLATFORM": "xcb:nograb"}) is not None


def test_everything_loads_here():
    # this machine has the libraries (scripts/test.sh installs them with Xvfb)
    if platform_check._xcb_plugin() is None:
        pytest.skip("no PySide6 xcb plugin")
    assert platform_check.xcb_problem({"DISPLAY": ":0"}) is None


def test_the_app_says_one_line_for_a_library_that_does_not_load(tmp_path):
    # an unusable libxcb-cursor.so.0 found first, as the helper of a broken install would be:
    # Qt aborted with a paragraph and exit status 134; the check runs before any window
    if platform_check._xcb_plugin() is None or platform_check.xcb_problem({"DISPLAY": ":0"}) is not None:
        pytest.skip("Qt's X11 platform cannot load here anyway (scripts/test.sh installs its libraries)")
    fake = tmp_path / "lib"
    fake.mkdir()
    (fake / "libxcb-cursor.so.0").write_bytes(b"")
    env = {**os.environ, "DISPLAY": ":0", "LD_LIBRARY_PATH": str(fake), "SR_DESKTOP_HOME": str(tmp_path / "home")}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run([sys.executable, "-m", "sr_desktop"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "sr-desktop: error: the window cannot open: Qt's X11 platform needs libxcb-cursor.so.0 "
        "(Debian/Ubuntu: sudo apt install libxcb-cursor0); --offscreen runs without a window"]


def test_the_app_has_its_icon():
    # a fresh process: the test session's QApplication was not made by create_application
    code = ("from sr_desktop.gui.app import create_application\n"
            "app = create_application(offscreen=True)\n"
            "print(sorted(s.width() for s in app.windowIcon().availableSizes()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[256]"
