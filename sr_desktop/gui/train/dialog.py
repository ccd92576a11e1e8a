"""Tools ▸ Train a model…: a non-modal dialog that trains or fine-tunes a model.

The run is a job of the dialog's own `JobQueue` (a worker thread; `app.train_jobs`), so
the main window stays usable. The dialog shows the live training loss and validation PSNR
(`plots.CurvePlot`, the bicubic baseline dashed), the validation preview before (the LR
input) and after (the network's output), the iteration, it/s and ETA; Pause holds the
loop between iterations, Cancel stops it after saving a checkpoint, Resume continues the
same run folder. At the end "Use this model" emits ``useModelRequested(model_id, scale)``;
the main window selects that model in its picker, at the scale it was trained for.

Over 500 lines because one dialog holds a run's whole life (options, live curves and
previews, pause/cancel/resume, the end); the job lives in `app.train_jobs`, the plot in
`plots`.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.app.jobs import Job, JobOutcome
from sr_desktop.app.session import model_display_name
from sr_desktop.app.train_jobs import LOSS_PRESETS, TRAINABLE, TrainRequest, run_train_job
from sr_desktop.app.train_jobs import training_models as trainable_models
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.core.options import DEVICE_CHOICES
from sr_desktop.engine.core.paths import DOCS_DIR
from sr_desktop.engine.core.progress import TRAINING_SETUP_STAGE, ProgressInfo
from sr_desktop.engine.core.text import human_seconds
from sr_desktop.engine.models.spec import ModelSpec
from sr_desktop.engine.training import TrainOptions
from sr_desktop.engine.training.checkpoint import has_checkpoint, latest_iteration, recorded_settings
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.options import DEFAULT_LR, FINE_TUNE_LR, RECORDED_ONLY
from sr_desktop.engine.training.precision import AMP_CHOICES
from sr_desktop.engine.training.runlog import points, read_records
from sr_desktop.engine.training.val_backend import VALIDATION_BACKENDS
from sr_desktop.engine.training.validation import read_logged_preview
from sr_desktop.engine.training.vgg import TORCHVISION_FILE
from sr_desktop.gui.dialog_words import in_dialog_words
from sr_desktop.gui.job_dialog import JobDialog
from sr_desktop.gui.qimage import array_to_qimage
from sr_desktop.gui.train.plots import CurvePlot
from sr_desktop.gui.widgets import (
    ContentsHighScrollArea,
    StatusLine,
    add_browse_row,
    announce,
    confirm,
    resize_within_screen,
)
from sr_desktop.gui.worker import JobQueue

FROM_SCRATCH = "(from scratch)"
DEGRADATIONS = ("bicubic", "realesrgan", "kernel:")
#: the train command's flags, as this dialog names them (engine messages speak the CLI's words)
TRAIN_FIELDS = {
    "--data": "Data", "--lr-data": "LR images", "--val": "Validation", "--val-lr": "Validation LR",
    "--align": "Align the pairs",
    "--out": "Run folder", "--arch": "Architecture",
    "--scale": "Scale", "--degradation": "Degradation", "--downscale": "Downscale", "--loss": "Loss",
    "--iterations": "iterations", "--batch": "batch", "--patch": "patch", "--init": "Start from",
    "--device": "Device", "--amp": "Precision", "--backend": "Validate with", "--name": "Name",
    "--resume": "Resume", "--vgg-weights": "VGG19 weights", "--lr": "Learning rate", "--seed": "Seed",
    # a model to start from that needs a file, or is gone
    "`sr-desktop models add FILE`": "Models ▸ Add model…", "'sr-desktop models'": "Start from",
}
PREVIEW_SIDE = 200
#: the least side of a preview: on a 1024×600 screen the previews give way to the form
PREVIEW_MIN_SIDE = 110
#: the least height of the options' scroll area (the rest scrolls on a short screen)
OPTIONS_MIN_HEIGHT = 150
#: a line edit with a Browse… button, as the batch dialog makes it


def _folders(edit: QLineEdit) -> tuple[str, ...]:
    """The folders a field holds, separated with ;"""
    return tuple(p.strip() for p in edit.text().split(";") if p.strip())


def rate_text(value: float) -> str:
    """A learning rate as people write them: ``2e-4``, ``1.5e-5`` (not 0.0002, 2e-05)."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


