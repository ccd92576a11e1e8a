"""Animated GIF / APNG / WebP and multi-page TIFF: read, upscale frame by frame, write back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import Cancelled, ImageReadError, ImageWriteError
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.imageio import Image, SaveOptions, read_image
from sr_desktop.engine.imageio.animation import (
    Animation,
    read_animation,
    read_image_or_animation,
    write_animation,
)
from sr_desktop.engine.pipeline.animation import upscale_animation

DURATIONS = [40, 60, 80, 120]
BICUBIC_X2 = UpscaleOptions(model="bicubic", scale=2)


def _frames(n=4, size=(32, 24)):
    """Flat-coloured frames with a moving square: exact in a 256-colour GIF palette."""
    frames = []
    for i in range(n):
        pixels = np.full((size[1], size[0], 3), (40 * i, 200 - 30 * i, 90), np.uint8)
        pixels[4:12, 3 + 5 * i : 11 + 5 * i] = (250, 250, 10)
        frames.append(pixels)
    return frames


def _save(path: Path, fmt: str, **params) -> Path:
    first, *rest = (PILImage.fromarray(f) for f in _frames())
    first.save(path, fmt, save_all=True, append_images=rest, duration=DURATIONS, **params)
    return path


def test_gif_frames_durations_loop_and_disposal_survive_a_round_trip(tmp_path):
    src = _save(tmp_path / "a.gif", "GIF", loop=2, disposal=2)
    anim = read_image_or_animation(src)
    assert isinstance(anim, Animation) and len(anim.frames) == 4
    assert anim.durations == DURATIONS and anim.plays == 3  # GIF "loop 2" = 3 plays
    assert anim.disposals == ["background"] * 4
    for frame, expected in zip(anim.frames, _frames(), strict=True):
        assert np.array_equal(frame.pixels, expected)
    out = write_animation(anim, tmp_path / "b.gif")
    again = read_animation(out)
    assert (again.durations, again.plays, again.disposals) == (DURATIONS, 3, ["background"] * 4)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(anim.frames, again.frames, strict=True))


@pytest.mark.parametrize("fmt,suffix,params,plays,disposal", [
    ("PNG", ".png", {"loop": 0, "disposal": 1}, 0, "background"),
    ("WEBP", ".webp", {"loop": 5, "lossless": True}, 5, "none"),
])
def test_apng_and_webp_round_trips(tmp_path, fmt, suffix, params, plays, disposal):
    anim = read_animation(_save(tmp_path / f"a{suffix}", fmt, **params))
    assert len(anim.frames) == 4 and anim.durations == DURATIONS and anim.plays == plays
    assert anim.disposals == [disposal] * 4
    again = read_animation(write_animation(anim, tmp_path / f"b{suffix}", SaveOptions(quality=100)))
    assert (again.durations, again.plays, again.disposals) == (DURATIONS, plays, [disposal] * 4)
    for a, b in zip(anim.frames, again.frames, strict=True):
        assert np.array_equal(a.pixels, b.pixels)  # APNG and lossless WebP: exact


def test_an_apngs_default_image_is_not_a_frame(tmp_path):
    """An APNG whose IDAT is a default image outside the animation (what viewers without APNG
    support show): the animation is the frames after it (it came out as a 0 ms first frame)."""
    values = (7, 60, 120, 180)  # the default image, then three frames
    images = [PILImage.fromarray(np.full((6, 9, 3), v, np.uint8)) for v in values]
    path = tmp_path / "d.png"
    images[0].save(path, save_all=True, append_images=images[1:], default_image=True, duration=[40, 40, 50, 60],
                   loop=0)
    with PILImage.open(path) as im:
        assert im.info["default_image"] and im.n_frames == 4
        expected = []
        for index in range(1, 4):
            im.seek(index)
            expected.append(int(im.info["duration"]))
    anim = read_image_or_animation(path)
    assert isinstance(anim, Animation)
    assert [int(f.pixels[0, 0, 0]) for f in anim.frames] == [60, 120, 180] and anim.durations == expected
    again = read_animation(write_animation(anim, tmp_path / "e.png"))
    assert [int(f.pixels[0, 0, 0]) for f in again.frames] == [60, 120, 180]


def _chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _rgba_rows(pixels: np.ndarray) -> bytes:
    import zlib

    return zlib.compress(b"".join(b"\x00" + row.tobytes() for row in pixels))


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_an_apng_of_one_frame_after_its_default_image_is_written(tmp_path, suffix):
    """A default image and one frame read as a one-frame animation, which every animated format
    writes (GIF's encoder failed on per-frame lists of one: "GIF encoder failed")."""
    images = [PILImage.fromarray(np.full((6, 9, 3), v, np.uint8)) for v in (7, 140)]
    path = tmp_path / "one.png"
    images[0].save(path, save_all=True, append_images=images[1:], default_image=True, duration=[50, 80])
    anim = read_image_or_animation(path)
    assert isinstance(anim, Animation) and len(anim.frames) == 1 and int(anim.frames[0].pixels[0, 0, 0]) == 140
    written = write_animation(anim, tmp_path / f"out{suffix}", SaveOptions(quality=100))
    with PILImage.open(written) as back:
        assert abs(int(np.asarray(back.convert("RGB"))[0, 0, 0]) - 140) <= 2


def test_an_apngs_first_frame_is_drawn_on_a_clear_canvas_not_on_the_default_image(tmp_path):
    """A first frame smaller than the canvas: outside it the canvas is transparent (the APNG
    specification), not the default image's red (Pillow draws frame 1 over frame 0)."""
    import struct

    red = np.zeros((16, 16, 4), np.uint8)
    red[..., 0] = red[..., 3] = 255
    blue = np.zeros((4, 4, 4), np.uint8)
    blue[..., 2] = blue[..., 3] = 255
    green = np.zeros((16, 16, 4), np.uint8)
    green[..., 1] = green[..., 3] = 255

    def fctl(seq: int, w: int, h: int, x: int, y: int) -> bytes:  # delay 1/10 s, dispose none, blend source
        return _chunk(b"fcTL", struct.pack(">IIIIIHHBB", seq, w, h, x, y, 1, 10, 0, 0))

    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 6, 0, 0, 0))
            + _chunk(b"acTL", struct.pack(">II", 2, 0)) + _chunk(b"IDAT", _rgba_rows(red))
            + fctl(0, 4, 4, 4, 4) + _chunk(b"fdAT", struct.pack(">I", 1) + _rgba_rows(blue))
            + fctl(2, 16, 16, 0, 0) + _chunk(b"fdAT", struct.pack(">I", 3) + _rgba_rows(green))
            + _chunk(b"IEND", b""))
    path = tmp_path / "partial.png"
    path.write_bytes(data)
    anim = read_image_or_animation(path)
    assert isinstance(anim, Animation) and len(anim.frames) == 2 and anim.durations == [100, 100]
    first = anim.frames[0].pixels
    assert first.shape == (16, 16, 4)
    assert first[0, 0].tolist() == [0, 0, 0, 0] and first[5, 5].tolist() == [0, 0, 255, 255]
    assert int(first[..., 0].max()) == 0  # nothing of the default image's red
    assert anim.frames[1].pixels[0, 0].tolist() == [0, 255, 0, 255]


