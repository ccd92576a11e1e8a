"""The Train dialog runs a tiny training to the end, plots it, pauses, cancels, resumes, and
offers the registered model (pytest-qt, offscreen)."""

from __future__ import annotations

import os

import pytest
from train_fixtures import make_images

pytest.importorskip("pytestqt")

from sr_desktop.engine.models.custom import list_custom_specs
from sr_desktop.gui.train.dialog import TrainDialog

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("module_home")]

TINY = "VDSR:num_layers=3,num_feat=8"


def _iteration(info) -> bool:
    """Whether a progress report is an iteration's (not a step before the first one)."""
    from sr_desktop.engine.core.progress import TRAINING_SETUP_STAGE

    return info.stage != TRAINING_SETUP_STAGE


def _fill(dialog: TrainDialog, tmp_path, iterations: int, name: str = "") -> None:
    data = make_images(tmp_path / "data", 2, 48, seed=4)
    dialog.data_edit.setText(str(data))
    dialog.out_edit.setText(str(tmp_path / "run"))
    dialog.arch_combo.setCurrentText(TINY)
    dialog.iterations_spin.setValue(iterations)
    dialog.batch_spin.setValue(4)
    dialog.patch_spin.setValue(16)
    dialog.device_combo.setCurrentText("cpu")
    dialog.name_edit.setText(name)


def test_a_run_to_the_end_plots_and_offers_the_model(qtbot, tmp_path):
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 20, name="gui tiny")
    used = []
    dialog.useModelRequested.connect(lambda *used_as: used.append(used_as))
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert dialog.result is not None, dialog.status_label.text()
    assert len(dialog.loss_plot.points) >= 3 and len(dialog.psnr_plot.points) >= 3
    assert dialog.psnr_plot.reference is not None
    assert dialog.after_label.pixmap() is not None and not dialog.after_label.pixmap().isNull()
    assert dialog.use_button.isEnabled() and dialog.focusWidget() is dialog.use_button  # (what comes next)
    dialog.use_button.click()
    assert used == [(dialog.result.model_id, 2)]  # at the scale it trained
    assert used[0][0] in [s.id for s in list_custom_specs()]
    shot = os.environ.get("SR_TRAIN_DIALOG_PNG")
    if shot:  # to look at it: SR_TRAIN_DIALOG_PNG=/tmp/train.png pytest ...
        dialog.resize(1100, 640)
        dialog.grab().save(shot)
    # a finished run keeps its checkpoint: Resume with more iterations extends it (Resume
    # stayed disabled after a success, until the Run folder was typed again)
    assert dialog.resume_button.isEnabled()
    dialog.iterations_spin.setValue(24)
    progress = []
    dialog.queue.jobProgress.connect(lambda _job, info: _iteration(info) and progress.append(info.done))
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.resume()
    assert dialog.result is not None and dialog.result.iterations == 24, dialog.status_label.text()
    assert progress and min(progress) > 20
    # the schedule's change is said with the dialog's names ("--iterations 20 → 24" named a flag)
    assert "“iterations” 20 → 24" in dialog.status_label.text() and "--" not in dialog.status_label.text()


def _running(qtbot, tmp_path, iterations: int) -> tuple[TrainDialog, list[int]]:
    """A dialog whose run has reported three times, and the iterations it reports."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, iterations)
    seen = []
    dialog.queue.jobProgress.connect(lambda _job, info: _iteration(info) and seen.append(info.done))
    assert dialog.start()
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=60_000)
    return dialog, seen


def test_pause_cancel_resume(qtbot, tmp_path, monkeypatch):
    import threading

    from sr_desktop.engine.training import loop

    held, hold = threading.Event(), loop._hold

    def holding(pause, cancel):
        held.set()
        return hold(pause, cancel)

    monkeypatch.setattr(loop, "_hold", holding)
    dialog, seen = _running(qtbot, tmp_path, 30)
    dialog.pause_button.setChecked(True)
    assert dialog.request.pause.is_set()
    # once the worker holds, the reports it sent before are already queued for this thread
    # (a count after a fixed wait missed 2 that arrived late under load): let them in, then count
    qtbot.waitUntil(held.is_set, timeout=60_000)
    qtbot.wait(50)
    count = len(seen)
    qtbot.wait(400)
    assert len(seen) == count  # held between iterations
    # a report that arrives once held gives no ETA (it showed the last one for as long as it was held)
    from sr_desktop.engine.core.progress import ProgressInfo

    dialog._on_progress(ProgressInfo(seen[-1], 30, 1.0, 3.0, "training", extra={"loss": 0.1, "its": 2.0}))
    assert dialog.status_label.text().startswith("Paused · iteration ") and "ETA" not in dialog.status_label.text()
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=60_000):
        dialog.cancel()
    assert dialog.result is None and dialog.resume_button.isEnabled()
    stopped = seen[-1]
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.resume()
    assert dialog.result is not None and dialog.result.iterations == 30
    assert min(seen[seen.index(stopped) + 1:]) > stopped  # continued, not restarted



def test_cancel_greys_out_pause_too(qtbot, tmp_path):
    """Pause stayed enabled while the run stopped: clicking it wrote "Paused." over "Stopping
    after this iteration…" and offered Continue for a run that was ending."""
    dialog, _seen = _running(qtbot, tmp_path, 30)
    dialog.pause_button.setChecked(True)
    dialog.cancel()
    assert not dialog.pause_button.isEnabled() and not dialog.pause_button.isChecked()
    assert dialog.pause_button.text() == "Pause" and not dialog.request.pause.is_set()
    assert dialog.status_label.text() == "Stopping after this iteration (saving a checkpoint)…"
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=60_000):
        pass
    assert not dialog.pause_button.isEnabled() and dialog.resume_button.isEnabled()


