"""Holding Space on the compare view shows the original."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt

from sr_desktop.gui.compare.view import CompareView


class SpaceHoldFilter(QObject):
    """Event filter for ``compare``: Space pressed shows the original, released the result."""

    def __init__(self, compare: CompareView) -> None:
        super().__init__(compare)
        self._compare = compare

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            if event.key() == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
                if not event.isAutoRepeat():
                    self._compare.set_show_original(kind == QEvent.Type.KeyPress)
                return True
        return False
