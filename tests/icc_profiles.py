"""Colour profiles for the tests, made with Pillow (no system profile files needed)."""

from __future__ import annotations

import struct

from PIL import ImageCms


def srgb_icc() -> bytes:
    """littleCMS's sRGB profile."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def swapped_primaries_icc() -> bytes:
    """An RGB profile whose red and green primaries are swapped: its pure red is sRGB's pure
    green, a colour shift no rounding can hide."""
    data = bytearray(srgb_icc())
    entries = {}
    for i in range(struct.unpack_from(">I", data, 128)[0]):
        signature, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * i)
        entries[signature] = (132 + 12 * i, offset, size)
    (red_at, *red), (green_at, *green) = entries[b"rXYZ"], entries[b"gXYZ"]
    struct.pack_into(">II", data, red_at + 4, *green)
    struct.pack_into(">II", data, green_at + 4, *red)
    return bytes(data)
