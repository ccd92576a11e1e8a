"""Jobs in background threads (superqt workers), reported through Qt signals.

`JobQueue` applies the queue rule of `sr_desktop.app.jobs.JobSlots`: one job runs; a
request made while it runs becomes the *pending* job, and a further request replaces it
(``pendingChanged`` tells the GUI so it can show "queued … (replaced …)"). When the
running job ends, the pending one starts. Cancelling stops the running job between tiles
(its ``CancelToken``) and drops the pending one. The main window, the batch dialog and
the metrics and kernel panels each own queues of this kind.

Each job runs in a `JobWorker`, a superqt ``WorkerBase`` on Qt's global thread pool. What
superqt 0.9 does not provide, and is therefore done here:

* progress: superqt's workers report a result, not callbacks; `JobWorker` adds a
  ``progressed`` signal (`ProgressReports`) that the engine's progress callback emits
  in the worker thread.
* waiting for one job with a timeout (closing a window within 2 s): superqt can only wait
  for the whole pool; each worker sets a ``threading.Event`` once nothing of it runs.
* thread count: superqt starts every worker on the global pool, sized to the CPU count;
  a queue's job must never wait behind another queue's long job (or one that outlived
  its window), so `start_worker` grows the pool to one thread per live job.
* warnings: superqt's ``run`` wraps each job in the process-wide
  ``warnings.catch_warnings()``; two jobs at once put back each other's saved state, which
  left an "ignore everything" of a job's own (or "always") at the front of the process's
  filters and ``warnings.showwarning`` pointing at a finished worker for good.
  `JobWorker.run` is superqt's without it: one `warnings.showwarning`, installed once,
  sends a warning raised in a job's thread to that job's ``warned`` signal (the log, once
  per job) and any other to what showed warnings before.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QEventLoop, QObject, QThreadPool, QTimer, Signal
from superqt.utils import WorkerBase

from sr_desktop.app.jobs import (
    Job,
    JobOutcome,
    JobRunner,
    JobSlots,
    execute_job,
    run_engine_job,
)

log = logging.getLogger(__name__)

__all__ = ["BesideUI", "JobQueue", "JobWorker", "live_jobs", "run_beside_ui", "start_worker", "wait_before_exit",
           "wait_for_running_jobs"]

T = TypeVar("T")

#: at exit, a job that writes files is waited for this long (a batch stops after its file, a
#: training run after its iteration, with a checkpoint) ...
WRITER_EXIT_WAIT_S = 60.0
#: ... and a job that only computed for a window that is gone this long: then it is
#: abandoned (closing the window during a long tile kept the process alive, hidden, for
#: 20 s to 2 minutes)
COMPUTE_EXIT_WAIT_S = 3.0
#: ... and once every job has ended, its thread this long to return from superqt's run()
POOL_DRAIN_MS = 2000


class ProgressReports(QObject):
    """A job's progress reports, emitted in its worker thread (superqt's worker signals
    have no progress signal, and its signals class is not public to extend)."""

    progressed = Signal(object, object)  # Job, ProgressInfo


class JobWorker(WorkerBase):
    """A superqt worker that runs one `Job` with `execute_job`: ``returned`` carries the
    `JobOutcome` (it always comes: the job's own errors are part of the outcome) and
    ``reports.progressed(job, info)`` each progress report of the runner."""

    def __init__(self, job: Job, runner: JobRunner) -> None:
        super().__init__()
        self.reports = ProgressReports()
        #: the job, until its worker has ended (None then: see `run`)
        self.job: Job | None = job
        self.job_id = job.id
        self.writes_files = job.writes_files
        self.runner = runner
        self._began = threading.Event()
        self._ended = threading.Event()

    def run(self) -> None:
        """What superqt's ``WorkerBase.run`` does (signals, `work`, its result), without its
        process-wide ``warnings.catch_warnings`` (see the module's docstring): the job's
        warnings reach its ``warned`` signal through `_route_warning`."""
        self.started.emit()
        self._running = True
        _JOB_OF_THREAD.worker = self
        try:
            result = self.work()
            if not self.abort_requested:
                self.returned.emit(result)
        except Exception as exc:  # noqa: BLE001 - as superqt's run: the worker's errored signal
            self.errored.emit(exc)
        finally:
            _JOB_OF_THREAD.worker = None
        self._running = False
        # A finished worker holds no job: PySide 6.11 sometimes never frees a QRunnable that
        # ran beside another (a reference kept in its binding), and with its job it kept the
        # job's images (a metrics measurement: the original and the result, 5× the image).
        # The outcome the queue receives carries the job.
        self.job = None
        self.finished.emit()
        self._finished.emit(self)

    def work(self) -> JobOutcome:  # superqt entry point, runs in the worker thread
        self._began.set()
        try:
            return execute_job(self.job, self.runner, lambda info: self.reports.progressed.emit(self.job, info))
        except BaseException:  # (past execute_job's own handling: superqt would drop it, the queue stay busy)
            log.exception("job %s ended without an outcome", self.job.id)
            return JobOutcome(self.job, error="unexpected error (details in the log)")
        finally:
            _LIVE.discard(self)
            self._ended.set()

    def has_ended(self) -> bool:
        """True once the job's work has ended."""
        return self._ended.is_set()

    def wait_stopped(self, timeout: float) -> bool:
        """After the job was cancelled: True once nothing of it runs any more, waiting up
        to ``timeout`` s. A job that has not begun yet never calls its runner any more."""
        return not self._began.is_set() or self._ended.wait(timeout)


#: workers started and not ended (including those that outlived their queue)
_LIVE: set[JobWorker] = set()
#: the worker whose job runs in this thread (``worker``; None or absent: no job's thread)
_JOB_OF_THREAD = threading.local()


def _install_warning_route() -> None:
    """Put `_route_warning` in front of what shows warnings now (the log's, once the window
    sends warnings there), once."""
    if getattr(warnings.showwarning, "_sr_desktop_route", False):
        return
    shown_before = warnings.showwarning

    def route(message, category, filename, lineno, file=None, line=None):
        worker = getattr(_JOB_OF_THREAD, "worker", None)
        if worker is None:
            shown_before(message, category, filename, lineno, file, line)
        else:
            worker.warned.emit((message, category, filename, lineno, file, line))

    route._sr_desktop_route = True  # type: ignore[attr-defined]
    warnings.showwarning = route


def start_worker(worker: JobWorker) -> JobWorker:
    """Start ``worker`` on the global thread pool, with a thread of its own."""
    pool = QThreadPool.globalInstance()
    _LIVE.add(worker)
    if pool.maxThreadCount() < len(_LIVE):
        pool.setMaxThreadCount(len(_LIVE))
    logged: set[str] = set()
    job = worker.job
    about = f" ({job.options.name})" if isinstance(job.options, Path) else ""  # (the file it read)
    worker.warned.connect(lambda args, job_id=job.id: _log_warning(job_id, about, args, logged))
    _install_warning_route()
    worker.start()
    return worker


def _log_warning(job_id: int, about: str, args: tuple, logged: set[str]) -> None:
    """A warning raised in a job's thread, to the log file (INFO: the terminal the window
    was started from showed each of a TIFF's, eight times an image), once per job, naming
    the job and (`about`) the file it read."""
    message, category, filename, lineno, *_rest = args
    text = warnings.formatwarning(message, category, filename, lineno).strip()
    if text in logged:
        return
    logged.add(text)
    log.info("job %s%s: %s", job_id, about, text)


def wait_for_running_jobs(timeout: float = 60.0) -> bool:
    """Wait up to `timeout` s for every started job, e.g. one that outlived its window;
    True if all have ended."""
    deadline = time.monotonic() + timeout
    for worker in list(_LIVE):
        if not worker.wait_stopped(max(0.0, deadline - time.monotonic())):
            return False
    return True


def wait_before_exit(writer_timeout: float = WRITER_EXIT_WAIT_S, compute_timeout: float = COMPUTE_EXIT_WAIT_S) -> bool:
    """Before the process exits: wait for the jobs that write files (`Job.writes_files`) up
    to `writer_timeout` s, and for the others up to `compute_timeout` s from now; True if
    all have ended (else `live_jobs` are left to be abandoned)."""
    start = time.monotonic()
    ended = True
    for worker in sorted(_LIVE, key=lambda w: not w.writes_files):  # the writers first
        limit = writer_timeout if worker.writes_files else compute_timeout
        ended = worker.wait_stopped(max(0.0, start + limit - time.monotonic())) and ended
    if ended:
        # a job's work has ended, but its thread still emits its last signals (superqt's
        # run() after work()): the process torn down meanwhile crashed (SIGSEGV) at exit
        QThreadPool.globalInstance().waitForDone(POOL_DRAIN_MS)
    return ended


def live_jobs() -> list[Job]:
    """The jobs started and not ended yet."""
    return [job for worker in list(_LIVE) if (job := worker.job) is not None]


class JobQueue(QObject):
    """Runs `Job`s in worker threads, one at a time (see the module doc for the rule).

    Signals carry the `Job` they are about, so late reports of a replaced job are easy to
    tell apart. All signals are delivered in the GUI thread.
    """

    jobStarted = Signal(object)  # Job
    jobProgress = Signal(object, object)  # Job, ProgressInfo
    jobFinished = Signal(object, object)  # Job, result (UpscaleResult)
    jobFailed = Signal(object, str)  # Job, one-line message
    jobCancelled = Signal(object)  # Job
    #: JobOutcome, after the one of the three signals above, once the queue no longer
    #: runs the job (``running`` is the next job or None)
    jobEnded = Signal(object)
    pendingChanged = Signal(object, object)  # new pending Job | None, replaced Job | None
    busyChanged = Signal(bool)

    def __init__(self, parent=None, runner: JobRunner | None = None) -> None:
        super().__init__(parent)
        self.runner: JobRunner = runner or run_engine_job
        self._slots = JobSlots()
        self._worker: JobWorker | None = None

    # -- state --------------------------------------------------------------------------
    @property
    def running(self) -> Job | None:
        """The job running now (None when idle)."""
        return self._slots.running

    @property
    def pending(self) -> Job | None:
        """The job waiting for the running one to end."""
        return self._slots.pending

    def is_busy(self) -> bool:
        return self._slots.is_busy()

    @property
    def worker(self) -> JobWorker | None:
        """The worker of the running job (None when idle)."""
        return self._worker

    # -- requests -----------------------------------------------------------------------
    def submit(self, job: Job) -> Job:
        """Start ``job`` now, or make it the pending job (replacing an older pending one)."""
        start_now, replaced = self._slots.submit(job)
        if start_now:
            self.busyChanged.emit(True)
            self._start(job)
        else:
            self.pendingChanged.emit(job, replaced)
        return job

    def cancel(self) -> None:
        """Cancel the running job (between tiles) and drop the pending one."""
        self._report_dropped(self._slots.cancel())

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Cancel everything and wait up to ``timeout`` s for the job; True if it ended.

        A job that does not stop in time keeps running in the pool (superqt holds its
        worker), so destroying this queue with its window is safe."""
        self._report_dropped(self._slots.close())
        worker = self._worker
        if worker is None or self._slots.running is None:
            return True
        ended = worker.wait_stopped(timeout)
        if not ended:
            # the log's, not the terminal's: nothing is for the user to do (the job ends in the
            # pool at its next tile), and a Ctrl+C of the no-display run on a loaded machine
            # printed it above its one line "sr-desktop: interrupted"
            log.info("job %s did not stop within %.1f s", worker.job_id, timeout)
        return ended

    # -- internals ----------------------------------------------------------------------
    # Slots are bound methods of this object (which lives in the GUI thread), so Qt queues
    # the worker thread's signals to the GUI thread; lambdas would run in the worker thread.
    def _start(self, job: Job) -> None:
        worker = JobWorker(job, self.runner)
        worker.reports.progressed.connect(self._relay_progress)
        worker.returned.connect(self._on_outcome)
        self._worker = worker
        self.jobStarted.emit(job)
        start_worker(worker)

    def _report_dropped(self, dropped: Job | None) -> None:
        if dropped is not None:
            self.pendingChanged.emit(None, dropped)

    def _relay_progress(self, job: Job, info) -> None:
        self.jobProgress.emit(job, info)

    def _on_outcome(self, outcome: JobOutcome) -> None:
        job = outcome.job
        if outcome.cancelled:
            self.jobCancelled.emit(job)
        elif outcome.error is not None:
            self.jobFailed.emit(job, outcome.error)
        else:
            self.jobFinished.emit(job, outcome.result)
        following = self._slots.finish(job)
        if following is None:
            self._worker = None
        self.jobEnded.emit(outcome)
        if following is not None:
            self.pendingChanged.emit(None, None)
            self._start(following)
        else:
            self.busyChanged.emit(False)


def run_beside_ui(work: Callable[[], T], poll_ms: int = 15) -> T:
    """`work()` on a thread of its own while this (the UI) thread goes on painting and
    delivering signals, user input held back until it ends; its result, or its exception
    raised here. For a short action the user waits for (adding a model) that callers need
    done before they go on (`cancellable_wait.run_cancellable_beside_ui` for one that can run
    long: saving)."""
    beside = BesideUI(work)
    beside.hold_input(poll_ms)
    return beside.result()


class BesideUI:
    """`work()` started on a thread of its own. The thread is not a daemon: should the
    application quit meanwhile, the interpreter waits for it, and a file being written is
    finished."""

    def __init__(self, work: Callable[[], T]) -> None:
        self._box: dict[str, object] = {}
        self.thread = threading.Thread(target=self._run, args=(work,), name="sr-desktop-beside-ui")
        self.thread.start()

    def _run(self, work) -> None:
        try:
            self._box["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            self._box["error"] = exc

    def hold_input(self, poll_ms: int, seconds: float | None = None) -> None:
        """Go on painting and delivering signals, user input held back, until the work ends
        (or `seconds` have passed)."""
        started = time.monotonic()

        def over() -> bool:
            return not self.thread.is_alive() or (seconds is not None and time.monotonic() - started >= seconds)

        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(poll_ms)
        timer.timeout.connect(lambda: over() and loop.quit())
        timer.start()
        if not over():
            loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
        timer.stop()

    def result(self):
        """The work's result, or its exception raised here, once it has ended (waited for:
        an application quit ends the loops early, the work still finishes)."""
        self.thread.join()
        if "error" in self._box:
            raise self._box["error"]  # type: ignore[misc]
        return self._box["value"]