def test_the_status_line_gets_all_its_lines_on_a_small_screen(qtbot, tmp_path):
    """At 784×660 (an 800-px-wide screen) a four-line end of a run was cut to its middle three:
    the wrapped label's height was what the layout had left."""
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.show()
    dialog = window.training.open_dialog()
    qtbot.waitExposed(dialog)
    _fill(dialog, tmp_path, 50)
    import numpy as np

    for preview in (dialog.before_label, dialog.after_label):  # a run's previews and curves shown
        preview.show_pixels(np.full((96, 96, 3), 128, np.uint8))
    for i in range(1, 6):
        dialog.loss_plot.add_point(i * 10, 0.1 / i)
        dialog.psnr_plot.add_point(i * 10, 20.0 + i)
    dialog.psnr_plot.set_reference(35.77, "bicubic 35.77 dB")
    dialog.progress_bar.setValue(50)
    # two lines that wrap into four or more (a plain QLabel hinted them at a guessed width)
    dialog.status_label.setText(
        "Done: 50 iterations, validation PSNR-Y 23.38 dB (bicubic 35.77 dB). Model: /tmp/rv/trainflow/runs/r1/"
        "model.safetensors — registered as “My texture SRCNN” (custom-my-texture-srcnn)\nresumed with another "
        "learning-rate schedule: “iterations” 40 → 50; iteration 41 trains at lr 1.91e-05 (under the checkpoint's "
        "schedule: 0)")
    label = dialog.status_label
    spacing = label.fontMetrics().lineSpacing()

    def lines_needed() -> int:
        from PySide6.QtCore import QRect, Qt

        return label.fontMetrics().boundingRect(QRect(0, 0, label.width(), 10**5), int(Qt.TextFlag.TextWordWrap),
                                                label.text()).height() // spacing

    qtbot.wait(50)
    assert lines_needed() >= 4
    # its least height is what its lines need: a layout short of room squeezes it no further
    qtbot.waitUntil(lambda: label.minimumHeight() >= lines_needed() * spacing)
    assert label.height() >= lines_needed() * spacing
    dialog._show_error("cannot resume " * 40)  # bold, wrapped over several lines
    qtbot.waitUntil(lambda: label.minimumHeight() >= 3 * spacing and label.height() >= 3 * spacing)
    assert label.text().startswith("<b>Error: cannot resume")


def test_the_end_names_the_registered_model_and_cautions_below_bicubic(qtbot, tmp_path):
    """The Done line gave the id only (a name already taken became "… (2)" without a word),
    and a model scoring far below bicubic was offered as the next step."""
    import torch

    from sr_desktop.app.jobs import Job, JobOutcome
    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact
    from sr_desktop.engine.models.custom import add_custom_model
    from sr_desktop.engine.training.loop import TrainResult

    torch.save({"params": SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict()}, tmp_path / "m.pth")
    spec = add_custom_model(tmp_path / "m.pth", name="texture net")
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)

    def end(psnr_y: float) -> str:
        result = TrainResult(tmp_path / "run", tmp_path / "run" / "model.safetensors", 10, 1.0, 10.0,
                             {"psnr_y": psnr_y}, {"psnr_y": 30.0}, spec.id)
        dialog._on_ended(JobOutcome(Job(None, None), result))
        return dialog.status_label.text()

    better = end(31.0)
    assert f"registered as “texture net” ({spec.id})" in better and "below bicubic" not in better
    assert dialog.focusWidget() is dialog.use_button
    worse = end(23.29)
    assert "validation PSNR-Y 23.29 dB (bicubic 30.00 dB)" in worse
    assert "It scores below bicubic: train it longer (more Iterations, then Resume) before using it." in worse


