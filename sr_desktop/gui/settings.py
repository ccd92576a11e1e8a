"""Persistent GUI choices (model, scale, advanced options, save format, recent files,
window geometry) in an INI file under the per-user config directory.

The file lives in ``sr_desktop.engine.core.paths.config_dir()``, so ``SR_DESKTOP_HOME`` redirects it
(tests use a temporary home and never touch the user's settings).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.errors import OptionError
from sr_desktop.engine.core.options import MAX_SCALE, TILE_AUTO, AlphaMode, Backend, Device, Precision
from sr_desktop.engine.imageio.atomic import file_target_refusal
from sr_desktop.engine.imageio.formats import DEFAULT_QUALITY, WRITE_FORMATS, check_quality

log = logging.getLogger(__name__)

MAX_RECENT_FILES = 10
#: how a recent file whose name is not UTF-8 is stored: its bytes in hex after this prefix (an
#: INI file holds text, and such a name came back with U+FFFD in it, a file that does not exist)
RAW_NAME_PREFIX = "raw-name:"
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
    #: the after side on the left (View ▸ Swap sides)
    "compare_swapped": False,
    #: the format a still was last saved in over the one suggested ("": the source's own). Not
    #: the "save_format" of versions before it, which held any last save's format: a PNG
    #: kept from then made every camera JPEG's result suggested as PNG
    "still_format": "",
    #: the format an animation was last saved in ("": the source's own, as the docs promise)
    "save_animation_format": "",
    "save_quality": DEFAULT_QUALITY,
    "keep_metadata": True,
    "drop_gps": False,
    "last_dir": "",
    #: the Train dialog's last run: its folder (filled in again while the run is unfinished)
    #: and its training images
    "train_run_dir": "",
    "train_data": "",
    #: the dataset folder Tools ▸ Benchmark a dataset… last ran on
    "bench_dataset": "",
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
#: Save raised), and a scale beyond Qt's 32-bit int stopped the window from opening
_USABLE = {
    "save_quality": _is_quality,
    "still_format": lambda value: value == "" or value in WRITE_FORMATS,
    "scale": lambda value: 1 <= value <= MAX_SCALE,
}


def _stored_name(path: Path) -> str:
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return RAW_NAME_PREFIX + os.fsencode(path).hex()
    return text


def _path_of(item: object) -> Path | None:
    if not isinstance(item, str) or not item:
        return None
    if item.startswith(RAW_NAME_PREFIX):
        try:
            return Path(os.fsdecode(bytes.fromhex(item[len(RAW_NAME_PREFIX):])))
        except ValueError:
            return None
    return Path(item)


class GuiSettings:
    """Typed access to the GUI's QSettings (INI format, one file per user)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else paths.config_dir() / "gui.ini"
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)
        self._failure_logged = False

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
        seen: set[Path] = set()
        for item in value if isinstance(value, list) else []:
            path = _path_of(item)
            if path is not None and path.is_file() and path.resolve() not in seen:
                files.append(path)
                seen.add(path.resolve())
                if len(files) == MAX_RECENT_FILES:  # (a list of 1,000 took 14 s to read)
                    break
        return files

    def add_recent_file(self, path: str | Path) -> list[Path]:
        """Put ``path`` first in the recent list (deduplicated, at most MAX_RECENT_FILES).
        The list is read from the file and written back at once: another window on the same
        settings (a second instance) adds to it too, and kept in memory one lost the other's."""
        path = Path(path).resolve()
        self._qs.sync()
        items = [path] + [p for p in self.recent_files() if p.resolve() != path]
        items = items[:MAX_RECENT_FILES]
        self._qs.setValue("recent_files", [_stored_name(p) for p in items])
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
        """Write pending changes to disk (a failure is logged once: `unsaved_reason` says why)."""
        self._qs.sync()
        if self._qs.status() != QSettings.Status.NoError and not self._failure_logged:
            self._failure_logged = True  # (each panel shown or option changed syncs again)
            log.warning("the settings could not be saved in %s: %s", self.path, self.unsaved_reason())

    def unsaved_reason(self) -> str | None:
        """Why choices cannot be saved in the settings file (read-only, a folder in its place,
        a link into a folder that is gone…), else None."""
        # QSettings makes the file's folders, but not those of a link's target
        reason = file_target_refusal(self.path.resolve(), make_folders=not self.path.is_symlink())
        if reason is not None:
            return reason
        if not self._qs.isWritable():
            return "the file is read-only"
        if self._qs.status() == QSettings.Status.AccessError:
            return "the system refused to write it"
        return None
