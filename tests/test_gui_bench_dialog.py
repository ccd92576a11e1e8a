"""Tools ▸ Benchmark a dataset… (pytest-qt, offscreen): the dialog's numbers are the bench's
(`evaluate_models` run directly on the same folder), its report is ``bench --json``'s, a
cancel keeps the models finished before it, bad folders are one line, the paper's number
shows for a folder named as a table's dataset."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sr_desktop.app import bench_jobs
from sr_desktop.app.bench_jobs import DatasetBenchTask, leaderboard_rows
from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.imageio import write_image
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.metrics.degradation import Degradation
from sr_desktop.engine.metrics.evaluate import evaluate_models
from sr_desktop.engine.models.registry import get_model_spec
from sr_desktop.engine.models.spec import table_dataset
from sr_desktop.gui.metrics.bench_dialog import BenchDialog
from tests.test_gui_main_window import make_window, prompts
from tests.test_gui_metrics_panel import textured_pixels

__all__ = ["make_window", "prompts"]  # fixtures used by the tests below

MODELS = [("bicubic", "Bicubic (MATLAB)"), ("lanczos", "Lanczos"), ("nearest", "Nearest")]
WAIT_MS = 60000


def make_dataset(folder: Path, count: int = 3) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        write_image(Image(textured_pixels(48 + 8 * i, 64, seed=i)), folder / f"img{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def dialog(qtbot):
    widget = BenchDialog(models=MODELS, checked=["bicubic", "lanczos"], scale=2)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.queue.cancel()
    widget.queue.shutdown(5.0)


def run_to_end(qtbot, dialog) -> None:
    job = dialog.run()
    assert job is not None, dialog.status.text()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WAIT_MS)


def test_numbers_and_saved_report_are_the_bench_s(qtbot, dialog, tmp_path):
    data = make_dataset(tmp_path / "mine")
    dialog.dataset_edit.setText(str(data))
    assert dialog.dataset_note.text() == "3 images"
    run_to_end(qtbot, dialog)
    expected = evaluate_models(data, ["bicubic", "lanczos"], 2, precision="fp32")
    shown = {row.model: (row.psnr_y, row.ssim_y) for row in dialog.leaderboard.rows()}
    assert shown == {m.model: (m.psnr_y, m.ssim_y) for m in expected.models}
    assert dialog.status.text() == "Done: 2 of 2 models measured"
    assert dialog.progress.value() == dialog.progress.maximum()
    assert "mine (3 images), ×2, bicubic" in dialog.leaderboard.note.text()

    out = tmp_path / "report.json"
    dialog.choose_report_path = lambda _name: str(out)
    assert dialog.save_report() == out
    saved = json.loads(out.read_text())
    assert saved["scale"] == 2 and saved["dataset"] == str(data)
    assert [(m["model"], m["psnr_y"], len(m["images"])) for m in saved["models"]] == \
        [(m.model, m.psnr_y, 3) for m in expected.models]
    csv_out = tmp_path / "report.csv"
    dialog.choose_report_path = lambda _name: str(csv_out)
    assert dialog.save_report() == csv_out
    assert "lanczos" in csv_out.read_text()


def test_a_model_clicked_shows_its_images_and_the_published_number(qtbot, dialog, tmp_path):
    data = make_dataset(tmp_path / "set5", count=2)  # named as the tables' Set5 (not its images)
    dialog.dataset_edit.setText(str(data))
    assert dialog.dataset_note.text() == "2 images; Set5 of the published tables"
    run_to_end(qtbot, dialog)
    assert dialog.image_table.isHidden()
    dialog.leaderboard.modelActivated.emit("bicubic")
    assert not dialog.image_table.isHidden()
    names = sorted(dialog.image_table.item(r, 0).text() for r in range(dialog.image_table.rowCount()))
    assert names == ["img0", "img1"]
    published = get_model_spec("bicubic").published_psnr("Set5", 2)
    assert f"published on Set5 ×2: {published:.2f} dB" in dialog.detail.text()
    dialog.leaderboard.modelActivated.emit("lanczos")  # (no published numbers of its own)
    assert "published" not in dialog.detail.text()


def test_bad_folders_and_no_model_are_one_line_and_nothing_runs(qtbot, dialog, tmp_path):
    dialog.dataset_edit.setText(str(tmp_path / "missing"))
    assert dialog.run() is None
    assert "missing" in dialog.status.text() and "\n" not in dialog.status.text()
    empty = tmp_path / "empty"
    empty.mkdir()
    dialog.dataset_edit.setText(str(empty))
    assert dialog.run() is None
    assert dialog.status.text().startswith("no images")
    dialog.dataset_edit.setText(str(make_dataset(tmp_path / "ok")))
    dialog.models.set_checked_models([])
    assert dialog.run() is None
    assert dialog.status.text() == "Check at least one model to benchmark"
    assert not dialog.is_running() and not dialog.save_button.isEnabled()


def test_an_image_too_small_for_the_scale_fails_the_run_with_its_name(qtbot, dialog, tmp_path):
    data = make_dataset(tmp_path / "small", count=1)
    write_image(Image(textured_pixels(8, 8)), data / "tiny.png")
    dialog.dataset_edit.setText(str(data))
    run_to_end(qtbot, dialog)
    assert dialog.status.text().startswith("tiny.png in the dataset:")
    assert dialog.leaderboard.rows() == [] and not dialog.save_button.isEnabled()


def test_cancel_keeps_the_models_finished_before(tmp_path):
    data = make_dataset(tmp_path / "d", count=2)
    cancel = CancelToken()
    task = DatasetBenchTask(data, ["bicubic", "lanczos", "nearest"], 2, Degradation())
    reports = []

    def progress(info):
        reports.append((info.done, info.total, info.message))
        if info.done == 2:  # the first model's two images scored
            cancel.cancel()

    with pytest.raises(Cancelled):
        task.run(progress, cancel)
    assert [m.model for m in task.partial.models] == ["bicubic"]
    assert task.partial.not_measured == ["lanczos", "nearest"]
    assert reports[0][1] == 6 and reports[-1][0] == 2 and reports[-1][2].startswith("bicubic: img1.png")
    assert [row.model for row in leaderboard_rows(task.partial)] == ["bicubic"]


def test_the_dialog_shows_a_cancelled_run_s_models_and_can_save_them(qtbot, dialog, tmp_path, monkeypatch):
    data = make_dataset(tmp_path / "d", count=2)
    dialog.dataset_edit.setText(str(data))
    dialog.models.set_checked_models(["bicubic", "lanczos"])

    def cancelled_after_the_first_model(*args, progress, cancel, **kwargs):
        def report(info):  # (in the worker: as the window's Cancel would, after bicubic's 2 images)
            progress(info)
            if info.stage == "evaluate bicubic" and info.done == 2:
                cancel.cancel()
        return evaluate_models(*args, progress=report, cancel=cancel, **kwargs)

    monkeypatch.setattr(bench_jobs, "evaluate_models", cancelled_after_the_first_model)
    run_to_end(qtbot, dialog)
    assert dialog.status.text() == "Cancelled: 1 of 2 models measured, kept below (not measured: Lanczos)"
    assert [row.model for row in dialog.leaderboard.rows()] == ["bicubic"]
    out = tmp_path / "partial.json"
    dialog.choose_report_path = lambda _name: str(out)
    assert dialog.save_report() == out
    assert json.loads(out.read_text())["not_measured"] == ["lanczos"]


def test_closing_while_running_asks_and_keep_running_keeps_it(qtbot, dialog, tmp_path):
    dialog.dataset_edit.setText(str(make_dataset(tmp_path / "d", count=3)))
    asked = []
    dialog.ask_stop = lambda *args, **kwargs: asked.append(args[1]) or False
    dialog.run()
    assert dialog.is_running()  # (queued or running: either way the run Close would stop)
    dialog.reject()
    assert asked == ["Stop the benchmark"] and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WAIT_MS)


def test_the_common_dataset_layouts_are_known(dialog, tmp_path):
    """EDSR's benchmark/Set5/HR and BasicSR's Set14/GTmod12: the tables' numbers were never
    shown for them, and Set5 itself was "no images" without a word of its HR folder."""
    make_dataset(tmp_path / "benchmark" / "Set5" / "HR", count=1)
    (tmp_path / "benchmark" / "Set5" / "LR_bicubic").mkdir()
    dialog.dataset_edit.setText(str(tmp_path / "benchmark" / "Set5"))
    assert dialog.dataset_note.text().endswith(": its HR images are in HR/, choose that folder")
    assert dialog.run() is None and dialog.status.text().endswith("choose that folder")
    dialog.dataset_edit.setText(str(tmp_path / "benchmark" / "Set5" / "HR"))
    assert dialog.dataset_note.text() == "1 image; Set5 of the published tables"
    make_dataset(tmp_path / "Set14" / "GTmod12", count=1)
    dialog.dataset_edit.setText(str(tmp_path / "Set14" / "GTmod12"))
    assert dialog.dataset_note.text() == "1 image; Set14 of the published tables"


@pytest.mark.parametrize("name, table", [("Set5", "Set5"), ("set14", "Set14"), ("BSD100", "B100"),
                                         ("urban100", "Urban100"), ("photos", None)])
def test_folder_names_of_the_tables_datasets(name, table):
    assert table_dataset(name) == table


def test_window_tools_menu_opens_it_on_the_picked_model(make_window):
    window = make_window()
    titles = [a.text() for a in window.tools_menu.actions()]
    assert "&Benchmark a dataset…" in titles
    window.benchmarking.action.trigger()
    opened = window.benchmarking.dialog
    assert opened.isVisible() and "bicubic" in opened.models.checked_models()
    assert opened.scale_spin.value() == min(8, max(2, window.picker.scale()))
    window.benchmarking.action.trigger()
    assert window.benchmarking.dialog is opened
    opened.close()


def test_quitting_the_window_asks_then_stops_a_running_benchmark(make_window, qtbot, tmp_path, monkeypatch):
    """Closing the window while a benchmark ran did not ask, the benchmark ran on, and the
    process stayed alive without its window."""
    from sr_desktop.engine.core.progress import check_cancel

    def until_cancelled(*_args, cancel, **_kwargs):
        while True:  # (a long benchmark: it ends only when cancelled)
            check_cancel(cancel)
            time.sleep(0.01)

    monkeypatch.setattr(bench_jobs, "evaluate_models", until_cancelled)
    window = make_window()
    dialog = window.benchmarking.open_dialog()
    dialog.dataset_edit.setText(str(make_dataset(tmp_path / "d", count=1)))
    dialog.run()
    qtbot.waitUntil(lambda: dialog.queue.running is not None, timeout=WAIT_MS)
    asked = []
    window.ask_stop_job = lambda _parent, _title, text, *args, **kwargs: asked.append(text) or False
    window.close()
    assert window.isVisible() and dialog.is_running() and asked[0].startswith("A benchmark is running.")
    window.ask_stop_job = lambda *args, **kwargs: True
    window.close()
    assert not window.isVisible()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=3000)  # (without its cancel it never ends)


def test_the_model_list_follows_models_added_and_removed(make_window, monkeypatch):
    """The list was filled once: a model added later was missing, and one removed stayed
    checked, so that Run failed the whole benchmark on it."""
    from sr_desktop.gui.metrics import evaluate_section

    window = make_window()
    dialog = window.benchmarking.open_dialog()
    dialog.models.set_checked_models(["bicubic", "lanczos"])
    dialog.close()
    monkeypatch.setattr(evaluate_section, "installed_models", lambda: [("lanczos", "Lanczos"), ("mine", "Mine")])
    assert window.benchmarking.open_dialog() is dialog
    assert [model for model, _name in dialog.models.names().items()] == ["lanczos", "mine"]
    assert dialog.models.checked_models() == ["lanczos"]


def test_given_lr_images_are_benchmarked_as_bench_lr_dataset_without_published_numbers(qtbot, dialog, tmp_path):
    from tests.test_bench_pairs import make_nearest_pairs

    hr, lr = make_nearest_pairs(tmp_path / "set5", [(40, 32, 0), (32, 40, 1)])  # Set5/HR: a table's name
    dialog.dataset_edit.setText(str(hr))
    assert dialog.dataset_note.text() == "2 images; Set5 of the published tables"
    dialog.lr_edit.setText(str(lr))
    assert dialog.dataset_note.text() == ("2 images; Set5 of the published tables, whose numbers are of bicubic-made "
                                          "LR images: not shown")
    run_to_end(qtbot, dialog)
    expected = evaluate_models(hr, ["bicubic", "lanczos"], 2, precision="fp32", lr_dataset=lr)
    shown = {row.model: (row.psnr_y, row.ssim_y) for row in dialog.leaderboard.rows()}
    assert shown == {m.model: (m.psnr_y, m.ssim_y) for m in expected.models}
    assert f"paired:{lr}" in dialog.leaderboard.note.text()
    assert "with its LR images" in dialog.inputs_toggle.text()
    dialog.leaderboard.modelActivated.emit("bicubic")  # the tables' number is of bicubic-made LR images
    assert "published" not in dialog.detail.text()
    dialog.lr_edit.setText(str(hr))  # the dataset itself: one line, nothing runs
    job = dialog.run()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WAIT_MS)
    assert job is not None and f"“LR images” {hr} is the “Dataset” folder itself" in dialog.status.text()
