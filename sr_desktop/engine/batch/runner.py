"""Batch export: upscale every image of a folder (or a list of files) into an output
folder that mirrors the input tree.

Three stages overlap so the device is not idle while files are decoded or encoded:

    reader thread --(bounded queue)--> device (calling thread) --(bounded queue)--> writer threads

The queues are short, so at most a few decoded inputs and upscaled outputs are held in
memory whatever the length of the batch.

Resume: outputs are only ever created by an atomic rename (``write_image``), so an
output that exists under its final name is complete. With ``existing="skip"`` (the
default) a re-run skips those files and does the rest. Temp files a killed run left
behind are removed at the next start.

Errors: a file that cannot be read, upscaled or written is recorded as ``failed`` with
a one-line reason and the batch goes on. Non-image files are recorded as ``skipped``.
Cancel (`CancelToken`) stops after the current tile; the file being upscaled is not
written, files already upscaled are written (they are complete) and the report says
the batch was cancelled.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sr_desktop.engine.batch.plan import (
    DEFAULT_NAME_TEMPLATE,
    EXISTING_POLICIES,
    OUTPUT_FORMATS,
    BatchError,
    BatchJob,
    check_folders,
    check_template,
    plan_jobs,
    renamed_path,
)
from sr_desktop.engine.batch.report import (
    EXIT_CANCELLED,
    EXIT_FATAL,
    EXIT_OK,
    EXIT_SOME_FAILED,
    NOT_AN_IMAGE,
    OUTPUT_EXISTS,
    BatchTotals,
    FileRecord,
    write_report,
)
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.imageio import ProtectedPaths, is_temp_path
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressInfo

__all__ = [
    "BatchError",
    "BatchOptions",
    "BatchResult",
    "FileRecord",
    "BatchTotals",
    "run_batch",
    "cleanup_temp_files",
    "default_report_path",
    "EXIT_OK",
    "EXIT_SOME_FAILED",
    "EXIT_FATAL",
    "EXIT_CANCELLED",
    "DEFAULT_NAME_TEMPLATE",
    "OUTPUT_FORMATS",
    "EXISTING_POLICIES",
]

log = logging.getLogger(__name__)

_END = object()  # end-of-stream marker in the queues


@dataclass
class BatchOptions:
    """Options of a batch. `scale=None` takes the model's first listed scale (2 when the
    registry does not know the model); device/tile/precision None = the engine's default."""

    model: str = "span"  # the engine's default model (upscale.DEFAULT_MODEL)
    scale: int | None = None
    variant: str | None = None
    device: str | None = None
    tile: int | str | None = None
    precision: str | None = None
    format: str = "same"  # same | png | jpg | webp | tiff
    quality: int = 95
    name_template: str = DEFAULT_NAME_TEMPLATE
    existing: str = "skip"  # skip | overwrite | rename
    recursive: bool = False
    allow_inside_input: bool = False
    keep_metadata: bool = True
    read_queue_size: int = 2
    write_queue_size: int = 1
    # Two writers: encoding and the fsync of each output (write_image makes outputs
    # durable) wait on the disk or run in zlib/libjpeg without the GIL, so two overlap.
    writer_threads: int = 2
    # None: encode in the device thread for a network on the CPU, in the writers otherwise
    # (see `_encode_in_device_thread`).
    encode_in_device_thread: bool | None = None

    def validate(self) -> None:
        """Raise `BatchError` for an option outside its allowed values."""
        if self.format not in OUTPUT_FORMATS:
            raise BatchError(f"unknown output format {self.format!r} (use {', '.join(OUTPUT_FORMATS)})")
        if self.existing not in EXISTING_POLICIES:
            raise BatchError(f"unknown policy for existing outputs {self.existing!r} (use {', '.join(EXISTING_POLICIES)})")
        if not 1 <= int(self.quality) <= 100:
            raise BatchError(f"quality must be 1..100, got {self.quality}")
        if self.scale is not None and int(self.scale) < 1:
            raise BatchError(f"scale must be a positive integer, got {self.scale}")
        if self.tile is not None and self.tile != "auto":
            try:
                tile_ok = int(self.tile) >= 0
            except (TypeError, ValueError):
                tile_ok = False
            if not tile_ok:
                raise BatchError(f"tile must be 'auto', 0 (whole image) or a size in pixels, got {self.tile!r}")
        check_template(self.name_template)


