"""The metrics panel's "Evaluate" section: the models to compare, the scale and the
degradation (bicubic, a kernel file, or the kernel estimated by KernelGAN), Run/Cancel,
progress, and the leaderboard.

The section holds the inputs and shows progress; running the evaluation is the panel's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.app.metrics_jobs import EvalRow
from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.text import counted, human_seconds
from sr_desktop.engine.metrics.baseline_ids import ENGINE_BICUBIC_ID, MATLAB_BICUBIC_ID
from sr_desktop.engine.metrics.degradation import Degradation, parse_degradation, validate_kernel
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.gui.fold_toggle import FoldToggle
from sr_desktop.gui.metrics.leaderboard import Leaderboard
from sr_desktop.gui.metrics.model_list import ModelChecklist
from sr_desktop.gui.widgets import WrapLabel, announce, show_as_hint, tight_column

log = logging.getLogger(__name__)

#: what the evaluate list calls the two bicubics (`engine.metrics.upscalers`)
BICUBIC_NAMES = {MATLAB_BICUBIC_ID: "Bicubic (MATLAB)", ENGINE_BICUBIC_ID: "Bicubic (Pillow)"}
FALLBACK_MODELS = [(MATLAB_BICUBIC_ID, BICUBIC_NAMES[MATLAB_BICUBIC_ID]), ("lanczos", "Lanczos")]
SCALE_MIN, SCALE_MAX = 2, 8


def installed_models() -> list[tuple[str, str]]:
    """(id, name) of the registry's installed models; the resampling baselines when the
    registry is unavailable. Per-image models (ZSSR: minutes per image) are left out."""
    try:
        from sr_desktop.engine.models.registry import list_models

        specs = list_models()
    except (ImportError, SRDesktopError) as exc:
        log.warning("model registry unavailable for the evaluate mode: %s", exc)
        specs = []
    models: list[tuple[str, str]] = []
    for spec in specs:
        if not spec.installed or spec.kind == "per_image":
            continue
        if spec.id == MATLAB_BICUBIC_ID:
            # the id runs MATLAB's imresize here (the tables' baseline, as in bench) and Pillow's
            # bicubic in the picker (Pillow's, offered too): both "Bicubic" on one panel, 4/255 apart
            models += [(MATLAB_BICUBIC_ID, BICUBIC_NAMES[MATLAB_BICUBIC_ID]),
                       (ENGINE_BICUBIC_ID, BICUBIC_NAMES[ENGINE_BICUBIC_ID])]
        else:
            models.append((spec.id, spec.name))
    return models or list(FALLBACK_MODELS)


def _summary(models: int, scale: int, degradation: str) -> str:
    return f"{counted(models, 'model')}, ×{scale}, {degradation}"


class EvaluateSection(QGroupBox):
    """Inputs, progress and leaderboard of the evaluate mode."""

    #: Run was clicked: (model ids, scale, degradation text)
    runRequested = Signal(list, int, str)

    def __init__(self, parent=None) -> None:
        super().__init__("Evaluate", parent)
        #: asks for a kernel .npy file (returns a path or ""); replaceable in tests
        self.choose_kernel_file: Callable[[], str] = self._ask_kernel_file
        #: the estimated kernel offered as a degradation (normalised), or None
        self.kernel: np.ndarray | None = None
        self.kernel_scale: int | None = None  # the scale the estimated kernel is for
        self.kernel_label = "estimated kernel"  # or "loaded kernel": how it came to the kernel panel
        self._last_degradation_index = 0
        #: what the running or shown evaluation is about, None without one
        self._run_summary: str | None = None
        self._kernel_note: str | None = None

        layout = tight_column(self)
        # The inputs fold away while an evaluation runs or is shown, so the leaderboard
        # gets the room; the toggle's text sums them up.
        self.inputs = QWidget(self)
        # made before the inputs' widgets: it comes first in the Tab order, as on screen
        self.inputs_toggle = FoldToggle(self.inputs, self._describe_inputs, "the models and settings", self)
        self.inputs_toggle.setObjectName("evaluateInputsToggle")
        inputs = QVBoxLayout(self.inputs)
        inputs.setContentsMargins(0, 0, 0, 0)
        inputs.setSpacing(4)
        intro = WrapLabel("The loaded image is the ground truth: it is degraded, upscaled by "
                          "each checked model and compared with itself.", self.inputs)
        show_as_hint(intro)
        inputs.addWidget(intro)
        self.models = ModelChecklist(self.inputs)
        self.model_list = self.models.list
        self.model_filter = self.models.filter_edit
        self.models.checkedChanged.connect(self._update_inputs_toggle)
        inputs.addWidget(self.models)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(3)
        self.scale_spin = QSpinBox(self.inputs)
        self.scale_spin.setRange(SCALE_MIN, SCALE_MAX)
        self.scale_spin.setValue(4)
        self.scale_spin.setPrefix("×")
        self.scale_spin.setAccessibleName("Evaluation scale")
        self.scale_spin.valueChanged.connect(self._on_scale_changed)
        self.scale_note = QLabel(self.inputs)
        show_as_hint(self.scale_note)
        scale_row = QHBoxLayout()
        scale_row.setContentsMargins(0, 0, 0, 0)
        scale_row.addWidget(self.scale_spin)
        scale_row.addWidget(self.scale_note, 1)
        form.addRow("Scale", scale_row)
        self.degradation_combo = QComboBox(self.inputs)
        self.degradation_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.degradation_combo.setMinimumContentsLength(10)
        self.degradation_combo.addItem("Bicubic (MATLAB)", "bicubic")
        self.degradation_combo.addItem("Kernel file (.npy)…", "choose")
        self.degradation_combo.setToolTip("How the low-resolution input is made from the image")
        self.degradation_combo.setAccessibleName("Degradation")
        self.degradation_combo.activated.connect(self._on_degradation_activated)
        self.degradation_combo.currentIndexChanged.connect(self._update_inputs_toggle)
        form.addRow("Degrade", self.degradation_combo)
        inputs.addLayout(form)
        layout.addWidget(self.inputs_toggle)
        layout.addWidget(self.inputs)

        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName("Cancel the evaluation")  # (not the window's own Cancel)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        # slim, but as high as its "100%" (14 px cut it through from an 11-pt font)
        self.progress.setMaximumHeight(max(14, self.progress.fontMetrics().height()))
        self.progress.setAccessibleName("Evaluation progress")
        layout.addWidget(self.progress)
        self.status = WrapLabel("", self)
        layout.addWidget(self.status)

        layout.addSpacing(4)
        self.leaderboard = Leaderboard(self)
        layout.addWidget(self.leaderboard)
        #: the main window's picked scale; the spin box follows it until the user changes it
        self._picker_scale: int | None = None  # (within the evaluation's range)
        self._picked_as_is: int | None = None  # the picker's own scale, e.g. ×1 or ×16
        self._scale_follows = True
        self._setting_scale = False
        self._update_scale_note()
        self._update_inputs_toggle()

    # ---------------------------------------------------------------- models
    def set_models(self, models: list[tuple[str, str]]) -> None:
        """Refill the checklist with (id, name) pairs; checked ids stay checked. The
        leaderboard shows the same names."""
        self.models.set_models(models)
        self.leaderboard.set_model_names(self.models.names())
        self._update_inputs_toggle()

    def checked_models(self) -> list[str]:
        """Ids of the checked models, in list order (also those the filter hides)."""
        return self.models.checked_models()

    def set_checked_models(self, model_ids) -> None:
        """Check exactly the models in `model_ids`."""
        self.models.set_checked_models(model_ids)
        self._update_inputs_toggle()

    # ---------------------------------------------------------------- scale
    def set_picker_scale(self, scale: int) -> None:
        """The scale picked in the main window: the spin box takes it (within its range)
        unless the user has set a different one here."""
        self._picked_as_is = int(scale)
        self._picker_scale = min(SCALE_MAX, max(SCALE_MIN, int(scale)))
        if self._scale_follows:
            self._setting_scale = True
            try:
                self.scale_spin.setValue(self._picker_scale)
            finally:
                self._setting_scale = False
        self._update_scale_note()

    def scale_follows_picker(self) -> bool:
        """True while the evaluation scale is the picker's (the user has not changed it)."""
        return self._scale_follows

    def _on_scale_changed(self, value: int) -> None:
        if not self._setting_scale:
            # setting it back to the picker's scale makes it follow again
            self._scale_follows = self._picker_scale is None or value == self._picker_scale
        self._update_scale_note()
        self._update_inputs_toggle()

    def _update_scale_note(self) -> None:
        if self._picker_scale is None:
            self.scale_note.setText("")
            self.scale_spin.setToolTip("The scale of the evaluation")
        elif self._scale_follows and self._picked_as_is != self._picker_scale:
            # (a ×1 model or ×16 picked: the nearest scale evaluated, not "as picked")
            self.scale_note.setText(f"picked: ×{self._picked_as_is}")
            self.scale_spin.setToolTip(f"×{self._picked_as_is} is picked for upscaling; the evaluation takes "
                                       f"×{SCALE_MIN}–×{SCALE_MAX}, so the nearest, ×{self._picker_scale}")
        elif self._scale_follows:
            self.scale_note.setText("as picked")
            self.scale_spin.setToolTip("Follows the scale picked for upscaling until you change it here")
        else:
            self.scale_note.setText(f"picked: ×{self._picked_as_is}")
            self.scale_spin.setToolTip(f"Set here; set ×{self._picker_scale} to follow the picked scale again")

    # ---------------------------------------------------------------- folding
    def set_inputs_shown(self, shown: bool) -> None:
        """Show or fold the models and settings (the toggle says what they are)."""
        self.inputs_toggle.set_shown(shown)

    def _update_inputs_toggle(self, *_args) -> None:
        self.inputs_toggle.refresh()

    def _describe_inputs(self, shown: bool) -> str:
        if not shown and self._run_summary is not None:
            return self._run_summary  # folded: what the leaderboard below shows
        return _summary(len(self.checked_models()), self.scale_spin.value(),
                        self.degradation_combo.currentText() or "bicubic")

    # ---------------------------------------------------------------- degradation
    def set_kernel(self, kernel: np.ndarray | None, scale: int | None = None, estimated: bool = True,
                   origin: str = "") -> None:
        """Offer the kernel panel's blur kernel for ×`scale` (None: not known) as a
        degradation (and choose it); `estimated` False: a file loaded there (it read
        "Estimated kernel"); `origin`: the name of the image it was estimated from (the
        choice stays when another image is opened, and read as that image's). None removes
        the choice. Raises `EvaluationError` for an unusable kernel."""
        index = self.degradation_combo.findData("estimated")
        if kernel is None:
            self.kernel = self.kernel_scale = None
            if index >= 0:
                was_current = self.degradation_combo.currentIndex() == index
                self.degradation_combo.removeItem(index)
                # Qt makes the next item current, "Kernel file (.npy)…" (a command, not a
                # degradation): Run then failed on it; and the remembered index moved up by one
                if was_current or self._last_degradation_index == index:
                    self._last_degradation_index = 0
                elif self._last_degradation_index > index:
                    self._last_degradation_index -= 1
                self.degradation_combo.setCurrentIndex(self._last_degradation_index)
            return
        k = validate_kernel(kernel)
        self.kernel = k / k.sum()
        self.kernel_scale = scale
        self.kernel_label = (f"estimated kernel of {origin}" if estimated and origin else
                             "estimated kernel" if estimated else "loaded kernel")
        label = f"{self.kernel_label[0].upper()}{self.kernel_label[1:]} {k.shape[1]}×{k.shape[0]}" + (
            f", ×{scale}" if scale else "")
        if index >= 0:
            self.degradation_combo.setItemText(index, label)
        else:
            self.degradation_combo.insertItem(1, label, "estimated")
            index = 1
        self.degradation_combo.setCurrentIndex(index)
        self._last_degradation_index = index

    def degradation_for(self, text: str, scale: int | None = None) -> Degradation:
        """The degradation a combo value (or a CLI-style text) stands for, at ×`scale`: the
        estimated kernel only at the scale it was estimated for (a ×2 kernel degraded a ×4
        evaluation without a word)."""
        text = (text or "bicubic").strip()
        if text in ("estimated", "kernel"):
            if self.kernel is None:
                raise EvaluationError("no estimated kernel: estimate one first (Tools ▸ Estimate blur kernel)")
            if scale in (2, 4) and self.kernel_scale in (2, 4) and int(scale) != self.kernel_scale:
                raise EvaluationError(f"the estimated kernel is a ×{self.kernel_scale} kernel: evaluate at "
                                      f"×{self.kernel_scale}, or estimate a ×{int(scale)} kernel")
            return Degradation(kind="kernel", kernel=self.kernel, label=self.kernel_label)
        return parse_degradation(text)

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
            self.status.setText(one_line(exc))
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

    def _on_run_clicked(self) -> None:
        degradation = self.degradation_combo.currentData() or "bicubic"
        self.runRequested.emit(self.checked_models(), self.scale_spin.value(), degradation)

    # ---------------------------------------------------------------- progress
    def show_started(self, models: int, scale: int, degradation: str, note: str | None = None) -> None:
        """An evaluation of ``models`` models started: the inputs fold away behind a
        summary of it; `note` (about the degradation) is added to the line of its end."""
        self._run_summary = _summary(models, scale, degradation)
        self._kernel_note = note
        self.set_inputs_shown(False)
        self.progress.setRange(0, models)
        self.progress.setValue(0)
        self.status.setText("Starting…")

    def show_progress(self, info) -> None:
        """A worker progress report (`ProgressInfo`) of the running evaluation."""
        self.progress.setRange(0, max(1, info.total))
        self.progress.setValue(info.done)
        eta = f", about {human_seconds(info.eta)} left" if info.eta else ""
        self.status.setText(f"{info.message}{eta}" if info.message else "")

    def show_finished(self, rows: list[EvalRow]) -> None:
        failed = [r for r in rows if r.error]
        seconds = sum(r.seconds or 0.0 for r in rows)
        text = f"Done: {len(rows) - len(failed)} of {counted(len(rows), 'model')}, {seconds:.2f} s of upscaling"
        details = ""
        if failed:
            # the names here, the messages in the tooltip and on the leaderboard's rows:
            # a long message must not push the leaderboard out of view
            text += "; failed: " + ", ".join(r.model for r in failed)
            details = "\n".join(f"{r.model}: {r.error}" for r in failed)
        if self._kernel_note:  # (a ×2 estimate degraded a ×4 evaluation without a word)
            text += f"; {self._kernel_note}"
        self.status.setText(text)
        self.status.setToolTip(details)
        self.progress.setValue(self.progress.maximum())
        announce(self, text)  # (unread without the focus)

    def reset_progress(self) -> None:
        """No evaluation any more (a new image): the inputs show again."""
        self._run_summary = None
        self.status.setToolTip("")
        self.set_inputs_shown(True)
        self.leaderboard.clear()
        self.progress.reset()
        self.status.setText("")

    def show_running(self, running: bool, can_run: bool) -> None:
        """Enable Run (as "Restart" while running) and Cancel."""
        self.cancel_button.setEnabled(running)
        self.run_button.setEnabled(can_run)
        # (disabled, it gave no reason)
        self.run_button.setToolTip("Degrade the image, upscale it with each model checked and score each result "
                                   "against it" if can_run else "Open an image first: it is the ground truth "
                                   "the models are scored against")
        self.run_button.setText("Restart" if running else "Run")
