"""Saving reports its progress and stops on Cancel, leaving nothing behind (a 192-megapixel
result took half a minute as PNG and two as WebP, with no progress and no way to stop it)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.imageio import SaveOptions, read_image
from sr_desktop.engine.imageio import png as png_module
from sr_desktop.engine.imageio.animation import Animation, write_animation
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.write import write_image

FORMATS = ["png", "tiff", "jpg", "webp", "bmp", "gif"]


def photo(height=96, width=80, channels=3) -> Image:
    rng = np.random.default_rng(3)
    smooth = np.cumsum(rng.integers(0, 3, (height, width, channels)), axis=1) % 256
    return Image(smooth.astype(np.uint8))


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_watched_save_writes_the_same_bytes_and_reports_what_it_wrote(tmp_path, fmt):
    image = photo()
    plain = write_image(image, tmp_path / f"plain.{fmt}", SaveOptions(format=fmt))
    reports = []
    watched = write_image(image, tmp_path / f"watched.{fmt}", SaveOptions(format=fmt), cancel=CancelToken(),
                          progress=reports.append)
    assert watched.read_bytes() == plain.read_bytes()
    assert reports and reports[-1].extra["bytes"] == watched.stat().st_size
    assert all(info.stage == "save" for info in reports)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_the_row_encoders_say_how_many_rows_are_done(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(png_module, "CV2_MAX_BYTES", 0)  # the engine's own filter, as for a large image
    monkeypatch.setattr(png_module, "_BLOCK_BYTES", 80 * 3 * 10)  # 10 rows a block
    monkeypatch.setattr("sr_desktop.engine.imageio.tiff._STRIP_BYTES", 80 * 3 * 10)
    reports = []
    write_image(photo(), tmp_path / f"out.{fmt}", SaveOptions(format=fmt), progress=reports.append)
    rows = [info.done for info in reports if info.extra["rows"]]
    assert rows == sorted(rows) and rows[0] == 10 and rows[-1] == 96 and len(set(rows)) == 10
    assert reports[-1].fraction == 1.0
    assert read_image(tmp_path / f"out.{fmt}").pixels.tolist() == photo().pixels.tolist()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_cancelled_save_raises_and_leaves_nothing(tmp_path, monkeypatch, fmt):
    """Cancelled after the encoder's first report: no file and no temporary file left."""
    monkeypatch.setattr(png_module, "CV2_MAX_BYTES", 0)
    monkeypatch.setattr(png_module, "_BLOCK_BYTES", 80 * 3 * 10)
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        write_image(photo(), tmp_path / f"out.{fmt}", SaveOptions(format=fmt), cancel=cancel,
                    progress=lambda info: cancel.cancel())
    assert leftovers(tmp_path) == []


def test_a_cancel_before_the_rename_keeps_the_old_file(tmp_path):
    """The last moment Cancel counts is the rename: the file that was there stays as it was."""
    target = write_image(photo(channels=1), tmp_path / "out.png")
    before = target.read_bytes()
    cancel = CancelToken()
    real_commit = cancel.commit

    def cancelled_just_before(*args):
        cancel.cancel()
        real_commit()

    cancel.commit = cancelled_just_before
    with pytest.raises(Cancelled):
        write_image(photo(), target, overwrite=True, cancel=cancel)
    assert target.read_bytes() == before and leftovers(tmp_path) == ["out.png"]


def test_cancel_after_the_point_of_no_return_says_the_save_finishes(tmp_path):
    cancel = CancelToken()
    asked = []
    real_commit = cancel.commit

    def commit_then_cancel():
        real_commit()
        asked.append(cancel.cancel_unless_committed())

    cancel.commit = commit_then_cancel
    target = write_image(photo(), tmp_path / "out.png", cancel=cancel)
    assert asked == [False] and read_image(target).pixels.shape == (96, 80, 3)
    fresh = CancelToken()
    assert fresh.cancel_unless_committed() is True and fresh.cancelled