def test_multipage_tiff_keeps_every_page_mode_and_size(tmp_path):
    pages = [PILImage.fromarray(_frames(1)[0]), PILImage.new("L", (10, 7), 99),
             PILImage.fromarray(np.arange(30 * 5, dtype=np.uint16).reshape(5, 30) * 400)]
    pages[0].save(tmp_path / "p.tif", save_all=True, append_images=pages[1:])
    anim = read_image_or_animation(tmp_path / "p.tif")
    assert isinstance(anim, Animation) and not anim.is_timed
    assert [f.pixels.shape for f in anim.frames] == [(24, 32, 3), (7, 10, 1), (5, 30, 1)]
    assert anim.frames[2].pixels.dtype == np.uint16
    again = read_animation(write_animation(anim, tmp_path / "q.tif"))
    for a, b in zip(anim.frames, again.frames, strict=True):
        assert a.pixels.dtype == b.pixels.dtype and np.array_equal(a.pixels, b.pixels)
    with pytest.raises(ImageWriteError, match="cannot hold the 3 pages"):
        write_animation(anim, tmp_path / "q.png")


@pytest.mark.parametrize("target", ["x.jpg", "x.bmp", "x.tif"])
def test_formats_without_animation_are_refused_not_truncated(tmp_path, target):
    anim = read_animation(_save(tmp_path / "a.gif", "GIF"))
    with pytest.raises(ImageWriteError, match="cannot hold the 4 frames"):
        write_animation(anim, tmp_path / target)
    assert not (tmp_path / target).exists() and list(tmp_path.iterdir()) == [tmp_path / "a.gif"]


