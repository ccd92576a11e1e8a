"""The batch export dialog drives a batch to completion (pytest-qt, offscreen)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt, QUrl

from sr_desktop.app.upscale_jobs import run_batch_job
from sr_desktop.gui.batch import dialog as batch_dialog
from sr_desktop.gui.batch.dialog import BatchDialog

pytestmark = pytest.mark.gui


def save_image(path: Path, size=(24, 16), seed=0) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


class FakeDesktopServices:
    opened: list[str] = []

    @classmethod
    def openUrl(cls, url):
        cls.opened.append(url.toLocalFile())
        return True


@pytest.fixture
def hold_from_third_file(monkeypatch):
    """From the third image on, the engine waits for the batch to be cancelled before
    upscaling (which then raises Cancelled): cancel tests cannot race the batch's end."""
    from sr_desktop.engine.pipeline import upscale

    real = upscale.upscale_image
    calls = []

    def gated(image, options=None, progress=None, cancel=None, model=None):
        calls.append(image.path)
        if len(calls) >= 3 and cancel is not None:
            deadline = time.monotonic() + 30
            while not cancel.cancelled and time.monotonic() < deadline:
                time.sleep(0.01)
        return real(image, options, progress, cancel, model)

    monkeypatch.setattr(upscale, "upscale_image", gated)
    return calls


def statuses(dialog: BatchDialog) -> dict[str, str]:
    table = dialog.table
    return {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}


def test_dialog_runs_a_batch_and_offers_the_results(qtbot, tmp_path: Path, monkeypatch):
    src, out = tmp_path / "album", tmp_path / "album_out"
    save_image(src / "a.png", seed=1)
    save_image(src / "b.jpg", seed=2)
    save_image(src / "sub" / "c.png", seed=3)
    (src / "broken.png").write_bytes(b"not a png")
    (src / "notes.txt").write_text("x")
    monkeypatch.setattr(batch_dialog, "QDesktopServices", FakeDesktopServices)
    FakeDesktopServices.opened = []

    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.isModal()
    assert dialog.output_edit.text() == str(tmp_path / "album_upscaled")
    dialog.output_edit.setText(str(out))
    assert dialog.picker.set_model_id("bicubic")
    assert dialog.picker.set_scale(2)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    assert not dialog.open_report_button.isEnabled()

    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000) as finished:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert dialog.is_running() or dialog.result is not None
    result = finished.args[0]

    assert result.exit_code == 1  # broken.png failed
    assert statuses(dialog) == {
        "a.png": "ok", "b.jpg": "ok", "broken.png": "failed", "notes.txt": "skipped", "sub/c.png": "ok",
    }
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "a_x2_bicubic.png", "b_x2_bicubic.png", "sub/c_x2_bicubic.png"]
    assert "3 upscaled" in dialog.summary_label.text() and "1 failed" in dialog.summary_label.text()
    assert dialog.status_label.text() == "Finished: 1 failed; the table says why."  # ("Done.")
    outputs = {dialog.table.item(r, 0).text(): dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())}
    assert outputs["a.png"] == "a_x2_bicubic.png" and outputs["broken.png"] == ""  # never written: no name
    assert dialog.progress_bar.value() == 5
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()

    qtbot.mouseClick(dialog.open_output_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.open_report_button, Qt.MouseButton.LeftButton)
    assert FakeDesktopServices.opened == [str(out), str(result.report_path)]
    assert result.report_path.is_file()


def test_dialog_cancel_stops_the_batch(qtbot, tmp_path: Path, hold_from_third_file):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(6):
        save_image(src / f"img{i:02d}.png", size=(64, 64), seed=i)
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.output_edit.setText(str(out))
    dialog.picker.set_model_id("bicubic")
    dialog.picker.set_scale(2)
    dialog.picker.set_tile(16)
    assert dialog.start()
    qtbot.waitUntil(lambda: list(statuses(dialog).values())[:2] == ["ok", "ok"], timeout=60_000)
    assert dialog.is_running()
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000) as finished:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    result = finished.args[0]
    assert result.cancelled
    assert sorted(p.name for p in out.glob("img*")) == ["img00_x2_bicubic.png", "img01_x2_bicubic.png"]
    assert result.totals.ok == 2 and statuses(dialog)["img02.png"] == "cancelled"
    # the report's own count: one file stopped in its upscale, three never reached
    assert result.totals.extra["interrupted"] == 1 and result.totals.extra["not_started"] == 3
    # every file has its row: the three never reached said so (they had none)
    assert statuses(dialog) == {"img00.png": "ok", "img01.png": "ok", "img02.png": "cancelled",
                                "img03.png": "not started", "img04.png": "not started", "img05.png": "not started"}
    assert (dialog.progress_bar.value(), dialog.progress_bar.maximum()) == (2, 6)
    assert "cancelled" in dialog.summary_label.text()


