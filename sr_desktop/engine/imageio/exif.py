"""EXIF and orientation helpers of the image reader/writer.

The EXIF block is kept as raw bytes in the form JPEG carries it: ``b"Exif\\0\\0"`` followed
by a little TIFF structure (header, IFD0, sub-IFDs). To keep it faithful (maker notes,
unknown tags), the writer never re-serialises a block that came from a JPEG/PNG/WebP: it
patches the few values that must change (orientation, pixel dimensions) in place.
"""

from __future__ import annotations

import logging
import struct

import numpy as np

log = logging.getLogger(__name__)

EXIF_PREFIX = b"Exif\x00\x00"

TAG_ORIENTATION = 0x0112
TAG_EXIF_IFD = 0x8769
TAG_GPS_IFD = 0x8825
TAG_PIXEL_X = 0xA002
TAG_PIXEL_Y = 0xA003
TAG_IMAGE_WIDTH = 0x0100
TAG_IMAGE_LENGTH = 0x0101
TAG_INTEROP_IFD = 0xA005
TAG_X_RESOLUTION = 0x011A
TAG_Y_RESOLUTION = 0x011B

# IFD0 tags that describe the picture rather than the file layout: the only IFD0 tags
# moved between a TIFF's own directory and an EXIF block.
DESCRIPTIVE_IFD0_TAGS = (
    0x010E,  # ImageDescription
    0x010F,  # Make
    0x0110,  # Model
    TAG_ORIENTATION,
    0x0131,  # Software
    0x0132,  # DateTime
    0x013B,  # Artist
    0x013C,  # HostComputer
    0x8298,  # Copyright
)
SUB_IFD_TAGS = (TAG_EXIF_IFD, TAG_GPS_IFD)

_SHORT, _LONG, _IFD = 3, 4, 13


def normalize_exif(raw: bytes | None) -> bytes | None:
    """``raw`` with the ``Exif\\0\\0`` prefix, or None when it is not a TIFF-structured block."""
    if not raw:
        return None
    body = raw[len(EXIF_PREFIX):] if raw.startswith(EXIF_PREFIX) else raw
    if body[:4] not in (b"II*\x00", b"MM\x00*"):
        return None
    return EXIF_PREFIX + bytes(body)


def _opened(raw: bytes | None) -> tuple[bytearray, str, int, list] | None:
    """The TIFF structure of an EXIF block, to edit in place, its byte order (``<`` or
    ``>``), where its IFD0 is and IFD0's entries (`_ifd_entries`); None when it is not one or
    its IFD0 cannot be read."""
    raw = normalize_exif(raw)
    if raw is None:
        return None
    tiff = bytearray(raw[len(EXIF_PREFIX):])
    endian = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd0,) = struct.unpack_from(endian + "I", tiff, 4)
        return tiff, endian, ifd0, list(_ifd_entries(tiff, endian, ifd0))
    except struct.error:
        log.info("EXIF block is malformed; dropping it")
        return None


def _ifd_entries(tiff: bytes | bytearray, endian: str, ifd_offset: int):
    """Yield ``(entry_offset, tag, type, count)`` for each entry of the IFD at ``ifd_offset``."""
    (count,) = struct.unpack_from(endian + "H", tiff, ifd_offset)
    for i in range(count):
        pos = ifd_offset + 2 + 12 * i
        tag, typ, n = struct.unpack_from(endian + "HHI", tiff, pos)
        yield pos, tag, typ, n


def _inline_value(tiff: bytes | bytearray, endian: str, pos: int, typ: int, n: int) -> int | None:
    """The single SHORT/LONG value stored inside an IFD entry (None for any other)."""
    if n != 1 or typ not in (_SHORT, _LONG):
        return None
    return struct.unpack_from(endian + ("H" if typ == _SHORT else "I"), tiff, pos + 8)[0]


def _set_inline(tiff: bytearray, endian: str, pos: int, typ: int, n: int, value: int) -> bool:
    """Overwrite a single SHORT/LONG value stored inside an IFD entry; False if impossible."""
    if n != 1:
        return False
    if typ == _SHORT and 0 <= value <= 0xFFFF:
        struct.pack_into(endian + "H", tiff, pos + 8, value)
        return True
    if typ == _LONG and 0 <= value <= 0xFFFFFFFF:
        struct.pack_into(endian + "I", tiff, pos + 8, value)
        return True
    return False


