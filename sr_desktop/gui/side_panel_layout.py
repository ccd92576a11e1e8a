"""Layout shared by the side panels (metrics, blur kernel): a frameless vertical scroll
area that fills the panel, so a tall panel scrolls in a short window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def scrollable_column(owner: QWidget) -> tuple[QWidget, QVBoxLayout]:
    """Fill `owner` with a scroll area; return its content widget and column layout."""
    scroll = QScrollArea(owner)
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
