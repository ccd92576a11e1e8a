"""How long a file name may be, and names cut to fit.

Common file systems (ext4, XFS, APFS) take names of at most 255 bytes in their UTF-8
encoding; NTFS takes 255 UTF-16 units, which is never fewer characters. A longer name makes
every call on the path fail (`OSError` ENAMETOOLONG), so names the app makes up are cut
to fit and names the user chose are refused before any work.
"""

from __future__ import annotations

import os

#: the longest file name, in bytes of its file-system encoding
NAME_MAX_BYTES = 255


def name_bytes(name: str) -> int:
    """The length of file name `name` in bytes of the file-system encoding."""
    return len(os.fsencode(name))


def fitting_name(stem: str, tail: str) -> str:
    """``stem + tail`` with `stem` shortened (whole characters) until the name fits
    `NAME_MAX_BYTES`; `tail` (an added ``_model_x4.png``) is kept whole."""
    room = NAME_MAX_BYTES - name_bytes(tail)
    while stem and name_bytes(stem) > room:
        stem = stem[:-1]
    return stem + tail
