"""Engine jobs in a background thread, one at a time, reported through Qt signals.

Queue policy: one job runs; a request made while it runs becomes the *pending* job, and
a further request replaces the pending one (``pendingChanged`` tells the GUI so it can
show "queued … (replaced …)"). When the running job ends, the pending one starts.
Cancelling stops the running job between tiles (``CancelToken``) and drops the pending one.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal

from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.core.progress import CancelToken, ProgressInfo

log = logging.getLogger(__name__)

_ids = itertools.count(1)


@dataclass
class Job:
    """One upscale request: the whole image (``box`` None) or one region of it."""

    image: Image | None
    options: Any  # sr_desktop.engine.pipeline.upscale.UpscaleOptions (or what the runner needs)
    box: tuple[int, int, int, int] | None = None
    id: int = field(default_factory=lambda: next(_ids))
    cancel: CancelToken = field(default_factory=CancelToken)
    #: set by the runner in the worker thread: the result already converted for display
    display: Any = None

    @property
    def kind(self) -> str:
        return "full" if self.box is None else "region"

    def describe(self) -> str:
        """Short text for the GUI, e.g. 'region 40×30 at (10, 20), bicubic ×4'."""
        model = getattr(self.options, "model", "?")
        scale = getattr(self.options, "scale", "?")
        if self.image is None:
            return str(self.options)
        if self.box is None:
            what = f"{self.image.width}×{self.image.height} image"
        else:
            x, y, w, h = self.box
            what = f"region {w}×{h} at ({x}, {y})"
        return f"{what}, {model} ×{scale}"


def run_engine_job(job: Job, progress: Callable[[ProgressInfo], None], cancel: CancelToken):
    """Default job runner: the engine's ``upscale_image`` / ``upscale_region``."""
    from sr_desktop.engine.pipeline import upscale

    if job.box is None:
        return upscale.upscale_image(job.image, job.options, progress=progress, cancel=cancel)
    return upscale.upscale_region(
        job.image, job.box, job.options, progress=progress, cancel=cancel
    )


JobRunner = Callable[[Job, Callable[[ProgressInfo], None], CancelToken], Any]


#: job threads still running after their queue was shut down (see JobQueue.shutdown)
_DETACHED: set = set()


def wait_for_detached_jobs(timeout: float = 60.0) -> bool:
    """Wait for job threads that outlived their queue (call before the process exits)."""
    deadline = time.monotonic() + timeout
    for thread in list(_DETACHED):
        left = max(0.0, deadline - time.monotonic())
        if not thread.wait(int(left * 1000)):
            return False
    return True


