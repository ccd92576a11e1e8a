"""File ▸ Batch export…: a non-modal dialog that upscales a folder with the engine's batch.

The batch runs as a job of the dialog's own `JobQueue` (a worker thread) and reports
through signals only, so the main window stays usable. The dialog shows files done/total, the current file, the
throughput and the ETA, a table with the status of each file (the running one with its
percentage), a Cancel button, and at the end a summary with links and buttons that open
the output folder and the report. While a batch runs and once it is done, the options
fold behind a one-line summary so the table gets the room.

Over 500 lines because one dialog holds a batch's whole life (options, the folded summary,
the progress table, the coalesced reports, the end summary with its links); its job
is `app.upscale_jobs.run_batch_job`, the size row `gui.output_size_field`.
"""

from __future__ import annotations

import html
import logging
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFontMetrics
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.app.jobs import Job, JobOutcome
from sr_desktop.app.session import model_display_name
from sr_desktop.app.upscale_jobs import BatchRequest, run_batch_job
from sr_desktop.engine.batch.output_names import DEFAULT_NAME_TEMPLATE, NAME_PLACEHOLDERS
from sr_desktop.engine.batch.plan import EXISTING_POLICIES, OUTPUT_FORMATS
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.core.progress import NOTICE_STAGES, ProgressInfo
from sr_desktop.engine.core.text import human_seconds, rate_text
from sr_desktop.engine.imageio.formats import DEFAULT_QUALITY
from sr_desktop.engine.models.spec import ModelSpec
from sr_desktop.engine.pipeline.blown_output import INSTEAD
from sr_desktop.gui.dialog_words import in_dialog_words
from sr_desktop.gui.file_urls import file_link, file_url
from sr_desktop.gui.fold_toggle import FoldToggle
from sr_desktop.gui.gps_check import gps_check
from sr_desktop.gui.job_dialog import JobDialog
from sr_desktop.gui.main_window.model_list_watch import watch_for
from sr_desktop.gui.main_window.model_picker import PICKER_FIELDS, ModelPicker
from sr_desktop.gui.output_size_field import OutputSizeField
from sr_desktop.gui.widgets import (
    ContentsHighScrollArea,
    add_browse_row,
    announce,
    beside,
    confirm,
    read_only_rows,
    resize_within_screen,
)
from sr_desktop.gui.worker import JobQueue

log = logging.getLogger(__name__)

COLUMNS = ("File", "Status", "Output", "Seconds", "Details")
#: the least height of the options' scroll area (the rest scrolls on a small screen)
OPTIONS_MIN_HEIGHT = 150
#: the least height of the files table (a few rows)
TABLE_MIN_HEIGHT = 60
#: the batch command's flags, as this dialog names them (engine messages speak the CLI's words)
BATCH_FIELDS = {
    "-r/--recursive": "Include sub-folders", "--recursive": "Include sub-folders",
    "--allow-inside-input": "Allow the output folder inside the input folder",
    "--overwrite": "Existing outputs: overwrite", "--existing": "Existing outputs", "--report": "Report",
    "--name": "Name", "--format": "Format", "--quality": "Quality", "--cluster": "Run on",
    "--kernel": "Blur kernel", **PICKER_FIELDS,
}
#: the "Run on" choices: (label, target) — None is this process (see `cluster_target`)
ADDRESS = "address"
RUN_ON_CHOICES = (
    ("This process", None),
    ("Local Ray (all cores and GPUs)", "ray"),
    ("Ray cluster at", ADDRESS),
)
#: the "Blur kernel" choices of a per-image model (ZSSR, map-sr), as `UpscaleOptions.kernel`
#: takes them; the Blur kernel panel's kernel is added while the panel holds one
PANEL_KERNEL = "panel"
KERNEL_CHOICES = (
    ("none: bicubic downscaling", None),
    ("estimated on each image (KernelGAN: minutes per image)", "estimate"),
)


def ray_installed() -> bool:
    """True when Ray (the 'cluster' extra) can be imported; it is not imported here."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def batch_models() -> list[ModelSpec]:
    """The registry's models, or the two resampling baselines when there is no registry."""
    try:
        from sr_desktop.engine.models.registry import list_models
    except ImportError:
        list_models = None
    if list_models is not None:
        try:
            models = list_models()
            if models:
                return models
        except SRDesktopError as exc:
            log.warning("model registry unavailable: %s", exc)
    return [
        ModelSpec(id=name, name=name.capitalize(), arch=name, scales=[2, 3, 4], kind="resample",
                  description=f"{name.capitalize()} resampling (baseline)")
        for name in ("bicubic", "lanczos")
    ]


