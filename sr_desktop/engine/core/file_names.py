"""How long a file name may be, and names cut to fit.

Common file systems (ext4, XFS, APFS) take names of at most 255 bytes in their UTF-8
encoding; NTFS takes 255 UTF-16 units, which is never fewer characters. A longer name makes
every call on the path fail (`OSError` ENAMETOOLONG), so names the app makes up are cut
to fit and names the user chose are refused before any work.
"""

from __future__ import annotations

import os

#: the longest file name, in `NAME_UNIT`s
NAME_MAX = 255
#: Windows (NTFS) counts a name in UTF-16 units; the others in bytes of its encoding (UTF-8):
#: counted in bytes there, 81 CJK characters (96 units) were refused as 258 bytes long
WINDOWS = os.name == "nt"
#: what `name_length` counts, as messages name it
NAME_UNIT = "characters" if WINDOWS else "bytes"


def name_length(name: str) -> int:
    """The length of file name `name` as the file system counts it (`NAME_UNIT`)."""
    if WINDOWS:
        return len(name.encode("utf-16-le", "surrogatepass")) // 2
    return len(os.fsencode(name))


def fitting_name(stem: str, tail: str) -> str:
    """``stem + tail`` with `stem` shortened (whole characters) until the name fits
    `NAME_MAX`; `tail` (an added ``_x4_model.png``) is kept whole."""
    room = NAME_MAX - name_length(tail)
    while stem and name_length(stem) > room:
        stem = stem[:-1]
    return stem + tail
