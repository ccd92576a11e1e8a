"""Animated GIF / APNG / WebP and multi-page TIFF: read, upscale frame by frame, write back."""

from __future__ import annotations

import json
import struct
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
    # written as full canvases, each drawn over the last (the source's disposals described its
    # own frames: "previous" lost a sprite when written back); what a viewer shows is the same
    assert (again.durations, again.plays, again.disposals) == (DURATIONS, 3, ["none"] * 4)
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
    assert (again.durations, again.plays, again.disposals) == (DURATIONS, plays, ["none"] * 4)  # (full canvases)
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


def _apng(mode: str, size: int, default: np.ndarray | None, frames: list[tuple[int, int, np.ndarray, int]]) -> bytes:
    """An APNG of `mode` (RGBA, RGB, L, 16-bit grey L16 or RGB16, or P with a 4-colour palette: yellow,
    red, blue, green): `default` the IDAT as a default image outside the animation (None: the first
    frame is the IDAT), `frames` (x, y, pixels, dispose op[, blend op: source when left out]),
    0.1 s each."""
    import struct
    import zlib

    colour_type = {"RGBA": 6, "RGB": 2, "L": 0, "P": 3, "L16": 0, "RGB16": 2}[mode]
    depth = 16 if mode.endswith("16") else 8

    def data(pixels: np.ndarray) -> bytes:
        rows = pixels.astype(">u2") if depth == 16 else pixels
        return zlib.compress(b"".join(b"\x00" + row.tobytes() for row in rows))

    def fctl(seq: int, x: int, y: int, pixels: np.ndarray, dispose: int, blend: int) -> bytes:
        h, w = pixels.shape[:2]
        return _chunk(b"fcTL", struct.pack(">IIIIIHHBB", seq, w, h, x, y, 1, 10, dispose, blend))

    out = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, depth, colour_type, 0, 0, 0))
    if mode == "P":
        out += _chunk(b"PLTE", bytes([255, 255, 0, 255, 0, 0, 0, 0, 255, 0, 255, 0]))
    out += _chunk(b"acTL", struct.pack(">II", len(frames), 0))
    seq = 0
    if default is not None:
        out += _chunk(b"IDAT", data(default))
    for index, (x, y, pixels, dispose, *blend) in enumerate(frames):
        out += fctl(seq, x, y, pixels, dispose, blend[0] if blend else 0)
        seq += 1
        if index == 0 and default is None:
            out += _chunk(b"IDAT", data(pixels))
        else:
            out += _chunk(b"fdAT", struct.pack(">I", seq) + data(pixels))
            seq += 1
    return out + _chunk(b"IEND", b"")


#: the colours of `_apng`'s files in each mode
_COLOURS = {
    "RGBA": {"red": (255, 0, 0, 255), "blue": (0, 0, 255, 255), "green": (0, 255, 0, 255)},
    "RGB": {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 255, 0)},
    "L": {"red": (76,), "blue": (29,), "green": (150,)},
    "P": {"red": (1,), "blue": (2,), "green": (3,)},
}


def _filled(mode: str, colour: str, side: int) -> np.ndarray:
    value = np.array(_COLOURS[mode][colour], np.uint8)
    pixels = np.tile(value, (side, side, 1))
    return pixels[..., 0] if value.size == 1 else pixels


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "P"])
def test_an_apngs_first_frame_is_drawn_on_a_clear_canvas_not_on_the_default_image(tmp_path, mode):
    """A first frame smaller than the canvas: outside it the canvas is transparent black (the
    APNG specification), not the default image's red (Pillow drew frame 1 over frame 0), nor
    colour 0 of the file's mode (opaque black in RGB and grey, yellow in this palette)."""
    path = tmp_path / "partial.png"
    path.write_bytes(_apng(mode, 16, _filled(mode, "red", 16),
                           [(4, 4, _filled(mode, "blue", 4), 0), (0, 0, _filled(mode, "green", 16), 0)]))
    anim = read_image_or_animation(path)
    assert isinstance(anim, Animation) and len(anim.frames) == 2 and anim.durations == [100, 100]
    first = anim.frames[0].pixels
    assert first.shape[:2] == (16, 16) and first.shape[2] == 4
    assert first[0, 0].tolist() == [0, 0, 0, 0] and int(first[5, 5, 3]) == 255
    assert int(first[..., 3].sum()) == 255 * 16  # only the 4×4 frame is painted
    assert int(anim.frames[1].pixels[0, 0, 3]) == 255  # the full frame covers everything


