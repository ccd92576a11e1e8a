"""Batch export: upscale every image of a folder (or a list of files) into an output
folder that mirrors the input tree.

Three stages overlap so the device is not idle while files are decoded or encoded (a
reader thread, the device in the calling thread, writer threads: `stages.BatchStages`).
The options are `options.BatchOptions` (re-exported here).

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
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from sr_desktop.engine.batch.cluster import ClusterTarget, connect, import_ray, run_jobs_on_ray
from sr_desktop.engine.batch.earlier_run import kept_outputs_note
from sr_desktop.engine.batch.options import BatchOptions
from sr_desktop.engine.batch.output_names import DEFAULT_NAME_TEMPLATE, default_template_for
from sr_desktop.engine.batch.plan import (
    EXISTING_POLICIES,
    OUTPUT_FORMATS,
    REPORT_PREFIX,
    BatchError,
    check_folders,
    check_some_images,
    plan_jobs,
    to_upscale,
)
from sr_desktop.engine.batch.report import (
    EXIT_CANCELLED,
    EXIT_FATAL,
    EXIT_OK,
    EXIT_SOME_FAILED,
    INTERRUPTED,
    NOT_STARTED,
    BatchTotals,
    FileRecord,
    is_batch_report,
    write_report,
)
from sr_desktop.engine.batch.stages import BatchStages
from sr_desktop.engine.compute.devices import describe_device
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.path_kind import file_in_the_way, first_folder_to_make, nearest_existing_folder_or_file
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, check_cancel
from sr_desktop.engine.imageio import ProtectedPaths, is_image_path
from sr_desktop.engine.imageio.atomic import is_stale_temp, is_stream, unwritable_reason
from sr_desktop.engine.imageio.protected import resolved
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.provenance import weights_provenance
from sr_desktop.engine.pipeline.output_size import box_refusal
from sr_desktop.engine.pipeline.scale_plan import plan_for
from sr_desktop.engine.pipeline.upscale import resolve_model

__all__ = [
    "BatchError",
    "BatchOptions",
    "BatchResult",
    "UpscaleOptions",
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


@dataclass
class BatchResult:
    """The outcome of `run_batch`."""

    input_dir: Path
    output_dir: Path
    records: list[FileRecord]
    totals: BatchTotals
    report_path: Path | None = None
    header: dict = field(default_factory=dict)
    #: why the report could not be written after the work was done (a full disk); "" if it was
    report_error: str = ""
    #: why the batch stopped before its last file (the output folder full or read-only); "" if not
    halted: str = ""
    #: the files a cancelled or stopped batch never reached (their report entries: `NOT_STARTED`)
    not_started: list[FileRecord] = field(default_factory=list)
    #: the files it stopped in, nothing of them written (their report entries: `INTERRUPTED`)
    interrupted: list[FileRecord] = field(default_factory=list)
    #: outputs kept ("output exists") that an earlier run made with other settings, in words
    #: (`earlier_run.kept_outputs_note`); "" if none
    kept_note: str = ""

    @property
    def exit_code(self) -> int:
        """The files' status (0, 1, 130), or 2 when the report could not be written (what the
        system refused outside the files)."""
        code = self.totals.exit_code
        return 2 if self.report_error and code in (0, 1) else code

    @property
    def cancelled(self) -> bool:
        return self.totals.cancelled

    def summary(self) -> str:
        """One line for a terminal or a status bar."""
        t = self.totals
        text = (
            f"{t.ok} upscaled, {t.skipped} skipped ({t.not_images} not {'an image' if t.not_images == 1 else 'images'}"
            f"{f', {t.hidden} hidden' if t.hidden else ''}), {t.failed} failed "
            f"in {t.wall_seconds:.1f} s"
        )
        # (on a cluster the files other workers were upscaling stop too: not written either)
        left = t.extra.get("not_started", 0) + t.extra.get("interrupted", 0)
        # only "skip" passes over the finished files: "rename" wrote them again beside
        # themselves, "overwrite" redid them
        again = ("run again: finished files are skipped" if self.header.get("options", {}).get("existing") == "skip"
                 else "run again with --existing skip: finished files are then skipped")
        if self.halted:
            return (f"stopped, the output folder takes no more files ({self.halted}): {text}, {left} not done; "
                    f"free space (or make it writable) and {again}")
        if t.cancelled:  # (it said what was done, not what was left nor how to go on)
            return f"cancelled: {text}, {left} not done" + (f"; {again}" if left else "")
        return f"{text}; {self.kept_note}" if self.kept_note else text


# -- temp files left by a killed run ----------------------------------------------------------


def cleanup_temp_files(folders: Iterable[Path]) -> int:
    """Delete the temp files an interrupted run left in `folders` (the folders the batch
    writes to; sub-folders are not searched; `atomic.is_stale_temp`: not those of a run still
    writing there); return how many were removed."""
    removed = 0
    for folder in set(folders):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and is_stale_temp(path, unnamed_older_than_s=0.0):
                try:
                    path.unlink()
                    removed += 1
                except OSError as exc:  # not fatal: temp names are never reused
                    log.warning("cannot remove temp file %s: %s", path, exc)
    return removed


def check_report_target(report: Path, output_dir: Path, jobs: list) -> None:
    """`BatchError` before any work when the report cannot be written at `report` once the
    batch has run: the output folder or a folder the batch writes into, under a file, or a
    folder that does not take files (the report was refused after the whole batch, exit 2);
    or when it would replace a file that is not an earlier batch's report. A stream (``-``,
    /dev/stdout, a pipe) is written into as it is: /dev is no folder of the user's (its
    write probe refused every user but root)."""
    if is_stream(report):
        return
    folders = {job.output.parent for job in jobs if job.output is not None} | {output_dir}
    made = {resolved(f) for f in folders | {a for folder in folders for a in folder.parents}}
    if resolved(report) in made:
        raise BatchError(f"report path {report} is a folder the batch writes its images into")
    if report.is_file() and report.stat().st_size and not is_batch_report(report):
        # (the --files-from list given as the report too was silently replaced by JSON)
        raise BatchError(f"the report {report} would replace a file that is not a batch report: "
                         "choose another name (an earlier batch's report is replaced)")
    folder = nearest_existing_folder_or_file(report)
    if folder is not None and not folder.is_dir():
        raise BatchError(f"cannot write the report {report}: {folder} is a file, not a folder")
    if folder is not None and (why := unwritable_reason(folder)) is not None:
        raise BatchError(f"cannot write the report {report}: {why}")


def name_template_for(options: BatchOptions, scale: int) -> str:
    """The output-name template of a batch: a template of the user's as it is, the default
    one as `default_template_for` the batch's model, scale and variant."""
    if options.name_template != DEFAULT_NAME_TEMPLATE:
        return options.name_template
    return default_template_for(options.upscale.model, scale, options.upscale.variant)


