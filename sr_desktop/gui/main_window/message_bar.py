"""The main window's non-modal message strip: errors, notices and one optional action."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton

_COLOURS = {"error": ("#fde8e8", "#b42318"), "info": ("#e8f0fd", "#1d4ed8")}


class MessageBar(QFrame):
    """A one-line, non-modal message strip with a close button and an optional action
    button (e.g. "Batch export this folder…")."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.setObjectName("messageAction")
        self.action_button.clicked.connect(self._run_action)
        self.action_button.hide()
        self._action: Callable[[], None] | None = None
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self._label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        """Show ``text`` (level "error": red, "info": blue); removes any action button."""
        bg, fg = _COLOURS.get(level, _COLOURS["info"])
        self.setStyleSheet(
            f"#messageBar {{ background: {bg}; border: 1px solid {fg}; border-radius: 4px; }}"
            f"#messageBar QLabel {{ color: {fg}; }}"
        )
        self.level = level
        self._label.setText(text)
        self.set_action(None)
        self.show()

    def set_action(self, text: str | None, callback: Callable[[], None] | None = None) -> None:
        """Add a button to the message shown now (``text`` None removes it). Clicking it
        runs ``callback`` and dismisses the bar."""
        self._action = callback if text else None
        self.action_button.setText(text or "")
        self.action_button.setVisible(bool(text))

    def action_text(self) -> str:
        """The action button's text ("" when there is none or the bar is hidden)."""
        return self.action_button.text() if self.isVisible() and self._action else ""

    def text(self) -> str:
        return self._label.text() if self.isVisible() else ""

    def clear(self) -> None:
        self._label.clear()
        self.level = ""
        self.set_action(None)
        self.hide()

    def _run_action(self) -> None:
        action = self._action
        self.clear()
        if action is not None:
            action()
