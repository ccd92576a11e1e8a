"""Job runners of the GUI's upscale queues (image, region, batch; file reading is in
`animation_jobs`) and the text of their progress."""

from __future__ import annotations

from dataclasses import dataclass

from sr_desktop.app.jobs import Job, run_engine_job
from sr_desktop.engine.core.progress import BACKEND_STAGE, ITERATION_STAGES, ProgressInfo
from sr_desktop.engine.core.text import human_seconds
from sr_desktop.engine.models.registry import is_per_image

#: what one unit of ProgressInfo.done counts, by engine stage


def run_upscale_job(job: Job, progress, cancel):
    """Default upscale runner: an animation through `animation_jobs.run_animation_job`
    (every frame), per-image models (ZSSR) through `kernel_jobs.run_zssr_job` (it reports
    their training iterations), every other model through the engine's upscale calls."""
    if getattr(job, "animation", None) is not None:
        from sr_desktop.app.animation_jobs import run_animation_job

        return run_animation_job(job, progress, cancel)
    if is_per_image(getattr(job.options, "model", "")):
        from sr_desktop.app.kernel_jobs import run_zssr_job

        return run_zssr_job(job, progress, cancel)
    return run_engine_job(job, progress, cancel)


@dataclass(frozen=True)
class BatchRequest:
    """A batch export: folders, the engine's `BatchOptions` and the report path."""

    input_dir: str
    output_dir: str
    options: object  # sr_desktop.engine.batch.runner.BatchOptions
    report_path: str | None = None
    #: where the files are upscaled: None = this process; ``ray`` (local Ray), ``auto`` or
    #: ``ray://HOST:PORT`` (see `engine.batch.cluster.ClusterTarget`)
    cluster: str | None = None

    def __str__(self) -> str:
        return f"batch {self.input_dir} → {self.output_dir}"


def run_batch_job(job: Job, progress, cancel):
    """Batch runner: ``job.options`` is a `BatchRequest`; returns the `BatchResult` (also
    when cancelled: the files done so far are in it)."""
    from sr_desktop.engine.batch.cluster import ClusterTarget
    from sr_desktop.engine.batch.runner import run_batch

    request: BatchRequest = job.options
    cluster = ClusterTarget.parse(request.cluster) if request.cluster else None
    return run_batch(request.input_dir, request.output_dir, request.options,
                     report_path=request.report_path, progress=progress, cancel=cancel, cluster=cluster)


def progress_text(info: ProgressInfo | None, elapsed: float, since_report: float = 0.0) -> str:
    """"12/40 tiles · 3.1 s elapsed · ETA 7.2 s": `elapsed` since the job started, the ETA
    counted down from the engine's last report (`info`), `since_report` seconds ago (a while
    for slow tiles). (It was counted down by the job's elapsed time less the engine's, two
    clocks: the model's loading, before the engine's starts, came off the ETA.)"""
    parts = []
    if info is not None and info.stage == BACKEND_STAGE and info.message:
        parts.append(info.message)  # seconds before the first tile: say why
    elif info is not None and "frames" in info.extra:  # an animation: which frame, not sub-steps
        parts.append(f"frame {info.extra['frame']}/{info.extra['frames']}")
    elif info is not None and info.total > 0:
        unit = "iterations" if info.stage in ITERATION_STAGES else "tiles"
        parts.append(f"{info.done}/{info.total} {unit}")
    parts.append(f"{human_seconds(elapsed)} elapsed")
    if info is not None and info.eta is not None and info.done > 0:
        remaining = max(0.0, info.eta - since_report)
        parts.append(f"ETA {human_seconds(remaining)}")
    else:
        parts.append("ETA …")
    return " · ".join(parts)