@dataclass
class BatchResult:
    """The outcome of `run_batch`."""

    input_dir: Path
    output_dir: Path
    records: list[FileRecord]
    totals: BatchTotals
    report_path: Path | None = None
    header: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.totals.exit_code

    @property
    def cancelled(self) -> bool:
        return self.totals.cancelled

    def summary(self) -> str:
        """One line for a terminal or a status bar."""
        t = self.totals
        text = (
            f"{t.ok} upscaled, {t.skipped} skipped ({t.not_images} not images), {t.failed} failed "
            f"in {t.wall_seconds:.1f} s"
        )
        return ("cancelled: " + text) if t.cancelled else text


# -- temp files left by a killed run ----------------------------------------------------------


# ``write_image`` encodes into a hidden temp sibling and renames it; a run killed
# mid-write leaves that file. The report writer uses ``.<report name>.partial``.
_REPORT_TEMP = re.compile(r"^\..+\.partial$")


def _is_temp_file(path: Path) -> bool:
    return is_temp_path(path) or bool(_REPORT_TEMP.match(path.name))


def cleanup_temp_files(folders: Iterable[Path]) -> int:
    """Delete the temp files an interrupted run left in `folders` (the folders the batch
    writes to; sub-folders are not searched); return how many were removed."""
    removed = 0
    for folder in set(folders):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and _is_temp_file(path):
                try:
                    path.unlink()
                    removed += 1
                except OSError as exc:  # not fatal: temp names are never reused
                    log.warning("cannot remove temp file %s: %s", path, exc)
    return removed


def default_report_path(output_dir: Path, when: datetime | None = None) -> Path:
    """``OUTPUT_DIR/sr-desktop-batch-YYYYmmdd-HHMMSS.json``."""
    when = when or datetime.now()
    return output_dir / f"sr-desktop-batch-{when:%Y%m%d-%H%M%S}.json"


# -- model options --------------------------------------------------------------------------


def resolve_scale(options: BatchOptions) -> int:
    """The scale the batch runs at (needed up front for the output names). None follows
    the engine's rule: the model's largest native scale."""
    from sr_desktop.engine.pipeline.upscale import native_scales_of, plan_scale

    scales, any_scale = native_scales_of(options.model)  # ModelError for an unknown id
    if options.scale is not None:
        plan_scale(scales, int(options.scale), any_scale)  # ModelError for a bad scale
        return int(options.scale)
    plan = plan_scale(scales, None, any_scale)
    return int(plan.native**plan.passes)


def make_upscale_options(options: BatchOptions, scale: int) -> Any:
    """The `UpscaleOptions` of the batch (only the options that were set are passed)."""
    from sr_desktop.engine.pipeline.upscale import UpscaleOptions

    kwargs: dict[str, Any] = {"model": options.model, "scale": scale}
    for name in ("variant", "device", "tile", "precision"):
        value = getattr(options, name)
        if value is not None:
            kwargs[name] = value
    return UpscaleOptions(**kwargs)


def _preload_model(upscale_options: Any) -> None:
    """Load the model once before the first file (the engine's model cache then serves
    every file), so a missing model or a bad device is one fatal error up front rather
    than the same failure on every file."""
    from sr_desktop.engine.pipeline.upscale import get_model, native_scales_of, plan_scale

    scales, any_scale = native_scales_of(upscale_options.model)
    plan = plan_scale(scales, upscale_options.scale, any_scale)
    get_model(
        upscale_options.model,
        plan.native,
        upscale_options.variant,
        upscale_options.device,
        upscale_options.precision,
        kernel=upscale_options.kernel,
    )


def _encode_in_device_thread(options: BatchOptions, upscale_options: Any, model: Any) -> bool:
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
    from sr_desktop.engine.pipeline.upscale import RESAMPLE_IDS

    if upscale_options.model in RESAMPLE_IDS or getattr(model, "kind", None) == "resample":
        return False
    if model is not None and hasattr(model, "device"):
        return getattr(model.device, "type", "cpu") == "cpu"
    try:
        from sr_desktop.engine.compute.devices import resolve_device

        return resolve_device(upscale_options.device or "auto").type == "cpu"
    except Exception:  # noqa: BLE001 - a bad device is reported when the model loads
        return False


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SRDesktopError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


# -- the pipeline -------------------------------------------------------------------------