def test_a_region_disposed_to_background_is_transparent_in_an_rgb_apng(tmp_path):
    """A frame disposed to background leaves its region transparent black for the next frame
    (Pillow filled it with opaque black in an RGB file)."""
    path = tmp_path / "dispose.png"
    path.write_bytes(_apng("RGB", 16, None, [(0, 0, _filled("RGB", "red", 16), 0),
                                             (4, 4, _filled("RGB", "blue", 4), 1),
                                             (10, 10, _filled("RGB", "green", 4), 0)]))
    anim = read_animation(path)
    frames = [f.pixels for f in anim.frames]
    assert all(f.shape[2] == 4 for f in frames)
    assert frames[1][5, 5].tolist() == [0, 0, 255, 255] and frames[1][0, 0].tolist() == [255, 0, 0, 255]
    assert frames[2][5, 5].tolist() == [0, 0, 0, 0]  # the blue frame's region, disposed
    assert frames[2][0, 0].tolist() == [255, 0, 0, 255] and frames[2][11, 11].tolist() == [0, 255, 0, 255]
    again = read_animation(write_animation(anim, tmp_path / "again.png"))
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(anim.frames, again.frames, strict=True))


def _rgba(r: int, g: int, b: int, a: int, side: int) -> np.ndarray:
    return np.tile(np.array([r, g, b, a], np.uint8), (side, side, 1))


def test_a_half_transparent_frame_blended_over_is_composed_as_the_png_specification_says(tmp_path):
    """Blend OVER (PNG "alpha channel processing"): half-transparent blue over opaque red is
    opaque purple, and over a clear canvas it keeps its own colour and alpha. Pillow pasted
    it with its alpha as the mask: alpha 191 over red, colour and alpha halved over nothing."""
    path = tmp_path / "over.png"
    path.write_bytes(_apng("RGBA", 8, None, [(0, 0, _rgba(255, 0, 0, 255, 4), 0),
                                             (0, 0, _rgba(0, 0, 255, 128, 8), 0, 1)]))
    frames = [f.pixels for f in read_animation(path).frames]
    assert frames[0][0, 0].tolist() == [255, 0, 0, 255] and frames[0][6, 6].tolist() == [0, 0, 0, 0]
    assert frames[1][0, 0].tolist() == [127, 0, 128, 255]  # 255·(1 − 128/255), 255·128/255
    assert frames[1][6, 6].tolist() == [0, 0, 255, 128]


def test_a_frame_blended_over_and_disposed_to_previous_is_undone_for_the_next(tmp_path):
    """Dispose PREVIOUS after an OVER frame restores its rectangle as it was before it, and a
    frame drawn OVER a region disposed to background sees a clear canvas there."""
    path = tmp_path / "previous.png"
    path.write_bytes(_apng("RGBA", 8, None, [(0, 0, _rgba(255, 0, 0, 255, 8), 0),
                                             (2, 2, _rgba(0, 255, 0, 64, 4), 2, 1),
                                             (0, 0, _rgba(0, 0, 255, 255, 2), 1, 1),
                                             (0, 0, _rgba(255, 255, 255, 51, 4), 0, 1)]))
    frames = [f.pixels for f in read_animation(path).frames]
    assert frames[1][3, 3].tolist() == [191, 64, 0, 255]
    assert frames[2][3, 3].tolist() == [255, 0, 0, 255]  # the green frame undone
    assert frames[2][0, 0].tolist() == [0, 0, 255, 255]
    assert frames[3][0, 0].tolist() == [255, 255, 255, 51]  # over the cleared blue square
    assert frames[3][3, 3].tolist() == [255, 51, 51, 255]


def test_a_palette_frame_with_transparent_entries_blended_over_shows_the_frame_below(tmp_path):
    """A palette APNG whose second frame is drawn OVER with a fully transparent entry: the
    first frame shows through where it is used."""
    data = _apng("P", 4, None, [(0, 0, np.full((4, 4), 1, np.uint8), 0),
                                (0, 0, np.array([[0, 2, 0, 2]] * 4, np.uint8), 0, 1)])
    trns = _chunk(b"tRNS", bytes([0]))
    at = data.index(b"acTL") - 4
    path = tmp_path / "palette.png"
    path.write_bytes(data[:at] + trns + data[at:])
    frames = [f.pixels for f in read_animation(path).frames]
    assert frames[1][0, 0].tolist()[:3] == [255, 0, 0] and frames[1][0, 1].tolist()[:3] == [0, 0, 255]