class _JobThread(QThread):
    """Runs one job; every outcome leaves through exactly one of the signals."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    was_cancelled = Signal()

    def __init__(self, job: Job, runner: JobRunner, parent=None) -> None:
        super().__init__(parent)
        self.job = job
        self.runner = runner

    def run(self) -> None:  # noqa: D102 - QThread entry point, runs in the worker thread
        try:
            self.job.cancel.raise_if_cancelled()
            result = self.runner(self.job, self.progressed.emit, self.job.cancel)
            self.job.cancel.raise_if_cancelled()
        except Cancelled:
            self.was_cancelled.emit()
        except SRDesktopError as exc:
            self.failed.emit(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        except MemoryError:
            self.failed.emit("out of memory: try a smaller tile size or a smaller image")
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the app; log it
            log.exception("job %s failed", self.job.id)
            self.failed.emit(f"unexpected error: {type(exc).__name__}: {exc}".splitlines()[0])
        else:
            self.succeeded.emit(result)


class JobQueue(QObject):
    """Runs `Job`s in a worker thread, one at a time (see the module doc for the policy).

    Signals carry the `Job` they are about, so late reports of a replaced job are easy to
    tell apart. All signals are delivered in the GUI thread.
    """

    jobStarted = Signal(object)  # Job
    jobProgress = Signal(object, object)  # Job, ProgressInfo
    jobFinished = Signal(object, object)  # Job, result (UpscaleResult)
    jobFailed = Signal(object, str)  # Job, one-line message
    jobCancelled = Signal(object)  # Job
    pendingChanged = Signal(object, object)  # new pending Job | None, replaced Job | None
    busyChanged = Signal(bool)

    def __init__(self, parent=None, runner: JobRunner | None = None) -> None:
        super().__init__(parent)
        self.runner: JobRunner = runner or run_engine_job
        self._thread: _JobThread | None = None
        self._pending: Job | None = None
        self._accepting = True

    # -- state --------------------------------------------------------------------------
    @property
    def running(self) -> Job | None:
        """The job running now (None when idle)."""
        return self._thread.job if self._thread is not None else None

    @property
    def pending(self) -> Job | None:
        """The job waiting for the running one to end."""
        return self._pending

    def is_busy(self) -> bool:
        return self._thread is not None or self._pending is not None

    # -- requests -----------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Start ``job`` now, or make it the pending job (replacing an older pending one)."""
        if not self._accepting:
            raise RuntimeError("the job queue is shut down")
        if self._thread is None:
            self.busyChanged.emit(True)
            self._start(job)
        else:
            replaced, self._pending = self._pending, job
            self.pendingChanged.emit(job, replaced)
        return job

    def cancel(self) -> None:
        """Cancel the running job (between tiles) and drop the pending one."""
        if self._pending is not None:
            dropped, self._pending = self._pending, None
            self.pendingChanged.emit(None, dropped)
        if self._thread is not None:
            self._thread.job.cancel.cancel()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel everything and wait up to ``timeout`` s for the thread; True if it ended."""
        self._accepting = False
        self.cancel()
        thread = self._thread
        if thread is None:
            return True
        ended = thread.wait(int(timeout * 1000))
        if not ended:
            # The engine only stops between tiles. Detach the thread so that destroying
            # this queue (e.g. with its window) does not destroy a running QThread, which
            # would abort the process; `wait_for_detached_jobs` waits for it at exit.
            log.warning("job %s did not stop within %.1f s", thread.job.id, timeout)
            thread.setParent(None)
            _DETACHED.add(thread)
            thread.finished.connect(lambda t=thread: _DETACHED.discard(t))
        return bool(ended)

    def wait_idle(self, timeout: float) -> bool:
        """Block (processing no events) until no thread runs; for scripts, not the GUI."""
        deadline = time.monotonic() + timeout
        while self._thread is not None and time.monotonic() < deadline:
            self._thread.wait(50)
        return self._thread is None or self._thread.isFinished()

    # -- internals ----------------------------------------------------------------------
    # Slots are bound methods of this object (which lives in the GUI thread), so Qt queues
    # the worker thread's signals to the GUI thread; lambdas would run in the worker thread.
    def _start(self, job: Job) -> None:
        thread = _JobThread(job, self.runner, self)
        thread.progressed.connect(self._relay_progress)
        thread.succeeded.connect(self._relay_succeeded)
        thread.failed.connect(self._relay_failed)
        thread.was_cancelled.connect(self._relay_cancelled)
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        self.jobStarted.emit(job)
        thread.start()

    def _job_of_sender(self) -> Job | None:
        sender = self.sender()
        return sender.job if isinstance(sender, _JobThread) else None

    def _relay_progress(self, info: ProgressInfo) -> None:
        job = self._job_of_sender()
        if job is not None:
            self.jobProgress.emit(job, info)

    def _relay_succeeded(self, result) -> None:
        job = self._job_of_sender()
        if job is not None:
            self.jobFinished.emit(job, result)

    def _relay_failed(self, message: str) -> None:
        job = self._job_of_sender()
        if job is not None:
            self.jobFailed.emit(job, message)

    def _relay_cancelled(self) -> None:
        job = self._job_of_sender()
        if job is not None:
            self.jobCancelled.emit(job)

    def _on_thread_finished(self) -> None:
        thread = self.sender()
        if thread is not self._thread:
            return
        self._thread = None
        thread.deleteLater()
        if self._pending is not None and self._accepting:
            job, self._pending = self._pending, None
            self.pendingChanged.emit(None, None)
            self._start(job)
        else:
            self.busyChanged.emit(False)