RUNNING = "running…"


#: the widest the summary's output folder is shown (px), cut in its middle beyond
OUTPUT_LINK_WIDTH = 460


class BatchDialog(JobDialog):
    """Options, progress, per-file status and summary of one batch export.

    ``batchFinished(result)`` is emitted when a batch ends (also when cancelled);
    ``batchFailed(message)`` when it could not start.
    """

    batchFinished = Signal(object)
    batchFailed = Signal(str)

    def __init__(self, parent=None, input_dir: str | None = None, models: list[ModelSpec] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Batch export")
        self.setModal(False)
        self.queue = JobQueue(self, runner=run_batch_job)
        #: asks before Esc or closing cancels a running batch (`widgets.confirm`'s arguments; tests set it)
        self.ask_stop_batch = confirm
        self.queue.jobProgress.connect(self._on_job_progress)
        self.queue.jobEnded.connect(self._on_job_ended)
        self.result = None
        self._rows: dict[int, int] = {}  # job index -> table row
        self._highest = -1  # the highest job index in the table
        self._running_name = ""  # the file being upscaled (the status line named the last one done)
        self._pending_reports: list[ProgressInfo] = []  # progress reports not shown yet (`_on_job_progress`)

        # -- folders ---------------------------------------------------------------
        self.input_edit = QLineEdit(input_dir or "")
        self.input_edit.setObjectName("batchInput")
        self.output_edit = QLineEdit(self._suggest_output(input_dir) if input_dir else "")
        self.output_edit.setObjectName("batchOutput")
        self.recursive_check = QCheckBox("Include sub-folders (mirrored in the output)")
        self.recursive_check.setChecked(True)
        self.inside_check = QCheckBox("Allow the output folder inside the input folder")

        # -- options ---------------------------------------------------------------
        self.picker = ModelPicker(models if models is not None else batch_models())
        if models is None:  # the registry's: follow models added or removed while it is open
            watch_for(self).connect(self._refresh_models)
        self.format_combo = QComboBox()
        for fmt in OUTPUT_FORMATS:
            self.format_combo.addItem("same as input" if fmt == "same" else fmt.upper(), fmt)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(DEFAULT_QUALITY)
        self.quality_spin.setAccessibleName("Quality")  # (its row holds the Size boxes too: no label of its own)
        self.quality_spin.setToolTip("JPEG and WebP quality (100 = lossless WebP); with “same as input” a "
                                     "lossless WebP stays lossless")
        self.name_edit = QLineEdit(DEFAULT_NAME_TEMPLATE)
        self.name_edit.setToolTip("Placeholders: " + " ".join(f"{{{p}}}" for p in NAME_PLACEHOLDERS))
        self.existing_combo = QComboBox()
        for policy, text in zip(EXISTING_POLICIES, ("Skip (resume)", "Overwrite", "Rename (name_1)"), strict=True):
            self.existing_combo.addItem(text, policy)
        self.metadata_check = QCheckBox("Keep colour profile, EXIF and XMP")
        self.metadata_check.setChecked(True)
        self.gps_check = gps_check(False, self.metadata_check)
        self.size_field = OutputSizeField()
        self.report_edit = QLineEdit()
        self.report_edit.setPlaceholderText("default: a JSON report in the output folder (.csv for CSV)")
        # where the files are upscaled: offered when Ray (the 'cluster' extra) is installed
        self.run_on_combo = QComboBox()
        self.run_on_combo.setAccessibleName("Run on")
        for text, target in RUN_ON_CHOICES:
            self.run_on_combo.addItem(text, target)
        self.cluster_edit = QLineEdit()
        self.cluster_edit.setPlaceholderText("ray://HOST:10001")
        self.cluster_edit.setAccessibleName("Cluster address")
        self.cluster_edit.setEnabled(False)
        self.run_on_combo.currentIndexChanged.connect(
            lambda _i: self.cluster_edit.setEnabled(self.run_on_combo.currentData() == ADDRESS))
        # the kernel of a per-image model, as `batch --kernel` takes it (the row shows for them only)
        self.kernel_combo = QComboBox()
        self.kernel_combo.setAccessibleName("Blur kernel")
        self.kernel_combo.setToolTip("The blur that made each image small, for ZSSR and map-sr: estimate or "
                                     "load one in the Blur kernel panel to use it for the whole folder")
        for text, kernel in KERNEL_CHOICES:
            self.kernel_combo.addItem(text, kernel)
        self._kernel_panel = None  # the window's Blur kernel panel (`follow_kernel_panel`)

        form = QFormLayout()
        add_browse_row(form, "Input folder", self.input_edit, self._browse_input)
        add_browse_row(form, "Output folder", self.output_edit, self._browse_output)
        folder_checks = QWidget()  # side by side: the dialog must fit a 1366×768 screen
        checks_row = QHBoxLayout(folder_checks)
        checks_row.setContentsMargins(0, 0, 0, 0)
        checks_row.addWidget(self.recursive_check)
        checks_row.addWidget(self.inside_check)
        checks_row.addStretch(1)
        form.addRow("", folder_checks)
        form.addRow(self.picker)
        form.addRow("Blur kernel", self.kernel_combo)
        form.addRow("Format", self.format_combo)
        quality_and_size = QWidget()  # one row: the table keeps its room under the options
        quality_row = QHBoxLayout(quality_and_size)
        quality_row.setContentsMargins(0, 0, 0, 0)
        quality_row.addWidget(self.quality_spin)
        size_label = QLabel("Size")
        size_label.setBuddy(self.size_field.width_spin)
        quality_row.addSpacing(16)
        quality_row.addWidget(size_label)
        quality_row.addWidget(self.size_field)
        quality_row.addStretch(1)
        form.addRow("Quality", quality_and_size)
        form.addRow("Name", self.name_edit)
        form.addRow("Existing outputs", self.existing_combo)
        form.addRow("", beside(self.metadata_check, self.gps_check))
        form.addRow("Report", self.report_edit)
        if ray_installed():  # one row: the dialog must still fit a 1366×768 screen
            run_on = QWidget()
            row = QHBoxLayout(run_on)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(self.run_on_combo)
            row.addWidget(self.cluster_edit, 1)
            form.addRow("Run on", run_on)
            # the label names the box, not the row around it: on Linux a screen reader reads a
            # combo box by its label relation, and read "This process" alone
            form.labelForField(run_on).setBuddy(self.run_on_combo)
        self._form = form
        self.options_box = QWidget()
        self.options_box.setLayout(form)
        # in a scroll area: on a 1024×600 screen the options scroll instead of pushing the
        # dialog past the screen's bottom; with room they show whole (sized to the contents)
        self.options_scroll = ContentsHighScrollArea(self.options_box, OPTIONS_MIN_HEIGHT)
        self.options_scroll.setAccessibleName("Batch options")
        # at most its contents' height (no blank below them), shrinking to scroll when short of room
        self.options_scroll.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.options_toggle = FoldToggle(self.options_scroll, self._describe_options, "the batch options")
        self.options_toggle.setObjectName("batchOptionsToggle")

        # -- progress ----------------------------------------------------------------
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("batchProgress")
        self._show_idle_progress()
        self.progress_bar.setAccessibleName("Files done")
        self.status_label = QLabel("Choose the folders and press Start.")
        self.status_label.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("batchTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        read_only_rows(self.table)
        self.table.setAccessibleName("Files of the batch")
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(QFontMetrics(self.table.font()).height() + 6)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # paths keep both ends
        self.table.setWordWrap(False)
        # the table takes the height left after the options (which scroll only when even the
        # table's least height does not leave them room)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.table.setMinimumHeight(TABLE_MIN_HEIGHT)
        header = self.table.horizontalHeader()
        # Status and Seconds as wide as their longest words, not resized to their contents:
        # that measured every row at each update (5 000 files: the window froze up to 7 s at a
        # time and the batch ran 10 times slower than on the command line)
        metrics = QFontMetrics(self.table.font())
        widths = {1: max(metrics.horizontalAdvance(text) for text in (f"{RUNNING} 100 %", "not started", "Status")),
                  3: max(metrics.horizontalAdvance(text) for text in ("99999.99", "Seconds"))}
        for col in range(len(COLUMNS)):
            if col in widths:
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(col, widths[col] + 3 * metrics.averageCharWidth())
            else:
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)

        # -- summary and buttons -----------------------------------------------------
        self.summary_label = QLabel()
        self.summary_label.setObjectName("batchSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.linkActivated.connect(self._open_link)
        self.summary_label.hide()  # shown with a batch's summary: until then its line is the options'
        self.open_output_button = QPushButton("Open output folder")
        self.open_report_button = QPushButton("Open report")
        self.open_output_button.setEnabled(False)
        self.open_report_button.setEnabled(False)
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel batch")
        self.cancel_button.setEnabled(False)
        self.buttons = QDialogButtonBox()
        self.buttons.addButton(self.open_output_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.open_report_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.options_toggle)
        layout.addWidget(self.options_scroll)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.buttons)
        # Enter starts; set once the button is in the dialog (before, Qt drops it and makes
        # the first Browse… the default: Enter in a field opened a folder picker)
        self.start_button.setDefault(True)
        # fits a 1366×768 laptop screen (the options scroll on a smaller one); wider for a
        # larger font (11 pt, GNOME's: the Browse… buttons were beyond the edge at 820)
        resize_within_screen(self, max(820, self.sizeHint().width()), 700)

        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.open_output_button.clicked.connect(self.open_output_folder)
        self.open_report_button.clicked.connect(self.open_report)
        self.format_combo.currentIndexChanged.connect(self._update_quality_enabled)
        self._update_quality_enabled()
        self.picker.optionsChanged.connect(self._update_kernel_row)
        self._update_kernel_row()
        self.size_field.changed.connect(self.options_toggle.refresh)
        self.options_toggle.refresh()

    # -- helpers ---------------------------------------------------------------------
    @staticmethod
    def _suggest_output(input_dir: str) -> str:
        path = Path(input_dir)
        return str(path.parent / f"{path.name}_upscaled")

    def _browse_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Input folder", self.input_edit.text())
        if folder:
            previous = self.input_edit.text().strip()
            self.input_edit.setText(folder)
            # the last input's suggestion, unedited, is replaced too: another input's results
            # went into the first input's "_upscaled" folder
            output = self.output_edit.text()
            if not output or (previous and output == self._suggest_output(previous)):
                self.output_edit.setText(self._suggest_output(folder))

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)

    def _update_quality_enabled(self) -> None:
        self.quality_spin.setEnabled(self.format_combo.currentData() in ("same", "jpg", "webp"))

    def _per_image_model(self) -> bool:
        spec = self.picker.spec()
        return spec is not None and spec.is_per_image

    def _update_kernel_row(self) -> None:
        self._form.setRowVisible(self.kernel_combo, self._per_image_model())

    def follow_kernel_panel(self, panel) -> None:
        """Offer the kernel of the window's Blur kernel panel (its ``kernel``,
        ``kernel_source`` and ``kernelChanged``) as the Blur kernel of a ZSSR or map-sr
        batch, following it as it is estimated, loaded or cleared; a kernel there is chosen."""
        self._kernel_panel = panel
        panel.kernelChanged.connect(self._on_panel_kernel)
        self._on_panel_kernel(panel.kernel)

    def _on_panel_kernel(self, kernel) -> None:
        index = self.kernel_combo.findData(PANEL_KERNEL)
        if kernel is None:
            if index >= 0:
                chosen = self.kernel_combo.currentIndex() == index
                self.kernel_combo.removeItem(index)
                if chosen:  # none, not the item before it (an estimate on each image: minutes each)
                    self.kernel_combo.setCurrentIndex(self.kernel_combo.findData(None))
            return
        panel = self._kernel_panel
        source = panel.kernel_source.splitlines()[0] if panel.kernel_source else ""
        size = f"{kernel.shape[0]}×{kernel.shape[1]}"
        doubt = ", a doubtful estimate" if panel.is_doubtful() else ""
        text = f"the Blur kernel panel's ({size}{': ' + source if source else ''}{doubt})"
        if index < 0:
            self.kernel_combo.addItem(text, PANEL_KERNEL)
            index = self.kernel_combo.count() - 1
        else:
            self.kernel_combo.setItemText(index, text)
        if not self.is_running():  # the running batch keeps the kernel it started with
            self.kernel_combo.setCurrentIndex(index)

    def kernel_choice(self):
        """The chosen Blur kernel as `UpscaleOptions.kernel` takes it: None (bicubic),
        ``"estimate"`` or the panel's kernel (an ndarray)."""
        choice = self.kernel_combo.currentData()
        if choice == PANEL_KERNEL:
            return self._kernel_panel.kernel if self._kernel_panel is not None else None
        return choice

    def batch_options(self):
        """The engine's `BatchOptions` for the current choices."""
        from sr_desktop.engine.batch.runner import BatchOptions

        upscale = self.picker.options(fallback_model="bicubic")
        if self._per_image_model():  # (other models refuse a kernel)
            upscale = replace(upscale, kernel=self.kernel_choice())
        return BatchOptions(
            upscale=upscale,
            format=self.format_combo.currentData(),
            quality=self.quality_spin.value(),
            name_template=self.name_edit.text().strip(),
            existing=self.existing_combo.currentData(),
            recursive=self.recursive_check.isChecked(),
            allow_inside_input=self.inside_check.isChecked(),
            keep_metadata=self.metadata_check.isChecked(),
            drop_gps=self.gps_check.isChecked(),
            # "same as input" keeps a lossless WebP lossless, as the command line does without
            # --quality (it was written lossy at the Quality shown)
            keep_lossless=self.format_combo.currentData() == "same",
            size=self.size_field.output_size(),
        )

    def _refresh_models(self) -> None:
        gone = self.picker.reload(batch_models())
        if gone and not self.is_running():  # (a running batch has loaded its model)
            self.status_label.setText(gone + ".")

    def is_running(self) -> bool:
        return self.queue.is_busy()

    def set_options_shown(self, shown: bool) -> None:
        """Show the options, or fold them behind the toggle's one-line summary."""
        self.options_toggle.set_shown(shown)

    def options_shown(self) -> bool:
        return self.options_toggle.is_shown()

    def _describe_options(self, shown: bool) -> str:
        if shown:
            return "Options"
        spec = self.picker.spec()
        model = spec.name if spec is not None else "bicubic"
        choice = self.kernel_combo.currentData()
        if self._per_image_model() and choice is not None:
            model += " with " + ("a kernel estimated on each image" if choice == "estimate"
                                 else "the Blur kernel panel's kernel")
        size = self.size_field.output_size()
        resized = f", then {size.describe()}" if size is not None else ""
        return f"Options: {model} ×{self.picker.scale()}{resized} → {self.output_edit.text().strip()}"

    # -- actions -----------------------------------------------------------------------
    def start(self) -> bool:
        """Start the batch with the current options; False (and a message) if it cannot."""
        if self.is_running():
            return False
        input_dir = self.input_edit.text().strip()
        output_dir = self.output_edit.text().strip()
        if not input_dir or not output_dir:
            self._show_error("choose an input folder and an output folder")
            return False
        # "~/photos" as the engine reads it, shown so: the table's names are taken relative to
        # the fields (with the "~" left in, they came out as bare names and whole paths). A
        # relative input is the home folder's and a relative output sits beside the input
        # (they were the app's working folder's: "/" or the home, whichever started it)
        source = Path.home() / Path(input_dir).expanduser()  # (an absolute one stays as it is)
        input_dir, output_dir = str(source), str(source.parent / Path(output_dir).expanduser())
        self.input_edit.setText(input_dir)
        self.output_edit.setText(output_dir)
        panel_kernel = self._per_image_model() and self.kernel_combo.currentData() == PANEL_KERNEL
        if panel_kernel and self._kernel_panel.kernel_scale == 4 and self.picker.scale() == 2:
            # (a ×4 kernel's blur is twice too wide at ×2: every file came out ringing, "ok")
            self._show_error("the Blur kernel panel's kernel is for ×4 and this batch is ×2: estimate one at ×2 "
                             "(the panel's Scale ×2), or run the batch at ×4")
            return False
        if panel_kernel and not self._kernel_panel.may_use_kernel(
                f"a batch of {self.picker.spec().name.split(' (')[0]}"):
            return False  # (the panel's own button asks the same before one image)
        try:
            options = self.batch_options()
            options.validate()
            # checked before the last run's view is cleared (a bad address wiped it, folded
            # away the field it was about and left the bar spinning with no job)
            cluster = self.cluster_target()
        except SRDesktopError as exc:
            self._show_error(str(exc))
            return False
        self.table.setRowCount(0)
        self._rows.clear()
        self._highest = -1
        self._running_name = ""
        self.result = None
        self.summary_label.clear()
        self.summary_label.hide()
        self.progress_bar.setValue(0)
        self.progress_bar.setMaximum(0)  # busy until the plan counts the files
        self.progress_bar.setFormat("%v / %m files")
        self.open_output_button.setEnabled(False)
        self.open_report_button.setEnabled(False)
        self.status_label.setText("Starting…")
        report = self.report_edit.text().strip() or None
        if report is not None:
            # a bare name goes beside the default report, in the output folder (it went into
            # the app's working folder, and its link in the summary was relative)
            report_path = Path(report).expanduser()
            report = str(report_path if report_path.is_absolute() else Path(output_dir) / report_path)
            self.report_edit.setText(report)
        self.set_options_shown(False)  # the running batch gets the room
        self._set_running(True)
        self.queue.submit(Job(None, BatchRequest(input_dir, output_dir, options, report, cluster), writes_files=True))
        return True

    def cluster_target(self) -> str | None:
        """Where to run: None (this process), ``ray`` or a checked ``ray://`` address."""
        from sr_desktop.engine.batch.cluster import host_and_port
        from sr_desktop.engine.batch.plan import BatchError

        target = self.run_on_combo.currentData()
        if target != ADDRESS:
            return target
        # a bad address is one line here, before anything runs (the engine's named --cluster
        # and its "ray" and "auto", which this field does not take)
        address = self.cluster_edit.text().strip()
        if not address.startswith("ray://") or host_and_port(address) is None:
            raise BatchError("the address after “Ray cluster at” must be ray://HOST:PORT (the head node's client "
                             "port, 10001 unless changed)" + (f", got {address!r}" if address else ""))
        return address

    def cancel(self) -> None:
        """Cancel the running batch after the current tile."""
        if self.is_running():
            self.queue.cancel()
            self.status_label.setText("Cancelling after the current tile…")
            self.cancel_button.setEnabled(False)

    def open_output_folder(self) -> bool:
        folder = self.result.output_dir if self.result is not None else self.output_edit.text()
        return QDesktopServices.openUrl(file_url(folder))

    def _open_link(self, link: str) -> bool:
        return QDesktopServices.openUrl(QUrl.fromEncoded(link.encode()))

    def open_report(self) -> bool:
        if self.result is None or self.result.report_path is None:
            return False
        return QDesktopServices.openUrl(file_url(self.result.report_path))

    def done_words(self) -> str:
        """How far the running batch is, for a question about stopping it: " (3 of 10 files done)"."""
        bar = self.progress_bar
        return f" ({bar.value()} of {bar.maximum()} files done)" if bar.maximum() > 0 else ""

    def may_stop(self) -> bool:
        """Whether closing the dialog may cancel its batch: asked while one runs (an Esc meant
        for a list cancelled a batch of hundreds of files); nothing to ask when none runs or it
        is already cancelling."""
        if not self.is_running() or not self.cancel_button.isEnabled():
            return True
        # (not "Cancel": beside the dialog's Cancel batch, the box's Cancel read as a yes)
        return self.ask_stop_batch(self, "Stop the batch", f"A batch export is running{self.done_words()}. Stop "
                                   "it? The files done are kept, and its report says which were not.",
                                   "Stop the batch", "stopBatchBox", no_text="Keep running")


    # -- worker reports ---------------------------------------------------------------
    def _set_running(self, running: bool) -> None:
        self.options_box.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def _show_error(self, message: str) -> None:
        # the word too, not the bold alone: a screen reader does not read bold
        self.status_label.setText(f"<b>Error: {html.escape(in_dialog_words(message, BATCH_FIELDS))}</b>")

    def _row_for(self, index: int, path: str) -> int:
        row = self._rows.get(index)
        if row is None:
            if index > self._highest:
                row = len(self._rows)  # (the usual case, past the last row: no row moves)
                self._highest = index
            else:
                # in the input's order: files finish through the writer threads after the next
                # one started, and rows came f00, f01, f03, f02
                row = sum(1 for other in self._rows if other < index)
                for other, at in self._rows.items():
                    if at >= row:
                        self._rows[other] = at + 1
            self._rows[index] = row
            self._insert_row(row, path)
        return row

    def _insert_row(self, row: int, path: str, status: str = "") -> None:
        """A new row at `row` for the input `path` (its name shown, its whole path in the
        tip), with `status` and the other columns empty."""
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(self._display_name(path)))
        self.table.item(row, 0).setToolTip(path)
        for col in range(1, len(COLUMNS)):
            self.table.setItem(row, col, QTableWidgetItem(status if col == 1 else ""))

    def _last_row_shown(self) -> bool:
        """Whether the table's last row is in view (the table follows the files as they come
        while it is; the scroll bar's range lags the rows just added)."""
        rows = self.table.rowCount()
        if rows == 0:
            return True
        rect = self.table.visualRect(self.table.model().index(rows - 1, 0))
        return rect.isValid() and self.table.viewport().rect().intersects(rect)

    def _output_name(self, path: str) -> str:
        """The output relative to the output folder (its whole path when elsewhere)."""
        folder = self.result.output_dir if self.result is not None else self.output_edit.text().strip()
        try:
            return Path(path).relative_to(folder).as_posix()
        except ValueError:
            return str(path)

    def _display_name(self, path: str) -> str:
        try:
            return str(Path(path).relative_to(self.input_edit.text().strip()))
        except ValueError:
            return Path(path).name

    def _on_progress(self, info: ProgressInfo) -> None:
        """One progress report shown now (its file's row, the bar, the status line, the
        table's scroll to its row when it showed its last row), as a group of one."""
        self._pending_reports.append(info)
        self._show_pending_reports()

    def _show_row(self, info: ProgressInfo) -> int | None:
        """What `info` says of its file, in its row (the row, None for a report of no file)."""
        if info.stage in NOTICE_STAGES:  # the model's first use, a plan of many files: seconds before the first
            self.status_label.setText(info.message[:1].upper() + info.message[1:] + "…")
            return None
        event, index = info.extra.get("event"), info.extra.get("index")
        if index is None:
            return None
        if event == "tile":
            # the running file's share done, in its own row (not in a second bar)
            row = self._rows.get(index)
            if row is not None:
                percent = int(100 * info.extra.get("tile_fraction", 0.0))
                self.table.item(row, 1).setText(f"{RUNNING} {percent} %")
            return row
        if event == "start":
            self._running_name = Path(info.message).name
            row = self._row_for(index, info.message)
            self.table.item(row, 1).setText(RUNNING)
            return row
        if event != "file":
            return None
        record = info.extra["record"]
        # the running file done: the status line named it through the non-images after it
        if Path(record.input).name == self._running_name:
            self._running_name = ""
        row = self._row_for(index, record.input)
        self.table.item(row, 1).setText(record.status)
        output = self.table.item(row, 2)
        # a failed file's planned name was never written: shown as such, not as an output
        written = record.output if record.output and record.status != "failed" else None
        output.setText(self._output_name(written) if written else "")
        output.setToolTip(str(written) if written else "")
        self.table.item(row, 3).setText(f"{record.seconds:.2f}" if record.status != "skipped" else "")
        # (a result the model blew up on: "Warning: …" before what the format changed)
        said = [f"Warning: {_with_model_names(record.warning)}" if record.warning else "", record.note]
        details = in_dialog_words(record.error or "; ".join(filter(None, said)), BATCH_FIELDS)
        # the row names the file: its whole path again in the narrow column left the reason
        # elided ("cannot read /tmp…g: symlink loop"); the tooltip keeps the whole line
        self.table.item(row, 4).setText(details.replace(str(record.input), Path(record.input).name))
        self.table.item(row, 4).setToolTip(details)
        return row

    def _show_summary(self, info: ProgressInfo, row: int | None, following: bool) -> None:
        """The bar and the status line of `info`, and the scroll to `row` when `following` (a
        skipped file's row, and a Ray batch's, come without a start: the table stopped
        following at the first of them)."""
        if info.stage in NOTICE_STAGES:
            return
        self.progress_bar.setMaximum(max(1, info.total))
        self.progress_bar.setValue(info.done)
        if info.extra.get("event") == "tile":
            return
        if following and row is not None:
            self.table.scrollToItem(self.table.item(row, 0))
        rate = info.extra.get("files_per_second", 0.0)
        mp_rate = info.extra.get("megapixels_per_second", 0.0)
        eta = human_seconds(info.eta) if info.eta is not None else "—"
        self.status_label.setText(
            f"{info.done} / {info.total} files · {self._running_name or Path(info.message).name} · "
            f"{rate_text(rate)} files/s ({rate_text(mp_rate)} MP/s) · ETA {eta} · "
            f"failed {info.extra.get('failed', 0)}"
        )

    def _on_job_progress(self, _job: Job, info: ProgressInfo) -> None:
        # gathered and shown together once the reports that came meanwhile are in: one by one,
        # 10 000 non-images of a folder took 9-22 s to show where the batch took 0.4 s (the bar
        # and the status line redrawn for each)
        self._pending_reports.append(info)
        if len(self._pending_reports) == 1:
            QTimer.singleShot(0, self, self._show_pending_reports)  # (not called once the dialog is gone)

    def _show_pending_reports(self) -> None:
        """Every row of the reports gathered, then the summary of the last that is of a file
        (not a tile's: a group ending in one scrolled nor said anything, and the table stopped
        following), scrolled to the last row they touched."""
        pending, self._pending_reports = self._pending_reports, []
        following = self._last_row_shown()  # (before their rows are in)
        last_row = None
        for info in pending:
            row = self._show_row(info)
            last_row = row if row is not None else last_row
        reports = [info for info in pending if info.stage not in NOTICE_STAGES]
        files = [info for info in reports if info.extra.get("event") != "tile"]
        if reports:
            self._show_summary((files or reports)[-1], last_row, following)

    def _on_job_ended(self, outcome: JobOutcome) -> None:
        self._show_pending_reports()  # (the end may come before the timer that shows them)
        # a cancelled batch still returns its result: the files done before the cancel
        if outcome.result is not None:
            self._on_finished(outcome.result)
        elif outcome.cancelled:  # before any file (while a model was measured on first use)
            self._set_running(False)
            self._show_idle_progress()
            self.status_label.setText("Cancelled before any file was upscaled.")
        else:
            self._on_failed(outcome.error or "the batch stopped without a result")

    def _on_finished(self, result) -> None:
        self.result = result
        self._set_running(False)
        for row in self._rows.values():  # the file being upscaled when cancelled
            if self.table.item(row, 1).text().startswith(RUNNING):
                self.table.item(row, 1).setText("cancelled")
                self.table.item(row, 4).setText("not written")
        # a Ray batch's files stopped in: no "start" gave them a row (a row short, the report
        # listing them "cancelled")
        listed = {self.table.item(row, 0).toolTip() for row in range(self.table.rowCount())}
        for record in result.interrupted:
            if record.input not in listed:
                row = self.table.rowCount()
                self._insert_row(row, record.input, "cancelled")
                self.table.item(row, 4).setText("not written")
        for record in result.not_started:  # (a cancelled batch's table had no row for them)
            self._insert_row(self.table.rowCount(), record.input, record.status)
        totals = result.totals
        self.progress_bar.setMaximum(max(1, len(result.records) + totals.extra.get("not_started", 0)
                                         + totals.extra.get("interrupted", 0)))
        self.progress_bar.setValue(len(result.records))
        text = html.escape(in_dialog_words(result.summary(), BATCH_FIELDS))
        output = Path(result.output_dir)
        # a long folder cut in its middle: whole, one unbreakable line widened the dialog past the screen
        shown = self.summary_label.fontMetrics().elidedText(str(output), Qt.TextElideMode.ElideMiddle,
                                                            OUTPUT_LINK_WIDTH)
        self.summary_label.setToolTip(str(output) if shown != str(output) else "")
        text += f"<br>Output: {file_link(output, shown)}"
        if result.report_path is not None:
            text += f" · Report: {file_link(result.report_path, Path(result.report_path).name)}"
        elif result.report_error:
            text += f"<br><b>{html.escape(in_dialog_words(result.report_error, BATCH_FIELDS))}</b>"
        self.summary_label.setText(text)
        self.summary_label.show()
        self.status_label.setText("Cancelled." if result.cancelled else "Stopped." if result.halted
                                  else _finished_words(totals))
        # (unread without the focus)
        announce(self, f"{self.status_label.text()} {in_dialog_words(result.summary(), BATCH_FIELDS)}")
        self.open_output_button.setEnabled(True)
        self.open_report_button.setEnabled(result.report_path is not None)
        self.batchFinished.emit(result)

    def _show_idle_progress(self) -> None:
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setFormat("no files yet")  # "0 / 100 files" before a run counted any
        self.progress_bar.setValue(0)

    def _on_failed(self, message: str) -> None:
        self._set_running(False)
        if self.progress_bar.maximum() == 0:  # refused before any file was counted (no images, ...):
            self._show_idle_progress()        # no busy stripes left running, and the options in view
            self.set_options_shown(True)
        self._show_error(message)
        announce(self, self.status_label.text())
        self.batchFailed.emit(message)


def _finished_words(totals) -> str:
    """The status of a batch that ran to its end: "Done." read as a success beside a summary
    of 3 of 3 files failed."""
    if not totals.failed:
        return "Done."
    if not totals.ok and not totals.skipped:
        return f"Finished: every file failed ({totals.failed}); the table says why."
    return f"Finished: {totals.failed} failed; the table says why."


def _with_model_names(warning: str) -> str:
    """A file's warning (`FileRecord.warning`, in the command line's model ids) with the models
    named as the picker names them ("SPAN blew up … try Real-ESRGAN x4plus anime, …"), as the
    window says it."""
    import re

    blown = warning.split(" blew up", 1)[0]
    for model_id in dict.fromkeys((blown, *INSTEAD)):
        warning = re.sub(rf"(?<![\w-]){re.escape(model_id)}(?![\w-])", model_display_name(model_id), warning)
    return warning
