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
