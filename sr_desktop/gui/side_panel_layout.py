"""Layout shared by the side panels (metrics, blur kernel): a frameless vertical scroll
area that fills the panel, so a tall panel scrolls in a short window."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


class _ColumnScrollArea(QScrollArea):
    """A scroll area whose width hint leaves room for its vertical scroll bar: Qt's hint
    counts the bar only when it is always on, so a panel shown alone in a short window got
    a dock as wide as its column and the bar then covered the column's right edge (the
    kernel panel's Cancel cut in half at 1366×720)."""

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        if self.verticalScrollBarPolicy() != Qt.ScrollBarPolicy.ScrollBarAlwaysOn:
            hint.setWidth(hint.width() + self.verticalScrollBar().sizeHint().width())
        return hint


def scrollable_column(owner: QWidget) -> tuple[QWidget, QVBoxLayout]:
    """Fill `owner` with a scroll area; return its content widget and column layout."""
    scroll = _ColumnScrollArea(owner)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    # a dock narrower than the column (two panels side by side on a small screen) scrolls it
    # sideways: with the bar off its right edge was cut off (the kernel panel's Cancel at
    # 800 px); a minimum width instead made two side-by-side docks need a 1074 px window
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    content = QWidget(scroll)
    scroll.setWidget(content)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    layout = QVBoxLayout(content)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.setSpacing(8)
    return content, layout
