"""One training run per run folder at a time.

Two runs in one ``--out`` (the window and a terminal ``--resume``, two windows) deleted each
other's checkpoint files and temporaries: the folder could end with ``latest.json`` naming a
file that was gone, and the run was lost. A run holds ``OUT/.sr-desktop-train.lock`` (its
process id) while it writes there; a second run is refused in one line. A lock left by a
process that no longer exists (killed) is taken over.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import psutil

from sr_desktop.engine.training.errors import TrainingError

LOCK_NAME = ".sr-desktop-train.lock"


def _holder(path: Path) -> int | None:
    """The process id written in the lock file, or None (gone, unreadable, not a number)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def run_folder_lock(out: Path) -> Iterator[None]:
    """Hold the run folder `out` (which exists) for the duration; `TrainingError` when a run
    of a live process holds it, this process's own other runs included."""
    path = Path(out) / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None and psutil.pid_exists(holder):
                raise TrainingError(f"{out} is being trained by process {holder}: wait for that run, stop it, "
                                    "or choose another run folder") from None
            with contextlib.suppress(OSError):
                path.unlink()  # left by a run that was killed
            continue
        except OSError as exc:
            raise TrainingError(f"cannot write in the run folder {out}: {exc.strerror or exc}") from None
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    else:
        raise TrainingError(f"cannot lock the run folder {out}: another run keeps taking {LOCK_NAME}")
    try:
        yield
    finally:
        if _holder(path) == os.getpid():
            with contextlib.suppress(OSError):
                path.unlink()
