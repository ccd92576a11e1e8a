"""The window against odd input: names too long for the file system, drops that do not
decode, saving over an existing file, and messages that outlive what they were about."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage

from sr_desktop.app.session import Session
from sr_desktop.engine.core.file_names import NAME_MAX, name_length
from sr_desktop.engine.imageio import SaveOptions, read_image
from sr_desktop.gui.main_window.save_dialog import SaveAsDialog
from tests.test_gui_main_window import make_window, open_and_wait, pick_bicubic, prompts, wait_idle, write_png

pytestmark = [
    pytest.mark.gui,
    pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning"),
]
__all__ = ["make_window", "prompts"]  # fixtures used by the tests below

TOO_LONG = "y" * 300  # one name, past the 255 bytes file systems take


def _drop_mime(window, mime: QMimeData) -> bool:
    enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QGuiApplication.sendEvent(window, enter)
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QGuiApplication.sendEvent(window, event)
    return event.isAccepted()


def test_a_dropped_image_that_does_not_decode_is_one_line(make_window):
    window = make_window()
    mime = QMimeData()
    mime.setImageData(QImage())  # what another program's undecodable image bytes arrive as
    _drop_mime(window, mime)
    assert window.message_bar.text() == "The dropped image could not be read."
    assert window.image is None


def test_opening_a_name_too_long_is_listed_with_the_reason(make_window, tmp_path, qtbot):
    window = make_window()
    good = write_png(tmp_path / "good.png", 24, 16)
    assert window.open_paths([tmp_path / f"{TOO_LONG}.png", good])
    wait_idle(qtbot, window)
    assert window.image is not None and window.image.path == good
    assert "File name too long" in window.opener.batch.details()


def test_a_fifo_or_a_broken_link_named_like_an_image_is_refused_without_opening_it(make_window, tmp_path, qtbot):
    """A FIFO named x.png froze the whole window for good: the strip's thumbnail reader
    opened it, waiting for a writer while holding the interpreter's lock. A broken link
    was "file not found" where the command line says what it is."""
    import os

    from sr_desktop.gui.main_window.thumbnails import decode_thumbnail

    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    (tmp_path / "dangling.png").symlink_to(tmp_path / "gone.png")
    assert "not a regular file" in decode_thumbnail(fifo).error  # (returns: nothing opened)
    window = make_window()
    good = write_png(tmp_path / "good.png", 24, 16)
    assert window.open_paths([fifo, tmp_path / "dangling.png", good])
    wait_idle(qtbot, window)
    assert window.image is not None and window.image.path == good
    details = window.opener.batch.details()
    assert "fifo.png" in details and "not a regular file" in details
    assert "symlink to a missing file" in details


def test_a_new_job_clears_an_earlier_jobs_error(make_window, tmp_path, qtbot):
    window = make_window()
    open_and_wait(qtbot, window, [write_png(tmp_path / "tiny.png", 5, 5)])
    kernel = np.full((5, 5), 1 / 25)
    window.upscale_with_kernel(kernel, 2)  # ZSSR needs at least 8×8: fails at once
    wait_idle(qtbot, window)
    assert "too small" in window.message_bar.text()
    pick_bicubic(window)
    window.start_upscale()
    wait_idle(qtbot, window)
    assert window.result is not None
    assert window.message_bar.text() == ""  # not the ZSSR error above the bicubic result


def test_the_kernel_panel_status_is_cleared_for_another_image(make_window, tmp_path, qtbot):
    window = make_window()
    panel = window.kernel_panel
    panel.status_label.setText("Failed: image too small for kernel estimation")
    open_and_wait(qtbot, window, [write_png(tmp_path / "other.png", 120, 100)])
    assert panel.status_label.text() == ""


def test_the_suggested_name_fits_the_file_system():
    session = Session()
    stem = "holiday photo " + "é" * 118  # a legal 254-byte name
    assert name_length(stem + ".png") == 254
    session.image = read_image_stub(Path(f"/photos/{stem}.png"))
    session.result = type("R", (), {"model": "realesrgan-x4plus", "scale": 4, "variant": None})()
    suggested = session.suggested_result_path("png", Path("/tmp"))
    assert name_length(suggested.name) <= NAME_MAX
    assert suggested.name.endswith("_x4_realesrgan-x4plus.png") and suggested.name.startswith("holiday photo é")


def read_image_stub(path: Path):
    return type("I", (), {"path": path})()


class _Answers:
    def __init__(self, replace: bool):
        self.replace, self.asked, self.problems = replace, [], []


def _dialog(qtbot, suggested: Path, fmt: str, answers: _Answers, protect=()) -> SaveAsDialog:
    dialog = SaveAsDialog(suggested, SaveOptions(format=fmt), protect=protect)
    qtbot.addWidget(dialog)
    dialog._ask_replace = lambda path: answers.asked.append(path) or answers.replace
    dialog._show_problem = answers.problems.append
    return dialog


def test_save_as_asks_before_replacing_a_file_the_name_field_names(qtbot, tmp_path):
    existing = write_png(tmp_path / "photo_x2_bicubic.png", 8, 8)
    before = existing.read_bytes()
    no = _Answers(replace=False)
    dialog = _dialog(qtbot, existing, "png", no)
    dialog.accept()
    assert no.asked == [existing] and dialog.result() != SaveAsDialog.DialogCode.Accepted
    assert existing.read_bytes() == before
    yes = _Answers(replace=True)
    dialog = _dialog(qtbot, existing, "png", yes)
    dialog.accept()
    assert yes.asked == [existing] and dialog.result() == SaveAsDialog.DialogCode.Accepted
    # the file picker asked already: not a second time, unless the name was edited after it
    picked = _Answers(replace=False)
    dialog = _dialog(qtbot, tmp_path / "other.png", "png", picked)
    dialog._replace_confirmed = str(existing)
    dialog.path_edit.setText(str(existing))
    dialog.accept()
    assert picked.asked == [] and dialog.result() == SaveAsDialog.DialogCode.Accepted


def test_save_as_refuses_a_name_of_another_format_and_completes_a_bare_one(qtbot, tmp_path):
    answers = _Answers(replace=False)
    dialog = _dialog(qtbot, tmp_path / "x.png", "png", answers)
    dialog.path_edit.setText(str(tmp_path / "x.jpg"))  # typed after choosing PNG
    dialog.accept()
    assert dialog.result() != SaveAsDialog.DialogCode.Accepted
    assert answers.problems == ["x.jpg is a JPEG name but the format is PNG: change the name or the format."]
    dialog.path_edit.setText(str(tmp_path / "result.v2"))
    dialog.accept()
    assert dialog.result() == SaveAsDialog.DialogCode.Accepted
    path, options = dialog.choice()
    assert path == tmp_path / "result.v2.png" and options.format == "png"
    long_name = _dialog(qtbot, tmp_path / f"{TOO_LONG}.png", "png", answers)
    long_name.accept()
    assert long_name.result() != SaveAsDialog.DialogCode.Accepted
    assert "File name too long" in answers.problems[-1]


def test_save_as_refuses_a_bare_name_too_long_with_its_suffix_and_the_opened_image(qtbot, tmp_path):
    """A 253-byte name without suffix became 257 bytes with ".png": an uncaught OSError, the
    dialog silent. The opened image's name was asked "Replace?" and then refused by the save."""
    answers = _Answers(replace=True)
    dialog = _dialog(qtbot, tmp_path / "x.png", "png", answers)
    dialog.path_edit.setText(str(tmp_path / ("a" * 253)))
    dialog.accept()
    assert dialog.result() != SaveAsDialog.DialogCode.Accepted
    assert answers.problems and "File name too long" in answers.problems[-1]
    opened = write_png(tmp_path / "photo.png", 8, 8)
    dialog = _dialog(qtbot, tmp_path / "photo_x2.png", "png", answers, protect=(opened,))
    for typed in (str(opened), "photo", "./photo.png"):
        dialog.path_edit.setText(typed)
        dialog.accept()
        assert dialog.result() != SaveAsDialog.DialogCode.Accepted, typed
        assert answers.problems[-1] == "photo.png is the image you opened: save the result under another name."
    assert answers.asked == []