def test_an_animation_save_can_be_cancelled(tmp_path):
    animation = Animation([photo(48, 40), Image(255 - photo(48, 40).pixels)], durations=[100, 100],
                          disposals=["none", "none"])
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        write_animation(animation, tmp_path / "out.gif", cancel=cancel, progress=lambda info: cancel.cancel())
    assert leftovers(tmp_path) == []
    reports = []
    written = write_animation(animation, tmp_path / "out.gif", progress=reports.append)
    assert reports[-1].extra["bytes"] == written.stat().st_size


def test_a_cancel_from_another_thread_stops_a_long_png(tmp_path, monkeypatch):
    """The window cancels from its own thread while the encoder works in another."""
    monkeypatch.setattr(png_module, "CV2_MAX_BYTES", 0)
    monkeypatch.setattr(png_module, "_BLOCK_BYTES", 80 * 3)  # one row a block
    cancel = CancelToken()
    started = threading.Event()
    real_filter = png_module._filter_block

    def slow_filter(*args):
        started.set()
        cancel_seen.wait(0.05)
        return real_filter(*args)

    cancel_seen = threading.Event()
    monkeypatch.setattr(png_module, "_filter_block", slow_filter)
    outcome = []

    def save():
        try:
            write_image(photo(), tmp_path / "out.png", cancel=cancel)
            outcome.append("written")
        except Cancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=save)
    thread.start()
    assert started.wait(10)
    cancel.cancel()
    thread.join(10)
    assert outcome == ["cancelled"] and leftovers(tmp_path) == []


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_the_png_blocks_compressed_on_several_threads_read_back_exactly(tmp_path, monkeypatch, dtype, channels):
    """A large image's row blocks are filtered and deflated on several threads and joined into
    one zlib stream (2.4× faster on two cores for a 48-megapixel PNG): every depth and
    channel count, blocks of 7 rows over an odd size, reads back as written."""
    monkeypatch.setattr(png_module, "CV2_MAX_BYTES", 0)
    monkeypatch.setattr(png_module, "_BLOCK_BYTES", 7 * 37 * channels * np.dtype(dtype).itemsize)
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, np.iinfo(dtype).max, (53, 37, channels), dtype=np.int64).astype(dtype)
    pixels[20:40] = pixels[20]  # runs for the filters and the deflate to find
    written = write_image(Image(pixels), tmp_path / "out.png")
    assert np.array_equal(read_image(written).pixels, pixels)


@pytest.mark.parametrize("suffix", ["gif", "png", "webp", "tiff"])
def test_an_animation_save_counts_its_frames_and_stops_between_them(tmp_path, suffix):
    """Saving an animation said only the bytes written: no percentage, and a WebP's Cancel
    (Pillow writes it at the end) waited for every frame to be encoded."""
    frames = [Image(np.roll(photo(48, 40).pixels, 3 * i, axis=1)) for i in range(5)]
    timed = suffix != "tiff"  # (a TIFF's pages: no durations)
    animation = (Animation(frames, durations=[100] * 5, disposals=["none"] * 5) if timed
                 else Animation(frames, source_format="TIFF"))
    reports = []
    written = write_animation(animation, tmp_path / f"out.{suffix}", progress=reports.append)
    counted = [(info.done, info.total) for info in reports if info.extra.get("rows")]
    unit = "row" if suffix == "tiff" else "frame"
    assert {info.extra["unit"] for info in reports if info.extra.get("rows")} == {unit}
    steps = 5 * 48 if suffix == "tiff" else 5
    assert counted and all(total == steps for _done, total in counted)
    done = [done for done, _total in counted]
    assert done == sorted(done) and done[-1] == steps  # (the last report is the whole: it stopped at 4 of 5)
    # counted as they come; an APNG's frames are all seeked in a first pass, then encoded:
    # only its end is said (a count during it stood at 95 % for most of the save)
    assert len([d for d in done if d < steps]) >= (0 if suffix == "png" else 3)
    written.unlink()
    cancel = CancelToken()

    def cancel_at_the_third(info):
        if (info.extra.get("rows") and info.done >= 2) or (suffix == "png" and info.extra.get("bytes")):
            cancel.cancel()

    with pytest.raises(Cancelled):
        write_animation(animation, tmp_path / f"out.{suffix}", cancel=cancel, progress=cancel_at_the_third)
    assert leftovers(tmp_path) == []
