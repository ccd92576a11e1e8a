"""Multi-page TIFF with 16-bit colour pages (issue 18): every page is read, upscaled and
written at 16 bits, never reduced to 8 bits and never dropped."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.imageio import Image, read_image
from sr_desktop.engine.imageio.animation import Animation, read_animation, write_animation

RNG = np.random.default_rng(7)
RGB16 = RNG.integers(0, 65536, (20, 30, 3), dtype=np.uint16)
RGBA16 = RNG.integers(0, 65536, (12, 16, 4), dtype=np.uint16)
GRAY8 = RNG.integers(0, 256, (7, 9, 1), dtype=np.uint8)
GRAY16 = RNG.integers(0, 65536, (5, 11, 1), dtype=np.uint16)
RGB8 = RNG.integers(0, 256, (8, 10, 3), dtype=np.uint8)
PAGES = [RGB16, RGBA16, GRAY8, GRAY16, RGB8]


def _pages_tiff(path):
    frames = [Image(p, source_format="TIFF") for p in PAGES]
    return write_animation(Animation(frames, source_format="TIFF"), path)


def test_16bit_colour_pages_round_trip_exactly(tmp_path):
    anim = read_animation(_pages_tiff(tmp_path / "p.tif"))
    assert len(anim.frames) == len(PAGES)
    for page, frame in zip(PAGES, anim.frames, strict=True):
        assert frame.pixels.dtype == page.dtype and np.array_equal(frame.pixels, page)


def test_opencv_reads_what_we_write_page_by_page(tmp_path):
    ok, mats = cv2.imreadmulti(str(_pages_tiff(tmp_path / "p.tif")), flags=cv2.IMREAD_UNCHANGED)
    assert ok and len(mats) == len(PAGES)
    assert mats[0].dtype == np.uint16 and np.array_equal(mats[0][:, :, ::-1], RGB16)
    assert np.array_equal(mats[1][:, :, [2, 1, 0, 3]], RGBA16)


def test_16bit_pages_written_by_opencv_are_read_at_16_bits(tmp_path):
    ok, encoded = cv2.imencodemulti(".tiff", [RGB16[:, :, ::-1], GRAY8[:, :, 0], RGBA16[:, :, [2, 1, 0, 3]]])
    assert ok
    path = tmp_path / "cv.tif"
    path.write_bytes(encoded.tobytes())
    anim = read_animation(path)
    assert [f.pixels.dtype for f in anim.frames] == [np.uint16, np.uint8, np.uint16]
    assert np.array_equal(anim.frames[0].pixels, RGB16) and np.array_equal(anim.frames[2].pixels, RGBA16)


def test_pages_count_towards_the_pixel_limit_each_at_its_own_size(tmp_path):
    path = _pages_tiff(tmp_path / "p.tif")
    total = sum(p.shape[0] * p.shape[1] for p in PAGES)  # 1034 pixels
    assert len(read_animation(path, max_pixels=total).frames) == len(PAGES)
    with pytest.raises(ImageReadError, match="pages up to page 5"):
        read_animation(path, max_pixels=total - 1)


def test_a_page_declaring_more_rows_than_its_strips_is_refused(tmp_path):
    path = _pages_tiff(tmp_path / "p.tif")
    data = bytearray(path.read_bytes())
    (first,) = struct.unpack_from("<I", data, 4)
    (entries,) = struct.unpack_from("<H", data, first)
    (second,) = struct.unpack_from("<I", data, first + 2 + 12 * entries)
    (entries2,) = struct.unpack_from("<H", data, second)
    for index in range(entries2):  # page 2's ImageLength (tag 257) × 100
        entry = second + 2 + 12 * index
        tag, _, _, value = struct.unpack_from("<HHII", data, entry)
        if tag == 257:
            struct.pack_into("<I", data, entry + 8, value * 100)
    path.write_bytes(bytes(data))
    assert read_image(path).pixels.shape == RGB16.shape  # page 1 is intact
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_animation(path)


def test_cli_upscales_every_16bit_page_at_16_bits(tmp_path, capsys):
    src = _pages_tiff(tmp_path / "p.tif")
    code = main(["upscale", str(src), "-o", str(tmp_path / "up.tif"), "--model", "bicubic", "--scale", "2",
                 "--quiet"])
    assert code == 0, capsys.readouterr().err
    anim = read_animation(tmp_path / "up.tif")
    assert [f.pixels.shape for f in anim.frames] == [
        (2 * p.shape[0], 2 * p.shape[1], p.shape[2]) for p in PAGES
    ]
    assert [f.pixels.dtype for f in anim.frames] == [p.dtype for p in PAGES]
    # 16-bit detail is kept: the low bytes are not all zero (an 8-bit detour would make them so)
    assert int((anim.frames[0].pixels & 0xFF).max()) > 0
    code = main(["upscale", str(src), "-o", str(tmp_path / "up.png"), "--model", "bicubic", "--quiet"])
    assert code == 1 and "cannot hold the 5 pages" in capsys.readouterr().err
    assert not (tmp_path / "up.png").exists()