def test_save_as_puts_a_bare_name_beside_the_suggestion_and_a_folder_gets_the_suggested_name(
        qtbot, tmp_path, monkeypatch):
    """A bare name went to the app's working folder, which nothing named; a folder typed or
    pasted into File was saved as "<folder>.png" beside it."""
    monkeypatch.chdir(tmp_path)  # (the working folder: nothing is to land here)
    home = tmp_path / "photos"
    exports = home / "exports"
    exports.mkdir(parents=True)
    suggested = home / "photo_x4_span.png"
    for typed, expected in (("final_print", home / "final_print.tif"),
                            (str(exports), exports / "photo_x4_span.tif"),
                            (str(exports) + "/", exports / "photo_x4_span.tif"),
                            ("exports", exports / "photo_x4_span.tif")):
        answers = _Answers(replace=False)
        dialog = _dialog(qtbot, suggested, "tiff", answers)
        dialog.path_edit.setText(typed)
        dialog.accept()
        assert answers.problems == [] and dialog.result() == SaveAsDialog.DialogCode.Accepted, typed
        assert dialog.choice()[0] == expected, typed
    assert list(tmp_path.glob("*.tif*")) == []


def test_browse_lists_every_suffix_of_the_format(qtbot, tmp_path, monkeypatch):
    """The TIFF filter was "*.tiff": the app's own .tif saves were hidden in the file picker."""
    seen = []
    monkeypatch.setattr("sr_desktop.gui.main_window.save_dialog.QFileDialog.getSaveFileName",
                        lambda *args: seen.append(args[3]) or ("", ""))
    dialog = _dialog(qtbot, tmp_path / "x.tiff", "tiff", _Answers(replace=False))
    dialog._browse()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("jpg"))
    dialog._browse()
    assert "*.tif" in seen[0] and "*.tiff" in seen[0] and "*.jpeg" in seen[1] and "*.jpg" in seen[1]