class _Pipeline:
    """Reader thread, device loop and writer threads of one batch run."""

    def __init__(
        self,
        jobs: list[BatchJob],
        options: BatchOptions,
        upscale_options: Any,
        progress: ProgressCallback | None,
        cancel: CancelToken,
        model: Any = None,
    ):
        self.jobs = jobs
        self.model = model
        self.options = options
        self.upscale_options = upscale_options
        self.progress = progress
        self.cancel = cancel
        self.protect = ProtectedPaths(job.input for job in jobs)
        self.read_queue: queue.Queue = queue.Queue(maxsize=max(1, options.read_queue_size))
        self.write_queue: queue.Queue = queue.Queue(maxsize=max(1, options.write_queue_size))
        self.stop = threading.Event()  # set when the device loop stops early (cancel)
        self.records: list[FileRecord | None] = [None] * len(jobs)
        self.thread_errors: list[BaseException] = []
        self.reader_stopped_early = False  # the reader saw the cancel before the last file
        self.lock = threading.Lock()
        self.start = time.perf_counter()
        self.first_processed_at: float | None = None
        self.processed = 0  # files upscaled (ok or failed after reading), for the ETA
        self.done = 0
        self.counts = {"ok": 0, "skipped": 0, "failed": 0}
        self.megapixels = 0.0
        self.encode_inline = _encode_in_device_thread(options, upscale_options, model)

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
        if remaining == 0:
            eta = 0.0
        elif self.processed and self.first_processed_at is not None:
            per_file = (time.perf_counter() - self.first_processed_at) / self.processed
            eta = per_file * remaining
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
            log.info("failed: %s: %s", job.input, record.error)
        with self.lock:
            self.records[job.index] = record
            self.done += 1
            self.counts[record.status] += 1
            if record.status == "ok" and record.input_size:
                self.megapixels += record.input_size[0] * record.input_size[1] / 1e6
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
        from sr_desktop.engine.imageio import read_image

        try:
            for job in self.jobs:
                if self.cancel.cancelled or self.stop.is_set():
                    self.reader_stopped_early = True
                    break
                item: Any
                if job.missing:
                    item = ("record", job, FileRecord(str(job.input), None, "failed", error="no such file"))
                elif not job.is_image:
                    item = ("record", job, FileRecord(str(job.input), None, "skipped", note=NOT_AN_IMAGE,
                                                      input_bytes=_file_size(job.input)))
                elif job.collision_with is not None:
                    item = ("record", job, FileRecord(
                        str(job.input), str(job.output), "failed",
                        error=f"same output name as {job.collision_with.name}; add {{ext}} to the name template",
                        input_bytes=_file_size(job.input)))
                elif self.options.existing == "skip" and job.output is not None and job.output.exists():
                    item = ("record", job, FileRecord(str(job.input), str(job.output), "skipped", note=OUTPUT_EXISTS,
                                                      input_bytes=_file_size(job.input),
                                                      output_bytes=_file_size(job.output)))
                else:
                    t0 = time.perf_counter()
                    try:
                        image = read_image(job.input)
                        item = ("image", job, image, time.perf_counter() - t0)
                    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
                        item = ("record", job, FileRecord(str(job.input), str(job.output), "failed",
                                                          error=_one_line(exc), input_bytes=_file_size(job.input),
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
        from sr_desktop.engine.pipeline.upscale import upscale_image

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
            if self.cancel.cancelled:
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
                result = upscale_image(
                    image, self.upscale_options, progress=tile_progress, cancel=self.cancel, model=self.model
                )
            except Cancelled:
                cancelled = True
                break
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory on one huge file
                record = FileRecord(str(job.input), str(job.output), "failed", error=_one_line(exc),
                                    input_bytes=_file_size(job.input), input_size=in_size,
                                    read_seconds=read_seconds, upscale_seconds=time.perf_counter() - t0)
                self.processed += 1
                self._put(self.write_queue, ("record", job, record))
                continue
            finally:
                del image
            self.processed += 1
            upscale_seconds = time.perf_counter() - t0
            encoded: Any = None
            if self.encode_inline:
                encoded = self._encode(job, result.image)
            delivered = self._put(self.write_queue, ("result", job, result.image, in_size, read_seconds,
                                                     upscale_seconds, encoded))
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
                _, job, image, in_size, read_seconds, upscale_seconds, encoded = item
                self._record(job, self._write_one(job, image, in_size, read_seconds, upscale_seconds, encoded))
                del image, item
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            self.thread_errors.append(exc)
            self.stop.set()  # nobody consumes the write queue any more

    def _save_options(self, job: BatchJob) -> Any:
        from sr_desktop.engine.imageio import SaveOptions

        return SaveOptions(format=job.output_format, quality=int(self.options.quality),
                           keep_metadata=self.options.keep_metadata)

    def _encode(self, job: BatchJob, image: Any) -> Any:
        """Encode in the device thread (CPU inference; see `_Pipeline.encode_inline`).
        On failure: the exception, for the writer to record against the file."""
        from sr_desktop.engine.imageio import encode_image

        t0 = time.perf_counter()
        try:
            return (encode_image(image, job.output, self._save_options(job)), time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - recorded as this file's failure
            return exc

    def _write_one(
        self, job: BatchJob, image: Any, in_size: list[int], read_seconds: float, upscale_seconds: float,
        encoded: Any = None,
    ) -> FileRecord:
        from sr_desktop.engine.imageio import write_image

        assert job.output is not None
        target = job.output
        overwrite = self.options.existing == "overwrite"
        if self.options.existing == "rename" and target.exists():
            target = renamed_path(target)
        record = FileRecord(str(job.input), str(target), "failed", input_bytes=_file_size(job.input),
                            input_size=in_size, read_seconds=read_seconds, upscale_seconds=upscale_seconds)
        t0 = time.perf_counter()
        encode_seconds = 0.0
        try:
            if isinstance(encoded, BaseException):
                raise encoded
            if encoded is not None:
                encoded, encode_seconds = encoded
            target.parent.mkdir(parents=True, exist_ok=True)
            written = write_image(image, target, self._save_options(job), overwrite=overwrite,
                                  protect=self.protect, encoded=encoded)
        except Exception as exc:  # noqa: BLE001
            record.error = _one_line(exc)
            record.write_seconds = time.perf_counter() - t0 + encode_seconds
            return record
        record.write_seconds = time.perf_counter() - t0 + encode_seconds
        record.status = "ok"
        record.output = str(written)
        record.output_bytes = _file_size(Path(written))
        record.output_size = [image.width, image.height]
        return record

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


def run_batch(
    input_dir: str | Path,
    output_dir: str | Path,
    options: BatchOptions | None = None,
    *,
    files: list[str | Path] | None = None,
    report_path: str | Path | None = None,
    write_report_file: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    model: Any = None,
) -> BatchResult:
    """Upscale the images of `input_dir` into `output_dir` (mirroring sub-folders).

    `files`: process these files instead of listing `input_dir` (files under
    `input_dir` keep their sub-folder in the output). `report_path`: JSON report, or CSV
    when it ends in ``.csv``; default ``OUTPUT_DIR/sr-desktop-batch-<time>.json``.
    `progress` is called from the worker threads with `ProgressInfo(done=files finished,
    total=files, eta, message=current file, extra={event: start|tile|file, record,
    files_per_second, megapixels_per_second, ok, skipped, failed, ...})`.

    Raises `BatchError`/`ModelError`/`DeviceError` for problems that stop the batch before
    it starts; per-file problems are recorded and never raised. A cancelled batch returns
    normally with ``result.cancelled`` (exit code 130).
    """
    options = options or BatchOptions()
    options.validate()
    input_dir = Path(input_dir).expanduser()
    output_dir = Path(output_dir).expanduser()
    check_folders(input_dir, output_dir, options.allow_inside_input)
    if report_path is not None and Path(report_path).exists() and Path(report_path).is_dir():
        raise BatchError(f"report path {report_path} is a folder")
    cancel = cancel or CancelToken()

    if model is not None:
        scale = int(options.scale or model.scale)
    else:
        scale = resolve_scale(options)
    file_list = [Path(f).expanduser() for f in files] if files is not None else None
    jobs = plan_jobs(
        input_dir,
        output_dir,
        recursive=options.recursive,
        template=options.name_template,
        fmt=options.format,
        scale=scale,
        model=options.model,
        variant=options.variant,
        files=file_list,
    )
    upscale_options = make_upscale_options(options, scale)
    if model is None:
        _preload_model(upscale_options)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"cannot create the output folder {output_dir}: {exc.strerror or exc}") from None
    folders = {job.output.parent for job in jobs if job.output is not None} | {output_dir}
    removed = cleanup_temp_files(folders)
    if removed:
        log.info("removed %d temp file(s) left by an interrupted run", removed)

    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    pipeline = _Pipeline(jobs, options, upscale_options, progress, cancel, model)
    completed = pipeline.run()
    wall = time.perf_counter() - t0

    records = [r for r in pipeline.records if r is not None]
    totals = BatchTotals.from_records(records, wall, cancelled=not completed, removed_temp_files=removed)
    totals.extra["not_started"] = len(jobs) - len(records)
    header = {
        "tool": "sr-desktop batch",
        "input_dir": str(input_dir),
        "output_dir": str(output_dir),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": {
            "model": options.model,
            "scale": scale,
            "variant": options.variant,
            "device": options.device,
            "tile": options.tile,
            "precision": options.precision,
            "format": options.format,
            "quality": options.quality,
            "name_template": options.name_template,
            "existing": options.existing,
            "recursive": options.recursive,
        },
    }
    result = BatchResult(input_dir, output_dir, records, totals, header=header)
    if write_report_file:
        path = Path(report_path).expanduser() if report_path is not None else default_report_path(output_dir)
        result.report_path = write_report(path, header, records, totals)
    return result
