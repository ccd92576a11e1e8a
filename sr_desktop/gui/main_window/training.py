"""Tools ▸ Train a model…: opens the (non-modal) training dialog and brings what it trains
into the window's model picker."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from sr_desktop.gui.main_window.model_list_watch import watch_for
from sr_desktop.gui.main_window.model_picker import ModelPicker
from sr_desktop.gui.settings import GuiSettings


class TrainingLauncher:
    """Owns the action and the last dialog (kept referenced while it trains)."""

    def __init__(self, parent: QWidget, picker: ModelPicker, settings: GuiSettings, metrics_panel=None) -> None:
        self.parent = parent
        self.picker = picker
        self.settings = settings
        self.metrics_panel = metrics_panel  # its Evaluate list lists trained models too
        self.dialog = None
        self.action = QAction("&Train a model…", parent)
        self.action.setStatusTip("Train or fine-tune a model on your own images; the result joins the picker")
        self.action.triggered.connect(lambda _checked=False: self.open_dialog())

    def open_dialog(self):
        """Show the training dialog (one at a time: a running one is raised). Returns it."""
        from sr_desktop.engine.models.registry import list_models
        from sr_desktop.gui.train.dialog import TrainDialog

        if self.dialog is not None and (self.dialog.isVisible() or self.dialog.is_running()
                                        or self.dialog.has_stopped_run()):
            # a run still finishing its last iteration after Esc, or one stopped (Resume goes
            # on): its own dialog (a blank one made the user retype the run's folder)
            self.dialog.show()
            self.dialog.raise_()
            self.dialog.activateWindow()
            return self.dialog
        if self.dialog is not None:  # closed and idle: it was kept, hidden, for the session
            self.dialog.deleteLater()
        self.dialog = dialog = TrainDialog(self.parent, models=list_models(),
                                           data_dir=self.settings.get("train_data") or self.settings.get("last_dir")
                                           or None)
        dialog.queue.jobStarted.connect(lambda _job: self._remember_run(dialog))
        # a run stopped unfinished (the window quit during it) is filled in again, Resume ready:
        # after a restart the dialog was blank, and the run's folder had to be remembered
        if unfinished := unfinished_run_folder(self.settings.get("train_run_dir")):
            dialog.out_edit.setText(unfinished)
        dialog.modelTrained.connect(lambda _id: self._models_changed())
        # models added or removed elsewhere (a shell, Models ▸ Remove model…): its Start from list
        # offered a removed one, and Start failed naming every model id
        watch_for(dialog).connect(lambda: dialog.set_models(list_models()))
        self.dialog.useModelRequested.connect(self._use_model)
        self.dialog.show()
        return self.dialog

    def _remember_run(self, dialog) -> None:
        self.settings.set("train_run_dir", dialog.out_edit.text().strip())
        self.settings.set("train_data", dialog.data_edit.text().strip())

    def _use_model(self, model_id: str, scale: int = 0) -> None:
        """Select the trained model at the scale it was trained for (the picker kept the scale
        shown before: a ×2 model came up at ×4, through extra passes; an SRCNN, which serves
        every scale, too)."""
        if self.picker.set_model_id(model_id):
            spec = self.picker.spec()
            if spec is not None and scale in spec.scales:
                self.picker.set_scale(scale)
            elif spec is not None and len(spec.scales) == 1:
                self.picker.set_scale(spec.scales[0])

    def _models_changed(self) -> None:
        from sr_desktop.engine.models.registry import list_models

        models = list_models()
        self.picker.set_models(models)
        if self.dialog is not None:  # (its Start from list: the new model fine-tunes further)
            self.dialog.set_models(models)
        if self.metrics_panel is not None:
            self.metrics_panel.reload_models()


def unfinished_run_folder(folder: str) -> str:
    """`folder` when it holds a run stopped before its end (its checkpoint short of its
    iterations), else ""."""
    from sr_desktop.engine.training.checkpoint import latest_iteration, recorded_settings

    if not folder:
        return ""
    checkpoint = Path(folder).expanduser() / "checkpoint"
    done, total = latest_iteration(checkpoint), recorded_settings(checkpoint).get("iterations")
    return folder if done is not None and isinstance(total, int) and done < total else ""
