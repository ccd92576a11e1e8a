"""The Images strip (issue 19, item 8): thumbnails from a worker thread, broken files
badged with the reason, same-name entries showing their folder, removable entries."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt

from sr_desktop.gui.main_window import thumbnails
from sr_desktop.gui.main_window.filmstrip import Filmstrip, disambiguated_labels

pytestmark = pytest.mark.gui
WAIT_MS = 10000


def photo(path: Path, size=(90, 60), seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(path)
    return path


@pytest.fixture
def strip(qtbot):
    widget = Filmstrip()
    qtbot.addWidget(widget)
    widget.resize(600, widget.height())
    widget.show()
    yield widget
    assert widget.shutdown(5.0)


def wait_thumbnails(qtbot, strip: Filmstrip) -> None:
    qtbot.waitUntil(lambda: not strip.thumbnails_pending(), timeout=WAIT_MS)


def test_thumbnails_are_decoded_in_a_worker_thread(qtbot, strip, tmp_path, monkeypatch):
    threads = []
    gate = threading.Event()
    real = thumbnails.decode_thumbnail

    def recording(path, size=thumbnails.THUMB):
        threads.append(threading.current_thread())
        gate.wait(5)  # held until the GUI thread has come back from add_paths
        return real(path, size)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", recording)
    files = [photo(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    assert strip.add_paths(files) == files  # returns while nothing is decoded yet
    assert strip.thumbnails_pending()
    gate.set()
    wait_thumbnails(qtbot, strip)
    assert len(threads) == 3
    assert all(t is not threading.main_thread() for t in threads)
    for i in range(3):
        icon = strip.item(i).icon().pixmap(thumbnails.THUMB, thumbnails.THUMB).toImage()
        centre = icon.pixelColor(icon.width() // 2, icon.height() // 2)
        assert centre.alpha() == 255  # a picture, not the transparent placeholder
    assert strip.unreadable() == {}


def test_a_bug_decoding_one_thumbnail_badges_that_file_only(qtbot, strip, tmp_path, monkeypatch):
    """An unforeseen error decoding one file ended the thumbnail job: no later file got a
    thumbnail or a badge, files added later stayed blank too, with no word of it."""
    real = thumbnails.decode_thumbnail

    def buggy(path, size=thumbnails.THUMB):
        if path.name == "bird.png":
            raise KeyError("injected")
        return real(path, size)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", buggy)
    files = [photo(tmp_path / name, seed=i) for i, name in enumerate(("a.png", "bird.png", "c.png"))]
    strip.add_paths(files)
    wait_thumbnails(qtbot, strip)
    assert strip.unreadable() == {files[1]: "unexpected error: KeyError: 'injected'"}
    icon = strip.item(2).icon().pixmap(thumbnails.THUMB, thumbnails.THUMB).toImage()
    assert icon.pixelColor(icon.width() // 2, icon.height() // 2).alpha() == 255  # c.png: its picture
    later = photo(tmp_path / "d.png", seed=7)
    strip.add_paths([later])
    wait_thumbnails(qtbot, strip)
    assert list(strip.unreadable()) == [files[1]]


def test_a_broken_file_gets_an_error_badge_with_the_reason(qtbot, strip, tmp_path):
    good = photo(tmp_path / "good.png")
    broken = tmp_path / "scan.png"
    broken.write_bytes(b"not a png")
    strip.add_paths([good, broken])
    wait_thumbnails(qtbot, strip)
    reasons = strip.unreadable()
    assert list(reasons) == [broken]
    assert reasons[broken] and "\n" not in reasons[broken]
    item = strip.item(1)
    assert "Cannot be read" in item.toolTip() and reasons[broken] in item.toolTip()
    assert not item.icon().isNull()  # the badge
    # the badge is the style's warning icon, not the good file's picture
    badge = item.icon().pixmap(thumbnails.THUMB, thumbnails.THUMB).toImage()
    middle = [badge.pixelColor(x, y).alpha() for x in range(24, 48) for y in range(24, 48)]
    assert badge.pixelColor(2, 2).alpha() == 0 and max(middle) == 255
    assert strip.remove_unreadable() == [broken]
    assert strip.paths() == [good]


def test_an_image_too_large_for_a_thumbnail_is_no_unreadable_file(qtbot, strip, tmp_path, monkeypatch):
    """A 196 MP PNG was decoded in full a second time for its thumbnail, beside its opening;
    out of memory, the window said "Cannot open" of the image it showed."""
    from sr_desktop.engine.core.errors import ImageReadError
    from sr_desktop.engine.imageio import read

    huge = photo(tmp_path / "huge.png", size=(300, 200))
    tight = photo(tmp_path / "tight.png")
    monkeypatch.setattr(thumbnails, "THUMBNAIL_MAX_MEGAPIXELS", 0.05)  # (huge.png: 0.06 MP)
    real_read = read.read_image

    def short_of_memory(path, *args, **kwargs):
        if Path(path).name == "tight.png":
            raise ImageReadError(path, read.NO_MEMORY_TO_DECODE)
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(read, "read_image", short_of_memory)
    monkeypatch.setattr("sr_desktop.engine.imageio.read_image", short_of_memory)
    strip.add_paths([huge, tight])
    wait_thumbnails(qtbot, strip)
    assert strip.unreadable() == {}
    assert "no thumbnail for an image of 0 MP" in strip.item(0).toolTip()
    assert "not enough memory" in strip.item(1).toolTip() and "Cannot be read" not in strip.item(1).toolTip()
    # past Pillow's own limit (~179 MP) its header could not be read: it was decoded in full
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header_only = tmp_path / "196mp.png"
    header_only.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 14000, 14000, 8, 2, 0, 0, 0))
                            + chunk(b"IEND", b""))
    monkeypatch.setattr(thumbnails, "THUMBNAIL_MAX_MEGAPIXELS", 60)
    assert thumbnails.decode_thumbnail(header_only).note == "no thumbnail for an image this large"


def test_same_name_entries_show_their_folder(qtbot, strip, tmp_path):
    a = photo(tmp_path / "trip" / "beach.png", seed=1)
    b = photo(tmp_path / "home" / "beach.png", seed=2)
    c = photo(tmp_path / "home" / "garden.png", seed=3)
    strip.add_paths([a, c])
    assert strip.labels() == ["beach.png", "garden.png"]
    strip.add_paths([b])
    assert strip.labels() == ["trip/beach.png", "garden.png", "home/beach.png"]
    from PySide6.QtGui import QTextDocumentFragment

    # (the path as it is: a tooltip escaped so that a name like HTML is not drawn as HTML)
    assert QTextDocumentFragment.fromHtml(strip.item(0).toolTip()).toPlainText() == str(a)
    strip.remove_paths([b])  # alone again: the name is enough
    assert strip.labels() == ["beach.png", "garden.png"]
    wait_thumbnails(qtbot, strip)


def test_labels_go_up_as_many_folders_as_needed():
    paths = [Path("/p/2023/trip/beach.png"), Path("/p/2024/trip/beach.png"), Path("/p/x/Beach.png"),
             Path("/q/a.png")]
    assert disambiguated_labels(paths) == ["2023/trip/beach.png", "2024/trip/beach.png", "p/x/Beach.png", "a.png"]
    # names told apart by their case: left as they are (they climbed to "//tmp/d/Case.png")
    assert disambiguated_labels([Path("/tmp/d/Case.png"), Path("/tmp/d/case.png")]) == ["Case.png", "case.png"]
    assert disambiguated_labels([Path("/a/x.png"), Path("/b/x.png"), Path("/a/X.png")]) == [
        "a/x.png", "b/x.png", "a/X.png"]


def test_entries_can_be_removed_with_the_delete_key_and_the_context_menu(qtbot, strip, tmp_path):
    files = [photo(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    strip.add_paths(files)
    wait_thumbnails(qtbot, strip)
    strip.setCurrentRow(1)
    strip.setFocus()
    with qtbot.waitSignal(strip.entriesRemoved) as blocker:
        qtbot.keyClick(strip, Qt.Key.Key_Delete)
    assert blocker.args[0] == [files[1]]
    assert strip.paths() == [files[0], files[2]]
    assert strip.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    assert strip.remove_action in strip.actions()
    strip.setCurrentRow(0)
    strip.remove_action.trigger()
    assert strip.paths() == [files[2]]


def test_a_file_removed_before_its_thumbnail_came_is_not_decoded_for_nothing(qtbot, strip, tmp_path, monkeypatch):
    gate = threading.Event()
    decoded = []
    real = thumbnails.decode_thumbnail

    def slow(path, size=thumbnails.THUMB):
        gate.wait(5)
        decoded.append(path)
        return real(path, size)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", slow)
    first = photo(tmp_path / "first.png")
    strip.add_paths([first])  # runs (held by the gate)
    later = [photo(tmp_path / f"later{i}.png", seed=i) for i in range(2)]
    strip.add_paths(later[:1])  # pending
    strip.add_paths(later[1:])  # replaces the pending job with both files
    strip.remove_paths([later[0]])
    gate.set()
    wait_thumbnails(qtbot, strip)
    assert decoded == [first, later[1]]  # the pending job was replaced without later0
    assert strip.paths() == [first, later[1]]
    assert strip.unreadable() == {}


def test_the_arrow_keys_open_the_image_they_move_to(qtbot, strip, tmp_path):
    """Right highlighted the next thumbnail while the window went on showing the other
    image (only Enter opened it)."""
    files = [photo(tmp_path / f"p{i}.png", seed=i) for i in range(3)]
    strip.add_paths(files)
    strip.setCurrentRow(0)
    strip.setFocus()
    chosen = []
    strip.imageChosen.connect(chosen.append)
    qtbot.keyClick(strip, Qt.Key.Key_Right)
    qtbot.keyClick(strip, Qt.Key.Key_End)
    qtbot.keyClick(strip, Qt.Key.Key_End)  # already there: nothing to open
    qtbot.keyClick(strip, Qt.Key.Key_Up)  # not a move along the strip
    qtbot.keyClicks(strip, "p0")  # type-ahead to p0.png
    assert chosen == [files[1], files[2], files[0]]


def test_every_thumbnail_keeps_the_square_of_its_placeholder(qtbot, strip, tmp_path):
    """A wide photo's icon, smaller than the placeholder square, left the old caption drawn
    above the new one until the strip was repainted."""
    from PySide6.QtCore import QSize

    from sr_desktop.gui.main_window.filmstrip import THUMB

    strip.add_paths([photo(tmp_path / "wide.png", size=(240, 60)), photo(tmp_path / "tall.png", size=(60, 240))])
    wait_thumbnails(qtbot, strip)
    assert [strip.item(i).icon().availableSizes() for i in range(2)] == [[QSize(THUMB, THUMB)]] * 2


def test_a_thumbnail_on_a_200_percent_screen_has_device_pixels_of_its_own(qapp):
    """At 200 % the 56-px thumbnails were stretched to 112 device pixels (blurred): they are
    decoded at the screen's density and centred at it."""
    from PySide6.QtGui import QColor, QImage, QPixmap

    from sr_desktop.gui.main_window.filmstrip import _centred
    from sr_desktop.gui.main_window.thumbnails import THUMB

    image = QImage(112, 56, QImage.Format.Format_RGB32)  # a 2:1 photo decoded at 2 × THUMB
    image.fill(QColor(200, 30, 30))
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(2.0)
    square = _centred(pixmap, 2.0)
    assert (square.width(), square.height(), square.devicePixelRatio()) == (2 * THUMB, 2 * THUMB, 2.0)
    out = square.toImage()
    assert out.pixelColor(56, 56).red() == 200 and out.pixelColor(56, 27).alpha() == 0  # centred, 28 px bands
    assert out.pixelColor(56, 28).red() == 200 and out.pixelColor(56, 83).red() == 200


