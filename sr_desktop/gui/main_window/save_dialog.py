"""The "Save result as" dialog: file name, format, quality and metadata choice."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

SAVE_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WebP", "tiff": "TIFF"}


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
        from sr_desktop.engine.imageio import SaveOptions

        options = SaveOptions(
            format=self.format_combo.currentData(),
            quality=self.quality_spin.value(),
            keep_metadata=self.metadata_check.isChecked(),
        )
        return Path(self.path_edit.text()).expanduser(), options
