"""Tools ▸ Benchmark a dataset…: ``sr-desktop bench`` in a window. Several models on a
folder of HR images (Set5, your own), each image degraded by MATLAB's bicubic, upscaled and
scored on Y as the published tables are; the means in a leaderboard (table and PSNR chart),
a model's images below it with its paper's number where the folder is one of the tables'
datasets, and the report saved as ``bench --json`` / ``--csv`` write it.

The measurement runs in a worker (`app.bench_jobs.DatasetBenchTask`): the window stays
responsive, Cancel stops it after the current tile and keeps the models finished before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.app.bench_jobs import DatasetBenchTask, leaderboard_rows
from sr_desktop.app.jobs import Job
from sr_desktop.app.metrics_jobs import run_task
from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.text import counted, human_seconds
from sr_desktop.engine.metrics.degradation import Degradation
from sr_desktop.engine.metrics.evaluate import BenchReport
from sr_desktop.engine.metrics.given_lr import hr_images
from sr_desktop.engine.metrics.report import check_report_path, protocol_words, table_notes, write_csv, write_json
from sr_desktop.engine.models.spec import GROUND_TRUTH_FOLDERS, table_dataset_of
from sr_desktop.gui.dialog_words import in_dialog_words
from sr_desktop.gui.fold_toggle import FoldToggle
from sr_desktop.gui.job_dialog import JobDialog
from sr_desktop.gui.metrics.evaluate_section import SCALE_MAX, SCALE_MIN
from sr_desktop.gui.metrics.leaderboard import Leaderboard, SortItem, format_psnr, sort_key
from sr_desktop.gui.metrics.model_list import ModelChecklist
from sr_desktop.gui.widgets import (
    WrapLabel,
    add_browse_row,
    announce,
    confirm,
    read_only_rows,
    resize_within_screen,
    show_as_hint,
)
from sr_desktop.gui.worker import JobQueue

#: the per-image table's columns
IMAGE_COLUMNS = ("Image", "PSNR", "SSIM", "NIQE")
REPORT_FILTERS = "JSON report (*.json);;CSV table (*.csv)"


#: bench's flags, as this dialog names them (the engine's messages speak the CLI's words)
BENCH_FIELDS = {"--dataset": "Dataset", "--lr-dataset": "LR images"}

class BenchDialog(JobDialog):
    """The dataset, the models and the scale; Run/Cancel, progress; the leaderboard of means,
    the selected model's images; Save report…."""

    #: a run started on this dataset folder (the launcher remembers it)
    datasetUsed = Signal(str)

    def __init__(self, parent=None, dataset: str | None = None, models: list[tuple[str, str]] = (),
                 checked: list[str] = (), scale: int = 4) -> None:
        super().__init__(parent)
        self.setWindowTitle("Benchmark a dataset")
        self.setObjectName("benchDialog")
        #: asks where to save the report (a path, or "" for none); replaceable in tests
        self.choose_report_path: Callable[[str], str] = self._ask_report_path
        #: asks whether to stop a running benchmark (`widgets.confirm`'s signature)
        self.ask_stop = confirm
        #: the report shown (a finished run, or the models measured before a cancel)
        self.report: BenchReport | None = None
        self._dataset_name: str | None = None  # the published tables' name of the folder shown

        # the inputs fold away once a run starts (the toggle sums them up): the numbers get the room
        self.inputs = QWidget(self)
        self.inputs_toggle = FoldToggle(self.inputs, self._describe_inputs, "the dataset, models and scale", self)
        intro = WrapLabel("Each image of the folder is the ground truth: it is shrunk with MATLAB's bicubic (or "
                          "its given LR image is taken), upscaled by each checked model and scored on Y (BT.601, "
                          "the scale's pixels shaved at each border) as the published tables and sr-desktop bench "
                          "score it.", self)
        show_as_hint(intro)
        form = QFormLayout()
        form.setVerticalSpacing(4)
        self.dataset_edit = QLineEdit(dataset or "", self)
        self.dataset_edit.setPlaceholderText("A folder of HR images, e.g. Set5")
        self.dataset_edit.textChanged.connect(self._on_dataset_changed)
        add_browse_row(form, "&Dataset", self.dataset_edit, self._browse_dataset)
        self.dataset_note = WrapLabel("", self)
        show_as_hint(self.dataset_note)
        form.addRow("", self.dataset_note)
        self.lr_edit = QLineEdit(self)
        self.lr_edit.setPlaceholderText("optional: the dataset's own LR images (real pairs)")
        self.lr_edit.setToolTip("Real pairs (RealSR, DRealSR, City100, your camera's): the folder of the dataset's "
                                "low-resolution images, 1/Scale of their size, paired by name (DIV2K's NAMEx2 and "
                                "RealSR's NAME_LR2 count as NAME). They are upscaled as they are, instead of the HR "
                                "images shrunk with MATLAB's bicubic (sr-desktop bench --lr-dataset)")
        self.lr_edit.setAccessibleName("LR images of the dataset")
        add_browse_row(form, "&LR images", self.lr_edit, self._browse_lr)
        self.lr_edit.textChanged.connect(self._on_dataset_changed)
        self.models = ModelChecklist(self)
        self.models.list.setAccessibleName("Models to benchmark")
        self.models.filter_edit.setAccessibleName("Filter the models to benchmark")
        self.models.set_models(list(models))
        self.models.set_checked_models(checked)
        self.models.checkedChanged.connect(self._update_buttons)
        form.addRow("Models", self.models)
        self.scale_spin = QSpinBox(self)
        self.scale_spin.setRange(SCALE_MIN, SCALE_MAX)
        self.scale_spin.setPrefix("×")
        self.scale_spin.setValue(min(SCALE_MAX, max(SCALE_MIN, int(scale))))
        self.scale_spin.setAccessibleName("Benchmark scale")
        form.addRow("Scale", self.scale_spin)

        self.run_button = QPushButton("Run", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setAccessibleName("Cancel the benchmark")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancel)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.cancel_button)
        self.progress = QProgressBar(self)
        self.progress.setAccessibleName("Benchmark progress")
        self.status = WrapLabel("", self)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.leaderboard = Leaderboard(self)
        self.leaderboard.table.setAccessibleName("Benchmark results (means over the dataset)")
        self.leaderboard.modelActivated.connect(self._show_model_images)
        self.detail = WrapLabel("", self)
        self.image_table = QTableWidget(0, len(IMAGE_COLUMNS), self)
        self.image_table.setHorizontalHeaderLabels(IMAGE_COLUMNS)
        self.image_table.setAccessibleName("The selected model's images")
        self.image_table.verticalHeader().hide()
        read_only_rows(self.image_table)
        self.image_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.image_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.image_table.verticalHeader().setDefaultSectionSize(self.image_table.fontMetrics().height() + 6)
        self.image_table.setSortingEnabled(True)
        self.image_table.sortItems(0, Qt.SortOrder.AscendingOrder)  # (by name, as the report lists them)
        self.image_table.hide()

        self.save_button = QPushButton("Save report…", self)
        self.save_button.setAutoDefault(False)
        self.save_button.setToolTip("Write the numbers as sr-desktop bench --json (or --csv) writes them")
        self.save_button.clicked.connect(lambda _checked=False: self.save_report())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.save_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAutoDefault(False)

        inputs = QVBoxLayout(self.inputs)
        inputs.setContentsMargins(0, 0, 0, 0)
        inputs.addWidget(intro)
        inputs.addLayout(form)
        layout = QVBoxLayout(self)
        layout.addWidget(self.inputs_toggle)
        layout.addWidget(self.inputs)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.leaderboard)
        layout.addWidget(self.detail)
        layout.addWidget(self.image_table)
        # the room left goes to the images' table while it shows (a dataset's images are many
        # rows), else below everything: it went to the labels and the model list, as gaps
        self._room = layout.count()
        layout.addStretch(1)
        layout.addWidget(buttons)
        self._layout = layout

        self.queue = JobQueue(self, runner=run_task)
        self.queue.jobProgress.connect(self._on_progress)
        self.queue.jobFinished.connect(self._on_finished)
        self.queue.jobFailed.connect(self._on_failed)
        self.queue.jobCancelled.connect(self._on_cancelled)
        self.queue.busyChanged.connect(lambda _busy: self._update_buttons())
        self._on_dataset_changed(self.dataset_edit.text())
        self.inputs_toggle.refresh()
        resize_within_screen(self, 640, 860)

    # -- inputs -------------------------------------------------------------------------
    def set_models(self, models: list[tuple[str, str]]) -> None:
        """Refill the model list with (id, name) pairs (the checked ones that are still there
        stay checked); the leaderboard keeps its names."""
        self.models.set_models(list(models))
        self.leaderboard.set_model_names(self.models.names() | self.leaderboard.table.names)

    def dataset(self) -> Path | None:
        text = self.dataset_edit.text().strip()
        return Path(text).expanduser() if text else None

    def lr_dataset(self) -> Path | None:
        text = self.lr_edit.text().strip()
        return Path(text).expanduser() if text else None

    def _browse_lr(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "LR images of the dataset", self.lr_edit.text())
        if folder:
            self.lr_edit.setText(folder)

    def _browse_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Dataset folder (HR images)", self.dataset_edit.text())
        if folder:
            self.dataset_edit.setText(folder)

    def _on_dataset_changed(self, _text: str) -> None:
        folder = self.dataset()
        if folder is None:
            self.dataset_note.setText("")
        else:
            self._list_dataset(folder)
        self._update_buttons()

    def _list_dataset(self, folder: Path) -> str:
        """List `folder` and say in the note what it holds; returns why it cannot be
        benchmarked ("" when it can)."""
        try:  # (the pairs' HR images, when one folder holds both: RealSR's 3 pairs were "6 images")
            images = hr_images(folder, self.lr_dataset(), self.scale_spin.value())
        except SRDesktopError as exc:
            refusal = one_line(exc) + self._ground_truth_hint(folder)
            self.dataset_note.setText(refusal)
            return refusal
        table = table_dataset_of(folder)
        known = (f"; {table} of the published tables" if self.lr_dataset() is None
                 else f"; {table} of the published tables, whose numbers are of bicubic-made LR images: not shown"
                 ) if table else ""
        self.dataset_note.setText(f"{counted(len(images), 'image')}{known}")
        return ""

    def _describe_inputs(self, shown: bool) -> str:
        if shown:
            return "Dataset, models and scale"
        folder = self.dataset()
        paired = " with its LR images" if self.lr_dataset() else ""
        return (f"{folder.name if folder else 'no dataset'}{paired} · "
                f"{counted(len(self.models.checked_models()), 'model')} · ×{self.scale_spin.value()}")

    @staticmethod
    def _ground_truth_hint(folder: Path) -> str:
        """Where a dataset of a common layout keeps its HR images (``Set5/HR``), or ""."""
        try:
            inside = [p for p in folder.iterdir() if p.is_dir() and p.name.lower() in GROUND_TRUTH_FOLDERS]
        except OSError:
            return ""
        return f": its HR images are in {inside[0].name}/, choose that folder" if inside else ""

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.save_button.setEnabled(not running and self.report is not None and bool(self.report.models))
        for widget in (self.dataset_edit, self.lr_edit, self.models, self.scale_spin):
            widget.setEnabled(not running)

    def is_running(self) -> bool:
        return self.queue.is_busy()

    # -- running ------------------------------------------------------------------------
    def run(self) -> Job | None:
        """Start measuring the checked models on the dataset; None (and why in the status
        line) when it cannot start."""
        folder, models = self.dataset(), self.models.checked_models()
        self.status.setToolTip("")
        if folder is None:
            self.status.setText("Choose the dataset: a folder of HR images")
            return None
        refusal = self._list_dataset(folder)  # (listed again: the folder may have changed since it was chosen)
        if not models:
            self.status.setText("Check at least one model to benchmark")
            return None
        if refusal:
            self.status.setText(refusal)
            return None
        self.report = None
        lr_dataset = self.lr_dataset()
        # (the published numbers are of LR images made with MATLAB's bicubic, not of given ones)
        self._dataset_name = table_dataset_of(folder) if lr_dataset is None else None
        self.leaderboard.set_model_names(self.models.names())
        self.leaderboard.clear()
        self.leaderboard.set_note("")
        self._show_model_images(None)
        # each model as `bench` runs it by default (the window's Advanced choices are its picked
        # model's: a backend or device another model cannot take failed the whole run)
        task = DatasetBenchTask(folder, models, self.scale_spin.value(), Degradation(), lr_dataset)
        job = Job(None, task)
        self.progress.setRange(0, 0)
        self.status.setText("Checking the images and loading the models…")
        self.queue.submit(job)
        self.inputs_toggle.set_shown(False)
        self.datasetUsed.emit(str(folder))
        self._update_buttons()
        return job

    def cancel(self) -> None:
        """Stop after the current tile; the models finished before stay."""
        self.queue.cancel()

    def _on_progress(self, _job: Job, info) -> None:
        self.progress.setRange(0, max(1, info.total))
        self.progress.setValue(info.done)
        eta = f", about {human_seconds(info.eta)} left" if info.eta else ""
        self.status.setText(f"{info.message}{eta}")

    def _on_finished(self, _job: Job, report: BenchReport) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        measured = len(report.models)
        text = f"Done: {measured} of {counted(measured + len(report.failed), 'model')} measured"
        if report.failed:
            text += "; failed: " + ", ".join(self._name(model) for model, _error in report.failed)
        self._show_report(report, text)

    def _on_failed(self, _job: Job, message: str) -> None:
        message = in_dialog_words(message, BENCH_FIELDS)  # (the pairing's lines name bench's flags)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(message)
        self.status.setToolTip("")
        announce(self, message)
        self._update_buttons()

    def _on_cancelled(self, job: Job) -> None:
        partial = job.options.partial  # (the bar stays where the run stopped)
        if partial is None or not partial.models:
            self.status.setText("Cancelled before a model was measured")
            announce(self, self.status.text())
            self._update_buttons()
            return
        left = ", ".join(self._name(model) for model in partial.not_measured)
        self._show_report(partial, f"Cancelled: {len(partial.models)} of "
                                   f"{counted(len(job.options.model_ids), 'model')} measured, kept below"
                          + (f" (not measured: {left})" if left else ""))

    def _name(self, model: str) -> str:
        """A model's name as the list and the leaderboard show it."""
        return self.models.names().get(model, model)

    def _show_report(self, report: BenchReport, text: str) -> None:
        self.report = report
        images = len(report.models[0].images) if report.models else 0
        name = self._dataset_name or Path(report.dataset).name
        note = f"{name} ({counted(images, 'image')}), ×{report.scale}, {report.degradation}; {protocol_words(report)}"
        self.leaderboard.set_note("\n".join([note, *table_notes(report)]))
        self.leaderboard.set_rows(leaderboard_rows(report))
        self.status.setText(text)
        self.status.setToolTip("\n".join(f"{model}: {error}" for model, error in report.failed))
        announce(self, text)
        self._update_buttons()

    # -- one model's images -------------------------------------------------------------
    def _show_model_images(self, model: str | None) -> None:
        """The images of `model` in the report shown, its mean and its paper's number
        (None: hide them)."""
        measured = next((m for m in self.report.models if m.model == model), None) if self.report else None
        self.image_table.setVisible(measured is not None)
        self.detail.setVisible(measured is not None)
        self._layout.setStretch(self._room - 1, int(measured is not None))
        self._layout.setStretch(self._room, int(measured is None))
        if measured is None:
            self.image_table.setRowCount(0)
            return
        report = self.report
        text = f"{self._name(model)}: mean PSNR {format_psnr(measured.psnr_y)} dB, SSIM {measured.ssim_y:.4f}"
        published = self._published(model, report.scale)
        if published is not None:
            text += f"; published on {self._dataset_name} ×{report.scale}: {published:.2f} dB"
        self.detail.setText(text)
        self.image_table.setSortingEnabled(False)
        self.image_table.setRowCount(len(measured.images))
        for r, image in enumerate(measured.images):
            s = image.scores
            cells = [SortItem(image.name, image.name), SortItem(format_psnr(s.psnr_y), sort_key(s.psnr_y)),
                     SortItem(f"{s.ssim_y:.4f}", sort_key(s.ssim_y)),
                     SortItem("-" if s.niqe is None else f"{s.niqe:.2f}", sort_key(s.niqe))]
            for c, item in enumerate(cells):
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.image_table.setItem(r, c, item)
        self.image_table.setSortingEnabled(True)

    def _published(self, model: str, scale: int) -> float | None:
        """The PSNR `model`'s paper gives for this dataset at ×`scale` (None: none, or not a
        table's dataset)."""
        if self._dataset_name is None:
            return None
        from sr_desktop.engine.models.registry import get_model_spec

        try:
            return get_model_spec(model).published_psnr(self._dataset_name, scale)
        except SRDesktopError:  # (MATLAB's bicubic has an id of its own: no entry)
            return None

    # -- the report ---------------------------------------------------------------------
    def save_report(self) -> Path | None:
        """Ask where, then write the report shown as JSON or CSV (by the name's suffix).
        Returns the path written, None when nothing was (and why in the status line)."""
        if self.report is None or not self.report.models:
            return None
        path_text = self.choose_report_path(f"bench_x{self.report.scale}.json")
        if not path_text:
            return None
        path = Path(path_text)
        try:
            check_report_path(path)
            (write_csv if path.suffix.lower() == ".csv" else write_json)(self.report, path)
        except SRDesktopError as exc:
            self.status.setText(f"Report not saved: {one_line(exc)}")
            return None
        except OSError as exc:
            self.status.setText(f"Report not saved: {path}: {exc.strerror or exc}")
            return None
        self.status.setText(f"Report saved: {path}")
        return path

    def _ask_report_path(self, name: str) -> str:
        folder = self.dataset()
        start = str(folder.parent / name) if folder is not None else name
        path, chosen = QFileDialog.getSaveFileName(self, "Save the benchmark report", start, REPORT_FILTERS)
        if path and Path(path).suffix.lower() not in (".json", ".csv"):  # (the type picked, not always JSON)
            path += ".csv" if chosen.startswith("CSV") else ".json"
        return path

    # -- closing ------------------------------------------------------------------------
    def may_stop(self) -> bool:
        """Whether closing may stop the running benchmark (asked: the models not finished
        are lost)."""
        if not self.is_running():
            return True
        return self.ask_stop(self, "Stop the benchmark", "A benchmark is running. Stop it? The models "
                             "finished so far stay in the dialog.", "Stop", "stopBenchBox", no_text="Keep running")