def test_an_entry_removed_and_added_again_while_thumbnails_decode_gets_its_own(qtbot, strip, tmp_path, monkeypatch):
    """The running thumbnail job still listed it (already decoded): the entry added again was
    left waiting for good, a blank placeholder."""
    gate = threading.Event()
    real = thumbnails.decode_thumbnail

    def held_after_the_first(path, size=thumbnails.THUMB):
        if path.name != "p0.png":
            gate.wait(5)
        return real(path, size)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", held_after_the_first)
    files = [photo(tmp_path / f"p{i}.png", seed=i) for i in range(4)]
    with qtbot.waitSignal(strip.thumbnailShown, timeout=WAIT_MS):
        strip.add_paths(files)
    strip.remove_paths([files[0]])
    strip.add_paths([files[0]])  # while the job that decoded it still runs
    gate.set()
    wait_thumbnails(qtbot, strip)
    assert not strip.thumbnails_pending()


def test_a_file_replaced_on_disk_gets_its_thumbnail_made_again(qtbot, strip, tmp_path):
    path = photo(tmp_path / "p.png", size=(90, 60), seed=1)
    strip.add_paths([path])
    wait_thumbnails(qtbot, strip)
    assert not strip.refresh_thumbnail(path)  # unchanged: nothing to do
    before = strip.item(0).icon().pixmap(56, 56).toImage()
    photo(path, size=(20, 64), seed=2)  # replaced: another size and content
    import os

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert strip.refresh_thumbnail(path)
    wait_thumbnails(qtbot, strip)
    assert strip.item(0).icon().pixmap(56, 56).toImage() != before
    assert not strip.refresh_thumbnail(path)