def test_a_cancel_before_any_file_says_cancelled(qtbot, tmp_path: Path, monkeypatch, capfd):
    """Cancelled while the model was measured on first use (before any file): the dialog said
    in bold "the batch stopped without a result", and the command line "error: cancelled"
    with status 2 (a usage error) and no report."""
    from sr_desktop.cli.main import main
    from sr_desktop.engine.batch import runner
    from sr_desktop.engine.core.errors import Cancelled

    def cancelled_at_the_measurement(*args, **kwargs):
        raise Cancelled("cancelled")

    monkeypatch.setattr(runner, "run_batch", cancelled_at_the_measurement)
    src = tmp_path / "in"
    save_image(src / "a.png", size=(16, 16))
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--no-progress"]) == 130
    assert capfd.readouterr().err.strip() == "sr-desktop: cancelled before any file was upscaled"
    monkeypatch.setattr(batch_dialog, "run_batch_job", lambda *a, **k: cancelled_at_the_measurement())
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.picker.set_model_id("bicubic")
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=30_000):
        assert dialog.start()
    assert dialog.status_label.text() == "Cancelled before any file was upscaled." and not dialog.is_running()


def test_dialog_refuses_to_start_without_folders(qtbot):
    dialog = BatchDialog()
    qtbot.addWidget(dialog)
    assert not dialog.start()
    assert "choose an input folder" in dialog.status_label.text()
    assert dialog.queue.running is None and not dialog.is_running()


def test_dialog_reports_a_batch_that_cannot_start(qtbot, tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png")
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(src / "inside"))  # inside the input, not allowed
    with qtbot.waitSignal(dialog.batchFailed, timeout=30_000) as failed:
        assert dialog.start()
    assert "inside the input folder" in failed.args[0]
    assert "inside the input folder" in dialog.status_label.text()
    assert dialog.start_button.isEnabled()
    # the bar does not stay busy, the options the error is about are in view, and the
    # message names the dialog's checkbox rather than the command line's flag
    assert dialog.progress_bar.maximum() > 0 and dialog.progress_bar.text() == "no files yet"
    assert dialog.options_shown()
    assert "“Allow the output folder inside the input folder”" in dialog.status_label.text()
    assert "--allow-inside-input" not in dialog.status_label.text()


def test_the_batch_dialog_names_its_pickers_fields_in_engine_messages():
    """It showed "--backend openvino runs network models …": its field map had no entry for
    the picker's flags (--backend, --device, --precision, --tile, --variant)."""
    from sr_desktop.gui.dialog_words import in_dialog_words

    message = ("--backend openvino cannot run bicubic: it is a resampling method; try a smaller --tile "
               "or --precision fp32 on another --device, --variant x, --kernel k.npy")
    said = in_dialog_words(message, batch_dialog.BATCH_FIELDS)
    assert said == ("“Backend” openvino cannot run bicubic: it is a resampling method; try a smaller “Tile” or "
                    "“Precision” fp32 on another “Device”, “Variant” x, “Blur kernel” k.npy")


def test_closing_and_deleting_the_dialog_mid_batch_is_safe(qtbot, tmp_path: Path, hold_from_third_file,
                                                           monkeypatch):
    from sr_desktop.gui import worker

    results = []

    def recorded(job, progress, cancel):
        results.append(run_batch_job(job, progress, cancel))
        return results[-1]

    monkeypatch.setattr(batch_dialog, "run_batch_job", recorded)
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(6):
        save_image(src / f"img{i:02d}.png", size=(64, 64), seed=i)
    dialog = BatchDialog(input_dir=str(src))
    dialog.output_edit.setText(str(out))
    dialog.picker.set_model_id("bicubic")
    dialog.picker.set_scale(2)
    dialog.picker.set_tile(16)
    assert dialog.start()
    job = dialog.queue.running
    qtbot.waitUntil(lambda: len(hold_from_third_file) >= 3, timeout=60_000)
    dialog.ask_stop_batch = lambda *_args, **_kwargs: True  # ("Stop the batch")
    dialog.close()  # cancels
    assert job.cancel.cancelled
    dialog.deleteLater()
    del dialog
    qtbot.wait(50)  # the dialog and its queue are gone; the batch's thread goes on
    assert worker.wait_for_running_jobs(60)
    assert len(results) == 1 and results[0].cancelled
    assert len(list(out.glob("img*.png"))) == 2


