"""Animated images in the window, without Qt: opening every frame, upscaling them all, and
the result the session holds for them.

The window's still-image views (compare, metrics, copy) keep working on the first frame:
`OpenedAnimation.image` and `AnimatedResult.image` are that frame, while ``animation``
holds every frame with its timing (what plays, and what Save writes). Only timed
animations (GIF, APNG, animated WebP) are opened this way: the pages of a TIFF may differ
in size and have no timing, so the window keeps showing the first page of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sr_desktop.app.jobs import Job
from sr_desktop.engine.imageio.animation import Animation
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.animation import AnimationResult


@dataclass
class OpenedAnimation:
    """A file read as an animation: its first frame (``image``) and all its frames."""

    image: Image
    animation: Animation
    #: set by the GUI in the worker: every frame converted for display
    display_frames: Any = None


@dataclass
class AnimatedResult:
    """The engine's `AnimationResult` as the window holds a result: ``image`` is the first
    upscaled frame, ``animation`` every frame; its other fields (scale, model, device,
    seconds, variant, tiles) are read through."""

    upscaled: AnimationResult
    #: set by the GUI in the worker: every frame converted for display
    display_frames: Any = None

    @property
    def animation(self) -> Animation:
        return self.upscaled.image

    @property
    def image(self) -> Image:
        return self.upscaled.image.frames[0]

    @property
    def frames(self) -> int:
        return len(self.upscaled.image.frames)

    def __getattr__(self, name: str):
        if name == "upscaled":  # (not set yet, e.g. while copying)
            raise AttributeError(name)
        return getattr(self.upscaled, name)


@dataclass
class AnimationJob(Job):
    """An upscale job of the whole animation: ``image`` is its first frame (the session's
    image), ``animation`` every frame."""

    animation: Animation | None = None


def read_image_or_animation_job(job: Job, progress, cancel) -> Image | OpenedAnimation:
    """Loader runner: the file ``job.options`` as an `Image`, or as an `OpenedAnimation`
    when it is a timed animation of several frames."""
    from sr_desktop.engine.imageio.animation import read_image_or_animation

    item = read_image_or_animation(job.options)
    cancel.raise_if_cancelled()
    if isinstance(item, Animation):
        first = item.frames[0]
        first.path = item.path
        first.info["frames"] = len(item.frames)
        if not item.is_timed:
            return first  # TIFF pages: the window shows the first one (and says so)
        return OpenedAnimation(first, item)
    return item


def run_animation_job(job: AnimationJob, progress, cancel) -> AnimatedResult:
    """Upscale every frame of ``job.animation`` with ``job.options`` (progress per frame,
    cancel between tiles; a cancelled job returns nothing)."""
    from sr_desktop.engine.pipeline.animation import upscale_animation

    # (a per-image model, ZSSR or map-sr, works on each frame in turn, as `upscale` does: the
    # window refused it)
    return AnimatedResult(upscale_animation(job.animation, job.options, progress=progress, cancel=cancel))
