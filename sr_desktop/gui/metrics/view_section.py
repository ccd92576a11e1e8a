"""The metrics panel's "View" section: what the compare view's after side shows (the
result, or a difference / SSIM / gradient map), a note on its subject and reference, a way
back from an evaluated model to the upscale result, and Save view… for a map or an
evaluated model's result (`view_saving`)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QGroupBox, QHBoxLayout, QPushButton, QSizePolicy, QToolButton

from sr_desktop.app.metrics_jobs import VIEW_MODES
from sr_desktop.gui.widgets import WrapLabel, tight_column

MODE_TITLES = {"result": "Result", "difference": "Difference", "ssim": "SSIM", "gradient": "Gradient"}
MODE_TIPS = {
    "result": "Show the upscaled result",
    "difference": "Heat map of |result − reference| (bright = large difference)",
    "ssim": "Per-pixel SSIM of the Y channel against the reference (bright = similar)",
    "gradient": "Gradient magnitude of the result (SPSR's structure map: where edges are)",
}


class ViewSection(QGroupBox):
    """One exclusive button per view mode, a note line, "Show the upscale result" and
    "Save view…" with the line saying what it saved."""

    #: a mode button was clicked
    modeClicked = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__("View", parent)
        layout = tight_column(self)
        row = QHBoxLayout()
        row.setSpacing(0)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        for number, mode in enumerate(VIEW_MODES, 1):
            button = QToolButton(self)
            button.setText(MODE_TITLES[mode])
            button.setToolTip(MODE_TIPS[mode])
            # one Tab stop for the group, the arrow keys choosing (as radio buttons): a screen
            # reader reads them as toggle buttons and says neither
            button.setAccessibleDescription(f"{MODE_TIPS[mode]}. View {number} of {len(VIEW_MODES)}: "
                                            "the arrow keys choose the others")
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setObjectName(f"view_{mode}")
            button.clicked.connect(lambda _checked=False, m=mode: self.modeClicked.emit(m))
            self.group.addButton(button)
            self.buttons[mode] = button
            row.addWidget(button)
        layout.addLayout(row)
        self.note = WrapLabel("", self)
        layout.addWidget(self.note)
        self.back_to_result = QPushButton("Show the upscale result", self)
        self.back_to_result.setToolTip("Leave the evaluated model and show the last upscale again")
        layout.addWidget(self.back_to_result)
        self.save_button = QPushButton("Save view…", self)
        self.save_button.setObjectName("saveView")
        self.save_button.setToolTip("Save the map or the evaluated model's result shown on the after side, "
                                    "whole and at its full size, as PNG or TIFF (File ▸ Save saves the "
                                    "upscale result)")
        layout.addWidget(self.save_button)
        self.saved = WrapLabel("", self)
        self.saved.setObjectName("viewSaved")
        layout.addWidget(self.saved)

    def check_mode(self, mode: str) -> None:
        """Check `mode`'s button (emits nothing)."""
        for name, button in self.buttons.items():
            button.blockSignals(True)
            button.setChecked(name == mode)
            button.blockSignals(False)