def test_the_running_batch_gets_the_room(qtbot, tmp_path: Path, monkeypatch):
    """Issue 19, item 9: options fold while it runs, many rows with outputs elided in the
    middle, one progress bar, links to the output folder and the report."""
    from PySide6.QtWidgets import QProgressBar

    src, out = tmp_path / "album", tmp_path / "album_out"
    for i in range(13):
        save_image(src / f"holiday_2024_a_long_file_name_{i:02d}.png", seed=i)
    (src / "broken.png").write_bytes(b"not a png")
    monkeypatch.setattr(batch_dialog, "QDesktopServices", FakeDesktopServices)
    FakeDesktopServices.opened = []
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.height() <= 700  # fits a 1366×768 screen
    dialog.output_edit.setText(str(out))
    assert dialog.picker.set_model_id("bicubic") and dialog.picker.set_scale(2)
    assert dialog.options_box.isVisible()
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000) as finished:
        assert dialog.start()
        assert not dialog.options_box.isVisible()  # folded as soon as it starts
        assert "Bicubic ×2" in dialog.options_toggle.summary() and str(out) in dialog.options_toggle.summary()
    result = finished.args[0]
    assert dialog.findChildren(QProgressBar) == [dialog.progress_bar]  # no second, empty bar

    table = dialog.table
    assert table.rowCount() == 14
    last = table.rowViewportPosition(13) + table.rowHeight(13)
    # all 14 rows in view (measured: they end at 280 of 506 px; the old dialog showed 4)
    assert last <= table.viewport().height()
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle and not table.wordWrap()
    row = next(r for r in range(14) if table.item(r, 0).text().endswith("_07.png"))
    output = table.item(row, 2)
    assert output.text() == "holiday_2024_a_long_file_name_07_x2_bicubic.png"  # relative to the output
    assert output.toolTip() == str(out / output.text())

    summary = dialog.summary_label.text()
    assert QUrl.fromLocalFile(str(out)).toString() in summary
    assert QUrl.fromLocalFile(str(result.report_path)).toString() in summary
    for url in (QUrl.fromLocalFile(str(out)), QUrl.fromLocalFile(str(result.report_path))):
        dialog.summary_label.linkActivated.emit(url.toString())
    assert FakeDesktopServices.opened == [str(out), str(result.report_path)]
    qtbot.mouseClick(dialog.options_toggle, Qt.MouseButton.LeftButton)
    assert dialog.options_box.isVisible()


def test_run_on_is_offered_with_ray_and_a_bad_address_is_one_line(qtbot, tmp_path: Path, monkeypatch):
    src = tmp_path / "in"
    save_image(src / "a.png")
    monkeypatch.setattr(batch_dialog, "ray_installed", lambda: True)
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(tmp_path / "out"))
    assert dialog.run_on_combo.parent() is not None  # in the options form
    # the form's label names the box (a screen reader on Linux read "This process" alone)
    assert dialog._form.labelForField(dialog.run_on_combo.parent()).buddy() is dialog.run_on_combo
    assert dialog.cluster_target() is None  # this process by default
    dialog.run_on_combo.setCurrentIndex(1)
    assert dialog.cluster_target() == "ray" and not dialog.cluster_edit.isEnabled()
    dialog.run_on_combo.setCurrentIndex(2)
    assert dialog.cluster_edit.isEnabled()
    for address in ("head:10001", "auto", ""):  # no ray:// scheme; the command line's words
        dialog.cluster_edit.setText(address)
        assert not dialog.start()
        assert "“Ray cluster at” must be ray://HOST:PORT" in dialog.status_label.text()
        assert "--cluster" not in dialog.status_label.text() and "RAY_ADDRESS" not in dialog.status_label.text()
    assert dialog.status_label.text().startswith("<b>Error: ")  # (the bold alone is not read out)
    assert dialog.queue.running is None
    dialog.cluster_edit.setText("ray://head:10001")
    assert dialog.cluster_target() == "ray://head:10001"


def test_a_bad_address_keeps_the_last_runs_view(qtbot, tmp_path: Path, monkeypatch):
    """Start with a bad address cleared the table, the summary and the report link, set the
    bar spinning with no job and folded away the field the error named."""
    src = tmp_path / "in"
    for i in range(2):
        save_image(src / f"{i}.png", seed=i)
    monkeypatch.setattr(batch_dialog, "ray_installed", lambda: True)
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.output_edit.setText(str(tmp_path / "out"))
    assert dialog.picker.set_model_id("bicubic") and dialog.picker.set_scale(2)
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        assert dialog.start()
    rows, summary = dialog.table.rowCount(), dialog.summary_label.text()
    dialog.set_options_shown(True)
    dialog.run_on_combo.setCurrentIndex(2)
    dialog.cluster_edit.setText("")  # an empty address
    assert not dialog.start()
    assert (dialog.table.rowCount(), dialog.summary_label.text()) == (rows, summary) and rows == 2
    assert dialog.progress_bar.maximum() > 0 and dialog.options_box.isVisible()


