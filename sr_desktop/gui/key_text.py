"""Keys named in the window's texts (tooltips, hints) as the platform writes them: "Ctrl+O"
on Linux and Windows, "⌘O" on macOS, where Qt's Ctrl is the Command key — a tip saying
Ctrl there sent Mac users to the Control key, which does nothing. The keyboard-shortcuts
sheet writes its keys the same way (`QKeySequence.SequenceFormat.NativeText`)."""

from __future__ import annotations

import re

from PySide6.QtGui import QKeySequence

#: a "Ctrl+…" key named in a text: its modifiers and one key
_CTRL_KEY = re.compile(r"Ctrl\+(?:(?:Shift|Alt)\+)*(?:Return|Enter|[A-Z0-9=+\-](?![A-Za-z]))")


def native_key(key: str) -> str:
    """``key`` ("Ctrl+Shift+S") as this platform writes it."""
    return QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText) or key


def with_native_keys(text: str) -> str:
    """``text`` with every "Ctrl+…" key in it written as this platform writes it (`native_key`)."""
    return _CTRL_KEY.sub(lambda found: native_key(found.group(0)), text)