def test_a_16_bit_grey_apng_keeps_its_frames(tmp_path):
    """Pillow's RGBA conversion clipped 16-bit grey frames to 255: both frames white, and
    written back as one. They are rounded to 8 bits (x / 257), a tRNS grey transparent."""
    first = np.full((8, 8), 40000, np.uint16)
    first[:2] = 1234
    data = _apng("L16", 8, None, [(0, 0, first, 0), (0, 0, np.full((8, 8), 20000, np.uint16), 0)])
    at = data.index(b"acTL") - 4
    path = tmp_path / "grey16.png"
    path.write_bytes(data[:at] + _chunk(b"tRNS", (1234).to_bytes(2, "big")) + data[at:])
    anim = read_animation(path)
    assert [f.pixels[4, 4].tolist() for f in anim.frames] == [[156, 156, 156, 255], [78, 78, 78, 255]]
    assert int(anim.frames[0].pixels[0, 0, 3]) == 0 and int(anim.frames[0].pixels[4, 4, 3]) == 255
    again = read_animation(write_animation(anim, tmp_path / "again.png"))
    assert len(again.frames) == 2


def test_a_16_bit_rgb_apng_with_a_transparent_colour_keeps_it_transparent(tmp_path):
    """Pillow reduces 16-bit RGB frames to 8 bits but keeps the tRNS colour at 16 bits, so it
    matched nothing and the key colour showed opaque in every frame."""
    first = np.zeros((8, 8, 3), np.uint16)
    first[...] = (50000, 20000, 300)
    first[:2] = (1234, 40000, 7)
    second = np.full((8, 8, 3), (1234, 40000, 7), np.uint16)
    second[4:] = (65535, 0, 0)
    data = _apng("RGB16", 8, None, [(0, 0, first, 0), (0, 0, second, 0)])
    at = data.index(b"acTL") - 4
    path = tmp_path / "rgb16.png"
    path.write_bytes(data[:at] + _chunk(b"tRNS", struct.pack(">HHH", 1234, 40000, 7)) + data[at:])
    frames = [f.pixels for f in read_animation(path).frames]
    assert [f.shape for f in frames] == [(8, 8, 4), (8, 8, 4)]
    assert int(frames[0][0, 0, 3]) == 0 and frames[0][4, 4].tolist() == [195, 78, 1, 255]
    assert int(frames[1][0, 0, 3]) == 0 and frames[1][6, 6].tolist() == [255, 0, 0, 255]


def test_an_animated_webp_whose_first_frame_has_transparent_margins_keeps_them(tmp_path):
    """libwebp stores such a first frame as an opaque sub-rectangle and leaves the header's
    alpha flag out; its decoder still composes on a transparent canvas, which Pillow read as
    RGB (the margins opaque black)."""
    first = np.zeros((8, 8, 4), np.uint8)
    first[:4, :4] = (255, 0, 0, 255)
    second = np.zeros((8, 8, 4), np.uint8)
    second[...] = (0, 255, 0, 255)
    anim = Animation([Image(first), Image(second)], [100, 100], 0, ["none", "none"], "PNG", None)
    out = write_animation(anim, tmp_path / "margins.webp", SaveOptions(quality=100))  # lossless
    with PILImage.open(out) as im:
        assert im.mode == "RGB"  # the header says opaque: what this test is about
    again = read_animation(out)
    assert [f.pixels.shape for f in again.frames] == [(8, 8, 4), (8, 8, 4)]
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(anim.frames, again.frames, strict=True))


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


