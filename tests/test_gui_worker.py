"""JobQueue: jobs run off the GUI thread, report through signals, queue/replace/cancel."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from sr_desktop.app.jobs import Job
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.progress import ProgressTracker
from sr_desktop.engine.imageio.image import Image
from sr_desktop.gui.app import create_application
from sr_desktop.gui.worker import JobQueue

pytestmark = pytest.mark.gui


@pytest.fixture
def qapp():
    return create_application()


def _image():
    return Image(np.zeros((4, 6, 3), np.uint8))


def _job(tag: str) -> Job:
    return Job(_image(), options=tag)


class Recorder:
    """Collects the queue's signals (and the thread each slot ran in)."""

    def __init__(self, queue: JobQueue) -> None:
        self.events: list[tuple] = []
        self.slot_threads: set[int] = set()
        for name in ("jobStarted", "jobFinished", "jobFailed", "jobCancelled", "jobProgress",
                     "pendingChanged", "busyChanged"):
            getattr(queue, name).connect(lambda *args, n=name: self._record(n, args))

    def _record(self, name, args) -> None:
        self.slot_threads.add(threading.get_ident())
        self.events.append((name, *args))

    def names(self, name: str) -> list[tuple]:
        return [e[1:] for e in self.events if e[0] == name]


def test_job_runs_in_worker_thread_and_reports_in_gui_thread(qtbot, qapp):
    queue = JobQueue()
    rec = Recorder(queue)
    runner_threads = []

    def runner(job, progress, cancel):
        runner_threads.append(threading.get_ident())
        tracker = ProgressTracker(3, progress)
        for _ in range(3):
            tracker.step()
        return f"result of {job.options}"

    queue.runner = runner
    job = _job("a")
    with qtbot.waitSignal(queue.busyChanged, timeout=5000, check_params_cb=lambda b: b is False):
        queue.submit(job)
    assert rec.names("jobFinished") == [(job, "result of a")]
    assert [info.done for _job_, info in rec.names("jobProgress")] == [1, 2, 3]
    assert runner_threads and runner_threads[0] != threading.get_ident()
    assert rec.slot_threads == {threading.get_ident()}
    assert rec.names("busyChanged") == [(True,), (False,)]
    assert not queue.is_busy()


def test_new_request_replaces_the_pending_one(qtbot, qapp):
    release = threading.Event()
    ran = []

    def runner(job, progress, cancel):
        ran.append(job.options)
        if job.options == "first":
            assert release.wait(5)
        return job.options

    queue = JobQueue(runner=runner)
    rec = Recorder(queue)
    first, second, third = _job("first"), _job("second"), _job("third")
    queue.submit(first)
    queue.submit(second)
    assert queue.pending is second
    queue.submit(third)
    assert queue.pending is third
    assert rec.names("pendingChanged")[:2] == [(second, None), (third, second)]
    with qtbot.waitSignal(queue.busyChanged, timeout=5000, check_params_cb=lambda b: b is False):
        release.set()
    assert ran == ["first", "third"]  # the replaced request never ran
    assert [args[0] for args in rec.names("jobFinished")] == [first, third]


def test_cancel_stops_running_job_and_drops_pending(qtbot, qapp):
    started = threading.Event()

    def runner(job, progress, cancel):
        started.set()
        for _ in range(500):  # would take 5 s without the cancel
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        return "finished"

    queue = JobQueue(runner=runner)
    rec = Recorder(queue)
    running, waiting = _job("running"), _job("waiting")
    queue.submit(running)
    queue.submit(waiting)
    assert started.wait(5)
    t0 = time.perf_counter()
    with qtbot.waitSignal(queue.busyChanged, timeout=3000, check_params_cb=lambda b: b is False):
        queue.cancel()
    assert time.perf_counter() - t0 < 1.0
    assert rec.names("jobCancelled") == [(running,)]
    assert rec.names("jobFinished") == []
    assert [a[0] for a in rec.names("jobStarted")] == [running]
    assert rec.names("pendingChanged")[-1] == (None, waiting)


def test_errors_become_one_line_messages(qtbot, qapp):
    def runner(job, progress, cancel):
        if job.options == "model":
            raise ModelError("model 'nope' is not installed")
        raise ZeroDivisionError("division by zero\nsecond line")

    queue = JobQueue(runner=runner)
    rec = Recorder(queue)
    for tag in ("model", "bug"):
        with qtbot.waitSignal(queue.busyChanged, timeout=5000, check_params_cb=lambda b: b is False):
            queue.submit(_job(tag))
    messages = [m for _job_, m in rec.names("jobFailed")]
    assert messages == [
        "model 'nope' is not installed",
        "unexpected error: ZeroDivisionError: division by zero (details in the log)",
    ]


