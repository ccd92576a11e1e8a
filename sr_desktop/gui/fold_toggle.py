"""A flat arrow button that shows or folds a part of a panel or dialog, with a text that
says what is folded (e.g. "Options: Bicubic ×4 → album_upscaled"), cut with "…" to the room
it has: in full it widened its panel past the screen (a long output folder, a kernel named
after its image), which then scrolled sideways."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QSizePolicy, QToolButton, QWidget


class FoldToggle(QToolButton):
    """Shows ``target`` while checked, hides it otherwise; ``describe(shown)`` gives the
    button's text, asked by `refresh`: call it once what it sums up is built (so the
    button can be made before the target's widgets and come first in the Tab order),
    and again when that changes."""

    def __init__(self, target: QWidget, describe: Callable[[bool], str], what: str, parent=None) -> None:
        super().__init__(parent)
        self._target = target
        self._describe = describe
        self._what = what
        self._summary = ""
        self.setCheckable(True)
        self.setChecked(True)
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(what.capitalize())
        self.toggled.connect(self._apply)

    def set_shown(self, shown: bool) -> None:
        """Show or fold the target."""
        if self.isChecked() != shown:
            self.setChecked(shown)  # applies through ``toggled``
        else:
            self._apply(shown)

    def is_shown(self) -> bool:
        return self.isChecked()

    def refresh(self) -> None:
        """Ask ``describe`` for the text again."""
        self._apply(self.isChecked())

    def summary(self) -> str:
        """The whole text ``describe`` gave (`text()` is what fits)."""
        return self._summary

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), self.fontMetrics().horizontalAdvance("x") * 12), hint.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_text()

    def showEvent(self, event) -> None:  # (its text set while hidden is whole)
        super().showEvent(event)
        self._fit_text()

    def _apply(self, shown: bool) -> None:
        self._target.setVisible(shown)
        self.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self._summary = self._describe(shown)
        self._fit_text()

    def _fit_text(self) -> None:
        # the room beside the arrow: the button's width less the arrow and the margins
        room = self.width() - self.iconSize().width() - 3 * self.fontMetrics().horizontalAdvance("x")
        fitted = self._summary
        if self.isVisible() and room > 0:
            fitted = self.fontMetrics().elidedText(self._summary, Qt.TextElideMode.ElideRight, room)
        if fitted != self.text():
            self.setText(fitted)
        shown = self.isChecked()
        tip = ("Hide " if shown else "Show ") + self._what
        self.setToolTip(tip if fitted == self._summary else f"{self._summary}\n({tip})")
        # a screen reader reads the summary, whole, and what a press does (its fixed name "Show
        # the batch options" hid the summary, and said "Show" while they were shown)
        self.setAccessibleName(self._summary or self._what.capitalize())
        self.setAccessibleDescription(tip)