def test_16_bit_colour_tiff_pages_are_decoded_one_at_a_time(tmp_path, monkeypatch):
    """OpenCV decoded every page at the first 16-bit colour one, before the pixel limit
    looked at the later pages: an 8-MB file of 100 deflated pages took 4.8 GB and 12 s to be
    refused. Each page is decoded alone now, with the same pixels."""
    import cv2

    pages = [np.full((6, 7, 3), (i * 1000, 40000, 7), np.uint16) for i in range(4)]
    assert cv2.imwritemulti(str(tmp_path / "deep.tif"), pages)
    asked = []
    decode = cv2.imdecodemulti

    def one_page_at_a_time(*args):
        asked.append(args[3] if len(args) > 3 else "all")
        return decode(*args)

    monkeypatch.setattr(cv2, "imdecodemulti", one_page_at_a_time)
    anim = read_image_or_animation(tmp_path / "deep.tif")
    assert asked == [(0, 1), (1, 2), (2, 3), (3, 4)]
    for page, frame in zip(pages, anim.frames, strict=True):
        assert np.array_equal(frame.pixels, page[:, :, ::-1])  # (OpenCV wrote them as BGR)


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_a_multipage_tiff_stored_on_its_side_is_read_upright(tmp_path, orientation):
    """Pages with EXIF orientation 5–8: Pillow reports them upright while their strips stay
    as stored; the coverage check took the upright size and refused the file as truncated."""
    pixels = np.zeros((12, 16, 3), np.uint8)
    pixels[0, 0] = 255
    exif = PILImage.Exif()
    exif[0x112] = orientation
    page = PILImage.fromarray(pixels)
    page.save(tmp_path / "m.tif", save_all=True, append_images=[page], exif=exif.tobytes())
    page.save(tmp_path / "s.tif", exif=exif.tobytes())
    anim = read_animation(tmp_path / "m.tif")
    assert [f.pixels.shape for f in anim.frames] == [(16, 12, 3)] * 2
    assert np.array_equal(anim.frames[0].pixels, read_image(tmp_path / "s.tif").pixels)


@pytest.mark.parametrize("name,dpi", [("a.png", True), ("a.webp", False), ("a.tif", True)])
def test_animations_and_pages_keep_exif_and_resolution(tmp_path, name, dpi):
    """APNG and multi-page TIFF keep EXIF and resolution, animated WebP its EXIF (WebP has
    no resolution), through `upscale`: they were dropped on reading."""
    exif = PILImage.Exif()
    exif[0x10F] = "Maker"
    frames = [PILImage.fromarray(f) for f in _frames(2)]
    extra = {"duration": 100} if not name.endswith(".tif") else {}
    frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], exif=exif.tobytes(),
                   dpi=(300, 300), **({"lossless": True} if name.endswith(".webp") else {}), **extra)
    assert main(["upscale", str(tmp_path / name), "-o", str(tmp_path / f"out_{name}"), "--model", "bicubic",
                 "--scale", "2", "-q"]) == 0
    with PILImage.open(tmp_path / f"out_{name}") as out:
        assert out.n_frames == 2 and out.size == (64, 48)
        for index in range(2):
            out.seek(index)
            if index == 0 or name.endswith(".tif"):
                assert out.getexif().get(0x10F) == "Maker"
                assert (round(out.info["dpi"][0]) == 300) if dpi else "dpi" not in out.info


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


@pytest.mark.parametrize("suffix, params", [(".webp", {"lossless": True}), (".png", {})])
def test_an_animation_with_an_exif_orientation_is_turned_upright_as_a_still_image_is(tmp_path, suffix, params):
    """The frames came as stored and the tag was reset to 1: a portrait shot's animated WebP
    or APNG came out lying on its side."""
    stored = np.zeros((40, 24, 3), np.uint8)
    stored[:5, :, 0] = 255  # a red band along the stored top: orientation 6 turns it to the right edge
    second = stored.copy()
    second[0, 0] = 9
    exif = PILImage.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"portrait{suffix}"
    PILImage.fromarray(stored).save(path, save_all=True, append_images=[PILImage.fromarray(second)], duration=100,
                                    exif=exif.tobytes(), **params)
    animation = read_animation(path)
    upright = np.rot90(stored, k=-1)  # 90° clockwise
    assert [f.pixels.shape for f in animation.frames] == [(24, 40, 3)] * 2
    assert np.array_equal(animation.frames[0].pixels, upright)
    loaded = PILImage.Exif()
    loaded.load(animation.frames[0].exif)
    assert loaded[0x0112] == 1