def test_quitting_during_a_run_asks_and_a_restart_fills_the_stopped_run_in(qtbot, tmp_path):
    """The window quit during a run without a word (a batch is asked about), and the Train
    dialog of the next start was blank: the run's folder had to be remembered to resume it."""
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()

    def window():
        made = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
        qtbot.addWidget(made)
        return made

    first = window()
    dialog = first.training.open_dialog()
    _fill(dialog, tmp_path, 400)
    dialog.seed_spin.setValue(7)  # (the dialog's seed: the run's, filled in again with the rest)
    assert dialog.train_options().seed == 7
    seen = []
    dialog.queue.jobProgress.connect(lambda _job, info: _iteration(info) and seen.append(info.done))
    assert dialog.start()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=60_000)
    asked = []
    first.ask_stop_job = lambda parent, title, text, *rest, **kw: asked.append(text) or len(asked) > 1
    assert not first.close() and dialog.is_running()  # "no": it goes on
    assert asked[0].startswith("A training run is running (iteration ")
    assert asked[0].endswith(f"resumes it from its Run folder, {tmp_path / 'run'}.")
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=60_000):
        assert first.close()  # "yes": it stops with a checkpoint
    assert dialog.has_stopped_run()

    again = window().training.open_dialog()
    assert again.out_edit.text() == str(tmp_path / "run") and again.resume_button.isEnabled()
    assert again.arch_combo.currentText() == TINY and again.iterations_spin.value() == 400
    assert again.seed_spin.value() == 7
    assert again.status_label.text().startswith("The run in run is filled in: Resume continues it")
    # a finished run is not filled in again (Start would be refused there); its images are
    from sr_desktop.cli.main import main

    assert main(["train", "--arch", TINY, "--scale", "2", "--data", str(tmp_path / "data"), "--out",
                 str(tmp_path / "done"), "--iterations", "2", "--batch", "2", "--patch", "16", "-q"]) == 0
    GuiSettings(tmp_path / "gui.ini").set("train_run_dir", str(tmp_path / "done"))
    fresh = window().training.open_dialog()
    assert fresh.out_edit.text() == "" and fresh.data_edit.text() == str(tmp_path / "data")


def test_a_pause_before_the_first_iteration_is_said(qtbot, tmp_path):
    """Paused at once after Start, the status stayed "Preparing the network and its
    optimiser…" for as long as it was held: only the button said it."""
    from sr_desktop.engine.core.progress import TRAINING_SETUP_STAGE, ProgressInfo

    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    steps: list[str] = []
    dialog.queue.jobProgress.connect(lambda _job, info: info.stage == TRAINING_SETUP_STAGE and steps.append(
        dialog.status_label.text()))
    assert dialog.start()
    dialog.pause_button.setChecked(True)
    assert dialog.status_label.text() == "Paused before the first iteration · Reading the images…"
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=60_000)
    assert all(text.startswith("Paused before the first iteration · ") for text in steps), steps
    dialog._on_progress(ProgressInfo(0, 10, 0.0, None, stage=TRAINING_SETUP_STAGE,
                                     message="Validating the starting model…"))
    dialog.pause_button.setChecked(False)
    assert dialog.status_label.text() == "Validating the starting model…"
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        dialog.cancel()


def test_a_new_dialog_resumes_a_run_folder_with_a_checkpoint(qtbot, tmp_path):
    """Closed and opened again (or after a restart), the dialog refused Start ("use Resume")
    with Resume disabled: a stopped run could only be continued from the command line."""
    first, seen = _running(qtbot, tmp_path, 200)
    qtbot.waitUntil(lambda: len(seen) >= 25, timeout=60_000)  # (past a log line and a validation)
    with qtbot.waitSignal(first.queue.jobEnded, timeout=60_000):
        first.cancel()
    assert first.status_label.text() == "Stopped; a checkpoint was saved. Resume continues it."
    first.close()
    stopped = seen[-1]

    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    assert not dialog.resume_button.isEnabled()  # no run folder yet
    _fill(dialog, tmp_path, 200)
    assert dialog.resume_button.isEnabled() and not dialog.start()  # Start refuses, Resume is offered
    dialog.batch_spin.setValue(2)  # what a checkpoint fixes is refused in one line
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=60_000):
        assert dialog.resume()
    assert "cannot resume" in dialog.status_label.text() and "batch" in dialog.status_label.text()
    dialog.batch_spin.setValue(4)
    dialog.iterations_spin.setValue(250)  # what it can change is honoured (the run asked for 200)
    progress = []
    dialog.queue.jobProgress.connect(lambda _job, info: _iteration(info) and progress.append(info.done))
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.resume()
        # the run's curves up to its checkpoint, from its log (a new dialog showed none)
        logged = list(dialog.loss_plot.points)
        assert logged and logged[0][0] < logged[-1][0] <= stopped
        assert dialog.psnr_plot.reference is not None
        # and what ran its last validation (named only from the next validation on)
        assert dialog.val_backend in ("torch", "openvino")
        # and its last validation's previews (they stayed blank until the next validation)
        for label in (dialog.before_label, dialog.after_label):
            assert label.pixmap() is not None and not label.pixmap().isNull()
    assert dialog.result is not None and dialog.result.iterations == 250, dialog.status_label.text()
    assert min(progress) > stopped  # continued, not restarted
    assert "another learning-rate schedule: “iterations” 200 → 250" in dialog.status_label.text()

