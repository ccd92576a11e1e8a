"""Follows the index of the user's own models while a window is open.

`sr-desktop models add/remove` in a shell, a second window or a training run change
``custom_models/index.json``; the picker went on offering a removed model (Upscale then
failed with "unknown model …" and the list of every id) and did not show an added one until
a restart.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QFileSystemWatcher, QObject, QTimer, Signal, SignalInstance

from sr_desktop.engine.models.custom_index import index_path

#: a burst of changes (the index written to a temp file, then renamed) is one change
SETTLE_MS = 300


class ModelListWatch(QObject):
    """Emits ``changed`` (once per burst) when an index of added models it follows may have
    changed. One per process (`watch_for`): each file-system watcher holds an inotify
    instance, of which a user has 128 (and a test run makes a window per test)."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._indexes: set[Path] = set()
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_change)
        self._watcher.fileChanged.connect(self._on_change)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self.changed)

    def follow(self, index: Path) -> None:
        self._indexes.add(index)
        self._arm()

    def _arm(self) -> None:
        # the index is replaced by a rename (a new file to watch each time), and its folder
        # may not exist before the first model is added: watch the nearest two that do
        watched = set(self._watcher.files()) | set(self._watcher.directories())
        missing = []
        for index in self._indexes:
            present = [str(p) for p in [index, *list(index.parents)[:3]] if p.exists()]
            missing += [p for p in present[:2] if p not in watched]
        if missing:
            self._watcher.addPaths(sorted(set(missing)))

    def _on_change(self, _path: str) -> None:
        self._arm()
        self._settle.start()


class _Relay(QObject):
    changed = Signal()


_WATCH: ModelListWatch | None = None


def watch_for(owner: QObject) -> SignalInstance:
    """A signal for `owner` (a window), emitted when the index of added models
    (``SR_DESKTOP_HOME`` decides which) may have changed; the connection ends with `owner`."""
    global _WATCH
    if _WATCH is None:
        _WATCH = ModelListWatch(QCoreApplication.instance())
    _WATCH.follow(index_path())
    relay = _Relay(owner)  # (a child: destroyed with the window, and with it the connection)
    _WATCH.changed.connect(relay.changed)
    return relay.changed
