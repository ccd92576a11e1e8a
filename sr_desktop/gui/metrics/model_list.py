"""The evaluate mode's model checklist: readable names elided in the middle (the full name
and id in the tooltip), a filter, and the number checked.

A filtered-out model keeps its check: the evaluation runs every checked model, and the
count beside the filter says how many that is.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyledItemDelegate,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.gui.widgets import plain_tooltip, show_as_hint

MODEL_ROLE = Qt.ItemDataRole.UserRole
VISIBLE_ROWS = 5


class _ViewportWideDelegate(QStyledItemDelegate):
    """Asks for no width of its own, so a list row is as wide as the viewport and a long
    name is elided (in the view's elide mode) instead of widening the row past it."""

    def sizeHint(self, option, index) -> QSize:
        return QSize(0, super().sizeHint(option, index).height())


def model_tooltip(model_id: str, name: str) -> str:
    """The full name, and the id when it differs."""
    return name if name == model_id else f"{name}\n{model_id}"


def matches_filter(text: str, model_id: str, name: str) -> bool:
    """True if every word of ``text`` is in the name or the id (case-insensitive)."""
    haystack = f"{name} {model_id}".casefold()
    return all(word in haystack for word in text.casefold().split())


class ModelChecklist(QWidget):
    """Filter line, checked count and the checkable list of (id, name) models."""

    checkedChanged = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("modelFilter")
        self.filter_edit.setPlaceholderText("Filter models")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setAccessibleName("Filter the models to evaluate")
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.count_label = QLabel(self)
        show_as_hint(self.count_label)  # secondary text, in the palette's disabled colour
        self.list = QListWidget(self)
        self.list.setObjectName("evaluateModels")
        self.list.setAccessibleName("Models to evaluate")
        self.list.setToolTip("Models to compare")
        self.list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setItemDelegate(_ViewportWideDelegate(self.list))
        self.list.itemChanged.connect(self._on_item_changed)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.filter_edit, 1)
        top.addWidget(self.count_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.list)
        self._names: dict[str, str] = {}
        self._update_count()

    def set_models(self, models: list[tuple[str, str]]) -> None:
        """Refill with (id, name) pairs; checked ids stay checked, the filter applies."""
        checked = set(self.checked_models())
        self.list.blockSignals(True)
        self.list.clear()
        self._names = {}
        for model_id, name in models:
            self._names[model_id] = name
            item = QListWidgetItem(name)
            item.setData(MODEL_ROLE, model_id)
            item.setToolTip(plain_tooltip(model_tooltip(model_id, name)))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if model_id in checked else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.blockSignals(False)
        rows = max(2, min(self.list.count(), VISIBLE_ROWS))
        row_height = self.list.sizeHintForRow(0) if self.list.count() else 18
        self.list.setFixedHeight(rows * row_height + 2 * self.list.frameWidth() + 2)
        self._apply_filter(self.filter_edit.text())

    def names(self) -> dict[str, str]:
        """Model id -> display name."""
        return dict(self._names)

    def checked_models(self) -> list[str]:
        """Ids of the checked models (shown or filtered out), in list order."""
        return [item.data(MODEL_ROLE) for item in self._items() if item.checkState() == Qt.CheckState.Checked]

    def set_checked_models(self, model_ids) -> None:
        """Check exactly the models in ``model_ids``."""
        wanted = set(model_ids)
        self.list.blockSignals(True)
        for item in self._items():
            on = item.data(MODEL_ROLE) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.list.blockSignals(False)
        self._update_count()

    def shown_models(self) -> list[str]:
        """Ids of the models the filter lets through, in list order."""
        return [item.data(MODEL_ROLE) for item in self._items() if not item.isHidden()]

    def _items(self) -> list[QListWidgetItem]:
        return [self.list.item(i) for i in range(self.list.count())]

    def _apply_filter(self, text: str) -> None:
        for item in self._items():
            model_id = item.data(MODEL_ROLE)
            item.setHidden(not matches_filter(text, model_id, self._names.get(model_id, model_id)))
        self._update_count()

    def _on_item_changed(self, _item) -> None:
        self._update_count()
        self.checkedChanged.emit()

    def _update_count(self) -> None:
        checked = len(self.checked_models())
        shown = len(self.shown_models())
        text = f"{checked} checked"
        if shown < self.list.count():
            text += f" · {shown} of {self.list.count()} shown"
        self.count_label.setText(text)