def patch_exif(raw: bytes | None, size: tuple[int, int] | None = None, turned: int = 1) -> bytes | None:
    """The EXIF block with orientation set to 1 (normal) and, when ``size=(w, h)`` is given,
    the EXIF pixel dimensions updated. Edits bytes in place, so nothing else changes — but
    for a block whose orientation was not normal (its pixels have been turned upright): its
    thumbnail (IFD1) is unlinked, being in the old orientation (a portrait photo's stayed
    sideways in galleries), and after a quarter turn its X and Y resolution are swapped.
    ``turned``: the orientation the pixels were turned from when the block no longer says it
    (pillow-heif resets the tag of the HEIC photos libheif turns).

    Returns None (drop the block) when it is too malformed to patch: writing back an
    orientation we could not reset would show the upright pixels rotated.
    """
    opened = _opened(raw)
    if opened is None:
        return None
    tiff, endian, ifd0, entries = opened
    try:
        exif_ifd = None
        resolution_at: dict[int, int] = {}  # tag -> where its value (an offset) is stored
        for pos, tag, typ, n in entries:
            if tag == TAG_ORIENTATION:
                stated = _inline_value(tiff, endian, pos, typ, n)
                if not _set_inline(tiff, endian, pos, typ, n, 1):
                    log.info("EXIF orientation has an odd encoding; dropping the EXIF block")
                    return None
                if stated is not None and 2 <= stated <= 8:  # (the reader takes 0 and 9+ for 1: not turned)
                    turned = stated
            if tag in (TAG_X_RESOLUTION, TAG_Y_RESOLUTION):
                resolution_at[tag] = pos + 8
            if size is not None and tag in (TAG_IMAGE_WIDTH, TAG_IMAGE_LENGTH):
                # (phones record the size in IFD0 too: it kept the old one)
                _set_inline(tiff, endian, pos, typ, n, size[0] if tag == TAG_IMAGE_WIDTH else size[1])
            if tag == TAG_EXIF_IFD and typ == _LONG and n == 1:
                (exif_ifd,) = struct.unpack_from(endian + "I", tiff, pos + 8)
        if 2 <= turned <= 8:
            next_ifd = ifd0 + 2 + 12 * len(entries)
            if next_ifd + 4 <= len(tiff):  # (a block may end at IFD0's last entry: no IFD1)
                struct.pack_into(endian + "I", tiff, next_ifd, 0)  # no IFD1
        if turned >= 5 and len(resolution_at) == 2:
            x_at, y_at = resolution_at[TAG_X_RESOLUTION], resolution_at[TAG_Y_RESOLUTION]
            tiff[x_at:x_at + 4], tiff[y_at:y_at + 4] = tiff[y_at:y_at + 4], tiff[x_at:x_at + 4]
        if size is not None and exif_ifd:
            values = {TAG_PIXEL_X: size[0], TAG_PIXEL_Y: size[1]}
            for pos, tag, typ, n in list(_ifd_entries(tiff, endian, exif_ifd)):
                if tag in values:
                    _set_inline(tiff, endian, pos, typ, n, values[tag])
    except struct.error:
        log.info("EXIF block is malformed; dropping it")
        return None
    return EXIF_PREFIX + bytes(tiff)


def descriptive_tags(exif) -> tuple[dict[int, object], dict[int, dict]]:
    """What moves between a TIFF's own directory and an EXIF block, from a ``PIL.Image.Exif``:
    its descriptive IFD0 tags, and its non-empty Exif/GPS sub-directories (tag -> dict)."""
    ifd0 = {tag: exif[tag] for tag in DESCRIPTIVE_IFD0_TAGS if tag in exif}
    sub_ifds = {tag: dict(sub) for tag in SUB_IFD_TAGS if (sub := exif.get_ifd(tag))}
    # the Interoperability directory is reached by an offset into the source file: copied as a
    # number it pointed into another file's pixel data (strict readers flagged a broken block)
    sub_ifds.get(TAG_EXIF_IFD, {}).pop(TAG_INTEROP_IFD, None)
    return ifd0, sub_ifds


def exif_from_tiff_tags(exif) -> bytes | None:
    """An EXIF block made of the descriptive tags of a TIFF's own directory.

    ``exif`` is the ``PIL.Image.Exif`` of a TIFF file; its IFD0 also holds layout tags
    (strip offsets, bits per sample...) that must not travel to another file.
    """
    from PIL import Image as PILImage

    out = PILImage.Exif()
    ifd0, sub_ifds = descriptive_tags(exif)
    for tag, value in {**ifd0, **sub_ifds}.items():
        out[tag] = value
    if not len(out):
        return None
    return normalize_exif(out.tobytes())


