"""The metrics panel: the content of the main window's right-hand "Metrics" dock.

Sections:

* **Result** — how the last upscale ran: time, input MP/s, sizes, device, tiles, memory.
* **No-reference** — sharpness of input and result, and the consistency PSNR (the result
  downscaled by the same scale with MATLAB bicubic, against the input).
* **View** — what the compare view's after side shows: the result, or a difference /
  SSIM / gradient map. Difference and SSIM need a reference: the ground truth when an
  evaluated model is shown, otherwise the bicubic-upscaled original (the panel says which).
* **Evaluate** — treat the loaded image as ground truth, degrade it, upscale with the
  checked models and rank them (table sortable by any column + PSNR bar chart); clicking
  a model shows its result.

With a region set (``set_region``) the no-reference numbers and the leaderboard scores are
for that region only. All computing runs in two worker queues (one for the evaluation,
one for measurements and maps); the panel updates when results arrive.

Wiring (done by the main window): ``showPixels(pixels, label)`` ->
``CompareView.set_display_override`` (None = show the result again); ``imageOpened`` ->
``set_image``; ``resultReady`` -> ``set_result``; the compare view's region signals ->
``set_region``. Call ``shutdown()`` when the window closes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.metrics.degradation import Degradation, parse_degradation, validate_kernel
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.gui.metrics.leaderboard import Leaderboard, LeaderRow, WrapLabel
from sr_desktop.app.metrics_jobs import (
    MAP_MODES,
    REFERENCE_MODES,
    VIEW_MODES,
    EvalRow,
    EvaluationTask,
    MapRequest,
    MeasureFailure,
    MeasureTask,
    NoReferenceNumbers,
    NoReferenceRequest,
    RegionRequest,
    bicubic_reference,
    describe_box,
    difference_scale,
    display_map,
    run_task,
    scale_key,
)
from sr_desktop.gui.worker import Job, JobQueue
from sr_desktop.gui.side_panel_layout import scrollable_column

log = logging.getLogger(__name__)

MODE_TITLES = {"result": "Result", "difference": "Difference", "ssim": "SSIM", "gradient": "Gradient"}
MODE_TIPS = {
    "result": "Show the upscaled result",
    "difference": "Heat map of |result − reference| (bright = large difference)",
    "ssim": "Per-pixel SSIM of the Y channel against the reference (bright = similar)",
    "gradient": "Gradient magnitude of the result (SPSR's structure map: where edges are)",
}
FALLBACK_MODELS = [("bicubic", "Bicubic"), ("lanczos", "Lanczos")]


def installed_models() -> list[tuple[str, str]]:
    """(id, name) of the registry's installed models; the resampling baselines when the
    registry is unavailable. Per-image models (ZSSR: minutes per image) are left out."""
    try:
        from sr_desktop.engine.models.registry import list_models

        specs = list_models()
    except (ImportError, SRDesktopError) as exc:
        log.warning("model registry unavailable for the evaluate mode: %s", exc)
        specs = []
    models = [(s.id, s.name) for s in specs if s.installed and s.kind != "per_image"]
    return models or list(FALLBACK_MODELS)


def human_bytes(n: int | None) -> str:
    if not n:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _fmt_db(value: float) -> str:
    return "∞ dB (identical)" if math.isinf(value) else f"{value:.2f} dB"


@dataclass
class _Evaluation:
    """The evaluate-mode run the leaderboard shows."""

    gen: int
    job: Job
    scale: int
    degradation: str
    models: list[str]
    hr: np.ndarray | None = None
    rows: dict = field(default_factory=dict)  # model -> EvalRow, in arrival order
    running: bool = True


@dataclass
class _MapSource:
    key: tuple
    pixels: np.ndarray
    reference: np.ndarray | None  # ground truth, or None = bicubic-upscaled original
    what: str


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
        #: asks for a kernel .npy file (returns a path or ""); replaceable in tests
        self.choose_kernel_file: Callable[[], str] = self._ask_kernel_file

        self._image = None
        self._result = None
        self._result_gen = 0
        self._box: tuple[int, int, int, int] | None = None
        self._mode = "result"
        self._kernel: np.ndarray | None = None
        self._eval: _Evaluation | None = None
        self._eval_gen = 0
        self._selected_model: str | None = None
        self._cache: dict = {}
        self._last_degradation_index = 0
        self._closed = False

        self._measure_queue = JobQueue(self, runner=run_task)
        self._measure_queue.jobFinished.connect(self._on_measure_finished)
        self._measure_queue.jobFailed.connect(self._on_measure_failed)
        self._eval_queue = JobQueue(self, runner=run_task)
        self._eval_queue.jobProgress.connect(self._on_eval_progress)
        self._eval_queue.jobFinished.connect(self._on_eval_finished)
        self._eval_queue.jobFailed.connect(self._on_eval_failed)
        self._eval_queue.jobCancelled.connect(self._on_eval_cancelled)

        self._build_ui()
        self.reload_models()
        self._refresh_all()

    # ================================================================ construction
    def _build_ui(self) -> None:
        content, layout = scrollable_column(self)

        self.region_label = WrapLabel("", content)
        self.region_label.setObjectName("regionLabel")
        self.region_label.setStyleSheet(
            "QLabel#regionLabel { background: palette(highlight); color: palette(highlighted-text);"
            " border-radius: 3px; }")
        self.region_label.setContentsMargins(4, 3, 4, 3)
        layout.addWidget(self.region_label)

        layout.addWidget(self._build_result_section(content))
        layout.addWidget(self._build_noref_section(content))
        layout.addWidget(self._build_view_section(content))
        layout.addWidget(self._build_evaluate_section(content))
        layout.addStretch(1)

    @staticmethod
    def _value_label(parent) -> QLabel:
        label = WrapLabel("—", parent)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    @staticmethod
    def _form(box: QWidget) -> QFormLayout:
        form = QFormLayout(box)
        form.setContentsMargins(6, 4, 6, 6)
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(3)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        return form

    def _build_result_section(self, parent) -> QGroupBox:
        box = QGroupBox("Result", parent)
        form = self._form(box)
        self.result_model = self._value_label(box)
        self.result_time = self._value_label(box)
        self.result_size = self._value_label(box)
        self.result_device = self._value_label(box)
        self.result_tiles = self._value_label(box)
        self.result_memory = self._value_label(box)
        self.result_memory.setToolTip("GPU: peak memory allocated by torch; CPU: process memory")
        form.addRow("Model", self.result_model)
        form.addRow("Time", self.result_time)
        form.addRow("Size", self.result_size)
        form.addRow("Device", self.result_device)
        form.addRow("Tiles", self.result_tiles)
        form.addRow("Memory", self.result_memory)
        return box

    def _build_noref_section(self, parent) -> QGroupBox:
        box = QGroupBox("No-reference", parent)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        inner = QWidget(box)
        form = self._form(inner)
        column.addWidget(inner)
        self.sharpness_label = self._value_label(box)
        self.sharpness_label.setToolTip(
            "Mean gradient magnitude of the luma (0..255 scale), input → result. Higher = more "
            "fine detail (or noise); the result is larger, so compare results with each other.")
        self.laplacian_label = self._value_label(box)
        self.laplacian_label.setToolTip("Variance of the Laplacian of the luma, input → result")
        self.consistency_label = self._value_label(box)
        self.consistency_label.setToolTip(
            "The result downscaled by the same scale (MATLAB bicubic) against the input: "
            "high = faithful to the input; low = invented content or colour shifts")
        form.addRow("Sharpness", self.sharpness_label)
        form.addRow("Laplacian", self.laplacian_label)
        form.addRow("Consistency", self.consistency_label)
        # Under the form, not a form row: a wrapped label spanning a QFormLayout row is
        # given too little height and its lines overlap the group's frame.
        self.noref_status = WrapLabel("", box)
        self.noref_status.setEnabled(False)  # greyed: a hint, not a value
        self.noref_status.setContentsMargins(6, 0, 6, 6)
        column.addWidget(self.noref_status)
        return box

    def _build_view_section(self, parent) -> QGroupBox:
        box = QGroupBox("View", parent)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        row = QHBoxLayout()
        row.setSpacing(0)
        self.view_group = QButtonGroup(box)
        self.view_group.setExclusive(True)
        self.view_buttons: dict[str, QToolButton] = {}
        for mode in VIEW_MODES:
            button = QToolButton(box)
            button.setText(MODE_TITLES[mode])
            button.setToolTip(MODE_TIPS[mode])
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setObjectName(f"view_{mode}")
            button.clicked.connect(lambda _checked=False, m=mode: self.set_view_mode(m))
            self.view_group.addButton(button)
            self.view_buttons[mode] = button
            row.addWidget(button)
        layout.addLayout(row)
        self.view_note = WrapLabel("", box)
        layout.addWidget(self.view_note)
        self.back_to_result = QPushButton("Show the upscale result", box)
        self.back_to_result.setToolTip("Leave the evaluated model and show the last upscale again")
        self.back_to_result.clicked.connect(self.show_upscale_result)
        layout.addWidget(self.back_to_result)
        return box

    def _build_evaluate_section(self, parent) -> QGroupBox:
        box = QGroupBox("Evaluate", parent)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(4)
        intro = WrapLabel("The loaded image is the ground truth: it is degraded, upscaled by "
                          "each checked model and compared with itself.", box)
        intro.setEnabled(False)
        layout.addWidget(intro)
        self.model_list = QListWidget(box)
        self.model_list.setToolTip("Models to compare")
        layout.addWidget(self.model_list)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(3)
        self.scale_spin = QSpinBox(box)
        self.scale_spin.setRange(2, 8)
        self.scale_spin.setValue(4)
        self.scale_spin.setPrefix("×")
        form.addRow("Scale", self.scale_spin)
        self.degradation_combo = QComboBox(box)
        self.degradation_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.degradation_combo.setMinimumContentsLength(10)
        self.degradation_combo.addItem("Bicubic (MATLAB)", "bicubic")
        self.degradation_combo.addItem("Kernel file (.npy)…", "choose")
        self.degradation_combo.setToolTip("How the low-resolution input is made from the image")
        self.degradation_combo.activated.connect(self._on_degradation_activated)
        form.addRow("Degrade", self.degradation_combo)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run", box)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.cancel_button = QPushButton("Cancel", box)
        self.cancel_button.clicked.connect(self.cancel_evaluation)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.eval_progress = QProgressBar(box)
        self.eval_progress.setTextVisible(True)
        self.eval_progress.setMaximumHeight(14)
        layout.addWidget(self.eval_progress)
        self.eval_status = WrapLabel("", box)
        layout.addWidget(self.eval_status)

        layout.addSpacing(4)
        self.leaderboard = Leaderboard(box)
        self.leaderboard.modelActivated.connect(self.show_evaluated_model)
        layout.addWidget(self.leaderboard)
        return box

    # ================================================================ public API
    def reload_models(self) -> None:
        """Refill the model checklist from ``models_provider`` (checked ones stay checked)."""
        checked = set(self.checked_models())
        try:
            models = list(self.models_provider())
        except SRDesktopError as exc:
            models = []
            self.eval_status.setText(f"Cannot list models: {exc}")
        self.model_list.clear()
        for model_id, name in models:
            item = QListWidgetItem(name if name == model_id else f"{name}  ({model_id})")
            item.setData(Qt.ItemDataRole.UserRole, model_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if model_id in checked else Qt.CheckState.Unchecked)
            self.model_list.addItem(item)
        rows = max(2, min(self.model_list.count(), 6))
        self.model_list.setFixedHeight(rows * self.model_list.sizeHintForRow(0)
                                       + 2 * self.model_list.frameWidth() + 2
                                       if self.model_list.count() else 48)

    def checked_models(self) -> list[str]:
        """Ids of the models checked in the evaluate list, in list order."""
        out = []
        for i in range(self.model_list.count()):
            item = self.model_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def set_checked_models(self, model_ids) -> None:
        wanted = set(model_ids)
        for i in range(self.model_list.count()):
            item = self.model_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def set_image(self, image) -> None:
        """The loaded original (engine `Image`) or None. Forgets result, region, evaluation."""
        self._eval_queue.cancel()
        self._measure_queue.cancel()
        self._image = image
        self._result = None
        self._result_gen += 1
        self._box = None
        self._eval = None
        self._selected_model = None
        self._cache.clear()
        self.leaderboard.clear()
        self.eval_progress.reset()
        self.eval_status.setText("")
        if self._mode != "result":
            self._mode = "result"
            self.viewModeChanged.emit("result")
        self._refresh_all()

    def set_result(self, result) -> None:
        """The last whole-image upscale (`UpscaleResult`) or None; starts the no-reference
        measurements in the worker. An evaluated model shown before is deselected."""
        self._result = result
        self._result_gen += 1
        self._selected_model = None
        self.leaderboard.set_selected(None)
        self._prune_cache()
        self._refresh_all()
        self._request_measurements()
        if self._mode in MAP_MODES:
            self._show_current()

    def set_region(self, box: tuple | None) -> None:
        """(x, y, w, h) in original pixels, or None: the numbers are for that region only."""
        if box is not None:
            x, y, w, h = (int(v) for v in box)
            box = (x, y, w, h) if w > 0 and h > 0 else None
        if box == self._box:
            return
        self._box = box
        self._refresh_all()
        self._request_measurements()

    def region(self) -> tuple | None:
        return self._box

    def view_mode(self) -> str:
        return self._mode

    def set_view_mode(self, mode: str) -> None:
        """Switch what the after side shows; emits ``viewModeChanged`` and then
        ``showPixels`` (at once, or when the map has been computed in the worker)."""
        if mode not in VIEW_MODES:
            raise ValueError(f"view mode must be one of {', '.join(VIEW_MODES)}, got {mode!r}")
        if mode == self._mode:
            self._sync_view_buttons()
            return
        self._mode = mode
        self._sync_view_buttons()
        self.viewModeChanged.emit(mode)
        self._show_current()

    def display_pixels_for_mode(self, mode: str) -> np.ndarray | None:
        """What the after side shows in `mode`: the result (or the evaluated model's SR
        image) for "result", the map (H×W×3 uint8, result size) otherwise. None when
        there is nothing to show. Uses the cached map, or computes it here (blocking)."""
        if mode not in VIEW_MODES:
            raise ValueError(f"view mode must be one of {', '.join(VIEW_MODES)}, got {mode!r}")
        source = self._map_source()
        if source is None:
            return None
        if mode == "result":
            return source.pixels
        key = ("map", mode) + source.key
        value = self._cache.get(key)
        if isinstance(value, np.ndarray):
            return value
        reference = source.reference
        if reference is None and mode in REFERENCE_MODES:
            reference = self._cache.get(self._reference_key())
            if not isinstance(reference, np.ndarray):
                if self._image is None:
                    raise EvaluationError(f"the {mode} map needs the original image (set_image)")
                reference = bicubic_reference(self._image.pixels,
                                              (source.pixels.shape[1], source.pixels.shape[0]))
                self._cache[self._reference_key()] = reference
        value = display_map(mode, source.pixels, reference)
        self._cache[key] = value
        if mode == "difference":
            self._cache[scale_key(key)] = difference_scale(source.pixels, reference)
        return value

    def set_kernel(self, kernel: np.ndarray | None) -> None:
        """An estimated blur kernel (e.g. from KernelGAN), offered as a degradation; None
        removes the choice. Raises `EvaluationError` for an unusable kernel."""
        index = self.degradation_combo.findData("estimated")
        if kernel is None:
            self._kernel = None
            if index >= 0:
                self.degradation_combo.removeItem(index)
            return
        k = validate_kernel(kernel)
        self._kernel = k / k.sum()
        label = f"Estimated kernel {k.shape[1]}×{k.shape[0]}"
        if index >= 0:
            self.degradation_combo.setItemText(index, label)
        else:
            self.degradation_combo.insertItem(1, label, "estimated")
            index = 1
        self.degradation_combo.setCurrentIndex(index)
        self._last_degradation_index = index

    def run_evaluation(self, model_ids: list[str], scale: int, degradation: str = "bicubic") -> Job:
        """Evaluate mode: degrade the loaded image (the ground truth) ×`scale` by
        `degradation` ("bicubic", "kernel:FILE.npy", or "estimated" for the kernel given to
        ``set_kernel``), upscale with each model, score PSNR/SSIM (Y). One cancellable
        worker job; the leaderboard fills as rows arrive; ``evaluationFinished`` at the end.

        Raises `SRDesktopError` (one line) for what cannot start: no image, no model,
        bad scale, bad kernel. A running evaluation is cancelled and replaced.
        """
        if self._closed:
            raise EvaluationError("the metrics panel is shut down")
        if self._image is None:
            raise EvaluationError("open an image first: it is the ground truth of the evaluation")
        model_ids = [str(m) for m in model_ids]
        if not model_ids:
            raise EvaluationError("check at least one model to evaluate")
        scale = int(scale)
        if not 1 <= scale <= 16:
            raise EvaluationError(f"scale must be between 1 and 16, got {scale}")
        deg = self._degradation_for(degradation)
        if self._image.width < 2 * scale or self._image.height < 2 * scale:
            raise EvaluationError(
                f"the image ({self._image.width}×{self._image.height}) is too small for ×{scale}")
        self._eval_queue.cancel()
        task = EvaluationTask(self._image.pixels, model_ids, scale, deg)
        job = Job(self._image, task)
        self._eval_gen += 1
        self._eval = _Evaluation(self._eval_gen, job, scale, deg.describe(), model_ids)
        self._selected_model = None
        self.leaderboard.set_selected(None)
        self._prune_cache()
        self.eval_progress.setRange(0, len(model_ids))
        self.eval_progress.setValue(0)
        self.eval_status.setText("Starting…")
        self._eval_queue.submit(job)
        self._refresh_all()
        return job

    def cancel_evaluation(self) -> None:
        """Stop the running evaluation (between tiles); rows already done stay."""
        self._eval_queue.cancel()

    def is_evaluating(self) -> bool:
        return self._eval is not None and self._eval.running

    def evaluation_rows(self) -> list[dict]:
        """The leaderboard's rows (whole image): dicts with model, psnr_y, ssim_y, seconds."""
        if self._eval is None:
            return []
        return [row.to_dict() for row in self._eval.rows.values()]

    def evaluated_pixels(self, model: str) -> np.ndarray | None:
        """The SR image a model made in the evaluation (ground-truth size), or None."""
        row = self._eval.rows.get(model) if self._eval is not None else None
        return row.sr if row is not None else None

    def region_scores(self) -> dict | None:
        """``{model: (psnr_y, ssim_y) | "message"}`` for the current region, None while not
        computed (or without region/evaluation)."""
        key = self._region_key()
        value = self._cache.get(key) if key is not None else None
        return value if isinstance(value, dict) else None

    def no_reference_numbers(self) -> NoReferenceNumbers | None:
        """The no-reference numbers of the current result and region (None until computed)."""
        value = self._cache.get(self._noref_key())
        return value if isinstance(value, NoReferenceNumbers) else None

    def is_measuring(self) -> bool:
        return self._measure_queue.is_busy()

    def show_evaluated_model(self, model: str) -> None:
        """Show `model`'s evaluation result (view → Result) and make it the maps' subject."""
        row = self._eval.rows.get(model) if self._eval is not None else None
        if row is None or row.sr is None:
            self.eval_status.setText(f"{model}: no result to show"
                                     + (f" ({row.error})" if row is not None and row.error else ""))
            return
        self._selected_model = model
        self.leaderboard.set_selected(model)
        if self._mode != "result":
            self._mode = "result"
            self._sync_view_buttons()
            self.viewModeChanged.emit("result")
        self._prune_cache()
        self._show_current()
        self._refresh_view_section()

    def show_upscale_result(self) -> None:
        """Leave the evaluated model: the maps and the after side are the upscale again."""
        if self._selected_model is None:
            return
        self._selected_model = None
        self.leaderboard.set_selected(None)
        self._prune_cache()
        self._show_current()
        self._refresh_view_section()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel all work and wait for the worker threads (call when the window closes)."""
        self._closed = True
        a = self._eval_queue.shutdown(timeout)
        b = self._measure_queue.shutdown(timeout)
        return a and b

    # ================================================================ keys and cache
    def _noref_key(self) -> tuple:
        return ("noref", self._result_gen, self._box)

    def _reference_key(self) -> tuple:
        return ("reference", self._result_gen)

    def _region_key(self) -> tuple | None:
        ev = self._eval
        if ev is None or self._box is None or ev.hr is None:
            return None
        done = tuple(m for m, r in ev.rows.items() if r.sr is not None)
        return ("region", ev.gen, self._box, done) if done else None

    def _map_source(self) -> _MapSource | None:
        ev = self._eval
        if self._selected_model is not None and ev is not None:
            row = ev.rows.get(self._selected_model)
            if row is not None and row.sr is not None and ev.hr is not None:
                return _MapSource(("eval", ev.gen, row.model), row.sr, ev.hr,
                                  f"{row.model} ×{ev.scale} (evaluate)")
        if self._result is not None:
            return _MapSource(("result", self._result_gen), self._result.image.pixels, None,
                              f"{self._result.model} ×{self._result.scale}")
        return None

    def _prune_cache(self) -> None:
        """Drop cached values that no longer belong to what the panel can show (maps are
        large: only those of the current subject are kept)."""
        source = self._map_source()
        eval_gen = self._eval.gen if self._eval is not None else None

        def keep(key) -> bool:
            kind = key[0]
            if kind in ("noref", "reference"):
                return key[1] == self._result_gen
            if kind == "map":
                return source is not None and key[2:] == source.key
            if kind == "scale":
                return source is not None and key[3:] == source.key
            if kind == "region":
                return key[1] == eval_gen
            return False

        for key in [k for k in self._cache if not keep(k)]:
            del self._cache[key]

    # ================================================================ measurements
    def _build_task(self, exclude: set) -> MeasureTask | None:
        task = MeasureTask()
        if self._result is not None and self._image is not None:
            key = self._noref_key()
            if key not in self._cache and key not in exclude:
                task.noref = NoReferenceRequest(key, self._image.pixels, self._result.image.pixels,
                                                int(self._result.scale), self._box)
        source = self._map_source() if self._mode in MAP_MODES else None
        if source is not None:
            key = ("map", self._mode) + source.key
            if key not in self._cache and key not in exclude:
                reference, ref_key = source.reference, None
                if reference is None:
                    cached = self._cache.get(self._reference_key())
                    reference = cached if isinstance(cached, np.ndarray) else None
                    ref_key = self._reference_key()
                task.map = MapRequest(key, self._mode, source.pixels, reference,
                                      self._image.pixels if self._image is not None else None,
                                      ref_key)
        key = self._region_key()
        if key is not None and key not in self._cache and key not in exclude:
            rows = [r for r in self._eval.rows.values() if r.sr is not None]
            task.region = RegionRequest(key, rows, self._eval.hr, self._box, self._eval.scale)
        return task if task.keys() else None

    def _request_measurements(self) -> None:
        if self._closed:
            return
        running = self._measure_queue.running
        exclude = running.options.keys() if running is not None else set()
        task = self._build_task(exclude)
        if task is None:
            return
        pending = self._measure_queue.pending
        if pending is not None and pending.options.keys() == task.keys():
            return
        self._measure_queue.submit(Job(self._image, task))

    def _on_measure_finished(self, job: Job, outputs: dict) -> None:
        self._cache.update(outputs)
        self._prune_cache()
        self._refresh_all()
        map_key = self._current_map_key()
        if map_key is not None and map_key in outputs:
            self._show_current()
        self.measurementsUpdated.emit()
        self._request_measurements()

    def _on_measure_failed(self, job: Job, message: str) -> None:
        for key in job.options.keys():
            self._cache[key] = MeasureFailure(message)
        self._prune_cache()
        self._refresh_all()
        self.measurementsUpdated.emit()

    def _current_map_key(self) -> tuple | None:
        if self._mode not in MAP_MODES:
            return None
        source = self._map_source()
        return ("map", self._mode) + source.key if source is not None else None

    def _show_current(self) -> None:
        """Emit ``showPixels`` for the current mode and subject (maps: when available)."""
        source = self._map_source()
        if self._mode == "result":
            if source is not None and source.key[0] == "eval":
                self.showPixels.emit(source.pixels, source.what)
            else:
                self.showPixels.emit(None, "Result")
            self._refresh_view_section()
            return
        if source is None:
            self._refresh_view_section()
            return
        value = self._cache.get(("map", self._mode) + source.key)
        if isinstance(value, np.ndarray):
            self.showPixels.emit(value, self._map_caption(("map", self._mode) + source.key))
        elif value is None:
            self._request_measurements()
        self._refresh_view_section()

    def _map_caption(self, key: tuple) -> str:
        """Short label of a map for the compare view, with its scale."""
        mode = key[1]
        if mode == "difference":
            vmax = self._cache.get(scale_key(key))
            return f"Difference (brightest: |Δ| ≥ {vmax:.0f}/255)" if vmax else "Difference"
        if mode == "ssim":
            return "SSIM (bright = 1, dark ≤ 0)"
        return "Gradient magnitude"

    # ================================================================ evaluation
    def _degradation_for(self, text: str) -> Degradation:
        text = (text or "bicubic").strip()
        if text in ("estimated", "kernel"):
            if self._kernel is None:
                raise EvaluationError("no estimated kernel: estimate one first (Kernel ▸ Estimate)")
            return Degradation(kind="kernel", kernel=self._kernel, label="estimated kernel")
        return parse_degradation(text)

    def _on_eval_progress(self, job: Job, info) -> None:
        ev = self._eval
        if ev is None or job is not ev.job:
            return
        if "hr" in info.extra:
            ev.hr = info.extra["hr"]
        row: EvalRow | None = info.extra.get("row")
        if row is not None:
            ev.rows[row.model] = row
        self.eval_progress.setRange(0, max(1, info.total))
        self.eval_progress.setValue(info.done)
        eta = f", about {info.eta:.0f} s left" if info.eta else ""
        self.eval_status.setText(f"{info.message}{eta}" if info.message else "")
        self._refresh_leaderboard()
        if row is not None:
            self._request_measurements()

    def _on_eval_finished(self, job: Job, rows: list) -> None:
        ev = self._eval
        if ev is None or job is not ev.job:
            return
        ev.running = False
        for row in rows:
            ev.rows[row.model] = row
        failed = [r for r in rows if r.error]
        seconds = sum(r.seconds or 0.0 for r in rows)
        text = f"Done: {len(rows) - len(failed)} of {len(rows)} models, {seconds:.2f} s of upscaling"
        if failed:
            text += "; failed: " + "; ".join(f"{r.model}: {r.error}" for r in failed)
        self.eval_status.setText(text)
        self.eval_progress.setValue(self.eval_progress.maximum())
        self._refresh_all()
        self.evaluationFinished.emit([r.to_dict() for r in rows])

    def _on_eval_failed(self, job: Job, message: str) -> None:
        ev = self._eval
        if ev is None or job is not ev.job:
            return
        ev.running = False
        self.eval_status.setText(f"Evaluation failed: {message}")
        self._refresh_all()

    def _on_eval_cancelled(self, job: Job) -> None:
        ev = self._eval
        if ev is None or job is not ev.job:
            return
        ev.running = False
        self.eval_status.setText(f"Cancelled after {len(ev.rows)} of {len(ev.models)} models")
        self._refresh_all()

    def _on_run_clicked(self) -> None:
        degradation = self.degradation_combo.currentData() or "bicubic"
        try:
            self.run_evaluation(self.checked_models(), self.scale_spin.value(), degradation)
        except SRDesktopError as exc:
            self.eval_status.setText(str(exc).splitlines()[0])

    def _on_degradation_activated(self, index: int) -> None:
        if self.degradation_combo.itemData(index) != "choose":
            self._last_degradation_index = index
            return
        path = self.choose_kernel_file()
        if not path:
            self.degradation_combo.setCurrentIndex(self._last_degradation_index)
            return
        text = f"kernel:{path}"
        try:
            parse_degradation(text)  # reads and checks the file now, so errors show here
        except SRDesktopError as exc:
            self.eval_status.setText(str(exc).splitlines()[0])
            self.degradation_combo.setCurrentIndex(self._last_degradation_index)
            return
        existing = self.degradation_combo.findData(text)
        if existing < 0:
            name = path.replace("\\", "/").rsplit("/", 1)[-1]
            self.degradation_combo.insertItem(index, f"Kernel {name}", text)
            self.degradation_combo.setItemData(index, path, Qt.ItemDataRole.ToolTipRole)
            existing = index
        self.degradation_combo.setCurrentIndex(existing)
        self._last_degradation_index = existing

    def _ask_kernel_file(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, "Blur kernel", "", "NumPy kernel (*.npy)")
        return path

    # ================================================================ display
    def _refresh_all(self) -> None:
        self._refresh_region_label()
        self._refresh_result_section()
        self._refresh_noref_section()
        self._refresh_view_section()
        self._refresh_leaderboard()
        self._refresh_buttons()

    def _refresh_region_label(self) -> None:
        if self._box is None:
            self.region_label.hide()
        else:
            self.region_label.setText(f"Region {describe_box(self._box)}: the numbers are for this region")
            self.region_label.show()

    def _refresh_result_section(self) -> None:
        r = self._result
        if r is None:
            for label in (self.result_model, self.result_time, self.result_size,
                          self.result_device, self.result_tiles, self.result_memory):
                label.setText("—")
            self.result_model.setText("No upscale yet")
            return
        out_h, out_w = r.image.pixels.shape[:2]
        if self._image is not None:
            in_w, in_h = self._image.width, self._image.height
        else:
            in_w, in_h = out_w // max(1, r.scale), out_h // max(1, r.scale)
        mp_s = in_w * in_h / 1e6 / r.seconds if r.seconds > 0 else 0.0
        variant = f" ({r.variant})" if getattr(r, "variant", None) not in (None, "default") else ""
        self.result_model.setText(f"{r.model}{variant} ×{r.scale}")
        self.result_time.setText(f"{r.seconds:.2f} s · {mp_s:.2f} MP/s input")
        self.result_size.setText(f"{in_w}×{in_h} → {out_w}×{out_h}")
        self.result_device.setText(str(r.device) or "—")
        tiles = f"{r.tiles}"
        if getattr(r, "tile_size", 0):
            tiles += f" (tile {r.tile_size} px)"
        self.result_tiles.setText(tiles)
        self.result_memory.setText(human_bytes(getattr(r, "peak_memory_bytes", 0)))

    def _refresh_noref_section(self) -> None:
        labels = (self.sharpness_label, self.laplacian_label, self.consistency_label)
        if self._result is None:
            for label in labels:
                label.setText("—")
            self.noref_status.setText("Upscale the image to measure the result.")
            return
        value = self._cache.get(self._noref_key())
        if value is None:
            for label in labels:
                label.setText("…")
            self.noref_status.setText("Measuring…")
            return
        if isinstance(value, MeasureFailure):
            for label in labels:
                label.setText("—")
            self.noref_status.setText(f"Cannot measure: {value.message}")
            return
        a, b = value.input_sharpness, value.result_sharpness
        self.sharpness_label.setText(f"{a.mean_gradient:.2f} → {b.mean_gradient:.2f}")
        self.laplacian_label.setText(f"{a.laplacian_variance:.1f} → {b.laplacian_variance:.1f}")
        if value.consistency is not None:
            c = value.consistency
            self.consistency_label.setText(f"{_fmt_db(c.psnr_rgb)} (Y {_fmt_db(c.psnr_y)})")
            self.noref_status.setText(f"input → result; consistency: result ↓×{self._result.scale} "
                                      "(MATLAB bicubic) vs input")
        else:
            self.consistency_label.setText("—")
            self.noref_status.setText(f"Consistency not measured: {value.note}")

    def _refresh_view_section(self) -> None:
        self._sync_view_buttons()
        source = self._map_source()
        evaluated = source is not None and source.key[0] == "eval"
        self.back_to_result.setVisible(evaluated and self._result is not None)
        if source is None:
            note = "Upscale the image or evaluate models to see maps."
        else:
            note = f"Showing {source.what}."
            note += (" Difference/SSIM reference: the ground truth." if evaluated else
                     " Difference/SSIM reference: the original upscaled by bicubic"
                     " (no ground truth).")
            key = ("map", self._mode) + source.key
            value = self._cache.get(key) if self._mode in MAP_MODES else None
            if self._mode in MAP_MODES and value is None:
                note += " Computing the map…"
            elif isinstance(value, MeasureFailure):
                note += f" Cannot make the map: {value.message}"
            elif isinstance(value, np.ndarray):
                note += f" Map: {self._map_caption(key)}."
        self.view_note.setText(note)

    def _sync_view_buttons(self) -> None:
        for mode, button in self.view_buttons.items():
            button.blockSignals(True)
            button.setChecked(mode == self._mode)
            button.blockSignals(False)

    def _refresh_leaderboard(self) -> None:
        ev = self._eval
        if ev is None:
            self.leaderboard.set_rows([])
            self.leaderboard.set_note("")
            return
        region = None
        region_failure = ""
        if self._box is not None:
            key = self._region_key()
            value = self._cache.get(key) if key is not None else None
            if isinstance(value, dict):
                region = value
            elif isinstance(value, MeasureFailure):
                region_failure = value.message
        rows = []
        for model in ev.models:
            row = ev.rows.get(model)
            if row is None:
                rows.append(LeaderRow(model))
            elif row.error:
                rows.append(LeaderRow(model, error=row.error))
            elif self._box is None:
                rows.append(LeaderRow(model, row.psnr_y, row.ssim_y, row.seconds))
            else:
                scores = region.get(model) if region is not None else None
                if isinstance(scores, str):
                    rows.append(LeaderRow(model, seconds=row.seconds, error=scores))
                elif scores is None and region_failure:
                    rows.append(LeaderRow(model, seconds=row.seconds, error=region_failure))
                elif scores is None:
                    rows.append(LeaderRow(model, seconds=row.seconds))
                else:
                    rows.append(LeaderRow(model, scores[0], scores[1], row.seconds))
        self.leaderboard.set_rows(rows)
        self.leaderboard.set_selected(self._selected_model)
        where = (f"region {describe_box(self._box)}" if self._box is not None else "whole image")
        size = f"{ev.hr.shape[1]}×{ev.hr.shape[0]}" if ev.hr is not None else "…"
        self.leaderboard.set_note(
            f"Ground truth {size}, ×{ev.scale}, degraded by {ev.degradation}. "
            f"Y channel, {ev.scale} px border shaved; scores of the {where}.")

    def _refresh_buttons(self) -> None:
        running = self.is_evaluating()
        self.cancel_button.setEnabled(running)
        self.run_button.setEnabled(self._image is not None)
        self.run_button.setText("Restart" if running else "Run")
