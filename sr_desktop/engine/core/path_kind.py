"""Why a path the user gave is not the kind of thing asked for: missing, or a folder where a
file is wanted (or the other way round), said as such rather than as "not found"."""

from __future__ import annotations

import os
from pathlib import Path


def not_a(path: str | os.PathLike, kind: str) -> str | None:
    """None when `path` is a `kind` (``"file"`` or ``"folder"``); else what it is instead:
    ``"not found"``, ``"a folder, not a file"``, ``"a file, not a folder"``."""
    path = Path(path)
    if kind not in ("file", "folder"):
        raise ValueError(f"kind is 'file' or 'folder', not {kind!r}")
    if path.is_file() if kind == "file" else path.is_dir():
        return None
    if not path.exists():
        return "not found"
    if kind == "folder":
        return "a file, not a folder"
    return "a folder, not a file" if path.is_dir() else "not a regular file"


def nearest_existing_folder_or_file(path: str | os.PathLike) -> Path | None:
    """The nearest ancestor of `path` that exists (None: none does): where creating the
    folders `path` needs would start, or what stands in the way."""
    for parent in Path(path).parents:
        if parent.exists():
            return parent
    return None


def first_folder_to_make(path: str | os.PathLike) -> Path | None:
    """The outermost folder that making the folder `path` creates (what to remove to undo
    it); None when `path` exists or no ancestor does."""
    path = Path(path)
    base = nearest_existing_folder_or_file(path)
    if path.exists() or base is None:
        return None
    return base / path.relative_to(base).parts[0]


def missing_folder_reason(folder: str | os.PathLike) -> str:
    """Why `folder`, which is not a folder, takes no file: a file stands on its way
    ("afile is a file, not a folder") or it does not exist ("folder F does not exist")."""
    folder = Path(folder)
    blocker = folder if folder.exists() else file_in_the_way(folder)
    if blocker is not None and not blocker.is_dir():
        return f"{blocker} is a file, not a folder"
    return f"folder {folder} does not exist"


def file_in_the_way(path: str | os.PathLike) -> Path | None:
    """The file that stands where a folder of `path` would have to be made (``a.png`` for
    ``a.png/x.png``), else None."""
    nearest = nearest_existing_folder_or_file(path)
    return nearest if nearest is not None and not nearest.is_dir() else None
