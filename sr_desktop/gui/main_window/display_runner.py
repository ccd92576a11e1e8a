"""Job runners whose image is also converted for display in the worker thread (a 4×
photo takes a noticeable time to convert; the GUI thread must not)."""

from __future__ import annotations

import numpy as np

from sr_desktop.app.jobs import Job, JobRunner
from sr_desktop.engine.imageio.image import Image
from sr_desktop.gui.compare.image import DisplayImageError, ImageLayer

#: the most a result is shrunk to fit the display (1/64 of its side)
MAX_REDUCTION = 64


def with_display_layer(runner: JobRunner) -> JobRunner:
    """Wrap ``runner`` so that a whole-image job (``box`` None) also sets ``job.display``
    to its image (an `Image`, or the image of an `UpscaleResult`) as an `ImageLayer`."""

    def run(job: Job, progress, cancel):
        result = runner(job, progress, cancel)
        if job.box is None:
            image = result if isinstance(result, Image) else result.image
            job.display = display_layer(image)
            job.display.build_levels()
        return result

    return run


def display_layer(image: Image) -> ImageLayer:
    """The `ImageLayer` of `image`; one of it shrunk by 2, 4, … (its ``reduced_by``) when the
    whole does not fit in a display image: a ×4 result of an 8000×6000 photo (32000×24000)
    failed the job, and the finished result was lost."""
    try:
        return ImageLayer(image.pixels, image.icc_profile)
    except (DisplayImageError, MemoryError):
        factor = 2
        while True:
            try:
                layer = ImageLayer(shrunk(image.pixels, factor), image.icc_profile)
            except (DisplayImageError, MemoryError):
                if factor >= MAX_REDUCTION:
                    raise
                factor *= 2
                continue
            layer.reduced_by = factor
            return layer


def shrunk(pixels: np.ndarray, factor: int, band: int = 256) -> np.ndarray:
    """`pixels` (H×W or H×W×C) averaged over factor×factor blocks (the rest cut), band by band:
    never a full-size float copy."""
    height, width = pixels.shape[0] // factor, pixels.shape[1] // factor
    out = np.empty((height, width, *pixels.shape[2:]), dtype=pixels.dtype)
    for y in range(0, height, band):
        rows = pixels[y * factor:min(y + band, height) * factor, :width * factor]
        blocks = rows.reshape(rows.shape[0] // factor, factor, width, factor, *pixels.shape[2:])
        out[y:y + blocks.shape[0]] = np.rint(blocks.mean(axis=(1, 3))).astype(pixels.dtype)
    return out