def test_an_animated_gif_applies_the_profile_it_cannot_hold_as_a_still_gif_does(tmp_path):
    """Animated GIFs kept the stored values and dropped the profile (a still GIF converts)."""
    from icc_profiles import swapped_primaries_icc

    red = np.zeros((6, 8, 3), np.uint8)
    red[:, :, 0] = 255
    icc = swapped_primaries_icc()
    second = red.copy()
    second[0, 0] = 0
    animation = Animation([Image(red, icc_profile=icc), Image(second, icc_profile=icc)], [100, 100], 0,
                          ["none", "none"], "PNG", None)
    out = write_animation(animation, tmp_path / "a.gif")
    with PILImage.open(out) as written:
        assert written.convert("RGB").getpixel((2, 2)) == (0, 255, 0)
        written.seek(1)
        assert written.convert("RGB").getpixel((2, 2)) == (0, 255, 0)



def test_an_animation_of_identical_frames_is_written_as_a_gif(tmp_path):
    """Pillow merged the frames into one and failed on the list of their durations: "GIF
    encoder failed (int() argument must be … not 'list')"."""
    frame = np.full((6, 8, 3), 90, np.uint8)
    animation = Animation([Image(frame), Image(frame.copy())], [100, 150], 0, ["none", "none"], "PNG", None)
    out = write_animation(animation, tmp_path / "same.gif")
    with PILImage.open(out) as written:
        assert (written.n_frames, written.info["duration"]) == (1, 250)  # one frame, as long as both
        assert written.convert("RGB").getpixel((3, 3)) == (90, 90, 90)
    # frames that differ by one level in one pixel are the same once quantised to 256 colours
    y, x = np.mgrid[0:64, 0:64]
    gradient = np.stack([x * 4, y * 4, (x + y) * 2], -1).astype(np.uint8)
    nudged = gradient.copy()
    nudged[5, 5, 0] += 1
    animation = Animation([Image(gradient), Image(nudged), Image(gradient)], [100, 120, 80], 0, ["none"] * 3, "PNG")
    with PILImage.open(write_animation(animation, tmp_path / "near.gif")) as written:
        assert (written.n_frames, written.info["duration"]) == (1, 300)


@pytest.mark.parametrize("suffix,params", [(".png", {}), (".webp", {"lossless": True})])
def test_a_transparent_animation_written_as_gif_leaves_no_trail(tmp_path, suffix, params):
    """Every frame is a full canvas, but GIF draws a frame over what the last one left: over
    transparency, a moving square left a trail of its earlier places (disposal "none", the
    APNG's and WebP's own). Each frame now clears the canvas first."""
    frames = []
    for i in range(4):
        a = np.zeros((24, 32, 4), np.uint8)
        a[4:14, 2 + 6 * i:12 + 6 * i] = (255, 0, 0, 255)
        frames.append(PILImage.fromarray(a, "RGBA"))
    src = tmp_path / f"square{suffix}"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0, **params)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.gif"), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0
    written = read_image_or_animation(tmp_path / "out.gif")
    for i, frame in enumerate(written.frames):
        opaque = frame.pixels[:, :, 3] > 0
        own = np.zeros_like(opaque)
        own[6:30, 2 + 12 * i:26 + 12 * i] = True  # the square ×2 and a 2-px margin for the resampling
        assert not (opaque & ~own).any(), i


def test_a_gif_frame_reaching_past_the_screen_is_cut_to_it(tmp_path):
    """Pillow grows the canvas for a GIF frame placed past the declared screen: frames of two
    sizes made a PNG whose header and data disagreed (the app refused its own file) and a
    WebP the encoder refused after the whole upscale. Cut to the screen, as browsers show it."""
    import struct

    frames = [PILImage.new("RGB", (32, 24), c) for c in ((200, 0, 0), (0, 0, 200))]
    src = tmp_path / "over.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100, loop=0, optimize=False)
    data = bytearray(src.read_bytes())
    descriptor = b"\x2c" + struct.pack("<HHHH", 0, 0, 32, 24)
    second = data.index(descriptor, data.index(descriptor) + 1)
    data[second + 1:second + 5] = struct.pack("<HH", 20, 16)  # the second frame at (20, 16): past the screen
    src.write_bytes(bytes(data))
    animation = read_image_or_animation(src)
    assert {f.pixels.shape[:2] for f in animation.frames} == {(24, 32)}
    for suffix in ("png", "webp"):
        out = tmp_path / f"out.{suffix}"
        assert main(["upscale", str(src), "-o", str(out), "--model", "bicubic", "--scale", "2", "-q"]) == 0
        back = read_image_or_animation(out)
        assert len(back.frames) == 2 and {f.pixels.shape[:2] for f in back.frames} == {(48, 64)}