def test_run_on_is_hidden_without_ray(qtbot, monkeypatch):
    monkeypatch.setattr(batch_dialog, "ray_installed", lambda: False)
    dialog = BatchDialog()
    qtbot.addWidget(dialog)
    assert dialog.run_on_combo.parent() is None  # never added to the form
    assert dialog.cluster_target() is None


def test_esc_cancels_the_running_batch_and_the_menu_brings_back_its_dialog(qtbot, tmp_path: Path,
                                                                          hold_from_third_file):
    """Esc only hid the dialog: the batch went on out of sight, File ▸ Batch export… opened a
    second dialog, and a second batch on the same folders failed its files as 'file exists'."""
    from PySide6.QtTest import QTest

    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(6):
        save_image(src / f"img{i:02d}.png", size=(64, 64), seed=i)
    create_application()
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    dialog = window.open_batch_dialog(src)
    dialog.output_edit.setText(str(out))
    dialog.picker.set_model_id("bicubic")
    dialog.picker.set_scale(2)
    assert dialog.start()
    qtbot.waitUntil(lambda: list(statuses(dialog).values())[:2] == ["ok", "ok"], timeout=60_000)
    # Esc asks first (one meant for a list cancelled a batch of hundreds): "no" goes on
    asked = []
    dialog.ask_stop_batch = lambda parent, title, text, *rest, **kw: asked.append(text) or len(asked) > 1
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible() and dialog.is_running() and not dialog.queue.running.cancel.cancelled
    assert re.fullmatch(r"A batch export is running \(\d of 6 files done\)\. Stop it\? The files done are kept, "
                        r"and its report says which were not\.", asked[0]), asked[0]
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000) as finished:
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible() and len(asked) == 2
        assert window.open_batch_dialog(src) is dialog and dialog.isVisible()  # the same, while it stops
    assert finished.args[0].cancelled and statuses(dialog)["img02.png"] == "cancelled"
    dialog.close()
    window.queue.shutdown(2.0)


def test_browsing_to_another_input_replaces_the_output_it_suggested(qtbot, tmp_path: Path, monkeypatch):
    """in1's suggested "in1_upscaled" stayed after browsing to in3: in3's results would have
    gone into in1's folder. An output the user chose stays."""
    from PySide6.QtWidgets import QFileDialog

    for name in ("in1", "in3"):
        (tmp_path / name).mkdir()
    dialog = BatchDialog(input_dir=str(tmp_path / "in1"))
    qtbot.addWidget(dialog)
    assert dialog.output_edit.text() == str(tmp_path / "in1_upscaled")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "in3"))
    dialog._browse_input()
    assert dialog.output_edit.text() == str(tmp_path / "in3_upscaled")
    dialog.output_edit.setText(str(tmp_path / "mine"))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path / "in1"))
    dialog._browse_input()
    assert dialog.output_edit.text() == str(tmp_path / "mine")


def test_quitting_during_a_batch_asks_first(qtbot, tmp_path: Path, hold_from_third_file):
    """Closing the window stopped a running batch without a word, its dialog and summary gone."""
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda q: "discard")
    qtbot.addWidget(window)
    asked = []
    window.ask_stop_job = lambda parent, title, text, *rest, **kw: asked.append(text) or len(asked) > 1
    src = tmp_path / "in"
    for i in range(5):
        save_image(src / f"img{i}.png", size=(32, 32), seed=i)
    dialog = window.open_batch_dialog(src)
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.picker.set_model_id("bicubic")
    assert dialog.start()
    qtbot.waitUntil(lambda: dialog.progress_bar.value() >= 2, timeout=60_000)
    assert not window.close() and dialog.is_running()  # "Cancel": the batch goes on
    assert "A batch export is running (2 of 5 files done)" in asked[0]
    assert window.close()  # "Stop and quit"
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=30_000)
    window.queue.shutdown(2.0)


def test_folders_with_a_tilde_and_a_bare_report_name(qtbot, tmp_path: Path, monkeypatch):
    """"~/in" made the table show bare names and whole output paths; a bare report name was
    written into the app's working folder, its summary link relative."""
    monkeypatch.setenv("HOME", str(tmp_path))
    save_image(tmp_path / "in" / "sub" / "s1.png", size=(16, 16))
    dialog = BatchDialog(input_dir="~/in")
    qtbot.addWidget(dialog)
    dialog.output_edit.setText("~/out")
    dialog.report_edit.setText("myreport.csv")
    dialog.picker.set_model_id("bicubic")
    dialog.recursive_check.setChecked(True)
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        assert dialog.start()
    assert dialog.input_edit.text() == str(tmp_path / "in") and dialog.output_edit.text() == str(tmp_path / "out")
    assert (tmp_path / "out" / "myreport.csv").is_file()
    assert dialog.table.item(0, 0).text() == "sub/s1.png"


