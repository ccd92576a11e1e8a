"""Does a PNG's image data hold every row its header declares (and each APNG frame's)?

Pillow's PNG decoder stops quietly when the zlib stream ends, so a header patched to
declare 480 rows over 48 rows of data decodes to an image that is black below row 48.
This counts the bytes the IDAT stream inflates to (streaming, nothing kept) and compares
them with what the header's size, depth, colour type and interlacing require.
"""

from __future__ import annotations

import struct
import zlib

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
# Adam7 passes: (x start, y start, x step, y step)
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _filtered_bytes(width: int, height: int, bits_per_pixel: int) -> int:
    """Bytes of ``height`` filtered rows: a filter byte and the packed samples of each row."""
    if width <= 0 or height <= 0:
        return 0
    return height * (1 + (width * bits_per_pixel + 7) // 8)


def expected_idat_bytes(width: int, height: int, depth: int, color_type: int, interlace: int) -> int:
    """Inflated size of the image data a PNG header declares."""
    bpp = depth * _CHANNELS.get(color_type, 4)
    if not interlace:
        return _filtered_bytes(width, height, bpp)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        pass_w = (width - x0 + dx - 1) // dx if width > x0 else 0
        pass_h = (height - y0 + dy - 1) // dy if height > y0 else 0
        total += _filtered_bytes(pass_w, pass_h, bpp)
    return total


class _InflatedCount:
    """Counts the bytes a zlib stream fed in pieces inflates to, up to ``limit`` (nothing kept)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._inflater = zlib.decompressobj()

    def feed(self, chunk: bytes) -> None:
        while chunk and self.count < self.limit:
            self.count += len(self._inflater.decompress(chunk, 1 << 20))
            chunk = self._inflater.unconsumed_tail

    def total(self) -> int:
        if self.count < self.limit:
            self.count += len(self._inflater.flush())
        return self.count


def _chunks(data: bytes):
    """(type, body) of each chunk up to IEND."""
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        yield kind, data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IEND":
            return


def inflated_idat_bytes(data: bytes, limit: int) -> int | None:
    """Bytes the IDAT chunks of ``data`` inflate to, counted up to ``limit``; None when
    the chunk structure cannot be followed (Pillow's own checks then decide)."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    counter = _InflatedCount(limit)
    try:
        for kind, body in _chunks(data):
            if kind == b"IDAT":
                counter.feed(body)
            if counter.count >= limit:
                break
        return counter.total()
    except zlib.error:
        return None


def short_apng_frame(data: bytes) -> tuple[int, int, int] | None:
    """(frame number from 1, bytes found, bytes declared) of the first APNG frame whose
    fdAT data inflate to less than its fcTL size declares; None when all are complete (the
    default image, in IDAT, is :func:`missing_rows`'s)."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    depth, color_type, _, _, interlace = struct.unpack(">BBBBB", data[24:29])
    frame, counter, expected = 0, None, 0
    try:
        for kind, body in _chunks(data):
            if kind in (b"fcTL", b"IEND") and counter is not None and counter.total() < expected:
                return frame, counter.count, expected
            if kind == b"fcTL" and len(body) >= 12:
                frame += 1
                width, height = struct.unpack(">II", body[4:12])
                expected = expected_idat_bytes(width, height, depth, color_type, interlace)
                counter = _InflatedCount(expected)
            elif kind == b"IDAT":
                counter = None  # this frame is the default image
            elif kind == b"fdAT" and counter is not None:
                counter.feed(body[4:])  # (after the sequence number)
    except zlib.error:
        return None
    return None


def missing_rows(data: bytes) -> tuple[int, int] | None:
    """(bytes found, bytes declared) when the PNG's image data is shorter than its
    header declares; None when it is complete (or the file is not a plain PNG)."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        return None
    width, height, depth, color_type, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    expected = expected_idat_bytes(width, height, depth, color_type, interlace)
    found = inflated_idat_bytes(data, expected)
    if found is None or found >= expected:
        return None
    return found, expected
