"""Models ▸ Add…, batch export (File menu and dropped folders) and the blur-kernel panel:
the window's tools beyond single-image upscaling (a `MainWindow` mixin).

Uses the window's ``image``, ``picker``, ``queue``, ``settings``, ``metrics_panel``,
``message_bar``, ``show_error``, ``add_side_panel``, ``add_tool_action`` and ``statusBar``.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.gui.worker import Job

log = logging.getLogger(__name__)

#: ask_model_file() -> a model file path or None (File dialog; injectable for tests)
AskModelFile = Callable[[], "str | Path | None"]
MODEL_FILE_FILTER = "Models (*.pth *.safetensors *.param);;All files (*)"
KERNEL_PANEL_TITLE = "Blur kernel"


class ToolsMixin:
    """Custom models, batch export and kernel estimation glue."""

    batch_dialog = None  # the last BatchDialog opened (non-modal)
    kernel_panel = None

    # ================================================================ Models ▸ Add…
    def add_model_dialog(self):
        """Models ▸ Add…: pick a .pth / .safetensors / ncnn .param file and add it."""
        path = self.ask_model_file()
        if not path:
            return None
        return self.add_model(Path(path))

    def add_model(self, path: Path):
        """Register a user's model file, list it in the picker and select it.

        Returns its `ModelSpec`, or None after showing the engine's one-line error
        (unsupported architecture, missing .bin, unreadable file…). Detection reads the
        file's tensors (no unpickling of code), which takes well under a second even for
        a 65 MB RRDBNet, so it runs here rather than in the worker.
        """
        from sr_desktop.engine.models.custom import add_custom_model
        from sr_desktop.engine.models.registry import list_models

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            spec = add_custom_model(path)
        except SRDesktopError as exc:
            self.show_error(str(exc))
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.picker.set_models(list_models())
        self.picker.set_model_id(spec.id)
        if self.metrics_panel is not None:
            self.metrics_panel.reload_models()
        self.message_bar.clear()
        self.statusBar().showMessage(
            f"Added model {spec.name} ({spec.arch}, ×{spec.scales[0]}) as {spec.id}", 8000)
        return spec

    def _ask_model_file_dialog(self):
        start = self.settings.get("last_dir") or ""
        name, _ = QFileDialog.getOpenFileName(self, "Add model", start, MODEL_FILE_FILTER)
        return name or None

    # ================================================================ batch export
    def open_batch_dialog(self, folder: str | Path | None = None):
        """File ▸ Batch export…: the (non-modal) batch dialog on ``folder``, by default the
        current image's folder. Returns the dialog (None if batch export is unavailable)."""
        try:
            from sr_desktop.gui.batch.dialog import BatchDialog
        except ImportError as exc:
            self.show_error(f"Batch export is not available: {exc}")
            return None
        if folder is None:
            if self.image is not None and self.image.path is not None:
                folder = self.image.path.parent
            elif self.settings.get("last_dir"):
                folder = Path(self.settings.get("last_dir"))
        self.batch_dialog = BatchDialog(self, str(folder) if folder else None)
        self.batch_dialog.show()
        return self.batch_dialog

    def offer_batch_export(self, folder: Path) -> None:
        """After a folder was dropped: a "Batch export this folder…" button in the message
        bar (beside an error about the drop if there is one, else with a short notice)."""
        if importlib.util.find_spec("sr_desktop.gui.batch.dialog") is None:
            return
        if not self.message_bar.text():
            self.message_bar.show_message(
                f"Folder “{folder.name}”: its images are in the strip below.", level="info")
        self.message_bar.set_action(
            "Batch export this folder…", lambda f=Path(folder): self.open_batch_dialog(f))

    # ================================================================ blur kernel
    def _install_kernel_panel(self):
        """Dock the blur-kernel panel (tabbed with the metrics panel) and add
        Tools ▸ Estimate blur kernel."""
        from sr_desktop.gui.kernel.panel import KernelPanel

        panel = KernelPanel(self, device_provider=self.picker.device)
        dock = self.add_side_panel(panel, KERNEL_PANEL_TITLE)
        metrics_dock = self.side_panels.get("Metrics")
        if metrics_dock is not None:
            self.tabifyDockWidget(metrics_dock, dock)
            metrics_dock.raise_()
        self.imageOpened.connect(lambda image: panel.set_image(image, self.image_name))
        panel.kernelChanged.connect(self._on_kernel_changed)
        panel.upscaleRequested.connect(self.upscale_with_kernel)
        panel.errorOccurred.connect(self.show_error)
        self.estimate_kernel_action = QAction("Estimate blur &kernel", self)
        self.estimate_kernel_action.setShortcut(QKeySequence("Ctrl+K"))
        self.estimate_kernel_action.setStatusTip(
            "Estimate the image's own blur kernel with KernelGAN (Ctrl+K)")
        self.estimate_kernel_action.triggered.connect(lambda _c=False: self.estimate_kernel())
        self.addAction(self.estimate_kernel_action)
        self.add_tool_action(self.estimate_kernel_action)
        self.kernel_panel = panel
        return panel

    def show_kernel_panel(self) -> None:
        """Show and raise the blur-kernel dock."""
        dock = self.side_panels.get(KERNEL_PANEL_TITLE)
        if dock is not None:
            dock.show()
            dock.raise_()

    def estimate_kernel(self) -> Job | None:
        """Tools ▸ Estimate blur kernel: start KernelGAN on the current image (worker)."""
        if self.kernel_panel is None:
            self.show_error("Kernel estimation is not available in this build.")
            return None
        self.show_kernel_panel()
        return self.kernel_panel.start_estimation()

    def upscale_with_kernel(self, kernel, scale: int = 2, variant: str = "default") -> Job | None:
        """ZSSR ×``scale`` with ``kernel`` through the normal upscale queue: progress,
        cancel and the compare view as for any model. ``variant`` "real": real-photo settings."""
        from sr_desktop.engine.pipeline.upscale import UpscaleOptions

        if self.image is None:
            self.show_error("Open an image first.", level="info")
            return None
        options = UpscaleOptions(
            model="zssr", scale=int(scale), kernel=kernel, device=self.picker.device(),
            variant=None if variant == "default" else variant,
            # alpha through ZSSR would train a second network on the alpha plane
            alpha="resample",
        )
        return self.queue.submit(Job(self.image, options))

    def _on_kernel_changed(self, kernel) -> None:
        if self.metrics_panel is None:
            return
        try:
            self.metrics_panel.set_kernel(kernel)
        except SRDesktopError as exc:
            self.show_error(f"the metrics panel cannot use this kernel: {exc}")
