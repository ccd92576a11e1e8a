"""The "Save result as" dialog: file name, format, quality and metadata choice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
)

from sr_desktop.engine.imageio.protected import same_file
from sr_desktop.gui.gps_check import gps_check
from sr_desktop.gui.output_size_field import OutputSizeField
from sr_desktop.gui.widgets import beside, confirm, resize_within_screen

#: the formats offered (GIF too: an animated GIF's result is saved as one, and it suggested
#: "gif" for one, which the list lacked, so it fell back to PNG and refused "out.gif")
SAVE_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WebP", "tiff": "TIFF", "gif": "GIF", "bmp": "BMP"}
#: wide enough to show a path, not only the end of its file name
WIDTH = 560


class SaveAsDialog(QDialog):
    """File name, format, quality, size and metadata choice for saving the result.

    Save is accepted only for a name that fits the format (a name without an image suffix
    gets the format's; one with another format's suffix is refused) and, when that file
    exists, after "Replace?" was answered yes (the file picker's own question counts, as
    long as the name was not edited after it).
    """

    def __init__(self, suggested: Path, options, parent=None, protect: tuple[Path, ...] = (),
                 image_size: tuple[int, int] | None = None,
                 changes_for: Callable[[str], list[str]] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save result as")
        # the opened image: its name is refused here, before "Replace?" (the save refused it after)
        self._protect = tuple(protect)
        self.path_edit = QLineEdit(str(suggested))
        self.path_edit.setObjectName("savePathEdit")
        # a bare or relative name is the suggested file's folder's (it went to the app's
        # working folder, which the status line did not name); a folder gets the suggested name
        self._suggested = Path(suggested).expanduser().absolute()
        self._replace_confirmed: str | None = None  # the name the file picker asked about
        # the rows below are layouts, which the form's labels do not name: named here (a screen
        # reader read "text field", "spin box 90")
        self.path_edit.setAccessibleName("File")
        browse = QPushButton("Browse…")
        browse.setAccessibleName("Browse for the file")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.format_combo = QComboBox()
        for key, label in SAVE_FORMATS.items():
            self.format_combo.addItem(label, key)
        index = self.format_combo.findData(options.format or "png")
        self.format_combo.setCurrentIndex(max(0, index))
        # what the format does to this result, said before the save (`changes_for`: the engine's
        # `lossy_changes`); a transparent sprite saved as JPEG heard of its white ground only
        # after, in a status line gone in 8 s
        self._changes_for = changes_for
        self.format_note = QLabel("")
        self.format_note.setObjectName("saveFormatNote")
        self.format_note.setWordWrap(True)
        self.format_note.hide()
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(int(options.quality))
        self.quality_spin.setAccessibleName("Quality")
        # ticked for a lossless WebP opened (the dialog wrote it lossy at the Quality shown)
        self.lossless_check = QCheckBox("Lossless")
        self.lossless_check.setObjectName("saveLosslessCheck")
        self.lossless_check.setChecked(bool(options.lossless))
        self.lossless_check.setToolTip("WebP without loss: every pixel as upscaled, a larger file "
                                       "(ticked when the opened image is a lossless WebP)")
        self.lossless_check.toggled.connect(self._on_format)
        self.metadata_check = QCheckBox("Keep ICC profile, EXIF and XMP")
        self.metadata_check.setChecked(bool(options.keep_metadata))
        self.metadata_check.setToolTip(
            "Unticked, the file holds none of the original's metadata: no EXIF (GPS, camera, dates), XMP, "
            "IPTC or resolution, and no colour profile — the colours are written as stored, so those of a "
            "wide-gamut (e.g. Adobe RGB) photo look shifted in other apps")
        self.gps_check = gps_check(options.drop_gps, self.metadata_check)
        self.size_field = OutputSizeField(options.size, source_size=image_size)
        self.size_field.setObjectName("saveSizeField")
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("Format", self.format_combo)
        form.addRow("", self.format_note)
        quality_row = QHBoxLayout()
        quality_row.addWidget(self.quality_spin)
        quality_row.addWidget(self.lossless_check)
        quality_row.addStretch(1)
        form.addRow("Quality", quality_row)
        form.addRow("Size", self.size_field)
        form.addRow("", beside(self.metadata_check, self.gps_check))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.format_combo.currentIndexChanged.connect(self._on_format)
        self._on_format()
        resize_within_screen(self, WIDTH, self.sizeHint().height())

    def _on_format(self) -> None:
        fmt = self.format_combo.currentData()
        self.lossless_check.setVisible(fmt == "webp")
        self.quality_spin.setEnabled(fmt == "jpg" or (fmt == "webp" and not self.lossless_check.isChecked()))
        if self.sender() is self.lossless_check:
            return
        changes = self._changes_for(fmt) if self._changes_for is not None else []
        self.format_note.setText(f"As {SAVE_FORMATS[fmt]}: {', '.join(changes)}." if changes else "")
        self.format_note.setVisible(bool(changes))
        from sr_desktop.engine.imageio import format_named_by, suffix_for_format

        path = Path(self.path_edit.text())
        if path.name:
            # only an image suffix is the format's to change: "holiday v1.5" became "holiday v1.webp"
            named = format_named_by(path) is not None
            self.path_edit.setText(str(path.with_suffix(suffix_for_format(fmt)) if named
                                       else path.with_name(path.name + suffix_for_format(fmt))))

    def _browse(self) -> None:
        from sr_desktop.engine.imageio import suffixes_of_format

        fmt = self.format_combo.currentData()
        patterns = " ".join(f"*{suffix}" for suffix in suffixes_of_format(fmt))  # (.tif files were hidden)
        name, _filter = QFileDialog.getSaveFileName(
            self, "Save result as", self.path_edit.text(), f"{SAVE_FORMATS[fmt]} ({patterns})"
        )
        if name:
            self.path_edit.setText(name)
            self._replace_confirmed = name  # the picker asked before choosing an existing file

    def accept(self) -> None:
        """Save, once the name fits the format and replacing an existing file was agreed to."""
        problem, path = self._checked_path()
        if problem or (problem := self._size_problem()):
            self._show_problem(problem)
            return
        if path != Path(self.path_edit.text()):
            self.path_edit.setText(str(path))
        if any(same_file(path, kept) for kept in self._protect):
            self._show_problem(f"{path.name} is the image you opened: save the result under another name.")
            return
        if path.exists() and str(path) != self._replace_confirmed and not self._ask_replace(path):
            return
        super().accept()

    def _size_problem(self) -> str | None:
        """Why the result cannot be saved at the Size asked for in the format picked (a WebP
        20 000 px wide, a side past the largest one asked for): said here, not after the
        dialog closed (once 35 000 GB of memory were found missing)."""
        from sr_desktop.engine.core.output_size import MAX_SIDE
        from sr_desktop.engine.imageio.formats import MAX_SIDE as FORMAT_MAX_SIDE

        size, source = self.size_field.output_size(), self.size_field.source_size
        if size is None or source is None:
            return None
        width, height = size.fitted(*source)
        fmt = self.format_combo.currentData()
        limit = min(MAX_SIDE, FORMAT_MAX_SIDE.get(fmt, MAX_SIDE))
        if max(width, height) <= limit:
            return None
        return (f"At {width}×{height} the result is too large for {self.format_combo.currentText()} (at most "
                f"{limit} pixels a side): choose a smaller Size" + (" or PNG or TIFF." if limit < MAX_SIDE else "."))

    def _checked_path(self) -> tuple[str | None, Path]:
        """(why the name cannot be saved to, or None; the name with the format's suffix)."""
        from sr_desktop.engine.imageio import format_named_by, suffix_for_format

        fmt = self.format_combo.currentData()
        text = self.path_edit.text().strip()
        if not text:
            return "Give the file a name.", Path()
        path = self._suggested.parent / Path(text).expanduser()  # (an absolute one stays as it is)
        try:
            if path.is_dir():  # a folder typed or pasted: the result goes in it (it became "folder.png")
                path = path / self._suggested.with_suffix(suffix_for_format(fmt)).name
        except OSError as exc:  # a name too long, ...
            return f"Cannot save as {path.name}: {exc.strerror or exc}.", path
        named = format_named_by(path)
        if named is None:  # no image suffix: the format's is added
            path = path.with_name(path.name + suffix_for_format(fmt))
        elif named != fmt:
            return (f"{path.name} is a {SAVE_FORMATS.get(named, named.upper())} name but the format is "
                    f"{SAVE_FORMATS[fmt]}: change the name or the format."), path
        try:  # (with the suffix added, a name of 252 bytes became too long: a traceback, no message)
            if path.is_dir():
                return f"{path} is a folder: give a file name.", path
        except OSError as exc:  # a name too long, ...
            return f"Cannot save as {path.name}: {exc.strerror or exc}.", path
        return None, path

    def _show_problem(self, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, "Save result as", text, QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # (a file name as it is, never HTML)
        box.setObjectName("saveNameProblemBox")
        box.exec()

    def _ask_replace(self, path: Path) -> bool:
        return confirm(self, "Replace file?",
                       f"{path.name} already exists in {path.parent}. Replace it with the result?",
                       "Replace", "replaceResultBox")

    def choice(self):
        """(path, SaveOptions) for the current fields."""
        from sr_desktop.engine.imageio import SaveOptions

        options = SaveOptions(
            format=self.format_combo.currentData(),
            quality=self.quality_spin.value(),
            keep_metadata=self.metadata_check.isChecked(),
            drop_gps=self.gps_check.isChecked(),
            lossless=self.format_combo.currentData() == "webp" and self.lossless_check.isChecked(),
            size=self.size_field.output_size(),
        )
        return self._suggested.parent / Path(self.path_edit.text()).expanduser(), options
