"""Keys that the focused widget needs more than the window's shortcuts do.

The window has shortcuts on bare letters (R: region tool, K: play) and Ctrl+C (copy the
result). Qt gives a window shortcut precedence over a widget that does not claim the key,
and combo boxes, lists, tables and selectable labels do not: R on the model combo toggled
the region tool instead of jumping to "Real-ESRGAN…", and Ctrl+C on a selected error line
copied the upscaled image. This filter claims those keys for such a focused widget.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QLabel, QTableView, QWidget

#: widgets whose letter keys search their items (type-ahead)
_TYPE_AHEAD = (QComboBox, QAbstractItemView)


def widget_wants_key(widget: QWidget, event: QKeyEvent) -> bool:
    """True when `widget` (the focus widget) should get `event` before a window shortcut:
    a letter for a combo box or an item view, Ctrl+C for a label with selected text or a
    table with a current cell (the Leaderboard: it copies itself as text). The Images strip
    and the model list leave Ctrl+C to Copy result: their current item is a file or a
    model, not text the user chose to copy."""
    if event.matches(QKeySequence.StandardKey.Copy):
        if isinstance(widget, QLabel):
            return widget.hasSelectedText()
        return isinstance(widget, QTableView) and widget.currentIndex().isValid()
    modifiers = event.modifiers() & ~(Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.KeypadModifier)
    text = event.text()
    return (isinstance(widget, _TYPE_AHEAD) and modifiers == Qt.KeyboardModifier.NoModifier
            and len(text) == 1 and text.isprintable() and not text.isspace())


class FocusedWidgetKeys(QObject):
    """Application event filter: a focused widget that `widget_wants_key` claims its key."""

    def eventFilter(self, obj, event) -> bool:
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(obj, QWidget) and obj.hasFocus()
                and widget_wants_key(obj, event)):
            event.accept()
        return False
