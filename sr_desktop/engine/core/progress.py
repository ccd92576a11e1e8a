"""Progress reports and cooperative cancellation for long engine jobs.

Every long engine call takes ``progress: ProgressCallback | None`` and
``cancel: CancelToken | None``. The callback is called from the thread doing the work;
the GUI forwards it to the UI thread with a signal.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sr_desktop.engine.core.errors import Cancelled


@dataclass(frozen=True)
class ProgressInfo:
    """A snapshot of a job's progress."""

    done: int
    total: int
    elapsed: float
    eta: float | None
    stage: str = ""
    message: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)


ProgressCallback = Callable[[ProgressInfo], None]

#: the stage of the one notice sent before ``--backend auto`` converts and times a model it
#: has not measured yet (seconds before the first tile; `models.backends.choose`)
BACKEND_STAGE = "backend"
#: the stage of the one notice a batch sends before it plans many files (names, outputs,
#: earlier runs' outputs: seconds for tens of thousands, silent before)
PLANNING_STAGE = "planning"
#: the stage of the notice a Ray batch sends when its files are handed to the workers, which
#: take seconds to start (7-12 s here, the terminal and the dialog silent meanwhile)
CLUSTER_STAGE = "cluster"
#: the stages of a one-line notice, not a count of steps: the front ends say its message
NOTICE_STAGES = frozenset({BACKEND_STAGE, PLANNING_STAGE, CLUSTER_STAGE})
#: the stages whose steps are training iterations (models trained on each image, a kernel
#: estimation), not tiles: both front ends name them so (the command line said "tile/s")
ITERATION_STAGES = frozenset({"zssr", "map-sr", "kernel"})
#: the stage of an image being encoded and written (`imageio.write_watch`): rows, bytes
SAVE_STAGE = "save"
#: the stage of a training's steps before its first iteration (reading the images, the
#: bicubic baseline, the optimiser, the starting model's validation): its message says which
TRAINING_SETUP_STAGE = "training-setup"


class CancelToken:
    """A thread-safe flag a worker checks between units of work (tiles, files, iterations).

    A job with a point of no return (a file's rename) calls `commit` there; a caller that
    must know whether its Cancel still took effect uses `cancel_unless_committed`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._committed = False

    def cancel(self) -> None:
        self._event.set()

    def cancel_unless_committed(self) -> bool:
        """Cancel, unless the job has passed `commit`: True when the job will stop without
        its result, False when it finishes anyway."""
        with self._lock:
            if self._committed:
                return False
            self._event.set()
            return True

    def commit(self) -> None:
        """The job's point of no return: `Cancelled` if cancelled by now, else a later
        `cancel_unless_committed` says the job finishes."""
        with self._lock:
            self.raise_if_cancelled()
            self._committed = True

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def check_cancel(cancel: CancelToken | None) -> None:
    """Raise `Cancelled` if `cancel` is set (no-op for None)."""
    if cancel is not None:
        cancel.raise_if_cancelled()


_IN_SCOPE: contextvars.ContextVar[CancelToken | None] = contextvars.ContextVar("sr_desktop_cancel", default=None)


@contextmanager
def cancel_scope(cancel: CancelToken | None) -> Iterator[None]:
    """Within it (in this thread), code that cannot take a token — a network's blocks, an
    OpenVINO inference — stops at `scope_cancel`'s token: the tiler checked only between
    tiles, and a Real-ESRGAN tile on a CPU ran on for 40 s after Cancel."""
    reset = _IN_SCOPE.set(cancel)
    try:
        yield
    finally:
        _IN_SCOPE.reset(reset)


def scope_cancel() -> CancelToken | None:
    """The token of the innermost `cancel_scope` of this thread (None outside one)."""
    return _IN_SCOPE.get()


class ProgressTracker:
    """Turns 'n of total done' into `ProgressInfo` with elapsed time and a linear ETA.
    `first`: the count already done when it starts (a resumed run): the ETA is from the rate
    since then (it took the checkpoint's iterations as done in the seconds since the resume:
    "ETA 25 s" for 8 minutes of training)."""

    def __init__(self, total: int, callback: ProgressCallback | None, stage: str = "", first: int = 0):
        self.total = total
        self.callback = callback
        self.stage = stage
        self.start = time.perf_counter()
        self.first = first
        self.done = first

    def update(self, done: int | None = None, message: str = "", **extra) -> ProgressInfo:
        if done is not None:
            self.done = done
        elapsed = time.perf_counter() - self.start
        eta = None
        if self.first < self.done < self.total:
            eta = elapsed / (self.done - self.first) * (self.total - self.done)
        elif self.done >= self.total:
            eta = 0.0
        info = ProgressInfo(self.done, self.total, elapsed, eta, self.stage, message, dict(extra))
        if self.callback is not None:
            self.callback(info)
        return info

    def leave_out(self, seconds: float) -> None:
        """Time that was not spent on the work (a pause): out of the elapsed time and the ETA."""
        self.start += seconds

    def step(self, n: int = 1, message: str = "", **extra) -> ProgressInfo:
        return self.update(self.done + n, message, **extra)
