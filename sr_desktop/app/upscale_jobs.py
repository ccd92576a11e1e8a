"""Job runners of the main window's queues and the text of their progress."""

from __future__ import annotations

from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.core.progress import ProgressInfo
from sr_desktop.gui.worker import Job, JobRunner, run_engine_job

#: what one unit of ProgressInfo.done counts, by engine stage
PROGRESS_UNITS = {"zssr": "iterations", "kernel": "iterations"}


def run_upscale_job(job: Job, progress, cancel):
    """Default upscale runner: ZSSR through `kernel_jobs.run_zssr_job` (it reports its
    training iterations), every other model through the engine's upscale calls."""
    if getattr(job.options, "model", None) == "zssr":
        from sr_desktop.app.kernel_jobs import run_zssr_job

        return run_zssr_job(job, progress, cancel)
    return run_engine_job(job, progress, cancel)


def with_display_layer(runner: JobRunner) -> JobRunner:
    """Wrap ``runner`` so that a whole-image result is also converted for display in the
    worker thread (a 4× photo takes a noticeable time to convert; the GUI thread must not)."""

    def run(job: Job, progress, cancel):
        result = runner(job, progress, cancel)
        if job.box is None:
            try:
                from sr_desktop.gui.compare.image import ImageLayer
            except ImportError:
                return result
            job.display = ImageLayer(result.image.pixels)
        return result

    return run


def read_for_display(job: Job, progress, cancel) -> Image:
    """Loader runner: read the file ``job.options`` and convert it for display."""
    from sr_desktop.engine.imageio import read_image

    image = read_image(job.options)
    cancel.raise_if_cancelled()
    try:
        from sr_desktop.gui.compare.image import ImageLayer
    except ImportError:
        return image
    job.display = ImageLayer(image.pixels)
    return image


def human_seconds(seconds: float | None) -> str:
    """1.5 → "1.5 s", 75 → "1:15", 3700 → "1:01:40"; None → "…"."""
    if seconds is None:
        return "…"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def progress_text(info: ProgressInfo | None, elapsed: float) -> str:
    """"12/40 tiles · 3.1 s elapsed · ETA 7.2 s" (the ETA counted down from the engine's
    last report, which may be a while ago for slow tiles)."""
    parts = []
    if info is not None and info.total > 0:
        unit = PROGRESS_UNITS.get(info.stage, "tiles")
        parts.append(f"{info.done}/{info.total} {unit}")
    parts.append(f"{human_seconds(elapsed)} elapsed")
    if info is not None and info.eta is not None and info.done > 0:
        remaining = max(0.0, info.eta - (elapsed - info.elapsed))
        parts.append(f"ETA {human_seconds(remaining)}")
    else:
        parts.append("ETA …")
    return " · ".join(parts)
