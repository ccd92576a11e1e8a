"""Help ▸ Keyboard shortcuts: every shortcut of the window's actions, and the keys and
gestures of the compare view, in one non-modal sheet."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.gui.widgets import read_only_rows, resize_within_screen

#: keys that are not actions: the compare view's own handling
VIEW_KEYS = (
    ("Show the original while held (image focused)", "Space"),
    ("Pan the zoomed image (image focused)", "Arrow keys"),
    ("Move the split divider (image focused)", "[ / ]"),
    ("Move to the next / previous control", "Tab / Shift+Tab"),
    ("Zoom about the pointer", "Mouse wheel"),
    ("Select a region to enhance", "Shift+drag"),
    ("Fit / 100 %", "Double-click the image"),
    ("Remove the image from the list (Images strip focused)", "Delete / Backspace"),
)


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(what, keys) of each action that has a shortcut, in order, then ``VIEW_KEYS``."""
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        keys = [k for k in keys if k]
        if keys:
            rows.append((action.text().replace("&", "").rstrip("…"), " or ".join(dict.fromkeys(keys))))
    return rows + list(VIEW_KEYS)


class ShortcutsSheet(QDialog):
    """A read-only two-column table of `shortcut_rows`; Close (or Esc) dismisses it."""

    def __init__(self, actions: list[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setModal(False)
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setAlternatingRowColors(True)
        read_only_rows(self.table)
        for row, (what, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(what))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        resize_within_screen(self, 520, 680)

    def rows(self) -> list[tuple[str, str]]:
        """The (action, keys) rows shown."""
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]
