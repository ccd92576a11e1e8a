"""The set of files a write must never replace (a batch's inputs)."""

from __future__ import annotations

import os
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path

#: macOS' file systems (APFS, HFS+) take a name as one file whatever its case and Unicode
#: form (``Photo.png`` is ``photo.png``; ``é`` composed or not); Windows' case is `os.path.normcase`'s
FOLDS_NAMES = sys.platform == "darwin"


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def resolved(path: str | os.PathLike) -> Path:
    """The absolute path with symlinks resolved as far as they go; never raises.

    ``Path.resolve()`` raises ``RuntimeError`` on a symlink loop (Python < 3.13), which
    would stop a whole run over one bad input; ``os.path.realpath`` leaves the loop as is.
    """
    return Path(os.path.realpath(os.fspath(path)))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether `a` and `b` name one file (by the file system; by their resolved names when
    one of them does not exist); never raises."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return name_key(a) == name_key(b)


def name_key(path: str | os.PathLike, resolve: bool = True) -> str:
    """The key of the file `path` names, as the file system compares names: equal for two
    names of one file (case on Windows and macOS, Unicode form on macOS). Resolved first
    (`resolved`) unless ``resolve`` is False (a name as given: a link is a file of its own)."""
    return _folded(str(resolved(path)) if resolve else os.fspath(path))


def _folded(text: str) -> str:
    text = os.path.normcase(text)
    if FOLDS_NAMES:
        text = unicodedata.normalize("NFD", text).casefold()
    return text


class NameKeys:
    """`name_key` (resolved) for the many files of a few folders, for one moment's work (a
    batch's plan): each folder is resolved once and each path's key made once — a file's
    resolved name is its folder's joined with its own name, unless that name is a link.
    Planning 50 000 files took 6 s, most of it resolving every component of every name,
    several times over. The folders are taken not to change meanwhile."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}
        self._keys: dict[str, str] = {}

    def __call__(self, path: str | os.PathLike) -> str:
        text = os.fspath(path)
        key = self._keys.get(text)
        if key is None:
            key = self._keys[text] = _folded(self._resolved(text))
        return key

    def _resolved(self, text: str) -> str:
        if os.pardir in text.replace(os.altsep or os.sep, os.sep).split(os.sep):  # (``link/..`` is not what it says)
            return os.path.realpath(text)
        head, tail = os.path.split(os.path.abspath(text))
        if not tail:
            return os.path.realpath(text)
        folder = self._folders.get(head)
        if folder is None:
            folder = self._folders[head] = os.path.realpath(head)
        joined = os.path.join(folder, tail)
        return os.path.realpath(joined) if os.path.islink(joined) else joined


class ProtectedPaths:
    """Files that must never be written over (a batch's inputs), indexed once.

    ``write_image(protect=...)`` compares its target with every protected path; with a
    plain list that is one ``samefile`` / ``resolve`` per input for every output, i.e.
    quadratic over a batch. This keeps the resolved names and the (device, inode) of
    the files that exist, so each check is two set lookups.
    """

    def __init__(self, paths: Iterable[str | os.PathLike] = ()):
        self._names: set[str] = set()
        self._ids: set[tuple[int, int]] = set()
        for p in paths:
            self.add(p)

    def add(self, path: str | os.PathLike) -> None:
        """Protect one more path (it may not exist yet)."""
        path = Path(path)
        self._names.add(name_key(path))
        file_id = _file_id(path)
        if file_id is not None:
            self._ids.add(file_id)

    def __contains__(self, path: object) -> bool:
        target = Path(path)  # type: ignore[arg-type]
        file_id = _file_id(target)
        if file_id is not None and file_id in self._ids:
            return True  # the same file under another name (hard link, case, symlink)
        return name_key(target) in self._names

    def __len__(self) -> int:
        return len(self._names)

