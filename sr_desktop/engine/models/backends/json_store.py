"""The backends' small JSON files in the user cache (measured choices, the conversion
index): a dict read leniently and updated one key at a time, under a lock file, by an
atomic rename."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

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


def update_json_dict(path: Path, key: str, value) -> None:
    """Set ``path[key] = value`` (a no-op when it already is), read and written under a lock
    file beside it (``PATH.lock``): four processes measuring at once kept 59 of their 160
    entries, each writing back the file it had read. A read-only cache is logged, not
    raised: it only costs work next time."""
    with _LOCK:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with held_lock(path.with_name(path.name + ".lock")):
                data = read_json_dict(path)
                if data.get(key) == value:
                    return
                data[key] = value
                encoded = json.dumps(data, indent=1, sort_keys=True).encode("utf-8")
                atomic_write(path, lambda fh: fh.write(encoded))
        except OSError as exc:
            log.info("backends: cannot update %s (%s)", path, exc)


def remove_json_keys(path: Path, doomed: Callable[[str], bool]) -> int:
    """Delete the keys of `path` for which `doomed(key)` is true, under the same lock as
    `update_json_dict`; how many went. `OSError` when the file cannot be rewritten."""
    with _LOCK:
        if not path.is_file():
            return 0
        with held_lock(path.with_name(path.name + ".lock")):
            data = read_json_dict(path)
            kept = {key: value for key, value in data.items() if not doomed(key)}
            if len(kept) < len(data):
                encoded = json.dumps(kept, indent=1, sort_keys=True).encode("utf-8")
                atomic_write(path, lambda fh: fh.write(encoded))
            return len(data) - len(kept)
