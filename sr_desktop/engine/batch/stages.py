"""The three overlapping stages of a batch run, so the device is not idle while files are
decoded or encoded:

    reader thread --(bounded queue)--> device (calling thread) --(bounded queue)--> writer threads

The queues are short, so at most a few decoded inputs and upscaled outputs are held in
memory whatever the length of the batch. A file that cannot be read, upscaled or written
is recorded as ``failed`` with a one-line reason and the run goes on.

Over 500 lines because the three threads and their bounded queues share each file's
record and the cancel, full-disk and failure paths, which must agree on what was written.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sr_desktop.engine import imageio
from sr_desktop.engine.batch.options import BatchOptions
from sr_desktop.engine.batch.plan import BatchJob, renamed_path, to_upscale
from sr_desktop.engine.batch.report import (
    HIDDEN,
    INTERRUPTED,
    LINKED_FOLDER,
    NOT_AN_IMAGE,
    OUTPUT_EXISTS,
    OUTPUT_OF_BATCH,
    OUTPUT_OF_EARLIER_BATCH,
    FileRecord,
)
from sr_desktop.engine.compute.devices import auto_device_is_cpu_without_torch, resolve_device
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.options import UpscaleOptions, parse_device
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressInfo
from sr_desktop.engine.core.text import error_line
from sr_desktop.engine.imageio import ProtectedPaths, SaveOptions
from sr_desktop.engine.imageio.animation import (
    Animation,
    check_animation_format,
    read_image_or_animation,
    write_animation,
)
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.write import lossy_changes
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.registry import get_model_spec

# The module, not its functions: the upscale call is looked up at run time (tests wrap it).
from sr_desktop.engine.pipeline import animation, upscale
from sr_desktop.engine.pipeline.output_size import enlargement_note, resized

log = logging.getLogger(__name__)

_END = object()  # end-of-stream marker in the queues


def _collision(job: BatchJob) -> str:
    """Why `job` fails for its output name, and what helps: {ext} only where the suffixes
    differ (a.png and a.jpg); listed files of one name from outside the input folder all
    land in the output root, whatever the template."""
    other = job.collision_with
    if other is not None and other.suffix.lower() != job.input.suffix.lower():
        return f"same output name as {other.name}; add {{ext}} to the name template"
    return (f"same output name as {other} (listed files from outside the input folder all go to the "
            "output root); rename one, or batch them from a folder that holds both")


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


#: names tried by ``--existing rename`` when other runs keep taking the next one
RENAME_ATTEMPTS = 20


def _not_an_output(path: Path) -> str | None:
    """Why what is at an output's name is not a finished output (None: it is one). A link is
    one, even to a missing file (git-annex's link to content not present here): a batch leaves
    it alone (it failed "cannot read what has the output's name" on every re-run)."""
    if os.path.islink(path):
        return None
    if os.path.isdir(path):
        return "a folder has the output's name; rename or remove it"
    try:
        if os.stat(path).st_size == 0:
            return "an empty file has the output's name (not an output); remove it, or overwrite existing outputs"
    except OSError as exc:  # a dangling link, say
        return f"cannot read what has the output's name ({exc.strerror or exc})"
    return None


def encode_in_device_thread(options: BatchOptions, upscale_options: UpscaleOptions,
                             model: SRModel | None) -> bool:
    """Whether the device thread encodes outputs itself (writers then only write bytes).

    With a network on the CPU, inference already keeps every core busy: an encoder in a
    writer thread cannot overlap with it, it only preempts one of torch's worker threads
    and stalls the others at the next barrier. Encoding right after each image costs its
    own CPU time and nothing more; the file writes and fsyncs, which wait on the disk,
    stay in the writer threads. On a GPU, or with a plain resampler (cheaper than its
    encoding), the writer threads encode in parallel. `BatchOptions.encode_in_device_thread`
    overrides this choice.
    """
    if options.encode_in_device_thread is not None:
        return bool(options.encode_in_device_thread)
    if model is not None:
        return model.kind != ModelKind.RESAMPLE and model.device.type == "cpu"
    try:
        if get_model_spec(upscale_options.model).kind == ModelKind.RESAMPLE:
            return False
        device = parse_device(upscale_options.device)
        if device == "cpu" or (device == "auto" and auto_device_is_cpu_without_torch()):
            return True  # (known without importing torch)
        return resolve_device(device).type == "cpu"
    except SRDesktopError:  # an unknown model or a bad device is reported when the model loads
        return False


#: what the system says when the output folder takes no more files: the batch stops there
OUTPUT_LOST = frozenset({errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)})


def bug_traceback(exc: BaseException) -> str:
    """The traceback of a bug that failed a file (not the engine's own error, the system's or
    out of memory), for the log: the batch left it nowhere, -v included; "" otherwise. It
    travels with the file's record, so a Ray worker's reaches the driver's log too."""
    import traceback

    from sr_desktop.engine.pipeline.memory import is_allocation_failure

    if isinstance(exc, SRDesktopError | OSError | MemoryError) or is_allocation_failure(exc):
        return ""
    return "".join(traceback.format_exception(exc)).rstrip()


def log_failure(record: FileRecord) -> None:
    """A failed file's line in the log (INFO: the window's log file, the terminal with -v),
    with a bug's traceback."""
    log.info("failed: %s: %s%s", record.input, record.error, "\n" + record.details if record.details else "")


class BatchStages:
    """Reader thread, device loop and writer threads of one batch run."""

    def __init__(
        self,
        jobs: list[BatchJob],
        options: BatchOptions,
        upscale_options: UpscaleOptions,
        progress: ProgressCallback | None,
        cancel: CancelToken,
        model: SRModel | None = None,
    ):
        self.jobs = jobs
        self.model = model
        self.options = options
        self.upscale_options = upscale_options
        self.progress = progress
        self.cancel = cancel
        # the inputs, not the files in the input folder that are this batch's own outputs (an
        # earlier run's, found in place): `--existing overwrite` failed every file on them
        self.protect = ProtectedPaths(job.input for job in jobs if job.output_of is None)
        self.read_queue: queue.Queue = queue.Queue(maxsize=max(1, options.read_queue_size))
        self.write_queue: queue.Queue = queue.Queue(maxsize=max(1, options.write_queue_size))
        self.stop = threading.Event()  # set when the device loop stops early (cancel, halt)
        #: why the batch stopped before the end (the output folder full or read-only), "" if not
        self.halted = ""
        self.records: list[FileRecord | None] = [None] * len(jobs)
        self.thread_errors: list[BaseException] = []
        self.reader_stopped_early = False  # the reader saw the cancel before the last file
        self.lock = threading.Lock()
        self.start = time.perf_counter()
        self.first_processed_at: float | None = None
        self.processed = 0  # files upscaled (ok or failed after reading), for the ETA
        # the files to upscale: the ETA counts these at the upscales' rate (every job counted at
        # it said "ETA 9:00" for a folder of 3 000 non-images and 3 photos done in a second)
        self._upscaled = {job.index for job in jobs if to_upscale(job, options.existing)}
        self.upscaled_left = len(self._upscaled)  # of those, the ones without their record yet
        self.done = 0
        self.counts = {"ok": 0, "skipped": 0, "failed": 0}
        self.megapixels = 0.0
        self.encode_inline = encode_in_device_thread(options, upscale_options, model)

    # -- progress ----------------------------------------------------------------------
    def _emit(self, event: str, current: str, **extra: Any) -> None:
        if self.progress is None:
            return
        with self.lock:
            self._emit_locked(event, current, **extra)

    def _emit_locked(self, event: str, current: str, **extra: Any) -> None:
        # Called with self.lock held, so reports go out one at a time and in order.
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.start
        remaining = len(self.jobs) - self.done
        eta = None
        if remaining == 0 or self.upscaled_left == 0:
            eta = 0.0
        elif self.processed and self.first_processed_at is not None:
            per_file = (time.perf_counter() - self.first_processed_at) / self.processed
            eta = per_file * self.upscaled_left
        busy = elapsed if self.first_processed_at is None else time.perf_counter() - self.first_processed_at
        info = ProgressInfo(
            done=self.done,
            total=len(self.jobs),
            elapsed=elapsed,
            eta=eta,
            stage="batch",
            message=current,
            extra={
                "event": event,
                "current": current,
                "files_per_second": (self.counts["ok"] / busy) if busy > 0 else 0.0,
                "megapixels_per_second": (self.megapixels / busy) if busy > 0 else 0.0,
                **dict(self.counts),
                **extra,
            },
        )
        try:
            self.progress(info)
        except Exception:  # a broken progress view must not break the batch
            log.exception("batch progress callback failed")

    def _record(self, job: BatchJob, record: FileRecord) -> None:
        if record.status == "failed":
            log_failure(record)
        with self.lock:
            self.records[job.index] = record
            self.done += 1
            if job.index in self._upscaled:
                self.upscaled_left -= 1
            self.counts[record.status] += 1
            if record.status == "ok":
                self.megapixels += record.input_megapixels
            self._emit_locked("file", str(job.input), record=record, index=job.index)

    # -- queue helpers that give up when the pipeline stops --------------------------------
    def _put(self, q: queue.Queue, item: Any) -> bool:
        while True:
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                if self.stop.is_set():
                    return False

    # -- reader ------------------------------------------------------------------------
    def reader(self) -> None:
        try:
            for job in self.jobs:
                if self.cancel.cancelled or self.stop.is_set():
                    self.reader_stopped_early = True
                    break
                item: Any
                if job.missing:
                    item = ("record", job, FileRecord(str(job.input), None, "failed", error="no such file"))
                elif job.hidden:
                    item = ("record", job, FileRecord(str(job.input), None, "skipped", note=HIDDEN))
                elif not job.is_image and job.input.is_symlink() and job.input.is_dir():
                    item = ("record", job, FileRecord(str(job.input), None, "skipped", note=LINKED_FOLDER))
                elif not job.is_image:
                    item = ("record", job, FileRecord(str(job.input), None, "skipped", note=NOT_AN_IMAGE,
                                                      input_bytes=_file_size(job.input)))
                elif job.refusal is not None:
                    item = ("record", job, FileRecord(str(job.input), job.output and str(job.output), "failed",
                                                      error=job.refusal, input_bytes=_file_size(job.input)))
                elif job.output_of is not None:
                    whose = OUTPUT_OF_EARLIER_BATCH if job.earlier_batch else OUTPUT_OF_BATCH
                    item = ("record", job, FileRecord(
                        str(job.input), None, "skipped", note=f"{whose} ({job.output_of.name})",
                        input_bytes=_file_size(job.input)))
                elif job.collision_with is not None:
                    item = ("record", job, FileRecord(
                        str(job.input), str(job.output), "failed", error=_collision(job),
                        input_bytes=_file_size(job.input)))
                elif self.options.existing == "skip" and job.output is not None and os.path.lexists(job.output):
                    # only a file with something in it counts as a finished output (the app's
                    # writes are atomic: never empty); a folder or an empty file is no output
                    why = _not_an_output(job.output)
                    item = ("record", job, FileRecord(
                        str(job.input), str(job.output), "skipped" if why is None else "failed",
                        note=OUTPUT_EXISTS if why is None else "", error=why or "",
                        input_bytes=_file_size(job.input), output_bytes=_file_size(job.output)))
                else:
                    t0 = time.perf_counter()
                    try:
                        image = read_image_or_animation(job.input)
                        if isinstance(image, Animation):  # refused before any frame is upscaled
                            check_animation_format(image, job.output, self._save_options(job))
                        item = ("image", job, image, time.perf_counter() - t0)
                    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
                        item = ("record", job, FileRecord(str(job.input), str(job.output), "failed",
                                                          error=error_line(exc), details=bug_traceback(exc),
                                                          input_bytes=_file_size(job.input),
                                                          read_seconds=time.perf_counter() - t0))
                if not self._put(self.read_queue, item):
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            self.thread_errors.append(exc)
            self.stop.set()
        finally:
            self._put(self.read_queue, _END)

    # -- device (runs in the calling thread) -------------------------------------------
    def device_loop(self) -> bool:
        """Upscale what the reader delivers; return False if cancelled."""
        cancelled = False
        while True:
            item = self.read_queue.get()
            if item is _END:
                break
            if item[0] == "record":
                if not self._put(self.write_queue, item):
                    break  # the writer stopped (see run)
                continue
            _, job, image, read_seconds = item
            del item
            if self.cancel.cancelled or self.halted:
                cancelled = True
                break
            in_size = [image.width, image.height]
            self._emit("start", str(job.input), index=job.index, size=in_size)
            if self.first_processed_at is None:
                self.first_processed_at = time.perf_counter()

            def tile_progress(info: ProgressInfo, job: BatchJob = job) -> None:
                self._emit("tile", str(job.input), index=job.index, tile_fraction=info.fraction)

            t0 = time.perf_counter()
            try:
                if isinstance(image, Animation):
                    result = animation.upscale_animation(
                        image, self.upscale_options, progress=tile_progress, cancel=self.cancel, model=self.model
                    )
                else:
                    result = upscale.upscale_image(
                        image, self.upscale_options, progress=tile_progress, cancel=self.cancel, model=self.model
                    )
                enlarged = ""
                if self.options.size is not None:
                    upscaled = result.image
                    result = replace(result, image=resized(result.image, self.options.size.for_model(result.model),
                                                           job.output_format, self.cancel))
                    enlarged = enlargement_note((upscaled.width, upscaled.height),
                                                (result.image.width, result.image.height), result.model, result.scale)
                    del upscaled
            except Cancelled:
                cancelled = True
                with self.lock:  # (not a finished file: neither counted nor reported as one)
                    self.records[job.index] = FileRecord(
                        str(job.input), str(job.output), INTERRUPTED,
                        note="stopped during its upscale; nothing written", input_bytes=_file_size(job.input),
                        input_size=in_size, read_seconds=read_seconds,
                        upscale_seconds=time.perf_counter() - t0)
                break
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory on one huge file
                record = FileRecord(str(job.input), str(job.output), "failed", error=error_line(exc),
                                    details=bug_traceback(exc),
                                    input_bytes=_file_size(job.input), input_size=in_size,
                                    read_seconds=read_seconds, upscale_seconds=time.perf_counter() - t0)
                self.processed += 1
                self._put(self.write_queue, ("record", job, record))
                continue
            finally:
                del image
            self.processed += 1
            upscale_seconds = time.perf_counter() - t0
            encoded: tuple[bytes, float] | Exception | None = None
            if self.encode_inline and not isinstance(result.image, Animation):
                encoded = self._encode(job, result.image)
            delivered = self._put(self.write_queue, ("result", job, result.image, in_size, read_seconds,
                                                     upscale_seconds, encoded, result.warnings, enlarged))
            del result, encoded
            if not delivered:
                break
        cancelled = cancelled or self.reader_stopped_early
        if cancelled:
            self.stop.set()
            self._drain(self.read_queue)
        return not cancelled

    @staticmethod
    def _drain(q: queue.Queue) -> None:
        while True:
            try:
                q.get_nowait()
            except queue.Empty:
                return

    # -- writer ------------------------------------------------------------------------
    def writer(self) -> None:
        try:
            while True:
                item = self.write_queue.get()
                if item is _END:
                    return
                if item[0] == "record":
                    self._record(item[1], item[2])
                    continue
                _, job, image, in_size, read_seconds, upscale_seconds, encoded, warnings, enlarged = item
                record = self._write_one(job, image, in_size, read_seconds, upscale_seconds, encoded)
                record.warning = "; ".join(warnings)
                if record.status == "ok" and enlarged:
                    record.note = ", ".join(filter(None, (record.note, enlarged)))
                self._record(job, record)
                del image, item
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            self.thread_errors.append(exc)
            self.stop.set()  # nobody consumes the write queue any more

    def _save_options(self, job: BatchJob) -> SaveOptions:
        return SaveOptions(format=job.output_format, quality=int(self.options.quality),
                           keep_metadata=self.options.keep_metadata, keep_lossless=self.options.keep_lossless,
                           drop_gps=self.options.drop_gps)

    def _encode(self, job: BatchJob, image: Image) -> tuple[bytes, float] | Exception:
        """Encode in the device thread (CPU inference; see `BatchStages.encode_inline`).
        On failure: the exception, for the writer to record against the file."""
        t0 = time.perf_counter()
        try:
            return (imageio.encode_image(image, job.output, self._save_options(job)), time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - recorded as this file's failure
            return exc

    def _write_one(
        self, job: BatchJob, image: Image | Animation, in_size: list[int], read_seconds: float, upscale_seconds: float,
        encoded: tuple[bytes, float] | Exception | None = None,
    ) -> FileRecord:
        assert job.output is not None
        target = job.output
        overwrite = self.options.existing == "overwrite"
        if self.options.existing == "rename" and os.path.lexists(target):  # (a dangling link is taken too)
            target = renamed_path(target)
        record = FileRecord(str(job.input), str(target), "failed", input_bytes=_file_size(job.input),
                            input_size=in_size, read_seconds=read_seconds, upscale_seconds=upscale_seconds,
                            # (a TIFF's pages, each of its own size, are not frames of one size)
                            frames=len(image.frames) if isinstance(image, Animation) and image.is_timed else None)
        t0 = time.perf_counter()
        encode_seconds = 0.0
        if isinstance(encoded, tuple):
            encoded, encode_seconds = encoded
        for _attempt in range(RENAME_ATTEMPTS):
            try:
                if isinstance(encoded, BaseException):
                    raise encoded
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(image, Animation):
                    written = write_animation(image, target, self._save_options(job), overwrite=overwrite,
                                              protect=self.protect)
                else:
                    written = imageio.write_image(image, target, self._save_options(job), overwrite=overwrite,
                                                  protect=self.protect, encoded=encoded)
                break
            except Exception as exc:  # noqa: BLE001 - recorded as this file's failure
                # another process (a second batch on the same folders) wrote this name since
                # it was checked: with skip that is a finished output, with rename the next name
                taken = (not overwrite and getattr(exc, "reason", "").startswith("file exists")
                         and _not_an_output(target) is None)
                if taken and self.options.existing == "rename":
                    target = renamed_path(job.output)  # (the next free name: not "_1_1")
                    record.output = str(target)
                    continue
                record.write_seconds = time.perf_counter() - t0 + encode_seconds
                if taken:
                    record.status, record.note = "skipped", f"{OUTPUT_EXISTS} (written meanwhile by another run)"
                    record.output_bytes = _file_size(target)
                else:
                    record.error, record.details = error_line(exc), bug_traceback(exc)
                    if getattr(exc, "errno", None) in OUTPUT_LOST:
                        self._halt(f"{target.parent}: {getattr(exc, 'reason', exc)}")
                return record
        else:
            record.error = f"no free name beside {job.output.name} after {RENAME_ATTEMPTS} tries (other runs took them)"
            return record
        record.write_seconds = time.perf_counter() - t0 + encode_seconds
        record.status = "ok"
        record.output = str(written)
        record.output_bytes = _file_size(Path(written))
        record.output_size = [image.width, image.height]
        # what the format's limits changed, as `upscale` and the window's Save say it
        # ("transparency flattened onto white", "16 bits → 8"): the report said nothing
        record.note = ", ".join(lossy_changes(image, job.output_format))
        return record

    def _halt(self, why: str) -> None:
        """Stop the batch: the output folder takes no more files (every later upscale would
        be thrown away: a read-only or full disk cost each remaining file its whole upscale)."""
        with self.lock:
            if not self.halted:
                self.halted = why
                log.info("batch stopped: %s", why)  # (the summary says it on stderr: once)
        self.stop.set()

    # -- run -----------------------------------------------------------------------------
    def run(self) -> bool:
        reader = threading.Thread(target=self.reader, name="batch-reader", daemon=True)
        writers = [
            threading.Thread(target=self.writer, name=f"batch-writer-{i}", daemon=True)
            for i in range(max(1, self.options.writer_threads))
        ]
        reader.start()
        for writer in writers:
            writer.start()
        completed = False
        try:
            completed = self.device_loop()
        finally:
            if not completed:
                self.stop.set()
                self._drain(self.read_queue)
            for _ in writers:  # one end marker per writer; a dead writer takes none
                while any(w.is_alive() for w in writers):
                    try:
                        self.write_queue.put(_END, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            for writer in writers:
                writer.join()
            reader.join(timeout=30)
        if self.thread_errors:
            raise self.thread_errors[0]
        return completed
