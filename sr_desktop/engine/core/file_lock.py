"""OS locks on files, for what several processes change in one place: a training run
folder, the custom models' index, the backends' JSON files. The system drops a lock when
its process ends, killed or not, so none is ever stale.

``flock`` on POSIX; ``msvcrt.locking`` of the first byte on Windows.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

#: how often a waiting Windows lock tries again (msvcrt has no wait without an end)
WINDOWS_RETRY_SECONDS = 0.1


def _lock_fd(fd: int, wait: bool) -> bool:
    """Take the exclusive lock of the open file `fd`: wait for it, or (``wait=False``) give
    up at once, returning False when another holds it."""
    try:
        if sys.platform == "win32":
            _lock_windows(fd, wait)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        if wait:
            raise
        return False
    return True


def _lock_windows(fd: int, wait: bool) -> None:
    """`msvcrt.locking` of the first byte. Its waiting mode gives up after 10 tries a second
    apart (EDEADLOCK, "Resource deadlock avoided"): a second `models add` waiting for one
    that copies a large file failed with advice to move the app's home. So it waits here,
    trying the non-waiting mode again until the lock is free."""
    import msvcrt

    while True:
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return
        except OSError as exc:
            if not wait or exc.errno not in (errno.EACCES, errno.EDEADLK):  # (EDEADLOCK is EDEADLK there)
                raise
        time.sleep(WINDOWS_RETRY_SECONDS)


def _unlock_fd(fd: int) -> None:
    """Release the lock `_lock_fd` took."""
    with contextlib.suppress(OSError):
        if sys.platform == "win32":
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def held_lock(path: Path, wait: bool = True) -> Iterator[int | None]:
    """Hold the lock of the file `path` (created if missing) for the block, waiting for it;
    yields the descriptor holding it (to write in), or with ``wait=False`` None at once when
    another holds it. `OSError` when the file cannot be opened. The file stays: deleting it
    would let one process that opened the old file and one that made a new file both hold
    "the" lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _lock_fd(fd, wait):
            yield None
            return
        try:
            yield fd
        finally:
            _unlock_fd(fd)
    finally:
        os.close(fd)
