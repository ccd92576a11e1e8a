"""The Qt-free job layer: outcomes of a job and the queue rule (no Qt imported)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sr_desktop.app.jobs import Job, JobSlots, execute_job
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.imageio.image import Image


def _job(tag: str) -> Job:
    return Job(Image(np.zeros((4, 6, 3), np.uint8)), options=tag)


def test_every_ending_of_a_job_is_an_outcome_value():

    def runner(job, progress, cancel):
        if job.options == "cancel-late":
            cancel.cancel()  # the runner returns, but the job was cancelled meanwhile
            return "partial"
        if job.options == "oom":
            raise MemoryError()
        if job.options == "torch-oom":  # torch's CPU allocator (a training's batch): it was "unexpected error"
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")
        return job.options.upper()

    done = execute_job(_job("ok"), runner, lambda info: None)
    assert done.succeeded and done.result == "OK"
    late = execute_job(_job("cancel-late"), runner, lambda info: None)
    assert late.cancelled and late.result == "partial" and not late.succeeded
    oom = execute_job(_job("oom"), runner, lambda info: None)
    assert oom.error.startswith("out of memory")
    assert execute_job(_job("torch-oom"), runner, lambda info: None).error == oom.error
    early = _job("never")
    early.cancel.cancel()
    assert execute_job(early, lambda *a: pytest.fail("runner called"), lambda info: None).cancelled


def test_queue_rule_one_running_one_replaceable_pending():
    slots = JobSlots()
    a, b, c = _job("a"), _job("b"), _job("c")
    assert slots.submit(a) == (True, None)
    assert slots.submit(b) == (False, None)
    assert slots.submit(c) == (False, b)
    assert slots.finish(b) is None and slots.running is a  # not the running job: no change
    assert slots.finish(a) is c and slots.running is c and slots.pending is None
    assert slots.close() is None and c.cancel.cancelled
    assert slots.finish(c) is None and not slots.is_busy()
    with pytest.raises(RuntimeError):
        slots.submit(_job("late"))


def test_errors_are_one_line_and_bugs_are_named():
    def runner(job, progress, cancel):
        if job.options == "model":
            raise ModelError("model 'nope' is not installed\nmore")
        raise ZeroDivisionError("division by zero\nsecond line")

    assert execute_job(_job("model"), runner, print).error == "model 'nope' is not installed"
    assert execute_job(_job("bug"), runner, print).error == (
        "unexpected error: ZeroDivisionError: division by zero (details in the log)")


def test_a_job_ends_in_an_outcome_whatever_its_runner_raises():
    """An exception whose str() itself fails, or a library's sys.exit in the worker, got past
    the job's handling: the window's queue stayed busy for good, nothing shown or logged."""

    class Unprintable(Exception):
        def __str__(self):
            raise ValueError("no text")

    def runner(job, progress, cancel):
        if job.options == "unprintable":
            raise Unprintable()
        if job.options == "exit":
            raise SystemExit(1)
        raise RuntimeError("x" * 10_000)

    assert execute_job(_job("unprintable"), runner, print).error == "unexpected error: Unprintable (details in the log)"
    assert execute_job(_job("exit"), runner, print).error == "unexpected error: SystemExit: 1 (details in the log)"
    long = execute_job(_job("long"), runner, print).error  # (a torch key-mismatch is pages long)
    assert len(long) <= 20 + 500 + len(" (details in the log)") and long.endswith("x… (details in the log)")


def test_the_app_layer_imports_no_qt():
    import subprocess

    code = ("import sys, sr_desktop.app.jobs, sr_desktop.app.upscale_jobs, sr_desktop.app.session;"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'superqt', 'sr_desktop.gui'))];"
            "print(bad); sys.exit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_job_runs_with_the_processs_torch_threads_whatever_its_thread_was_left_with():
    """torch keeps a count per thread, taken when the thread first runs torch: a pool thread
    that first ran while a kernel estimation held 1 thread kept 1 for every later upscale
    (every other one ran at half speed on 2 cores)."""
    import threading

    import torch

    from sr_desktop.app.jobs import Job, execute_job
    from sr_desktop.engine.compute.devices import torch_default_threads

    if torch_default_threads() < 2:
        pytest.skip("one core: every count is 1")
    seen = []

    def in_a_stale_pool_thread():
        torch.set_num_threads(1)  # what the thread was left with
        outcome = execute_job(Job(None, None), lambda job, progress, cancel: torch.get_num_threads(), lambda i: None)
        seen.append((outcome.result, torch.get_num_threads()))
        torch.set_num_threads(torch_default_threads())  # (the count threads started later take)

    worker = threading.Thread(target=in_a_stale_pool_thread)
    worker.start()
    worker.join()
    assert seen == [(torch_default_threads(), 1)]  # the job's count, then the thread's own again


def test_the_eta_counts_down_from_the_last_report_not_by_the_model_loading_time():
    """The ETA was the engine's, less the job's elapsed time minus the engine's: two clocks,
    the model's loading (before the engine's clock starts) came off it (0.9 s short here)."""
    from sr_desktop.app.upscale_jobs import progress_text
    from sr_desktop.engine.core.progress import ProgressInfo

    report = ProgressInfo(done=10, total=40, elapsed=1.0, eta=3.0, stage="upscale")
    # the job has run 5 s (4 of them loading the model); the report came 0.5 s ago
    assert progress_text(report, 5.0, 0.5) == "10/40 tiles · 5.0 s elapsed · ETA 2.5 s"
    assert progress_text(report, 5.0, 9.0).endswith("ETA 0.0 s")  # a slow tile: never negative
