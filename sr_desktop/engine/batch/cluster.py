"""Batch export on a Ray cluster: the same jobs, the same file semantics, many workers.

The driver plans the batch exactly as the local run does (`plan.plan_jobs`: names, mirrored
tree, skip/overwrite/rename, refusals). Files to upscale become a Ray Data dataset mapped
by a pool of actors; each actor loads the model once and runs the local batch stages
(`stages.BatchStages`: read, upscale, atomic write) on the file it is given, so every
output is the byte-for-byte output of a local run. Only paths and the per-file records
travel back through the object store — never pixels.

Faults: Ray restarts an actor whose process died and retries its task, so the file is done
by a live worker; outputs are written atomically (a temp file and a rename), so a killed
worker leaves no half-written output and a retried file is written once. Re-running a batch
whose driver died skips what is complete, as locally.

Ray is the optional extra ``cluster`` (``pip install 'sr-desktop[cluster]'``).

Over 500 lines because the Ray path is one protocol between the driver and its actors
(the plan handed out, the rows relayed back, cancel, faults, progress); the file stages
themselves are the local batch's (`stages`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sr_desktop.engine.batch.options import BatchOptions
from sr_desktop.engine.batch.plan import BatchError, BatchJob, to_upscale
from sr_desktop.engine.batch.report import INTERRUPTED, OUTPUT_EXISTS, FileRecord
from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.native_stderr import native_stderr_silenced
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.paths import DOCS_DIR
from sr_desktop.engine.core.progress import CLUSTER_STAGE, CancelToken, ProgressCallback, ProgressInfo
from sr_desktop.engine.core.text import counted

#: the note of a file whose output a retried task found written by the attempt before it
EARLIER_ATTEMPT = "written by an earlier attempt of this batch (its worker stopped)"
INSTALL_HINT = "pip install 'sr-desktop[cluster]'"
#: torch threads per CPU actor: two keep a 3×3 convolution busy without one actor starving another
THREADS_PER_CPU_ACTOR = 2
#: seconds between a worker's looks at the driver's cancel flag (one round trip each)
CANCEL_CHECK_S = 0.5
#: after Ctrl+C, seconds the driver still collects the records of files that finished
CANCEL_DRAIN_S = 10.0
#: seconds to wait for a cluster's head node to accept a connection
CONNECT_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterTarget:
    """Where a batch runs: ``local`` (a Ray instance started here, all cores and GPUs) or
    the address of a running cluster (``ray://HOST:PORT``; ``auto`` = ``$RAY_ADDRESS``)."""

    address: str | None = None

    @classmethod
    def parse(cls, text: str) -> ClusterTarget:
        """``ray`` -> local; ``auto`` -> ``$RAY_ADDRESS`` (``ray://HOST:PORT`` or a head
        node's ``HOST:PORT``); ``ray://HOST:PORT`` as given."""
        text = (text or "").strip()
        if text == "ray":
            return cls(None)
        if text == "auto":
            address = os.environ.get("RAY_ADDRESS", "").strip()
            if not address:
                raise BatchError("--cluster auto needs the environment variable RAY_ADDRESS (e.g. ray://HOST:10001)")
            if host_and_port(address) is None:
                raise BatchError(f"RAY_ADDRESS must be ray://HOST:PORT or HOST:PORT, got {address!r}")
            return cls(address)
        if text.startswith("ray://") and host_and_port(text) is not None:
            return cls(text)
        raise BatchError(f"--cluster takes ray, auto or ray://HOST:PORT, got {text!r}")

    def reachable(self, timeout: float = CONNECT_TIMEOUT_S) -> None:
        """Refuse, in one `BatchError`, a cluster address nothing answers at: Ray itself
        retries a silent head node for minutes, printing its own log lines."""
        if self.address is None:
            return
        host, port = host_and_port(self.address)
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
            raise BatchError(f"cannot reach Ray at {self.address}: {reason} "
                             "(is the head node running, and is the port right?)") from None

    def describe(self) -> str:
        return "local Ray" if self.address is None else f"Ray at {self.address}"


def host_and_port(address: str) -> tuple[str, int] | None:
    """(host, port) of ``ray://HOST:PORT`` or ``HOST:PORT``; None when it is neither."""
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or "/" in host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def import_ray():
    """The `ray` module, or `BatchError` telling how to install it."""
    # Ray starts a local instance of its own when asked anything unconnected: a row reader
    # left waiting after a cancel (`_drained`) started one at the driver's exit, from its
    # thread ("SIGTERM handler is not set…" on the terminal). Only `connect` starts Ray.
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    try:
        import ray
        import ray.data
    except ImportError:
        raise BatchError(f"--cluster needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


#: the target this process connected Ray to (None: not connected by `connect`)
_connected: ClusterTarget | None = None


def connect(target: ClusterTarget, num_cpus: int | None = None):
    """Start (local) or join (address) Ray; returns the module. Connected to `target`
    already, or to a Ray session the caller started itself: reused. Connected by an earlier
    batch to another target (the window lives on between batches): that one is left first;
    a second batch ran on the first one's cluster, its report naming the second."""
    global _connected
    ray = import_ray()
    _quiet_ray(ray)
    if ray.is_initialized():
        if _connected is None or _connected == target:
            return ray
        ray.shutdown()
        _connected = None
    # Ray reports usage statistics to its makers by default (the head node's dashboard, Ray
    # Data's collector in the driver); SR Desktop sends nothing anywhere unless the user has
    # asked for it by setting the variable (to 1) themselves. Set before `init`, so that the
    # processes a local cluster starts inherit it.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Ray's C++ core printed an error-level line of its own into every cluster batch's
    # terminal output, about the arguments of Ray Data's actors (ray-project/ray#57733);
    # its errors that matter reach us as exceptions. The level's own line ("Set ray log
    # level …") comes at `init`, whose native output is silenced.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                              "configure_logging": False}
    target.reachable()

    def start() -> None:
        with native_stderr_silenced(), own_signal_handlers_kept():
            if target.address is None:
                # "local": a new instance here, whatever $RAY_ADDRESS says (Ray read it, and
                # refused num_cpus for a cluster it then joined)
                ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), **kwargs)
            else:
                ray.init(address=target.address, **kwargs)

    try:
        on_a_lasting_thread(start)
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ValueError...
        words = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
        raise BatchError(f"cannot start {target.describe()}: {words[:300] or type(exc).__name__}") from None
    _connected = target
    return ray