def test_the_keyboard_focus_follows_the_run_and_enter_in_a_box_adds_nothing_to_it(qtbot, tmp_path):
    """Start greyed out the options and the focus went with them: no widget had it through
    the run and after it (keys did nothing, a screen reader said nothing). Enter in Start
    from added the typed path to its list, which the next model-list refresh then dropped."""
    from PySide6.QtCore import Qt

    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    _fill(dialog, tmp_path, 4, name="focus")
    count = dialog.init_combo.count()
    dialog.init_combo.setFocus()
    dialog.init_combo.lineEdit().setText(str(tmp_path / "some.pth"))
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        qtbot.keyClick(dialog.init_combo.lineEdit(), Qt.Key.Key_Return)  # Enter presses Start
        assert dialog.is_running() and dialog.focusWidget() is dialog.pause_button
    assert dialog.init_combo.count() == count  # (not inserted)
    assert dialog.result is None and dialog.focusWidget() is dialog.start_button  # (some.pth: no such file)


def test_use_this_model_is_withdrawn_when_the_trained_model_is_removed(qtbot):
    """Removed from the model list (Models ▸ Remove…, a shell), the trained model was still
    offered by an enabled "Use this model", whose click then did nothing."""
    from types import SimpleNamespace

    from sr_desktop.engine.models.registry import list_models

    dialog = TrainDialog(models=list_models())
    qtbot.addWidget(dialog)
    dialog.result = SimpleNamespace(model_id="custom-gone")  # what a finished run with a name leaves
    dialog.use_button.setEnabled(True)
    dialog.set_models(list_models())  # (the list that follows the removal)
    assert not dialog.use_button.isEnabled()
    assert dialog.status_label.text().startswith("The trained model custom-gone was removed from the model list")


def test_tools_menu_opens_the_train_dialog_and_use_selects_the_model(qtbot, tmp_path):
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    assert window.training.action in window.tools_menu.actions()
    window.training.action.trigger()
    dialog = window.training.dialog
    assert dialog is not None and dialog.isVisible()
    window.training.action.trigger()  # a second trigger raises the same dialog
    assert window.training.dialog is dialog
    dialog.useModelRequested.emit("bicubic", 0)
    assert window.picker.model_id() == "bicubic"
    window.picker.set_scale(4)
    dialog.useModelRequested.emit("waifu2x-photo", 0)  # a model of one scale
    assert window.picker.model_id() == "waifu2x-photo" and window.picker.scale() == 2  # (it stayed ×4)
    window.picker.set_scale(2)
    # a network that serves several scales (an SRCNN trained at ×3) comes up at the run's (it stayed ×2)
    dialog.useModelRequested.emit("realesr-animevideov3", 3)
    assert window.picker.model_id() == "realesr-animevideov3" and window.picker.scale() == 3
    # a model added, then removed, from a shell: Start from follows (it offered a removed one)
    import torch

    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact
    from sr_desktop.engine.models.custom import add_custom_model, remove_custom_model

    torch.save({"params": SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict()}, tmp_path / "m.pth")
    spec = add_custom_model(tmp_path / "m.pth", name="to fine-tune")
    offered = lambda: [dialog.init_combo.itemText(i) for i in range(dialog.init_combo.count())]  # noqa: E731
    qtbot.waitUntil(lambda: spec.id in offered(), timeout=10_000)
    dialog.init_combo.setCurrentText(spec.id)
    remove_custom_model(spec.id)
    qtbot.waitUntil(lambda: spec.id not in offered(), timeout=10_000)
    assert dialog.init_combo.currentText() == "(from scratch)"  # not the removed one, kept as text
    assert f"“Start from” {spec.id} is no longer in the model list" in dialog.status_label.text()
    dialog.close()
    window.queue.shutdown(2.0)


