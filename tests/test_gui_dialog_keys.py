"""The Batch and Train dialogs from the keyboard: Enter in a field presses Start (it opened
a folder picker), the focus starts on a field, and every field has a name a screen reader
can announce (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QLineEdit, QWidget

from sr_desktop.gui.accessible_names import accessible_name, takes_focus
from sr_desktop.gui.batch.dialog import BatchDialog
from sr_desktop.gui.train.dialog import TrainDialog

pytestmark = pytest.mark.gui


@pytest.fixture(params=["batch", "train"])
def dialog(request, qtbot, monkeypatch):
    pickers = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: pickers.append(a) or ""))
    made = BatchDialog() if request.param == "batch" else TrainDialog()
    qtbot.addWidget(made)
    made.pickers = pickers
    made.starts = []
    made.start_button.clicked.connect(lambda: made.starts.append(1))
    made.show()
    qtbot.waitExposed(made)
    return made


def _fields(dialog) -> list[QLineEdit]:
    return [e for e in dialog.findChildren(QLineEdit)
            if e.isVisibleTo(dialog) and e.isEnabled() and e.window() is dialog and takes_focus(e)]


def test_enter_in_any_field_presses_start_and_opens_no_folder_picker(dialog, qtbot):
    fields = _fields(dialog)
    assert len(fields) >= 3
    for field in fields:
        dialog.starts.clear()
        field.setFocus()
        qtbot.keyClick(field, Qt.Key.Key_Return)
        assert dialog.pickers == [], f"Enter in {accessible_name(field)!r} opened a folder picker"
        assert dialog.starts == [1], f"Enter in {accessible_name(field)!r} did not press Start"


def test_every_focusable_widget_has_a_name_and_the_focus_starts_on_a_field(dialog, qtbot):
    unnamed = [type(w).__name__ for w in dialog.findChildren(QWidget)
               if w.window() is dialog and takes_focus(w) and w.isVisibleTo(dialog) and not accessible_name(w)]
    assert unnamed == []
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None)
    assert QApplication.focusWidget().window() is dialog
    assert QApplication.focusWidget() is not dialog.options_scroll