def test_a_frame_longer_than_a_gif_holds_is_shortened_to_its_limit(tmp_path):
    """GIF counts a frame's time in hundredths of a second on 16 bits (655.35 s): a 700-s
    frame failed the write ("int too big to convert") after the whole upscale."""
    frames = [PILImage.new("RGB", (8, 6), c) for c in ((200, 0, 0), (0, 0, 200))]
    src = tmp_path / "slow.webp"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=[100, 700_000], loop=0, lossless=True)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.gif"), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0
    assert read_image_or_animation(tmp_path / "out.gif").durations == [100, 655_350]


def test_the_terminal_bar_counts_an_animation_in_frames(capsys):
    """It counted the engine's 1000 steps per frame as tiles: "3000/12000 tile"."""
    from sr_desktop.cli.progress_bar import TerminalProgress
    from sr_desktop.engine.core.progress import ProgressInfo

    bar = TerminalProgress("a.gif", enabled=True)
    bar(ProgressInfo(done=3500, total=12000, elapsed=1.0, eta=2.0, stage="upscale", message="frame 4/12",
                     extra={"frame": 4, "frames": 12}))
    assert (bar._bar.total, bar._bar.n, bar._bar.unit) == (12, 3.5, "frame")
    bar(ProgressInfo(done=13000, total=300000, elapsed=1.0, eta=2.0, stage="upscale", message="frame 14/300",
                     extra={"frame": 14, "frames": 300}))
    assert " 13/300 " in str(bar._bar)  # it drew "13.0/300"
    bar.close()
    capsys.readouterr()


def test_the_terminal_bar_counts_a_per_image_models_training_in_iterations(capsys):
    """`upscale --model map-sr` showed "10/300 [… 21.49tile/s]" where the window says
    iterations."""
    from sr_desktop.cli.progress_bar import TerminalProgress
    from sr_desktop.engine.core.progress import ProgressInfo

    for stage, unit in (("map-sr", "it"), ("zssr", "it"), ("upscale", "tile")):
        bar = TerminalProgress("a.png", enabled=True)
        bar(ProgressInfo(done=10, total=300, elapsed=1.0, eta=2.0, stage=stage))
        assert bar._bar.unit == unit, stage
        bar.close()
    # the pipeline's count comes first (1 tile), then ZSSR's iterations: they said "tile/s"
    bar = TerminalProgress("a.png", enabled=True)
    bar(ProgressInfo(done=0, total=1, elapsed=0.0, eta=None, stage="upscale"))
    bar(ProgressInfo(done=10, total=40, elapsed=1.0, eta=2.0, stage="zssr"))
    assert (bar._bar.total, bar._bar.unit) == (40, "it")
    bar.close()
    capsys.readouterr()


def test_an_apng_of_a_default_image_and_one_frame_reads_as_that_frame(tmp_path):
    """Not an animation of one frame (the window offered Play on "animation of 1 frames"):
    the frame itself, a still, not the default image a viewer without APNG support shows."""
    default = PILImage.new("RGB", (8, 6), (200, 0, 0))
    frame = PILImage.new("RGB", (8, 6), (0, 0, 200))
    src = tmp_path / "one.png"
    default.save(src, save_all=True, append_images=[frame], default_image=True)
    with PILImage.open(src) as im:
        assert getattr(im, "n_frames", 1) == 2  # (the default image counts in Pillow's frames)
    read = read_image_or_animation(src)
    assert isinstance(read, Image) and tuple(read.pixels[0, 0]) == (0, 0, 200)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0
    assert read_image(tmp_path / "out.png").pixels.shape == (12, 16, 3)


def _gif_with_first_disposal(path: Path, frames: list, disposal_of_first: int, **params) -> Path:
    """A GIF of palette `frames` saved by Pillow (later frames cut to what changed), its first
    frame's disposal then set to `disposal_of_first` in the file."""
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, disposal=1,
                   optimize=False, **params)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x21\xf9\x04")
    data[at + 3] = (data[at + 3] & ~0x1C) | (disposal_of_first << 2)
    path.write_bytes(bytes(data))
    return path


