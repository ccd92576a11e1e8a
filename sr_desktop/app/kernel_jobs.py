"""Work done in worker threads for the kernel panel (no Qt here).

* `run_kernel_job`: the blur-kernel estimate (sharpness fit or KernelGAN) of the current
  image's pixels (`KernelTask` in ``job.options``).
* `run_zssr_job`: a ZSSR upscale (model loaded with the job's kernel and training
  options, on `TRAINING_THREADS`); the engine reports ZSSR's own training iterations.
* `save_kernel_files`: atomic writing of kernels, never over the input image. Reading and checking them is
  `sr_desktop.engine.core.kernel_file` (re-exported here: `load_kernel_file`, `check_kernel`,
  `kernel_scale`), the rule every front end shares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sr_desktop.engine.compute.devices import torch_threads
from sr_desktop.engine.core.kernel_file import check_kernel, kernel_scale, load_kernel_file
from sr_desktop.engine.core.progress import CancelToken, ProgressInfo
from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.kernelgan.options import FAST_PRESET

__all__ = [
    "KernelTask", "TRAINING_THREADS", "check_kernel", "kernel_scale", "load_kernel_file",
    "kernel_file_paths", "run_kernel_job", "run_zssr_job", "save_kernel_files", "torch_threads",
]

#: intra-op torch threads for the training loops (KernelGAN, ZSSR). Their ops are small
#: (64-px crops), so thread synchronisation dominates, and when the cores are shared
#: (an upscale beside it, other programs) OpenMP's spinning threads collapse: measured on
#: this 2-core machine under load, 20 KernelGAN iterations took 58 s with 2 threads and
#: 1.1 s with 1; 30 ZSSR iterations 27 s vs 4.4-6.4 s.
TRAINING_THREADS = 1


@dataclass
class KernelTask:
    """What to estimate: the image's pixels, the method and the KernelGAN settings."""

    pixels: np.ndarray
    scale: int = 2
    iterations: int = FAST_PRESET["iterations"]
    batch: int = FAST_PRESET["batch"]
    #: KernelGANOptions.early_stop (the fast preset's; it also lets dead runs be cut early)
    early_stop: bool = FAST_PRESET["early_stop"]
    restarts: int = 1
    #: KernelGANOptions.prior: "none" (KernelGAN's generator) or "fkp" (the learned kernel prior)
    prior: str = "none"
    #: KernelGANOptions.method: "auto" (the fit and KernelGAN averaged where the fit explains
    #: the image, else KernelGAN), "sharpness", "kernelgan"
    method: str = "auto"
    device: str = "auto"
    seed: int | None = None
    #: report the current kernel every N iterations (None: about 20 pictures per run)
    kernel_every: int | None = None
    threads: int | None = TRAINING_THREADS
    source_name: str = ""  # the image's name, for the GUI's caption
    model: str = "blur kernel estimation"  # for Job.describe()

    def kernel_interval(self) -> int:
        if self.kernel_every is not None:
            return max(1, int(self.kernel_every))
        return max(10, int(self.iterations) // 20)


def run_kernel_job(job, progress: Callable[[ProgressInfo], None], cancel: CancelToken):
    """Worker runner: ``estimate_kernel`` on ``job.options`` (a `KernelTask`) -> KernelEstimate."""
    from sr_desktop.engine.kernelgan import estimate_kernel

    task: KernelTask = job.options
    interval = task.kernel_interval()
    return estimate_kernel(
        task.pixels,
        scale=task.scale,
        iterations=task.iterations,
        device=task.device,
        seed=task.seed,
        restarts=task.restarts,
        progress=progress,
        cancel=cancel,
        batch=task.batch,
        early_stop=task.early_stop,
        prior=task.prior,
        method=task.method,
        threads=task.threads,
        kernel_every=interval,
        progress_every=max(1, min(10, interval)),
    )


def run_zssr_job(job, progress: Callable[[ProgressInfo], None], cancel: CancelToken,
                 threads: int | None = TRAINING_THREADS, **zssr_options: Any):
    """Worker runner for a per-image model (``UpscaleOptions(model="zssr", kernel=...)``)
    with iteration progress.

    ``threads``: intra-op torch threads (see `TRAINING_THREADS`). ``zssr_options`` go to
    the ZSSR model (e.g. ``iterations=``, ``crop=``; tests use them to keep the training
    short). Whole image (``job.box`` None) or a region.
    """
    from sr_desktop.engine.pipeline import upscale

    options = job.options
    scale = int(options.scale or 2)
    zssr_options.setdefault("iterations", options.iterations)
    model = upscale.get_model(options.model, scale, options.variant, options.device, options.precision,
                              kernel=options.kernel, **zssr_options)
    # The engine forwards a per-image model's own progress (training iterations, ETA).
    with torch_threads(threads):
        if job.box is None:
            return upscale.upscale_image(job.image, options, progress, cancel, model=model)
        return upscale.upscale_region(job.image, job.box, options, progress, cancel, model=model)


def kernel_file_paths(path: str | Path, png: bool = True,
                      source: str | Path | None = None) -> tuple[Path, Path | None]:
    """The ``.npy`` a kernel saved as `path` goes to (``.npy`` added when missing) and, with
    `png`, its picture's ``.png`` beside it (same stem), each checked by
    `kernel_ops.check_kernel_target`: `KernelError` for a missing folder or the input image
    `source`, which is never replaced."""
    from sr_desktop.engine.kernelgan.kernel_ops import check_kernel_target

    npy_path = Path(path)
    if npy_path.suffix.lower() != ".npy":
        npy_path = npy_path.with_name(npy_path.name + ".npy")
    png_path = npy_path.with_suffix(".png") if png else None
    check_kernel_target(npy_path, ".npy", source)
    if png_path is not None:
        check_kernel_target(png_path, ".png", source)
    return npy_path, png_path


def save_kernel_files(kernel: np.ndarray, npy_path: str | Path, png: bool = True,
                      source: str | Path | None = None, replace_png: bool = False) -> list[Path]:
    """Write the kernel as ``.npy`` (and its magnified heat map as a ``.png`` beside it,
    same stem: `kernel_file_paths`). Both writes are atomic. `KernelError` with one line if
    a write fails, if either file would be the input image `source` (never replaced), or
    if the ``.png`` exists and `replace_png` is False (the ``.npy`` is what the user named,
    and agreed to replace; the picture beside it is asked about apart). Nothing is written
    unless both may be."""
    from sr_desktop.engine.kernelgan import kernel_ops

    npy_path, png_path = kernel_file_paths(npy_path, png, source)
    if png_path is not None and png_path.exists() and not replace_png:
        raise KernelError(f"cannot save the kernel: {png_path.name} exists (untick the .png picture, or "
                          "choose another name)")
    try:
        return kernel_ops.save_kernel_files(kernel, npy_path, png_path)
    except OSError as exc:
        raise KernelError(f"cannot save the kernel to {kernel_ops.failed_kernel_file(exc.filename, npy_path, png_path)}"
                          f": {exc.strerror or exc}") from None