def test_an_exception_past_the_job_s_handling_still_ends_the_job(qtbot, qapp, monkeypatch):
    """What got past `execute_job` (a BaseException it does not take) was dropped by superqt:
    the queue stayed busy for good and every later job waited behind the dead one."""
    from sr_desktop.gui import worker

    def broken(job, runner, progress):
        raise KeyboardInterrupt  # (a BaseException execute_job leaves alone)

    monkeypatch.setattr(worker, "execute_job", broken)
    queue = JobQueue(runner=lambda job, progress, cancel: None)
    rec = Recorder(queue)
    with qtbot.waitSignal(queue.busyChanged, timeout=5000, check_params_cb=lambda b: b is False):
        queue.submit(_job("a"))
    assert [m for _job_, m in rec.names("jobFailed")] == ["unexpected error (details in the log)"]
    assert not queue.is_busy()


def test_shutdown_waits_for_the_cancelled_job(qtbot, qapp):
    started = threading.Event()

    def runner(job, progress, cancel):
        started.set()
        while not cancel.cancelled:
            time.sleep(0.01)
        cancel.raise_if_cancelled()

    queue = JobQueue(runner=runner)
    queue.submit(_job("x"))
    assert started.wait(5)
    t0 = time.perf_counter()
    assert queue.shutdown(timeout=2.0)
    assert time.perf_counter() - t0 < 2.0
    with pytest.raises(RuntimeError):
        queue.submit(_job("late"))


def test_a_job_that_ignores_cancel_for_long_outlives_its_queue_safely(qtbot, qapp):
    from sr_desktop.gui import worker

    release, started, ended = threading.Event(), threading.Event(), threading.Event()

    def runner(job, progress, cancel):
        started.set()
        assert release.wait(10)  # one long "tile": cancel is only seen afterwards
        ended.set()
        cancel.raise_if_cancelled()

    queue = JobQueue(runner=runner)
    queue.submit(_job("long"))
    assert started.wait(5)
    assert not queue.shutdown(timeout=0.2)
    assert not worker.wait_for_running_jobs(0.1)  # still running, held by the pool
    queue.deleteLater()
    del queue  # destroying the queue must not take the running job with it
    qtbot.wait(50)
    release.set()
    assert worker.wait_for_running_jobs(5)
    assert ended.is_set()



def test_at_exit_writers_are_waited_for_and_computations_abandoned(qapp, qtbot):
    """Closing the window during one long tile kept the process alive and hidden for 20 s to
    2 minutes (the exit waited 60 s for every job); a batch or a training run still gets
    that time to finish its file or checkpoint."""
    from sr_desktop.gui import worker

    releases = {"compute": threading.Event(), "writer": threading.Event()}
    started = {"compute": threading.Event(), "writer": threading.Event()}

    def runner(job, progress, cancel):
        started[job.options].set()
        assert releases[job.options].wait(30)  # one long step: cancel is only seen afterwards

    compute, writer = JobQueue(runner=runner), JobQueue(runner=runner)
    compute.submit(Job(_image(), "compute"))
    writer.submit(Job(None, "writer", writes_files=True))
    assert all(event.wait(5) for event in started.values())
    releases["compute"].set()  # the computation's step ends now, the writer's in 0.5 s
    threading.Timer(0.5, releases["writer"].set).start()
    begun = time.monotonic()
    assert worker.wait_before_exit(writer_timeout=10, compute_timeout=5)
    assert 0.4 < time.monotonic() - begun < 5
    assert worker.live_jobs() == []
    qtbot.waitUntil(lambda: not compute.is_busy() and not writer.is_busy(), timeout=5000)

    releases["compute"].clear()
    started["compute"].clear()
    compute.submit(Job(_image(), "compute"))
    assert started["compute"].wait(5)
    begun = time.monotonic()
    assert not worker.wait_before_exit(writer_timeout=10, compute_timeout=0.3)
    assert time.monotonic() - begun < 2  # a computation is not waited for beyond its 0.3 s
    assert [job.options for job in worker.live_jobs()] == ["compute"]
    releases["compute"].set()
    assert worker.wait_for_running_jobs(5)
    qtbot.waitUntil(lambda: not compute.is_busy(), timeout=5000)


_EXIT_SCRIPT = """
import sys, threading, time
from PySide6.QtCore import QTimer
from sr_desktop.app.jobs import Job
from sr_desktop.gui.app import create_application, exit_abandoning_jobs
from sr_desktop.gui.worker import JobQueue

app = create_application(offscreen=True)
writes = sys.argv[1] == "writer"
def runner(job, progress, cancel):
    time.sleep(2 if writes else 120)  # one long tile that cannot see the cancel
    open(sys.argv[2], "w").write("done")
queue = JobQueue(runner=runner)
queue.submit(Job(None, "x", writes_files=writes))
QTimer.singleShot(300, lambda: (queue.shutdown(0.1), app.quit()))
sys.exit(exit_abandoning_jobs(app.exec()))
"""


