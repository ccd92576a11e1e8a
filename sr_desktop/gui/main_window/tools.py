"""The main window's tools beyond single-image upscaling: Models ▸ Add model…, batch export
(File menu and dropped folders) and the blur-kernel panel (Tools ▸ Estimate blur kernel).
Each is a collaborator that gets what it uses in its constructor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, SignalInstance
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QWidget

from sr_desktop.app.animation_jobs import AnimationJob
from sr_desktop.app.jobs import Job
from sr_desktop.app.session import Session
from sr_desktop.engine.core.errors import (
    DETAILS_IN_LOG,
    UNEXPECTED_ERROR,
    SRDesktopError,
    UnsupportedModelFile,
    one_line,
)
from sr_desktop.engine.core.paths import is_bundled
from sr_desktop.engine.core.text import human_bytes
from sr_desktop.gui.key_text import with_native_keys
from sr_desktop.gui.main_window.feedback import Feedback, say_unexpected
from sr_desktop.gui.main_window.message_bar import MessageBar
from sr_desktop.gui.main_window.model_list_watch import watch_for
from sr_desktop.gui.main_window.model_picker import ModelPicker
from sr_desktop.gui.settings import GuiSettings
from sr_desktop.gui.worker import JobQueue, run_beside_ui

log = logging.getLogger(__name__)

#: ask_model_file() -> a model file path or None (File dialog; injectable for tests)
AskModelFile = Callable[[], "str | Path | None"]
#: ask_model_to_remove(the user's models) -> the one to remove or None (injectable for tests)
AskModelToRemove = Callable[[list], "object | None"]
#: ask_clear_cache(its bytes, its folder) -> True to empty it (injectable for tests)
AskClearCache = Callable[[int, Path], bool]
#: what `models add` reads (its help names .pth / .pt / .safetensors / ncnn .param + .bin;
#: .ckpt holds the same PyTorch checkpoints): the dialog hid .pt, .ckpt and .bin
MODEL_FILE_FILTER = "Models (*.pth *.pt *.ckpt *.safetensors *.param *.bin);;All files (*)"
KERNEL_PANEL_TITLE = "Blur kernel"


class ModelAdder:
    """Models ▸ Add model…, Remove model… and Clear model cache…: a user's model file, registered,
    listed in the picker and selected; one of the user's models taken out of the list (its stored
    copy deleted); the conversions the models left in the user cache deleted."""

    def __init__(self, parent: QWidget, picker: ModelPicker, settings: GuiSettings, feedback: Feedback,
                 message_bar: MessageBar, metrics_panel=None, ask_model_file: AskModelFile | None = None) -> None:
        self.parent = parent
        self.picker = picker
        self.settings = settings
        self.feedback = feedback
        self.message_bar = message_bar
        self.metrics_panel = metrics_panel
        self.ask_model_file: AskModelFile = ask_model_file or self._ask_model_file_dialog
        self.ask_model_to_remove: AskModelToRemove = self._ask_model_to_remove_dialog
        self.ask_clear_cache: AskClearCache = self._ask_clear_cache_dialog
        # models added or removed outside this window (a shell, another window) show up here
        watch_for(parent).connect(self.refresh_models)
        self._index_problem_said: str | None = None
        QTimer.singleShot(0, self._say_index_problem)  # (after the command line's images open)

    def _say_index_problem(self) -> None:
        """Name an added-models index that cannot be read, once: every added model vanished
        from the picker without a word (they are listed from their folders now)."""
        from sr_desktop.engine.models.custom_index import index_problem

        problem = index_problem()
        if problem is not None and problem != self._index_problem_said:
            self.message_bar.show_message(
                problem[0].upper() + problem[1:] + ". The models found in its folder are listed; adding and "
                "removing models wait until the file is repaired or moved away (it is then rebuilt).", level="error")
        self._index_problem_said = problem

    def refresh_models(self) -> None:
        """List the models again; a selected model that is gone is named in the status line
        beside the one chosen instead."""
        from sr_desktop.engine.models.registry import list_models

        self._say_index_problem()
        models = list_models()
        if models == self.picker.models():
            return
        gone = self.picker.reload(models)
        if self.metrics_panel is not None:
            self.metrics_panel.reload_models()
        if gone:
            self.feedback.show_status(gone, 10000)

    def add_model_dialog(self):
        """Models ▸ Add model…: pick a .pth / .safetensors / ncnn .param file and add it."""
        path = self.ask_model_file()
        if not path:
            return None
        return self.add_model(Path(path))

    def add_model(self, path: Path, say_error: Callable[[str], None] | None = None):
        """Register a user's model file, list it in the picker and select it.

        Returns its `ModelSpec`, or None after showing the engine's one-line error
        (unsupported architecture, missing .bin, unreadable file…) — or handing it to
        `say_error` (a drop sums it up with the files it could not open: the line, without
        the file's name where it can be left out). Detecting, copying
        and hashing the file (and waiting for another process's `models add`) run beside the
        UI thread: the window keeps painting for a large model file.
        """
        from sr_desktop.engine.models.registry import list_models

        def add():
            # (imported here, beside the UI: it loads torch, a second of a frozen window)
            from sr_desktop.engine.models.custom import add_custom_model

            return add_custom_model(path)

        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self.feedback.show_status(f"Adding {path.name}…")
        try:
            spec = run_beside_ui(add)
        except (SRDesktopError, OSError) as exc:  # OSError: what the file system refused
            self.feedback.show_status("")
            if say_error is None:
                self.feedback.show_error(one_line(exc))
            else:  # (a drop's summary names the file: the line says why, without its name)
                say_error(exc.reason if isinstance(exc, UnsupportedModelFile) else one_line(exc))
            return None
        except Exception as exc:  # a bug, said and logged ("Adding x…" stayed up for good)
            if say_error is None:
                say_unexpected(self.feedback, f"Cannot add {path.name}", exc)
            else:  # (a drop's summary: the message bar is the drop's)
                log.error("Cannot add %s", path.name, exc_info=exc)
                self.feedback.show_status("")
                say_error(f"{UNEXPECTED_ERROR}{one_line(exc)}{DETAILS_IN_LOG}")
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.picker.set_models(list_models())
        self.picker.set_model_id(spec.id)
        self.picker.set_scale(max(spec.scales))  # its own (a ×4 carried over ran a ×2 model twice)
        if self.metrics_panel is not None:
            self.metrics_panel.reload_models()
        self.message_bar.clear()
        from sr_desktop.engine.models.custom_index import same_weights_as

        twins = same_weights_as(spec)
        notes = ((f"; licence: {spec.license}" if spec.license else "")  # (as `models add` says them)
                 + (f"; the same weights as {', '.join(t.name for t in twins)}" if twins else ""))
        self.feedback.show_status(
            f"Added model {spec.name} ({spec.arch}, {', '.join(f'×{s}' for s in spec.scales)}) as {spec.id}"
            + notes, 8000)
        return spec

    def users_models(self) -> list:
        """The models the user added (listed or greyed out for a missing file), in list order."""
        return [spec for spec in self.picker.models() if spec.custom]

    def remove_model_dialog(self):
        """Models ▸ Remove model…: choose one of the user's models and remove it (its spec, or None)."""
        mine = self.users_models()
        if not mine:
            # above the image, as the other hints (a status-bar line of 8 s was easily missed)
            self.feedback.show_error("You have added no models yet: Models ▸ Add model… adds one.", level="hint")
            return None
        spec = self.ask_model_to_remove(mine)
        return self.remove_model(spec) if spec is not None else None

    def remove_model(self, spec):
        """Take an added model out of the list and delete the app's copy of it (the user's
        own file stays); the spec, or None after the engine's one-line error."""
        from sr_desktop.engine.models.custom import remove_custom_model

        was_selected = self.picker.model_id() == spec.id
        try:
            run_beside_ui(lambda: remove_custom_model(spec.id))
        except (SRDesktopError, OSError) as exc:
            self.feedback.show_error(one_line(exc))
            return None
        except Exception as exc:  # noqa: BLE001 - a bug, said and logged
            say_unexpected(self.feedback, f"Cannot remove {spec.name}", exc)
            return None
        self.refresh_models()
        now = self.picker.spec()
        instead = f"; {now.name} is selected" if was_selected and now is not None else ""
        self.feedback.show_status(f"Removed model {spec.name} ({spec.id}){instead}", 8000)
        return spec

    def clear_cache_dialog(self) -> int | None:
        """Models ▸ Clear model cache…: after asking, delete the converted weights, OpenVINO
        conversions and measured backends (`user_cache.clear_cache`, as `sr-desktop models
        clear-cache`); the bytes freed, or None when nothing was deleted. What cannot be
        deleted is said in one line; all of it is made again at its next use."""
        from sr_desktop.engine.core import paths
        from sr_desktop.engine.models.user_cache import cache_bytes, clear_cache

        try:
            folder = paths.cache_dir()
            size = run_beside_ui(cache_bytes)
        except OSError as exc:  # a file where the cache folder belongs, no permission
            self.feedback.show_error(f"Cannot read the model cache: {exc.strerror or exc}")
            return None
        if size == 0:
            self.feedback.show_status("The model cache is empty: nothing to clear", 8000)
            return None
        if not self.ask_clear_cache(size, folder):
            return None
        try:
            freed, kept = run_beside_ui(clear_cache)
        except Exception as exc:  # noqa: BLE001 - a bug, said and logged
            say_unexpected(self.feedback, "Cannot clear the model cache", exc)
            return None
        self.picker.fit_backends()  # (OpenVINO's refusals were in it: offered again)
        done = (f"Freed {human_bytes(freed)} of the model cache (made again at each model's next use)"
                if freed else "Nothing was deleted from the model cache")
        if kept:
            more = f" and {len(kept) - 1} more" if len(kept) > 1 else ""
            self.feedback.show_error(f"{done}; not deleted: {kept[0]}{more}")
        else:
            self.feedback.show_status(done, 8000)
        return freed

    def _ask_clear_cache_dialog(self, size: int, folder: Path) -> bool:
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(QMessageBox.Icon.Question, "Clear model cache",
                          f"Delete {human_bytes(size)} of converted weights, OpenVINO conversions and "
                          "measured backend choices?", QMessageBox.StandardButton.Cancel, self.parent)
        box.setInformativeText("Your models stay. Each model's first run after this converts it again "
                               f"(seconds to a minute). The folder: {folder}")
        clear = box.addButton("Clear", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is clear

    def _ask_model_to_remove_dialog(self, mine: list):
        from PySide6.QtWidgets import QInputDialog

        def entry(spec) -> str:
            return f"{spec.name} ({spec.id})" + ("" if spec.installed else " — its file is missing")

        entries = [entry(spec) for spec in mine]
        dialog = QInputDialog(self.parent)
        dialog.setWindowTitle("Remove model")
        dialog.setLabelText("Remove from the list (the app's copy is deleted; your own file stays where it is):")
        dialog.setComboBoxItems(entries)
        dialog.setComboBoxEditable(False)
        dialog.setOkButtonText("Remove")
        if not dialog.exec() or dialog.textValue() not in entries:
            return None
        return mine[entries.index(dialog.textValue())]

    def _ask_model_file_dialog(self):
        start = self.settings.get("last_dir") or ""
        name, _ = QFileDialog.getOpenFileName(self.parent, "Add model", start, MODEL_FILE_FILTER)
        return name or None


class BatchExport:
    """File ▸ Batch export… and the offer after a folder was dropped."""

    def __init__(self, parent: QWidget, session: Session, settings: GuiSettings, message_bar: MessageBar,
                 picker=None) -> None:
        self.parent = parent
        self.session = session
        self.settings = settings
        self.message_bar = message_bar
        self.picker = picker  # the window's model picker: a new dialog starts from its choice
        self.dialog = None  # the last BatchDialog opened (non-modal)
        #: the window's Blur kernel panel: its kernel is offered to a ZSSR or map-sr batch
        #: (set once the panel exists: it is made after this)
        self.kernel_panel = None

    def open_dialog(self, folder: str | Path | None = None):
        """The (non-modal) batch dialog on ``folder``, by default the current image's
        folder. Returns the dialog; while a batch runs, that batch's dialog is raised
        instead (two batches into one folder reported each other's outputs as failures)."""
        from sr_desktop.gui.batch.dialog import BatchDialog

        if self.dialog is not None and self.dialog.is_running():  # (hidden by Esc: still its batch)
            self.dialog.show()
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        image = self.session.image
        if folder is None:
            if image is not None and image.path is not None and not is_bundled(image.path):
                folder = image.path.parent
            elif self.settings.get("last_dir"):
                folder = Path(self.settings.get("last_dir"))
        if self.dialog is not None:  # its batch is over: a closed dialog was kept, hidden, for the session
            self.dialog.deleteLater()
        self.dialog = BatchDialog(self.parent, str(folder) if folder else None)
        if self.picker is not None:  # the model the user just tried, not the list's default
            self.dialog.picker.take_choice_of(self.picker)
        if self.kernel_panel is not None:
            self.dialog.follow_kernel_panel(self.kernel_panel)
        self.dialog.show()
        return self.dialog

    def offer(self, folder: Path) -> None:
        """After a folder was dropped: a "Batch export this folder…" button in the message
        bar (beside the message about the drop if there is one, else with a short notice)."""
        if not self.message_bar.text():
            self.message_bar.show_message(
                f"Folder “{folder.name}”: its images are in the strip below.", level="info")
        self.message_bar.set_action(
            "Batch export this folder…", lambda f=Path(folder): self.open_dialog(f))


class KernelTools:
    """The blur-kernel panel docked beside the metrics panel, Tools ▸ Estimate blur kernel,
    and ZSSR or map-sr with the estimated kernel through the window's upscale queue."""

    def __init__(
        self,
        window: QMainWindow,
        session: Session,
        picker: ModelPicker,
        queue: JobQueue,
        feedback: Feedback,
        add_side_panel: Callable[[QWidget, str], QDockWidget],
        image_opened: SignalInstance,
        metrics_panel=None,
        metrics_dock: QDockWidget | None = None,
    ) -> None:
        from sr_desktop.gui.kernel.panel import ESTIMATE_TIP, KernelPanel

        self.session = session
        self.picker = picker
        self.queue = queue
        self.feedback = feedback
        self.metrics_panel = metrics_panel
        self.panel = panel = KernelPanel(window, device_provider=picker.torch_device)
        self.dock = add_side_panel(panel, KERNEL_PANEL_TITLE)
        if metrics_dock is not None:
            window.tabifyDockWidget(metrics_dock, self.dock)
            metrics_dock.raise_()
        image_opened.connect(lambda image: panel.set_image(image, session.image_name))
        panel.kernelChanged.connect(self._on_kernel_changed)
        panel.upscaleRequested.connect(self.upscale_with_kernel)
        self._panel_error = ""  # what the panel said last (a new kernel makes it stale)
        panel.errorOccurred.connect(self._show_panel_error)
        panel.kernelSaved.connect(lambda _paths: self._clear_panel_error())
        self.action = QAction("Estimate blur &kernel", window)
        self.action.setShortcut(QKeySequence("Ctrl+K"))
        self.action.setStatusTip(with_native_keys(ESTIMATE_TIP))
        self.action.triggered.connect(lambda _c=False: self.estimate_kernel())
        window.addAction(self.action)

    def show_panel(self) -> None:
        """Show and raise the blur-kernel dock."""
        self.dock.show()
        self.dock.raise_()

    def estimate_kernel(self) -> Job | None:
        """Tools ▸ Estimate blur kernel: start KernelGAN on the current image (worker)."""
        self.show_panel()
        return self.panel.start_estimation()

    def upscale_with_kernel(self, kernel, scale: int = 2, variant: str = "default", model: str = "zssr") -> Job | None:
        """``model`` (a per-image model: "zssr" or "map-sr") ×``scale`` with ``kernel`` through
        the normal upscale queue: progress, cancel and the compare view as for any model.
        ``variant`` "real": ZSSR's real-photo settings."""
        from sr_desktop.engine.pipeline.upscale import UpscaleOptions

        if self.session.image is None:
            self.feedback.show_error("Open an image first.", level="hint")
            return None
        options = UpscaleOptions(
            model=model, scale=int(scale), kernel=kernel, device=self.picker.torch_device(),
            variant=None if variant == "default" else variant,
            # alpha through a per-image model would solve a second problem on the alpha plane
            alpha="resample",
            # the picker's Iterations row, where it shows this model's
            iterations=self.picker.iterations() if self.picker.model_id() == model else None,
        )
        self.feedback.clear_error()  # an earlier job's error is not about this one
        if self.session.animation is not None:  # every frame with the kernel (the frames of an animation share a blur)
            return self.queue.submit(AnimationJob(self.session.image, options, None, animation=self.session.animation))
        return self.queue.submit(Job(self.session.image, options))

    def _show_panel_error(self, message: str) -> None:
        self._panel_error = message
        self.feedback.show_error(message)

    def _clear_panel_error(self) -> None:
        """The panel's last error, gone from the message bar (other tools' messages stay: any
        error was cleared)."""
        if self._panel_error:
            self.feedback.clear_error(about=self._panel_error)
            self._panel_error = ""

    def _on_kernel_changed(self, kernel) -> None:
        if kernel is not None:  # a kernel estimated or loaded: the panel's earlier failure is not about it
            self._clear_panel_error()
        if self.metrics_panel is None:
            return
        try:
            # the scale of an estimate (a loaded file's is only guessed from its size)
            estimated = kernel is not None and self.panel.kernel_confidence is not None
            origin = self.panel.kernel_origin.name if estimated and self.panel.kernel_origin is not None else ""
            self.metrics_panel.set_kernel(kernel, self.panel.kernel_scale if estimated else None, estimated, origin)
        except SRDesktopError as exc:
            self.feedback.show_error(f"the metrics panel cannot use this kernel: {exc}")
