"""Tools ▸ Benchmark a dataset…: opens the (non-modal) dataset benchmark dialog on the last
dataset folder, with the window's picked model and scale."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from sr_desktop.engine.metrics.baseline_ids import MATLAB_BICUBIC_ID
from sr_desktop.gui.main_window.model_list_watch import watch_for
from sr_desktop.gui.main_window.model_picker import ModelPicker
from sr_desktop.gui.settings import GuiSettings

#: the settings key of the last dataset folder benchmarked
DATASET_KEY = "bench_dataset"


class BenchLauncher:
    """Owns the action and the dialog (kept, hidden, for the session once opened: its last
    numbers are there when it is opened again)."""

    def __init__(self, parent: QWidget, picker: ModelPicker, settings: GuiSettings) -> None:
        self.parent = parent
        self.picker = picker
        self.settings = settings
        self.dialog = None
        self.action = QAction("&Benchmark a dataset…", parent)
        self.action.setStatusTip("PSNR/SSIM of several models on a folder of HR images (Set5, your own), as the "
                                 "published tables measure them")
        self.action.triggered.connect(lambda _checked=False: self.open_dialog())

    def open_dialog(self):
        """Show the dialog (the one already made, if any). Returns it."""
        from sr_desktop.gui.metrics.bench_dialog import BenchDialog
        from sr_desktop.gui.metrics.evaluate_section import installed_models

        if self.dialog is None:
            picked = self.picker.model_id()
            checked = [MATLAB_BICUBIC_ID] + ([picked] if picked and picked != MATLAB_BICUBIC_ID else [])
            self.dialog = dialog = BenchDialog(self.parent, self.settings.get(DATASET_KEY) or None, installed_models(),
                                               checked, self.picker.scale())
            dialog.datasetUsed.connect(lambda folder: self.settings.set(DATASET_KEY, folder))
            # models added or removed meanwhile (a shell, Models ▸ Remove model…): its list kept
            # a removed one checked, and Run failed the whole benchmark on it
            watch_for(dialog).connect(lambda: dialog.set_models(installed_models()))
        elif not self.dialog.is_running():
            self.dialog.set_models(installed_models())
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog
