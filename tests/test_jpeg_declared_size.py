"""A JPEG whose header declares more rows than its scan holds (issue 18, failure 2 for JPEG).

libjpeg fills the missing blocks with grey and says so only in a warning Pillow drops;
`imageio.jpeg_scan` counts the units the Huffman-coded scan holds and the reader refuses
the file ("truncated or corrupt"), while every complete JPEG still reads.
"""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.imageio import read_image, read_image_bytes
from sr_desktop.engine.imageio.jpeg_scan import missing_units

RNG = np.random.default_rng(18)
NOISE = RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)
SMOOTH = cv2.GaussianBlur(NOISE, (5, 5), 2)


def _pillow(pixels: np.ndarray, **params) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, "JPEG", **params)
    return buffer.getvalue()


def _opencv(pixels: np.ndarray, *params: int) -> bytes:
    ok, encoded = cv2.imencode(".jpg", pixels, list(params))
    assert ok
    return encoded.tobytes()


ENCODINGS = {
    "baseline 4:2:0": lambda p: _pillow(p),
    "baseline 4:4:4": lambda p: _pillow(p, subsampling=0),
    "baseline 4:2:2": lambda p: _pillow(p, subsampling=1),
    "quality 100": lambda p: _pillow(p, quality=100),
    "progressive": lambda p: _pillow(p, progressive=True),
    "grey": lambda p: _pillow(np.ascontiguousarray(p[:, :, 0])),
    "grey progressive": lambda p: _pillow(np.ascontiguousarray(p[:, :, 0]), progressive=True),
    "restart intervals": lambda p: _opencv(p, cv2.IMWRITE_JPEG_RST_INTERVAL, 3),
    "optimised tables": lambda p: _opencv(p, cv2.IMWRITE_JPEG_OPTIMIZE, 1),
    "opencv progressive": lambda p: _opencv(p, cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
}


def _declaring(data: bytes, factor: int) -> bytes:
    """``data`` with the SOF height multiplied by ``factor``."""
    out = bytearray(data)
    pos = 2
    while out[pos + 1] not in (0xC0, 0xC1, 0xC2):
        pos += 2 + struct.unpack(">H", out[pos + 2 : pos + 4])[0]
    (height,) = struct.unpack(">H", out[pos + 5 : pos + 7])
    out[pos + 5 : pos + 7] = struct.pack(">H", height * factor)
    return bytes(out)


@pytest.mark.parametrize("name", sorted(ENCODINGS))
@pytest.mark.parametrize("pixels", [NOISE, SMOOTH], ids=["noise", "smooth"])
def test_complete_scans_pass_and_patched_headers_are_short(name, pixels):
    data = ENCODINGS[name](pixels)
    assert missing_units(data) is None
    found, declared = missing_units(_declaring(data, 4))
    assert 0 < found < declared
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image_bytes(_declaring(data, 4))
    assert read_image_bytes(data).pixels.shape[:2] == (37, 53)


def test_a_scan_cut_short_before_its_end_marker_is_refused():
    data = _pillow(NOISE)
    cut = data[: len(data) * 3 // 4] + b"\xff\xd9"
    assert missing_units(cut) is not None
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image_bytes(cut)


def test_a_complete_mid_grey_jpeg_still_reads():
    # Mid-grey is what libjpeg fills missing blocks with, so this file takes the scan check.
    grey = np.full((40, 56, 3), 128, np.uint8)
    image = read_image_bytes(_pillow(grey))
    assert image.pixels.shape == (40, 56, 3) and int(image.pixels[-1, -1, 0]) == 128


def test_cli_refuses_the_patched_jpeg_and_does_the_other_file(tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(_declaring(_pillow(NOISE), 4))
    good = tmp_path / "good.jpg"
    good.write_bytes(_pillow(NOISE))
    out = tmp_path / "out"
    code = main(["upscale", str(bad), str(good), "-o", str(out), "--model", "bicubic", "--scale", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "bad.jpg" in errors[0] and "truncated or corrupt" in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg"]
    assert read_image(out / "good.jpg").pixels.shape == (74, 106, 3)
