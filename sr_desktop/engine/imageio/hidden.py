"""Hidden files and folders, which the app leaves out of a folder it reads: a camera's
``.thumbnails``, a USB drive's ``.Trash-1000`` of deleted photos, an editor's cache."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

#: whether the file system can mark an entry hidden (Windows' attribute, macOS' ``chflags
#: hidden``); elsewhere a dot name is the only way, and no entry is looked at
MARKS_HIDDEN = sys.platform in ("win32", "darwin")


def is_hidden(entry: os.DirEntry | str | os.PathLike) -> bool:
    """Whether a folder entry (or path) is hidden: its name starts with a dot, or the file
    system marks it hidden (Windows, macOS). The entry itself, not what a link points to."""
    name = entry.name if isinstance(entry, os.DirEntry) else Path(entry).name
    if name.startswith("."):
        return True
    if not MARKS_HIDDEN:
        return False
    try:
        info = entry.stat(follow_symlinks=False) if isinstance(entry, os.DirEntry) else os.lstat(entry)
    except OSError:
        return False
    return bool(getattr(info, "st_file_attributes", 0) & stat.FILE_ATTRIBUTE_HIDDEN
                or getattr(info, "st_flags", 0) & stat.UF_HIDDEN)
