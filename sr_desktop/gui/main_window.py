"""The main window: open images, pick a model, upscale in the background, compare, save.

The window holds no inference code: jobs go to a `JobQueue` (worker thread) that calls
the engine. Dialogs that would block tests are injectable (``confirm_discard``,
``ask_save_target``); errors go to a non-modal message bar above the image.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.engine.errors import SRDesktopError
from sr_desktop.engine.image import Image
from sr_desktop.engine.progress import ProgressInfo
from sr_desktop.gui.filmstrip import Filmstrip
from sr_desktop.gui.image_convert import array_to_qimage, qimage_to_array
from sr_desktop.gui.model_picker import ModelPicker
from sr_desktop.gui.settings import GuiSettings
from sr_desktop.gui.worker import Job, JobQueue, JobRunner, run_engine_job

log = logging.getLogger(__name__)

SAVE_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WebP", "tiff": "TIFF"}
REGION_HINT = "Shift+drag on the image (or drag with the Region tool, R) to enhance just a region."
ZOOM_PRESETS = ((1.0, "Ctrl+1"), (2.0, "Ctrl+2"), (4.0, "Ctrl+3"), (8.0, "Ctrl+4"))

#: confirm_discard(question) -> "save" | "discard" | "cancel"
ConfirmDiscard = Callable[[str], str]
#: ask_save_target(suggested_path, suggested_options) -> (path, SaveOptions) or None
AskSaveTarget = Callable[[Path, object], "tuple[Path, object] | None"]


def _compare_view_class():
    from sr_desktop.gui.compare_view import CompareView

    return CompareView


def _with_display_layer(runner: JobRunner) -> JobRunner:
    """Wrap ``runner`` so that a whole-image result is also converted for display in the
    worker thread (a 4× photo takes a noticeable time to convert; the GUI thread must not)."""

    def run(job: Job, progress, cancel):
        result = runner(job, progress, cancel)
        if job.box is None:
            try:
                from sr_desktop.gui.compare_image import ImageLayer
            except ImportError:
                return result
            job.display = ImageLayer(result.image.pixels)
        return result

    return run


def _read_for_display(job: Job, progress, cancel) -> Image:
    """Loader runner: read the file ``job.options`` and convert it for display."""
    from sr_desktop.engine.image_io import read_image

    image = read_image(job.options)
    cancel.raise_if_cancelled()
    try:
        from sr_desktop.gui.compare_image import ImageLayer
    except ImportError:
        return image
    job.display = ImageLayer(image.pixels)
    return image


def _human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "…"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


class MessageBar(QFrame):
    """A one-line, non-modal message strip (errors and notices) with a close button."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self._label, 1)
        layout.addWidget(close)
        self.level = ""
        self.hide()

    def show_message(self, text: str, level: str = "error") -> None:
        """Show ``text``; level "error" (red) or "info" (blue)."""
        colours = {"error": ("#fde8e8", "#b42318"), "info": ("#e8f0fd", "#1d4ed8")}
        bg, fg = colours.get(level, colours["info"])
        self.setStyleSheet(
            f"#messageBar {{ background: {bg}; border: 1px solid {fg}; border-radius: 4px; }}"
            f"#messageBar QLabel {{ color: {fg}; }}"
        )
        self.level = level
        self._label.setText(text)
        self.show()

    def text(self) -> str:
        return self._label.text() if self.isVisible() else ""

    def clear(self) -> None:
        self._label.clear()
        self.level = ""
        self.hide()