#: the thread a local Ray is started from when the caller's is not the main thread: it
#: lives as long as the process (`on_a_lasting_thread`)
_lasting_thread = None


def on_a_lasting_thread(work):
    """Run `work()` on a thread that lives as long as the process, and return its result: the
    caller's, when it is the main thread, else one kept for the purpose. Ray ties the
    processes of a local cluster to the thread that started them (they die with it): started
    from the window's worker, which Qt's pool ends after 30 s idle, Ray's processes died and
    the window quit 95 s after a batch, without a word."""
    global _lasting_thread
    if threading.current_thread() is threading.main_thread():
        return work()
    from concurrent.futures import ThreadPoolExecutor

    with _LASTING_THREAD_LOCK:
        if _lasting_thread is None:  # (an executor's idle thread is never ended)
            _lasting_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ray-owner")
    return _lasting_thread.submit(work).result()


_LASTING_THREAD_LOCK = threading.Lock()


@contextlib.contextmanager
def own_signal_handlers_kept() -> Iterator[None]:
    """Put back, after the block, the SIGTERM/SIGINT/SIGHUP handlers set before it: `ray.init`
    installs its own SIGTERM handler, and a batch stopped by SIGTERM then ended with Ray's
    crash dump and status 15, without its report, instead of 130 with it. (Handlers can be
    set in the main thread only: elsewhere nothing is done.)"""
    import signal

    main = threading.current_thread() is threading.main_thread()
    numbers = [getattr(signal, n) for n in ("SIGTERM", "SIGINT", "SIGHUP") if main and hasattr(signal, n)]
    saved = {number: signal.getsignal(number) for number in numbers}
    try:
        yield
    finally:
        for number, handler in saved.items():
            if handler is not None and signal.getsignal(number) is not handler:
                signal.signal(number, handler)


