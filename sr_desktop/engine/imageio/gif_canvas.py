"""A GIF's frames composed as browsers show them.

Browsers start each GIF on a transparent canvas and dispose a frame "to background" by
clearing its rectangle to transparent; the background colour index is ignored. Pillow
fills that rectangle with the background colour when neither the frame nor the file has a
transparent index, so a sprite drawn on an opaque first frame and moved with that disposal
read with an opaque block of the palette's colour where viewers show the page behind it.

Here the file's blocks are walked, each frame is decoded on its own (its bytes rewrapped as
a one-frame GIF for Pillow's LZW decoder) and the frames are composed by the rules above:
frame pixels that are not transparent are drawn over the canvas inside the frame's
rectangle (cut to the screen); disposal 2 clears that rectangle afterwards, disposal 3 puts
back the canvas as it was before the frame, 0 and 1 leave it.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np

GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_GRAPHIC_CONTROL = 0xF9


@dataclass(frozen=True)
class _Frame:
    left: int
    top: int
    width: int
    height: int
    disposal: int
    control: bytes  # the frame's graphic control extension (b"" if none)
    image: bytes  # its image descriptor, local colour table and LZW data


def _after_sub_blocks(data: bytes, pos: int) -> int:
    """The position after a chain of data sub-blocks starting at `pos`."""
    while True:
        size = data[pos]  # IndexError on a truncated file
        pos += 1 + size
        if size == 0:
            return pos


def _colour_table_size(packed: int) -> int:
    return 3 << ((packed & 7) + 1) if packed & 0x80 else 0


def _frames(data: bytes) -> tuple[int, int, bytes, bytes, list[_Frame]]:
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    pos = 13
    table = data[pos:pos + _colour_table_size(packed)]
    pos += len(table)
    frames: list[_Frame] = []
    control = b""
    while data[pos] != _TRAILER:
        kind = data[pos]
        if kind == _EXTENSION:
            end = _after_sub_blocks(data, pos + 2)
            if data[pos + 1] == _GRAPHIC_CONTROL:
                control = data[pos:end]
            pos = end
        elif kind == _IMAGE:
            left, top, w, h, image_packed = struct.unpack_from("<HHHHB", data, pos + 1)
            end = _after_sub_blocks(data, pos + 10 + _colour_table_size(image_packed) + 1)
            disposal = (control[3] >> 2) & 7 if len(control) > 3 else 0
            frames.append(_Frame(left, top, w, h, disposal, control, data[pos:end]))
            control = b""
            pos = end
        else:
            raise ValueError(f"unknown GIF block 0x{kind:02x}")
    return width, height, bytes(data[10:11]), table, frames


def _decode(frame: _Frame, screen_packed: bytes, table: bytes) -> np.ndarray:
    """One frame's own pixels, RGBA (its transparent index at alpha 0)."""
    from PIL import Image as PILImage

    screen = struct.pack("<HH", frame.width, frame.height) + screen_packed + b"\0\0"
    control = bytearray(frame.control)
    if len(control) > 3:
        control[3] &= ~0x1C  # (one frame: its disposal does not matter)
    image = bytearray(frame.image)
    image[1:5] = b"\0\0\0\0"  # at the origin of its own screen
    one = b"GIF89a" + screen + table + bytes(control) + bytes(image) + bytes([_TRAILER])
    with PILImage.open(io.BytesIO(one)) as im:
        im.load()
        return np.array(im.convert("RGBA"))


def gif_frames_as_shown(data: bytes) -> list[np.ndarray] | None:
    """The frames of the GIF `data` as browsers compose them (H×W×4 uint8 each, the
    screen's size), or None when its blocks cannot be walked cleanly (truncated, unknown
    blocks): the caller then keeps its own reading and its errors."""
    from PIL import Image as PILImage

    if data[:6] not in GIF_SIGNATURES:
        return None
    try:
        width, height, screen_packed, table, frames = _frames(data)
        canvas = np.zeros((height, width, 4), np.uint8)
        shown = []
        for frame in frames:
            before = canvas.copy() if frame.disposal == 3 else None
            pixels = _decode(frame, screen_packed, table)
            x0, y0 = frame.left, frame.top
            x1, y1 = min(width, x0 + pixels.shape[1]), min(height, y0 + pixels.shape[0])
            if x1 > x0 and y1 > y0:
                part = pixels[: y1 - y0, : x1 - x0]
                drawn = part[:, :, 3] > 0
                canvas[y0:y1, x0:x1][drawn] = part[drawn]
            shown.append(canvas.copy())
            if frame.disposal == 2 and x1 > x0 and y1 > y0:
                canvas[y0:y1, x0:x1] = 0
            elif before is not None:
                canvas = before
        return shown
    except (IndexError, ValueError, OSError, struct.error, SyntaxError, MemoryError,
            PILImage.DecompressionBombError):
        return None