def test_downscale_and_validation_backend_reach_the_run(qtbot, tmp_path):
    """The Downscale field and the Precision and Validation choices become the run's options;
    the status line names what ran the last validation, and the run log agrees."""
    import json

    pytest.importorskip("openvino")
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    dialog.downscale_edit.setText("0.9, 0.8")
    dialog.backend_combo.setCurrentText("openvino")
    dialog.amp_combo.setCurrentText("off")
    options = dialog.train_options()
    assert options.downscales == (0.9, 0.8) and options.backend == "openvino" and options.amp == "off"
    statuses = []
    dialog.queue.jobProgress.connect(lambda _job, _info: statuses.append(dialog.status_label.text()))
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert dialog.result is not None, dialog.status_label.text()
    assert any("dB (openvino)" in text for text in statuses), statuses[-3:]
    lines = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert {line["backend"] for line in lines if line["kind"] == "val"} == {"openvino"}
    assert [line["precision"] for line in lines if line["kind"] == "precision"] == ["fp32"]


def test_start_names_every_missing_folder_at_once(qtbot, tmp_path):
    """An empty form said "choose a run folder" (the third row), then, filled, that the Data
    folder was missing: one Start each."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.data_edit.setText("")
    assert not dialog.start()
    assert dialog.status_label.text() == ("<b>Error: choose the training images (“Data”) and a “Run folder”</b>")
    dialog.out_edit.setText(str(tmp_path / "run"))
    assert not dialog.start()
    assert dialog.status_label.text() == "<b>Error: choose the training images (“Data”)</b>"
    assert not dialog.is_running() and not (tmp_path / "run").exists()


@pytest.mark.parametrize("text, message", [("0.9 x", "Downscale takes fractions"), ("1.5", "“Downscale” takes")])
def test_a_bad_downscale_is_one_line_and_starts_nothing(qtbot, tmp_path, text, message):
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    dialog.downscale_edit.setText(text)
    assert not dialog.start()
    assert message in dialog.status_label.text() and "\n" not in dialog.status_label.text()
    assert not dialog.is_running() and not (tmp_path / "run").exists()


def test_a_new_run_starts_blank_and_errors_name_the_dialogs_fields(qtbot, tmp_path):
    """The bicubic line, the progress and the previews of the last run stayed on the next
    run's chart (its own bicubic line was never drawn); engine errors said `--out`."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    first = dialog.psnr_plot.reference
    assert first is not None and dialog.progress_bar.value() == 10
    dialog.data_edit.setText(str(tmp_path / "missing"))
    dialog.out_edit.setText(str(tmp_path / "second"))
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert "not found" in dialog.status_label.text()
    assert dialog.psnr_plot.reference is None and dialog.psnr_plot.points == []
    assert dialog.progress_bar.value() == -1  # reset: no "10/10, 100 %" of the last run
    assert dialog.after_label.pixmap().isNull() and dialog.after_label.text() == "output"
    (tmp_path / "afile").write_text("x")
    dialog.data_edit.setText(str(tmp_path / "data"))
    dialog.out_edit.setText(str(tmp_path / "afile"))
    assert not dialog.start()  # refused by the options' check, before any job
    text = dialog.status_label.text()
    assert "“Run folder”" in text and "--out" not in text


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be created")
def test_a_run_folder_that_takes_no_files_is_one_line_before_the_run(qtbot, tmp_path):
    """A run folder under /proc started the run, which then failed as "unexpected error:
    sr_run: No such file or directory" after the images were read."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    dialog.out_edit.setText("/proc/sr_run")
    assert not dialog.start() and not dialog.is_running()
    text = dialog.status_label.text()
    assert "“Run folder” /proc/sr_run: cannot write in /proc" in text and "unexpected" not in text


def test_previews_follow_the_dialog_size(qtbot):
    import numpy as np

    from sr_desktop.gui.train.dialog import PREVIEW_MIN_SIDE, PREVIEW_SIDE

    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.resize(1024, 560)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.after_label.show_pixels(np.full((64, 64, 3), 128, np.uint8))
    small = dialog.after_label.pixmap().width()
    dialog.resize(1366, 900)
    qtbot.waitUntil(lambda: dialog.after_label.pixmap().width() > small, timeout=3000)  # it kept its size
    assert PREVIEW_MIN_SIDE <= small < dialog.after_label.pixmap().width() <= PREVIEW_SIDE
    dialog.after_label.clear_preview("output")
    assert dialog.after_label.pixmap().isNull() and dialog.after_label.text() == "output"


def test_esc_stops_the_run_and_the_menu_brings_back_its_dialog(qtbot, tmp_path):
    """Esc (QDialog's reject) only hid the dialog: the run went on out of sight, the menu
    opened a blank second dialog, and closing the window left it training for a minute. Esc
    now stops the run after its iteration, with a checkpoint, as Close does; a trained model
    also joins the metrics panel's Evaluate list (only the picker got it)."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.training.action.trigger()
    dialog = window.training.dialog
    _fill(dialog, tmp_path, 2000)
    seen = []
    dialog.queue.jobProgress.connect(lambda _job, info: _iteration(info) and seen.append(info.done))
    assert dialog.start()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=60_000)
    # Esc asks first (one meant for a list stopped a run of hours): "no" keeps it running
    asked = []
    dialog.ask_stop_run = lambda parent, title, text, *rest, **kw: asked.append(text) or len(asked) > 1
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible() and dialog.is_running() and dialog.cancel_button.isEnabled()
    assert asked[0].startswith("A training run is running (iteration ")
    assert asked[0].endswith("It saves a checkpoint after its iteration: Resume continues it.")
    QTest.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and len(asked) == 2
    window.training.action.trigger()  # while it finishes its iteration: the same dialog again
    assert window.training.dialog is dialog and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=60_000)
    assert dialog.result is None and dialog.resume_button.isEnabled() and max(seen) < 2000
    dialog.close()  # stopped, closed, asked for again: its run, Resume ready (it was a blank dialog)
    window.training.action.trigger()
    assert window.training.dialog is dialog and dialog.isVisible() and dialog.resume_button.isEnabled()

    _fill(dialog, tmp_path / "second", 4, name="evaluate me")
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert dialog.result is not None, dialog.status_label.text()
    assert dialog.result.model_id in window.metrics_panel.evaluate_section.models.names()
    dialog.close()
    window.queue.shutdown(2.0)


