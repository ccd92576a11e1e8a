"""A horizontal list of the opened images (thumbnails with file names) to switch between."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImageReader, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem

THUMB = 72
_PATH_ROLE = Qt.ItemDataRole.UserRole


class Filmstrip(QListWidget):
    """The images the user opened; selecting one emits ``imageChosen(path)``."""

    imageChosen = Signal(object)  # pathlib.Path

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 40, THUMB + 30))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 48)
        self.itemActivated.connect(self._emit_chosen)
        self.itemClicked.connect(self._emit_chosen)

    def paths(self) -> list[Path]:
        """The listed files, in order."""
        return [self.item(i).data(_PATH_ROLE) for i in range(self.count())]

    def add_paths(self, paths) -> list[Path]:
        """Append files that are not listed yet; returns the ones added."""
        known = {p.resolve() for p in self.paths()}
        added = []
        for path in paths:
            path = Path(path)
            if path.resolve() in known:
                continue
            known.add(path.resolve())
            item = QListWidgetItem(_thumbnail(path), path.name)
            item.setData(_PATH_ROLE, path)
            item.setToolTip(str(path))
            self.addItem(item)
            added.append(path)
        return added

    def select_path(self, path: Path) -> None:
        """Highlight ``path`` without emitting ``imageChosen``."""
        self.blockSignals(True)
        try:
            for i in range(self.count()):
                if Path(self.item(i).data(_PATH_ROLE)).resolve() == Path(path).resolve():
                    self.setCurrentRow(i)
                    break
        finally:
            self.blockSignals(False)

    def _emit_chosen(self, item: QListWidgetItem) -> None:
        self.imageChosen.emit(Path(item.data(_PATH_ROLE)))


def _thumbnail(path: Path) -> QIcon:
    # QImageReader scales while decoding, so big photos are cheap to thumbnail; files it
    # cannot read get an empty icon (the error comes when the user opens them).
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and size.width() > 0 and size.height() > 0:
        size.scale(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio)
        reader.setScaledSize(size)
    image = reader.read()
    if image.isNull():
        return QIcon()
    return QIcon(QPixmap.fromImage(image))
