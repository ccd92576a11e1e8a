"""The main window's non-modal message strip: errors, notices and one optional action.

Every colour comes from the application palette (the system's light or dark scheme), read
when the bar paints, so it follows a scheme switched while the app runs; the level shows
as the style's standard icon, not as a colour of our own.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QStyle, QToolButton

from sr_desktop.gui.widgets import WrapLabel, muted_colour

#: the style's standard icon for each level
_ICONS = {"error": QStyle.StandardPixmap.SP_MessageBoxCritical,
          "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
          "info": QStyle.StandardPixmap.SP_MessageBoxInformation,
          "hint": QStyle.StandardPixmap.SP_MessageBoxInformation}
_ICON_SIZE = 16
_RADIUS = 4


class MessageBar(QFrame):
    """A one-line, non-modal message strip with a close button and an optional action
    button (e.g. "Batch export this folder…")."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self._icon = QLabel()
        self._icon.setFixedSize(QSize(_ICON_SIZE, _ICON_SIZE))
        self._label = WrapLabel()  # wraps inside long file names too
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action_button = QPushButton()
        self.action_button.setObjectName("messageAction")
        self.action_button.clicked.connect(self._run_action)
        self.action_button.hide()
        self._action: Callable[[], None] | None = None
        self.close_button = QToolButton()
        self.close_button.setObjectName("messageClose")
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss message")
        self.close_button.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self._icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self._label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(self.close_button)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        """Show ``text`` (level "error", "warning": a result shown to be distrusted, "info", or
        "hint": an info on what the action just tried needs, gone with the next action as an
        error is; the style's icon for it, and an error or a warning is framed in the palette's
        highlight colour); removes any action button."""
        icon = _ICONS.get(level, _ICONS["info"])
        self._icon.setPixmap(self.style().standardIcon(icon).pixmap(_ICON_SIZE, _ICON_SIZE))
        self.level = level
        self._label.setText(text)
        self.set_action(None)
        self.show()
        self.update()

    def paintEvent(self, event) -> None:
        palette = self.palette()
        # (Mid, a bevel colour, left an info bar without a visible edge on a dark palette)
        border = palette.color(QPalette.ColorRole.Highlight) if self.level in ("error", "warning") else \
            muted_colour(palette, QPalette.ColorRole.WindowText)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(border, 1.0))
        painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), _RADIUS, _RADIUS)

    def set_action(self, text: str | None, callback: Callable[[], None] | None = None) -> None:
        """Add a button to the message shown now (``text`` None removes it). Clicking it
        runs ``callback`` and dismisses the bar."""
        self._action = callback if text else None
        self.action_button.setText(text or "")
        self.action_button.setVisible(bool(text))

    def action(self) -> tuple[str, Callable[[], None]] | None:
        """(text, callback) of the action button shown now, or None."""
        return (self.action_button.text(), self._action) if self.action_text() else None

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
