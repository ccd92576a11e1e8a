"""The user cache the models fill, as a whole: converted weights (``models/``), OpenVINO
conversions (``openvino/``) and measured backend choices (``backends.json``). Everything in it
is made again at its next use, so it may be emptied (`clear_cache`) to free the room it
takes (tens of MB per converted network; it had no command, only a folder to find)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from sr_desktop.engine.core import paths

log = logging.getLogger(__name__)


def cache_bytes(path: Path | None = None) -> int:
    """The bytes of the files under `path` (a file or link: its own), links not followed; by
    default the user cache's, followed when the cache folder itself is a link (as
    `clear_cache` empties what it leads to: the window asked to delete "27 B" of 5 MB)."""
    root = path is None
    path = path or paths.cache_dir()
    if (path.is_symlink() and not root) or not path.is_dir():
        try:
            return os.lstat(path).st_size
        except OSError:
            return 0
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def clear_cache() -> tuple[int, list[str]]:
    """Delete everything in the user cache (links as links: never what they lead to). The
    bytes freed, and the entries that could not be deleted (in use elsewhere, no permission),
    each with why."""
    root = paths.cache_dir()
    freed, kept = 0, []
    try:
        entries = sorted(root.iterdir())
    except FileNotFoundError:
        return 0, []
    except OSError as exc:
        return 0, [f"{root}: {exc.strerror or exc}"]
    for entry in entries:
        size = cache_bytes(entry)
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            freed += size
        except OSError as exc:
            log.info("cache: cannot delete %s (%s)", entry, exc)
            kept.append(f"{entry.name}: {exc.strerror or exc}")
    return freed, kept
