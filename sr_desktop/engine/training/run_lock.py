"""One training run per run folder at a time.

Two runs in one ``--out`` (the window and a terminal ``--resume``, two windows) deleted each
other's checkpoint files and temporaries: the folder could end with ``latest.json`` naming a
file that was gone, and the run was lost. A run holds an OS lock on
``OUT/.sr-desktop-train.lock`` (`core.file_lock`) on a descriptor
open for the whole run, and writes its process id there for the message of a second run,
which is refused in one line. The system drops the lock when the process ends, killed or
not, so no lock is ever stale; the file stays (deleting it would let a run that opened the
old file and one that makes a new file both hold "the" lock).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sr_desktop.engine.core.file_lock import held_lock
from sr_desktop.engine.training.errors import TrainingError

LOCK_NAME = ".sr-desktop-train.lock"


def _holder(path: Path) -> str:
    """' by process N' from the lock file, or '' (not written yet, unreadable)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return ""
    return f" by process {text}" if text.isdigit() else ""


@contextlib.contextmanager
def run_folder_lock(out: Path) -> Iterator[None]:
    """Hold the run folder `out` (which exists) for the duration; `TrainingError` when
    another run holds it, one of this process's own included."""
    path = Path(out) / LOCK_NAME
    with contextlib.ExitStack() as stack:
        try:
            fd = stack.enter_context(held_lock(path, wait=False))
        except OSError as exc:
            raise TrainingError(f"cannot write in the run folder {out}: {exc.strerror or exc}") from None
        if fd is None:
            raise TrainingError(f"{out} is being trained{_holder(path)}: wait for that run, stop it, "
                                "or choose another run folder")
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, str(os.getpid()).encode())
        except OSError:
            pass  # the process id is for the message only
        yield
