"""Saving and copying the result, and the "unsaved result" question (a `MainWindow` mixin).

Uses the window's ``image``, ``image_name``, ``result``, ``settings``, ``confirm_discard``,
``ask_save_target``, ``show_error``, ``statusBar`` and ``_update_actions``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QMessageBox

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.gui.qimage import array_to_qimage
from sr_desktop.gui.main_window.save import SaveAsDialog


class SavingMixin:
    """Save (Ctrl+S), Save As (Ctrl+Shift+S), Copy (Ctrl+C) and the discard prompt."""

    result_path: Path | None = None
    result_saved = False
    _saved_options = None  # SaveOptions of the last save, reused by Ctrl+S

    def suggested_result_path(self) -> Path:
        """``<input folder>/<stem>_<model>_x<scale>.<format>`` for the current result."""
        fmt = self.settings.get("save_format") or "png"
        base = self.image.path if self.image is not None and self.image.path else None
        folder = base.parent if base else Path(self.settings.get("last_dir") or Path.home())
        stem = base.stem if base else "upscaled"
        if self.result is not None:
            stem += f"_{self.result.model}_x{self.result.scale}"
        return folder / f"{stem}.{fmt}"

    def save(self) -> Path | None:
        """Ctrl+S: save to the last Save As target, or ask where."""
        if self.result is not None and self.result_path is not None:
            return self.save_result(self.result_path, self._saved_options, overwrite=True)
        return self.save_as()

    def save_as(self) -> Path | None:
        """Ctrl+Shift+S: ask for file, format and quality, then save."""
        if self.result is None:
            self.show_error("There is no result to save yet: upscale the image first.", level="info")
            return None
        from sr_desktop.engine.imageio import SaveOptions

        defaults = SaveOptions(
            format=self.settings.get("save_format") or "png",
            quality=self.settings.get("save_quality"),
            keep_metadata=self.settings.get("keep_metadata"),
        )
        choice = self.ask_save_target(self.suggested_result_path(), defaults)
        if not choice:
            return None
        path, options = choice
        # the file dialog already asked before replacing an existing file
        return self.save_result(Path(path), options, overwrite=True)

    def save_result(self, path: Path, options=None, overwrite: bool = False) -> Path | None:
        """Write the result with the engine's ``write_image``; errors go to the message bar."""
        from sr_desktop.engine.imageio import write_image

        if self.result is None:
            self.show_error("There is no result to save yet.", level="info")
            return None
        protect = (self.image.path,) if self.image is not None and self.image.path else ()
        try:
            written = write_image(self.result.image, path, options, overwrite=overwrite, protect=protect)
        except SRDesktopError as exc:
            self.show_error(str(exc))
            return None
        self.result_path = Path(written)
        self._saved_options = options
        self.result_saved = True
        if options is not None and getattr(options, "format", None):
            self.settings.set("save_format", options.format)
            self.settings.set("save_quality", int(options.quality))
            self.settings.set("keep_metadata", bool(options.keep_metadata))
        self.statusBar().showMessage(f"Saved {written}", 8000)
        self._update_actions()
        return self.result_path

    def copy_result(self) -> bool:
        """Ctrl+C: put the whole-image result on the clipboard (False without one)."""
        if self.result is None:
            return False
        QGuiApplication.clipboard().setImage(array_to_qimage(self.result.image.pixels))
        self.statusBar().showMessage("Copied the result to the clipboard", 4000)
        return True

    def _may_discard_result(self) -> bool:
        """True when there is no unsaved result, or the user agreed to save/discard it."""
        if self.result is None or self.result_saved:
            return True
        answer = self.confirm_discard(
            f"The upscaled result of {self.image_name} has not been saved. Save it first?"
        )
        if answer == "save":
            return self.save_as() is not None
        return answer == "discard"

    def _ask_discard_dialog(self, question: str) -> str:
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self, "Unsaved result", question, buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save
        )
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def _ask_save_dialog(self, suggested: Path, options):
        dialog = SaveAsDialog(suggested, options, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()
