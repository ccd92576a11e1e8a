"""The Size row of the Save As and batch dialogs: a width and a height the result is resized
to fit (`engine.core.output_size.OutputSize`, the command line's ``--width``/``--height``)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QWidget

from sr_desktop.engine.core.output_size import MAX_SIDE, OutputSize

#: what a side left at 0 shows
AUTO = "auto"
#: the Size row's words for a result enlarged past the model's output
ENLARGED_TIP = ("Larger than the model made: the part past it is interpolated and adds no detail. "
                "For a network, a larger Scale gives its own.")
TOOLTIP = ("Resize the result to fit, after the model's upscale (Lanczos; nearest neighbour after Nearest "
           "and ScaleNx, so pixel art stays square): a width, a height or both (its aspect ratio is kept). "
           "Both auto: the size the model made.")


class _SideSpinBox(QSpinBox):
    """A side's box: a digit typed while it shows "auto" starts a number (the box took no
    typing there unless its text was selected first: "auto240" is no number)."""

    def keyPressEvent(self, event) -> None:
        if self.value() == self.minimum() and event.text().isdigit():
            self.lineEdit().selectAll()
        super().keyPressEvent(event)


class OutputSizeField(QWidget):
    """Width × height boxes; 0 ("auto") leaves a side to the other's ratio, both 0 the
    result as upscaled."""

    changed = Signal()

    def __init__(self, size: OutputSize | None = None, parent=None,
                 source_size: tuple[int, int] | None = None) -> None:
        super().__init__(parent)
        #: the size of the result the boxes apply to (the Save As dialog's; a batch has many)
        self.source_size = source_size
        self.width_spin = self._side("Output width")
        self.height_spin = self._side("Output height")
        self.result_label = QLabel()
        self.result_label.setObjectName("outputSizeResult")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.width_spin)
        row.addWidget(QLabel("×"))
        row.addWidget(self.height_spin)
        row.addWidget(self.result_label)
        row.addStretch(1)
        self.setToolTip(TOOLTIP)
        self.changed.connect(self._show_result)
        self.set_output_size(size)
        self._show_result()

    def _show_result(self) -> None:
        """What the boxes make of the result: "→ 6000×4000" (it showed "auto × 500 px" and the
        size came out only in the status line after the save)."""
        self.result_label.setVisible(self.source_size is not None)
        if self.source_size is None:
            return
        size = self.output_size()
        if size is None:
            self.result_label.setText(f"as upscaled: {self.source_size[0]}×{self.source_size[1]}")
            return
        width, height = size.fitted(*self.source_size)
        # (past the model's output nothing is added: it was a plain "→ 2000×1500" for ×6)
        factor = max(width / self.source_size[0], height / self.source_size[1])
        self.result_label.setText(f"→ {width}×{height}" + (f", ×{factor:.2f} interpolated" if factor > 1 else ""))
        self.result_label.setToolTip(ENLARGED_TIP if factor > 1 else "")

    def _side(self, name: str) -> QSpinBox:
        spin = _SideSpinBox()
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
