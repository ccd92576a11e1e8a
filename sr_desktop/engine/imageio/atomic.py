"""Atomic file writing: a hidden temporary sibling, fsync'ed, then renamed over the target.

On any failure the temporary file is removed and the target is untouched; a temporary
file is left behind only when the process is killed, and :func:`is_temp_path` spots it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")


def temp_path_for(target: Path) -> Path:
    """The hidden sibling ``.<name>.<8 hex>.part`` an output is encoded into before its rename."""
    return target.with_name(f"{_temp_head(target)}.{secrets.token_hex(4)}.part")


def _temp_head(target: Path) -> str:
    """``.<name>``, the part of `target`'s temp names before their random part."""
    # cut by bytes, not characters: 150 accented letters are 300 bytes, past the 255 a name may have
    head = os.fsencode(target.name)[:150].decode(errors="ignore") if os.name == "posix" else target.name[:150]
    return f".{head}"


def remove_stale_temps_of(target: Path, older_than_s: float = 600.0) -> int:
    """Delete the temporary siblings of `target` that a killed write left (untouched for
    `older_than_s`: a younger one may be another process writing it now); how many."""
    removed = 0
    try:
        candidates = list(target.parent.glob(glob.escape(_temp_head(target)) + ".*.part"))
    except OSError:
        return 0
    for path in candidates:
        try:
            if is_temp_path(path) and time.time() - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def is_temp_path(path: str | os.PathLike) -> bool:
    """True for a temporary file of `write_image` (left behind only if the process was killed)."""
    return bool(_TEMP_NAME.match(Path(path).name))


def atomic_write(target: Path, encode: Callable[[BinaryIO], object]) -> None:
    """Run ``encode(binary_file)`` into a temporary sibling of ``target``, then rename it."""
    temp = temp_path_for(target)
    # os.open with 0o666 (not mkstemp's 0o600) so the result gets the user's usual umask.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            encode(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_folder(target.parent)


def probe_writable(folder: Path) -> None:
    """Create and remove a temporary file in `folder`: the `OSError` a later write there
    would meet (read-only, no permission, a pseudo file system), raised before long work
    rather than after it."""
    probe = temp_path_for(Path(folder) / "probe")
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.unlink(probe)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); best effort, not possible on every platform."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