def test_frame_count_counts_towards_the_pixel_limit(tmp_path):
    src = _save(tmp_path / "a.gif", "GIF")
    assert read_image(src, max_pixels=32 * 24).info["frames"] == 4  # one frame fits
    with pytest.raises(ImageReadError, match="4 frames of 32×24"):
        read_animation(src, max_pixels=32 * 24 * 3)


def test_upscale_frame_by_frame_with_progress_and_cancel():
    anim = Animation([Image(f) for f in _frames()], list(DURATIONS), 0, ["none"] * 4, "GIF")
    reports = []
    result = upscale_animation(anim, BICUBIC_X2, progress=reports.append)
    assert [f.pixels.shape for f in result.image.frames] == [(48, 64, 3)] * 4
    assert result.image.durations == DURATIONS and result.frames == 4
    assert {r.extra["frame"] for r in reports} == {1, 2, 3, 4}
    assert reports[-1].done == reports[-1].total and reports[-1].message == "frame 4/4"
    assert [r.done for r in reports] == sorted(r.done for r in reports)

    cancel = CancelToken()

    def cancel_in_frame_2(info):
        if info.extra["frame"] == 2:
            cancel.cancel()

    with pytest.raises(Cancelled):
        upscale_animation(anim, BICUBIC_X2, progress=cancel_in_frame_2, cancel=cancel)


def test_cli_upscale_and_batch_keep_every_frame(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    _save(src / "a.gif", "GIF", loop=0)
    _save(src / "b.png", "PNG", loop=1)
    _save(src / "c.webp", "WEBP", lossless=True)
    code = main(["upscale", str(src / "a.gif"), str(src / "b.png"), "-o", str(tmp_path / "up"),
                 "--model", "bicubic", "--scale", "2"])
    out = capsys.readouterr().out
    assert code == 0 and "4 frames" in out
    for name in ("a.gif", "b.png"):
        anim = read_animation(tmp_path / "up" / name)
        assert len(anim.frames) == 4 and anim.width == 64 and anim.durations == DURATIONS

    code = main(["upscale", str(src / "a.gif"), "-o", str(tmp_path / "x.jpg"), "--model", "bicubic"])
    assert code == 1 and "cannot hold the 4 frames" in capsys.readouterr().err
    assert not (tmp_path / "x.jpg").exists()

    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "--no-progress",
                 "--report", str(tmp_path / "r.json")])
    capsys.readouterr()
    assert code == 0
    for name in ("a_x2_bicubic.gif", "b_x2_bicubic.png", "c_x2_bicubic.webp"):
        anim = read_animation(tmp_path / "out" / name)
        assert len(anim.frames) == 4 and (anim.width, anim.height) == (64, 48)
    code = main(["batch", str(src), str(tmp_path / "jpg"), "--model", "bicubic", "--format", "jpg",
                 "--no-progress", "--report", str(tmp_path / "j.json")])
    capsys.readouterr()
    files = json.loads((tmp_path / "j.json").read_text())["files"]
    assert code == 1 and [f["status"] for f in files] == ["failed"] * 3
    assert all("cannot hold the 4 frames" in f["error"] for f in files)