def test_relative_folders_are_the_home_s_and_beside_the_input(qtbot, tmp_path: Path, monkeypatch):
    """A relative output folder was the app's working folder's ("/" or the home, whatever
    started the app), which the summary did not name."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # (nothing is to land here)
    save_image(home / "pictures" / "a.png", size=(16, 16))
    dialog = BatchDialog(input_dir="pictures")
    qtbot.addWidget(dialog)
    dialog.output_edit.setText("upscaled")
    dialog.picker.set_model_id("bicubic")
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        assert dialog.start()
    assert dialog.input_edit.text() == str(home / "pictures") and dialog.output_edit.text() == str(home / "upscaled")
    assert len(list((home / "upscaled").glob("a_x*_bicubic.png"))) == 1 and not (tmp_path / "upscaled").exists()


def test_a_failure_s_details_name_the_file_not_its_whole_path(qtbot, tmp_path: Path):
    """The Details column repeated the input's whole path, elided in the middle: the reason
    itself was cut ("cannot read /tmp…g: symlink loop")."""
    src = tmp_path / "in"
    save_image(src / "a.png", size=(16, 16))
    (src / "broken.png").write_bytes(b"not a png")
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(tmp_path / "out"))
    dialog.picker.set_model_id("bicubic")
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        assert dialog.start()
    row = next(r for r in range(dialog.table.rowCount()) if dialog.table.item(r, 0).text() == "broken.png")
    details = dialog.table.item(row, 4)
    assert str(src) not in details.text() and "broken.png" in details.text()
    assert str(src / "broken.png") in details.toolTip()
    (src / "a.png").write_bytes(b"not a png either")  # every file failing was "Done." too
    dialog.output_edit.setText(str(tmp_path / "out2"))
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        assert dialog.start()
    assert dialog.status_label.text() == "Finished: every file failed (2); the table says why."


def test_a_long_output_folder_does_not_widen_the_dialog(qtbot, tmp_path: Path):
    """The options line and the summary's output link showed a long folder whole: the dialog
    grew past a laptop's screen (1068 px asked to be 800). Both are cut with "…", whole in
    their tooltips."""
    src = tmp_path / "in"
    save_image(src / "a.png", size=(16, 16))
    out = tmp_path / ("a_very_long_output_folder_name_for_the_holiday_photos_" * 3)
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.resize(800, 600)
    dialog.show()
    dialog.output_edit.setText(str(out))
    dialog.picker.set_model_id("bicubic")
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        assert dialog.start()
    qtbot.wait(50)
    assert dialog.minimumSizeHint().width() <= 800 and dialog.width() <= 800
    assert str(out) in dialog.options_toggle.summary() and dialog.options_toggle.text().endswith("…")
    assert dialog.options_toggle.accessibleName() == dialog.options_toggle.summary()  # read whole
    assert dialog.summary_label.toolTip() == str(out) and "…" in dialog.summary_label.text()


def test_rows_keep_the_input_order_and_the_status_names_the_running_file(qtbot, tmp_path: Path):
    """Files finish through the writer threads after the next one started: rows came f00,
    f01, f03, f02, and while f03 ran the status line named f02 (the last one done)."""
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    src = tmp_path / "in"
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)

    def event(kind, index, name, done, record=None):
        extra = {"event": kind, "index": index}
        if record is not None:
            extra["record"] = record
        dialog._on_progress(ProgressInfo(done, 4, 1.0, 1.0, "batch", str(src / name), extra))

    for i in (0, 1):
        event("start", i, f"f0{i}.png", i)
        event("file", i, f"f0{i}.png", i + 1, FileRecord(str(src / f"f0{i}.png"), None, "ok"))
    event("start", 3, "f03.png", 2)
    event("file", 2, "f02.png", 3, FileRecord(str(src / "f02.png"), None, "skipped", note="not an image"))
    assert [dialog.table.item(r, 0).text() for r in range(4)] == ["f00.png", "f01.png", "f02.png", "f03.png"]
    assert " · f03.png · " in dialog.status_label.text()
    event("file", 3, "f03.png", 4, FileRecord(str(src / "f03.png"), None, "ok"))
    assert dialog.table.item(3, 1).text() == "ok" and dialog.table.item(2, 1).text() == "skipped"


def test_same_as_input_keeps_a_lossless_webp_lossless(qtbot, tmp_path: Path):
    """It was written as a lossy WebP at the Quality shown (the command line keeps it lossless)."""
    from PIL import Image as PILImage

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (12, 14, 3), np.uint8)).save(
        src / "a.webp", lossless=True)
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(out))
    assert dialog.picker.set_model_id("bicubic")
    assert dialog.format_combo.currentData() == "same"
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    written = next(out.glob("*.webp"))
    assert written.read_bytes()[12:16] == b"VP8L"
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("webp"))
    assert dialog.batch_options().keep_lossless is False  # an explicit WebP: the Quality shown


def test_thousands_of_rows_stay_in_order_and_a_row_looked_at_stays_in_view(qtbot):
    """Two columns resized to their contents measured every row at each update: 5 000 files
    froze the window up to 7 s at a time. A new file scrolled the table back to it while the
    user read a failed row above."""
    from PySide6.QtWidgets import QApplication, QHeaderView

    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    dialog = BatchDialog(input_dir="/in")
    qtbot.addWidget(dialog)
    dialog.show()
    header = dialog.table.horizontalHeader()
    assert QHeaderView.ResizeMode.ResizeToContents not in [header.sectionResizeMode(c) for c in range(5)]

    def event(kind, index, record=None):
        path = f"/in/f{index:04d}.png"
        extra = {"event": kind, "index": index, "files_per_second": 1.0, "megapixels_per_second": 1.0,
                 "failed": 0, **({"record": record} if record else {})}
        dialog._on_progress(ProgressInfo(index, 400, 0.0, 5.0, "batch", path, extra=extra))
        QApplication.processEvents()  # (as between the worker's signals: the table lays its rows out)

    order = [*range(0, 300), 301, 300, *range(302, 350)]  # (a writer thread finished 301 first)
    for index in order:
        event("start", index)
        event("file", index, FileRecord(f"/in/f{index:04d}.png", None, "ok"))
    names = [dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())]
    assert names == [f"f{index:04d}.png" for index in range(350)]
    bar = dialog.table.verticalScrollBar()
    assert bar.value() > 300 and dialog._last_row_shown()  # following the files as they come
    bar.setValue(0)  # the user scrolls up to a row
    event("start", 350)
    assert bar.value() == 0


def test_the_notice_of_a_large_plan_is_shown(qtbot, tmp_path: Path):
    """A plan of many files sends one notice before the first file: the dialog says it rather
    than taking it for a file count (a 0-of-0 bar)."""
    from sr_desktop.engine.core.progress import PLANNING_STAGE, ProgressInfo

    dialog = BatchDialog(input_dir=str(tmp_path))
    qtbot.addWidget(dialog)
    dialog.progress_bar.setMaximum(7)
    dialog._on_progress(ProgressInfo(0, 0, 0.5, None, PLANNING_STAGE, "planning 50000 files"))
    assert dialog.status_label.text() == "Planning 50000 files…" and dialog.progress_bar.maximum() == 7


def test_the_table_follows_the_files_of_a_batch_that_says_them_as_they_end(qtbot, tmp_path: Path):
    """A Ray batch sends no 'start' events: its rows came in below the table's view, which
    stayed at the top through the whole run."""
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    src = tmp_path / "in"
    dialog = _shown_dialog(qtbot, src)
    for i in range(60):
        name = str(src / f"f{i:02d}.png")
        dialog._on_progress(ProgressInfo(i + 1, 60, 1.0, 1.0, "batch", name,
                                         {"event": "file", "index": i, "record": FileRecord(name, None, "ok")}))
    assert dialog.table.rowCount() == 60 and dialog._last_row_shown()
    assert dialog.table.verticalScrollBar().value() > 0


def test_the_size_row_gives_the_batch_its_output_size_and_the_folded_line_says_it(qtbot, tmp_path: Path):
    from sr_desktop.engine.core.output_size import OutputSize

    dialog = BatchDialog(input_dir=str(tmp_path))
    qtbot.addWidget(dialog)
    assert dialog.batch_options().size is None
    dialog.size_field.width_spin.setValue(3000)
    dialog.size_field.height_spin.setValue(2000)
    assert dialog.batch_options().size == OutputSize(3000, 2000)
    dialog.set_options_shown(False)
    assert ", then within 3000×2000 px → " in dialog.options_toggle.summary()


def test_reports_that_come_at_once_are_shown_together(qtbot, tmp_path: Path):
    """10 000 non-images took 9-22 s to show, one report at a time, where the batch itself took
    0.4 s: the reports that came meanwhile are shown together, every row, the bar and status
    line once; the end shows those not shown yet first."""
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    src = tmp_path / "in"
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    statuses = []
    dialog.status_label.setText = lambda text, real=dialog.status_label.setText: (statuses.append(text), real(text))
    for i in range(50):
        name = str(src / f"f{i:02d}.txt")
        dialog._on_job_progress(None, ProgressInfo(i + 1, 50, 1.0, 1.0, "batch", name, {
            "event": "file", "index": i, "record": FileRecord(name, None, "skipped", note="not an image")}))
    assert dialog.table.rowCount() == 0  # (not yet: shown once the event loop comes round)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 50, timeout=5000)
    assert len(statuses) == 1 and statuses[0].startswith("50 / 50 files · f49.txt")
    assert dialog.progress_bar.value() == 50
    name = str(src / "late.txt")
    dialog._on_job_progress(None, ProgressInfo(51, 51, 1.0, 1.0, "batch", name, {
        "event": "file", "index": 50, "record": FileRecord(name, None, "skipped", note="not an image")}))
    dialog._show_pending_reports()  # (what the end does first)
    assert dialog.table.rowCount() == 51 and dialog._pending_reports == []


def test_the_table_keeps_following_past_files_that_have_no_start(qtbot, tmp_path: Path):
    """A skipped file (a sidecar .xmp beside each photo) has no 'start': its row came in
    without a scroll, the next start found the last row out of view, and the table stayed
    at the top for the rest of the batch."""
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    src = tmp_path / "in"
    dialog = _shown_dialog(qtbot, src)
    for i in range(0, 60, 2):
        photo, sidecar = str(src / f"p{i:02d}.png"), str(src / f"p{i:02d}.xmp")
        dialog._on_progress(ProgressInfo(i, 60, 1.0, 1.0, "batch", photo, {"event": "start", "index": i}))
        dialog._on_progress(ProgressInfo(i + 1, 60, 1.0, 1.0, "batch", sidecar, {
            "event": "file", "index": i + 1, "record": FileRecord(sidecar, None, "skipped", note="not an image")}))
        dialog._on_progress(ProgressInfo(i + 2, 60, 1.0, 1.0, "batch", photo, {
            "event": "file", "index": i, "record": FileRecord(photo, None, "ok")}))
    assert dialog.table.rowCount() == 60 and dialog._last_row_shown()


def test_a_size_box_showing_auto_takes_the_digits_typed(qtbot):
    """Clicked into, the caret after "auto", typing 240 did nothing (nor Backspace, then 240)."""
    from PySide6.QtCore import Qt

    from sr_desktop.gui.output_size_field import OutputSizeField

    field = OutputSizeField(source_size=(640, 480))
    qtbot.addWidget(field)
    field.show()
    spin = field.height_spin
    spin.setFocus()
    spin.lineEdit().deselect()
    spin.lineEdit().end(False)
    qtbot.keyClicks(spin, "240")
    assert spin.value() == 240 and field.result_label.text() == "→ 320×240"
    qtbot.keyClick(spin, Qt.Key.Key_Backspace)  # (past "auto": a number is edited as one)
    assert spin.value() == 24


def test_the_table_follows_a_batch_whose_groups_of_reports_end_in_a_tile(qtbot, tmp_path: Path):
    """A batch's reports come in groups (a file done, the next started, its first tile): shown
    together, a group ending in a tile neither scrolled nor said anything, and the table
    stopped following at about the 45th of 91 files."""
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    src = tmp_path / "in"
    dialog = _shown_dialog(qtbot, src)
    for i in range(60):
        name = str(src / f"f{i:02d}.png")
        if i:
            previous = str(src / f"f{i - 1:02d}.png")
            dialog._on_job_progress(None, ProgressInfo(i, 60, 1.0, 1.0, "batch", previous, {
                "event": "file", "index": i - 1, "record": FileRecord(previous, None, "ok")}))
        dialog._on_job_progress(None, ProgressInfo(i, 60, 1.0, 1.0, "batch", name, {"event": "start", "index": i}))
        dialog._on_job_progress(None, ProgressInfo(i, 60, 1.0, 1.0, "batch", name, {
            "event": "tile", "index": i, "tile_fraction": 0.5}))
        qtbot.waitUntil(lambda: not dialog._pending_reports, timeout=2000)
    assert dialog.table.rowCount() == 60 and dialog._last_row_shown()
    assert dialog.status_label.text().startswith("59 / 60 files · f59.png")
    assert dialog.table.item(59, 1).text().endswith("50 %")


def _shown_dialog(qtbot, src: Path) -> BatchDialog:
    """A batch dialog on `src`, shown (its table's view measured)."""
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_the_status_line_stops_naming_a_file_once_it_is_done(qtbot, tmp_path: Path):
    """After the last photo, the status line named it through every non-image after it."""
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    src = tmp_path / "in"
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    photo, notes = str(src / "bird.png"), str(src / "notes.txt")
    dialog._on_progress(ProgressInfo(0, 2, 1.0, 1.0, "batch", photo, {"event": "start", "index": 0}))
    assert " · bird.png · " in dialog.status_label.text()
    dialog._on_progress(ProgressInfo(1, 2, 1.0, 1.0, "batch", photo, {
        "event": "file", "index": 0, "record": FileRecord(photo, None, "ok")}))
    dialog._on_progress(ProgressInfo(2, 2, 1.0, 0.0, "batch", notes, {
        "event": "file", "index": 1, "record": FileRecord(notes, None, "skipped", note="not an image")}))
    assert " · notes.txt · " in dialog.status_label.text()


def test_a_file_the_model_blew_up_on_says_so_in_its_row(qtbot, tmp_path: Path):
    """SPAN on a pixel-art checker: the row said "ok" over coloured noise."""
    src = tmp_path / "sprites"
    src.mkdir()
    yy, xx = np.mgrid[0:16, 0:16]
    PILImage.fromarray((((yy + xx) % 2) * 255).astype(np.uint8)).save(src / "checker.png")
    photo = PILImage.open(Path(__file__).resolve().parents[1] / "resources" / "chelsea.png").convert("RGB")
    photo.crop((100, 50, 164, 114)).save(src / "photo.png")  # (random pixels blow SPAN up too)
    dialog = BatchDialog(input_dir=str(src))
    qtbot.addWidget(dialog)
    dialog.output_edit.setText(str(tmp_path / "out"))
    assert dialog.picker.set_model_id("span") and dialog.picker.set_scale(2)
    with qtbot.waitSignal(dialog.batchFinished, timeout=60_000):
        dialog.start()
    details = {dialog.table.item(r, 0).text(): dialog.table.item(r, 4).text() for r in range(dialog.table.rowCount())}
    assert statuses(dialog) == {"checker.png": "ok", "photo.png": "ok"}
    # in the picker's names, as the window says it (the command line's ids were shown)
    assert details["checker.png"].startswith("Warning: SPAN blew up on 100 % of the result's pixels")
    assert details["checker.png"].endswith(
        "try Real-ESRGAN x4plus anime, Real-ESRGAN anime video v3 or Nearest neighbour")
    assert "blew up" not in details["photo.png"]


def test_a_file_a_ray_batch_stopped_in_has_its_row(qtbot, tmp_path: Path):
    """A Ray batch's files come as they finish, without a "start": the file a cancel stopped
    in had no row (five rows for six files), though the report listed it as cancelled."""
    from sr_desktop.engine.batch.report import INTERRUPTED, NOT_STARTED, BatchTotals, FileRecord
    from sr_desktop.engine.batch.runner import BatchResult

    dialog = BatchDialog()
    qtbot.addWidget(dialog)
    src = tmp_path / "in"
    totals = BatchTotals(cancelled=True, extra={"not_started": 1, "interrupted": 1})
    result = BatchResult(src, tmp_path / "out", [], totals,
                         interrupted=[FileRecord(str(src / "f2.png"), str(tmp_path / "out" / "f2.png"), INTERRUPTED)],
                         not_started=[FileRecord(str(src / "f3.png"), None, NOT_STARTED)])
    dialog._on_finished(result)
    assert statuses(dialog) == {"f2.png": "cancelled", "f3.png": NOT_STARTED}
    assert dialog.table.item(0, 4).text() == "not written"


def test_the_stop_question_keeps_the_batch_on_enter_and_names_both_answers(qtbot, tmp_path: Path):
    """The question Esc asks: beside the dialog's own "Cancel batch" button, the box's
    "Cancel" read as a yes; it says "Keep running", the default (Enter), and "Stop the batch"."""
    from PySide6.QtCore import QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox

    from sr_desktop.gui.widgets import confirm

    dialog = BatchDialog()
    qtbot.addWidget(dialog)
    seen = []

    def answer() -> None:
        box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible())
        seen.append(sorted(b.text() for b in box.buttons()))
        QTest.keyClick(box, Qt.Key.Key_Return)

    QTimer.singleShot(200, answer)
    assert not confirm(dialog, "Stop the batch", "Stop it?", "Stop the batch", "stopBatchBox", no_text="Keep running")
    assert seen == [["Keep running", "Stop the batch"]]


def test_remove_gps_location_in_the_save_as_and_batch_dialogs(qtbot, tmp_path: Path):
    """The dialogs' "Remove GPS location" (``--no-gps``), greyed out while no metadata is kept."""
    from sr_desktop.engine.imageio import SaveOptions
    from sr_desktop.gui.main_window.save_dialog import SaveAsDialog

    dialog = SaveAsDialog(tmp_path / "a.jpg", SaveOptions(format="jpg", drop_gps=True), image_size=(48, 32))
    qtbot.addWidget(dialog)
    assert dialog.gps_check.isChecked() and dialog.choice()[1].drop_gps
    dialog.metadata_check.setChecked(False)
    assert not dialog.gps_check.isEnabled()
    batch = BatchDialog()
    qtbot.addWidget(batch)
    assert not batch.batch_options().drop_gps
    batch.gps_check.setChecked(True)
    assert batch.batch_options().drop_gps
