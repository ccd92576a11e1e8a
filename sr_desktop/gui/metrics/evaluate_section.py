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
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
)

from sr_desktop.app.metrics_jobs import EvalRow
from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.metrics.degradation import Degradation, parse_degradation, validate_kernel
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.gui.metrics.leaderboard import Leaderboard
from sr_desktop.gui.widgets import WrapLabel, tight_column

log = logging.getLogger(__name__)

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
        self._last_degradation_index = 0

        layout = tight_column(self)
        intro = WrapLabel("The loaded image is the ground truth: it is degraded, upscaled by "
                          "each checked model and compared with itself.", self)
        intro.setEnabled(False)
        layout.addWidget(intro)
        self.model_list = QListWidget(self)
        self.model_list.setToolTip("Models to compare")
        layout.addWidget(self.model_list)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(3)
        self.scale_spin = QSpinBox(self)
        self.scale_spin.setRange(2, 8)
        self.scale_spin.setValue(4)
        self.scale_spin.setPrefix("×")
        form.addRow("Scale", self.scale_spin)
        self.degradation_combo = QComboBox(self)
        self.degradation_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.degradation_combo.setMinimumContentsLength(10)
        self.degradation_combo.addItem("Bicubic (MATLAB)", "bicubic")
        self.degradation_combo.addItem("Kernel file (.npy)…", "choose")
        self.degradation_combo.setToolTip("How the low-resolution input is made from the image")
        self.degradation_combo.activated.connect(self._on_degradation_activated)
        form.addRow("Degrade", self.degradation_combo)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self._on_run_clicked)
        self.cancel_button = QPushButton("Cancel", self)
        buttons.addWidget(self.run_button, 1)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress.setMaximumHeight(14)
        layout.addWidget(self.progress)
        self.status = WrapLabel("", self)
        layout.addWidget(self.status)

        layout.addSpacing(4)
        self.leaderboard = Leaderboard(self)
        layout.addWidget(self.leaderboard)

    # ---------------------------------------------------------------- models
    def set_models(self, models: list[tuple[str, str]]) -> None:
        """Refill the checklist with (id, name) pairs; checked ids stay checked."""
        checked = set(self.checked_models())
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
        """Ids of the checked models, in list order."""
        out = []
        for i in range(self.model_list.count()):
            item = self.model_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(Qt.ItemDataRole.UserRole))
        return out

    def set_checked_models(self, model_ids) -> None:
        """Check exactly the models in `model_ids`."""
        wanted = set(model_ids)
        for i in range(self.model_list.count()):
            item = self.model_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    # ---------------------------------------------------------------- degradation
    def set_kernel(self, kernel: np.ndarray | None) -> None:
        """Offer an estimated blur kernel as a degradation (and choose it); None removes
        the choice. Raises `EvaluationError` for an unusable kernel."""
        index = self.degradation_combo.findData("estimated")
        if kernel is None:
            self.kernel = None
            if index >= 0:
                self.degradation_combo.removeItem(index)
            return
        k = validate_kernel(kernel)
        self.kernel = k / k.sum()
        label = f"Estimated kernel {k.shape[1]}×{k.shape[0]}"
        if index >= 0:
            self.degradation_combo.setItemText(index, label)
        else:
            self.degradation_combo.insertItem(1, label, "estimated")
            index = 1
        self.degradation_combo.setCurrentIndex(index)
        self._last_degradation_index = index

    def degradation_for(self, text: str) -> Degradation:
        """The degradation a combo value (or a CLI-style text) stands for."""
        text = (text or "bicubic").strip()
        if text in ("estimated", "kernel"):
            if self.kernel is None:
                raise EvaluationError("no estimated kernel: estimate one first (Kernel ▸ Estimate)")
            return Degradation(kind="kernel", kernel=self.kernel, label="estimated kernel")
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
    def show_started(self, models: int) -> None:
        self.progress.setRange(0, models)
        self.progress.setValue(0)
        self.status.setText("Starting…")

    def show_progress(self, info) -> None:
        """A worker progress report (`ProgressInfo`) of the running evaluation."""
        self.progress.setRange(0, max(1, info.total))
        self.progress.setValue(info.done)
        eta = f", about {info.eta:.0f} s left" if info.eta else ""
        self.status.setText(f"{info.message}{eta}" if info.message else "")

    def show_finished(self, rows: list[EvalRow]) -> None:
        failed = [r for r in rows if r.error]
        seconds = sum(r.seconds or 0.0 for r in rows)
        text = f"Done: {len(rows) - len(failed)} of {len(rows)} models, {seconds:.2f} s of upscaling"
        if failed:
            text += "; failed: " + "; ".join(f"{r.model}: {r.error}" for r in failed)
        self.status.setText(text)
        self.progress.setValue(self.progress.maximum())

    def reset_progress(self) -> None:
        self.leaderboard.clear()
        self.progress.reset()
        self.status.setText("")

    def show_running(self, running: bool, can_run: bool) -> None:
        """Enable Run (as "Restart" while running) and Cancel."""
        self.cancel_button.setEnabled(running)
        self.run_button.setEnabled(can_run)
        self.run_button.setText("Restart" if running else "Run")
