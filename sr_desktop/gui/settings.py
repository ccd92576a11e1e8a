"""Persistent GUI choices (model, scale, advanced options, save format, recent files,
window geometry) in an INI file under the per-user config directory.

The file lives in ``sr_desktop.engine.core.paths.config_dir()``, so ``SR_DESKTOP_HOME`` redirects it
(tests use a temporary home and never touch the user's settings).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.errors import OptionError
from sr_desktop.engine.core.options import TILE_AUTO, AlphaMode, Backend, Device, Precision
from sr_desktop.engine.imageio.formats import DEFAULT_QUALITY, WRITE_FORMATS, check_quality

MAX_RECENT_FILES = 10
#: QWidget.saveGeometry's format (version 3): its magic number and whole length
GEOMETRY_MAGIC = b"\x01\xd9\xd0\xcb"
GEOMETRY_BYTES = 66

#: "model" empty: the picker chooses the engine's DEFAULT_MODEL (or the first installed one).
#: Device, precision and tile defaults are the engine's (`sr_desktop.engine.core.options`).
DEFAULTS = {
    "model": "",
    "scale": 4,
    #: the model's variant ("": its default; a stored one the model lacks is not used)
    "variant": "",
    "device": Device.AUTO.value,
    "precision": Precision.AUTO.value,
    "backend": Backend.AUTO.value,
    "tile": str(TILE_AUTO),
    "alpha": AlphaMode.MODEL.value,
    "compare_mode": "split",
    "save_format": "png",
    #: the format an animation was last saved in ("": the source's own, as the docs promise)
    "save_animation_format": "",
    "save_quality": DEFAULT_QUALITY,
    "keep_metadata": True,
    "last_dir": "",
}


def _is_quality(value: int) -> bool:
    try:
        check_quality(value)
    except OptionError:
        return False
    return True


#: values a settings file may hold for a key and still be used (others: the default): a
#: hand-edited save_quality=0 made every Save As fail, and so did a format this version
#: cannot write (save_format=avif, a newer version's: Save, Save As and the close question's
#: Save raised)
_USABLE = {"save_quality": _is_quality, "save_format": lambda value: value in WRITE_FORMATS}


class GuiSettings:
    """Typed access to the GUI's QSettings (INI format, one file per user)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.config_dir() / "gui.ini"
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    # -- simple values ------------------------------------------------------------------
    def get(self, key: str):
        """The stored value of ``key`` converted to the type of its default."""
        default = DEFAULTS[key]
        value = self._qs.value(key, default)
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if isinstance(default, int):
            try:
                number = int(value)
            except (TypeError, ValueError):
                return default
            return number if _USABLE.get(key, lambda _v: True)(number) else default
        text = "" if value is None else str(value)
        return text if _USABLE.get(key, lambda _v: True)(text) else default

    def set(self, key: str, value) -> None:
        """Store ``key`` (one of ``DEFAULTS``)."""
        if key not in DEFAULTS:
            raise KeyError(key)
        self._qs.setValue(key, value)

    # -- recent files -------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        """Most recent first, only files that still exist, each once, at most
        MAX_RECENT_FILES (a hand-edited list of 23 copies of one path gave 25 menu items)."""
        value = self._qs.value("recent_files", [])
        if isinstance(value, str):
            value = [value] if value else []
        files: list[Path] = []
        for item in value if isinstance(value, list) else []:
            path = Path(item) if isinstance(item, str) and item else None
            if path is not None and path.is_file() and path.resolve() not in {f.resolve() for f in files}:
                files.append(path)
        return files[:MAX_RECENT_FILES]

    def add_recent_file(self, path: str | Path) -> list[Path]:
        """Put ``path`` first in the recent list (deduplicated, at most MAX_RECENT_FILES).
        The list is read from the file and written back at once: another window on the same
        settings (a second instance) adds to it too, and kept in memory one lost the other's."""
        path = Path(path).resolve()
        self._qs.sync()
        items = [path] + [p for p in self.recent_files() if p.resolve() != path]
        items = items[:MAX_RECENT_FILES]
        self._qs.setValue("recent_files", [str(p) for p in items])
        self._qs.sync()
        return items

    def clear_recent_files(self) -> None:
        self._qs.setValue("recent_files", [])

    # -- window state -------------------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        """The window geometry Qt saved, or None when there is none or it is cut short: Qt
        restores a truncated one as a 1-px window (shown at its minimum, 472×198) and says
        it succeeded."""
        value = self._qs.value("window/geometry")
        if not isinstance(value, QByteArray) or value.size() < GEOMETRY_BYTES:
            return None
        return value if bytes(value.data()[:4]) == GEOMETRY_MAGIC else None

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)

    def sync(self) -> None:
        """Write pending changes to disk."""
        self._qs.sync()
