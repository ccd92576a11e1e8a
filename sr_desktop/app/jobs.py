"""Jobs of the application, without Qt: what a job is, how one runs, and the queue rule.

* `Job`: one request (an image, the options for its runner, an optional region box) with
  its own `CancelToken`.
* `execute_job`: runs a job in the calling thread and turns every ending into a
  `JobOutcome` value (result, one-line error, or cancelled), never an exception.
* `JobSlots`: the queue rule. One job runs; a request made while it runs becomes the
  *pending* job, and a further request replaces the pending one. When the running job
  ends, the pending one starts. Cancelling stops the running job (through its token) and
  drops the pending one.

The GUI's `JobQueue` (sr_desktop.gui.worker) applies this rule in worker threads and
reports through Qt signals.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sr_desktop.engine.core.errors import DETAILS_IN_LOG, UNEXPECTED_ERROR, Cancelled, SRDesktopError, one_line
from sr_desktop.engine.core.progress import CancelToken, ProgressInfo
from sr_desktop.engine.imageio.image import Image

log = logging.getLogger(__name__)

_ids = itertools.count(1)

#: progress(info): what a runner calls after each step
ProgressCallback = Callable[[ProgressInfo], None]


@dataclass
class Job:
    """One request: the whole image (``box`` None) or one region of it."""

    image: Image | None
    options: Any  # sr_desktop.engine.pipeline.upscale.UpscaleOptions (or what the runner needs)
    box: tuple[int, int, int, int] | None = None
    id: int = field(default_factory=lambda: next(_ids))
    cancel: CancelToken = field(default_factory=CancelToken)
    #: set by a runner in the worker thread: the result already converted for display
    display: Any = None
    #: the job writes files (a batch, a training run's checkpoints): the process waits for it
    #: before exiting; a job that only computes for a window is abandoned at exit
    writes_files: bool = False

    @property
    def kind(self) -> str:
        return "full" if self.box is None else "region"

    def describe(self) -> str:
        """Short text for the GUI, e.g. 'region 40×30 at (10, 20), Bicubic ×4' (the model's
        name, as the rest of the window shows it)."""
        from sr_desktop.app.session import model_display_name

        model = getattr(self.options, "model", None)
        model = model_display_name(model) if isinstance(model, str) else "?"
        scale = getattr(self.options, "scale", "?")
        if self.image is None:
            return str(self.options)
        if self.box is None:
            what = f"{self.image.width}×{self.image.height} image"
        else:
            x, y, w, h = self.box
            what = f"region {w}×{h} at ({x}, {y})"
        return f"{what}, {model} ×{scale}"


#: runner(job, progress, cancel) -> result; runs in a worker thread
JobRunner = Callable[[Job, ProgressCallback, CancelToken], Any]


def run_engine_job(job: Job, progress: ProgressCallback, cancel: CancelToken):
    """Default job runner: the engine's ``upscale_image`` / ``upscale_region``."""
    from sr_desktop.engine.pipeline import upscale

    if job.box is None:
        return upscale.upscale_image(job.image, job.options, progress=progress, cancel=cancel)
    return upscale.upscale_region(
        job.image, job.box, job.options, progress=progress, cancel=cancel
    )


@dataclass(frozen=True)
class JobOutcome:
    """How a job ended. ``cancelled`` wins over a result the runner still returned
    (which is kept in ``result``, e.g. a batch's partial report); ``error`` is one line."""

    job: Job
    result: Any = None
    error: str | None = None
    cancelled: bool = False

    @property
    def succeeded(self) -> bool:
        return not self.cancelled and self.error is None


OUT_OF_MEMORY = ("out of memory: try a smaller tile size or a smaller image (for training, a smaller batch or "
                 "patch), or close other programs")


def process_threads():
    """The process's torch threads for a job in this (pool) thread. torch keeps a thread
    count per thread, taken from the last one set anywhere when the thread first runs torch:
    an upscale that first ran while a kernel estimation held 1 thread kept 1 thread for good
    (every other upscale after it ran at half speed here). Jobs that want another count
    (kernel estimation, training) set theirs inside."""
    if "torch" not in sys.modules:  # nothing has set a count yet: torch starts with the default
        return contextlib.nullcontext()
    from sr_desktop.engine.compute.devices import torch_default_threads, torch_threads

    return torch_threads(torch_default_threads())


def execute_job(job: Job, runner: JobRunner, progress: ProgressCallback) -> JobOutcome:
    """Run ``job`` with ``runner`` in the calling thread; every ending is a `JobOutcome`.

    A job cancelled before it starts never calls the runner; one cancelled while the
    runner worked is reported cancelled even if the runner returned normally.
    """
    result = None
    try:
        job.cancel.raise_if_cancelled()
        with process_threads():
            result = runner(job, progress, job.cancel)
        job.cancel.raise_if_cancelled()
    except Cancelled:
        return JobOutcome(job, result=result, cancelled=True)
    except KeyboardInterrupt:  # a stop signal the engine asked about (`raise_if_stop_requested`:
        # OpenVINO's conversion) reached the job's thread: the whole run stops, the job with it
        return JobOutcome(job, result=result, cancelled=True)
    except SRDesktopError as exc:
        return JobOutcome(job, error=one_line(exc))
    except MemoryError:
        return JobOutcome(job, error=OUT_OF_MEMORY)
    except (Exception, SystemExit) as exc:  # a bug (or a library's sys.exit) must not kill the app; log it
        from sr_desktop.engine.pipeline.memory import is_allocation_failure

        if is_allocation_failure(exc):  # torch's CPU allocator raises a RuntimeError (a training's batch)
            return JobOutcome(job, error=OUT_OF_MEMORY)
        log.exception("job %s failed", job.id)
        return JobOutcome(job, error=f"{UNEXPECTED_ERROR}{one_line(exc)}{DETAILS_IN_LOG}")
    return JobOutcome(job, result=result)


class JobSlots:
    """The queue rule (see the module doc) as plain state: a running and a pending slot.

    The caller starts the jobs this object says to start and tells it when one ended.
    """

    def __init__(self) -> None:
        self.running: Job | None = None
        self.pending: Job | None = None
        self.accepting = True

    def is_busy(self) -> bool:
        return self.running is not None or self.pending is not None

    def submit(self, job: Job) -> tuple[bool, Job | None]:
        """Take ``job``: (True, None) if it is to start now, else (False, the pending job
        it replaced or None). Raises RuntimeError once `close` was called."""
        if not self.accepting:
            raise RuntimeError("the job queue is shut down")
        if self.running is None:
            self.running = job
            return True, None
        replaced, self.pending = self.pending, job
        return False, replaced

    def cancel(self) -> Job | None:
        """Cancel the running job (its token) and drop the pending one; returns the
        dropped pending job (None if there was none)."""
        dropped, self.pending = self.pending, None
        if self.running is not None:
            self.running.cancel.cancel()
        return dropped

    def close(self) -> Job | None:
        """Accept no more jobs and cancel as `cancel` does."""
        self.accepting = False
        return self.cancel()

    def finish(self, job: Job) -> Job | None:
        """``job`` ended: the next job to start (the pending one, now running), or None.
        A job that is not the running one changes nothing."""
        if job is not self.running:
            return None
        self.running, self.pending = self.pending, None  # `close` already dropped it
        return self.running
