"""A PNG encoder for H×W×C uint8/uint16 arrays (gray, gray+alpha, RGB, RGBA).

Pillow cannot write 16-bit RGB, RGBA or gray+alpha PNGs, and OpenCV writes no metadata,
so the engine encodes PNG itself: one code path for every depth and channel count, with
the ICC profile (iCCP), EXIF (eXIf) and resolution (pHYs) chunks. Rows are filtered with
the per-row heuristic libpng uses (smallest sum of absolute filtered bytes) and streamed
through zlib in blocks, so memory stays a few MB above the image itself.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

from sr_desktop.engine.imageio.exif import EXIF_PREFIX
from sr_desktop.engine.imageio.metadata import NO_METADATA, FileMetadata

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_BLOCK_BYTES = 1 << 21  # raw bytes filtered at a time
_IDAT_BYTES = 1 << 20


def _write_chunk(fh: BinaryIO, kind: bytes, data: bytes) -> None:
    fh.write(struct.pack(">I", len(data)))
    fh.write(kind)
    fh.write(data)
    fh.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF))


def _filter_block(rows: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    """Filter k raw rows (k×L uint8) given the raw row above them; returns k×(1+L)."""
    k, length = rows.shape
    up = np.vstack([above[None, :], rows[:-1]])
    left = np.zeros_like(rows)
    left[:, bpp:] = rows[:, :-bpp]
    up_left = np.zeros_like(rows)
    up_left[:, bpp:] = up[:, :-bpp]

    a = left.astype(np.int16)
    b = up.astype(np.int16)
    c = up_left.astype(np.int16)
    pa = np.abs(b - c)
    pb = np.abs(a - c)
    pc = np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
    average = ((a + b) >> 1).astype(np.uint8)

    candidates = np.stack(
        [rows, rows - left, rows - up, rows - average, rows - paeth.astype(np.uint8)]
    )  # 5×k×L, uint8 arithmetic wraps modulo 256 as PNG requires
    cost = np.abs(candidates.view(np.int8).astype(np.int16)).sum(axis=2, dtype=np.int64)
    best = np.argmin(cost, axis=0)  # per row: 0 none, 1 sub, 2 up, 3 average, 4 paeth
    out = np.empty((k, 1 + length), dtype=np.uint8)
    out[:, 0] = best
    out[:, 1:] = candidates[best, np.arange(k)]
    return out


def encode_png(
    fh: BinaryIO, pixels: np.ndarray, metadata: FileMetadata = NO_METADATA, level: int = 6
) -> None:
    """Write ``pixels`` (H×W×C, uint8 or uint16, C in 1..4) as a PNG to the binary file ``fh``."""
    height, width, channels = pixels.shape
    depth = 16 if pixels.dtype == np.uint16 else 8
    bpp = channels * depth // 8
    fh.write(PNG_SIGNATURE)
    _write_chunk(
        fh, b"IHDR", struct.pack(">IIBBBBB", width, height, depth, _COLOR_TYPE[channels], 0, 0, 0)
    )
    icc_profile, exif, dpi = metadata.icc_profile, metadata.exif, metadata.dpi
    if icc_profile:
        _write_chunk(fh, b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile))
    if dpi:
        ppm = [max(1, round(float(d) / 0.0254)) for d in dpi]
        _write_chunk(fh, b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    if exif:
        body = exif[len(EXIF_PREFIX):] if exif.startswith(EXIF_PREFIX) else exif
        _write_chunk(fh, b"eXIf", body)

    row_bytes = width * bpp
    rows_per_block = max(1, _BLOCK_BYTES // max(1, row_bytes))
    above = np.zeros(row_bytes, dtype=np.uint8)
    compressor = zlib.compressobj(level)
    pending = bytearray()
    for top in range(0, height, rows_per_block):
        block = pixels[top : top + rows_per_block]
        if depth == 16:
            block = block.astype(">u2")
        raw = np.ascontiguousarray(block).view(np.uint8).reshape(block.shape[0], row_bytes)
        pending += compressor.compress(_filter_block(raw, above, bpp).tobytes())
        above = raw[-1].copy()
        while len(pending) >= _IDAT_BYTES:
            _write_chunk(fh, b"IDAT", bytes(pending[:_IDAT_BYTES]))
            del pending[:_IDAT_BYTES]
    pending += compressor.flush()
    if pending:
        _write_chunk(fh, b"IDAT", bytes(pending))
    _write_chunk(fh, b"IEND", b"")
