"""Whether Qt's X11 platform can start here, asked before the QApplication is made.

Without one of the system libraries its ``xcb`` plugin loads (``libxcb-cursor0`` is the
usual one: Qt 6.5 made it a requirement and many desktops lack it), Qt prints a paragraph
and aborts the process (SIGABRT, exit status 134). Loading the plugin the way Qt will,
beforehand, names the missing library in one line instead.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import sys
from pathlib import Path

#: Loaded by the plugin at run time (dlopen), so loading the plugin does not check it
RUNTIME_LIBRARIES = ("libxcb-cursor.so.0",)


def _uses_xcb(env) -> bool:
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":", 1)[0] == "xcb"
    # Unset, Qt takes Wayland in a Wayland session and falls back to X11 only when it fails
    return bool(env.get("DISPLAY")) and not env.get("WAYLAND_DISPLAY")


def _xcb_plugin() -> Path | None:
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


#: libraries whose package does not follow the naming rule of `debian_package`
DEBIAN_EXCEPTIONS = {"libglib-2.0.so.0": "libglib2.0-0"}


def debian_package(library: str) -> str:
    """The Debian/Ubuntu package that usually holds `library`: its name in lower case with
    the soname's number (``libxcb-icccm.so.4`` → ``libxcb-icccm4``, ``libX11-xcb.so.1`` →
    ``libx11-xcb1``; a name that ends in a digit takes a dash: ``libxkbcommon-x11-0``)."""
    if library in DEBIAN_EXCEPTIONS:
        return DEBIAN_EXCEPTIONS[library]
    match = re.fullmatch(r"(lib[\w+.-]*?)\.so\.(\d+).*", library)
    if match is None:
        return library
    name, version = match.groups()
    return f"{name.lower()}{'-' if name[-1].isdigit() else ''}{version}"


def _load_error(path: str) -> str | None:
    try:
        ctypes.CDLL(path, mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    except OSError as exc:
        return str(exc)
    return None


def xcb_problem(env=None) -> str | None:
    """One line saying which system library keeps Qt's X11 platform from starting, or None
    (not Linux, another platform chosen, or everything loads)."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or not _uses_xcb(env):
        return None
    plugin = _xcb_plugin()
    if plugin is None:
        return None  # not a wheel layout this check knows: Qt says what it lacks
    for path in (str(plugin), *RUNTIME_LIBRARIES):
        error = _load_error(path)
        if error is None:
            continue
        # dlopen's reason names the library that failed: "libxcb-icccm.so.4: cannot open ..."
        named = error.split(":", 1)[0].strip()
        missing = Path(named if ".so" in named else path).name
        return (f"the window cannot open: Qt's X11 platform needs {missing} "
                f"(Debian/Ubuntu: sudo apt install {debian_package(missing)}); "
                f"--offscreen runs without a window")
    return None