def test_a_rectangle_disposed_to_background_is_cleared_as_viewers_do(tmp_path):
    """An opaque first frame disposed to background, then a frame covering only its top-left
    quarter: viewers show that frame on a clear canvas (transparent around it); Pillow filled
    the rest with the palette's background colour (opaque green here)."""
    palette = [0, 255, 0, 255, 0, 0, 0, 0, 255] + [0] * 759
    red = PILImage.new("P", (8, 8), 1)
    red.putpalette(palette)
    quarter = np.full((8, 8), 1, np.uint8)
    quarter[:4, :4] = 2  # blue; the rest unchanged, so Pillow stores only this rectangle
    second = PILImage.fromarray(quarter, "P")
    second.putpalette(palette)
    src = _gif_with_first_disposal(tmp_path / "sprite.gif", [red, second], 2, background=0)
    with PILImage.open(src) as im:  # the file is as described: a 4×4 second frame
        im.seek(1)
        assert im.tile[0].extents == (0, 0, 4, 4) and im.disposal_method == 1
    anim = read_animation(src)
    first, shown = (f.pixels for f in anim.frames)
    assert first.shape == (8, 8, 4) and (first == (255, 0, 0, 255)).all()
    assert (shown[:4, :4] == (0, 0, 255, 255)).all()
    clear = np.ones((8, 8), bool)
    clear[:4, :4] = False
    assert (shown[clear][:, 3] == 0).all()  # not green: the canvas was cleared
    assert anim.disposals == ["background", "none"]


@pytest.mark.parametrize("disposal_of_first", [1, 2, 3])
def test_the_gif_canvas_agrees_with_pillow_where_pillow_follows_the_viewers(tmp_path, disposal_of_first):
    """With a transparent index Pillow composes as viewers do: the block walk and per-frame
    decode give the same frames (the RGB of transparent pixels aside)."""
    from sr_desktop.engine.imageio.gif_canvas import gif_frames_as_shown

    rng = np.random.default_rng(disposal_of_first)
    palette = list(rng.integers(0, 256, 48)) + [0] * (768 - 48)
    frames = []
    base = rng.integers(1, 16, (24, 32)).astype(np.uint8)
    base[10:20, 5:15] = 0  # index 0: transparent
    for i in range(4):
        index = base.copy()
        index[2 + i:8 + i, 3 * i:3 * i + 9] = rng.integers(0, 16, (6, 9))
        frame = PILImage.fromarray(index, "P")
        frame.putpalette(palette)
        frames.append(frame)
    src = _gif_with_first_disposal(tmp_path / "t.gif", frames, disposal_of_first, transparency=0)
    ours = gif_frames_as_shown(src.read_bytes())
    with PILImage.open(src) as im:
        pillows = []
        for k in range(im.n_frames):
            im.seek(k)
            pillows.append(np.array(im.convert("RGBA")))
    assert ours is not None and len(ours) == len(pillows) == 4
    for k, (a, b) in enumerate(zip(ours, pillows, strict=True)):
        np.testing.assert_array_equal(a[:, :, 3], b[:, :, 3], err_msg=f"alpha of frame {k}")
        seen = a[:, :, 3] > 0
        np.testing.assert_array_equal(a[seen], b[seen], err_msg=f"colours of frame {k}")


def test_a_gif_whose_blocks_cannot_be_walked_is_left_to_pillow():
    from sr_desktop.engine.imageio.gif_canvas import gif_frames_as_shown

    assert gif_frames_as_shown(b"GIF89a\x08\x00\x08\x00\x00\x00\x00\x2c\x00") is None  # truncated
    assert gif_frames_as_shown(b"\x89PNG\r\n\x1a\n") is None


def test_an_animation_s_line_says_how_a_scale_the_model_lacks_was_reached(tmp_path, capsys):
    """A still image said "fsrcnn ×6 (×2 3 times, then Lanczos to ×6)", an animated one only
    "fsrcnn ×6"."""
    gif = _save(tmp_path / "a.gif", "GIF")
    assert main(["upscale", str(gif), "-o", str(tmp_path / "b.gif"), "--model", "fsrcnn", "--scale", "6"]) == 0
    assert "fsrcnn ×6 (×2 3 times, then Lanczos to ×6)," in capsys.readouterr().out
