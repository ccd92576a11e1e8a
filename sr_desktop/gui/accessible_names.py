"""Accessible names for a screen reader: every widget that takes the keyboard focus must
say what it is. Widgets named where they are built keep their names; `name_unnamed` gives
the rest a name from where they sit (the group box and panel around them)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import QAbstractScrollArea, QGroupBox, QWidget

#: what a widget of each kind is called after its place ("Leaderboard table")
_KIND_WORDS = (("QTableView", "table"), ("QTreeView", "tree"), ("QListView", "list"),
               ("QScrollArea", "contents"))


def accessible_name(widget: QWidget) -> str:
    """The name a screen reader announces for ``widget`` (its own, its text, or its form
    label's), "" when there is none."""
    iface = QAccessible.queryAccessibleInterface(widget)
    return iface.text(QAccessible.Text.Name).strip() if iface is not None else ""


def takes_focus(widget: QWidget) -> bool:
    """True for a widget that the Tab key can reach (spin boxes count through their line
    edit, which is their focus proxy)."""
    return bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus) and widget.focusProxy() is None


def name_unnamed(root: QWidget, place: str) -> list[QWidget]:
    """Name each focusable widget under ``root`` that has no accessible name after its
    nearest group box (else ``place``, e.g. the panel's title) and its kind; returns them."""
    named = []
    for widget in root.findChildren(QWidget):
        if not takes_focus(widget) or accessible_name(widget) or widget.window() is not root.window():
            continue
        widget.setAccessibleName(f"{_place_of(widget, root) or place} {_kind_of(widget)}".strip())
        named.append(widget)
    return named


def _place_of(widget: QWidget, root: QWidget) -> str:
    parent = widget.parentWidget()
    while parent is not None and parent is not root:
        if isinstance(parent, QGroupBox) and parent.title():
            return parent.title().replace("&", "")
        parent = parent.parentWidget()
    return ""


def _kind_of(widget: QWidget) -> str:
    for base in type(widget).__mro__:
        for name, word in _KIND_WORDS:
            if base.__name__ == name:
                return word
    return "area" if isinstance(widget, QAbstractScrollArea) else ""