def test_another_format_changes_only_an_image_suffix(qtbot, tmp_path):
    """Picking another format replaced the name's last dotted part: "holiday v1.5" became
    "holiday v1.webp", "scan.2024.05.01" "scan.2024.05.jpg"."""
    dialog = _dialog(qtbot, tmp_path / "x.png", "png", _Answers(replace=False))
    for typed, fmt, expected in (("holiday v1.5", "webp", "holiday v1.5.webp"),
                                 ("scan.2024.05.01", "jpg", "scan.2024.05.01.jpg"),
                                 ("photo.png", "webp", "photo.webp")):
        dialog.path_edit.setText(str(tmp_path / typed))
        dialog.format_combo.setCurrentIndex(dialog.format_combo.findData(fmt))
        assert dialog.path_edit.text() == str(tmp_path / expected)


def test_saving_to_a_name_too_long_is_one_line(make_window, prompts, tmp_path, qtbot):
    window = make_window()
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 16)])
    pick_bicubic(window)
    window.start_upscale()
    wait_idle(qtbot, window)
    prompts.save_target = (tmp_path / f"{TOO_LONG}.png", SaveOptions(format="png"))
    assert window.saver.save_as() is None
    assert "File name too long" in window.message_bar.text()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png") == ["a.png"]
    assert read_image(tmp_path / "a.png").width == 24


def test_batch_export_while_a_batch_runs_raises_that_dialog(make_window, tmp_path, qtbot, monkeypatch):
    """Ctrl+B during a batch opened a second dialog: two batches into one folder, the second
    reporting the first one's outputs as failures ("file exists")."""
    window = make_window()
    first = window.open_batch_dialog(tmp_path)
    qtbot.addWidget(first)
    monkeypatch.setattr(first, "is_running", lambda: True)
    assert window.open_batch_dialog(tmp_path) is first
    monkeypatch.setattr(first, "is_running", lambda: False)
    second = window.open_batch_dialog(tmp_path)  # a finished batch's dialog is not reused
    qtbot.addWidget(second)
    assert second is not first


def test_qt_image_decoder_messages_go_to_the_log_not_the_terminal(capsys, caplog):
    from types import SimpleNamespace

    from PySide6.QtCore import QtMsgType

    from sr_desktop.gui.app import _qt_message_handler

    with caplog.at_level("DEBUG", logger="sr_desktop.gui.qt"):
        # a file the strip cannot decode: the window shows a badge and the drop's summary
        _qt_message_handler(QtMsgType.QtWarningMsg, SimpleNamespace(category="qt.gui.imageio"),
                            "QImageIOHandler: Rejecting image as it exceeds the current allocation limit")
    assert capsys.readouterr().err == "" and "Rejecting image" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="sr_desktop.gui.qt"):
        _qt_message_handler(QtMsgType.QtWarningMsg, SimpleNamespace(category="default"), "something else")
    assert capsys.readouterr().err == "Qt: something else\n"
    assert "Qt: something else" in caplog.text  # the log too: a window from a desktop menu has no terminal


