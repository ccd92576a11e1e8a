"""Each frame of an animation must hold the pixels its header declares (issue 18, failure 2
for frames): an APNG frame whose fdAT data are cut short, or a GIF cut inside a frame, is
"truncated or corrupt", never a frame padded with the previous one."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.imageio.animation import read_animation
from sr_desktop.engine.imageio.png_rows import short_apng_frame

RNG = np.random.default_rng(3)
FRAMES = [PILImage.fromarray(RNG.integers(0, 256, (30, 40, 3), dtype=np.uint8)) for _ in range(3)]


def _apng(**params) -> bytes:
    buffer = io.BytesIO()
    FRAMES[0].save(buffer, "PNG", save_all=True, append_images=FRAMES[1:], duration=50, **params)
    return buffer.getvalue()


def _with_fdat_cut(data: bytes, which: int) -> bytes:
    """``data`` with the ``which``-th fdAT chunk's pixel data inflating to a third."""
    out, pos, seen = bytearray(data[:8]), 8, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"fdAT":
            seen += 1
            if seen == which:
                pixels = zlib.decompress(body[4:])
                body = body[:4] + zlib.compress(pixels[: len(pixels) // 3])
        out += struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", zlib.crc32(kind + body))
    return bytes(out)


@pytest.mark.parametrize("params", [{}, {"default_image": True}], ids=["idat-is-frame-1", "separate-default"])
def test_complete_apngs_pass(tmp_path, params):
    data = _apng(**params)
    assert short_apng_frame(data) is None
    (tmp_path / "a.png").write_bytes(data)
    assert len(read_animation(tmp_path / "a.png").frames) >= 2


def test_an_apng_frame_cut_short_is_refused(tmp_path):
    data = _with_fdat_cut(_apng(), 1)
    frame, found, declared = short_apng_frame(data)
    assert frame == 2 and found < declared == 30 * (1 + 40 * 3)
    (tmp_path / "a.png").write_bytes(data)
    with pytest.raises(ImageReadError, match=r"truncated or corrupt \(frame 2"):
        read_animation(tmp_path / "a.png")


def test_a_gif_cut_inside_a_frame_is_refused(tmp_path):
    buffer = io.BytesIO()
    FRAMES[0].save(buffer, "GIF", save_all=True, append_images=FRAMES[1:], duration=50)
    data = buffer.getvalue()
    (tmp_path / "a.gif").write_bytes(data[: len(data) - 300] + b"\x00\x3b")
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_animation(tmp_path / "a.gif")