class PreviewLabel(QLabel):
    """A validation image scaled to the room the label has, again when the dialog is resized
    (it kept the size it had when the preview arrived)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._source: QPixmap | None = None

    def show_pixels(self, pixels) -> None:
        """Show an H×W×C uint8 image."""
        self._source = QPixmap.fromImage(array_to_qimage(pixels))
        self._fit()

    def clear_preview(self, text: str) -> None:
        """No image: ``text`` instead."""
        self._source = None
        self.clear()
        self.setText(text)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._source is None:
            return
        side = max(PREVIEW_MIN_SIDE, min(PREVIEW_SIDE, self.width(), self.height()))  # the room it has
        self.setPixmap(self._source.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))


class TrainDialog(JobDialog):
    """Options, live curves, preview and controls of one training run.

    ``useModelRequested(model_id, scale)``: the user asked to use the trained model (at the
    scale the run trained);
    ``modelTrained(model_id)``: a run ended with a registered model (the picker should
    reload its list).
    """

    useModelRequested = Signal(str, int)
    modelTrained = Signal(str)

    def __init__(self, parent=None, models: list[ModelSpec] | None = None, data_dir: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.setModal(False)
        self.queue = JobQueue(self, runner=run_train_job)
        #: asks before Esc or closing stops a running run (`widgets.confirm`'s arguments; tests set it)
        self.ask_stop_run = confirm
        self.queue.jobProgress.connect(lambda _job, info: self._on_progress(info))
        self.queue.jobEnded.connect(self._on_ended)
        self.request: TrainRequest | None = None
        self.result = None
        self.val_backend = ""  # what ran the last validation (torch / openvino)
        self.run_note = ""  # how a Resume changed the learning-rate schedule (one line)
        self._setup_message = ""  # the step before the first iteration that runs ("": none)
        self._filled_from: Path | None = None  # the run folder whose settings the form shows

        self.data_edit = QLineEdit(data_dir or "")
        self.data_edit.setToolTip("Folders of high-resolution images (sub-folders included); several: separate with ;")
        self.lr_data_edit = QLineEdit()
        self.lr_data_edit.setPlaceholderText("optional: real pairs; else the Degradation makes them")
        self.lr_data_edit.setToolTip(
            "Real pairs: the folder of the low-resolution images of the Data folder (1/Scale of their size: a "
            "camera's or a scanner's), paired by name (DIV2K's NAMEx2 and RealSR's NAME_LR2 count as NAME). "
            "The network learns their degradation instead of a made one. Several: one for each Data folder, "
            "separated with ;")
        self.align_check = QCheckBox("Align the pairs")
        self.align_check.setToolTip("Move each HR image by whole HR pixels onto its LR image's content (the shift "
                                    "phase correlation measures), both cropped to what they share: pairs off by a "
                                    "shift. Not a rotation or zoom: register those yourself")
        self.val_edit = QLineEdit()
        self.val_edit.setPlaceholderText("optional: the first two training images")
        self.val_lr_edit = QLineEdit()
        self.val_lr_edit.setPlaceholderText("optional: else made by the Degradation")
        self.val_lr_edit.setToolTip("The low-resolution images of the Validation folder, paired by name (needed with "
                                    "LR images: the run is measured on the degradation it learns)")
        self.out_edit = QLineEdit()
        self.arch_combo = QComboBox()
        self.arch_combo.setEditable(True)
        self.arch_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # (Enter starts the run)
        self.arch_combo.addItems(list(TRAINABLE))
        self.arch_combo.setCurrentText("EDSR-baseline")
        self.arch_combo.setToolTip("An architecture, optionally with hyper-parameters: EDSR:num_feat=32,num_block=8")
        self.scale_spin = QSpinBox()
        self.scale_spin.setRange(2, 8)
        self.scale_spin.setValue(2)
        self.degradation_combo = QComboBox()
        self.degradation_combo.setEditable(True)
        self.degradation_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # (Enter starts the run)
        self.degradation_combo.addItems(list(DEGRADATIONS))
        self.degradation_combo.setToolTip("bicubic, realesrgan, or kernel:FILE.npy[,noise=SIGMA][,jpeg=Q]")
        self.degradation_combo.setProperty("madeTip", self.degradation_combo.toolTip())
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(LOSS_PRESETS))
        self.loss_edit = QLineEdit(LOSS_PRESETS["PSNR"])
        self.loss_edit.setToolTip(f"Advanced: NAME[@OPTION][:WEIGHT],… (see {DOCS_DIR / 'training.md'})")
        self.preset_combo.currentTextChanged.connect(lambda name: self.loss_edit.setText(LOSS_PRESETS[name]))
        self.iterations_spin = self._spin(10, 10_000_000, 10_000)
        self.batch_spin = self._spin(1, 1024, 16)
        self.patch_spin = self._spin(8, 512, 48)
        self.seed_spin = self._spin(0, 2**31 - 1, 0)
        self.seed_spin.setToolTip("The seed of the run's random draws (initial weights, patches, degradations): the "
                                  "same seed, data and settings give the same run on the CPU with the same threads (a "
                                  "GPU's algorithms differ in their last bits), another seed another one, as train "
                                  "--seed. Resume keeps the run's own")
        self.lr_edit = QLineEdit()
        self.lr_edit.setPlaceholderText(f"auto: {rate_text(DEFAULT_LR)} from scratch, {rate_text(FINE_TUNE_LR)} from a "
                                        "model")
        self.lr_edit.setToolTip("The Adam learning rate at the top of the schedule (a number in (0, 1), e.g. 1e-4); "
                                "empty: the preset. A resumed run keeps its own unless one is given here")
        self.init_combo = QComboBox()
        self.init_combo.setEditable(True)
        self.init_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # (Enter starts the run)
        self.set_models(models or [])
        self.init_combo.setToolTip("Fine-tune: a model of the list or a .pth/.safetensors file")
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICE_CHOICES))
        self.backend_combo = QComboBox()
        self.backend_combo.addItems(list(VALIDATION_BACKENDS))
        self.backend_combo.setToolTip(
            "What runs the network at validation. auto: times torch and OpenVINO at the first validation "
            "and keeps the faster; openvino: converts each validation's weights (CPU, fp32), as an "
            "exported model would run")
        self.amp_combo = QComboBox()
        self.amp_combo.addItems(list(AMP_CHOICES))
        self.amp_combo.setToolTip(
            "Mixed precision of the training steps. auto: on CUDA, and bf16 on CPUs with AMX (2.6–2.8× "
            "faster there); on: bf16 on any CPU; off: float32. Validation and the saved model are float32")
        self.downscale_edit = QLineEdit()
        self.downscale_edit.setPlaceholderText("optional, e.g. 0.9 0.8 0.7 0.6")
        self.downscale_edit.setToolTip(
            "Scale augmentation (FSRCNN): each training image is also used downscaled by these "
            "fractions, in [0.1, 1)")
        self.downscale_edit.setProperty("madeTip", self.downscale_edit.toolTip())
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("register the result under this name")
        self.vgg_edit = QLineEdit()
        self.vgg_edit.setPlaceholderText("for the perceptual, GAN, SPSR losses")
        self.vgg_edit.setToolTip(
            f"The VGG19 ImageNet weights those losses compare features with (torchvision's {TORCHVISION_FILE}); "
            "empty: the file in torch's hub cache. Nothing is downloaded")

        self.options_box = QGroupBox("Run")
        form = QFormLayout(self.options_box)
        add_browse_row(form, "Data", self.data_edit, lambda: self._browse_folder(self.data_edit))
        add_browse_row(form, "LR images", self.lr_data_edit, lambda: self._browse_folder(self.lr_data_edit))
        form.addRow("", self.align_check)
        add_browse_row(form, "Validation", self.val_edit, lambda: self._browse_folder(self.val_edit))
        add_browse_row(form, "Validation LR", self.val_lr_edit, lambda: self._browse_folder(self.val_lr_edit))
        add_browse_row(form, "Run folder", self.out_edit, lambda: self._browse_folder(self.out_edit))
        form.addRow("Architecture", self.arch_combo)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Degradation", self.degradation_combo)
        form.addRow("Downscale", self.downscale_edit)
        form.addRow("Loss", self.preset_combo)
        form.addRow("", self.loss_edit)
        self.loss_edit.setAccessibleName("Loss terms")
        add_browse_row(form, "VGG19 weights", self.vgg_edit, self._browse_vgg_weights)
        sizes = QWidget()
        sizes_row = QHBoxLayout(sizes)
        sizes_row.setContentsMargins(0, 0, 0, 0)
        for label, spin in (("iterations", self.iterations_spin), ("batch", self.batch_spin),
                            ("patch", self.patch_spin)):
            caption = QLabel(label)
            caption.setBuddy(spin)  # (a screen reader read the spin box as its number only)
            sizes_row.addWidget(caption)
            sizes_row.addWidget(spin)
        form.addRow("", sizes)
        form.addRow("Learning rate", self.lr_edit)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Start from", self.init_combo)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.amp_combo)
        form.addRow("Validate with", self.backend_combo)
        form.addRow("Name", self.name_edit)

        # series colours encode data (they read on light and dark bases alike), not the theme
        self.loss_plot = CurvePlot("training loss", "#1f77b4", log_y=True)  # on-image colour
        self.psnr_plot = CurvePlot("validation PSNR-Y (dB)", "#d62728")  # on-image colour
        self.before_label, self.after_label = PreviewLabel("input"), PreviewLabel("output")
        for label in (self.before_label, self.after_label):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setMinimumSize(PREVIEW_MIN_SIDE, PREVIEW_MIN_SIDE)
            label.setStyleSheet("background: #222; color: #aaa")  # on-image colour (preview canvas)
        previews = QHBoxLayout()
        for caption, label in (("validation input (LR)", self.before_label), ("network output", self.after_label)):
            column = QVBoxLayout()
            column.addWidget(QLabel(caption))
            column.addWidget(label, 1)
            previews.addLayout(column)
        self.progress_bar = QProgressBar()
        self.status_label = StatusLine("Choose the data, the architecture and a run folder, then Start.")

        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.use_button = QPushButton("Use this model")
        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self.set_paused)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.use_button.clicked.connect(self._use_model)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)

        right = QVBoxLayout()
        right.addWidget(self.loss_plot, 1)
        right.addWidget(self.psnr_plot, 1)
        right.addLayout(previews, 1)  # a third of the height: 200-px previews on a laptop screen
        # the form scrolls on a short screen (1024×600) instead of making the dialog taller
        self.options_scroll = ContentsHighScrollArea(self.options_box, OPTIONS_MIN_HEIGHT)
        self.options_scroll.setAccessibleName("Run options")
        self.options_scroll.setMinimumWidth(
            self.options_box.sizeHint().width() + self.options_scroll.verticalScrollBar().sizeHint().width())
        top = QHBoxLayout()
        top.addWidget(self.options_scroll, 0)
        top.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        # the whole form and full-size previews on a 1366×768 laptop screen; wider for a larger font
        resize_within_screen(self, max(1100, self.sizeHint().width()), 660)
        self.start_button.setDefault(True)  # Enter in a field starts (it opened the first folder picker)
        self._set_running(False)
        self.use_button.setEnabled(False)
        self.out_edit.textChanged.connect(self._update_resume)
        self.lr_data_edit.textChanged.connect(self._update_degradation_fields)
        for edit in (self.lr_data_edit, self.val_lr_edit):
            edit.textChanged.connect(self._update_align)
        self._update_align()
        self._update_resume()

    @staticmethod
    def _spin(low: int, high: int, value: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setValue(value)
        return spin

    def _update_align(self) -> None:
        """Align the pairs is for given LR images (LR images or Validation LR)."""
        self.align_check.setEnabled(bool(self.lr_data_edit.text().strip() or self.val_lr_edit.text().strip()))

    def _update_degradation_fields(self) -> None:
        """Degradation and Downscale make LR images: not with given ones (LR images). Turned off
        they show nothing (a greyed "realesrgan" read as used) and get their text back after."""
        made = not self.lr_data_edit.text().strip()
        if made == self.degradation_combo.isEnabled():
            return
        for field, edit in ((self.degradation_combo, self.degradation_combo.lineEdit()),
                            (self.downscale_edit, self.downscale_edit)):
            if made:
                edit.setText(field.property("madeText") or "")
                edit.setPlaceholderText(field.property("madePlaceholder") or "")
            else:
                field.setProperty("madeText", edit.text())
                field.setProperty("madePlaceholder", edit.placeholderText())
                edit.clear()
                edit.setPlaceholderText("not used: the LR images are given")
            field.setEnabled(made)
            field.setToolTip(field.property("madeTip") if made else "Not used: the LR images are given (LR images)")
        self.val_lr_edit.setPlaceholderText("optional: else made by the Degradation" if made
                                            else "needed with Validation: its LR images")

    def _browse_vgg_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "VGG19 weights", self.vgg_edit.text().strip(),
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.vgg_edit.setText(path)

    def _browse_folder(self, edit: QLineEdit) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder", edit.text().split(";")[0].strip())
        if folder:
            edit.setText(folder)

    # -- the run ------------------------------------------------------------------------------
    def set_models(self, models: list[ModelSpec]) -> None:
        """Offer `models`' trainable ones under Start from (a model a run just registered can be
        fine-tuned further at once); what the field holds stays, unless it is a model the new
        list no longer has (removed meanwhile: Start failed naming every id)."""
        kept = self.init_combo.currentText()
        offered = [self.init_combo.itemText(i) for i in range(self.init_combo.count())]
        ids = [spec.id for spec in trainable_models(models)]
        self.init_combo.clear()
        self.init_combo.addItems([FROM_SCRATCH, *ids])
        if kept in offered and kept != FROM_SCRATCH and kept not in ids:
            self.status_label.setText(f"“Start from” {kept} is no longer in the model list.")
            kept = FROM_SCRATCH
        self.init_combo.setCurrentText(kept or FROM_SCRATCH)
        trained = getattr(self.result, "model_id", None)
        if trained and self.use_button.isEnabled() and trained not in {spec.id for spec in models}:
            self.use_button.setEnabled(False)  # (it stayed enabled, and a click did nothing)
            self.status_label.setText(f"The trained model {trained} was removed from the model list; its file "
                                      "stays in the run folder.")

    def train_options(self) -> TrainOptions:
        """The form as `TrainOptions` (SRDesktopError when a field is wrong)."""
        # the text, always: an item's data stayed current while a path was typed over it
        init = self.init_combo.currentText().strip()
        lr_data = _folders(self.lr_data_edit)
        return TrainOptions(
            arch=self.arch_combo.currentText().strip(), scale=self.scale_spin.value(),
            data=_folders(self.data_edit), lr_data=lr_data,
            out=self.out_edit.text().strip(), val=self.val_edit.text().strip() or None,
            val_lr=self.val_lr_edit.text().strip() or None,
            align=self.align_check.isChecked() and self.align_check.isEnabled(),
            # (the fields that make LR images are off with given ones: what they hold is not used)
            degradation="bicubic" if lr_data else self.degradation_combo.currentText().strip(),
            loss=self.loss_edit.text().strip(),
            init=None if init in ("", FROM_SCRATCH) else init, iterations=self.iterations_spin.value(),
            batch=self.batch_spin.value(), patch=self.patch_spin.value(), device=self.device_combo.currentText(),
            name=self.name_edit.text().strip() or None, downscales=() if lr_data else self._downscales(),
            backend=self.backend_combo.currentText(), amp=self.amp_combo.currentText(),
            vgg_weights=self.vgg_edit.text().strip() or None, lr=self._lr(), seed=self.seed_spin.value(),
        )

    def _lr(self) -> float | None:
        """The Learning rate field's number (a decimal comma too); None when empty (`TrainOptions`
        checks its range)."""
        text = self.lr_edit.text().strip().replace(",", ".")
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise TrainingError(f"“Learning rate” takes a number such as 1e-4, got {text!r}") from None

    def _downscales(self) -> tuple[float, ...]:
        """The Downscale field's fractions (`TrainOptions` checks their range)."""
        words = []
        for token in re.split(r"[\s;]+", self.downscale_edit.text().strip()):
            if re.fullmatch(r"[0-9]*,[0-9]+", token):  # a decimal comma ("0,9 0,8"): taken for two numbers
                words.append(token.replace(",", "."))
            else:
                words.extend(word for word in token.split(",") if word)
        try:
            return tuple(float(word) for word in words)
        except ValueError:
            raise TrainingError("Downscale takes fractions such as 0.9 0.8 0.7 0.6; "
                                f"got {self.downscale_edit.text()!r}") from None

    def has_stopped_run(self) -> bool:
        """Whether the dialog shows a run that stopped with a checkpoint (Resume continues it)."""
        return not self.is_running() and self.resume_button.isEnabled()

    def is_running(self) -> bool:
        return self.queue.is_busy()

    def start(self) -> bool:
        """Start a new run with the form's options; False (and a message) if it cannot."""
        if self.is_running():
            return False
        # every missing folder at once, in the form's order (they came one Start at a time,
        # the third row's first)
        missing = [name for name, edit in (("the training images (“Data”)", self.data_edit),
                                           ("a “Run folder”", self.out_edit)) if not edit.text().strip()]
        if missing:
            self._show_error("choose " + " and ".join(missing))
            return False
        from sr_desktop.engine.training.loop import check_new_run_folder

        try:
            request = TrainRequest(self.train_options())
            # refused here, not by the run: the last run's curves and previews stay on screen
            check_new_run_folder(request.options.out_dir)
        except SRDesktopError as exc:
            self._show_error(str(exc))
            return False
        self._clear_run_view()
        return self._submit(request)

    def _clear_run_view(self) -> None:
        """Curves, bicubic line, progress and previews of the last run: a new run starts
        blank (Resume then shows its run's own, from the log and its previews)."""
        self.loss_plot.set_points([])
        self.psnr_plot.set_points([])
        self.psnr_plot.set_reference(None)
        self.progress_bar.reset()
        for label, text in ((self.before_label, "input"), (self.after_label, "output")):
            label.clear_preview(text)

    def _run_folder_checkpoint(self) -> bool:
        out = self.out_edit.text().strip()
        return bool(out) and has_checkpoint(Path(out).expanduser() / "checkpoint")

    def _update_resume(self) -> None:
        # any run folder with a checkpoint, this dialog's run or not (a dialog opened later, a
        # run of the command line): it was enabled only after a run stopped in this dialog
        can_resume = not self.is_running() and self._run_folder_checkpoint()
        self.resume_button.setEnabled(can_resume)
        out = Path(self.out_edit.text().strip()).expanduser()
        if can_resume and out != self._filled_from:
            self._fill_from_run(out)

    def _fill_from_run(self, out: Path) -> None:
        """The form as the run in `out` was made (Resume refused the defaults one setting at a
        time: "arch='fsrcnn', not 'EDSR-baseline'", then the batch, the patch…), and its
        curves and previews so far."""
        self._filled_from = out
        run = recorded_settings(out / "checkpoint")
        if not run:
            return
        # first: it turns Degradation and Downscale on or off, which then take the run's values
        # (a run without given LR images, of an earlier version too, clears the field)
        self.lr_data_edit.setText(";".join(map(str, run["lr_data"])) if isinstance(run.get("lr_data"), list) else "")
        if isinstance(run.get("arch"), str):
            self.arch_combo.setCurrentText(run["arch"])
        for spin, key in ((self.scale_spin, "scale"), (self.batch_spin, "batch"), (self.patch_spin, "patch"),
                          (self.iterations_spin, "iterations"), (self.seed_spin, "seed")):
            if isinstance(run.get(key), int) and spin.minimum() <= run[key] < 2**31:
                # (a command-line run may go beyond the box's range: it was cut to the range,
                # and Resume then ran another length or was refused)
                spin.setMaximum(max(spin.maximum(), run[key]))
                spin.setValue(run[key])
        if isinstance(run.get("loss"), str):
            self.loss_edit.setText(run["loss"])
        paired = bool(run.get("lr_data"))  # (then the fields that make LR images are off and empty)
        if isinstance(run.get("degradation"), str) and not paired:
            self.degradation_combo.setCurrentText(run["degradation"])
        self.init_combo.setCurrentText(run["init"] if isinstance(run.get("init"), str) else FROM_SCRATCH)
        if isinstance(run.get("data"), list):
            self.data_edit.setText(";".join(str(folder) for folder in run["data"]))
        for edit, key in ((self.val_edit, "val"), (self.val_lr_edit, "val_lr")):
            edit.setText(run[key] if isinstance(run.get(key), str) else "")
        self.align_check.setChecked(run.get("align") is True)
        if isinstance(run.get("downscales"), list) and not paired:
            self.downscale_edit.setText(" ".join(f"{f:g}" for f in run["downscales"]))
        self.lr_edit.setText(rate_text(run["lr"]) if isinstance(run.get("lr"), float) else "")
        # the name it registered its model under: Resume then updates that model (left empty,
        # the run trained on and the model kept the old weights)
        registered = next((r for r in reversed(read_records(out / "log.jsonl")) if r.get("kind") == "registered"),
                          None)
        self.name_edit.setText(registered.get("name") or "" if registered else "")
        self._show_logged_run(out)
        self.status_label.setText(f"The run in {out.name} is filled in: Resume continues it "
                                  "(more Iterations extend it).")

    def resume(self) -> bool:
        """Continue the run in the Run folder from its checkpoint, with the form's options and
        the run's own for its seed and what the form has no field for (optimizer, EMA, schedule…) and
        for an empty Learning rate; what a checkpoint cannot change is refused in one line, as
        ``train --resume``."""
        if self.is_running() or not self._run_folder_checkpoint():
            return False
        try:
            recorded = recorded_settings(Path(self.out_edit.text().strip()).expanduser() / "checkpoint")
            typed = self.train_options()
            # the run's own rate unless one is typed (as `train --resume` without --lr)
            keys = [key for key in RECORDED_ONLY if key != "lr" or typed.lr is None]
            options = dataclasses.replace(typed.with_recorded(recorded, keys), resume=True)
        except SRDesktopError as exc:
            self._show_error(str(exc))
            return False
        # (the status named no backend beside the logged validation until the next one)
        return self._submit(TrainRequest(options), val_backend=self._show_logged_run(Path(options.out).expanduser()))

    def _show_logged_run(self, out: Path) -> str:
        """The curves of the run in `out` up to its checkpoint, from its log: a Resume showed
        the last run of this dialog's instead (another folder's, joined to the new points) or
        none (a dialog opened since). Returns what ran its last validation ("": unknown)."""
        self._clear_run_view()
        records = read_records(out / "log.jsonl", latest_iteration(out / "checkpoint"))
        self.loss_plot.set_points(points(records, "train", "loss"))
        self.psnr_plot.set_points(points(records, "val", "psnr_y"))
        # the last: a run resumed on other validation images logs a new one
        baseline = next((r.get("psnr_y") for r in reversed(records) if r.get("kind") == "baseline"), None)
        if isinstance(baseline, (int, float)):
            self.psnr_plot.set_reference(baseline, f"bicubic {baseline:.2f} dB")
        for label, pixels in zip((self.before_label, self.after_label), read_logged_preview(out, records),
                                 strict=True):
            if pixels is not None:  # the last validation's, until the resumed run validates
                label.show_pixels(pixels)
        backend = next((r.get("backend") for r in reversed(records) if r.get("kind") == "val"), "")
        return backend if isinstance(backend, str) else ""

    def _submit(self, request: TrainRequest, val_backend: str = "") -> bool:
        self.request = request
        self._filled_from = Path(request.options.out).expanduser()  # (its form is the run's)
        self.result = None
        self.val_backend = val_backend
        self.run_note = ""
        self.use_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self._setup_message = "Reading the images…"
        self.status_label.setText(self._setup_text(self._setup_message))
        self._set_running(True)
        self.queue.submit(Job(None, request, writes_files=True))
        return True

    def set_paused(self, paused: bool) -> None:
        """Hold (or release) the training loop between iterations."""
        if self.request is not None:
            (self.request.pause.set if paused else self.request.pause.clear)()
        self.pause_button.setText("Continue" if paused else "Pause")
        if self.is_running() and self._setup_message:  # (steps before the first iteration go on)
            self.status_label.setText(self._setup_text(self._setup_message))
        elif paused and self.is_running():
            self.status_label.setText("Paused.")

    def _setup_text(self, message: str) -> str:
        """The status of a step before the first iteration, saying a pause asked for meanwhile
        (the next setup step wrote over "Paused.", and a pause looked ignored)."""
        paused = self.request is not None and self.request.pause.is_set()
        return f"Paused before the first iteration · {message}" if paused else message

    def cancel(self) -> None:
        """Stop after the current iteration; a checkpoint is saved first."""
        if self.is_running():
            self.queue.cancel()
            if self.request is not None:
                self.request.pause.clear()
            self.status_label.setText("Stopping after this iteration (saving a checkpoint)…")
            # (Pause, still enabled, then wrote "Paused." over this while the run stopped)
            self.pause_button.setChecked(False)
            for button in (self.cancel_button, self.pause_button):
                button.setEnabled(False)

    def done_words(self) -> str:
        """How far the running run is, for a question about stopping it: " (iteration 40 of 400)"."""
        bar = self.progress_bar
        return f" (iteration {bar.value()} of {bar.maximum()})" if bar.value() > 0 else ""

    def may_stop(self) -> bool:
        """Whether closing the dialog may stop its run: asked while one runs (an Esc meant for
        a list stopped a run of hours without a word); nothing to ask when none runs or it is
        already stopping."""
        if not self.is_running() or not self.cancel_button.isEnabled():
            return True
        return self.ask_stop_run(self, "Stop training", f"A training run is running{self.done_words()}. Stop it? "
                                 "It saves a checkpoint after its iteration: Resume continues it.", "Stop training",
                                 "stopRunBox", no_text="Keep training")


    # -- reports ------------------------------------------------------------------------------
    def _set_running(self, running: bool) -> None:
        on_run_buttons = self.focusWidget() in (self.pause_button, self.cancel_button)
        for widget in (self.options_box, self.start_button):
            widget.setEnabled(not running)
        for widget in (self.cancel_button, self.pause_button):
            widget.setEnabled(running)
        if not running:
            self.pause_button.setChecked(False)
        # the options greyed out took the keyboard focus with them: no widget had it, so keys
        # did nothing and a screen reader said nothing, through the run and after it
        if running:
            self.pause_button.setFocus()
        elif on_run_buttons or self.focusWidget() is None or not self.focusWidget().isEnabled():
            self.start_button.setFocus()

    def _show_error(self, message: str) -> None:
        self.status_label.show_error(in_dialog_words(message, TRAIN_FIELDS))

    def _on_progress(self, info: ProgressInfo) -> None:
        if info.stage == TRAINING_SETUP_STAGE:  # a step before the first iteration: which one
            self._setup_message = info.message
            self.status_label.setText(self._setup_text(info.message))
            return
        self._setup_message = ""
        extra = info.extra
        self.progress_bar.setMaximum(max(1, info.total))
        self.progress_bar.setValue(info.done)
        if "loss" in extra:
            self.loss_plot.add_point(info.done, extra["loss"])
        baseline = extra.get("baseline", {}).get("psnr_y")
        if baseline is not None and self.psnr_plot.reference != baseline:
            self.psnr_plot.set_reference(baseline, f"bicubic {baseline:.2f} dB")
        val = extra.get("val")
        if val:
            self.psnr_plot.add_point(info.done, val["psnr_y"])
        if extra.get("preview") is not None:
            self.after_label.show_pixels(extra["preview"])
        if extra.get("preview_input") is not None:
            self.before_label.show_pixels(extra["preview_input"])
        if extra.get("val_backend"):
            self.val_backend = extra["val_backend"]
        last = self.psnr_plot.points[-1][1] if self.psnr_plot.points else None
        ran_on = f" ({self.val_backend})" if self.val_backend else ""
        val_text = f" · validation {last:.2f} dB{ran_on}" if last is not None else ""
        paused = self.request is not None and self.request.pause.is_set()
        # a Resume that changed the schedule or met other images
        self.run_note = in_dialog_words(extra.get("note", ""), TRAIN_FIELDS)
        note = f"\n{self.run_note}" if self.run_note else ""
        eta = "" if paused else f" · ETA {human_seconds(info.eta)}"  # (a held run's went on showing)
        self.status_label.setText(
            f"{'Paused · ' if paused else ''}iteration {info.done} / {info.total} · loss {extra.get('loss', 0):.4g}"
            f" · {extra.get('its', 0):.2f} it/s{eta}{val_text}{note}")

    def _on_ended(self, outcome: JobOutcome) -> None:
        self._set_running(False)
        self._update_resume()  # a finished run keeps its checkpoint: more iterations extend it
        if outcome.succeeded:
            self.result = outcome.result
            val = outcome.result.validation or {}
            text = (f"Done: {outcome.result.iterations} iterations, validation PSNR-Y "
                    f"{val.get('psnr_y', float('nan')):.2f} dB (bicubic {outcome.result.baseline['psnr_y']:.2f} dB). "
                    f"Model: {outcome.result.model_path}")
            worse = val.get("psnr_y", float("nan")) < outcome.result.baseline["psnr_y"]
            if outcome.result.model_id:
                # the name the model list shows: a name already taken gets a number ("… (2)")
                text += f" — registered as “{model_display_name(outcome.result.model_id)}” ({outcome.result.model_id})"
                self.use_button.setEnabled(True)
                if not worse:
                    self.use_button.setFocus()  # (what comes next)
                self.modelTrained.emit(outcome.result.model_id)
            if worse:  # (offered without a word, a 40-iteration SRCNN scored 12 dB below bicubic)
                text += ("\nIt scores below bicubic: train it longer (more Iterations, then Resume) before "
                         "using it.")
                if self.resume_button.isEnabled():
                    self.resume_button.setFocus()
            self.status_label.setText(text + (f"\n{self.run_note}" if self.run_note else ""))
            announce(self, self.status_label.text())
            return
        can_resume = self._run_folder_checkpoint()
        if self.resume_button.isEnabled():
            self.resume_button.setFocus()  # (what comes next)
        if outcome.cancelled:  # stopped while reading the images: nothing was saved yet
            self.status_label.setText("Stopped; a checkpoint was saved. Resume continues it." if can_resume
                                      else "Stopped before the first checkpoint: Start begins the run again.")
        else:
            self._show_error(outcome.error or "training stopped")
        announce(self, self.status_label.text())  # (said in a label without the focus: unread)

    def _use_model(self) -> None:
        if self.result is not None and self.result.model_id and self.request is not None:
            self.useModelRequested.emit(self.result.model_id, self.request.options.scale)
