"""The main window: open images, pick a model, upscale in the background, compare, save.

The window holds no inference code and no state of its own work: the open image, the
result, the region and whether the result is saved live in a `Session`
(sr_desktop.app.session) that the window observes. Jobs go to a `JobQueue` (worker
threads) that calls the engine. The window is composed of collaborators, each given what
it uses in its constructor:

* `ControlsPanel`   the left column (picker, Upscale, what made the result, progress,
                    region, view), scrolling on a short screen
* `Upscaler`        whole-image and region upscales through the upscale ``queue``
* `ProgressView`    the progress box following that queue
* `ResultInfo`      what made the result shown, and whether the picker still matches it
* `ImageOpener`     File ▸ Open, recent files, filmstrip, paste, drops; the ``loader`` queue
* `ResultSaver`     save / save as / copy / unsaved-result prompt (dialogs injectable:
                    ``confirm_discard``, ``ask_save_target``)
* `ModelAdder`, `BatchExport`, `KernelTools`  Models ▸ Add model…, batch export, blur kernel
* ``actions``       actions, shortcuts, menus and toolbar; `MessageBar` for errors

Over 500 lines because the window is the one place that wires its collaborators to each
other and to the session; most of it is short public methods that tests and panels call,
each handing over to a collaborator.

Queues: ``queue`` runs upscales (one at a time, a newer request waits as *pending*),
``loader`` decodes images, the metrics panel and the kernel panel have their own, so a
kernel estimation or a measurement runs beside an upscale. Closing the window cancels
them all and waits at most 2 s in total.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.app.jobs import Job, JobRunner
from sr_desktop.app.metrics_jobs import RunSettings
from sr_desktop.app.session import Change, Session
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.imageio.image import Image
from sr_desktop.gui.accessible_names import name_unnamed
from sr_desktop.gui.compare.view import CompareView
from sr_desktop.gui.dialog_words import in_dialog_words
from sr_desktop.gui.key_text import with_native_keys
from sr_desktop.gui.main_window.about import show_about
from sr_desktop.gui.main_window.actions import (
    COPY_TIP,
    REGION_HIDES_RESULT,
    SAVE_TIP,
    ZOOM_PRESETS,
    build_actions,
    build_menus_and_toolbar,
    shown_instead_text,
)
from sr_desktop.gui.main_window.benchmarking import BenchLauncher
from sr_desktop.gui.main_window.controls import REGION_HINT, ControlsPanel
from sr_desktop.gui.main_window.filmstrip import Filmstrip
from sr_desktop.gui.main_window.focused_keys import FocusedWidgetKeys
from sr_desktop.gui.main_window.message_bar import MessageBar
from sr_desktop.gui.main_window.model_picker import PICKER_FIELDS
from sr_desktop.gui.main_window.opening import ImageOpener
from sr_desktop.gui.main_window.progress_view import ProgressView
from sr_desktop.gui.main_window.result_info import ResultInfo
from sr_desktop.gui.main_window.save_dialog import SAVE_FORMATS, SaveAsDialog
from sr_desktop.gui.main_window.saving import AskSaveTarget, ConfirmDiscard, ResultSaver
from sr_desktop.gui.main_window.shortcuts_sheet import ShortcutsSheet
from sr_desktop.gui.main_window.space_hold import SpaceHoldFilter
from sr_desktop.gui.main_window.status_labels import StatusLabels
from sr_desktop.gui.main_window.tools import (
    AskModelFile,
    BatchExport,
    KernelTools,
    ModelAdder,
)
from sr_desktop.gui.main_window.training import TrainingLauncher
from sr_desktop.gui.main_window.upscaling import Upscaler
from sr_desktop.gui.settings import GuiSettings
from sr_desktop.gui.widgets import GrowthWatch, confirm, resize_within_screen

#: the window's fields (the picker's, the Save dialog's) for the flags the engine's errors name
WINDOW_FIELDS = {**PICKER_FIELDS, "--format": "Format", "--quality": "Quality"}
log = logging.getLogger(__name__)

__all__ = ["REGION_HINT", "SAVE_FORMATS", "ZOOM_PRESETS", "MainWindow", "MessageBar", "SaveAsDialog"]

#: how long closing the window waits for all worker threads together
CLOSE_TIMEOUT_S = 2.0
#: the size at the first start: fits a 1366×768 screen (its usable height is about 720)
FIRST_SIZE = QSize(1280, 700)
METRICS_PANEL_TITLE = "Metrics"


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
        ask_model_file: AskModelFile | None = None,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("SR Desktop")
        self.setAcceptDrops(True)
        self.settings = settings or GuiSettings()
        self.session = Session()
        self.last_error = ""
        self.shortcuts_sheet: ShortcutsSheet | None = None  # (made at the first F1, then raised again)
        self.about_box: QMessageBox | None = None
        self.guide_viewer = None  # (Help ▸ Documentation: made at its first use)
        #: asks before quitting stops a running batch or training run (`widgets.confirm`'s
        #: arguments; tests set it)
        self.ask_stop_job = confirm

        self._build_central(models)
        self.upscaler = Upscaler(self, self.session, self.picker, self.compare, self,
                                 self.resultReady.emit, self.regionResultReady.emit, job_runner)
        self.queue = self.upscaler.queue
        self.progress_view = ProgressView(self.queue, self.controls, self)
        self.queue.busyChanged.connect(self._on_busy_changed)  # after the progress box's
        # (a queued job's line grows the box after the layout settled: a moment later)
        self.queue.pendingChanged.connect(lambda *_: QTimer.singleShot(0, self._bring_progress_into_sight))
        # and a progress line that wraps to more lines pushed Cancel out of sight (a first
        # use's "converting it to OpenVINO…" at 150 % on a laptop)
        GrowthWatch(self.progress_box, lambda: self.queue.is_busy() and QTimer.singleShot(
            0, self._bring_progress_into_sight))
        self._build_docks()
        build_actions(self)
        build_menus_and_toolbar(self)
        self.status_labels = labels = StatusLabels(self.statusBar())
        self.size_label, self.zoom_label = labels.size_label, labels.zoom_label
        self.time_label, self.device_label = labels.time_label, labels.device_label
        self.result_info = ResultInfo(self.session, self.picker, self.controls, self.compare, labels)
        self.saver = ResultSaver(self.session, self.settings, self, self, confirm_discard, ask_save_target,
                                 shown_instead=lambda: self.compare.shown_instead_of_result())
        self.batch_export = BatchExport(self, self.session, self.settings, self.message_bar, self.picker)
        self.opener = ImageOpener(
            self, self.session, self.settings, self, self.message_bar, self.filmstrip,
            self.filmstrip_dock, self.recent_menu, self.saver.may_discard_result, self.set_image,
            self.batch_export.offer, lambda path, say: self.model_adder.add_model(Path(path), say),
        )
        self.loader = self.opener.loader
        self.filmstrip.entriesRemoved.connect(lambda _paths: self.opener.on_entries_removed())
        self.loader.busyChanged.connect(lambda busy: None if busy else self._emit_idle())
        self.loader.busyChanged.connect(lambda _busy: self._update_actions())  # (Esc stops an opening)

        model_gone = self.picker.load_settings(self.settings)
        mode = self.settings.get("compare_mode")
        # a mode this version lacks (another version's) is shown as split, not written over
        self.set_compare_mode(mode if mode in ("split", "side_by_side") else "split", remember=mode in ("split",
                                                                                                     "side_by_side"))
        self.compare.set_swapped(self.settings.get("compare_swapped"))
        self.swap_action.setChecked(self.compare.swapped())
        self.picker.optionsChanged.connect(self._on_options_changed)
        self.metrics_panel = self._install_metrics_panel()
        self.kernel_tools = KernelTools(
            self, self.session, self.picker, self.queue, self, self.add_side_panel, self.imageOpened,
            self.metrics_panel, self.side_panels.get(METRICS_PANEL_TITLE),
        )
        self.kernel_panel = self.kernel_tools.panel
        self.batch_export.kernel_panel = self.kernel_panel
        self.kernel_panel.default_dir = self.saver.default_dir
        # Esc and Cancel stop a kernel estimation or an evaluation too (they had their own
        # Cancel only: Esc did nothing while one ran)
        self.kernel_panel.queue.busyChanged.connect(lambda _busy: self._update_actions())
        if self.metrics_panel is not None:
            self.metrics_panel.evaluationBusyChanged.connect(lambda _busy: self._update_actions())
        self.estimate_kernel_action = self.kernel_tools.action
        self.add_tool_action(self.estimate_kernel_action)
        self.training = TrainingLauncher(self, self.picker, self.settings, self.metrics_panel)
        self.add_tool_action(self.training.action)
        self.benchmarking = BenchLauncher(self, self.picker, self.settings)
        self.add_tool_action(self.benchmarking.action)
        self.model_adder = ModelAdder(
            self, self.picker, self.settings, self, self.message_bar, self.metrics_panel, ask_model_file)
        self.session.subscribe(self._on_session_changed)
        self._restore_geometry()
        self._update_actions()
        self._update_status()
        # after the images of the command line are opened, which clears the message strip
        if model_gone:  # (it was replaced without a word)
            QTimer.singleShot(0, lambda: self.message_bar.show_message(model_gone + ".", level="info"))
        unsaved = self.settings.unsaved_reason()
        if unsaved is not None:  # (every choice was forgotten at each close, without a word)
            QTimer.singleShot(0, lambda: self.message_bar.show_message(
                f"Settings cannot be saved in {self.settings.path} ({unsaved}): the choices made now "
                "will be forgotten when the window closes." + (f" {model_gone}." if model_gone else ""),
                level="error"))

    # ================================================================ construction
    def _build_central(self, models) -> None:
        self.controls = ControlsPanel(models)
        c = self.controls
        # the widgets tests and panels reach through the window
        self.picker = c.picker
        self.upscale_button = c.upscale_button
        self.result_label = c.result_label
        self.region_box, self.region_label = c.region_box, c.region_label
        self.region_rerun_button, self.region_clear_button = c.region_rerun_button, c.region_clear_button
        self.apply_whole_button = c.apply_whole_button
        self.progress_box, self.job_label, self.progress_bar = c.progress_box, c.job_label, c.progress_bar
        self.progress_text, self.queue_label, self.cancel_button = c.progress_text, c.queue_label, c.cancel_button
        self.view_box = c.view_box

        c.upscale_button.clicked.connect(self.start_upscale)
        c.region_rerun_button.clicked.connect(self.enhance_current_region)
        c.apply_whole_button.clicked.connect(self.start_upscale)
        c.region_clear_button.clicked.connect(self.clear_region)
        c.cancel_button.clicked.connect(self.cancel_jobs)

        self.message_bar = MessageBar()
        self.compare = CompareView()
        self.compare.setObjectName("compareView")
        self.compare.regionSelected.connect(self._on_region_selected)
        # a click outside the region is the Clear button: the whole result comes back (it only
        # forgot the box, and left the whole result hidden with Save and Clear disabled)
        self.compare.regionCleared.connect(self.clear_region)
        self.compare.openRequested.connect(self.open_dialog)
        self.compare.magnificationChanged.connect(lambda factor: self.status_labels.show_zoom(factor))
        self.compare.installEventFilter(SpaceHoldFilter(self.compare))
        QApplication.instance().installEventFilter(FocusedWidgetKeys(self))

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 8, 8, 0)
        right_layout.addWidget(self.message_bar)
        right_layout.addWidget(self.compare, 1)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.controls_scroll = c.in_scroll_area()
        layout.addWidget(self.controls_scroll)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.filmstrip = Filmstrip()
        self.filmstrip.setAccessibleName("Images")
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
        name_unnamed(widget, f"{title} panel")  # e.g. its scroll area, for a screen reader
        dock.setAllowedAreas(
            Qt.DockWidgetArea.RightDockWidgetArea | Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        if self.side_panels:  # one tab each: the panels share the height of the window
            self.tabifyDockWidget(next(iter(self.side_panels.values())), dock)
        self.side_panels[title] = dock
        toggle = dock.toggleViewAction()
        toggle.setToolTip(f"Show or hide the {title} panel")
        toggle.triggered.connect(lambda _on: self.remember_layout())  # kept at once, not only on close
        self.panels_menu.addAction(toggle)
        self.toolbar.addAction(toggle)  # one click away
        return dock

    def _install_metrics_panel(self):
        """Dock the metrics panel on the right."""
        from sr_desktop.gui.metrics.panel import MetricsPanel

        panel = MetricsPanel(self)
        panel.default_dir = self.saver.default_dir
        self.add_side_panel(panel, METRICS_PANEL_TITLE)
        self.imageOpened.connect(panel.set_image)
        self.resultReady.connect(lambda _image, result: panel.set_result(result))
        # the panel's numbers and maps are of the whole image's result, hidden meanwhile; the
        # region's run is shown
        self.regionResultReady.connect(lambda _image, result, _box: panel.set_region_result(result))
        self.compare.regionSelected.connect(panel.set_region)
        self.upscaler.regionChosen.connect(panel.set_region)
        panel.showPixels.connect(self._show_display_override)
        # the Evaluate scale follows the picker until the user sets it in the panel
        self.picker.optionsChanged.connect(lambda: panel.set_picker_scale(self.picker.scale()))
        panel.set_picker_scale(self.picker.scale())
        # and its models run as the Advanced section says (they ran on `auto` whatever it said)
        self.picker.optionsChanged.connect(lambda: panel.set_run_settings(self._run_settings()))
        panel.set_run_settings(self._run_settings())
        return panel

    def _may_stop_jobs(self) -> bool:
        """Whether quitting may stop a running benchmark, batch export and training run: each
        asked (the window closed and they stopped without a word, the batch's dialog and
        summary gone, the training run's folder not said)."""
        batch, training, bench = self.batch_export.dialog, self.training.dialog, self.benchmarking.dialog
        if bench is not None and bench.is_running():  # (it ran on, the process alive without a window)
            if not self._may_quit("A benchmark is running. Stop it and quit? Its numbers are not kept (Save report… "
                                  "keeps the models already measured once it stops).", "stopBenchBox"):
                return False
        if batch is not None and batch.is_running():
            if not self._may_quit(f"A batch export is running{batch.done_words()}. Stop it and quit? The files "
                                  "done are kept, and its report says which were not.", "stopBatchBox"):
                return False
        if training is not None and training.is_running():
            if not self._may_quit(f"A training run is running{training.done_words()}. Stop it and quit? It saves "
                                  "a checkpoint after its iteration: Tools ▸ Train a model… resumes it from its Run "
                                  f"folder, {training.out_edit.text().strip()}.", "stopTrainingBox"):
                return False
        return True

    def _may_quit(self, question: str, box_name: str) -> bool:
        return self.ask_stop_job(self, "Quit SR Desktop", question, "Stop and quit", box_name, warning=True)

    def _run_settings(self) -> RunSettings:
        picker = self.picker
        variant = picker.variant()
        return RunSettings(device=picker.device(), tile=picker.tile(), precision=picker.precision(),
                           backend=picker.backend(),
                           variants=((picker.model_id(), variant),) if variant and picker.model_id() else ())

    def _show_display_override(self, pixels, label: str) -> None:
        # in the panel's Result view it is an evaluated model's image: the original's colours
        # (shown unconverted beside the converted result); in the others a map
        image = self.metrics_panel is not None and self.metrics_panel.view_mode() == "result"
        evaluated = self.metrics_panel is not None and self.metrics_panel.shows_evaluated_model()
        try:
            self.compare.set_display_override(pixels, label, image_colours=image,
                                              before_label="Ground truth" if evaluated else "Before")
        except SRDesktopError as exc:
            self.show_error(f"cannot show the map: {exc}")
        self._update_actions()  # what is saved is what is shown: not the result under a map
        self._update_status()  # and the sizes are of what is shown

    def add_tool_action(self, action: QAction) -> None:
        """Add an entry to the Tools menu (e.g. kernel estimation)."""
        self.tools_menu.addAction(action)
        self.tools_menu.menuAction().setVisible(True)

    def _restore_geometry(self) -> None:
        """The last size, and which panels were open; at the first start the image area
        alone (the side panels are one click away in the toolbar)."""
        geometry = self.settings.geometry()
        kept = geometry is not None and self.restoreGeometry(geometry)
        if not kept:
            resize_within_screen(self, FIRST_SIZE.width(), FIRST_SIZE.height())
        state = self.settings.window_state()
        if state is not None and self.restoreState(state):
            self.filmstrip_dock.setVisible(self.filmstrip.count() > 1)
            if not kept:  # (another screen: the panels kept their widths, the window did not)
                QTimer.singleShot(0, self._narrow_side_panels)
            return
        for dock in self.side_panels.values():
            dock.hide()

    def _narrow_side_panels(self) -> None:
        """Side panels wider than the image area made as wide as it: restored from a larger
        screen, a 700-px Metrics panel left the image 262 px of a laptop's 1280-px window."""
        shown = [dock for dock in self.side_panels.values() if dock.isVisible()]
        wide = [dock for dock in shown if dock.width() > self.compare.width()]
        if wide:  # the room they and the image share, shared out evenly
            share = (self.compare.width() + sum(dock.width() for dock in wide)) // (len(wide) + 1)
            self.resizeDocks(wide, [share] * len(wide), Qt.Orientation.Horizontal)

    def remember_layout(self) -> None:
        """Store the window's size and which panels are open (on close and when a panel is
        shown or hidden)."""
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()

    # ================================================================ session state
    @property
    def image(self) -> Image | None:
        """The open original (the session's)."""
        return self.session.image

    @property
    def image_name(self) -> str:
        return self.session.image_name

    @property
    def result(self):
        """The whole-image `UpscaleResult` shown (None before the first run)."""
        return self.session.result

    def set_image(self, image: Image, name: str = "", display=None) -> None:
        """Show ``image`` as the new original; drops results of the previous one.

        ``display`` is the image already converted for the compare view (optional).
        """
        self._cancel_image_jobs()  # jobs of the previous image are of no use any more (and say so)
        self.compare.set_original(display if display is not None else image.pixels, image.icc_profile)
        self.compare.clear_region()
        self.session.open_image(image, name)
        self.imageOpened.emit(image)
        self.compare.setFocus(Qt.FocusReason.OtherFocusReason)  # so Space shows the original

    def _on_session_changed(self, change: Change) -> None:
        if change is Change.IMAGE:
            self.setWindowTitle(f"{self.session.image_name} — SR Desktop")
        if change in (Change.IMAGE, Change.REGION):
            box = self.session.region
            self.region_label.setText(
                REGION_HINT if box is None else f"Region {box[2]}×{box[3]} at ({box[0]}, {box[1]})"
            )
        if change in (Change.IMAGE, Change.RESULT):
            self.status_labels.show_run(self.session.last_run)
            self._update_status()
        self._update_actions()

    # ================================================================ opening (ImageOpener)
    def open_dialog(self) -> None:
        """File ▸ Open: pick one or more image files."""
        self.opener.open_dialog()

    def open_paths(self, paths) -> bool:
        """Add files (and folders' images) to the filmstrip and open the first (True if
        an image is being opened); problems go to the message bar."""
        return self.opener.open_paths(paths)

    def open_image(self, path) -> bool:
        """Read ``path`` in the background (False if the user kept an unsaved result)."""
        return self.opener.open_image(path)

    def paste(self) -> None:
        """Ctrl+V: open the clipboard's image, or the files it holds."""
        self.opener.paste()

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        if self.opener.open_dropped(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # ================================================================ saving (ResultSaver)
    def save(self):
        """Ctrl+S: save to the last Save As target, or ask where."""
        return self.saver.save()

    def save_as(self):
        """Ctrl+Shift+S: ask for file, format and quality, then save."""
        return self.saver.save_as()

    def save_result(self, path, options=None, overwrite: bool = False):
        """Write the result to ``path`` (its path, or None after an error message)."""
        return self.saver.save_result(path, options, overwrite)

    def copy_result(self) -> bool:
        """Ctrl+C: the result to the clipboard (False without one)."""
        return self.saver.copy_result()

    # ================================================================ tools
    def add_model_dialog(self):
        """Models ▸ Add model…"""
        return self.model_adder.add_model_dialog()

    def remove_model_dialog(self):
        """Models ▸ Remove model…"""
        return self.model_adder.remove_model_dialog()

    def clear_cache_dialog(self):
        """Models ▸ Clear model cache…"""
        return self.model_adder.clear_cache_dialog()

    def add_model(self, path):
        """Register a user's model file and select it (its ModelSpec, or None)."""
        return self.model_adder.add_model(Path(path))

    def open_batch_dialog(self, folder=None):
        """File ▸ Batch export…: the non-modal batch dialog (returned)."""
        return self.batch_export.open_dialog(folder)

    @property
    def batch_dialog(self):
        """The last batch dialog opened (None before)."""
        return self.batch_export.dialog

    def estimate_kernel(self) -> Job | None:
        """Tools ▸ Estimate blur kernel (Ctrl+K)."""
        return self.kernel_tools.estimate_kernel()

    def upscale_with_kernel(self, kernel, scale: int = 2, variant: str = "default") -> Job | None:
        """ZSSR with ``kernel`` through the upscale queue."""
        return self.kernel_tools.upscale_with_kernel(kernel, scale, variant)

    def toggle_animation(self) -> None:
        """View ▸ Play / pause animation (K): nothing when the image is not animated."""
        self.upscaler.player.toggle()

    # ================================================================ jobs (Upscaler)
    def start_upscale(self) -> Job | None:
        """Upscale the whole image with the picked options (queued if a job runs)."""
        return self.upscaler.start_upscale()

    def enhance_region(self, box: tuple[int, int, int, int]) -> Job | None:
        """Upscale only ``box`` = (x, y, w, h) of the original and show it in place."""
        return self.upscaler.enhance_region(box)

    def enhance_current_region(self) -> Job | None:
        """Upscale the selected region."""
        return self.upscaler.enhance_current_region()

    def clear_region(self) -> None:
        """Forget the selected region (the Clear button) and its result: the whole image's
        result, if there is one, is shown again."""
        self.upscaler.drop_region_jobs()
        self.compare.clear_region()
        if self.metrics_panel is not None:
            self.metrics_panel.set_region(None)
        if self.session.region_result is not None:
            whole = self.session.result
            if whole is not None:
                self.compare.set_result(whole.image.pixels, int(whole.scale))
                if self.metrics_panel is not None:
                    self.metrics_panel.set_result(whole)
            else:
                self.compare.drop_region_results()
                if self.metrics_panel is not None:
                    self.metrics_panel.set_region_result(None)
            self.session.drop_region_result()
        self.session.select_region(None)

    def cancel_jobs(self) -> None:
        """Esc / Cancel: stop the running upscale and drop the queued one; with none, the
        file being opened; with none, the panels' jobs (a kernel estimation, an evaluation)."""
        if not self.queue.is_busy() and self.opener.cancel_opening():
            return
        self._cancel_image_jobs()

    def _cancel_image_jobs(self) -> None:
        """Stop the running upscale and drop the queued one; with none, the panels' jobs."""
        if self.queue.is_busy():
            self.queue.cancel()
            self.progress_view.show_cancelling()
            return
        if self.kernel_panel.is_running():
            self.kernel_panel.cancel()
        if self.metrics_panel is not None and self.metrics_panel.is_evaluating():
            self.metrics_panel.cancel_evaluation()

    def _panel_job_running(self) -> bool:
        """A kernel estimation or an evaluation runs (what Esc stops when no upscale does)."""
        # (the actions are updated while the panels are being made)
        kernel, metrics = getattr(self, "kernel_panel", None), getattr(self, "metrics_panel", None)
        return bool((kernel is not None and kernel.is_running()) or (metrics is not None and metrics.is_evaluating()))

    def _bring_progress_into_sight(self) -> None:
        # on a short screen the column may be scrolled away from the progress; its Cancel
        # (at the box's foot, below a queued job's line) is what must be in sight
        self.controls_scroll.ensureWidgetVisible(self.progress_box, 0, 0)
        self.controls_scroll.ensureWidgetVisible(self.cancel_button, 0, 0)

    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self._bring_progress_into_sight()
        else:
            self._emit_idle()
        self._update_actions()

    def _on_region_selected(self, box) -> None:
        self.session.select_region(box)
        self.enhance_region(self.session.region)

    # ================================================================ other actions
    def set_compare_mode(self, mode: str, remember: bool = True) -> None:
        """"split" or "side_by_side" (stored in the settings with `remember`)."""
        self.compare.set_mode(mode)
        if remember:
            self.settings.set("compare_mode", mode)
        (self.split_action if mode == "split" else self.side_action).setChecked(True)

    def set_compare_swapped(self, on: bool) -> None:
        """View ▸ Swap sides: the after side on the left (stored in the settings)."""
        self.compare.set_swapped(on)
        self.settings.set("compare_swapped", bool(on))
        self.swap_action.setChecked(bool(on))

    def set_region_tool(self, on: bool) -> None:
        """Region tool on: a left-drag on the image draws the region (off: it pans)."""
        self.compare.set_tool("region" if on else "pan")
        self.region_tool_action.setChecked(on)

    def show_shortcuts(self) -> ShortcutsSheet:
        """Help ▸ Keyboard shortcuts (F1): the non-modal sheet (returned; one, raised again:
        each F1 made another, kept hidden after closing for the whole session)."""
        sheet = self.shortcuts_sheet
        if sheet is None:
            sheet = self.shortcuts_sheet = ShortcutsSheet(self.actions(), self)
        sheet.show()
        sheet.raise_()
        return sheet

    def open_documentation(self) -> bool:
        """Help ▸ Documentation: the guides read in the app (`GuideViewer`, one, raised again;
        False, and said, when this install has none)."""
        from sr_desktop.engine.core import paths
        from sr_desktop.gui.main_window.guide_viewer import GuideViewer

        if not paths.DOCS_DIR.is_dir():
            self.show_error(f"This install has no guides folder ({paths.DOCS_DIR}); they are in the "
                            "project's docs/ folder", level="info")
            return False
        viewer = self.guide_viewer
        if viewer is None or viewer.docs_dir != paths.DOCS_DIR:
            viewer = self.guide_viewer = GuideViewer(paths.DOCS_DIR, self)
        viewer.show()
        viewer.raise_()
        viewer.activateWindow()
        return True

    def show_about(self):
        """Help ▸ About SR Desktop: the non-modal box (returned; one, raised again)."""
        box = self.about_box
        if box is None:
            box = self.about_box = show_about(self)
        box.show()
        box.raise_()
        return box

    def show_error(self, message: str, level: str = "error") -> None:
        """Non-modal message above the image, in the window's words (its fields for the
        engine's command-line flags); also logged and kept in ``last_error``."""
        message = self._in_window_words(message)
        if level == "error":
            self.last_error = message
        if level in ("error", "warning"):
            log.warning("%s", message)
        self.message_bar.show_message(message, level)

    def clear_error(self, about: str | None = None) -> None:
        """Hide the message bar when it shows an error (with `about`: that error only) or a
        hint ("Draw a region first…": it stayed beside the result of the next action); an
        info message (a batch offer) stays."""
        if about is not None and self.last_error != self._in_window_words(about):
            return
        if self.message_bar.isVisible() and self.message_bar.level in ("error", "warning", "hint"):
            self.message_bar.clear()

    @staticmethod
    def _in_window_words(message: str) -> str:
        return in_dialog_words(message.splitlines()[0], WINDOW_FIELDS) if message else message

    def status_text(self) -> str:
        """What the status line says now ("" for nothing)."""
        return self.statusBar().currentMessage()

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """``text`` in the status line for ``timeout_ms`` (0: until replaced; "" clears)."""
        if text:
            self.statusBar().showMessage(text, timeout_ms)
        else:
            self.statusBar().clearMessage()

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

    def _update_actions(self) -> None:
        has_image = self.image is not None
        instead = self.compare.shown_instead_of_result()
        has_result = self.session.result_shown and instead is None  # what is saved is what is shown
        busy = self.queue.is_busy()
        has_region = has_image and self.session.region is not None
        self.upscale_action.setEnabled(has_image)
        self.upscale_button.setEnabled(has_image)
        # without a region, the part in view when zoomed in, else a hint (`enhance_current_region`)
        self.region_action.setEnabled(has_image)
        self.region_rerun_button.setEnabled(has_image)
        self.region_clear_button.setEnabled(has_region)
        self.apply_whole_button.setEnabled(has_image)
        self.cancel_action.setEnabled(busy or self.loader.is_busy() or self._panel_job_running())
        self.cancel_button.setEnabled(busy)
        self.save_action.setEnabled(has_result)
        self.save_as_action.setEnabled(has_result)
        self.copy_action.setEnabled(has_result)
        hidden = self.result is not None and not has_result
        why = shown_instead_text(instead) if instead else REGION_HIDES_RESULT
        for action, tip in ((self.save_action, SAVE_TIP), (self.copy_action, COPY_TIP)):
            action.setToolTip(why if hidden else with_native_keys(tip))
            action.setStatusTip(why if hidden else with_native_keys(tip))
        for action in [self.fit_action, self.zoom_in_action, self.zoom_out_action, *self.zoom_actions]:
            action.setEnabled(has_image)
        self.upscale_button.setText("Upscale (queue)" if busy else "Upscale")
        self.estimate_kernel_action.setEnabled(has_image)
        self.play_action.setEnabled(has_image and self.session.animation is not None)  # K does nothing on a still

    def _update_status(self) -> None:
        """The status line's device and sizes, and what made the result shown."""
        self.result_info.refresh()

    # ================================================================ keys and closing
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat() and self.image is not None:
            self.compare.set_show_original(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat() and self.image is not None:
            self.compare.set_show_original(False)
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        """Tab and Shift+Tab pass over what is not on screen: a panel behind another's tab
        and an empty panel tab bar, which Qt keeps "visible" off the window (Tab went
        through the hidden kernel panel's ten controls)."""
        start = QApplication.focusWidget()
        for _ in range(500):  # (more than the window's focusable widgets: never endless)
            if not super().focusNextPrevChild(next):
                return False
            widget = QApplication.focusWidget()
            if widget is None or widget is start or self._on_screen(widget):
                return True
        return True

    @staticmethod
    def _on_screen(widget: QWidget) -> bool:
        """False for a widget in a dock or dock tab bar that the window does not show."""
        while widget is not None and not widget.isWindow():
            if isinstance(widget, (QDockWidget, QTabBar)) and widget.visibleRegion().isEmpty():
                return False
            widget = widget.parentWidget()
        return True

    def close_for_signal(self) -> None:
        """Ctrl+C in the terminal that started the app, SIGTERM (a logout, ``kill``), SIGHUP
        (the terminal closed): close as the close button does, without its questions — a
        running batch is cancelled (its report written), an unsaved result given up; a result
        being saved is finished first. (Qt's loop ran no Python handler: Ctrl+C did nothing,
        SIGTERM killed the window outright, a save's temporary file left behind.)"""
        if self.saver.saving:
            QTimer.singleShot(200, self.close_for_signal)
            return
        self._closing_for_signal = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        asked = not getattr(self, "_closing_for_signal", False)
        if asked and (not self._may_stop_jobs() or not self.saver.may_discard_result()):
            event.ignore()
            return
        # cancel everything first, then wait for each job: the 2 s are shared
        started = time.perf_counter()
        queues = [self.queue, self.loader, self.metrics_panel, self.kernel_panel, self.filmstrip]
        for q in (self.queue, self.loader):
            q.cancel()
        batch = self.batch_export.dialog
        if batch is not None and batch.is_running():  # (agreed to above: its report is written)
            batch.cancel()
            queues.append(batch.queue)
        bench = self.benchmarking.dialog
        if bench is not None and bench.is_running():  # (agreed to above)
            bench.cancel()
            queues.append(bench.queue)
        self.kernel_panel.cancel()
        if self.training.dialog is not None:  # (agreed to above: it saves a checkpoint, waited for at exit)
            self.training.dialog.cancel()
        stopped = all([  # a list: every queue is shut down, even after one failed to stop
            q.shutdown(timeout=max(0.1, CLOSE_TIMEOUT_S - (time.perf_counter() - started)))
            for q in queues
        ])
        log.info("closing: jobs stopped=%s after %.2f s", stopped, time.perf_counter() - started)
        self.picker.save_settings(self.settings)
        self.remember_layout()
        event.accept()
