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


def test_browse_buttons_say_what_they_browse_for_and_tab_leaves_the_tables(dialog):
    """A screen reader read four "Browse…" buttons alike in the Train dialog; Tab could not
    leave the batch's table of files (Qt's tables move Tab between cells): the buttons
    beyond it were out of the keyboard's reach."""
    from PySide6.QtWidgets import QPushButton, QTableWidget

    browse = [accessible_name(b) for b in dialog.findChildren(QPushButton) if b.text() == "Browse…"]
    assert len(browse) >= 2 and len(set(browse)) == len(browse) and all(n.startswith("Browse for ") for n in browse)
    assert all(not t.tabKeyNavigation() for t in dialog.findChildren(QTableWidget))


def test_the_leaderboard_the_shortcuts_sheet_and_save_as_let_tab_go_and_name_their_fields(qtbot, tmp_path):
    """Tab stayed inside the leaderboard and the shortcuts sheet's table for good; Save As's
    File and Quality (rows made of layouts) had no names ("text field", "spin box 90")."""
    from pathlib import Path

    from PySide6.QtGui import QAction

    from sr_desktop.engine.imageio import SaveOptions
    from sr_desktop.gui.main_window.save_dialog import SaveAsDialog
    from sr_desktop.gui.main_window.shortcuts_sheet import ShortcutsSheet
    from sr_desktop.gui.metrics.leaderboard import LeaderboardTable

    board = LeaderboardTable()
    sheet = ShortcutsSheet([QAction("Open")])
    save = SaveAsDialog(Path(tmp_path / "a.png"), SaveOptions(format="jpg"))
    for widget in (board, sheet, save):
        qtbot.addWidget(widget)
    assert not board.tabKeyNavigation() and not sheet.table.tabKeyNavigation()
    assert accessible_name(save.path_edit) == "File" and accessible_name(save.quality_spin) == "Quality"


def test_a_long_jobs_end_is_announced_to_a_screen_reader(qtbot, tmp_path, monkeypatch):
    """A batch's or a training's end was said only in a status label without the focus,
    which a screen reader does not read out: it is sent as an announcement too."""
    from types import SimpleNamespace

    from PIL import Image as PILImage

    from sr_desktop.gui import widgets

    said: list[str] = []
    monkeypatch.setattr(widgets, "QAccessible", SimpleNamespace(isActive=lambda: True))
    monkeypatch.setattr(widgets, "send_announcement", lambda event: said.append(event.message()))
    (tmp_path / "in").mkdir()
    PILImage.new("RGB", (16, 16)).save(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "broken.png").write_bytes(b"not a png")
    batch = BatchDialog(input_dir=str(tmp_path / "in"))
    qtbot.addWidget(batch)
    batch.output_edit.setText(str(tmp_path / "out"))
    batch.picker.set_model_id("bicubic")
    with qtbot.waitSignal(batch.batchFinished, timeout=60_000):
        assert batch.start()
    assert said[-1].startswith("Finished: 1 failed; the table says why. 1 upscaled, 0 skipped")
    # said with the dialog's names, as the summary shows it ("run again with --existing skip")
    from sr_desktop.engine.batch.runner import BatchResult

    monkeypatch.setattr(BatchResult, "summary", lambda self: "cancelled: run again with --existing skip")
    with qtbot.waitSignal(batch.batchFinished, timeout=60_000):
        assert batch.start()
    assert said[-1].endswith("cancelled: run again with “Existing outputs” skip")
    train = TrainDialog()
    qtbot.addWidget(train)
    train.data_edit.setText(str(tmp_path / "missing"))
    train.out_edit.setText(str(tmp_path / "run"))
    with qtbot.waitSignal(train.queue.jobEnded, timeout=60_000):
        assert train.start()
    assert said[-1].startswith("Error: ") and "missing" in said[-1] and "<b>" not in said[-1]