@pytest.mark.parametrize("suffix", [".png", ".webp", ".jpg"])
def test_thumbnails_are_turned_as_the_window_shows_the_image(tmp_path, suffix):
    """Qt's reader turns a JPEG by its EXIF but not a PNG or a WebP: their thumbnails lay on
    their side beside the upright image in the window."""
    from sr_desktop.engine.imageio import read_image

    path = tmp_path / f"turned{suffix}"
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    PILImage.fromarray(np.zeros((20, 40, 3), np.uint8)).save(path, exif=exif.tobytes())
    shown = read_image(path).pixels.shape
    assert shown[0] > shown[1]  # (the window's: upright, taller than wide)
    thumb = thumbnails.decode_thumbnail(path).image
    assert thumb is not None and thumb.height() > thumb.width()


def test_a_cut_jpeg_gets_the_reason_the_window_gives_not_a_grey_filled_picture(tmp_path):
    from sr_desktop.engine.core.errors import ImageReadError
    from sr_desktop.engine.imageio import read_image

    whole = photo(tmp_path / "whole.jpg", size=(256, 256)).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageReadError) as refused:
        read_image(cut)
    thumb = thumbnails.decode_thumbnail(cut)
    assert thumb.image is None and refused.value.reason in thumb.error


def test_the_opened_files_thumbnail_waits_until_the_file_is_read(qtbot, tmp_path, monkeypatch):
    """It was decoded for its thumbnail beside its own reading, on two cores: a 12-MP PNG was
    shown after 0.84 s instead of 0.43 s. Its thumbnail comes once the image is shown."""
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    create_application()
    events: list[str] = []
    lock = threading.Lock()
    real = thumbnails.decode_thumbnail

    def decode(path, size=thumbnails.THUMB):
        with lock:
            events.append(f"thumbnail {Path(path).name}")
        return real(path, size)

    monkeypatch.setattr(thumbnails, "decode_thumbnail", decode)
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.loader.jobFinished.connect(lambda job, _item: events.append(f"shown {Path(job.options).name}"))
    window.open_paths([photo(tmp_path / "a.png"), photo(tmp_path / "b.png", seed=1)])
    qtbot.waitUntil(lambda: window.image is not None and not window.filmstrip.thumbnails_pending(), timeout=20000)
    assert events.index("shown a.png") < events.index("thumbnail a.png")
    assert "thumbnail b.png" in events and window.filmstrip.unreadable() == {}


