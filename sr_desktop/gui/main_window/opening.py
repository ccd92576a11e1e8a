"""Opening images in the main window: File ▸ Open, Open recent, the filmstrip, paste and
drops. Files are decoded in a background queue (``loader``), so a big photo does
not freeze the window; the decoded image goes to the window's ``show_image``.

Several files at once (a drop, File ▸ Open) are one *batch*: every image file goes to the
strip and the first one that decodes is shown (a broken first file does not stop the
rest). What could not be opened is told in one summary line ("2 of 3 files could not be
opened: …") with a "Details…" button that lists each file and why."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMenu, QMessageBox, QWidget

from sr_desktop.app.animation_jobs import OpenedAnimation, read_image_or_animation_job
from sr_desktop.app.jobs import Job
from sr_desktop.app.session import Session
from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.core.paths import is_bundled
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.protected import resolved, same_file
from sr_desktop.gui import key_text
from sr_desktop.gui.compare.animation import with_frame_layers
from sr_desktop.gui.file_urls import local_path
from sr_desktop.gui.main_window.display_runner import with_display_layer
from sr_desktop.gui.main_window.feedback import Feedback
from sr_desktop.gui.main_window.filmstrip import Filmstrip, disambiguated_labels
from sr_desktop.gui.main_window.message_bar import MessageBar
from sr_desktop.gui.main_window.open_batch import OpenBatch
from sr_desktop.gui.qimage import qimage_to_array
from sr_desktop.gui.settings import GuiSettings
from sr_desktop.gui.widgets import plain_tooltip
from sr_desktop.gui.worker import JobQueue

#: show_image(image, name, display): the window shows a new original
ShowImage = Callable[[Image, str, object], None]
class ImageOpener:
    """Reads files into the session through ``loader``; lists them in the filmstrip."""

    def __init__(
        self,
        parent: QWidget,
        session: Session,
        settings: GuiSettings,
        feedback: Feedback,
        message_bar: MessageBar,
        filmstrip: Filmstrip,
        filmstrip_dock: QDockWidget,
        recent_menu: QMenu,
        may_discard_result: Callable[[], bool],
        show_image: ShowImage,
        folder_dropped: Callable[[Path], None],
        model_dropped: Callable[[Path, Callable[[str], None]], object] = lambda _path, _say: None,
    ) -> None:
        self.parent = parent
        self.session = session
        self.settings = settings
        self.feedback = feedback
        self.message_bar = message_bar
        self.filmstrip = filmstrip
        self.filmstrip_dock = filmstrip_dock
        self.recent_menu = recent_menu
        self.may_discard_result = may_discard_result
        self.show_image = show_image
        self.folder_dropped = folder_dropped
        #: a model file among dropped or pasted files is added, as Models ▸ Add model… does
        self.model_dropped = model_dropped
        self.loader = JobQueue(parent, runner=with_display_layer(with_frame_layers(read_image_or_animation_job)))
        #: the result the user agreed to lose for the image being read (a result that arrives
        #: during the read is asked about when the image is shown); a weak reference: the
        #: result itself (hundreds of MB) is not kept for it
        self._result_let_go: Callable[[], object] = lambda: None
        self.loader.jobFinished.connect(self._on_loaded)
        self.loader.jobFailed.connect(self._on_failed)
        # the opened file's thumbnail, held while the file itself is read (`add_paths`)
        self.loader.jobEnded.connect(lambda outcome: filmstrip.release_thumbnail(Path(outcome.job.options)))
        self.loader.pendingChanged.connect(
            lambda _new, replaced: replaced is not None and filmstrip.release_thumbnail(Path(replaced.options)))
        self.batch: OpenBatch | None = None  # the files of the last drop or Open
        self.image_folders: list[Path] = []  # the folders of the last open_paths that held images
        #: ... and those whose images are all in sub-folders (a library by year): nothing to
        #: show, a batch export to offer
        self.nested_folders: dict[Path, bool] = {}  # (False: too many entries below to tell)
        filmstrip.imageChosen.connect(self._on_filmstrip_chosen)
        filmstrip.thumbnailShown.connect(self._on_thumbnail_shown)
        # listed afresh each time it opens: a file deleted since stayed in it ("file not found")
        recent_menu.aboutToShow.connect(self.rebuild_recent_menu)
        self.rebuild_recent_menu()

    def open_dialog(self) -> None:
        """File ▸ Open: pick one or more image files."""
        from sr_desktop.engine.imageio import IMAGE_SUFFIXES

        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        names, _ = QFileDialog.getOpenFileNames(
            self.parent, "Open images", self.settings.get("last_dir"), f"Images ({patterns});;All files (*)"
        )
        if names:
            self.open_paths([Path(n) for n in names])

    def open_paths(self, paths, not_opened: list[tuple[str, str]] = ()) -> bool:
        """Add files (and the images inside folders) to the filmstrip and open the first
        that decodes.

        What cannot be opened is summed up in one message (details on demand), with the
        (name, reason) of `not_opened` (model files of a drop that could not be added).
        Returns True if an image is being opened.
        """
        from sr_desktop.engine.imageio import check_input_file, is_image_path
        from sr_desktop.engine.imageio.folder_scan import images_in_subfolders
        from sr_desktop.engine.imageio.hidden import is_hidden

        files: list[Path] = []
        rejected: list[tuple[str, str]] = list(not_opened)
        self.image_folders = []
        self.nested_folders = {}
        # absolute, as the user meant them when naming them (`sr-desktop in/a.jpg`): a relative
        # path was saved into in/in/ by Save As and made Batch export open ~/in
        for path in _each_once(Path(p).absolute() for p in paths):  # (one named twice was counted twice)
            try:
                if path.is_dir():
                    inside = sorted(p for p in path.iterdir()
                                    if p.is_file() and is_image_path(p) and not is_hidden(p))
                    if inside:
                        self.image_folders.append(path)
                    elif (below := images_in_subfolders(path)) is not False:  # (None: too many entries to tell)
                        self.nested_folders[path] = bool(below)
                    else:
                        rejected.append((f"{path.name}/", "no images in the folder"))
                    files.extend(inside)
                elif is_image_path(path) or not os.path.lexists(path):
                    # the engine's words: "symlink to a missing file", "not a regular file"
                    # (a FIFO, which no reader may open: it waits for a writer)…
                    check_input_file(path)
                    files.append(path)
                else:
                    rejected.append((path.name, "not a supported image type"))
            except ImageReadError as exc:
                rejected.append((path.name, exc.reason))
            except OSError as exc:  # a name too long, a folder that cannot be listed, ...
                rejected.append((path.name or str(path), exc.strerror or str(exc)))
        # each file once: a file dropped twice, or a folder and a file in it, was counted
        # (and a broken one read) twice in the summary
        files = _each_once(files)
        self.batch = OpenBatch(len(files) + len(rejected), files[1:], rejected, files=files)
        self.message_bar.clear()
        if rejected:
            self._report_batch()
        elif self.nested_folders and not self.image_folders:  # (a drop, a paste, the command line; with
            # a folder of images beside it, that one is the batch offered, and named)
            first, seen = next(iter(self.nested_folders.items()))
            said = ("its images are all in its sub-folders; File ▸ Batch export… takes them" if seen else
                    "no images at its top, and too many files below to look through here; File ▸ Batch "
                    "export… searches its sub-folders")
            self.message_bar.show_message(f"Folder “{first.name}”: {said}.", level="info")
        if not files:
            return False
        self.filmstrip.add_paths(files, later=files[0])
        self.filmstrip_dock.setVisible(self.filmstrip.count() > 1)
        if not self.open_image(files[0], keep_batch=True):
            self.filmstrip.release_thumbnail(files[0])
            return False
        return True

    def open_image(self, path: Path, keep_batch: bool = False) -> bool:
        """Start reading ``path`` in the background; it is shown when decoded.

        Asks first if an unsaved result would be lost (False if the user declines). A
        newer open request replaces one still waiting. Errors go to the message bar.
        ``keep_batch``: part of the `batch` of `open_paths` (else it starts none).
        """
        path = Path(path)
        if not keep_batch:
            self.batch = None
        if not self.may_discard_result():
            self._select_current()
            return False
        self._result_let_go = _weak(self.session.result)
        self._read(path)
        return True

    def show_failure_details(self) -> QMessageBox | None:
        """The "Details…" of the summary: each file that could not be opened and why (a
        non-modal box, returned; None without failures)."""
        if self.batch is None or not self.batch.failures:
            return None
        box = QMessageBox(QMessageBox.Icon.Warning, "Files not opened", self.batch.summary(),
                          QMessageBox.StandardButton.Close, self.parent)
        box.setTextFormat(Qt.TextFormat.PlainText)  # file names as they are, never HTML
        box.setDetailedText(self.batch.details())
        box.setInformativeText("Press Show Details… for the reason of each file.")
        box.setModal(False)
        box.show()
        return box

    def cancel_opening(self) -> bool:
        """Esc while a file is read: its image is not shown (the decoder may run on to its
        end out of sight) and the image shown stays; False when no file is being read. A
        27 MP PNG took 7 s and opened whatever the user pressed."""
        if not self.loader.is_busy():
            return False
        self.loader.cancel()
        if self.batch is not None:
            self.batch.waiting.clear()  # (the next file of a drop, read after a failure)
        self.feedback.show_status("Opening cancelled", 4000)
        self._select_current()
        return True

    def _read(self, path: Path) -> None:
        self.filmstrip.add_paths([path])
        self.filmstrip.select_path(path)
        self.feedback.show_status(_opening(path))
        self.loader.submit(Job(None, path))

    def _report_batch(self, keep_action: bool = False) -> None:
        """The batch's summary in the message bar, with "Details…" when it lists several
        (``keep_action``: an action the bar offers already, such as the batch export of a
        dropped folder, stays)."""
        batch = self.batch
        kept = self.message_bar.action() if keep_action else None
        batch.shown = batch.summary()
        self.feedback.show_error(batch.shown)
        if kept is not None:
            self.message_bar.set_action(*kept)
        elif batch.total > 1 or len(batch.failures) > 1:
            self.message_bar.set_action("Details…", self.show_failure_details)

    def paste(self) -> None:
        """Ctrl+V: open the clipboard's image, or the files it holds."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is not None and mime.hasUrls():
            local = [local_path(u) for u in mime.urls() if u.isLocalFile()]
            if local:
                self._open_local(local)
                return
        qimage = QGuiApplication.clipboard().image()
        if qimage.isNull():
            self.feedback.show_error("The clipboard holds no image.", level="hint")
            return
        if not self.may_discard_result():
            return
        self._show_pixels(qimage, "pasted image")

    def _show_pixels(self, qimage: QImage, name: str) -> None:
        """A pasted or dropped image (pixels, no file) shown as the original."""
        self.message_bar.clear()
        if self.loader.is_busy():  # a file still being read would replace it
            self.loader.cancel()
            self.feedback.show_status("")  # ("Opening b.png…" stayed for good)
        self.show_image(Image(qimage_to_array(qimage), source_format=None), name, None)
        self._select_current()  # (the strip kept the highlight on the file whose reading stopped)

    def open_dropped(self, mime: QMimeData) -> bool:
        """A drop on the window: files and folders are opened (``folder_dropped`` is told
        of the first folder), an image is opened as pixels. False if nothing was usable."""
        local = [local_path(u) for u in mime.urls() if u.isLocalFile()]
        if local:
            self._open_local(local)
        elif mime.hasImage():
            qimage = mime.imageData()
            if not isinstance(qimage, QImage) or qimage.isNull():  # bytes that do not decode
                self.feedback.show_error("The dropped image could not be read.")
                return False
            if self.may_discard_result():
                self._show_pixels(qimage, "dropped image")
        else:
            self.feedback.show_error("Only local files and folders can be dropped here.")
            return False
        return True

    def _open_local(self, paths: list[Path]) -> None:
        """Dropped or pasted files: model files (`is_model_file_name`, an ncnn .bin beside
        its .param) added as models, the rest opened, with a batch export offered for a
        folder among them."""
        from sr_desktop.engine.models.model_files import is_model_file_name, is_ncnn_weights_of_a_graph

        candidates = [p for p in paths if p.is_file() and (is_model_file_name(p) or is_ncnn_weights_of_a_graph(p))]
        graphs = {p.with_suffix("") for p in candidates if p.suffix.lower() == ".param"}
        # an ncnn pair dropped whole is added once, by its .param (W.PARAM's weights: W.bin)
        models = [p for p in candidates if not (p.suffix.lower() == ".bin" and p.with_suffix("") in graphs)]
        others = [p for p in paths if p not in candidates]
        # the models first: adding one ends by clearing the message bar, which held the drop's
        # summary and its batch offer; one that cannot be added is in that summary
        failed: list[tuple[str, str]] = []
        added = ""

        def not_added(message: str, path: Path) -> None:
            why = _reason(message, path)  # (its name, once)
            failed.append((path.name, f"not added as a model: {why}"))

        for path in models:
            if self.model_dropped(path, lambda message, p=path: not_added(message, p)) is not None:
                added = self.feedback.status_text()  # "Added model … as custom-…"
        if others or failed or not models:
            self.open_paths(others, failed)
            self._offer_folder_batch()
        if added:  # said last: "Opening x…" or a failed model's cleared status took the line
            self.feedback.show_status(added)

    def _offer_folder_batch(self) -> None:
        """After a drop or a paste of files: a batch export of the first folder that held
        images, at its top or only in its sub-folders (a folder without images has
        nothing to batch-export)."""
        if self.image_folders:
            self.folder_dropped(self.image_folders[0])
        elif self.nested_folders:
            self.folder_dropped(next(iter(self.nested_folders)))

    def rebuild_recent_menu(self) -> None:
        """File ▸ Open recent from the settings."""
        menu = self.recent_menu
        menu.clear()
        recent = self.settings.recent_files()
        # two IMG_0001.JPG of two cards were two identical entries: named as the strip names them
        for path, label in zip(recent, disambiguated_labels(recent), strict=True):
            action = menu.addAction(label)
            action.setToolTip(plain_tooltip(str(path)))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.open_paths([p]))
        if recent:
            menu.addSeparator()
            # (a bound method given to addAction left a weak reference behind at every rebuild,
            # PySide 6.11: at every open and every showing of the menu)
            menu.addAction("Clear list").triggered.connect(lambda _c=False: self._clear_recent())
        else:  # (a disabled menu is never shown, so never listed again: files another window
            # opened did not appear)
            menu.addAction("No recent files").setEnabled(False)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self.rebuild_recent_menu()

    def _select_current(self) -> bool:
        """Highlight the shown image's entry; False (nothing highlighted) when it has none."""
        image = self.session.image
        return self.filmstrip.select_path(image.path if image is not None else None)

    def on_entries_removed(self) -> None:
        """After entries left the strip: the highlight on the shown image again (Qt moved it
        to a neighbour not shown, which the next Delete removed), and the strip hidden only
        when what is left is the shown image alone (it hid with another image left)."""
        shown_listed = self._select_current()
        self.filmstrip_dock.setVisible(self.filmstrip.count() > (1 if shown_listed else 0))

    def _on_filmstrip_chosen(self, path: Path) -> None:
        shown = self.session.image
        if (shown is not None and shown.path is not None and not self.loader.is_busy()
                and same_file(path, shown.path)):
            return  # the image on screen: it was read again, its result let go and its upscale cancelled
        self.message_bar.clear()
        if not Path(path).exists():  # deleted since it was listed: said before any question
            self.feedback.show_error(f"Cannot open {Path(path).name}: file not found")
            self.filmstrip.mark_unreadable(Path(path), "file not found")
            self._select_current()
            return
        self.open_image(path)

    def _on_loaded(self, job: Job, item: Image | OpenedAnimation) -> None:
        if self.loader.pending is not None:
            return  # the user already asked for another file
        result = self.session.result
        if result is not None and result is not self._result_let_go() and not self.may_discard_result():
            # a result that arrived while the file was read: it was lost without a word
            self.feedback.show_status("")
            self._select_current()
            return
        path = Path(job.options)
        if self.feedback.status_text() == _opening(path):  # ("Added model …" of a drop beside it stays)
            self.feedback.show_status("")
        if not is_bundled(path):  # (the sample's folder is the app's own: saves went into the package)
            self.settings.add_recent_file(path)
            # (absolute: a relative one means nothing at the next start)
            self.settings.set("last_dir", str(path.absolute().parent))
            self.rebuild_recent_menu()
        display, job.display = job.display, None
        image = item.image if isinstance(item, OpenedAnimation) else item
        # named as the strip names it: two img00.png of two folders were one name in the
        # title and in the unsaved-result question
        self.show_image(image, self.filmstrip.label_of(path) or path.name, display)
        # (a failed read before it, of a file opened just before, put the highlight back on
        # the image shown then: the strip highlighted b.png beside a.png)
        self._select_current()
        self.filmstrip.refresh_thumbnail(path)  # (a file replaced since it was listed)
        if isinstance(item, OpenedAnimation) and self.session.image is image:
            self.session.set_animation(item.animation, item.display_frames)
            self.feedback.show_status(
                f"{path.name}: animation of {len(item.animation.frames)} frames; "
                "Upscale and Save keep every frame", 8000)
            return
        frames = int(image.info.get("frames", 1) or 1)
        if frames > 1:  # TIFF pages: said, never silently dropped; the command line keeps every page
            self.message_bar.show_message(
                f"{path.name} has {frames} pages: the window shows and upscales the first one only. "
                f"Batch export ({key_text.native_key('Ctrl+B')}) and `sr-desktop upscale` keep every page.",
                level="info")

    def _on_failed(self, job: Job, message: str) -> None:
        self.feedback.show_status("")
        batch = self.batch
        if batch is None or self.loader.pending is not None:
            self.feedback.show_error(message)
            self._select_current()
            return
        # (its thumbnail may have counted it already; a summary the user dismissed, or
        # another message replaced, is not put back: the thumbnails may have told it first;
        # the dropped folder's batch export offered beside it stays, as beside theirs)
        if (batch.add_failure(Path(job.options), _reason(message, Path(job.options)))
                and (not batch.shown or self.message_bar.text() == batch.shown)):
            self._report_batch(keep_action=True)
        if batch.waiting:
            self._read(batch.waiting.pop(0))  # the next file of the same drop
        else:
            self._select_current()


    def _on_thumbnail_shown(self, path: Path) -> None:
        """A thumbnail that could not be made is a file of the drop that cannot be opened:
        the summary counts it (unless the user dismissed the summary or another message
        replaced it)."""
        batch = self.batch
        reason = self.filmstrip.unreadable_reason(path)
        if batch is None or reason is None or path not in batch.file_set:
            return
        showing = self.message_bar.text()
        if not batch.add_failure(path, _reason(reason, path)):
            return
        if batch.shown:  # the summary is up to date while the bar still shows it
            ours = showing == batch.shown
        else:  # nothing failed before: the bar is empty or holds the dropped folder's notice
            ours = not showing or (self.message_bar.level == "info" and bool(self.image_folders))
        if ours:
            self._report_batch(keep_action=True)


def _opening(path: Path) -> str:
    """The status line while `path` is read."""
    return f"Opening {path.name}…"


def _reason(message: str, path: Path) -> str:
    """The reason of a read error without the file name the summary already shows."""
    for prefix in (f"cannot read {path}: ", f"cannot read {path.name}: ", f"{path}: ", f"{path.name}: "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def _each_once(paths) -> list[Path]:
    """`paths` in order, each file once (by its resolved name: the first name kept)."""
    first: dict[Path, Path] = {}
    for path in paths:
        first.setdefault(resolved(path), path)
    return list(first.values())


def _weak(value) -> Callable[[], object]:
    """A weak reference to `value` (None: a reference to nothing)."""
    import weakref

    return (lambda: None) if value is None else weakref.ref(value)
