"""IPTC-IIM records (caption, creator, copyright, keywords…): where files keep them.

Photo tools write them beside XMP: in a JPEG as the IPTC-NAA resource (0x0404) of a
Photoshop APP13 segment, in a TIFF as tag 33723. Only those records are carried: the rest of
a Photoshop segment (a thumbnail of the original, its old resolution) would describe the
input, not the upscaled output.
"""

from __future__ import annotations

import struct

#: the Photoshop image resource that holds the IPTC-NAA records
IPTC_RESOURCE = 0x0404
#: the TIFF tag that holds them
IPTC_TIFF_TAG = 33723
#: every IPTC-IIM record starts with this byte
_RECORD_MARKER = 0x1C
_PHOTOSHOP = b"Photoshop 3.0\x00"
_JPEG_SEGMENT_MAX = 65533  # a segment's length field counts itself: 65535 - 2


def iptc_of(im) -> bytes | None:
    """The IPTC records of the loaded Pillow image `im` (JPEG or TIFF), or None."""
    data = None
    if im.format == "JPEG":
        data = (im.info.get("photoshop") or {}).get(IPTC_RESOURCE)
    elif im.format == "TIFF":
        # the tag's bytes as stored: it is often typed LONG, and Pillow's value of it keeps
        # one number (its tag table says one) — the records were dropped from such files
        tags = getattr(im, "tag_v2", None)
        data = getattr(tags, "_tagdata", {}).get(IPTC_TIFF_TAG)
        if data is None and tags is not None:
            data = tags.get(IPTC_TIFF_TAG)
    if isinstance(data, (bytes, bytearray)):
        return _whole_records(bytes(data))
    return None


def _whole_records(data: bytes) -> bytes | None:
    """`data` up to the end of its last whole record (the padding to the resource's or the
    LONGs' size cut off), None when it does not start with one."""
    pos = 0
    while pos + 5 <= len(data) and data[pos] == _RECORD_MARKER:
        (length,) = struct.unpack_from(">H", data, pos + 3)
        if length & 0x8000:  # an extended length (over 32 KB in one record): kept as it is
            return data if pos else None
        if pos + 5 + length > len(data):
            break  # a cut record: the whole ones before it are kept
        pos += 5 + length
    return data[:pos] or None


def jpeg_app13(iptc: bytes) -> bytes | None:
    """A JPEG APP13 segment holding only `iptc` as the IPTC-NAA resource; None when it does
    not fit one segment."""
    body = bytes(iptc) + (b"\x00" if len(iptc) % 2 else b"")
    resource = b"8BIM" + struct.pack(">H", IPTC_RESOURCE) + b"\x00\x00" + struct.pack(">I", len(iptc)) + body
    payload = _PHOTOSHOP + resource
    if len(payload) + 2 > _JPEG_SEGMENT_MAX + 2:
        return None
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