def test_an_entry_whose_link_changed_is_removed_from_every_lookup(qtbot, strip, tmp_path):
    """A link listed, deleted on disk, then removed: its file (found by the link's old target)
    could not be listed again in that session (found by a review of the constant-time lookups)."""
    target = photo(tmp_path / "target.png")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    other = photo(tmp_path / "other.png", seed=1)
    strip.add_paths([link, other])
    link.unlink()
    assert strip.remove_paths([link]) == [link]
    assert strip.add_paths([target]) == [target]
    assert strip.select_path(target) and strip.currentItem().data(Qt.ItemDataRole.UserRole) == target


def test_a_removal_looks_at_the_removed_entries_only(qtbot, strip, tmp_path, monkeypatch):
    """Each removal resolved every listed path and labelled every entry again: 256 ms for one
    entry of 10 000. Only the entries named like a removed one are labelled again."""
    files = [photo(tmp_path / f"p{i}" / "x.png", size=(8, 8), seed=i) for i in range(2)]
    files += [photo(tmp_path / f"f{i:03d}.png", size=(8, 8), seed=i) for i in range(200)]
    strip.add_paths(files)
    wait_thumbnails(qtbot, strip)
    resolved = []
    real_resolve = Path.resolve
    monkeypatch.setattr(Path, "resolve", lambda self, *a, **k: resolved.append(self) or real_resolve(self, *a, **k))
    assert strip.remove_paths([files[0]]) == [files[0]]
    assert len(resolved) <= 1  # (the one path given, at most)
    assert strip.item(0).text() == "x.png"  # alone with its name now: no folder shown
    assert strip.count() == 201


def test_an_empty_strip_says_what_it_lists(qtbot, strip, tmp_path, monkeypatch):
    """An empty strip (View ▸ Panels ▸ Images before any image) was a blank band."""
    from PySide6.QtGui import QImage

    from sr_desktop.gui.main_window import filmstrip as filmstrip_module

    def drawn() -> int:
        picture = strip.viewport().grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
        pixels = np.frombuffer(picture.constBits(), np.uint8)
        return int((pixels != np.bincount(pixels).argmax()).sum())  # not the background's grey

    with_hint = drawn()
    monkeypatch.setattr(filmstrip_module, "EMPTY_TEXT", "")
    assert with_hint > drawn() + 300  # the hint's letters
