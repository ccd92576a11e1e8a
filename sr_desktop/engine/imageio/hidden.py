"""Hidden files and folders, which the app leaves out of a folder it reads: a camera's
``.thumbnails``, a USB drive's ``.Trash-1000`` of deleted photos, an editor's cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

#: the file-system flags that hide an entry: Windows' attribute, macOS' ``chflags hidden``
_HIDDEN_ATTRIBUTES = getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 0)
_HIDDEN_FLAGS = getattr(stat, "UF_HIDDEN", 0)


def is_hidden(entry: os.DirEntry | str | os.PathLike) -> bool:
    """Whether a folder entry (or path) is hidden: its name starts with a dot, or the file
    system marks it hidden (Windows, macOS). The entry itself, not what a link points to."""
    name = entry.name if isinstance(entry, os.DirEntry) else Path(entry).name
    if name.startswith("."):
        return True
    if not (_HIDDEN_ATTRIBUTES or _HIDDEN_FLAGS):  # (Linux: a dot name is the only way)
        return False
    try:
        info = entry.stat(follow_symlinks=False) if isinstance(entry, os.DirEntry) else os.lstat(entry)
    except OSError:
        return False
    return bool(getattr(info, "st_file_attributes", 0) & _HIDDEN_ATTRIBUTES
                or getattr(info, "st_flags", 0) & _HIDDEN_FLAGS)


def hidden_below(path: Path, root: Path) -> bool:
    """Whether `path`, or a folder between `root` and it, has a hidden name (a dot name):
    what a recursive listing of `root` leaves out."""
    return any(part.startswith(".") for part in path.relative_to(root).parts)