def test_a_start_the_run_folder_refuses_keeps_the_last_runs_view(qtbot, tmp_path):
    """Start on a finished run's folder was refused by the run itself, after the dialog had
    cleared its curves and previews and disabled "Use this model"."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 6, name="kept view")
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert dialog.result is not None and dialog.use_button.isEnabled()
    points = list(dialog.loss_plot.points)
    assert not dialog.start()
    assert "already holds a training run" in dialog.status_label.text()
    assert dialog.loss_plot.points == points and dialog.use_button.isEnabled() and not dialog.is_running()


def test_a_long_runs_curve_keeps_a_bounded_evenly_spaced_series(qtbot):
    """A point an iteration: the list was copied at every point and every point drawn; at
    100,000 iterations the dialog lagged 4 s behind the run (and slowed it)."""
    from sr_desktop.gui.train.plots import MAX_POINTS, CurvePlot

    plot = CurvePlot("training loss", "#c00", log_y=True)
    qtbot.addWidget(plot)
    for i in range(1, 100_001):
        plot.add_point(i, 1.0 / i)
    xs = [x for x, _ in plot.points]
    assert MAX_POINTS // 2 <= len(xs) <= MAX_POINTS
    assert xs[0] < 100 and xs[-1] > 99_900
    gaps = {b - a for a, b in zip(xs, xs[1:], strict=False)}
    assert max(gaps) <= 2 * min(gaps)  # even along the whole run, not dense at its end only
    plot.add_point(50_000, 0.5)  # a resumed run replaces what came after its checkpoint
    assert plot.points[-1] == (50_000, 0.5) and all(x < 50_000 for x, _ in plot.points[:-1])


def test_start_from_offers_only_models_a_run_can_start_from():
    # span, srmd and waifu2x were offered, then refused after Start ("an ncnn graph this app
    # runs but cannot train"); the RRDBNets convert
    from sr_desktop.app.train_jobs import training_models
    from sr_desktop.engine.models.registry import list_models

    offered = {m.id for m in training_models(list_models())}
    assert {"realesr-animevideov3", "realesrgan-x4plus", "realsr-df2k", "fsrcnn"} <= offered
    assert not offered & {"span", "srmd", "waifu2x-photo"}


def test_start_from_takes_what_the_field_says_and_lists_a_model_just_registered(qtbot, tmp_path):
    """A path typed (or the field emptied) after a list item was picked still started from
    that item: the item's data stayed current while the text changed. And a model a run
    registered was not offered until the dialog was opened again."""
    import dataclasses

    from PySide6.QtCore import Qt

    from sr_desktop.engine.models.registry import list_models

    dialog = TrainDialog(models=list_models())
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    dialog.init_combo.setCurrentIndex(dialog.init_combo.findText("fsrcnn"))
    assert dialog.train_options().init == "fsrcnn"
    typed = str(tmp_path / "mine.safetensors")
    dialog.init_combo.lineEdit().selectAll()
    qtbot.keyClicks(dialog.init_combo.lineEdit(), typed)
    assert dialog.init_combo.currentText() == typed and dialog.train_options().init == typed
    dialog.init_combo.lineEdit().selectAll()
    qtbot.keyClick(dialog.init_combo.lineEdit(), Qt.Key.Key_Delete)
    assert dialog.train_options().init is None
    dialog.init_combo.setCurrentText(typed)
    assert dialog.init_combo.findText("custom-just-trained") == -1
    registered = dataclasses.replace(next(m for m in list_models() if m.id == "fsrcnn"), id="custom-just-trained")
    dialog.set_models([*list_models(), registered])  # (what the window does on modelTrained)
    assert dialog.init_combo.findText("custom-just-trained") >= 0
    assert dialog.init_combo.currentText() == typed  # (what the field held stays)


def test_a_command_line_run_folder_fills_the_form_and_resumes_with_its_own_settings(qtbot, tmp_path):
    """A run of `sr-desktop train … --seed 3 --ema 0` could not be resumed in the dialog: it
    has no Seed or EMA field, and Resume refused the form's defaults one at a time (arch,
    batch, patch, then seed)."""
    from sr_desktop.cli.main import main

    data = make_images(tmp_path / "data", 2, 48, seed=4)
    out = tmp_path / "cli-run"
    assert main(["train", "--arch", TINY, "--scale", "2", "--data", str(data), "--out", str(out),
                 "--iterations", "12", "--batch", "4", "--patch", "16", "--seed", "3", "--ema", "0",
                 "--lr", "5e-4", "--device", "cpu", "--name", "cli net", "-q"]) == 0
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(out))
    assert (dialog.arch_combo.currentText(), dialog.batch_spin.value(), dialog.patch_spin.value()) == (TINY, 4, 16)
    assert dialog.data_edit.text() == str(data) and dialog.iterations_spin.value() == 12
    assert dialog.name_edit.text() == "cli net"  # so that Resume updates the model it registered
    assert dialog.loss_plot.points  # its curves so far, before any Resume
    dialog.iterations_spin.setValue(16)
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.resume()
    assert dialog.result is not None and dialog.result.iterations == 16, dialog.status_label.text()
    assert (dialog.request.options.seed, dialog.request.options.ema, dialog.request.options.lr) == (3, 0.0, 5e-4)
    from sr_desktop.engine.models.custom import list_custom_specs

    mine = [s for s in list_custom_specs() if s.name.startswith("cli net")]
    assert [s.name for s in mine] == ["cli net"] and "trained here at ×2: 16 iterations" in mine[0].description


@pytest.mark.parametrize("iterations, batch, shown", [(20_000_000, 2000, (20_000_000, 2000)),
                                                      (3_000_000_000, 16, (10_000, 16))])
def test_a_run_longer_than_the_box_offers_fills_the_form(qtbot, tmp_path, iterations, batch, shown):
    """A command-line run of --iterations 3000000000 stopped the dialog with an OverflowError
    and a half-filled form; 20,000,000 was cut to the box's 10,000,000 (Resume then ran
    another length)."""
    import json

    out = tmp_path / "run"
    (out / "checkpoint").mkdir(parents=True)
    (out / "checkpoint" / "latest.json").write_text(json.dumps({
        "options": {"arch": TINY, "scale": 2, "batch": batch, "patch": 16, "data": [str(tmp_path / "data")]},
        "schedule": {"iterations": iterations}}))
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.out_edit.setText(str(out))
    assert (dialog.iterations_spin.value(), dialog.batch_spin.value()) == shown
    assert dialog.data_edit.text() == str(tmp_path / "data")  # the rest of the form is filled


@pytest.mark.parametrize("text, expected", [("0,9 0,8", (0.9, 0.8)), ("0.9, 0.8", (0.9, 0.8)),
                                            ("0.9;0.7", (0.9, 0.7)), (",5", (0.5,))])
def test_downscale_takes_a_decimal_comma(qtbot, text, expected):
    """"0,9 0,8" typed the German way was read as 0, 9, 0, 8 and refused with numbers the
    user never typed."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    dialog.downscale_edit.setText(text)
    assert dialog._downscales() == expected