def _quiet_ray(ray) -> None:
    """Ray Data's own progress bars and INFO lines would mix with the batch's progress and
    its one line per failed file: keep them out of the terminal."""
    for name in ("ray", "ray.data"):  # (a failure of the workers is said in one line of ours)
        logging.getLogger(name).setLevel(logging.CRITICAL)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # the errors Ray publishes to the driver (a task it retries, with its whole traceback)
    # were printed to stdout, even with log_to_driver off: into a `--report -` JSON
    worker = getattr(getattr(ray, "_private", None), "worker", None)
    if worker is not None and hasattr(worker, "print_to_stdstream"):
        worker.print_to_stdstream = _ray_lines_to_log


def _ray_lines_to_log(data: dict, ignore_prefix: bool = False) -> None:
    """Where Ray's driver prints the lines its processes send: the log file (``-v``)."""
    for line in data.get("lines", []):
        log.info("ray %s: %s", data.get("pid", ""), str(line).rstrip())


class CancelFlag:
    """Set by the driver on Ctrl+C, or by a worker whose output folder takes no more files;
    read by every worker (run as a Ray actor the driver owns, so it ends with the driver)."""

    def __init__(self) -> None:
        self._set = False
        self._halted = ""

    def set(self) -> None:
        self._set = True

    def halt(self, why: str) -> None:
        """The output folder is full or read-only (`why`, as the local batch says it): every
        worker stops as for a cancel, and the driver reports the batch as stopped for it."""
        self._halted = self._halted or why
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def halted(self) -> str:
        return self._halted


class FlagCancelToken(CancelToken):
    """A worker's cancel token: set once the driver's `CancelFlag` is set or can no longer
    be reached (the driver ended), so that the file in progress is dropped at its next tile
    as in a local batch; workers outlived a cancelled driver and wrote their files."""

    def __init__(self, flag, interval: float = CANCEL_CHECK_S) -> None:
        super().__init__()
        self._flag = flag
        self._interval = interval
        self._next_look = 0.0

    @property
    def cancelled(self) -> bool:
        now = time.monotonic()
        if not self._event.is_set() and self._flag is not None and now >= self._next_look:
            self._next_look = now + self._interval
            import ray

            try:
                if ray.get(self._flag.is_set.remote(), timeout=10):
                    self.cancel()
            except ray.exceptions.GetTimeoutError:
                pass  # a busy cluster: look again later
            except Exception:  # noqa: BLE001 - the flag's actor died with the driver
                self.cancel()
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()


@dataclass(frozen=True)
class _ActorConfig:
    options: BatchOptions
    upscale_options: UpscaleOptions
    threads: int
    inputs: tuple[str, ...]
    cancel_flag: Any = None  # the driver's CancelFlag actor


class UpscaleActor:
    """One worker of the pool: loads the model once, then runs the local batch stages on the
    file of each row it is given and returns that file's record (paths and numbers only).

    Its settings are a class attribute of a subclass made per batch (`actor_class`) rather
    than constructor arguments: those would live in the object store, and an actor that Ray
    restarts after its process died could lose them.
    """

    config: _ActorConfig

    def __init__(self) -> None:
        import torch

        from sr_desktop.engine.imageio import ProtectedPaths
        from sr_desktop.engine.pipeline.upscale import resolve_model

        config = self.config
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        self.options = config.options
        self.upscale_options = config.upscale_options
        self.model, _plan = resolve_model(config.upscale_options)
        # every input of the batch, not only this worker's files, is never written over
        self.protect = ProtectedPaths(config.inputs)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.cancel = FlagCancelToken(config.cancel_flag)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        jobs = [pickle.loads(blob) for blob in batch["job"]]
        records = [self._run_one(job) for job in jobs]
        # b"": a file dropped by a cancel before it started
        blobs = [pickle.dumps(replace(r, worker=self.worker)) if r is not None else b"" for r in records]
        return {"index": [job.index for job in jobs], "record": blobs}

    def _run_one(self, job: BatchJob) -> FileRecord | None:
        from sr_desktop.engine.batch.stages import BatchStages

        if self.cancel.cancelled:
            return None

        # the stages index their records by job.index: one job here is job 0
        stages = BatchStages([replace(job, index=0)], self.options, self.upscale_options, None, self.cancel,
                             self.model)
        stages.protect = self.protect
        stages.run()
        if stages.halted:
            # every later file would be upscaled only to fail its write: all workers stop
            # (a full disk made each of them upscale every remaining file first)
            self.cancel.cancel()
            if self.config.cancel_flag is not None:
                self.config.cancel_flag.halt.remote(stages.halted)
        if stages.records[0] is None and self.cancel.cancelled:
            return None
        record = stages.records[0] or FileRecord(str(job.input), None, "failed", error="not processed")
        if record.status == "skipped" and record.note == OUTPUT_EXISTS:
            # the driver sends only files whose output was missing when the batch was
            # planned: it exists now because an attempt of this batch on a worker that died
            # wrote it (atomically) before its task was retried here
            record = replace(record, status="ok", note=EARLIER_ATTEMPT)
        return record


