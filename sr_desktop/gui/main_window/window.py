"""The main window: open images, pick a model, upscale in the background, compare, save.

The window holds no inference code: jobs go to a `JobQueue` (worker thread) that calls
the engine. Dialogs that would block tests are injectable (``confirm_discard``,
``ask_save_target``, ``ask_model_file``); errors go to a non-modal message bar above
the image. Pieces live beside this module:

* ``main_window_controls``  the left column (picker, Upscale, region, progress, view)
* ``main_window_actions``   actions, shortcuts, menus and toolbar
* ``main_window_saving``    save / save as / copy / unsaved-result prompt (mixin)
* ``main_window_tools``     Models ▸ Add…, batch export, blur-kernel panel glue (mixin)
* ``main_window_jobs``      job runners and progress text
* ``main_window_message_bar``, ``main_window_save``  the message strip, the Save As dialog

Queues: ``queue`` runs upscales (one at a time, a newer request waits as *pending*),
``loader`` decodes images, the metrics panel and the kernel panel have their own, so a
kernel estimation or a measurement runs beside an upscale. Closing the window cancels
them all and waits at most 2 s in total.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication
from PySide6.QtWidgets import QDockWidget, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.core.progress import ProgressInfo
from sr_desktop.gui.main_window.filmstrip import Filmstrip
from sr_desktop.gui.qimage import qimage_to_array
from sr_desktop.gui.main_window.actions import ZOOM_PRESETS, build_actions, build_menus_and_toolbar
from sr_desktop.gui.main_window.controls import REGION_HINT, ControlsPanel
from sr_desktop.app.upscale_jobs import (
    human_seconds,
    progress_text,
    read_for_display,
    run_upscale_job,
    with_display_layer,
)
from sr_desktop.gui.main_window.message_bar import MessageBar
from sr_desktop.gui.main_window.save import SAVE_FORMATS, SaveAsDialog
from sr_desktop.gui.main_window.saving import SavingMixin
from sr_desktop.gui.main_window.tools import AskModelFile, ToolsMixin
from sr_desktop.gui.settings import GuiSettings
from sr_desktop.gui.worker import Job, JobQueue, JobRunner

log = logging.getLogger(__name__)

__all__ = ["MainWindow", "MessageBar", "SaveAsDialog", "SAVE_FORMATS", "REGION_HINT", "ZOOM_PRESETS"]

#: confirm_discard(question) -> "save" | "discard" | "cancel"
ConfirmDiscard = Callable[[str], str]
#: ask_save_target(suggested_path, suggested_options) -> (path, SaveOptions) or None
AskSaveTarget = Callable[[Path, object], "tuple[Path, object] | None"]
#: how long closing the window waits for all worker threads together
CLOSE_TIMEOUT_S = 2.0


def _compare_view_class():
    from sr_desktop.gui.compare.view import CompareView

    return CompareView


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


class MainWindow(SavingMixin, ToolsMixin, QMainWindow):
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
        self.confirm_discard: ConfirmDiscard = confirm_discard or self._ask_discard_dialog
        self.ask_save_target: AskSaveTarget = ask_save_target or self._ask_save_dialog
        self.ask_model_file: AskModelFile = ask_model_file or self._ask_model_file_dialog

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

        self.queue = JobQueue(self, runner=with_display_layer(job_runner or run_upscale_job))
        self.queue.jobStarted.connect(self._on_job_started)
        self.queue.jobProgress.connect(self._on_job_progress)
        self.queue.jobFinished.connect(self._on_job_finished)
        self.queue.jobFailed.connect(self._on_job_failed)
        self.queue.jobCancelled.connect(self._on_job_cancelled)
        self.queue.pendingChanged.connect(self._on_pending_changed)
        self.queue.busyChanged.connect(self._on_busy_changed)
        # a second queue reads images, so a big photo does not freeze the window either
        self.loader = JobQueue(self, runner=read_for_display)
        self.loader.jobFinished.connect(self._on_image_loaded)
        self.loader.jobFailed.connect(self._on_image_failed)
        self.loader.busyChanged.connect(lambda busy: None if busy else self._emit_idle())

        self._build_central(models)
        self._build_docks()
        build_actions(self)
        build_menus_and_toolbar(self)
        self._rebuild_recent_menu()
        self._build_status_bar()

        self._elapsed_timer = QTimer(self)
        self._elapsed_timer.setInterval(250)
        self._elapsed_timer.timeout.connect(self._refresh_progress_text)

        self.picker.load_settings(self.settings)
        mode = self.settings.get("compare_mode")
        self.set_compare_mode(mode if mode in ("split", "side_by_side") else "split")
        self.picker.optionsChanged.connect(self._on_options_changed)
        self.metrics_panel = self._install_metrics_panel()
        self.kernel_panel = self._install_kernel_panel()
        self._restore_geometry()
        self._update_actions()
        self._update_status()

    # ================================================================ construction
    def _build_central(self, models) -> None:
        self.controls = ControlsPanel(models)
        c = self.controls
        # the widgets tests and panels reach through the window
        self.picker = c.picker
        self.upscale_button = c.upscale_button
        self.region_box, self.region_label = c.region_box, c.region_label
        self.region_rerun_button, self.region_clear_button = c.region_rerun_button, c.region_clear_button
        self.apply_whole_button = c.apply_whole_button
        self.progress_box, self.job_label, self.progress_bar = c.progress_box, c.job_label, c.progress_bar
        self.progress_text, self.queue_label, self.cancel_button = c.progress_text, c.queue_label, c.cancel_button
        self.view_box, self.mode_combo, self.region_tool_check = c.view_box, c.mode_combo, c.region_tool_check

        c.upscale_button.clicked.connect(self.start_upscale)
        c.region_rerun_button.clicked.connect(self.enhance_current_region)
        c.apply_whole_button.clicked.connect(self.start_upscale)
        c.region_clear_button.clicked.connect(self.clear_region)
        c.cancel_button.clicked.connect(self.cancel_jobs)
        c.mode_combo.currentIndexChanged.connect(lambda _i: self.set_compare_mode(c.mode_combo.currentData()))
        c.region_tool_check.toggled.connect(self.set_region_tool)

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
        layout.addWidget(c)
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
        if importlib.util.find_spec("sr_desktop.gui.metrics.panel") is None:
            return None
        from sr_desktop.gui.metrics.panel import MetricsPanel

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
        from sr_desktop.engine.imageio import IMAGE_SUFFIXES

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
        from sr_desktop.engine.imageio import is_image_path

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
            folders = [p for p in local if p.is_dir()]
            if folders:
                self.offer_batch_export(folders[0])
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
        what = job.describe()
        if getattr(job.options, "kernel", None) is not None:
            what += " with the blur kernel"
        self.controls.show_started(("Upscaling " if job.box is None else "Enhancing ") + what)
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
        if self._job_started_at is not None:
            elapsed = time.perf_counter() - self._job_started_at
            self.progress_text.setText(progress_text(self._last_progress, elapsed))

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
            f"Last run: {human_seconds(result.seconds)} ({result.model} ×{result.scale}, "
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
            self.controls.show_idle()
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

    # ================================================================ other actions
    def set_compare_mode(self, mode: str) -> None:
        """"split" or "side_by_side"."""
        self.compare.set_mode(mode)
        self.settings.set("compare_mode", mode)
        (self.split_action if mode == "split" else self.side_action).setChecked(True)
        self.controls.set_mode(mode)

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
        if self.kernel_panel is not None:
            self.estimate_kernel_action.setEnabled(has_image)

    def _update_status(self, result=None) -> None:
        from sr_desktop.engine.compute import devices

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
        queues = [self.queue, self.loader]
        queues += [p for p in (self.metrics_panel, self.kernel_panel) if p is not None]
        for q in (self.queue, self.loader):
            q.cancel()
        if self.kernel_panel is not None:
            self.kernel_panel.cancel()
        stopped = all([
            q.shutdown(timeout=max(0.1, CLOSE_TIMEOUT_S - (time.perf_counter() - started)))
            for q in queues
        ])
        log.info("closing: jobs stopped=%s after %.2f s", stopped, time.perf_counter() - started)
        self.picker.save_settings(self.settings)
        self.settings.save_window(self.saveGeometry(), self.saveState())
        self.settings.sync()
        event.accept()
