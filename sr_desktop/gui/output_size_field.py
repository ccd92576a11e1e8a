"""The Size row of the Save As and batch dialogs: a width and a height the result is resized
to fit (`engine.core.output_size.OutputSize`, the command line's ``--width``/``--height``)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QWidget

from sr_desktop.engine.core.output_size import MAX_SIDE, OutputSize

#: what a side left at 0 shows
AUTO = "auto"
TOOLTIP = ("Resize the result to fit, after the model's upscale (Lanczos): a width, a height or both "
           "(its aspect ratio is kept). Both auto: the size the model made.")


class OutputSizeField(QWidget):
    """Width × height boxes; 0 ("auto") leaves a side to the other's ratio, both 0 the
    result as upscaled."""

    changed = Signal()

    def __init__(self, size: OutputSize | None = None, parent=None) -> None:
        super().__init__(parent)
        self.width_spin = self._side("Output width")
        self.height_spin = self._side("Output height")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.width_spin)
        row.addWidget(QLabel("×"))
        row.addWidget(self.height_spin)
        row.addStretch(1)
        self.setToolTip(TOOLTIP)
        self.set_output_size(size)

    def _side(self, name: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(0, MAX_SIDE)
        spin.setSpecialValueText(AUTO)
        spin.setSuffix(" px")
        spin.setAccessibleName(name)
        spin.setToolTip(TOOLTIP)
        spin.valueChanged.connect(lambda _value: self.changed.emit())
        return spin

    def output_size(self) -> OutputSize | None:
        """The `OutputSize` of the boxes, None for both auto."""
        width, height = self.width_spin.value() or None, self.height_spin.value() or None
        return None if width is None and height is None else OutputSize(width, height)

    def set_output_size(self, size: OutputSize | None) -> None:
        self.width_spin.setValue((size.width or 0) if size is not None else 0)
        self.height_spin.setValue((size.height or 0) if size is not None else 0)
