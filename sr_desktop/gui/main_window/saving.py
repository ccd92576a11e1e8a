"""Saving and copying the session's result, and the "unsaved result" question."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from sr_desktop.app.session import Session
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.progress import ProgressInfo
from sr_desktop.engine.core.text import human_bytes
from sr_desktop.gui.cancellable_wait import run_cancellable_beside_ui
from sr_desktop.gui.main_window.actions import REGION_HIDES_RESULT, shown_instead_text
from sr_desktop.gui.main_window.feedback import Feedback, say_unexpected
from sr_desktop.gui.main_window.save_dialog import SAVE_FORMATS, SaveAsDialog
from sr_desktop.gui.qimage import array_to_qimage, qimage_in_srgb
from sr_desktop.gui.settings import GuiSettings

#: confirm_discard(question) -> "save" | "discard" | "cancel"
ConfirmDiscard = Callable[[str], str]
#: ask_save_target(suggested_path, suggested_options) -> (path, SaveOptions) or None
AskSaveTarget = Callable[[Path, object], "tuple[Path, object] | None"]


class ResultSaver:
    """Save (Ctrl+S), Save As (Ctrl+Shift+S), Copy (Ctrl+C) and the discard prompt.

    ``confirm_discard`` and ``ask_save_target`` replace the modal dialogs (tests inject
    them); by default they are dialogs on ``parent``.
    """

    def __init__(
        self,
        session: Session,
        settings: GuiSettings,
        feedback: Feedback,
        parent: QWidget,
        confirm_discard: ConfirmDiscard | None = None,
        ask_save_target: AskSaveTarget | None = None,
        shown_instead: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.session = session
        self.settings = settings
        self.feedback = feedback
        self.parent = parent
        self.confirm_discard: ConfirmDiscard = confirm_discard or self._ask_discard_dialog
        self.ask_save_target: AskSaveTarget = ask_save_target or self._ask_save_dialog
        #: a save is being written (the window keeps painting meanwhile)
        self.saving = False
        #: the label of what the after side shows in place of the result (a map), or None
        self.shown_instead = shown_instead

    def suggested_result_path(self) -> Path:
        """``<input folder>/<stem>_x<scale>_<model>.<format>`` for the current result."""
        return self.session.suggested_result_path(self._default_format(), self.default_dir())

    def default_dir(self) -> Path:
        """Where a file of an image without a folder of its own (pasted, the bundled sample) is
        suggested: the folder last opened from, else the home folder."""
        return Path(self.settings.get("last_dir") or Path.home())

    def _default_format(self) -> str:
        """For a still the format last picked in Save As over the one suggested, else the
        source's own where it can be written (as a batch's "same as input"; PNG, the default
        before, made a camera JPEG's result three times its size), else PNG; for an animation
        the last format an animation was saved in, else the source's own (PNG suggested an
        APNG for a GIF, which many programs show as a still)."""
        from sr_desktop.engine.imageio.animation import ANIMATION_FORMATS

        if getattr(self.session.result, "animation", None) is None:
            return self._keeping(self.settings.get("still_format") or self._source_format() or "png")
        fmt = self.settings.get("save_animation_format")
        if fmt not in ANIMATION_FORMATS:
            source = (self.session.image.source_format or "").lower() if self.session.image else ""
            # (an AVIF's colours: a GIF's 256 dithered them; WebP keeps them, and its alpha)
            fmt = source if source in ANIMATION_FORMATS else "webp" if source == "avif" else "gif"
        return fmt

    def _keeping(self, fmt: str) -> str:
        """`fmt`, unless writing the result in it would lose something (transparency, 16 bits:
        the last JPEG save made Enter flatten a PNG's transparency onto white): then the
        source's format if it keeps all, else PNG, which does."""
        from sr_desktop.engine.imageio import lossy_changes
        from sr_desktop.engine.imageio.write import GREY_AS_RGB

        result = self.session.result

        def loses(fmt: str) -> bool:  # (a grey image as WebP's RGB keeps every value)
            return result is not None and any(c != GREY_AS_RGB for c in lossy_changes(result.image, fmt))

        if not loses(fmt):
            return fmt
        source = self._source_format()
        return source if source in ("png", "tiff", "webp") and not loses(source) else "png"

    def _source_format(self) -> str:
        """The opened image's format where Save As offers it ("jpg" for a JPEG), else "" (a
        BMP's "bmp", which the dialog lacks, showed as PNG and was then taken as picked)."""
        from sr_desktop.engine.imageio.formats import normalize_format

        try:
            fmt = normalize_format((self.session.image.source_format or "") if self.session.image else "")
        except (SRDesktopError, ValueError):
            return ""
        return fmt if fmt in SAVE_FORMATS else ""

    def _remember_format_choice(self, suggested: str, chosen: str) -> None:
        """Remember a still's format picked over the one suggested ("": the source's own, when
        that is what was picked); one taken as suggested changes nothing (a PNG's PNG would
        have made every JPEG after it suggested as PNG)."""
        if chosen and chosen != suggested:
            self.settings.set("still_format", "" if chosen == self._source_format() else chosen)

    def save(self) -> Path | None:
        """Ctrl+S: save to the last Save As target, or ask where."""
        session = self.session
        if session.result is not None and session.result_path is not None:
            return self.save_result(session.result_path, session.saved_options, overwrite=True)
        return self.save_as()

    def _result_is_shown(self, asked: bool = False) -> bool:
        """A whole-image result is on the after side; else says why nothing is saved.
        `asked`: the unsaved-result question named the whole result, shown or not."""
        if self.session.result is None:
            self.feedback.show_error("There is no result to save yet: upscale the image first.", level="hint")
            return False
        if asked:
            return True
        if not self.session.result_shown:  # saving it would write what is not on screen
            self.feedback.show_error(REGION_HIDES_RESULT + ".", level="hint")
            return False
        if (instead := self.shown_instead()) is not None:
            self.feedback.show_error(shown_instead_text(instead) + ".", level="hint")
            return False
        return True

    def save_as(self, asked: bool = False) -> Path | None:
        """Ctrl+Shift+S: ask for file, format and quality, then save (`asked`: the answer
        Save to the unsaved-result question, which saves the whole result even when a region
        or a map is on the after side: it did nothing and the switch was refused)."""
        if not self._result_is_shown(asked):
            return None
        from sr_desktop.engine.imageio import SaveOptions

        image = getattr(self.session.result, "image", None)
        defaults = SaveOptions(
            format=self._default_format(),
            quality=self.settings.get("save_quality"),
            keep_metadata=self.settings.get("keep_metadata"),
            drop_gps=self.settings.get("drop_gps"),
            lossless=bool(image is not None and image.info.get("webp_lossless")),
            # the size this result was saved at, if it was (a new result starts as upscaled)
            size=getattr(self.session.saved_options, "size", None),
        )
        choice = self.ask_save_target(self.suggested_result_path(), defaults)
        if not choice:
            return None
        path, options = choice
        still = getattr(self.session.result, "animation", None) is None
        # the Save As dialog asked before replacing an existing file
        saved = self.save_result(Path(path), options, overwrite=True, asked=asked)
        if saved is not None and still:
            self._remember_format_choice(defaults.format, getattr(options, "format", ""))
        return saved

    def save_result(self, path: Path, options=None, overwrite: bool = False, asked: bool = False) -> Path | None:
        """Write the result (every frame of an animated one) with the engine's ``write_any``;
        errors go to the message bar."""
        from sr_desktop.engine.pipeline.animation import write_any

        session = self.session
        if not self._result_is_shown(asked) or self.saving:
            return None
        protect = self._opened_file()
        result = session.result
        item = getattr(result, "animation", None) or result.image
        if options is not None and options.size is not None:  # (pixel art from nearest stays square blocks)
            options = dataclasses.replace(options, size=options.size.for_model(result.model))
        self.feedback.show_status(f"Saving {Path(path).name}…")
        self.saving = True
        QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            # encoded and written beside the UI thread: the window painted nothing for the
            # 1-14 s a large PNG or WebP took; past a moment, with progress and Cancel (a
            # 192-megapixel WebP takes minutes)
            written = run_cancellable_beside_ui(
                lambda cancel, progress: write_any(item, path, options, overwrite=overwrite, protect=protect,
                                                   cancel=cancel, progress=progress),
                self.parent, "Saving", lambda info: saving_text(Path(path).name, info))
        except Cancelled:
            self.feedback.show_status(f"Saving {Path(path).name} cancelled: nothing was written", 8000)
            return None
        except SRDesktopError as exc:
            self.feedback.show_status("")
            self.feedback.show_error(str(exc))
            return None
        except OSError as exc:  # the engine names its own; this is what the file system said beyond them
            self.feedback.show_status("")
            self.feedback.show_error(f"Cannot save {Path(path).name}: {exc.strerror or exc}")
            return None
        except Exception as exc:  # noqa: BLE001 - a bug, said and logged (it left "Saving…" up, no word)
            say_unexpected(self.feedback, f"Cannot save {Path(path).name}", exc)
            return None
        finally:
            self.saving = False
            QGuiApplication.restoreOverrideCursor()
        if options is not None and getattr(options, "format", None):
            if getattr(result, "animation", None) is not None:  # (a still's: `_remember_format_choice`)
                self.settings.set("save_animation_format", options.format)
            self.settings.set("save_quality", int(options.quality))
            self.settings.set("keep_metadata", bool(options.keep_metadata))
            self.settings.set("drop_gps", bool(options.drop_gps))
        if session.result is result:  # (a result that arrived meanwhile is not the one saved)
            session.mark_saved(Path(written), options)
        self.feedback.clear_error()  # an earlier failed save's message is not about this one
        size = getattr(options, "size", None)
        fitted = size.fitted(item.width, item.height) if size is not None else None
        resized = f" at {fitted[0]}×{fitted[1]}" if fitted is not None and fitted != (item.width, item.height) else ""
        self.feedback.show_status(f"Saved {written}{resized}{_changed_by(item, written, options)}", 8000)
        return Path(written)

    def _opened_file(self) -> tuple[Path, ...]:
        """The opened image's file (never written over), if it has one."""
        image = self.session.image
        return (Path(image.path),) if image is not None and image.path else ()

    def copy_result(self) -> bool:
        """Ctrl+C: put the whole-image result on the clipboard (False without one shown)."""
        if not self._result_is_shown():
            return False
        image = self.session.result.image
        # in sRGB, what other apps take a clipboard image to be: an Adobe RGB result pasted
        # with its stored values, up to 37 levels off what the window showed
        QGuiApplication.clipboard().setImage(qimage_in_srgb(array_to_qimage(image.pixels), image.icc_profile))
        self.feedback.show_status("Copied the result to the clipboard", 4000)
        return True

    def may_discard_result(self) -> bool:
        """True if there is no unsaved result, or the user saved or discarded it."""
        if self.saving:  # (a window closed while its result is being written)
            self.feedback.show_status("Saving the result: a moment…", 4000)
            return False
        if not self.session.has_unsaved_result:
            return True
        answer = self.confirm_discard(
            f"The upscaled result of {self.session.image_name} has not been saved. Save it first?"
        )
        if answer == "save":
            return self.save_as(asked=True) is not None
        return answer == "discard"

    def _ask_discard_dialog(self, question: str) -> str:
        buttons = QMessageBox.StandardButton
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved result", question,
                          buttons.Save | buttons.Discard | buttons.Cancel, self.parent)
        box.setTextFormat(Qt.TextFormat.PlainText)  # (the image's name as it is, never HTML)
        box.setDefaultButton(buttons.Save)
        box.exec()
        answer = box.standardButton(box.clickedButton()) if box.clickedButton() is not None else buttons.Cancel
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def _save_dialog(self, suggested: Path, options) -> SaveAsDialog:
        """The Save As dialog for the result (its size shown beside the Size boxes)."""
        result = self.session.result
        item = getattr(result, "animation", None) or getattr(result, "image", None)
        from sr_desktop.engine.imageio import lossy_changes

        return SaveAsDialog(suggested, options, self.parent, protect=self._opened_file(),
                            image_size=(item.width, item.height) if item is not None else None,
                            # (once a format: a palette result's check reads the whole image)
                            changes_for=functools.cache(lambda fmt: lossy_changes(item, fmt))
                            if item is not None else None)

    def _ask_save_dialog(self, suggested: Path, options):
        dialog = self._save_dialog(suggested, options)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()


def saving_text(name: str, info: ProgressInfo | None) -> tuple[str, float | None]:
    """What the save's progress dialog says, and its bar's fraction (None: busy): the
    percentage where the encoder counts rows (PNG, TIFF), else the bytes written so far."""
    if info is not None and info.extra.get("rows"):
        return f"Saving {name}… {int(info.fraction * 100)} %", info.fraction
    written = info.extra.get("bytes", 0) if info is not None else 0
    if written >= 1 << 20:
        return f"Saving {name}… {human_bytes(written)} written", None
    return f"Saving {name}…", None


def _changed_by(item, written, options) -> str:
    """" (16 bits → 8, transparency flattened onto white)" when the format could not keep all
    of `item` (a result or an animation), "" otherwise: it happened without a word."""
    from sr_desktop.engine.imageio import format_for_path, lossy_changes

    try:
        fmt = getattr(options, "format", None) or format_for_path(written)
    except SRDesktopError:
        return ""
    changes = lossy_changes(item, fmt)
    return f" ({', '.join(changes)})" if changes else ""
