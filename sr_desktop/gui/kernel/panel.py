"""Blur-kernel panel: estimate the image's own ×2/×4 kernel (the Method box: a sharpness fit,
KernelGAN, or both — Auto), watch it form,
see how far to trust it (reliable / doubtful), save/load it, and upscale with it (ZSSR, or
map-sr in seconds).

The estimation runs in the panel's own `JobQueue` (one worker thread), so the window's
upscale queue stays free: a person can compare models while the kernel is estimated.
The panel knows nothing of the window; it talks through signals:
``kernelChanged`` (to the metrics panel's evaluate mode), ``upscaleRequested`` (the
window submits a ZSSR or map-sr job to its normal upscale queue) and ``errorOccurred``.
Before a doubtful estimate is used, a question box asks first.
File dialogs and questions are injectable (``ask_save_path``, ``ask_open_path``,
``ask_replace``) for tests. A kernel is never saved over the image it was estimated from.

Over 500 lines because the panel's four parts (estimate, kernel view, save/load, upscale
with the kernel) share one kernel and its verdict, and each enables the others.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
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

from sr_desktop.app.jobs import Job, JobRunner
from sr_desktop.app.kernel_jobs import (
    KernelTask,
    check_kernel,
    kernel_file_paths,
    load_kernel_file,
    run_kernel_job,
    save_kernel_files,
)
from sr_desktop.app.kernel_jobs import kernel_scale as guess_kernel_scale
from sr_desktop.app.session import path_beside_image
from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.progress import ProgressInfo
from sr_desktop.engine.core.text import counted, human_seconds
from sr_desktop.engine.imageio.protected import same_file
from sr_desktop.engine.kernelgan.confidence import RELIABLE_AT, is_reliable
from sr_desktop.engine.kernelgan.options import (
    DRAWN_SEEDS_BELOW,
    FAST_PRESET,
    KernelGANOptions,
    smallest_image_side,
)
from sr_desktop.gui.key_text import with_native_keys
from sr_desktop.gui.qimage import array_to_qimage
from sr_desktop.gui.side_panel_layout import scrollable_column
from sr_desktop.gui.widgets import ElidingComboBox, announce, confirm, plain_label, set_bold
from sr_desktop.gui.worker import JobQueue

#: the heat map's side in screen pixels (each tap a square block, whole pixels)
HEAT_MAP_SIDE = 208
#: the Estimate button's tip (on an image too small, why it is greyed out instead)
ESTIMATE_TIP = "Estimate the image's own blur kernel (Ctrl+K)"
PLACEHOLDER = "No kernel yet.\nEstimate one from the image,\nor load a .npy kernel."
#: the same without an image (Estimate is greyed out: it did not say why)
PLACEHOLDER_NO_IMAGE = "No kernel yet.\nOpen an image to estimate one,\nor load a .npy kernel."
#: the two ways to upscale with the kernel: model id -> what the question box calls it
UPSCALE_MODELS = {"zssr": "ZSSR", "map-sr": "map-sr"}
DOUBTFUL_TITLE = "Doubtful blur kernel"
#: the "Kernel prior" choices: label -> KernelGANOptions.prior
KERNEL_PRIORS = (("None (KernelGAN)", "none"), ("FKP (learned prior)", "fkp"))
#: the "Method" choices: label -> KernelGANOptions.method
KERNEL_METHODS = (("Auto (sharpness fit + KernelGAN)", "auto"), ("Sharpness fit", "sharpness"),
                  ("KernelGAN", "kernelgan"))


def _choice_combo(name: str, choices, current, tooltip: str) -> QComboBox:
    """A combo box of (label, value) `choices` with `current` selected; narrow when the panel
    is (its face ends a long label with "…", the list shows it whole)."""
    combo = ElidingComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(10)
    combo.setObjectName(name)
    for label, value in choices:
        combo.addItem(label, value)
    combo.setCurrentIndex(combo.findData(current))
    combo.setToolTip(tooltip)
    return combo


def confidence_text(confidence: float | None, trusted: bool) -> str:
    """"Reliable" / "Doubtful" (`trusted`: the estimate's verdict, which weighs more than the
    score: a run too short to judge is doubtful at any score) with the score, for the kernel
    box (empty when unknown)."""
    if confidence is None:
        return ""
    return f"{'Reliable' if trusted else 'Doubtful'} · confidence {confidence:.2f}"


def heat_map_pixels(kernel: np.ndarray, side: int = HEAT_MAP_SIDE) -> np.ndarray:
    """The kernel as a magnified heat map (uint8 RGB) about ``side`` pixels wide."""
    from sr_desktop.engine.kernelgan.kernel_ops import render_kernel

    magnify = max(3, min(16, side // max(1, kernel.shape[0])))
    return render_kernel(kernel, magnify=magnify)


def summary_lines(kernel: np.ndarray, scale: int | None = None) -> str:
    """Size, support and Gaussian-fit σ (major/minor, angle), for the caption."""
    from sr_desktop.engine.kernelgan.kernel_ops import kernel_summary

    s = kernel_summary(kernel)
    what = f", ×{scale} kernel" if scale else ""
    return (
        f"{s['size']}×{s['size']} taps{what}\n"
        f"σ {s['sigma_major']:.2f} × {s['sigma_minor']:.2f} px at {s['angle_deg']:.0f}°\n"
        f"{counted(s['support_taps'], 'tap')} above 1 % of the peak"
    )


class KernelPanel(QWidget):
    """Estimate, show, save/load and use a blur kernel for the current image."""

    kernelChanged = Signal(object)  # ndarray (sums to 1) or None
    upscaleRequested = Signal(object, int, str, str)  # kernel, scale, variant ("default" | "real"), model
    errorOccurred = Signal(str)  # one line
    kernelSaved = Signal(list)  # the paths written (an earlier failed save's error is then stale)
    estimationFinished = Signal(object)  # KernelEstimate
    busyChanged = Signal(bool)

    def __init__(self, parent=None, runner: JobRunner | None = None,
                 device_provider: Callable[[], str] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kernelPanel")
        #: ask_save_path(suggested .npy path) -> chosen path or None
        self.ask_save_path: Callable[[Path], Path | None] = self._ask_save_dialog
        #: the folder Save suggests for a kernel of an image without one of its own (the window's last folder)
        self.default_dir: Callable[[], Path] = Path.home
        #: ask_replace(existing .png path) -> True to replace it
        self.ask_replace: Callable[[Path], bool] = self._ask_replace_box
        #: ask_open_path() -> a .npy path or None
        self.ask_open_path: Callable[[], Path | None] = self._ask_open_dialog
        self.device_provider = device_provider or (lambda: "auto")

        self.image = None
        self.image_name = ""
        self.kernel: np.ndarray | None = None
        self.kernel_scale = 2  # the SR scale the kernel is for
        self.kernel_source = ""
        #: the estimate's confidence (None for a loaded kernel: nothing to judge it by)
        self.kernel_confidence: float | None = None
        #: the estimate's verdict and why it doubts (None / "": a loaded kernel, or none)
        self.kernel_reliable: bool | None = None
        self.kernel_doubt = ""
        #: the file of the image the kernel was estimated from (what Save names it after)
        self.kernel_origin: Path | None = None
        #: ask_use_doubtful(message) -> True to go on (a question box; injectable)
        self.ask_use_doubtful: Callable[[str], bool] = self._ask_use_doubtful_box
        self.estimate = None  # the last KernelEstimate
        self.preview_kernel: np.ndarray | None = None  # the last in-progress kernel shown
        self._job: Job | None = None
        self._outcome = ""  # of the last estimation: "done" | "failed" | "cancelled"
        self._closed = False

        self.queue = JobQueue(self, runner=runner or run_kernel_job)
        self.queue.jobProgress.connect(self._on_progress)
        self.queue.jobFinished.connect(self._on_finished)
        self.queue.jobFailed.connect(self._on_failed)
        self.queue.jobCancelled.connect(self._on_cancelled)
        self.queue.busyChanged.connect(self._on_busy_changed)

        self._build_ui()
        self._show_kernel(None)
        self._refresh()

    # ================================================================ construction
    def _build_ui(self) -> None:
        content, layout = scrollable_column(self)
        layout.addWidget(self._build_estimate_box())
        layout.addWidget(self._build_kernel_box())
        layout.addWidget(self._build_use_box())
        layout.addStretch(1)

    def _build_estimate_box(self) -> QGroupBox:
        box = QGroupBox("Estimate")
        self.method_combo = _choice_combo(
            "kernelMethodCombo", KERNEL_METHODS, KernelGANOptions().method,
            "Sharpness fit: a Gaussian blur (round to strongly elongated) fitted in seconds from how "
            "sharp the image is in each direction across scales. KernelGAN: a small GAN trained on the "
            "image (tens of seconds; iterations, restarts and prior below). Auto runs both and averages "
            "them when the fit explains the image (measured better than either alone), else keeps KernelGAN's")
        self.method_combo.currentIndexChanged.connect(lambda _i: self._refresh())
        self.scale_combo = QComboBox()
        self.scale_combo.addItem("×2", 2)
        self.scale_combo.addItem("×4 (from the ×2 kernel)", 4)
        self.iterations_spin = QSpinBox()
        self.iterations_spin.setRange(20, 10000)
        self.iterations_spin.setSingleStep(100)
        self.iterations_spin.setValue(int(FAST_PRESET["iterations"]))
        self.iterations_spin.setToolTip(
            f"At most this many training iterations of {FAST_PRESET['batch']} crops each (a run stops once "
            f"its kernel settles, typically at 40 %); {FAST_PRESET['iterations']} is as accurate as the "
            "paper's 3000 single-crop iterations at a fraction of the time")
        self.restarts_spin = QSpinBox()
        self.restarts_spin.setRange(1, 5)
        self.restarts_spin.setToolTip("Independent runs combined into one kernel: steadier, proportionally slower")
        # the status names the seed each run drew; typing it back repeats that run
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("kernelSeedSpin")
        self.seed_spin.setRange(-1, DRAWN_SEEDS_BELOW - 1)
        self.seed_spin.setSpecialValueText("Random")
        self.seed_spin.setValue(-1)
        self.seed_spin.setToolTip("Random: each estimation draws a seed (the result names it). A number "
                                  "repeats that run exactly, as sr-desktop kernel --seed N does")
        self.prior_combo = _choice_combo(
            "kernelPriorCombo", KERNEL_PRIORS, KernelGANOptions().prior,
            "None: KernelGAN's own generator. FKP: the kernel is drawn from a learned prior of "
            "Gaussian blurs (round to strongly elongated), which follows elongated, motion-like blurs better")
        self.estimate_button = QPushButton("Estimate blur kernel")
        self.estimate_button.setObjectName("estimateKernelButton")
        self.estimate_button.clicked.connect(self.start_estimation)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the kernel estimation")  # (not the window's own Cancel)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.estimate_button, 1)
        buttons.addWidget(self.cancel_button)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("kernelProgress")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.hide()  # shown from the first estimation on
        self.status_label = plain_label("")
        self.status_label.setObjectName("kernelStatus")
        self.status_label.setWordWrap(True)
        form = QFormLayout(box)
        form.addRow("Scale", self.scale_combo)
        form.addRow("Method", self.method_combo)
        form.addRow("Iterations", self.iterations_spin)
        # (the picker's Iterations row is ZSSR's and map-sr's: a screen reader names which)
        self.iterations_spin.setAccessibleName("KernelGAN iterations")
        form.addRow("Restarts", self.restarts_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Kernel prior", self.prior_combo)
        form.addRow(buttons)
        form.addRow(self.progress_bar)
        form.addRow(self.status_label)
        return box

    def _build_kernel_box(self) -> QGroupBox:
        box = QGroupBox("Kernel")
        self.heat_map = QLabel()
        self.heat_map.setObjectName("kernelHeatMap")
        self.heat_map.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heat_map.setMinimumSize(HEAT_MAP_SIDE + 8, HEAT_MAP_SIDE + 8)
        self.heat_caption = plain_label("")
        self.heat_caption.setObjectName("kernelCaption")
        self.heat_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heat_caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.summary_label = plain_label("")
        self.summary_label.setObjectName("kernelSummary")
        self.summary_label.setWordWrap(True)
        self.confidence_label = plain_label("")
        self.confidence_label.setObjectName("kernelConfidence")
        self.confidence_label.setWordWrap(True)
        self.confidence_label.setToolTip(
            "From the image alone: how well the image downscaled with this kernel passes for the "
            "image itself (the sharpness fit: how closely its sharpness per direction matches; "
            "KernelGAN: how far its discriminator can no longer tell them apart; their mean: the fit's). A doubtful "
            "estimate: estimate again with KernelGAN, another seed or more restarts. Reliable from "
            f"{RELIABLE_AT:.2f} on a 0–1 scale.")
        self.source_label = plain_label("")
        self.source_label.setWordWrap(True)
        self.source_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.save_button = QPushButton("Save kernel…")
        self.save_button.clicked.connect(lambda: self.save_kernel())
        self.load_button = QPushButton("Load kernel…")
        self.load_button.clicked.connect(lambda: self.load_kernel())
        self.png_check = QCheckBox("Also save a .png picture")
        self.png_check.setChecked(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.load_button)
        layout = QVBoxLayout(box)
        layout.addWidget(self.heat_map)
        layout.addWidget(self.heat_caption)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.confidence_label)
        layout.addWidget(self.source_label)
        layout.addLayout(buttons)
        layout.addWidget(self.png_check)
        return box

    def _upscale_button(self, model: str, name: str, tip: str) -> QPushButton:
        """A button that asks for an upscale with the kernel by `model` (text set in _refresh)."""
        button = QPushButton()
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(lambda: self.request_upscale(model))
        return button

    def _build_use_box(self) -> QGroupBox:
        # the kernel is named by the box's title, not by each button: "Fast upscale ×2 with
        # this kernel (map-sr)" widened the panel's column past its dock at 1366×720
        box = QGroupBox("Upscale with this kernel")
        self.upscale_button = self._upscale_button(
            "zssr", "kernelUpscaleButton",
            "ZSSR: a small network trained on this image, degraded with this kernel. "
            "The result appears in the compare view like any model's.")
        self.fast_upscale_button = self._upscale_button(
            "map-sr", "kernelFastUpscaleButton",
            "map-sr: solves for the sharp image whose blur with this kernel, downscaled, is this "
            "image (total-variation prior). Seconds instead of minutes; it trusts the kernel "
            "completely, so use it with a reliable or known kernel.")
        self.real_photo_check = QCheckBox("Real photo (JPEG, noise)")
        self.real_photo_check.setObjectName("kernelRealPhotoCheck")
        self.real_photo_check.setToolTip(
            "For camera photos and JPEGs: ZSSR trains with a little noise on its inputs and skips "
            "back-projection, so compression blocks and sensor noise are not sharpened as detail. "
            "Leave it off for clean images.")
        hint = QLabel("ZSSR trains on this image: minutes on a CPU; map-sr takes seconds. "
                      "The Metrics panel's Evaluate can also degrade with the kernel.")
        hint.setToolTip("Both upscale at the kernel's scale: estimate at ×4 for a ×4 result.")
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(box)
        layout.addWidget(self.upscale_button)
        layout.addWidget(self.real_photo_check)
        layout.addWidget(self.fast_upscale_button)
        layout.addWidget(hint)
        return box

    # ================================================================ public API
    def set_image(self, image, name: str = "") -> None:
        """The window's current image (engine `Image` or None). A running estimation of
        the previous image is cancelled; the kernel is kept (it may be a loaded one)."""
        if self._job is not None:
            self.queue.cancel()
            # its reports are about the image left; an estimation of this one may be asked for
            # at once (queued while the old one stops: Ctrl+K then did nothing, silently)
            self._job = None
            self._show_kernel(self.kernel)  # (not its half-formed preview)
        changed = image is not self.image
        self.image = image
        if changed and self.kernel is None and self._job is None:
            self._show_kernel(None)  # (its words depend on whether there is an image)
        self.image_name = name or (image.path.name if image is not None and image.path else "image")
        if changed:  # "Done"/"Failed." and the full bar spoke of the previous image's estimation
            self.progress_bar.setVisible(False)
            kept = self.kernel is not None and self.kernel_source and image is not None and not self._is_origin(image)
            # the kernel stays (it may be a loaded one): say it is not this image's
            self.status_label.setText(f"The kernel shown is not {self.image_name}'s: Estimate to get its own."
                                      if kept else "")
            if self.kernel is not None and self._job is None:
                self._show_confidence(self.kernel_confidence)  # (whose verdict it is)
        self._refresh()

    def _is_origin(self, image) -> bool:
        """Whether `image` is the one the kernel shown was estimated from (opened again: its
        file; it was said not to be its own kernel)."""
        path = getattr(image, "path", None)
        return self.kernel_origin is not None and path is not None and same_file(path, self.kernel_origin)

    def start_estimation(self) -> Job | None:
        """Estimate the current image's kernel in the worker (None if it cannot start)."""
        if self._closed:
            return None
        if self.image is None:
            self._error("Open an image first: the kernel is estimated from it.")
            return None
        if self._job is not None:
            return self._job
        task = KernelTask(
            pixels=self.image.pixels,
            scale=int(self.scale_combo.currentData()),
            iterations=self.iterations_spin.value(),
            batch=int(FAST_PRESET["batch"]),
            early_stop=bool(FAST_PRESET["early_stop"]),
            restarts=self.restarts_spin.value(),
            prior=str(self.prior_combo.currentData()),
            method=str(self.method_combo.currentData()),
            device=self.device_provider(),
            source_name=self.image_name,
            seed=None if self.seed_spin.value() < 0 else self.seed_spin.value(),
        )
        job = Job(self.image, task)
        self._job = job
        self._outcome = ""  # (the last estimation's "done" showed a full bar after this one's cancel)
        self.preview_kernel = None
        self.progress_bar.setRange(0, task.iterations * task.restarts)
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        self.status_label.setText(f"Starting on {self.image_name}…")
        had_focus = self.estimate_button.hasFocus()  # (before the queue's busy signal greys it out)
        self.queue.submit(job)
        self._refresh()
        if had_focus:  # (Estimate greyed out sent the focus on to "Also save a .png picture")
            self.cancel_button.setFocus()
        return job

    def cancel(self) -> None:
        """Stop the running estimation (within one iteration)."""
        if self._job is not None:
            self.queue.cancel()
            self.status_label.setText("Cancelling…")

    def is_running(self) -> bool:
        return self.queue.is_busy()

    def set_kernel(self, kernel: np.ndarray | None, source: str = "", scale: int | None = None,
                   confidence: float | None = None, reliable: bool | None = None, doubt: str = "",
                   origin: Path | None = None) -> None:
        """Show ``kernel`` as the current one and announce it (``kernelChanged``); it is
        checked and normalised (`KernelError` for an unusable array).

        ``scale``: the SR scale it is for (2 or 4); None guesses from its size (×4
        kernels are at least 25 taps wide), which is how loaded files are judged.
        ``confidence``: the estimate's score (None: not estimated here, nothing to show);
        ``reliable`` and ``doubt``: its verdict and why it doubts; ``origin``: the file of
        the image it was estimated from.
        """
        if kernel is not None:
            kernel = check_kernel(kernel)
            self.kernel_scale = int(scale) if scale in (2, 4) else guess_kernel_scale(kernel)
        self.kernel = kernel
        self.kernel_confidence = confidence if kernel is not None else None
        self.kernel_reliable = reliable if kernel is not None and confidence is not None else None
        self.kernel_doubt = doubt if kernel is not None else ""
        self.kernel_origin = origin if kernel is not None else None
        self.kernel_source = source if kernel is not None else ""
        self._show_kernel(kernel)
        self._refresh()
        self.kernelChanged.emit(kernel)

    def save_kernel(self, path: str | Path | None = None) -> list[Path] | None:
        """Save the kernel as .npy (+ .png if checked); asks for the path when not given."""
        if self.kernel is None:
            self._error("There is no kernel to save yet.")
            return None
        if path is None:
            path = self.ask_save_path(self._suggested_path())
            if not path:
                return None
        png = self.png_check.isChecked()
        source = getattr(self.image, "path", None) if self.image is not None else None
        try:
            _, png_path = kernel_file_paths(path, png, source)
            png_exists = png_path is not None and png_path.exists()
        except (SRDesktopError, OSError) as exc:  # OSError: a name too long, ...
            self._error(one_line(exc))
            return None
        replace_png = False
        if png_exists:
            # the save dialog asked about the .npy only; the picture beside it is another file
            if not self.ask_replace(png_path):
                return None
            replace_png = True
        try:
            written = save_kernel_files(self.kernel, path, png=png, source=source, replace_png=replace_png)
        except (SRDesktopError, OSError) as exc:
            self._error(one_line(exc))
            return None
        self.source_label.setText(self.kernel_source + f"\nSaved as {written[0].name}")
        self.kernelSaved.emit(written)
        return written

    def load_kernel(self, path: str | Path | None = None) -> bool:
        """Load a .npy kernel, checked by `engine.core.kernel_file.check_kernel` and normalised to sum 1."""
        if path is None:
            path = self.ask_open_path()
            if not path:
                return False
        try:
            kernel = load_kernel_file(path)
        except SRDesktopError as exc:
            self._error(one_line(exc))
            return False
        self.estimate = None
        self.set_kernel(kernel, f"Loaded from {Path(path).name}")
        # an earlier estimation's "Failed: …" or "Cancelled." is not about this kernel
        self.status_label.setText("")
        self.progress_bar.setVisible(False)
        return True

    def request_upscale(self, model: str = "zssr") -> bool:
        """"Upscale with this kernel": ask the window for a ZSSR (or map-sr) job with the
        kernel; a doubtful estimate is used only after the question box said yes.
        Returns whether the job was requested."""
        if model not in UPSCALE_MODELS:
            raise ValueError(f"unknown kernel upscaler {model!r}")
        if self.kernel is None:
            self._error("Estimate or load a kernel first.")
            return False
        if self.image is None:
            self._error("Open an image first.")
            return False
        if (other := self._other_images()) and not self.ask_use_doubtful(
                f"This kernel was estimated from {other}, not {self.image_name}: each photo has a blur of its own, "
                f"and {UPSCALE_MODELS[model]} with a wrong kernel gives halos and ringing. Estimate this image's "
                "own for a better one.\n\nUpscale with it anyway?"):
            return False  # (it ran without a word, the panel still saying "Reliable")
        if not self.may_use_kernel(UPSCALE_MODELS[model]):
            return False
        variant = "real" if model == "zssr" and self.real_photo_check.isChecked() else "default"
        self.upscaleRequested.emit(self.kernel, self.kernel_scale, variant, model)
        return True

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel the estimation and wait for the worker (the window calls it on close)."""
        self._closed = True
        return self.queue.shutdown(timeout)

    # ================================================================ worker reports
    def _on_progress(self, job: Job, info: ProgressInfo) -> None:
        if job is not self._job:
            return
        if info.total > 0:
            self.progress_bar.setRange(0, info.total)
            self.progress_bar.setValue(min(info.done, info.total))
        extra = info.extra or {}
        task: KernelTask = job.options
        if "loss_g" in extra:
            run = f"run {extra['restart'] + 1}/{task.restarts} · " if task.restarts > 1 else ""
            eta = f" · ETA {human_seconds(info.eta)}" if info.eta is not None else ""
            self.status_label.setText(
                f"{run}iteration {extra['iteration']}/{task.iterations}{eta}\n"
                f"loss G {extra['loss_g']:.3f} · D {extra['loss_d']:.3f} · "
                f"bicubic {extra['loss_bicubic']:.2g}"
            )
        kernel = extra.get("kernel")
        if kernel is not None and "loss_g" in extra:
            self.preview_kernel = np.asarray(kernel)
            self._show_kernel(self.preview_kernel, f"×2 kernel at iteration {extra['iteration']} (forming)")

    def _on_finished(self, job: Job, estimate) -> None:
        if job is not self._job:
            return
        self.estimate = estimate
        task: KernelTask = job.options
        runs = f", {task.restarts} runs" if task.restarts > 1 else ""
        # the seed drawn, so that the run can be repeated (`sr-desktop kernel --seed`)
        seed = f", seed {estimate.seed}" if estimate.seed is not None else ""
        kernelgan = f"KernelGAN, {counted(estimate.iterations_run, 'iteration')}{runs}{seed}"
        how = {"sharpness": "sharpness fit", "combined": f"mean of the sharpness fit and {kernelgan}"}.get(
            estimate.method, kernelgan)
        source = f"Estimated from {task.source_name}: ×{estimate.scale}, {how}, {human_seconds(estimate.seconds)}"
        verdict = "reliable" if estimate.reliable else f"doubtful, {estimate.doubt}" if estimate.doubt else "doubtful"
        # what to do about a doubtful one, as the command line says it (only a tooltip and the
        # question before an upscale did)
        again = ""
        if not estimate.reliable:
            # (with a Seed typed in, another run repeats this one: the seed has to change)
            redraw = ("another run draws another seed" if task.seed is None
                      else f"another Seed than {task.seed} (or Random)")
            again = (" Estimate again with Method “KernelGAN”." if estimate.method == "sharpness"
                     else f" Estimate again: {redraw}, or more Restarts.")
        self.status_label.setText(f"Done in {human_seconds(estimate.seconds)}: {verdict} "
                                  f"(confidence {estimate.confidence:.2f}).{again}")
        announce(self, f"Blur kernel estimated. {self.status_label.text()}")  # (unread without the focus)
        self._outcome = "done"
        try:
            self.set_kernel(estimate.kernel, source, scale=estimate.scale, confidence=estimate.confidence,
                            reliable=bool(estimate.reliable), doubt=estimate.doubt or "",
                            origin=getattr(job.image, "path", None))
        except SRDesktopError as exc:
            self._error(f"the estimated kernel is not usable: {one_line(exc)}")
            return
        self.estimationFinished.emit(estimate)

    def _on_failed(self, job: Job, message: str) -> None:
        if job is not self._job:
            return
        self.status_label.setText(f"Failed: {message}" if message else "Failed.")
        announce(self, self.status_label.text())  # (unread without the focus)
        self._outcome = "failed"
        self._error(message)
        self._show_kernel(self.kernel)

    def _on_cancelled(self, job: Job) -> None:
        if job is not self._job:
            return
        self._outcome = "cancelled"
        self._show_kernel(self.kernel)  # (not the half-formed preview)
        if job.image is self.image:  # (cancelled by a switch to another image: not that one's news)
            self.status_label.setText("Cancelled.")
            announce(self, "Kernel estimation cancelled.")

    def _on_busy_changed(self, busy: bool) -> None:
        if not busy:
            self._job = None
            done = self._outcome == "done"
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(1 if done else 0)
            self.progress_bar.setVisible(done)
        had_focus = self.cancel_button.hasFocus()
        self._refresh()
        if had_focus and not busy:  # the estimation over: back to Estimate (it went on to the check box)
            self.estimate_button.setFocus()
        self.busyChanged.emit(busy)

    # ================================================================ display
    def _show_kernel(self, kernel: np.ndarray | None, caption: str | None = None) -> None:
        if kernel is None:
            self.heat_map.setPixmap(QPixmap())
            self.heat_map.setText(PLACEHOLDER if self.image is not None else PLACEHOLDER_NO_IMAGE)
            self.heat_map.setStyleSheet(  # on-image colour: the heat map's own black canvas
                "QLabel { background: #202020; color: #bbbbbb; border-radius: 4px; }")  # on-image colour
            self.heat_caption.setText("")
            self.summary_label.setText("")
            self.confidence_label.setText("")
            self.source_label.setText("")
            return
        self.heat_map.setStyleSheet("QLabel { background: #202020; border-radius: 4px; }")  # on-image colour
        self.heat_map.setPixmap(QPixmap.fromImage(array_to_qimage(heat_map_pixels(kernel))))
        if caption is None:
            caption = "black: 0 · white: peak"
        self.heat_caption.setText(caption)
        self.summary_label.setText(summary_lines(kernel, self.kernel_scale if kernel is self.kernel else 2))
        if kernel is self.kernel:
            self.source_label.setText(self.kernel_source)
            self._show_confidence(self.kernel_confidence)
        else:
            self._show_confidence(None)  # a forming kernel: not judged yet

    def is_doubtful(self) -> bool:
        """Whether the kernel is an estimate its verdict doubts (a loaded one is not)."""
        return self.kernel is not None and self.kernel_confidence is not None and not self._kernel_trusted()

    def may_use_kernel(self, user: str) -> bool:
        """True when the kernel may be used by `user` ("ZSSR", "a batch of map-sr"): a trusted
        one, or a doubtful estimate after the question box said yes."""
        if not self.is_doubtful():
            return True
        why = (f"{self.kernel_doubt}; confidence {self.kernel_confidence:.2f}" if self.kernel_doubt else
               f"confidence {self.kernel_confidence:.2f}, reliable from {RELIABLE_AT:.2f}")
        return self.ask_use_doubtful(
            f"This kernel estimate is doubtful ({why}): {user} with a wrong kernel gives halos and ringing. "
            "Estimate again (Method KernelGAN, another run or more restarts) for a better one.\n\n"
            "Upscale with it anyway?")

    def _kernel_trusted(self) -> bool:
        """The estimate's verdict (the score alone for a kernel without one)."""
        if self.kernel_reliable is not None:
            return self.kernel_reliable
        return self.kernel_confidence is None or is_reliable(self.kernel_confidence)

    def _other_images(self) -> str:
        """The name of the image the kernel was estimated from when another one is shown, else ""."""
        if self.kernel_origin is None or self.image is None or self._is_origin(self.image):
            return ""
        return self.kernel_origin.name

    def _show_confidence(self, confidence: float | None) -> None:
        text = confidence_text(confidence, self._kernel_trusted())
        if text and (other := self._other_images()):  # ("Reliable" read as this image's verdict)
            text += f" · of {other}"
        self.confidence_label.setText(text)
        # the words say reliable / doubtful; bold, in the theme's text colour (dark mode too)
        set_bold(self.confidence_label)

    def _refresh(self) -> None:
        running = self._job is not None
        need = smallest_image_side()
        too_small = self.image is not None and min(self.image.width, self.image.height) < need
        self.estimate_button.setEnabled(self.image is not None and not running and not self._closed and not too_small)
        # (each press failed, saying why, on an image too small for any estimate)
        self.estimate_button.setToolTip(
            f"The image is {self.image.width}×{self.image.height} px: an estimate needs at least {need}×{need}"
            if too_small else with_native_keys(ESTIMATE_TIP))
        self.cancel_button.setEnabled(running)
        for widget in (self.scale_combo, self.method_combo, self.load_button):
            widget.setEnabled(not running)
        uses_kernelgan = self.method_combo.currentData() != "sharpness"
        for widget in (self.iterations_spin, self.restarts_spin, self.seed_spin, self.prior_combo):
            widget.setEnabled(not running and uses_kernelgan)
        # (not while an estimation runs: the heat map then shows the forming kernel, and
        # "this kernel" saved or used the one before it)
        has_kernel = self.kernel is not None and not running
        self.save_button.setEnabled(has_kernel)
        self.upscale_button.setEnabled(has_kernel and self.image is not None)
        self.fast_upscale_button.setEnabled(has_kernel and self.image is not None)
        scale = f"×{self.kernel_scale} " if has_kernel else ""
        self.upscale_button.setText(f"Upscale {scale}(ZSSR)")
        self.fast_upscale_button.setText(f"Fast upscale {scale}(map-sr)")

    def _error(self, message: str) -> None:
        self.errorOccurred.emit(message.splitlines()[0] if message else message)

    def _suggested_path(self) -> Path:
        # named after the image it was estimated from (the one shown may be another since);
        # beside it unless it is the bundled sample (in the app's own folder)
        origin = self.kernel_origin or (getattr(self.image, "path", None) if self.image is not None else None)
        if origin:
            return path_beside_image(Path(origin), f"_kernel_x{self.kernel_scale}.npy", self.default_dir(), "kernel")
        return self.default_dir() / "kernel.npy"

    def _ask_use_doubtful_box(self, message: str) -> bool:
        return confirm(self, DOUBTFUL_TITLE, message, "Upscale anyway", "doubtfulKernelBox", warning=True)

    def _ask_replace_box(self, path: Path) -> bool:
        return confirm(self, "Replace picture?",
                       f"{path.name} already exists in {path.parent}. Replace it with the kernel's picture?",
                       "Replace", "replaceKernelPictureBox")

    def _ask_save_dialog(self, suggested: Path) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(self, "Save kernel", str(suggested), "Kernel (*.npy)")
        return Path(name) if name else None

    def _ask_open_dialog(self) -> Path | None:
        name, _ = QFileDialog.getOpenFileName(self, "Load kernel", "", "Kernel (*.npy);;All files (*)")
        return Path(name) if name else None