def actor_class(options: BatchOptions, upscale_options: UpscaleOptions, threads: int,
                inputs: list[str], cancel_flag=None) -> type[UpscaleActor]:
    """An `UpscaleActor` subclass carrying one batch's settings (and the driver's
    `CancelFlag` actor, None: never cancelled)."""
    kernel = upscale_options.kernel
    if isinstance(kernel, str | os.PathLike) and str(kernel) != "estimate":
        # absolute, as the jobs' files (`_anchored`): a worker resolves a relative one against
        # its own working folder
        upscale_options = replace(upscale_options, kernel=os.path.abspath(kernel))
    config = _ActorConfig(options, upscale_options, threads, tuple(inputs), cancel_flag)
    return type("UpscaleActor", (UpscaleActor,), {"config": config})


def _actor_pool_size(ray, threads: int) -> tuple[int, float, float]:
    """(actors, CPUs per actor, GPUs per actor) for the cluster's resources."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if gpus > 0:
        return gpus, 1.0, 1.0  # one actor per GPU, as one process per device locally
    cpus = max(1, int(resources.get("CPU", 1)))
    per_actor = max(1, min(threads, cpus))
    return max(1, cpus // per_actor), float(per_actor), 0.0


def run_jobs_on_ray(
    jobs: list[BatchJob],
    options: BatchOptions,
    upscale_options: UpscaleOptions,
    target: ClusterTarget,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[list[FileRecord | None], bool, str]:
    """Run `jobs` on Ray; returns (one record per job, in job order; completed; why the
    batch stopped early because the output folder takes no more files, "" if not).

    Jobs that need no upscaling (skipped, refused, missing) are recorded here by the local
    stages, without a worker. The rest go through the actor pool; records arrive as files
    finish and feed `progress` (files done, files per second, ETA).
    """
    from sr_desktop.engine.batch.stages import BatchStages, log_failure

    cancel = cancel or CancelToken()
    records: list[FileRecord | None] = [None] * len(jobs)
    position = {job.index: i for i, job in enumerate(jobs)}
    remote = [job for job in jobs if to_upscale(job, options.existing)]  # (the files the workers upscale)
    sent = {job.index for job in remote}
    local = [job for job in jobs if job.index not in sent]
    started = time.perf_counter()
    done, megapixels = 0, 0.0
    counts: Counter[str] = Counter()  # by status, as the local batch reports them
    if local:
        # skipped, refused and missing files: recorded by the local stages' own rules (no
        # file among them reaches the device loop, so no model is loaded here)
        stages = BatchStages([replace(job, index=i) for i, job in enumerate(local)], options, upscale_options,
                             None, cancel, model=None)
        stages.run()
        for job, record in zip(local, stages.records, strict=True):
            records[position[job.index]] = record
            if record is not None and record.status != INTERRUPTED:
                done += 1
                counts[record.status] += 1
                _report(progress, done, len(jobs), started, record, job.index, counts, 0.0, 0.0, None)
    if not remote:
        return records, True, ""
    if progress is not None:  # (before Ray starts: that is part of the seconds said)
        progress(ProgressInfo(done=done, total=len(jobs), elapsed=time.perf_counter() - started, eta=None,
                              stage=CLUSTER_STAGE,
                              message=f"starting {target.describe()}'s workers for {counted(len(remote), 'file')}"))
    ray = connect(target)
    actors, cpus, gpus = _actor_pool_size(ray, THREADS_PER_CPU_ACTOR)
    actors = min(actors, len(remote))
    threads = int(cpus) if gpus == 0 else 0
    flag = ray.remote(num_cpus=0)(CancelFlag).remote()
    plan = _PoolPlan(remote, options, upscale_options, threads, [os.path.abspath(job.input) for job in jobs],
                     flag, actors, cpus, gpus)
    finished = threading.Event()
    forwarder = threading.Thread(target=_forward_cancel, args=(cancel, flag, finished), daemon=True,
                                 name="sr-cluster-cancel")
    forwarder.start()
    dispatched_at = time.perf_counter()
    if _through_client(ray):
        rows = _relayed_rows(ray, plan, cancel)
    else:
        rows = _rows(plan.mapped(ray), cancel)
    upscaled = 0  # the workers' files
    try:
        for row in _worker_failures_said(rows):
            if row is None:
                break
            if row["record"]:
                job = jobs[position[int(row["index"])]]
                record = _as_planned(pickle.loads(row["record"]), job)
                records[position[int(row["index"])]] = record
                if record.status == "failed":  # (the worker's own log goes nowhere)
                    log_failure(record)
                if record.status == INTERRUPTED:  # stopped at a tile by the cancel: not a finished file
                    continue
                done += 1
                counts[record.status] += 1
                if record.status == "ok":
                    megapixels += record.input_megapixels
                # the rate over the workers' files since they were handed out (their start-up
                # counted, as a local batch counts its model's load): counted over every file
                # (a resumed run's skipped ones, recorded at once) from before Ray started, a
                # resumed batch read "3565 file/s, 0.0 s left"; and over the files since the
                # first arrived, the first block's rows, which arrive together, read "1198.88
                # file/s, 0.0 s left" until the next block, minutes later with a slow model
                upscaled += 1
                now = time.perf_counter()
                rate = upscaled / (now - dispatched_at) if now > dispatched_at else 0.0
                eta = (len(jobs) - done) / rate if rate > 0 else None
                _report(progress, done, len(jobs), started, record, job.index, counts, megapixels, rate, eta)
    finally:
        rows.close()  # stops Ray Data's execution (and its actor pool) now, not when collected
        finished.set()
        forwarder.join(timeout=1.0)
    halted = ""
    if not cancel.cancelled:
        try:
            halted = ray.get(flag.halted.remote(), timeout=10)
        except Exception:  # noqa: BLE001 - the flag's actor is gone: nothing was said
            log.warning("could not ask the workers whether the output folder filled up")
    return records, not cancel.cancelled, halted


@dataclass
class _PoolPlan:
    """The files to upscale and how the actor pool that upscales them is made."""

    to_upscale: list[BatchJob]
    options: BatchOptions
    upscale_options: UpscaleOptions
    threads: int
    inputs: list[str]
    flag: Any
    actors: int
    cpus: float
    gpus: float

    def mapped(self, ray):
        """The Ray Data dataset of the files, mapped by the actor pool (not run yet)."""
        per_task = files_per_task(len(self.to_upscale), self.actors)
        # jobs travel pickled (a binary column): Arrow has no type for them
        dataset = ray.data.from_items([{"job": pickle.dumps(_anchored(job))} for job in self.to_upscale],
                                      override_num_blocks=max(1, len(self.to_upscale) // per_task))
        return dataset.map_batches(
            actor_class(self.options, self.upscale_options, self.threads, self.inputs, self.flag),
            batch_size=per_task,
            compute=ray.data.ActorPoolStrategy(size=self.actors),
            num_cpus=self.cpus,
            num_gpus=self.gpus,
        )


def _through_client(ray) -> bool:
    """Whether this process is a Ray Client driver (``ray://``): Ray Data's executor cannot
    run in one ("'Worker' object has no attribute 'core_worker'" on every such batch)."""
    client = getattr(getattr(ray, "util", None), "client", None)
    try:
        return bool(client is not None and client.ray.is_connected())
    except Exception:  # noqa: BLE001 - an older or newer Ray without the client API: not a client
        return False


class RowRelay:
    """Runs a batch's mapped dataset on the cluster for a Ray Client driver, keeping the
    rows as they come until the driver takes them (`take`); an actor of no CPU."""

    def __init__(self, plan: _PoolPlan) -> None:
        self._rows: list[dict] = []
        self._done = False
        self._error = ""
        self._lock = threading.Lock()
        threading.Thread(target=self._run, args=(plan,), daemon=True, name="sr-cluster-relay").start()

    def _run(self, plan: _PoolPlan) -> None:
        import ray

        try:
            for row in plan.mapped(ray).iter_rows():
                with self._lock:
                    self._rows.append({"index": row["index"], "record": row["record"]})
        except Exception as exc:  # noqa: BLE001 - said to the driver in one line
            self._error = _worker_reason(exc)
        finally:
            self._done = True

    def take(self) -> tuple[list[dict], bool, str]:
        """(rows since the last take, whether the dataset is done, its error or "")."""
        with self._lock:
            rows, self._rows = self._rows, []
            return rows, self._done, self._error  # (a last row is added before `_done` is set)


#: seconds between a Ray Client driver's looks at the relay's rows
RELAY_POLL_S = 0.2


def _relayed_rows(ray, plan: _PoolPlan, cancel: CancelToken) -> Iterator[dict | None]:
    """The rows of `plan` run by a `RowRelay` on the cluster, as `_rows` gives them (the same
    drain after a cancel)."""
    return _drained(_relay_source(ray, plan), cancel)


def _relay_source(ray, plan: _PoolPlan) -> Iterator[dict]:
    """The rows a `RowRelay` running `plan` collects, taken every `RELAY_POLL_S`; the relay
    ends with the iteration."""
    relay = ray.remote(num_cpus=0)(RowRelay).remote(plan)
    try:
        while True:
            rows, done, error = ray.get(relay.take.remote())
            yield from rows
            if error:
                raise RuntimeError(error)  # (said as the workers' failure)
            if done:
                return
            time.sleep(RELAY_POLL_S)
    finally:
        ray.kill(relay)


def _worker_failures_said(rows: Iterator[dict | None]) -> Iterator[dict | None]:
    """`rows`, with a failure of the workers themselves (a model a node cannot load: every
    node needs the same models) as one `BatchError`; it was Ray's 125 lines of traceback
    and "unexpected error", exit 3, without a report."""
    try:
        yield from rows
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps a worker's error in its own types
        raise BatchError(f"the Ray workers cannot upscale: {_worker_reason(exc)} "
                         f"(every node needs the same models and files: {DOCS_DIR / 'cluster.md'})") from None


def _worker_reason(exc: BaseException) -> str:
    """The app's own error inside a Ray exception (its chain, or the text of a remote
    traceback), else the exception's first line."""
    from sr_desktop.engine.core.errors import SRDesktopError

    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, SRDesktopError):
            return str(seen)
        seen = getattr(seen, "cause", None) or seen.__cause__
    ours = {cls.__name__ for cls in _subclasses(SRDesktopError)}
    for line in reversed(str(exc).splitlines()):
        name, sep, message = line.strip().partition(": ")
        if sep and name.rpartition(".")[2] in ours and message:
            return message.strip()
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def _subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found += _subclasses(sub)
    return found


