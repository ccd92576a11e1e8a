"""What native libraries write on file descriptor 2, kept off the user's terminal for one
block of code (Python's ``sys.stderr`` is not where C and C++ code writes).

Blocks may overlap in several threads (the window's jobs): the first to start points
descriptor 2 at the null device and the last to end puts the terminal back. Each saving and
restoring on its own left the descriptor at the null device for good when two overlapped
(the second saved the first's null device and restored it last).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()
_depth = 0
_saved: int | None = None


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send what is written on descriptor 2 to the null device while the block runs (child
    processes started meanwhile inherit it); nothing is changed where there is no
    descriptor 2 (a windowed app)."""
    global _depth, _saved
    with _LOCK:
        if _depth == 0:
            try:
                _saved = os.dup(2)
            except OSError:
                _saved = None
            if _saved is not None:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                os.dup2(_saved, 2)
                os.close(_saved)
                _saved = None