class SaveAsDialog(QDialog):
    """File name, format, quality and metadata choice for saving the result."""

    def __init__(self, suggested: Path, options, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save result as")
        self.path_edit = QLineEdit(str(suggested))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.format_combo = QComboBox()
        for key, label in SAVE_FORMATS.items():
            self.format_combo.addItem(label, key)
        index = self.format_combo.findData(options.format or "png")
        self.format_combo.setCurrentIndex(max(0, index))
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(int(options.quality))
        self.metadata_check = QCheckBox("Keep ICC profile and EXIF")
        self.metadata_check.setChecked(bool(options.keep_metadata))
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Format", self.format_combo)
        form.addRow("Quality", self.quality_spin)
        form.addRow("", self.metadata_check)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.format_combo.currentIndexChanged.connect(self._on_format)
        self._on_format()

    def _on_format(self) -> None:
        fmt = self.format_combo.currentData()
        self.quality_spin.setEnabled(fmt in ("jpg", "webp"))
        path = Path(self.path_edit.text())
        if path.name:
            self.path_edit.setText(str(path.with_suffix("." + fmt)))

    def _browse(self) -> None:
        fmt = self.format_combo.currentData()
        name, _filter = QFileDialog.getSaveFileName(
            self, "Save result as", self.path_edit.text(), f"{SAVE_FORMATS[fmt]} (*.{fmt})"
        )
        if name:
            self.path_edit.setText(name)

    def choice(self):
        """(path, SaveOptions) for the current fields."""
        from sr_desktop.engine.image_io import SaveOptions

        options = SaveOptions(
            format=self.format_combo.currentData(),
            quality=self.quality_spin.value(),
            keep_metadata=self.metadata_check.isChecked(),
        )
        return Path(self.path_edit.text()).expanduser(), options


class _SpaceHoldFilter(QObject):
    """Shows the original while Space is held on the compare view."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            if event.key() == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
                if not event.isAutoRepeat():
                    self._window.compare.set_show_original(kind == QEvent.Type.KeyPress)
                return True
        return False


class MainWindow(QMainWindow):
    """SR Desktop's window. See the module doc; public methods are what tests drive."""

    imageOpened = Signal(object)  # engine Image
    #: (original Image, UpscaleResult) after a whole-image job; for panels such as metrics
    resultReady = Signal(object, object)
    regionResultReady = Signal(object, object, tuple)  # original Image, UpscaleResult, box
    idle = Signal()  # no job running or pending

    def __init__(
        self,
        settings: GuiSettings | None = None,
        models=None,
        job_runner: JobRunner | None = None,
        confirm_discard: ConfirmDiscard | None = None,
        ask_save_target: AskSaveTarget | None = None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("SR Desktop")
        self.setAcceptDrops(True)
        self.settings = settings or GuiSettings()
        self.confirm_discard: ConfirmDiscard = confirm_discard or self._ask_discard_dialog
        self.ask_save_target: AskSaveTarget = ask_save_target or self._ask_save_dialog

        self.image: Image | None = None
        self.image_name = ""
        self.result = None  # UpscaleResult of the whole image
        self.result_path: Path | None = None  # where the current result was saved
        self.result_saved = False
        self.region_result = None  # (box, UpscaleResult) shown in place
        self.last_error = ""
        self._last_run = None
        self._job_started_at: float | None = None
        self._last_progress: ProgressInfo | None = None

        self.queue = JobQueue(self, runner=_with_display_layer(job_runner or run_engine_job))
        self.queue.jobStarted.connect(self._on_job_started)
        self.queue.jobProgress.connect(self._on_job_progress)
        self.queue.jobFinished.connect(self._on_job_finished)
        self.queue.jobFailed.connect(self._on_job_failed)
        self.queue.jobCancelled.connect(self._on_job_cancelled)
        self.queue.pendingChanged.connect(self._on_pending_changed)
        self.queue.busyChanged.connect(self._on_busy_changed)
        # a second queue reads images, so a big photo does not freeze the window either
        self.loader = JobQueue(self, runner=_read_for_display)
        self.loader.jobFinished.connect(self._on_image_loaded)
        self.loader.jobFailed.connect(self._on_image_failed)
        self.loader.busyChanged.connect(lambda busy: None if busy else self._emit_idle())

        self._build_central(models)
        self._build_docks()
        self._build_actions()
        self._build_menus_and_toolbar()
        self._build_status_bar()

        self._elapsed_timer = QTimer(self)
        self._elapsed_timer.setInterval(250)
        self._elapsed_timer.timeout.connect(self._refresh_progress_text)

        self.picker.load_settings(self.settings)
        mode = self.settings.get("compare_mode")
        self.set_compare_mode(mode if mode in ("split", "side_by_side") else "split")
        self.picker.optionsChanged.connect(self._on_options_changed)
        self.metrics_panel = self._install_metrics_panel()
        self._restore_geometry()
        self._update_actions()
        self._update_status()

    # ================================================================ construction
    def _build_central(self, models) -> None:
        self.picker = ModelPicker(models)
        self.upscale_button = QPushButton("Upscale")
        self.upscale_button.setObjectName("upscaleButton")
        self.upscale_button.setToolTip("Upscale the whole image (Ctrl+Return)")
        self.upscale_button.setMinimumHeight(32)
        self.upscale_button.setStyleSheet("QPushButton { font-weight: bold; }")
        self.upscale_button.clicked.connect(self.start_upscale)

        # -- region section
        self.region_box = QGroupBox("Region")
        self.region_label = QLabel(REGION_HINT)
        self.region_label.setWordWrap(True)
        self.region_rerun_button = QPushButton("Enhance region")
        self.region_rerun_button.clicked.connect(self.enhance_current_region)
        self.apply_whole_button = QPushButton("Apply to whole image")
        self.apply_whole_button.clicked.connect(self.start_upscale)
        self.region_clear_button = QPushButton("Clear")
        self.region_clear_button.clicked.connect(self.clear_region)
        region_buttons = QHBoxLayout()
        region_buttons.addWidget(self.region_rerun_button)
        region_buttons.addWidget(self.region_clear_button)
        region_layout = QVBoxLayout(self.region_box)
        region_layout.addWidget(self.region_label)
        region_layout.addLayout(region_buttons)
        region_layout.addWidget(self.apply_whole_button)

        # -- progress section
        self.progress_box = QGroupBox("Progress")
        self.job_label = QLabel("Idle")
        self.job_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.progress_text = QLabel("")
        self.progress_text.setObjectName("progressText")
        self.progress_text.setWordWrap(True)
        self.queue_label = QLabel("")
        self.queue_label.setObjectName("queueLabel")
        self.queue_label.setWordWrap(True)
        self.queue_label.setStyleSheet("color: #b45309;")
        self.queue_label.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        self.cancel_button.clicked.connect(self.cancel_jobs)
        progress_layout = QVBoxLayout(self.progress_box)
        progress_layout.addWidget(self.job_label)
        progress_layout.addWidget(self.progress_bar)
        progress_layout.addWidget(self.progress_text)
        progress_layout.addWidget(self.queue_label)
        progress_layout.addWidget(self.cancel_button)

        # -- view section
        self.view_box = QGroupBox("View")
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("Split (drag the divider)", "split")
        self.mode_combo.addItem("Side by side", "side_by_side")
        self.mode_combo.currentIndexChanged.connect(
            lambda _i: self.set_compare_mode(self.mode_combo.currentData())
        )
        self.region_tool_check = QCheckBox("Region tool (R): drag selects a region")
        self.region_tool_check.setToolTip("Without it, Shift+drag selects a region and drag pans")
        self.region_tool_check.toggled.connect(self.set_region_tool)
        hint = QLabel("Hold Space to see the original.\nWheel: zoom · drag: pan")
        hint.setStyleSheet("color: palette(dark);")
        view_layout = QVBoxLayout(self.view_box)
        view_layout.addWidget(self.mode_combo)
        view_layout.addWidget(self.region_tool_check)
        view_layout.addWidget(hint)

        controls = QWidget()
        controls.setObjectName("controls")
        controls.setFixedWidth(290)
        side = QVBoxLayout(controls)
        side.setContentsMargins(8, 8, 8, 8)
        side.addWidget(self.picker)
        side.addWidget(self.upscale_button)
        side.addWidget(self.region_box)
        side.addWidget(self.progress_box)
        side.addWidget(self.view_box)
        side.addStretch(1)

        self.message_bar = MessageBar()
        self.compare = _compare_view_class()()
        self.compare.setObjectName("compareView")
        self.compare.regionSelected.connect(self._on_region_selected)
        self.compare.regionCleared.connect(self._on_region_cleared)
        self.compare.zoomChanged.connect(self._on_zoom_changed)
        self._space_filter = _SpaceHoldFilter(self)
        self.compare.installEventFilter(self._space_filter)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 8, 8, 0)
        right_layout.addWidget(self.message_bar)
        right_layout.addWidget(self.compare, 1)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(controls)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.filmstrip = Filmstrip()
        self.filmstrip.imageChosen.connect(self._on_filmstrip_chosen)
        self.filmstrip_dock = QDockWidget("Images", self)
        self.filmstrip_dock.setObjectName("filmstripDock")
        self.filmstrip_dock.setWidget(self.filmstrip)
        self.filmstrip_dock.setAllowedAreas(
            Qt.DockWidgetArea.BottomDockWidgetArea | Qt.DockWidgetArea.TopDockWidgetArea
        )
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.filmstrip_dock)
        self.filmstrip_dock.hide()
        self.side_panels: dict[str, QDockWidget] = {}

    def add_side_panel(self, widget: QWidget, title: str) -> QDockWidget:
        """Dock ``widget`` in the right-hand panel area (e.g. the metrics panel).

        Panels usually connect to ``imageOpened`` / ``resultReady`` to follow the window.
        The dock's toggle action is added to View ▸ Panels.
        """
        dock = QDockWidget(title, self)
        dock.setObjectName(f"panel:{title}")
        dock.setWidget(widget)
        dock.setAllowedAreas(
            Qt.DockWidgetArea.RightDockWidgetArea | Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.side_panels[title] = dock
        self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def _install_metrics_panel(self):
        """Dock the metrics panel on the right (if that module is part of this build)."""
        if importlib.util.find_spec("sr_desktop.gui.metrics_panel") is None:
            return None
        from sr_desktop.gui.metrics_panel import MetricsPanel

        panel = MetricsPanel(self)
        self.add_side_panel(panel, "Metrics")
        self.imageOpened.connect(panel.set_image)
        self.resultReady.connect(lambda _image, result: panel.set_result(result))
        self.compare.regionSelected.connect(panel.set_region)
        self.compare.regionCleared.connect(lambda: panel.set_region(None))
        panel.showPixels.connect(self._show_display_override)
        return panel

    def _show_display_override(self, pixels, label: str) -> None:
        try:
            self.compare.set_display_override(pixels, label)
        except SRDesktopError as exc:
            self.show_error(f"cannot show the map: {exc}")

    def add_tool_action(self, action: QAction) -> None:
        """Add an entry to the Tools menu (e.g. kernel estimation)."""
        self.tools_menu.addAction(action)
        self.tools_menu.menuAction().setVisible(True)

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)  # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.open_action = self._action("&Open…", self.open_dialog, std.Open, "Open images (Ctrl+O)")
        self.paste_action = self._action("&Paste image", self.paste, std.Paste, "Open the image on the clipboard (Ctrl+V)")
        self.save_action = self._action("&Save result", self.save, std.Save, "Save the result (Ctrl+S)")
        self.save_as_action = self._action("Save result &as…", self.save_as, "Ctrl+Shift+S", "Save the result with a new name, format or quality")
        self.copy_action = self._action("&Copy result", self.copy_result, std.Copy, "Copy the result to the clipboard (Ctrl+C)")
        self.batch_action = self._action("&Batch export…", self.open_batch_dialog, None, "Upscale a folder of images")
        if importlib.util.find_spec("sr_desktop.gui.batch_dialog") is None:
            self.batch_action.setEnabled(False)
            self.batch_action.setToolTip("Batch export is not available in this build")
        self.quit_action = self._action("&Quit", self.close, std.Quit)
        self.upscale_action = self._action("&Upscale", self.start_upscale, ["Ctrl+Return", "Ctrl+Enter"], "Upscale the whole image")
        self.region_action = self._action("Enhance &region", self.enhance_current_region, "Ctrl+R", "Upscale only the selected region")
        self.cancel_action = self._action("&Cancel", self.cancel_jobs, "Esc", "Cancel the running job (Esc)")
        self.fit_action = self._action("Zoom to &fit", lambda: self.compare.zoom_fit(), "Ctrl+0")
        self.zoom_actions = []
        for factor, key in ZOOM_PRESETS:
            self.zoom_actions.append(
                self._action(f"Zoom {int(factor * 100)} %", lambda f=factor: self.compare.zoom_to(f), key)
            )
        self.zoom_in_action = self._action("Zoom &in", lambda: self.compare.zoom_in(), ["Ctrl+=", "Ctrl++", std.ZoomIn])
        self.zoom_out_action = self._action("Zoom &out", lambda: self.compare.zoom_out(), ["Ctrl+-", std.ZoomOut])
        self.region_tool_action = QAction("&Region tool", self)
        self.region_tool_action.setCheckable(True)
        self.region_tool_action.setShortcut(QKeySequence("R"))
        self.region_tool_action.setToolTip(
            "Region tool (R): drag on the image selects a region to enhance "
            "(Shift+drag works without it)"
        )
        self.region_tool_action.toggled.connect(self.set_region_tool)
        self.addAction(self.region_tool_action)
        self.mode_group = QActionGroup(self)
        self.split_action = self._action("&Split view", lambda: self.set_compare_mode("split"))
        self.side_action = self._action("Side &by side", lambda: self.set_compare_mode("side_by_side"))
        for action in (self.split_action, self.side_action):
            action.setCheckable(True)
            self.mode_group.addAction(action)

    def _build_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addAction(self.paste_action)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addAction(self.copy_action)
        file_menu.addSeparator()
        file_menu.addAction(self.batch_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        self._rebuild_recent_menu()

        process = bar.addMenu("&Process")
        process.addAction(self.upscale_action)
        process.addAction(self.region_action)
        process.addAction(self.cancel_action)

        view = bar.addMenu("&View")
        view.addAction(self.split_action)
        view.addAction(self.side_action)
        view.addAction(self.region_tool_action)
        view.addSeparator()
        view.addAction(self.fit_action)
        for action in self.zoom_actions:
            view.addAction(action)
        view.addAction(self.zoom_in_action)
        view.addAction(self.zoom_out_action)
        view.addSeparator()
        self.panels_menu = view.addMenu("&Panels")
        self.panels_menu.addAction(self.filmstrip_dock.toggleViewAction())

        self.tools_menu = bar.addMenu("&Tools")
        self.tools_menu.menuAction().setVisible(False)  # shown once a tool is added

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        for action in (self.open_action, self.save_action, self.copy_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.upscale_action)
        toolbar.addAction(self.cancel_action)
        toolbar.addSeparator()
        toolbar.addAction(self.split_action)
        toolbar.addAction(self.side_action)
        toolbar.addAction(self.region_tool_action)
        toolbar.addSeparator()
        toolbar.addAction(self.fit_action)
        toolbar.addAction(self.zoom_actions[0])

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.device_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.time_label = QLabel("No run yet")
        for label in (self.size_label, self.zoom_label, self.time_label, self.device_label):
            label.setContentsMargins(6, 0, 6, 0)
            status.addPermanentWidget(label)

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
            self.filmstrip_dock.setVisible(self.filmstrip.count() > 1)

    # ================================================================ opening images
    def open_dialog(self) -> None:
        """File ▸ Open: pick one or more image files."""
        from sr_desktop.engine.image_io import IMAGE_SUFFIXES

        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        names, _ = QFileDialog.getOpenFileNames(
            self, "Open images", self.settings.get("last_dir"), f"Images ({patterns});;All files (*)"
        )
        if names:
            self.open_paths([Path(n) for n in names])

    def open_paths(self, paths) -> bool:
        """Add files (and the images inside folders) to the filmstrip and open the first.

        Files that are not images are reported in the message bar. Returns True if an
        image was opened.
        """
        from sr_desktop.engine.image_io import is_image_path

        files: list[Path] = []
        rejected: list[str] = []
        for path in (Path(p) for p in paths):
            if path.is_dir():
                inside = sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
                if not inside:
                    rejected.append(f"{path.name}/ (no images in the folder)")
                files.extend(inside)
            elif not path.exists():
                rejected.append(f"{path.name} (file not found)")
            elif is_image_path(path):
                files.append(path)
            else:
                rejected.append(f"{path.name} (not a supported image type)")
        self.message_bar.clear()
        if rejected:
            self.show_error("Cannot open " + ", ".join(rejected))
        if not files:
            return False
        self.filmstrip.add_paths(files)
        self.filmstrip_dock.setVisible(self.filmstrip.count() > 1)
        return self.open_image(files[0])

    def open_image(self, path: Path) -> bool:
        """Start reading ``path`` in the background; it is shown when decoded.

        Asks first if an unsaved result would be lost (False if the user declines). A
        newer open request replaces one still waiting. Errors go to the message bar.
        """
        path = Path(path)
        if not self._may_discard_result():
            if self.image is not None and self.image.path is not None:
                self.filmstrip.select_path(self.image.path)
            return False
        self.filmstrip.add_paths([path])
        self.filmstrip.select_path(path)
        self.statusBar().showMessage(f"Opening {path.name}…")
        self.loader.submit(Job(None, path))
        return True

    def _on_filmstrip_chosen(self, path: Path) -> None:
        self.message_bar.clear()
        self.open_image(path)

    def _on_image_loaded(self, job: Job, image: Image) -> None:
        if self.loader.pending is not None:
            return  # the user already asked for another file
        path = Path(job.options)
        self.statusBar().clearMessage()
        self.settings.add_recent_file(path)
        self.settings.set("last_dir", str(path.parent))
        self._rebuild_recent_menu()
        self.set_image(image, path.name, display=job.display)
        job.display = None

    def _on_image_failed(self, job: Job, message: str) -> None:
        self.statusBar().clearMessage()
        self.show_error(message)
        if self.image is not None and self.image.path is not None:
            self.filmstrip.select_path(self.image.path)

    def set_image(self, image: Image, name: str = "", display=None) -> None:
        """Show ``image`` as the new original; drops results of the previous one.

        ``display`` is the image already converted for the compare view (optional).
        """
        self.queue.cancel()  # jobs of the previous image are of no use any more
        self.image = image
        self.image_name = name or (image.path.name if image.path else "image")
        self.result = None
        self.result_path = None
        self.result_saved = False
        self.region_result = None
        self.compare.set_original(display if display is not None else image.pixels)
        self.compare.clear_region()
        self.setWindowTitle(f"{self.image_name} — SR Desktop")
        self._on_region_cleared()
        self._update_actions()
        self._update_status()
        self.imageOpened.emit(image)

    def paste(self) -> None:
        """Ctrl+V: open the clipboard's image, or the files it holds."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasUrls():
            local = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
            if local:
                self.open_paths(local)
                return
        qimage = QGuiApplication.clipboard().image()
        if qimage.isNull():
            self.show_error("The clipboard holds no image.", level="info")
            return
        if not self._may_discard_result():
            return
        self.message_bar.clear()
        self.set_image(Image(qimage_to_array(qimage), source_format=None), "pasted image")

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files()
        for path in recent:
            action = self.recent_menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.open_paths([p]))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        self.recent_menu.setEnabled(bool(recent))

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._rebuild_recent_menu()

    # -- drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt API
        mime = event.mimeData()
        local = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if local:
            event.acceptProposedAction()
            self.open_paths(local)
        elif mime.hasImage():
            event.acceptProposedAction()
            if self._may_discard_result():
                self.set_image(Image(qimage_to_array(mime.imageData())), "dropped image")
        else:
            event.ignore()
            self.show_error("Only local files and folders can be dropped here.")

    # ================================================================ jobs
    def start_upscale(self) -> Job | None:
        """Upscale the whole image with the picked options (queued if a job runs)."""
        return self._submit(None)

    def enhance_region(self, box: tuple[int, int, int, int]) -> Job | None:
        """Upscale only ``box`` = (x, y, w, h) of the original and show it in place."""
        return self._submit(tuple(int(v) for v in box))

    def enhance_current_region(self) -> Job | None:
        box = self.compare.region()
        if box is None:
            self.show_error("Draw a region on the image first.", level="info")
            return None
        return self.enhance_region(box)

    def clear_region(self) -> None:
        """Forget the selected region (the Clear button)."""
        self.compare.clear_region()
        if self.metrics_panel is not None:
            self.metrics_panel.set_region(None)
        self._on_region_cleared()

    def cancel_jobs(self) -> None:
        """Esc / Cancel: stop the running job and drop the queued one."""
        if self.queue.is_busy():
            self.queue.cancel()
            self.job_label.setText("Cancelling…")

    def _submit(self, box) -> Job | None:
        if self.image is None:
            self.show_error("Open an image first.", level="info")
            return None
        try:
            options = self.picker.options()
        except SRDesktopError as exc:
            self.show_error(str(exc))
            return None
        return self.queue.submit(Job(self.image, options, box))

    def _on_job_started(self, job: Job) -> None:
        self._job_started_at = time.perf_counter()
        self._last_progress = None
        self.job_label.setText(("Upscaling " if job.box is None else "Enhancing ") + job.describe())
        self.progress_bar.setRange(0, 0)  # busy until the engine reports tile counts
        self.progress_bar.setTextVisible(True)
        self.progress_text.setText("starting…")
        self._elapsed_timer.start()
        self._update_actions()

    def _on_job_progress(self, job: Job, info: ProgressInfo) -> None:
        if job is not self.queue.running:
            return
        self._last_progress = info
        if info.total > 0:
            self.progress_bar.setRange(0, info.total)
            self.progress_bar.setValue(min(info.done, info.total))
        self._refresh_progress_text()

    def _refresh_progress_text(self) -> None:
        if self._job_started_at is None:
            return
        elapsed = time.perf_counter() - self._job_started_at
        info = self._last_progress
        parts = []
        if info is not None and info.total > 0:
            parts.append(f"{info.done}/{info.total} tiles")
        parts.append(f"{_human_seconds(elapsed)} elapsed")
        if info is not None and info.eta is not None and info.done > 0:
            # the engine's ETA is as of its last report; count down from there
            remaining = max(0.0, info.eta - (elapsed - info.elapsed))
            parts.append(f"ETA {_human_seconds(remaining)}")
        else:
            parts.append("ETA …")
        self.progress_text.setText(" · ".join(parts))

    def _on_job_finished(self, job: Job, result) -> None:
        if job.image is not self.image:
            return  # the user moved on to another image
        try:
            if job.box is None:
                shown = job.display if job.display is not None else result.image.pixels
                self.compare.set_result(shown, int(result.scale))
                job.display = None
            else:
                self.compare.set_region_result(job.box, result.image.pixels, int(result.scale))
        except SRDesktopError as exc:
            self.show_error(f"cannot show the result: {exc}")
            return
        if job.box is None:
            self.result = result
            self.result_saved = False
            self.result_path = None
            self.region_result = None
            self.resultReady.emit(job.image, result)
        else:
            self.region_result = (job.box, result)
            self.regionResultReady.emit(job.image, result, job.box)
        self._last_run = (job, result)
        self.time_label.setText(
            f"Last run: {_human_seconds(result.seconds)} ({result.model} ×{result.scale}, "
            f"{result.tiles} tile{'s' if result.tiles != 1 else ''})"
        )
        self._update_status(result)
        self._update_actions()

    def _on_job_failed(self, job: Job, message: str) -> None:
        self.show_error(message)

    def _on_job_cancelled(self, job: Job) -> None:
        self.statusBar().showMessage(f"Cancelled: {job.describe()}", 5000)

    def _on_pending_changed(self, pending: Job | None, replaced: Job | None) -> None:
        if pending is None:
            self.queue_label.hide()
            self.queue_label.clear()
            return
        text = f"Queued next: {pending.describe()}"
        if replaced is not None:
            text += f" (replaces the queued {replaced.describe()})"
        self.queue_label.setText(text)
        self.queue_label.show()

    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self.progress_box.show()
        else:
            self._elapsed_timer.stop()
            self._job_started_at = None
            self.job_label.setText("Idle")
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.progress_bar.setTextVisible(False)
            self.progress_text.setText("")
            self.queue_label.hide()
            self._emit_idle()
        self._update_actions()

    # -- region -------------------------------------------------------------------------
    def _on_region_selected(self, box) -> None:
        x, y, w, h = (int(v) for v in box)
        self.region_label.setText(f"Region {w}×{h} at ({x}, {y})")
        self._update_actions()
        self.enhance_region((x, y, w, h))

    def _on_region_cleared(self) -> None:
        self.region_label.setText(REGION_HINT)
        self._update_actions()

    # ================================================================ saving / clipboard
    def suggested_result_path(self) -> Path:
        """``<input folder>/<stem>_<model>_x<scale>.<format>`` for the current result."""
        fmt = self.settings.get("save_format") or "png"
        base = self.image.path if self.image is not None and self.image.path else None
        folder = base.parent if base else Path(self.settings.get("last_dir") or Path.home())
        stem = base.stem if base else "upscaled"
        if self.result is not None:
            stem += f"_{self.result.model}_x{self.result.scale}"
        return folder / f"{stem}.{fmt}"

    def save(self) -> Path | None:
        """Ctrl+S: save to the last Save As target, or ask where."""
        if self.result is not None and self.result_path is not None:
            return self.save_result(self.result_path, self._saved_options, overwrite=True)
        return self.save_as()

    def save_as(self) -> Path | None:
        """Ctrl+Shift+S: ask for file, format and quality, then save."""
        if self.result is None:
            self.show_error("There is no result to save yet: upscale the image first.", level="info")
            return None
        from sr_desktop.engine.image_io import SaveOptions

        defaults = SaveOptions(
            format=self.settings.get("save_format") or "png",
            quality=self.settings.get("save_quality"),
            keep_metadata=self.settings.get("keep_metadata"),
        )
        choice = self.ask_save_target(self.suggested_result_path(), defaults)
        if not choice:
            return None
        path, options = choice
        # the file dialog already asked before replacing an existing file
        return self.save_result(Path(path), options, overwrite=True)

    def save_result(self, path: Path, options=None, overwrite: bool = False) -> Path | None:
        """Write the result with the engine's ``write_image``; errors go to the message bar."""
        from sr_desktop.engine.image_io import write_image

        if self.result is None:
            self.show_error("There is no result to save yet.", level="info")
            return None
        protect = (self.image.path,) if self.image is not None and self.image.path else ()
        try:
            written = write_image(self.result.image, path, options, overwrite=overwrite, protect=protect)
        except SRDesktopError as exc:
            self.show_error(str(exc))
            return None
        self.result_path = Path(written)
        self._saved_options = options
        self.result_saved = True
        if options is not None and getattr(options, "format", None):
            self.settings.set("save_format", options.format)
            self.settings.set("save_quality", int(options.quality))
            self.settings.set("keep_metadata", bool(options.keep_metadata))
        self.statusBar().showMessage(f"Saved {written}", 8000)
        self._update_actions()
        return self.result_path

    _saved_options = None

    def copy_result(self) -> bool:
        """Ctrl+C: put the whole-image result on the clipboard (False without one)."""
        if self.result is None:
            return False
        QGuiApplication.clipboard().setImage(array_to_qimage(self.result.image.pixels))
        self.statusBar().showMessage("Copied the result to the clipboard", 4000)
        return True

    def _may_discard_result(self) -> bool:
        """True when there is no unsaved result, or the user agreed to save/discard it."""
        if self.result is None or self.result_saved:
            return True
        answer = self.confirm_discard(
            f"The upscaled result of {self.image_name} has not been saved. Save it first?"
        )
        if answer == "save":
            return self.save_as() is not None
        return answer == "discard"

    def _ask_discard_dialog(self, question: str) -> str:
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Unsaved result", question, buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def _ask_save_dialog(self, suggested: Path, options):
        dialog = SaveAsDialog(suggested, options, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()

    # ================================================================ other actions
    def open_batch_dialog(self) -> None:
        """File ▸ Batch export…: the batch dialog on the current image's folder."""
        try:
            from sr_desktop.gui.batch_dialog import BatchDialog
        except ImportError as exc:
            self.show_error(f"Batch export is not available: {exc}")
            return
        folder = None
        if self.image is not None and self.image.path is not None:
            folder = self.image.path.parent
        elif self.settings.get("last_dir"):
            folder = Path(self.settings.get("last_dir"))
        dialog = BatchDialog(self, str(folder) if folder else None)
        dialog.show()

    def set_compare_mode(self, mode: str) -> None:
        """"split" or "side_by_side"."""
        self.compare.set_mode(mode)
        self.settings.set("compare_mode", mode)
        (self.split_action if mode == "split" else self.side_action).setChecked(True)
        index = self.mode_combo.findData(mode)
        if index >= 0 and index != self.mode_combo.currentIndex():
            self.mode_combo.blockSignals(True)
            self.mode_combo.setCurrentIndex(index)
            self.mode_combo.blockSignals(False)

    def set_region_tool(self, on: bool) -> None:
        """Region tool on: a left-drag on the image draws the region (off: it pans)."""
        self.compare.set_tool("region" if on else "pan")
        self.region_tool_action.setChecked(on)
        self.region_tool_check.setChecked(on)

    def show_error(self, message: str, level: str = "error") -> None:
        """Non-modal message above the image; also logged and kept in ``last_error``."""
        message = message.splitlines()[0] if message else message
        if level == "error":
            self.last_error = message
            log.warning("%s", message)
        self.message_bar.show_message(message, level)

    # ================================================================ state display
    def is_idle(self) -> bool:
        """No upscale running or queued and no image being opened."""
        return not self.queue.is_busy() and not self.loader.is_busy()

    def _on_options_changed(self) -> None:
        self.picker.save_settings(self.settings)
        self._update_status()

    def _emit_idle(self) -> None:
        if self.is_idle():
            self.idle.emit()

    def _on_zoom_changed(self, factor: float) -> None:
        self.zoom_label.setText(f"Zoom {factor * 100:.0f} %")

    def _update_actions(self) -> None:
        has_image = self.image is not None
        has_result = self.result is not None
        busy = self.queue.is_busy()
        has_region = has_image and self.compare.region() is not None
        self.upscale_action.setEnabled(has_image)
        self.upscale_button.setEnabled(has_image)
        self.region_action.setEnabled(has_region)
        self.region_rerun_button.setEnabled(has_region)
        self.region_clear_button.setEnabled(has_region)
        self.apply_whole_button.setEnabled(has_image)
        self.cancel_action.setEnabled(busy)
        self.cancel_button.setEnabled(busy)
        self.save_action.setEnabled(has_result)
        self.save_as_action.setEnabled(has_result)
        self.copy_action.setEnabled(has_result)
        for action in [self.fit_action, self.zoom_in_action, self.zoom_out_action, *self.zoom_actions]:
            action.setEnabled(has_image)
        self.upscale_button.setText("Upscale (queue)" if busy else "Upscale")

    def _update_status(self, result=None) -> None:
        from sr_desktop.engine import devices

        try:
            device = devices.describe_device(self.picker.device())
        except Exception:  # noqa: BLE001 - a status label must not break the window
            device = self.picker.device()
        self.device_label.setText(f"Device: {device}")
        if self.image is None:
            self.size_label.setText("No image")
            return
        w, h = self.image.width, self.image.height
        scale = int(result.scale) if result is not None else self.picker.scale()
        out = f"{w * scale}×{h * scale}"
        self.size_label.setText(f"{w}×{h} → {out}")

    # ================================================================ keys and closing
    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat() and self.image is not None:
            self.compare.set_show_original(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat() and self.image is not None:
            self.compare.set_show_original(False)
            return
        super().keyReleaseEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self._may_discard_result():
            event.ignore()
            return
        # cancel everything first, then wait for each thread: the 2 s are shared
        started = time.perf_counter()
        self.queue.cancel()
        self.loader.cancel()
        queues = [self.queue, self.loader]
        if self.metrics_panel is not None:
            queues.append(self.metrics_panel)
        stopped = all([
            q.shutdown(timeout=max(0.1, 2.0 - (time.perf_counter() - started))) for q in queues
        ])
        log.info("closing: jobs stopped=%s after %.2f s", stopped, time.perf_counter() - started)
        self.picker.save_settings(self.settings)
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        event.accept()
