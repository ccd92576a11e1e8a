"""The metrics panel: the content of the main window's right-hand "Metrics" dock.

Sections, each a widget of its own module, composed here:

* **Result** — how the last upscale ran: time, input MP/s, sizes, device, tiles, memory.
* **No-reference** — sharpness of input and result, and the consistency PSNR (the result
  downscaled by the same scale with MATLAB bicubic, against the input).
* **View** — what the compare view's after side shows: the result, or a difference /
  SSIM / gradient map. Difference and SSIM need a reference: the ground truth when an
  evaluated model is shown, otherwise the bicubic-upscaled original (the panel says which).
* **Evaluate** — treat the loaded image as ground truth, degrade it, upscale with the
  checked models and rank them (table sortable by any column + PSNR bar chart); clicking
  a model shows its result. The model list has a filter; its scale follows the scale
  picked in the window (``set_picker_scale``) until the user changes it; while an
  evaluation runs or is shown its inputs fold away and the panel scrolls to it, so the
  leaderboard is in view.

With a region set (``set_region``) the no-reference numbers and the leaderboard scores are
for that region only. All computing runs in two worker queues (one for the evaluation,
one for measurements and maps); the panel updates when results arrive. What is shown and
what has been measured lives in :class:`~sr_desktop.gui.metrics.state.MetricsState`.

Wiring (done by the main window): ``showPixels(pixels, label)`` ->
``CompareView.set_display_override`` (None = show the result again); ``imageOpened`` ->
``set_image``; ``resultReady`` -> ``set_result``; the compare view's region signals ->
``set_region``; the picker's ``optionsChanged`` -> ``set_picker_scale(picker.scale())``.
Call ``shutdown()`` when the window closes.

Over 500 lines because it composes the sections and owns the two queues that feed them,
whose results (an evaluated model's maps, the region's scores) must agree on one
reference image; each section's widget is a module of its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QScrollArea, QWidget

from sr_desktop.app.jobs import Job
from sr_desktop.app.metrics_jobs import (
    MAP_MODES,
    VIEW_MODES,
    EvalRow,
    EvaluationTask,
    MeasureFailure,
    NoReferenceNumbers,
    RunSettings,
    describe_box,
    run_task,
)
from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.kernel_file import kernel_size_note
from sr_desktop.engine.core.options import parse_sr_scale
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.evaluate import check_measurable
from sr_desktop.gui.dialog_words import in_dialog_words
from sr_desktop.gui.main_window.model_picker import PICKER_FIELDS
from sr_desktop.gui.metrics.evaluate_section import EvaluateSection, installed_models
from sr_desktop.gui.metrics.noref_section import NoReferenceSection
from sr_desktop.gui.metrics.result_section import ResultSection
from sr_desktop.gui.metrics.state import Evaluation, MetricsState
from sr_desktop.gui.metrics.view_saving import VIEW_FILE_FILTER, shown_view, suggested_view_path, write_view
from sr_desktop.gui.metrics.view_section import ViewSection
from sr_desktop.gui.side_panel_layout import scrollable_column
from sr_desktop.gui.widgets import WrapLabel, announce
from sr_desktop.gui.worker import JobQueue, run_beside_ui

PREFERRED_WIDTH = 340


class MetricsPanel(QWidget):
    """Metrics of the current image and result, view switch and evaluate mode."""

    #: (H×W×C uint8 pixels, label) for the compare view's after side; None = the result
    showPixels = Signal(object, str)
    viewModeChanged = Signal(str)  # "result" | "difference" | "ssim" | "gradient"
    #: rows of a finished evaluation: dicts with model, psnr_y, ssim_y, seconds
    evaluationFinished = Signal(list)
    #: new numbers or a map arrived from the worker (the panel has been updated)
    measurementsUpdated = Signal()

    def __init__(self, parent=None, models_provider: Callable[[], list] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricsPanel")
        self.models_provider = models_provider or installed_models
        self._state = MetricsState()
        self._closed = False
        self._run_settings = RunSettings()
        #: ask_view_path(suggested path) -> the chosen path or None (a file dialog; injectable)
        self.ask_view_path: Callable[[Path], Path | None] = self._ask_view_path_dialog
        #: the folder Save view… suggests for an image without one of its own (the window's last folder)
        self.default_dir: Callable[[], Path] = Path.home
        self._saved_view: tuple | None = None  # (subject key, mode) the "Saved …" line is about

        self._measure_queue = JobQueue(self, runner=run_task)
        self._measure_queue.jobFinished.connect(self._on_measure_finished)
        self._measure_queue.jobFailed.connect(self._on_measure_failed)
        self._eval_queue = JobQueue(self, runner=run_task)
        #: an evaluation started (True) or ended (False)
        self.evaluationBusyChanged = self._eval_queue.busyChanged
        self._eval_queue.jobProgress.connect(self._on_eval_progress)
        self._eval_queue.jobFinished.connect(self._on_eval_finished)
        self._eval_queue.jobFailed.connect(self._on_eval_failed)
        self._eval_queue.jobCancelled.connect(self._on_eval_cancelled)

        self._build_ui()
        self.reload_models()
        self._refresh_all()

    def sizeHint(self) -> QSize:
        # wide enough for readable model names beside the leaderboard's numbers
        return super().sizeHint().expandedTo(QSize(PREFERRED_WIDTH, 0))

    def _build_ui(self) -> None:
        content, layout = scrollable_column(self)
        self._scroll = self.findChild(QScrollArea)
        self._scroll.setAccessibleName("Metrics")
        # while an evaluation runs, the panel keeps it in view as the content grows
        self._follow_evaluation = False
        self._scroll.verticalScrollBar().rangeChanged.connect(self._keep_evaluation_in_view)
        self._scroll.verticalScrollBar().actionTriggered.connect(self._stop_following_evaluation)
        self.region_label = WrapLabel("", content)
        self.region_label.setObjectName("regionLabel")
        # palette roles, not a style sheet: they follow a colour scheme switched at run time
        self.region_label.setAutoFillBackground(True)
        self.region_label.setBackgroundRole(QPalette.ColorRole.Highlight)
        self.region_label.setForegroundRole(QPalette.ColorRole.HighlightedText)
        self.region_label.setContentsMargins(4, 3, 4, 3)
        layout.addWidget(self.region_label)

        self.result_section = ResultSection(content)
        self.noref_section = NoReferenceSection(content)
        self.view_section = ViewSection(content)
        self.evaluate_section = EvaluateSection(content)
        for section in (self.result_section, self.noref_section, self.view_section,
                        self.evaluate_section):
            layout.addWidget(section)
        layout.addStretch(1)
        self.view_section.modeClicked.connect(self.set_view_mode)
        self.view_section.back_to_result.clicked.connect(self.show_upscale_result)
        self.view_section.save_button.clicked.connect(lambda _checked=False: self.save_view())
        self.evaluate_section.runRequested.connect(self._on_run_requested)
        self.evaluate_section.cancel_button.clicked.connect(self.cancel_evaluation)
        self.evaluate_section.leaderboard.modelActivated.connect(self.show_evaluated_model)

        # The sections' widgets under the names the window and the tests have always used.
        r, n, v, e = self.result_section, self.noref_section, self.view_section, self.evaluate_section
        self.result_model, self.result_time, self.result_size = r.model, r.time, r.size
        self.result_device, self.result_tiles, self.result_memory = r.device, r.tiles, r.memory
        self.result_backend = r.backend
        self.sharpness_label, self.consistency_label = n.sharpness, n.consistency
        self.niqe_label = n.niqe
        self.view_buttons, self.view_note = v.buttons, v.note
        self.back_to_result = v.back_to_result
        self.model_list, self.scale_spin, self.degradation_combo = e.model_list, e.scale_spin, e.degradation_combo
        self.run_button, self.cancel_button = e.run_button, e.cancel_button
        self.eval_status, self.leaderboard = e.status, e.leaderboard

    @property
    def choose_kernel_file(self) -> Callable[[], str]:
        """Asks for a kernel .npy file (returns a path or ""); replaceable in tests."""
        return self.evaluate_section.choose_kernel_file

    @choose_kernel_file.setter
    def choose_kernel_file(self, ask: Callable[[], str]) -> None:
        self.evaluate_section.choose_kernel_file = ask

    @property
    def _kernel(self) -> np.ndarray | None:
        """The estimated kernel offered as a degradation (normalised), or None."""
        return self.evaluate_section.kernel

    # ================================================================ public API
    def reload_models(self) -> None:
        """Refill the model checklist from ``models_provider`` (checked ones stay checked)."""
        try:
            models = list(self.models_provider())
        except SRDesktopError as exc:
            models = []
            self.eval_status.setText(f"Cannot list models: {exc}")
        self.evaluate_section.set_models(models)

    def checked_models(self) -> list[str]:
        """Ids of the models checked in the evaluate list, in list order."""
        return self.evaluate_section.checked_models()

    def set_checked_models(self, model_ids) -> None:
        self.evaluate_section.set_checked_models(model_ids)

    def set_image(self, image) -> None:
        """The loaded original (engine `Image`) or None. Forgets result, region, evaluation."""
        self._eval_queue.cancel()
        self._measure_queue.cancel()
        st = self._state
        st.image = image
        st.result = None
        st.region_result = None
        st.result_gen += 1
        st.box = None
        st.eval = None
        st.selected_model = None
        st.cache.clear()
        self._follow_evaluation = False
        self.evaluate_section.reset_progress()
        if st.mode != "result":
            st.mode = "result"
            self.viewModeChanged.emit("result")
        self._refresh_all()

    def set_result(self, result) -> None:
        """The last whole-image upscale (`UpscaleResult`) or None; starts the no-reference
        measurements in the worker. An evaluated model shown before is deselected."""
        st = self._state
        st.result = result
        st.region_result = None
        st.result_gen += 1
        st.selected_model = None
        self.leaderboard.set_selected(None)
        st.prune()
        self._refresh_all()
        self._request_measurements()
        if st.mode in MAP_MODES:
            self._show_current()

    def set_region_result(self, result) -> None:
        """A region's result (`UpscaleResult`) shown instead of a whole-image one, or None: its
        run is shown; the numbers and maps, of whole-image results, wait for one."""
        self.set_result(None)
        self._state.region_result = result
        self._refresh_all()

    def set_region(self, box: tuple | None) -> None:
        """(x, y, w, h) in original pixels, or None: the numbers are for that region only."""
        if box is not None:
            x, y, w, h = (int(v) for v in box)
            box = (x, y, w, h) if w > 0 and h > 0 else None
        if box == self._state.box:
            return
        self._state.box = box
        self._refresh_all()
        self._request_measurements()

    def region(self) -> tuple | None:
        return self._state.box

    def view_mode(self) -> str:
        return self._state.mode

    def set_view_mode(self, mode: str) -> None:
        """Switch what the after side shows; emits ``viewModeChanged`` and then
        ``showPixels`` (at once, or when the map has been computed in the worker)."""
        if mode not in VIEW_MODES:
            raise ValueError(f"view mode must be one of {', '.join(VIEW_MODES)}, got {mode!r}")
        if mode == self._state.mode:
            self.view_section.check_mode(mode)
            return
        self._state.mode = mode
        self.view_section.check_mode(mode)
        self.viewModeChanged.emit(mode)
        self._show_current()

    def display_pixels_for_mode(self, mode: str) -> np.ndarray | None:
        """What the after side shows in `mode`: the result (or the evaluated model's SR
        image) for "result", the map (H×W×3 uint8, result size) otherwise. None when
        there is nothing to show. Uses the cached map, or computes it here (blocking)."""
        if mode not in VIEW_MODES:
            raise ValueError(f"view mode must be one of {', '.join(VIEW_MODES)}, got {mode!r}")
        return self._state.map_now(mode)

    def shows_evaluated_model(self) -> bool:
        """Whether the after side is given an evaluated model's result or maps (beside them the
        loaded image is the ground truth)."""
        source = self._state.map_source()
        return source is not None and source.key[0] == "eval"

    def set_run_settings(self, settings: RunSettings) -> None:
        """Device, tile, precision and backend the evaluated models run with (the window's
        Advanced choices, as its upscales take them)."""
        self._run_settings = settings

    def set_picker_scale(self, scale: int) -> None:
        """The scale picked for upscaling: the evaluation uses it unless the user set
        another one in the Evaluate section."""
        self.evaluate_section.set_picker_scale(scale)

    def set_kernel(self, kernel: np.ndarray | None, scale: int | None = None, estimated: bool = True,
                   origin: str = "") -> None:
        """The kernel panel's blur kernel (estimated, e.g. by KernelGAN, from the image named
        `origin`, or a file loaded there: `estimated` False) for ×`scale` (None: not known),
        offered as a degradation; None removes the choice. Raises `EvaluationError` for an
        unusable kernel."""
        self.evaluate_section.set_kernel(kernel, scale, estimated, origin)

    def run_evaluation(self, model_ids: list[str], scale: int, degradation: str = "bicubic") -> Job:
        """Evaluate mode: degrade the loaded image (the ground truth) ×`scale` by
        `degradation` ("bicubic", "kernel:FILE.npy", or "estimated" for the kernel given to
        ``set_kernel``), upscale with each model, score PSNR/SSIM (Y). One cancellable
        worker job; the leaderboard fills as rows arrive; ``evaluationFinished`` at the end.

        Raises `SRDesktopError` (one line) for what cannot start: no image, no model,
        bad scale, bad kernel. A running evaluation is cancelled and replaced.
        """
        st = self._state
        if self._closed:
            raise EvaluationError("the metrics panel is shut down")
        if st.image is None:
            raise EvaluationError("open an image first: it is the ground truth of the evaluation")
        model_ids = [str(m) for m in model_ids]
        if not model_ids:
            raise EvaluationError("check at least one model to evaluate")
        scale = parse_sr_scale(scale)
        deg = self.evaluate_section.degradation_for(degradation, scale)
        check_measurable(st.image.width, st.image.height, scale)  # one line, not a failure per model
        self._eval_queue.cancel()
        task = EvaluationTask(st.image.pixels, model_ids, scale, deg, self._run_settings)
        job = Job(st.image, task)
        st.eval_gen += 1
        # a kernel file by its name: its whole path made the folded summary 740 px wide and
        # pushed the panel's Run button and numbers behind a scroll bar
        described = deg.describe()
        if described.startswith("kernel:"):
            described = "kernel:" + Path(described[len("kernel:"):]).name
        st.eval = Evaluation(st.eval_gen, job, scale, described, model_ids, self._run_settings.scored_precision)
        st.selected_model = None
        self.leaderboard.set_selected(None)
        st.prune()
        note = None
        if deg.kernel is not None and described.startswith("kernel:"):
            # (a ×2 estimate saved to a file degraded a ×4 evaluation without a word)
            note = kernel_size_note(described[len("kernel:"):], deg.kernel, scale, "it blurred the images as given")
        self.evaluate_section.show_started(len(model_ids), scale, described, note)
        self._eval_queue.submit(job)
        self._refresh_all()
        self._show_current()  # (the model shown before is gone from the leaderboard: its image too)
        self._follow_evaluation = True
        QTimer.singleShot(0, self.scroll_to_evaluation)  # once the folded inputs are laid out
        return job

    def scroll_to_evaluation(self) -> None:
        """Scroll the panel so the Evaluate section starts at the top (its progress and
        the leaderboard below it in view)."""
        content = self._scroll.widget()
        content.layout().activate()
        top = self.evaluate_section.mapTo(content, self.evaluate_section.rect().topLeft()).y()
        self._scroll.verticalScrollBar().setValue(top)

    def _keep_evaluation_in_view(self, *_range) -> None:
        if self._follow_evaluation:
            self.scroll_to_evaluation()

    def _stop_following_evaluation(self, *_action) -> None:
        self._follow_evaluation = False  # the user scrolls: the panel stays where they put it

    def cancel_evaluation(self) -> None:
        """Stop the running evaluation (between tiles); rows already done stay."""
        self._eval_queue.cancel()

    def is_evaluating(self) -> bool:
        return self._state.eval is not None and self._state.eval.running

    def evaluation_rows(self) -> list[dict]:
        """The leaderboard's rows (whole image): dicts with model, psnr_y, ssim_y, seconds."""
        if self._state.eval is None:
            return []
        return [row.to_dict() for row in self._state.eval.rows.values()]

    def evaluated_pixels(self, model: str) -> np.ndarray | None:
        """The SR image a model made in the evaluation (ground-truth size), or None."""
        row = self._evaluated_row(model)
        return row.sr if row is not None else None

    def region_scores(self) -> dict | None:
        """``{model: (psnr_y, ssim_y) | "message"}`` for the current region, None while not
        computed (or without region/evaluation)."""
        key = self._state.region_key()
        value = self._state.cache.get(key) if key is not None else None
        return value if isinstance(value, dict) else None

    def no_reference_numbers(self) -> NoReferenceNumbers | None:
        """The no-reference numbers of the current result and region (None until computed)."""
        value = self._state.cache.get(self._state.noref_key())
        return value if isinstance(value, NoReferenceNumbers) else None

    def is_measuring(self) -> bool:
        return self._measure_queue.is_busy()

    def show_evaluated_model(self, model: str) -> None:
        """Show `model`'s evaluation result (view → Result) and make it the maps' subject."""
        row = self._evaluated_row(model)
        if row is None or row.sr is None:
            self.eval_status.setText(f"{model}: no result to show"
                                     + (f" ({row.error})" if row is not None and row.error else ""))
            return
        self._select_model(model)
        if self._state.mode != "result":
            self._state.mode = "result"
            self.view_section.check_mode("result")
            self.viewModeChanged.emit("result")
        self._show_current()

    def save_view(self, path: str | Path | None = None) -> Path | None:
        """Save view…: the map or evaluated model's result the after side shows, whole, as PNG
        or TIFF (`view_saving`); asks for the path when not given. The path written, or None
        (nothing to save, cancelled, or refused: said in the section's line)."""
        view = shown_view(self._state)
        if view is None:
            return None
        if path is None:
            path = self.ask_view_path(suggested_view_path(self._state.image, view.name_tail, self.default_dir()))
            if not path:
                return None
        path = Path(path)
        if not path.suffix:  # (a name typed without one, where the dialog adds none)
            path = path.with_suffix(".png")
        image_path = getattr(self._state.image, "path", None)
        try:
            written = run_beside_ui(lambda: write_view(view, path, (image_path,) if image_path else ()))
        except (SRDesktopError, OSError) as exc:
            self.view_section.saved.setText(f"Not saved: {one_line(exc)}")
            return None
        source = self._state.map_source()
        self._saved_view = (source.key, self._state.mode) if source is not None else None
        self.view_section.saved.setText(f"Saved {view.what} as {written.name}")
        return written

    def _ask_view_path_dialog(self, suggested: Path) -> Path | None:
        from PySide6.QtWidgets import QFileDialog

        dialog = QFileDialog(self, "Save view", str(suggested.parent), VIEW_FILE_FILTER)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        # a name typed without a suffix gets the chosen type's, and "Replace?" is asked of it
        dialog.setDefaultSuffix("png")
        dialog.filterSelected.connect(lambda chosen: dialog.setDefaultSuffix("tif" if "TIFF" in chosen else "png"))
        dialog.selectFile(suggested.name)
        if not dialog.exec() or not dialog.selectedFiles():
            return None
        return Path(dialog.selectedFiles()[0])

    def show_upscale_result(self) -> None:
        """Leave the evaluated model: the maps and the after side are the upscale again."""
        if self._state.selected_model is None:
            return
        self._select_model(None)
        self._show_current()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel all work and wait for the worker threads (call when the window closes)."""
        self._closed = True
        a = self._eval_queue.shutdown(timeout)
        b = self._measure_queue.shutdown(timeout)
        return a and b

    def _evaluated_row(self, model: str) -> EvalRow | None:
        ev = self._state.eval
        return ev.rows.get(model) if ev is not None else None

    def _select_model(self, model: str | None) -> None:
        self._state.selected_model = model
        self.leaderboard.set_selected(model)
        self._state.prune()

    # ================================================================ measurements
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._request_measurements()  # what changed while it was hidden

    def hideEvent(self, event) -> None:
        super().hideEvent(event)
        if not self._can_be_seen():
            self._measure_queue.cancel()  # asked again when shown

    def _can_be_seen(self) -> bool:
        """Shown, or would be with its window: a panel in a closed dock measures nothing,
        as NIQE of a large result takes seconds of the CPU the next upscale needs."""
        window = self.window()
        return window is self or self.isVisibleTo(window)

    def _request_measurements(self) -> None:
        if self._closed or not self._can_be_seen():
            return
        running = self._measure_queue.running
        exclude = running.options.keys() if running is not None else set()
        task = self._state.missing_task(exclude)
        if task is None:
            return
        pending = self._measure_queue.pending
        if pending is not None and pending.options.keys() == task.keys():
            return
        self._measure_queue.submit(Job(self._state.image, task))

    def _on_measure_finished(self, job: Job, outputs: dict) -> None:
        self._state.cache.update(outputs)
        self._state.prune()
        self._refresh_all()
        map_key = self._state.current_map_key()
        if map_key is not None and map_key in outputs:
            self._show_current()
        self.measurementsUpdated.emit()
        self._request_measurements()

    def _on_measure_failed(self, job: Job, message: str) -> None:
        for key in job.options.keys():
            self._state.cache[key] = MeasureFailure(message)
        self._state.prune()
        self._refresh_all()
        self.measurementsUpdated.emit()

    def _show_current(self) -> None:
        """Emit ``showPixels`` for the current mode and subject (maps: when available)."""
        st = self._state
        source = st.map_source()
        if st.mode == "result":
            if source is not None and source.key[0] == "eval":
                self.showPixels.emit(source.pixels, source.what)
            else:
                self.showPixels.emit(None, "Result")
        elif source is not None:
            key = ("map", st.mode) + source.key
            value = st.cache.get(key)
            if isinstance(value, np.ndarray):
                self.showPixels.emit(value, st.map_caption(key))
            elif value is None:
                self._request_measurements()
        else:  # no subject left for a map: the last one's map must not stay on screen
            self.showPixels.emit(None, "Result")
        self._refresh_view_section()

    # ================================================================ evaluation
    def _current_eval(self, job: Job) -> Evaluation | None:
        """The shown evaluation if `job` runs it (reports of replaced runs are dropped)."""
        ev = self._state.eval
        return ev if ev is not None and job is ev.job else None

    def _on_eval_progress(self, job: Job, info) -> None:
        ev = self._current_eval(job)
        if ev is None:
            return
        if "hr" in info.extra:
            ev.hr = info.extra["hr"]
        row: EvalRow | None = info.extra.get("row")
        if row is not None:
            row = _in_window_words(row)
            ev.rows[row.model] = row
        self.evaluate_section.show_progress(info)
        self._refresh_leaderboard()
        if row is not None:
            self._request_measurements()

    def _on_eval_finished(self, job: Job, rows: list) -> None:
        ev = self._current_eval(job)
        if ev is None:
            return
        ev.running = False
        rows = [_in_window_words(row) for row in rows]
        for row in rows:
            ev.rows[row.model] = row
        self.evaluate_section.show_finished(rows)
        self._refresh_all()
        self.evaluationFinished.emit([r.to_dict() for r in rows])

    def _on_eval_failed(self, job: Job, message: str) -> None:
        self._eval_stopped(job, f"Evaluation failed: {in_dialog_words(message, PICKER_FIELDS)}")

    def _on_eval_cancelled(self, job: Job) -> None:
        ev = self._current_eval(job)
        if ev is not None:
            self._eval_stopped(job, f"Cancelled after {len(ev.rows)} of {len(ev.models)} models")

    def _eval_stopped(self, job: Job, status: str) -> None:
        ev = self._current_eval(job)
        if ev is None:
            return
        ev.running = False
        self.eval_status.setText(status)
        announce(self, status)  # (unread without the focus)
        self._refresh_all()

    def _on_run_requested(self, model_ids: list, scale: int, degradation: str) -> None:
        try:
            self.run_evaluation(model_ids, scale, degradation)
        except SRDesktopError as exc:
            self.eval_status.setText(in_dialog_words(one_line(exc), PICKER_FIELDS))

    # ================================================================ display
    def _refresh_all(self) -> None:
        st = self._state
        region_only = st.result is None and st.region_result is not None
        if st.box is None:
            self.region_label.hide()
        else:
            # (with only the region's own run shown there are no numbers yet: the region's are
            # measured on a whole-image result, and the line said they were there)
            self.region_label.setText(
                f"Region {describe_box(st.box)}: "
                + ("its numbers come with a whole-image result (Apply to whole image)" if region_only
                   else "the numbers are for this region"))
            self.region_label.show()
        if region_only:
            self.result_section.show_result(st.region_result, None, region=True)
        else:
            self.result_section.show_result(st.result, st.image)
        self.noref_section.show_numbers(st.result, st.cache.get(st.noref_key()), region_shown=region_only)
        self._refresh_view_section()
        self._refresh_leaderboard()
        self.evaluate_section.show_running(self.is_evaluating(), st.image is not None)

    def _refresh_view_section(self) -> None:
        st = self._state
        self.view_section.check_mode(st.mode)
        source = st.map_source()
        evaluated = source is not None and source.key[0] == "eval"
        self.back_to_result.setVisible(evaluated and st.result is not None)
        self.view_note.setText(st.view_note())
        self.view_section.save_button.setVisible(shown_view(st) is not None)
        if self._saved_view != ((source.key, st.mode) if source is not None else None):
            self.view_section.saved.setText("")  # (about a view no longer shown)
            self._saved_view = None

    def _refresh_leaderboard(self) -> None:
        self.leaderboard.set_rows(self._state.leader_rows())
        if self._state.eval is None:
            self.leaderboard.set_note("")
            return
        self.leaderboard.set_selected(self._state.selected_model)
        self.leaderboard.set_note(self._state.leaderboard_note())


def _in_window_words(row: EvalRow) -> EvalRow:
    """`row` with its error naming the window's Advanced fields, not the command line's flags
    ("try a smaller “Tile”": the evaluation runs with the window's tile, device and precision)."""
    return dataclasses.replace(row, error=in_dialog_words(row.error, PICKER_FIELDS)) if row.error else row