@pytest.mark.parametrize("kind", ["compute", "writer"])
def test_the_process_exits_at_once_leaving_a_computation_but_not_a_writer(tmp_path, kind):
    import subprocess
    import sys

    marker = tmp_path / "done"
    begun = time.monotonic()
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONFAULTHANDLER": "1"}
    done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT, kind, str(marker)], capture_output=True,
                          text=True, timeout=120, env=env)
    took = time.monotonic() - begun
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    if kind == "compute":
        assert took < 30 and not marker.exists()  # abandoned after its 3 s, not the 120 s of its tile
    else:
        assert marker.read_text() == "done"  # the writer finished its file


def test_an_error_no_code_handled_is_logged_and_shown(qtbot, qapp, monkeypatch, caplog):
    """An exception in a Qt slot (PySide6 prints it and goes on) or in a thread went to
    stderr only: lost for a window started from a desktop menu, not in the log file, no word
    in the window."""
    import logging
    import sys

    from PySide6.QtCore import QTimer

    from sr_desktop.gui.app import log_unexpected_errors

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # (put back after the test)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    shown = []
    log_unexpected_errors(shown.append)

    def broken_slot():
        raise KeyError("slot")

    with caplog.at_level(logging.ERROR, logger="sr_desktop.unexpected"):
        QTimer.singleShot(0, broken_slot)
        qtbot.waitUntil(lambda: bool(shown), timeout=5000)
        thread = threading.Thread(target=lambda: 1 / 0, name="helper")
        thread.start()
        thread.join()
    assert shown == ["unexpected error: KeyError: 'slot' (details in the log)"]
    assert [(r.getMessage(), r.exc_info[0]) for r in caplog.records] == [
        ("unexpected error", KeyError), ("unexpected error in thread helper", ZeroDivisionError)]


def test_two_jobs_at_once_leave_the_process_s_warnings_as_they_were(qtbot, qapp, caplog):
    """superqt's run wrapped each job in the process-wide warnings.catch_warnings(): job B,
    started while job A ignored warnings, put A's "ignore everything" back when it ended
    after A, for good (and warnings.showwarning pointing at A's finished worker). Each job's
    warnings still reach the log, naming the job."""
    import logging
    import warnings

    from sr_desktop.engine.core.quiet_warnings import warnings_ignored
    from sr_desktop.gui.worker import JobWorker, start_worker

    before = list(warnings.filters)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def job_a(job, progress, cancel):
        with warnings_ignored():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def job_b(job, progress, cancel):
        b_in.set()
        a_out.wait(10)
        warnings.warn("job b's own warning", UserWarning, stacklevel=1)

    ended = []
    a = JobWorker(Job(None, "a"), job_a)
    a.finished.connect(lambda: ended.append("a"))
    b = JobWorker(Job(None, "b"), job_b)
    b.finished.connect(lambda: ended.append("b"))
    with caplog.at_level(logging.INFO, logger="sr_desktop.gui.worker"):
        start_worker(a)
        assert a_in.wait(10)
        start_worker(b)
        qtbot.waitUntil(lambda: len(ended) == 2, timeout=20000)
    assert sorted(ended) == ["a", "b"] and warnings.filters == before
    assert any(f"job {b.job_id}" in r.getMessage() and "job b's own warning" in r.getMessage()
               for r in caplog.records)
    with pytest.warns(UserWarning, match="the process's own warning"):  # (not swallowed, not sent to a job)
        warnings.warn("the process's own warning", UserWarning, stacklevel=1)


def test_a_finished_worker_holds_no_job_and_so_none_of_its_images(qtbot, qapp):
    """PySide 6.11 sometimes never frees a finished QRunnable that ran beside another (a
    long-session review kept 11–29 of 60 workers, among them metrics measurements holding
    the original and the result: 5× the image each). Held on to like that, a worker must
    not keep its job's pixels alive."""
    import gc
    import weakref

    queue = JobQueue()
    queue.runner = lambda job, progress, cancel: "done"
    job = _job("a")
    pixels = weakref.ref(job.image.pixels)
    with qtbot.waitSignal(queue.busyChanged, timeout=5000, check_params_cb=lambda b: b is False):
        queue.submit(job)
    kept = []  # what PySide's lost reference amounts to: the worker object stays alive
    queue.jobStarted.connect(lambda _job: kept.append(queue.worker))
    second = _job("b")
    with qtbot.waitSignal(queue.busyChanged, timeout=5000, check_params_cb=lambda b: b is False):
        queue.submit(second)
    (held,) = kept
    qtbot.waitUntil(lambda: held.job is None, timeout=5000)  # (cleared as its thread ends)
    assert held.job_id == second.id and not held.writes_files
    second_pixels = weakref.ref(second.image.pixels)
    del job, second
    gc.collect()
    assert pixels() is None and second_pixels() is None