def default_report_path(output_dir: Path, when: datetime | None = None) -> Path:
    """``OUTPUT_DIR/sr-desktop-batch-YYYYmmdd-HHMMSS.json`` (``-2``, ``-3``, … after the
    time when a report of the same second is there: each run keeps its own)."""
    stem = f"{REPORT_PREFIX}{(when or datetime.now()):%Y%m%d-%H%M%S}"
    path, n = output_dir / f"{stem}.json", 1
    while path.exists():
        n += 1
        path = output_dir / f"{stem}-{n}.json"
    return path


# -- model options --------------------------------------------------------------------------


def resolve_scale(options: BatchOptions) -> int:
    """The scale the batch runs at (needed up front for the output names). None follows
    the engine's rule: the model's largest native scale. `ModelError` for an unknown model
    or a scale it cannot reach."""
    plan = plan_for(options.upscale.model, options.upscale.scale)
    return options.upscale.scale or plan.reached


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
    model: SRModel | None = None,
    cluster: ClusterTarget | None = None,
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
    normally with ``result.cancelled`` (exit code 130); cancelled before its files start
    (while it plans, or while its model is measured on first use) it raises `Cancelled`,
    having written nothing. `cluster`: run the files on Ray
    (`cluster.run_jobs_on_ray`) instead of in this process; same files, same report.
    """
    if options is not None and not isinstance(options, BatchOptions):  # (an UpscaleOptions failed on an attribute)
        raise BatchError(f"run_batch takes its options as BatchOptions(upscale=UpscaleOptions(…), …), "
                         f"got {type(options).__name__}")
    if isinstance(files, str | os.PathLike):  # (a str was taken letter by letter: 11 files 'b', 'i', 'n', …)
        raise BatchError("files is a list of files, got one name; give [name]")
    options = options or BatchOptions()
    input_dir = Path(input_dir).expanduser()
    output_dir = Path(output_dir).expanduser()
    check_folders(input_dir, output_dir, options.allow_inside_input)
    report = Path(report_path).expanduser() if report_path is not None else None
    if report is not None and report.is_dir():
        raise BatchError(f"report path {report} is a folder")
    if report is not None and is_image_path(report):
        raise BatchError(f"report path {report} is an image file name; a report is .json (or .csv)")
    cancel = cancel or CancelToken()

    scale = int(options.upscale.scale or model.scale) if model is not None else resolve_scale(options)
    file_list = [Path(f).expanduser() for f in files] if files is not None else None
    jobs = plan_jobs(
        input_dir,
        output_dir,
        recursive=options.recursive,
        template=name_template_for(options, scale),
        fmt=options.format,
        scale=scale,
        model=options.upscale.model,
        variant=options.upscale.variant,
        files=file_list,
        existing=options.existing,
        cancel=cancel,
        progress=progress,
    )
    check_some_images(jobs, input_dir, options.recursive, listed=file_list is not None)
    for job in jobs:  # (--format same: an input whose own format cannot hold the size fails now, not upscaled)
        if job.output_format and job.refusal is None and (why := box_refusal(options.size, job.output_format)):
            job.refusal = why
    if report is not None and report in ProtectedPaths(
            [job.input for job in jobs] + [job.output for job in jobs if job.output is not None]):
        raise BatchError(f"report path {report}: refusing to write the report over an input or output file")
    if report is not None:
        check_report_target(report, output_dir, jobs)
    upscale_options = replace(options.upscale, scale=scale)
    # the kernel's values as the files are made with them (read at the end, a file rewritten
    # meanwhile was recorded for outputs made with the one before)
    kernel_sha256 = _kernel_sha256(upscale_options.kernel)
    if model is None:
        # Load the model once before the first file (the engine's model cache then serves
        # every file): a missing model or a bad device is one fatal error up front rather
        # than the same failure on every file.
        loaded = resolve_model(upscale_options, progress=progress, cancel=cancel)[0]  # (with the first-use notice)
    else:
        loaded = model
    # which weights, as the files are made with them (a model removed during the batch still
    # serves it: asked at the end, its lookup failed the whole batch's report)
    weights = weights_provenance(loaded, upscale_options.model)
    if cluster is not None:  # no Ray, nothing at the address, a cluster that refuses us: said
        # before the output folder is made (it was left empty)
        import_ray()
        if any(to_upscale(job, options.existing) for job in jobs):
            connect(cluster)
        else:
            cluster.reachable()
    check_cancel(cancel)  # (cancelled while planning or loading: no folder made, no report)
    made = first_folder_to_make(output_dir.absolute())  # (removed again if its workers cannot start)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = file_in_the_way(output_dir / "_")
        raise BatchError(f"cannot create the output folder {output_dir}: "
                         + (f"{blocker} is a file, not a folder" if blocker is not None else
                            f"{exc.strerror or exc}")) from None
    if (why := unwritable_reason(output_dir)) is not None:  # said now, not once per file after its upscale
        raise BatchError(f"cannot write into the output folder {output_dir}: {why}")
    folders = {job.output.parent for job in jobs if job.output is not None} | {output_dir}
    removed = cleanup_temp_files(folders)
    if removed:
        log.info("removed %d temp file(s) left by an interrupted run", removed)

    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    if cluster is None:
        # every file with the network loaded above: looked up again per file, a model removed
        # (or replaced under its name) mid-batch failed the rest or switched networks silently.
        # A per-image model (ZSSR, map-sr) is made anew for each image.
        if model is None and loaded.kind != ModelKind.PER_IMAGE:
            model = loaded
        pipeline = BatchStages(jobs, options, upscale_options, progress, cancel, model)
        completed = pipeline.run()
        all_records, halted = pipeline.records, pipeline.halted
    else:
        try:
            all_records, completed, halted = run_jobs_on_ray(jobs, options, upscale_options, cluster, progress,
                                                             cancel)
        except BatchError:
            # the workers could not start (a model a node lacks): the folders this batch made,
            # still empty, go (they were left behind)
            if made is not None and not any(p.is_file() for p in made.rglob("*")):
                shutil.rmtree(made, ignore_errors=True)
            raise
        # a worker killed while it wrote left its temp file (Ray did the file again on a live
        # one): gone now, not at the next batch into this folder
        removed += cleanup_temp_files(folders)
    wall = time.perf_counter() - t0

    records = [r for r in all_records if r is not None and r.status != INTERRUPTED]
    interrupted = [r for r in all_records if r is not None and r.status == INTERRUPTED]
    totals = BatchTotals.from_records(records, wall, cancelled=not completed and not halted, removed_temp_files=removed)
    # the same keys in every report (a tool read "interrupted" of a batch stopped in a file,
    # and found none when it stopped between two): 0 and null when nothing applies
    totals.extra["not_started"] = len(jobs) - len(records) - len(interrupted)
    totals.extra["interrupted"] = len(interrupted)
    totals.extra["stopped"] = halted or None
    header = {
        "tool": "sr-desktop batch",
        "input_dir": str(input_dir),
        "output_dir": str(output_dir),
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "options": {
            "model": upscale_options.model,
            "scale": scale,
            # the one that ran (null said "auto", where the window's batch named "ch48" of the same weights)
            "variant": getattr(loaded, "variant", None) or upscale_options.variant,
            # which weights (a model retrained under its id kept the outputs of its old weights
            # on a re-run without a word: `earlier_run` compares these)
            **weights,
            "device": str(upscale_options.device),
            "tile": upscale_options.tile.request,
            "precision": upscale_options.precision.value,
            "backend": upscale_options.backend.value,
            "alpha": upscale_options.alpha.value,
            "kernel": _kernel_record(upscale_options.kernel),
            # its values (a file named by path alone could hold another kernel later; as bench's)
            "kernel_sha256": kernel_sha256,
            "iterations": upscale_options.iterations,
            # what `auto` chose here (a cluster's workers each choose for their machine)
            "backend_used": loaded.backend if cluster is None else None,
            "device_used": describe_device(loaded.device) if cluster is None else None,
            "format": options.format,
            "quality": options.quality,
            "name_template": name_template_for(options, scale),
            # the box every result was resized to fit (--width/--height; null: as upscaled)
            "width": options.size.width if options.size is not None else None,
            "height": options.size.height if options.size is not None else None,
            "existing": options.existing,
            "keep_metadata": options.keep_metadata,
            "drop_gps": options.drop_gps,
            "recursive": options.recursive,
            "cluster": cluster.describe() if cluster is not None else "this process",
        },
    }
    # a cancelled batch's report lists the file it stopped in and those it never reached too
    # ("every entry of the input tree with its status"); the totals count what was done
    unstarted = [FileRecord(str(job.input), str(job.output) if job.output is not None else None, NOT_STARTED)
                 for job, record in zip(jobs, all_records, strict=True) if record is None]
    result = BatchResult(input_dir, output_dir, records, totals, header=header, halted=halted,
                         not_started=unstarted, interrupted=interrupted)
    result.kept_note = kept_outputs_note(records, header["options"], output_dir)  # (before its report)
    if write_report_file:
        path = report if report is not None else default_report_path(output_dir)
        try:
            result.report_path = write_report(path, header, records + interrupted + unstarted, totals)
        except BatchError as exc:  # the files are done: their summary is still the caller's to show
            result.report_error = str(exc)
    return result


def _kernel_sha256(kernel) -> str | None:
    """`kernel_digest` of a kernel file or array; None for none and for ``estimate`` (each
    image's own)."""
    from sr_desktop.engine.core.errors import SRDesktopError
    from sr_desktop.engine.core.kernel_file import as_kernel, kernel_digest

    if kernel is None or (isinstance(kernel, str) and kernel == "estimate"):
        return None
    try:
        return kernel_digest(as_kernel(kernel))
    except SRDesktopError:  # (checked before the first file: gone since, the files say so)
        return None


def _kernel_record(kernel) -> str | None:
    """How the report names the kernel of a per-image model: its file, ``estimate``, or
    ``given`` for an array (None without one)."""
    if kernel is None:
        return None
    return str(kernel) if isinstance(kernel, str | os.PathLike) else "given"