def test_the_vgg_weights_of_a_perceptual_preset_have_a_field(qtbot, tmp_path, monkeypatch):
    """Three of the four loss presets need VGG19 weights, and the dialog said "pass
    --vgg-weights FILE", a flag it has no field for."""
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no cached file
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    dialog.preset_combo.setCurrentText("perceptual")
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    said = dialog.status_label.text()
    assert "give the file with “VGG19 weights”" in said and "--vgg-weights" not in said, said
    dialog.vgg_edit.setText(str(tmp_path / "vgg19.pth"))
    assert dialog.train_options().vgg_weights == str(tmp_path / "vgg19.pth")


@pytest.mark.parametrize("init, expected", [
    ("edsr", "add a checkpoint with “Models ▸ Add model…”"),
    ("custom-gone-since", "“Start from” lists them"),
])
def test_a_start_from_model_that_cannot_serve_is_said_in_the_windows_words(qtbot, tmp_path, init, expected):
    """They gave `sr-desktop models add FILE` and "'sr-desktop models' lists them"."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    dialog.arch_combo.setCurrentText("EDSR:num_feat=8,num_block=1")
    dialog.init_combo.setCurrentText(init)
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert expected in dialog.status_label.text() and "sr-desktop" not in dialog.status_label.text()


def test_the_learning_rate_has_a_field(qtbot, tmp_path):
    """The dialog had none, and a diverged run said "lower --lr", a flag the dialog cannot set;
    a resume with a rate typed runs at it, one left as filled keeps the run's."""
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 10)
    assert dialog.train_options().lr is None  # empty: the preset
    dialog.lr_edit.setText("abc")
    assert not dialog.start()
    assert "“Learning rate” takes a number such as 1e-4, got &#x27;abc&#x27;" in dialog.status_label.text()
    dialog.lr_edit.setText("2")
    assert not dialog.start()
    assert "“Learning rate” must be a number in (0, 1), got 2.0" in dialog.status_label.text()
    dialog.lr_edit.setText("3e-4")
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert dialog.result is not None and dialog.request.options.lr == 3e-4
    again = TrainDialog()
    qtbot.addWidget(again)
    again.out_edit.setText(str(tmp_path / "run"))
    assert again.lr_edit.text() == "3e-4"  # the run's own, filled in
    again.iterations_spin.setValue(12)
    again.lr_edit.setText("0,0001")  # a decimal comma
    with qtbot.waitSignal(again.queue.jobEnded, timeout=120_000):
        assert again.resume()
    assert again.result is not None and again.request.options.lr == 1e-4, again.status_label.text()


