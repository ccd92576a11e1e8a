"""Job runners whose image is also converted for display in the worker thread (a 4×
photo takes a noticeable time to convert; the GUI thread must not)."""

from __future__ import annotations

from sr_desktop.app.jobs import Job, JobRunner
from sr_desktop.engine.imageio.image import Image
from sr_desktop.gui.compare.image import ImageLayer


def with_display_layer(runner: JobRunner) -> JobRunner:
    """Wrap ``runner`` so that a whole-image job (``box`` None) also sets ``job.display``
    to its image (an `Image`, or the image of an `UpscaleResult`) as an `ImageLayer`."""

    def run(job: Job, progress, cancel):
        result = runner(job, progress, cancel)
        if job.box is None:
            image = result if isinstance(result, Image) else result.image
            job.display = ImageLayer(image.pixels, image.icc_profile)
        return result

    return run