def _anchored(job: BatchJob) -> BatchJob:
    """`job` with absolute paths: a worker resolves a relative one against its own working
    folder (a cluster's head started elsewhere: every file "not found", or read and written
    in that folder while the report said ok)."""
    output = Path(os.path.abspath(job.output)) if job.output is not None else None
    return replace(job, input=Path(os.path.abspath(job.input)), output=output)


def _as_planned(record: FileRecord, job: BatchJob) -> FileRecord:
    """A worker's record of an `_anchored` job with the paths as the batch named them."""
    output = record.output
    if output is not None and job.output is not None and not job.output.is_absolute():
        output = os.path.relpath(output)  # (renamed outputs too: `--existing rename`)
    # the error in the batch's words too ("cannot read /abs/in/x.png: …" for in/x.png)
    renamed = [(os.path.abspath(job.input), str(job.input))]
    if job.output is not None:
        renamed += [(record.output, output), (os.path.abspath(job.output), str(job.output))]
    error = record.error
    for worker_path, planned in renamed:
        if worker_path and planned and worker_path != planned:
            error = error.replace(worker_path, planned)
    return replace(record, input=str(job.input), output=output, error=error)


def _forward_cancel(cancel: CancelToken, flag, finished: threading.Event) -> None:
    """Set the workers' flag as soon as `cancel` is (the driver may be waiting for a row)."""
    while not finished.wait(0.1):
        if cancel.cancelled:
            flag.set.remote()
            return


