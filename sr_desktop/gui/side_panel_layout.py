"""Layout shared by the side panels (metrics, blur kernel): a frameless vertical scroll
area that fills the panel, so a tall panel scrolls in a short window."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


class _ColumnScroll(QScrollArea):
    """A vertical scroll area no narrower than its column and the scroll bar beside it: the
    panel's dock could be dragged (or laid out, in an 800 px window) narrower, and the
    column's right edge — its combo boxes and Cancel — was cut off behind the scroll bar."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        content = self.widget()
        if content is None:
            return hint
        width = content.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())


def scrollable_column(owner: QWidget) -> tuple[QWidget, QVBoxLayout]:
    """Fill `owner` with a scroll area; return its content widget and column layout."""
    scroll = _ColumnScroll(owner)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    content = QWidget(scroll)
    scroll.setWidget(content)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    layout = QVBoxLayout(content)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.setSpacing(8)
    return content, layout
