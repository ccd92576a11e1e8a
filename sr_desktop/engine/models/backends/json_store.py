"""The backends' small JSON files in the user cache (measured choices, the conversion
index): a dict read leniently and updated one key at a time, under a lock file, by an
atomic rename."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sr_desktop.engine.core.file_lock import held_lock
from sr_desktop.engine.imageio.atomic import atomic_write

log = logging.getLogger(__name__)
_LOCK = threading.Lock()


def read_json_dict(path: Path) -> dict:
    """The dict in `path`; {} when it is missing, unreadable or not a dict."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _rewrite(path: Path, change: Callable[[dict], dict]) -> tuple[dict, dict]:
    """Read `path`, let `change` make the new dict, write it when it differs: under this
    process's lock and a lock file beside it (``PATH.lock``), so that processes updating it
    at once keep each other's entries (four measuring at once kept 59 of their 160, each
    writing back the file it had read). (old, new); `OSError` when it cannot be written."""
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with held_lock(path.with_name(path.name + ".lock")):
            old = read_json_dict(path)
            new = change(dict(old))
            if new != old:
                encoded = json.dumps(new, indent=1, sort_keys=True).encode("utf-8")
                atomic_write(path, lambda fh: fh.write(encoded))
            return old, new


def update_json_dict(path: Path, key: str, value) -> None:
    """Set ``path[key] = value`` (a no-op when it already is). A read-only cache is logged,
    not raised: it only costs work next time."""
    try:
        _rewrite(path, lambda data: {**data, key: value})
    except OSError as exc:
        log.info("backends: cannot update %s (%s)", path, exc)


def remove_json_keys(path: Path, doomed: Callable[[str, Any], bool]) -> int:
    """Delete the entries of `path` for which `doomed(key, value)` is true; how many went.
    `OSError` when the file cannot be rewritten."""
    if not path.is_file():
        return 0
    old, new = _rewrite(path, lambda data: {k: v for k, v in data.items() if not doomed(k, v)})
    return len(old) - len(new)
