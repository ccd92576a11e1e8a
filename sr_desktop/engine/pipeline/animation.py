"""Upscaling animations and multi-page images frame by frame.

Each frame goes through `upscale.upscale_image` with the same options (and so the same
cached model); progress counts frames (with the fraction of the current frame), cancel is
checked between frames and between tiles, and a cancelled animation writes nothing.
`upscale_any` / `write_any` let a caller handle still images and animations alike.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressInfo, check_cancel
from sr_desktop.engine.imageio import ProtectedPaths, SaveOptions, write_image
from sr_desktop.engine.imageio.animation import Animation, write_animation
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.write import checked_format
from sr_desktop.engine.models.base import SRModel

# The module, not its function: callers and tests may wrap `upscale.upscale_image`.
from sr_desktop.engine.pipeline import upscale
from sr_desktop.engine.pipeline.blown_output import blown_up_warnings
from sr_desktop.engine.pipeline.output_size import resized

_STEPS_PER_FRAME = 1000  # progress resolution inside one frame


@dataclass
class AnimationResult:
    """The upscaled animation and how it was made (the fields of `UpscaleResult` a caller shows)."""

    image: Animation
    seconds: float
    device: str
    scale: int
    model: str
    variant: str | None = None
    frames: int = 0
    tiles: int = 0  # over all frames
    backend: str = "torch"  # what ran the network (`UpscaleResult.backend`)
    #: how a scale the model does not have was reached (`UpscaleResult.scale_route`)
    scale_route: str | None = None
    #: ``kernel_estimate``: of a per-image model estimating each frame's kernel, the least
    #: confident frame's (``kernel_frames``: how many were estimated)
    extra: dict = field(default_factory=dict)
    #: the largest `UpscaleResult.blown_fraction` of its frames
    blown_fraction: float = 0.0

    @property
    def warnings(self) -> list[str]:
        """`UpscaleResult.warnings`, of the worst frame."""
        return blown_up_warnings(self.model, self.blown_fraction)


def upscale_animation(
    animation: Animation,
    options: UpscaleOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    model: SRModel | None = None,
) -> AnimationResult:
    """Upscale every frame of ``animation``; durations, plays and disposals are kept.

    ``progress`` gets ``done/total`` over all frames (``extra``: ``frame``, ``frames``) and
    the message ``frame i/n``. Raises `Cancelled` (nothing is returned, nothing written)."""
    options = options or UpscaleOptions()
    start = time.perf_counter()
    count = len(animation.frames)
    total = count * _STEPS_PER_FRAME
    out: list[Image] = []
    last = None
    tiles = 0
    blown = 0.0
    estimates = []
    for index, frame in enumerate(animation.frames):
        check_cancel(cancel)

        def frame_progress(info: ProgressInfo, index: int = index) -> None:
            if progress is None:
                return
            done = index * _STEPS_PER_FRAME + int(info.fraction * _STEPS_PER_FRAME)
            elapsed = time.perf_counter() - start
            eta = elapsed / done * (total - done) if done else None
            progress(ProgressInfo(done=done, total=total, elapsed=elapsed, eta=eta, stage="upscale",
                                  message=f"frame {index + 1}/{count}",
                                  extra={"frame": index + 1, "frames": count}))

        last = upscale.upscale_image(frame, options, progress=frame_progress, cancel=cancel, model=model)
        out.append(last.image)
        tiles += last.tiles
        blown = max(blown, last.blown_fraction)
        if (estimate := last.extra.get("kernel_estimate")) is not None:
            estimates.append(estimate)
    check_cancel(cancel)
    assert last is not None  # an Animation has at least two frames
    extra = {}
    if estimates:  # (each frame's was dropped: `upscale` said nothing of how far to trust them)
        extra = {"kernel_estimate": min(estimates, key=lambda e: e.confidence), "kernel_frames": len(estimates)}
    return AnimationResult(
        image=animation.with_frames(out), seconds=time.perf_counter() - start, device=last.device,
        scale=last.scale, model=last.model, variant=last.variant, frames=count, tiles=tiles, backend=last.backend,
        scale_route=last.scale_route, extra=extra, blown_fraction=blown,
    )


def upscale_any(
    item: Image | Animation,
    options: UpscaleOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    model: SRModel | None = None,
):
    """`upscale.upscale_image` for an Image, `upscale_animation` for an Animation."""
    if isinstance(item, Animation):
        return upscale_animation(item, options, progress, cancel, model)
    return upscale.upscale_image(item, options, progress, cancel, model)


def write_any(
    item: Image | Animation,
    path: str | os.PathLike,
    options: SaveOptions | None = None,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike] | ProtectedPaths = (),
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
):
    """`write_image` for an Image, `write_animation` for an Animation, resized first to the
    size `options.size` asks for (`output_size.resized`)."""
    if options is not None and options.size is not None:
        item = resized(item, options.size, checked_format(options, Path(path)), cancel)
    if isinstance(item, Animation):
        return write_animation(item, path, options, overwrite=overwrite, protect=protect, cancel=cancel,
                               progress=progress)
    return write_image(item, path, options, overwrite=overwrite, protect=protect, cancel=cancel, progress=progress)