def test_lr_images_train_on_real_pairs_and_a_paired_run_fills_the_form(qtbot, tmp_path):
    """The LR images field (`train --lr-data`) turns the fields that make LR images off, its
    run trains on the given pairs, and the form of a paired run's folder shows its LR folders
    (another run's folder clears them)."""
    from test_train_pairs import make_pairs

    hr, lr = make_pairs(tmp_path, 2, 48, 2, seed=7)
    dialog = TrainDialog()
    qtbot.addWidget(dialog)
    _fill(dialog, tmp_path, 6)
    dialog.data_edit.setText(str(hr))
    assert not dialog.align_check.isEnabled()  # (for given pairs only)
    dialog.degradation_combo.setCurrentText("realesrgan")
    dialog.downscale_edit.setText("0.9")
    dialog.lr_data_edit.setText(str(lr))
    assert not dialog.degradation_combo.isEnabled() and not dialog.downscale_edit.isEnabled()
    assert "LR images are given" in dialog.degradation_combo.toolTip()
    # off, they show nothing (a greyed "realesrgan" read as used), and get their text back after
    assert (dialog.degradation_combo.currentText(), dialog.downscale_edit.text()) == ("", "")
    assert dialog.val_lr_edit.placeholderText() == "needed with Validation: its LR images"
    dialog.lr_data_edit.setText("")
    assert (dialog.degradation_combo.currentText(), dialog.downscale_edit.text()) == ("realesrgan", "0.9")
    dialog.lr_data_edit.setText(str(lr))
    options = dialog.train_options()  # (what the fields that are off hold is not used)
    assert (options.lr_data, options.degradation, options.downscales) == ((str(lr),), "bicubic", ())
    assert dialog.align_check.isEnabled() and not options.align
    dialog.align_check.setChecked(True)
    dialog.val_edit.setText(str(hr))  # validation on pairs needs their LR images
    assert dialog.start() is False and "“Validation” needs “Validation LR”" in dialog.status_label.text()
    dialog.val_lr_edit.setText(str(lr))
    with qtbot.waitSignal(dialog.queue.jobEnded, timeout=120_000):
        assert dialog.start()
    assert dialog.result is not None, dialog.status_label.text()
    again = TrainDialog()
    qtbot.addWidget(again)
    again.lr_data_edit.setText("typed before")
    again.out_edit.setText(str(tmp_path / "run"))
    assert (again.lr_data_edit.text(), again.val_lr_edit.text()) == (str(lr), str(lr))
    assert again.align_check.isChecked() and again.train_options().align
    assert not again.degradation_combo.isEnabled()
    from sr_desktop.cli.main import main

    assert main(["train", "--arch", TINY, "--scale", "2", "--data", str(hr), "--out", str(tmp_path / "made"),
                 "--iterations", "2", "--batch", "4", "--patch", "16", "--device", "cpu", "-q"]) == 0
    again.out_edit.setText(str(tmp_path / "made"))
    assert (again.lr_data_edit.text(), again.val_lr_edit.text()) == ("", "") and again.degradation_combo.isEnabled()