def orientation_of(exif) -> int:
    """The EXIF orientation (1..8) of a ``PIL.Image.Exif``; 1 when absent or invalid."""
    try:
        value = int(exif.get(TAG_ORIENTATION, 1))
    except (TypeError, ValueError):
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored H×W×C pixels upright according to the EXIF orientation (1..8).

    Orientation N says how the stored rows map to the scene: 2 mirrored, 3 rotated 180°,
    4 flipped, 5 transposed, 6 needs 90° clockwise, 7 transversed, 8 needs 90° counter-clockwise.
    """
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(pixels, k=-1)
    if orientation == 7:
        return pixels[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(pixels, k=1)
    return pixels


#: bytes per value of each TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
#: UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE)
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}


def without_gps(raw: bytes | None) -> bytes | None:
    """The EXIF block with its GPS directory (position, altitude, time, direction) erased:
    every IFD0 entry that leads to one unlinked, and the directory's bytes zeroed where they
    lie inside the block and outside the IFD0 and EXIF tables; everything else in place (as
    `patch_exif`: never re-serialised). Unchanged without one; None when IFD0 cannot be
    read (as `patch_exif`)."""
    opened = _opened(raw)
    if opened is None:
        return None
    tiff, endian, ifd0, entries = opened
    gps = [(pos, typ, n) for pos, tag, typ, n in entries if tag == TAG_GPS_IFD]
    if not gps:
        return EXIF_PREFIX + bytes(tiff)
    # (a block may end at IFD0's last entry, without the next-directory pointer)
    table_end = min(ifd0 + 2 + 12 * len(entries) + 4, len(tiff))
    others = [e for e in entries if e[1] != TAG_GPS_IFD]
    kept_spans = [(0, 8), (ifd0, table_end), *_spans_of(tiff, endian, others)]
    for pos, typ, n in gps:  # (a block may list it twice, or as a SHORT: readers follow each)
        if n == 1 and typ in (_SHORT, _LONG, _IFD):
            (offset,) = struct.unpack_from(endian + ("H" if typ == _SHORT else "I"), tiff, pos + 8)
            _zero_directory(tiff, endian, offset, kept_spans)
    # the GPS entries go; the others, and the next-directory pointer, move up
    pointer = bytes(tiff[ifd0 + 2 + 12 * len(entries):table_end])
    table = (struct.pack(endian + "H", len(others)) + b"".join(bytes(tiff[e[0]:e[0] + 12]) for e in others)
             + pointer)
    tiff[ifd0:table_end] = table + bytes(table_end - ifd0 - len(table))
    return EXIF_PREFIX + bytes(tiff)


def _spans_of(tiff: bytearray, endian: str, entries: list) -> list[tuple[int, int]]:
    """Where the values of IFD0's `entries` lie outside its table, and the EXIF sub-directory's
    table and values: what erasing the GPS data must not touch (a GPS value pointing into
    the camera's name zeroed it)."""
    spans = []
    for pos, tag, typ, n in entries:
        try:
            spans += _values_of(tiff, endian, [(pos, tag, typ, n)])
            if tag == TAG_EXIF_IFD and n == 1 and typ in (_LONG, _IFD):
                (offset,) = struct.unpack_from(endian + "I", tiff, pos + 8)
                sub = list(_ifd_entries(tiff, endian, offset))
                spans += [(offset, offset + 2 + 12 * len(sub) + 4), *_values_of(tiff, endian, sub)]
        except struct.error:
            continue
    return spans


def _values_of(tiff: bytearray, endian: str, entries: list) -> list[tuple[int, int]]:
    """The (start, stop) of each value of `entries` stored outside its table."""
    spans = []
    for pos, _tag, typ, n in entries:
        size = _TYPE_SIZES.get(typ, 1) * n
        if size > 4:
            (at,) = struct.unpack_from(endian + "I", tiff, pos + 8)
            spans.append((at, at + size))
    return spans


def _zero_directory(tiff: bytearray, endian: str, offset: int, kept: list[tuple[int, int]]) -> None:
    """Zero an IFD's table and the values it stores outside it, but any byte of the `kept`
    spans (a pointer into IFD0 zeroed the camera's name); a directory or value beyond the
    block is left (nothing there to read)."""
    def zero(start: int, stop: int) -> None:
        if stop <= len(tiff) and not any(start < b and a < stop for a, b in kept):
            tiff[start:stop] = bytes(stop - start)

    if any(a <= offset < b for a, b in kept):  # (a "GPS directory" that is IFD0, or inside a value)
        return
    try:
        entries = list(_ifd_entries(tiff, endian, offset))
        values = _values_of(tiff, endian, entries)
    except struct.error:
        return
    for start, stop in values:
        zero(start, stop)
    zero(offset, offset + 2 + 12 * len(entries) + 4)


TAG_COLOR_SPACE = 0xA001
TAG_INTEROP_INDEX = 0x0001
#: EXIF's ColorSpace "uncalibrated": with the interoperability index "R03", Adobe RGB (DCF)
_UNCALIBRATED = 0xFFFF


def exif_colour_space(exif) -> str | None:
    """``"adobe-rgb"`` when the EXIF (a Pillow ``Exif``) states Adobe RGB the DCF way —
    ColorSpace uncalibrated and the interoperability index ``R03``, what cameras set to Adobe
    RGB write instead of a profile — else None (sRGB, or nothing said)."""
    try:
        sub = exif.get_ifd(TAG_EXIF_IFD)
        if sub.get(TAG_COLOR_SPACE) != _UNCALIBRATED:
            return None
        index = exif.get_ifd(TAG_INTEROP_IFD).get(TAG_INTEROP_INDEX)
    except Exception:  # noqa: BLE001 - a malformed block states nothing
        return None
    if isinstance(index, bytes):
        index = index.decode("ascii", "replace")
    return "adobe-rgb" if isinstance(index, str) and index.strip("\0 ") == "R03" else None
