"""A horizontal list of the opened images (thumbnails with file names) to switch between.

Thumbnails are decoded in a worker thread (`thumbnails.run_thumbnail_job` on a
`JobQueue`): adding a folder of big photos returns at once and the pictures appear as
they come. A file that cannot be read keeps its entry with an error badge and the reason
in its tooltip; files with the same name show their folder; entries can be removed
(Delete, or the context menu), which emits ``entriesRemoved``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QStyle

from sr_desktop.app.jobs import Job
from sr_desktop.gui.key_text import with_native_keys
from sr_desktop.gui.main_window.thumbnails import THUMB, Thumbnail, run_thumbnail_job
from sr_desktop.gui.widgets import muted_colour, plain_tooltip
from sr_desktop.gui.worker import JobQueue

_PATH_ROLE = Qt.ItemDataRole.UserRole
_ERROR_ROLE = Qt.ItemDataRole.UserRole + 1
#: the file's (modification time, size) when its thumbnail was made
_STAMP_ROLE = Qt.ItemDataRole.UserRole + 2
_RESOLVED_ROLE = Qt.ItemDataRole.UserRole + 3  # the path resolved when it was listed (its lookup key)


#: what the strip says while it lists nothing
EMPTY_TEXT = "The images you open or drop are listed here (Ctrl+O)"


class Filmstrip(QListWidget):
    """The images the user opened; selecting one emits ``imageChosen(path)``."""

    imageChosen = Signal(object)  # pathlib.Path
    #: paths the user removed from the strip (list of pathlib.Path)
    entriesRemoved = Signal(list)
    #: a file's thumbnail (or its error badge) is shown: pathlib.Path
    thumbnailShown = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.setAccessibleName("Images")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(THUMB, THUMB))
        # cells grow with the font (fixed, a 16-pt font cut "baby.png" to "ba…ng"): about 13
        # characters wide, the thumbnail and a line of text high
        metrics = self.fontMetrics()
        self.setGridSize(QSize(max(THUMB + 40, metrics.averageCharWidth() * 13), THUMB + metrics.height() + 16))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(self.gridSize().height() + 10)
        self.itemActivated.connect(self._emit_chosen)
        self.itemClicked.connect(self._emit_chosen)

        self.remove_action = QAction("Remove from list", self)
        self.remove_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Delete),
                                         QKeySequence(Qt.Key.Key_Backspace)])
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_action.triggered.connect(self.remove_current)
        self.remove_unreadable_action = QAction("Remove files that cannot be read", self)
        self.remove_unreadable_action.triggered.connect(self.remove_unreadable)
        self.addAction(self.remove_action)
        self.addAction(self.remove_unreadable_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        #: device pixels per thumbnail pixel: decoded at the screens' finest density (at 200 %
        #: 56-px thumbnails were stretched to 112 device pixels, blurred)
        self._ratio = max([1.0, *(screen.devicePixelRatio() for screen in QGuiApplication.screens())])
        self._thumbnails = JobQueue(self, runner=functools.partial(run_thumbnail_job, size=round(THUMB * self._ratio)))
        self._thumbnails.jobProgress.connect(self._on_thumbnail)
        #: listed, thumbnail not decoded yet, in order (a dict: membership and removal in
        #: constant time; a list made each arriving thumbnail scan it)
        self._waiting: dict[Path, None] = {}
        #: the entries by their path as listed and by its resolved form (looked up for each
        #: thumbnail and each switch: a scan of the list made 3000 files 20 s of GUI time)
        self._by_path: dict[Path, QListWidgetItem] = {}
        self._by_resolved: dict[Path, QListWidgetItem] = {}
        self._deferred: set[Path] = set()  # listed, thumbnail held until `release_thumbnail`
        self._reporting: Job | None = None  # the thumbnail job whose reports came last
        self._reported: set[Path] = set()  # the paths it has reported
        self._placeholder = _blank(self._ratio)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.count() == 0:  # (an empty strip was a blank white band)
            painter = QPainter(self.viewport())
            painter.setPen(muted_colour(self.palette()))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             with_native_keys(EMPTY_TEXT))

    # -- the list ---------------------------------------------------------------------
    def paths(self) -> list[Path]:
        """The listed files, in order."""
        return [self.item(i).data(_PATH_ROLE) for i in range(self.count())]

    def add_paths(self, paths, later: Path | None = None) -> list[Path]:
        """Append files that are not listed yet; returns the ones added. Their thumbnails
        come from a worker thread; `later`'s once `release_thumbnail` says so (the image being
        opened: decoded for its thumbnail beside its own reading, a 12-MP PNG was shown after
        0.84 s instead of 0.43 s on two cores)."""
        added = []
        for path in paths:
            path = Path(path)
            resolved = path.resolve()
            if resolved in self._by_resolved:
                continue
            item = QListWidgetItem(QIcon(self._placeholder), path.name)
            item.setData(_PATH_ROLE, path)
            # (the key it was found by: a link changed or deleted since resolves elsewhere, and
            # its entry removed stayed in the lookup, the file never listed again)
            item.setData(_RESOLVED_ROLE, resolved)
            item.setToolTip(plain_tooltip(str(path)))
            self.addItem(item)
            self._by_path[path] = self._by_resolved[resolved] = item
            added.append(path)
        if added:
            self._label_entries()
            self._deferred.update(p for p in added if p == later)
            self._waiting.update(dict.fromkeys(p for p in added if p != later))
            self._request_thumbnails()
        return added

    def release_thumbnail(self, path: Path) -> None:
        """Decode `path`'s thumbnail now, if it was held (`add_paths`' `later`)."""
        if path in self._deferred:
            self._deferred.discard(path)
            if path in self._by_path:
                self._waiting.setdefault(path)
                self._request_thumbnails()

    def remove_paths(self, paths) -> list[Path]:
        """Take ``paths`` off the list (the image shown stays open); returns those removed
        and emits ``entriesRemoved`` with them."""
        # found through the lookup tables: every listed path was resolved again for each
        # removal (256 ms for one entry of 10 000)
        items = {}
        for given in map(Path, paths):
            item = self._by_path.get(given) or self._by_resolved.get(given.resolve())
            if item is not None:
                items[id(item)] = item
        ordered = sorted(items.values(), key=self.row)
        removed = []
        for item in reversed(ordered):
            path = Path(item.data(_PATH_ROLE))
            self.takeItem(self.row(item))
            self._by_path.pop(path, None)
            self._by_resolved.pop(item.data(_RESOLVED_ROLE), None)
            removed.insert(0, path)
        if removed:
            gone = set(removed)
            self._waiting = {p: None for p in self._waiting if p not in gone}
            self._deferred = {p for p in self._deferred if p not in gone}
            if self._thumbnails.pending is not None:
                self._request_thumbnails()  # a pending job without the removed files
            self._label_entries({path.name.casefold() for path in removed})
            self.entriesRemoved.emit(removed)
        return removed

    def remove_current(self) -> list[Path]:
        """Remove the highlighted entry."""
        item = self.currentItem()
        return self.remove_paths([item.data(_PATH_ROLE)]) if item is not None else []

    def remove_unreadable(self) -> list[Path]:
        """Remove every entry with an error badge."""
        return self.remove_paths(self.unreadable())

    def unreadable(self) -> dict[Path, str]:
        """The listed files that cannot be read, with the reason."""
        return {self.item(i).data(_PATH_ROLE): self.item(i).data(_ERROR_ROLE)
                for i in range(self.count()) if self.item(i).data(_ERROR_ROLE)}

    def unreadable_reason(self, path: Path) -> str | None:
        """Why `path`'s entry cannot be read (None: it can, or it is not listed)."""
        item = self._item_for(path)
        return item.data(_ERROR_ROLE) or None if item is not None else None

    def labels(self) -> list[str]:
        """The text under each thumbnail, in order."""
        return [self.item(i).text() for i in range(self.count())]

    def refresh_thumbnail(self, path: Path) -> bool:
        """Make `path`'s thumbnail again when the file changed since it was made (a file
        replaced on disk kept its old picture beside its new content); True if it is remade."""
        item = self._item_for(path)
        stamp = _stamp(path)
        if item is None or item.data(_STAMP_ROLE) is None or item.data(_STAMP_ROLE) == stamp:
            return False
        item.setData(_STAMP_ROLE, None)
        item.setData(_ERROR_ROLE, None)
        item.setIcon(QIcon(self._placeholder))
        self._waiting.setdefault(path)
        self._request_thumbnails()
        return True

    def label_of(self, path: Path) -> str | None:
        """The text under `path`'s thumbnail (its name, with folders when another entry has
        the same name), or None when it is not listed."""
        item = self._item_for(path)
        return item.text() if item is not None else None

    def thumbnails_pending(self) -> bool:
        """True while thumbnails are still being decoded."""
        return bool(self._waiting) or bool(self._deferred) or self._thumbnails.is_busy()

    def select_path(self, path: Path | None) -> bool:
        """Highlight ``path`` without emitting ``imageChosen``; with None, or a path not
        listed, nothing is highlighted (False)."""
        self.blockSignals(True)
        try:
            item = self._by_resolved.get(Path(path).resolve()) if path is not None else None
            if item is not None:
                self.setCurrentItem(item)
                return True
            self.setCurrentRow(-1)
            return False
        finally:
            self.blockSignals(False)

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop decoding thumbnails (call when the window closes)."""
        self._waiting.clear()
        self._deferred.clear()
        return self._thumbnails.shutdown(timeout)

    # -- internals --------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:
        # a key that moves along the strip (the arrows, Home/End, a letter's type-ahead)
        # opens the image it moves to, as a click does: it highlighted an image that was not
        # the one shown, every label the other's
        before = self.currentItem()
        super().keyPressEvent(event)
        if self.currentItem() is not None and self.currentItem() is not before:
            self._emit_chosen(self.currentItem())

    def _emit_chosen(self, item: QListWidgetItem) -> None:
        self.imageChosen.emit(Path(item.data(_PATH_ROLE)))

    def mark_unreadable(self, path: Path, reason: str) -> None:
        """Badge `path`'s entry as a file that cannot be read, for `reason`."""
        item = self._item_for(path)
        if item is not None:
            item.setIcon(QIcon(self._error_badge()))
            item.setData(_ERROR_ROLE, reason)

    def _item_for(self, path: Path) -> QListWidgetItem | None:
        return self._by_path.get(path)

    def _request_thumbnails(self) -> None:
        # the running job keeps its paths; the pending one (which a newer request
        # replaces) always carries every other path still waiting
        running = self._thumbnails.running
        # (less those it has already reported: one removed and added again meanwhile was
        # left waiting for good, a blank entry that never got its thumbnail)
        done = self._reported if running is not None and running is self._reporting else set()
        busy = set(running.options) - done if running is not None else set()
        todo = tuple(p for p in self._waiting if p not in busy)
        if todo:
            self._thumbnails.submit(Job(None, todo))

    def _on_thumbnail(self, job: Job, info) -> None:
        thumbnail: Thumbnail | None = info.extra.get("thumbnail")
        if thumbnail is not None:
            if job is not self._reporting:
                self._reporting, self._reported = job, set()
            self._reported.add(thumbnail.path)
        if thumbnail is None or thumbnail.path not in self._waiting:
            return  # removed meanwhile
        del self._waiting[thumbnail.path]
        item = self._item_for(thumbnail.path)
        if item is None:
            return
        item.setData(_STAMP_ROLE, _stamp(thumbnail.path))
        if thumbnail.image is not None:
            pixmap = QPixmap.fromImage(thumbnail.image)
            pixmap.setDevicePixelRatio(self._ratio)
            item.setIcon(QIcon(_centred(pixmap, self._ratio)))
        elif thumbnail.note:  # readable, only no picture of it: the entry stays blank
            item.setToolTip(plain_tooltip(f"{thumbnail.path}\n{thumbnail.note}"))
        else:
            item.setIcon(QIcon(self._error_badge()))
            item.setData(_ERROR_ROLE, thumbnail.error)
            item.setToolTip(plain_tooltip(f"{thumbnail.path}\nCannot be read: {thumbnail.error}"))
        self.thumbnailShown.emit(thumbnail.path)

    def _error_badge(self) -> QPixmap:
        badge = _blank(self._ratio)
        icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        side = THUMB // 2
        painter = QPainter(badge)
        icon.paint(painter, QRect((THUMB - side) // 2, (THUMB - side) // 2, side, side))
        painter.end()
        return badge

    def _label_entries(self, names: set[str] | None = None) -> None:
        """Label the entries (`disambiguated_labels`); with `names` (case-folded file names),
        only those with one of them: only they can change when others come or go (every
        entry was labelled again for each removal, 65 ms at 10 000)."""
        listed = [(path, item) for path, item in self._by_path.items()
                  if names is None or path.name.casefold() in names]
        for (_path, item), label in zip(listed, disambiguated_labels([path for path, _item in listed]), strict=True):
            if item.text() != label:
                item.setText(label)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = Path(path).stat()
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def disambiguated_labels(paths: list[Path]) -> list[str]:
    """File names, with as many parent folders as it takes to tell apart entries that
    have the same name ("trip/beach.png", "home/beach.png")."""
    labels = [p.name for p in paths]
    by_name: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        by_name.setdefault(path.name.casefold(), []).append(i)
    for rows in by_name.values():
        if len({paths[i].name for i in rows}) == len(rows):
            continue  # told apart by their case already (it climbed to the root: "//tmp/d/Case.png")
        depth = 1
        while True:
            tails = [Path(*paths[i].parts[-depth - 1:]).as_posix() for i in rows]
            longest = max(len(paths[i].parts) for i in rows)
            # (told apart as written: names that differ in case alone climbed to the root)
            if len(set(tails)) == len(rows) or depth + 1 >= longest:
                break
            depth += 1
        for i, tail in zip(rows, tails, strict=True):
            labels[i] = tail
    return labels


def _centred(pixmap: QPixmap, ratio: float) -> QPixmap:
    """`pixmap` in the middle of a THUMB² square: every icon keeps the placeholder's size (a
    wide one drew its caption a second time, the old one left where the square's had been)."""
    square = _blank(ratio)
    size = pixmap.deviceIndependentSize()
    painter = QPainter(square)
    painter.drawPixmap(QPointF((THUMB - size.width()) / 2, (THUMB - size.height()) / 2), pixmap)
    painter.end()
    return square


def _blank(ratio: float) -> QPixmap:
    """A transparent THUMB² square of `ratio` device pixels per pixel."""
    pixmap = QPixmap(round(THUMB * ratio), round(THUMB * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    return pixmap
