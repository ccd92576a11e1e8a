"""A TIFF encoder for H×W×C uint8/uint16 arrays (gray, gray+alpha, RGB, RGBA), one page or several.

Pillow has no 16-bit RGB(A) image mode, and OpenCV writes no metadata, so the engine
writes TIFF itself: little-endian baseline TIFF, Deflate compression with the horizontal
predictor, unassociated alpha, ICC profile (tag 34675), resolution, and the EXIF
information as TIFF carries it (descriptive IFD0 tags plus the Exif and GPS sub-IFDs).
Pillow's ``ImageFileDirectory_v2`` serialises the directory (it knows every tag's type).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import BinaryIO

import numpy as np

from sr_desktop.engine.imageio.exif import descriptive_tags
from sr_desktop.engine.imageio.iptc import IPTC_TIFF_TAG
from sr_desktop.engine.imageio.metadata import NO_METADATA, FileMetadata

_STRIP_BYTES = 1 << 18  # uncompressed bytes per strip
_MAX_CLASSIC_TIFF = (1 << 32) - 1

_DEFLATE = 8
_PREDICTOR_HORIZONTAL = 2
_UNASSOCIATED_ALPHA = 2


class TiffTooLarge(ValueError):
    """The compressed image does not fit a classic (32-bit offset) TIFF."""


def _strips(pixels: np.ndarray, rows_per_strip: int, level: int,
            rows_done: Callable[[int], None] | None = None) -> list[bytes]:
    """Deflate-compressed strips with horizontal differencing (TIFF predictor 2);
    ``rows_done(n)`` after each."""
    out = []
    little = "<u2" if pixels.dtype == np.uint16 else np.uint8
    for top in range(0, pixels.shape[0], rows_per_strip):
        block = pixels[top : top + rows_per_strip]
        diff = np.empty_like(block)
        diff[:, 0] = block[:, 0]
        np.subtract(block[:, 1:], block[:, :-1], out=diff[:, 1:])  # wraps modulo 2**bits
        out.append(zlib.compress(diff.astype(little).tobytes(), level))
        if rows_done is not None:
            rows_done(top + block.shape[0])
    return out


def encode_tiff(
    fh: BinaryIO, pixels: np.ndarray, metadata: FileMetadata = NO_METADATA, level: int = 6,
    rows_done: Callable[[int], None] | None = None,
) -> None:
    """Write ``pixels`` (H×W×C, uint8 or uint16, C in 1..4) as a TIFF to the binary file ``fh``.

    ``metadata.exif`` is an EXIF block (``Exif\\0\\0`` + TIFF structure); its descriptive
    IFD0 tags and its Exif/GPS sub-directories are merged into the TIFF's own directory.
    ``rows_done(n)`` is called as the rows are compressed.
    """
    encode_tiff_pages(fh, [(pixels, metadata)], level, rows_done)


def encode_tiff_pages(
    fh: BinaryIO, pages: Sequence[tuple[np.ndarray, FileMetadata]], level: int = 6,
    rows_done: Callable[[int], None] | None = None,
) -> None:
    """Write several pages (each as :func:`encode_tiff` takes it, own size, depth and
    channels) as one multi-page TIFF: each directory points to the next. ``rows_done(n)``:
    the rows of all pages compressed so far."""
    fh.write(b"II*\x00" + struct.pack("<I", 8))
    position = 8
    before = 0  # the rows of the pages written
    for index, (pixels, metadata) in enumerate(pages):
        page_rows = None if rows_done is None else (lambda n, before=before: rows_done(before + n))
        ifd, strips = _page(pixels, metadata, level, page_rows)
        before += pixels.shape[0]
        directory = bytearray(ifd.tobytes(position))  # (strip offsets: after the directory)
        end = position + len(directory) + sum(len(strip) for strip in strips)
        pad = end & 1  # the next directory starts on a word boundary
        if end + pad > _MAX_CLASSIC_TIFF:
            raise TiffTooLarge("the compressed image is larger than 4 GB, too large for TIFF")
        if index + 1 < len(pages):
            (entries,) = struct.unpack_from("<H", directory, 0)
            struct.pack_into("<I", directory, 2 + 12 * entries, end + pad)  # next IFD offset
        fh.write(directory)
        for strip in strips:
            fh.write(strip)
        fh.write(b"\x00" * pad)
        position = end + pad


def _page(pixels: np.ndarray, metadata: FileMetadata, level: int, rows_done: Callable[[int], None] | None = None):
    """The directory of one page (strip offsets relative to its end) and its strips."""
    from PIL import Image as PILImage
    from PIL import TiffImagePlugin, TiffTags

    height, width, channels = pixels.shape
    bits = 16 if pixels.dtype == np.uint16 else 8
    row_bytes = width * channels * bits // 8
    rows_per_strip = max(1, min(height, _STRIP_BYTES // max(1, row_bytes)))
    strips = _strips(pixels, rows_per_strip, level, rows_done)

    icc_profile, dpi = metadata.icc_profile, metadata.dpi
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    if metadata.exif:
        info = PILImage.Exif()
        info.load(metadata.exif)
        ifd0, sub_ifds = descriptive_tags(info)
        for tag, value in ifd0.items():
            ifd[tag] = value
        for tag, sub in sub_ifds.items():
            ifd[tag] = sub
            ifd.tagtype[tag] = TiffTags.LONG

    def put(tag: int, value, typ: int) -> None:
        ifd[tag] = value
        ifd.tagtype[tag] = typ

    short, long_, rational, undefined = (
        TiffTags.SHORT,
        TiffTags.LONG,
        TiffTags.RATIONAL,
        TiffTags.UNDEFINED,
    )
    if metadata.xmp:
        put(700, metadata.xmp, TiffTags.BYTE)  # XMLPacket
    put(256, width, long_)  # ImageWidth
    put(257, height, long_)  # ImageLength
    put(258, (bits,) * channels, short)  # BitsPerSample
    put(259, _DEFLATE, short)  # Compression
    put(262, 1 if channels <= 2 else 2, short)  # Photometric: BlackIsZero / RGB
    put(277, channels, short)  # SamplesPerPixel
    put(278, rows_per_strip, long_)  # RowsPerStrip
    put(284, 1, short)  # PlanarConfiguration: chunky
    put(317, _PREDICTOR_HORIZONTAL, short)  # Predictor
    put(339, (1,) * channels, short)  # SampleFormat: unsigned integer
    if channels in (2, 4):
        put(338, _UNASSOCIATED_ALPHA, short)  # ExtraSamples
    if dpi:
        put(282, Fraction(float(dpi[0])).limit_denominator(1000), rational)  # XResolution
        put(283, Fraction(float(dpi[1])).limit_denominator(1000), rational)  # YResolution
        put(296, 2, short)  # ResolutionUnit: inch
    if icc_profile:
        put(34675, icc_profile, undefined)
    if metadata.iptc:
        put(IPTC_TIFF_TAG, metadata.iptc, undefined)
    # Strip offsets are relative to the end of the directory; tobytes() rebases them.
    offsets, position = [], 0
    for strip in strips:
        offsets.append(position)
        position += len(strip)
    put(273, tuple(offsets), long_)  # StripOffsets
    put(279, tuple(len(s) for s in strips), long_)  # StripByteCounts
    return ifd, strips