def files_per_task(files: int, actors: int) -> int:
    """Files per Ray task: one task per file costs a scheduling round trip each (measured 13–27 %
    over the in-process batch on 24 small photos); up to 8 per task amortise it, while each actor
    still gets at least 8 tasks so that the work stays balanced and a lost task redoes few files."""
    return max(1, min(8, files // (8 * max(1, actors))))


def _rows(mapped, cancel: CancelToken) -> Iterator[dict | None]:
    """The mapped rows as they arrive (`_drained`)."""
    return _drained(iter(mapped.iter_rows()), cancel)


#: seconds between the driver's looks at the cancel while it waits for a row
ROW_WAIT_S = 0.2


def _drained(source: Iterator[dict], cancel: CancelToken) -> Iterator[dict | None]:
    """The rows of `source`. After `cancel`, the workers drop their files, so the rest arrive
    fast (as empty records) and the finished ones still count; None once `CANCEL_DRAIN_S`
    have passed since the cancel (the rest is dropped). `source` is read by a thread of its
    own: waiting for a row that never came (no worker could start: a cluster without a free
    CPU) blocked here, and Cancel, then Ctrl+C, never took effect."""
    import queue

    rows: queue.Queue = queue.Queue()
    end = object()

    def pump() -> None:
        try:
            for row in source:
                rows.put(row)
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, which raises it
            rows.put(exc)
        rows.put(end)

    reader = threading.Thread(target=pump, daemon=True, name="sr-cluster-rows")
    reader.start()
    deadline = None
    try:
        while True:
            if cancel.cancelled:
                deadline = deadline or time.monotonic() + CANCEL_DRAIN_S
                if time.monotonic() > deadline:
                    yield None
                    return
            try:
                row = rows.get(timeout=ROW_WAIT_S)
            except queue.Empty:
                continue
            if row is end:
                return
            if isinstance(row, BaseException):
                raise row
            yield row
    finally:
        # a source still waiting for its next row is left to end with the cluster's work: a
        # generator cannot be closed while another thread runs it
        close = getattr(source, "close", None)
        if close is not None and not reader.is_alive():
            close()


def _report(progress: ProgressCallback | None, done: int, total: int, started: float, record: FileRecord,
            index: int, counts: Counter[str], megapixels: float, rate: float, eta: float | None) -> None:
    """A finished file, reported as the local batch reports it: its record, its index in
    the plan, the counts by status (the window's table had no row for a file of a Ray
    batch, its status line "failed 0" whatever failed), the input megapixels upscaled so
    far per second (it read 0.00 MP/s), and the workers' `rate` (files per second) and `eta`."""
    if progress is None:
        return
    elapsed = time.perf_counter() - started
    extra: dict[str, Any] = {"event": "file", "files_per_second": rate, "record": record, "index": index,
                             "current": record.input,
                             "megapixels_per_second": megapixels / elapsed if elapsed > 0 else 0.0,
                             **{status: counts[status] for status in ("ok", "skipped", "failed")}}
    progress(ProgressInfo(done=done, total=total, elapsed=elapsed, eta=eta, stage="batch", message=record.input,
                          extra=extra))