def test_save_as_offers_gif_and_is_wide_enough_to_show_a_path(qtbot, tmp_path):
    """An animated GIF's result could not be saved as GIF: the dialog's formats lacked it (its
    suggested "gif" fell back to PNG and "out.gif" was refused as a GIF name for PNG), and the
    dialog opened at 282 px, showing the end of the file name only."""
    answers = _Answers(replace=True)
    dialog = _dialog(qtbot, tmp_path / "anim_x2_bicubic.gif", "gif", answers)
    assert dialog.format_combo.currentData() == "gif"
    assert dialog.path_edit.text().endswith("anim_x2_bicubic.gif")
    dialog.accept()
    assert answers.problems == [] and dialog.result() == SaveAsDialog.DialogCode.Accepted
    assert dialog.width() >= 500 or dialog.width() >= dialog.screen().availableGeometry().width() - 16


HTML_NAME = "<font color=red size=7>HACKED</font>"


def test_names_that_look_like_html_are_shown_as_they_are(make_window, tmp_path, qtbot):
    """A downloaded model or image named like HTML was drawn as HTML: "<font …>HACKED.pth"
    big and red in the model's description and tooltip, a model named so in the result line,
    the status bar and the Metrics panel; "<i>broken.png" lost its "<i>" in the message bar."""
    import dataclasses

    from PySide6.QtWidgets import QLabel

    from sr_desktop.engine.models.registry import list_models
    from sr_desktop.gui.main_window.model_picker import ModelPicker

    bicubic = next(s for s in list_models() if s.id == "bicubic")
    odd = dataclasses.replace(bicubic, id="custom-odd", name=HTML_NAME, use="",  # (as an added model's)
                              description=f"user model added from /tmp/{HTML_NAME}.pth")
    picker = ModelPicker([bicubic, odd])
    qtbot.addWidget(picker)
    assert picker.set_model_id("custom-odd")
    description = picker.description.text()
    assert "<font" not in description and "&lt;font color=red size=7&gt;" in description
    tooltip = picker.item_for("custom-odd").toolTip()
    assert "<font" not in tooltip and "&lt;font" in tooltip

    window = make_window()
    broken = tmp_path / "<i>broken.png"
    broken.write_bytes(b"not a png")
    window.open_paths([broken])
    qtbot.waitUntil(lambda: "broken.png" in window.message_bar.text(), timeout=5000)
    shown = [w for w in window.findChildren(QLabel) if "<i>broken.png" in w.text()]
    assert shown and all(w.textFormat() == Qt.TextFormat.PlainText for w in shown)


def test_the_files_not_opened_box_and_the_strip_show_names_as_they_are(make_window, tmp_path, qtbot):
    """The "Files not opened" box drew "<font color=red size=7>HACKED.png" big and red; the
    Images strip's tooltips took such a path for HTML too."""
    from PySide6.QtGui import QTextDocumentFragment

    window = make_window()
    good = write_png(tmp_path / "ok.png", 12, 10)
    name = "<font color=red size=7>HACKED.png"  # (a file name has no "/")
    broken = tmp_path / name
    broken.write_bytes(b"not a png")
    window.open_paths([good, broken])
    qtbot.waitUntil(lambda: window.image is not None and not window.filmstrip.thumbnails_pending(), timeout=10000)
    qtbot.waitUntil(lambda: window.opener.batch is not None and bool(window.opener.batch.failures), timeout=10000)
    box = window.opener.show_failure_details()
    qtbot.addWidget(box)
    assert box.textFormat() == Qt.TextFormat.PlainText and name in box.text()
    tips = [window.filmstrip.item(i).toolTip() for i in range(window.filmstrip.count())]
    assert any(name in QTextDocumentFragment.fromHtml(tip).toPlainText() for tip in tips)


def test_the_unsaved_result_question_shows_the_name_as_it_is(qtbot, monkeypatch):
    """It drew "<font color=red size=7>HACKED.png has not been saved" big and red."""
    from PySide6.QtWidgets import QMessageBox

    from sr_desktop.gui.main_window.saving import ResultSaver

    seen = []

    def answer(box):
        seen.append((box.textFormat(), box.text()))
        box.button(QMessageBox.StandardButton.Discard).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", answer)
    saver = type("Saver", (), {"parent": None})()
    question = "The upscaled result of <font color=red size=7>HACKED.png has not been saved. Save it first?"
    assert ResultSaver._ask_discard_dialog(saver, question) == "discard"
    assert seen == [(Qt.TextFormat.PlainText, question)]
