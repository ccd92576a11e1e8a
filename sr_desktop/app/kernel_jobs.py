"""Work done in worker threads for the kernel panel (no Qt here).

* `run_kernel_job`: KernelGAN on the current image's pixels (`KernelTask` in ``job.options``).
* `run_zssr_job`: a ZSSR upscale (model loaded with the job's kernel and training
  options, on `TRAINING_THREADS`); the engine reports ZSSR's own training iterations.
* `load_kernel_file` / `save_kernel_files`: checked reading and atomic writing of kernels.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.core.progress import CancelToken, ProgressInfo

#: a loaded kernel may be off by this much from sum 1 (rounding in other tools); it is renormalised
SUM_TOLERANCE = 1e-2
#: kernels at least this wide are ×4 kernels (the ZSSR model uses the same threshold)
X4_KERNEL_MIN_SIZE = 25
MAX_KERNEL_SIZE = 101
#: Kernels estimated by this version are non-negative (the engine clips the cubic-spline
#: centring's ringing); files from older runs or other tools may still carry such ringing
#: (measured before the clip: 0.5-15 % negative mass). Within this bound they are accepted
#: unchanged; beyond it they are refused.
RINGING_TOLERANCE = 0.2


#: intra-op torch threads for the training loops (KernelGAN, ZSSR). Their ops are small
#: (64-px crops), so thread synchronisation dominates, and when the cores are shared
#: (an upscale beside it, other programs) OpenMP's spinning threads collapse: measured on
#: this 2-core machine under load, 20 KernelGAN iterations took 58 s with 2 threads and
#: 1.1 s with 1; 30 ZSSR iterations 27 s vs 4.4-6.4 s.
TRAINING_THREADS = 1


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` intra-op torch threads in this thread (None: unchanged),
    then restore the previous count (torch's setting is shared by threads started meanwhile)."""
    if n is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class KernelTask:
    """What to estimate: the image's pixels and the KernelGAN settings."""

    pixels: np.ndarray
    scale: int = 2
    iterations: int = 1000
    batch: int = 4
    restarts: int = 1
    device: str = "auto"
    seed: int | None = None
    #: report the current kernel every N iterations (None: about 20 pictures per run)
    kernel_every: int | None = None
    threads: int | None = TRAINING_THREADS
    source_name: str = ""  # the image's name, for the GUI's caption
    model: str = "KernelGAN"  # for Job.describe()

    def kernel_interval(self) -> int:
        if self.kernel_every is not None:
            return max(1, int(self.kernel_every))
        return max(10, int(self.iterations) // 20)


def run_kernel_job(job, progress: Callable[[ProgressInfo], None], cancel: CancelToken):
    """Worker runner: ``estimate_kernel`` on ``job.options`` (a `KernelTask`) -> KernelEstimate."""
    from sr_desktop.engine.kernelgan import estimate_kernel

    task: KernelTask = job.options
    interval = task.kernel_interval()
    with torch_threads(task.threads):
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
            kernel_every=interval,
            progress_every=max(1, min(10, interval)),
        )


def run_zssr_job(job, progress: Callable[[ProgressInfo], None], cancel: CancelToken,
                 threads: int | None = TRAINING_THREADS, **zssr_options: Any):
    """Worker runner for ``UpscaleOptions(model="zssr", kernel=...)`` with iteration progress.

    ``threads``: intra-op torch threads (see `TRAINING_THREADS`). ``zssr_options`` go to
    the ZSSR model (e.g. ``iterations=``, ``crop=``; tests use them to keep the training
    short). Whole image (``job.box`` None) or a region.
    """
    from sr_desktop.engine.pipeline import upscale

    options = job.options
    scale = int(options.scale or 2)
    model = upscale.get_model("zssr", scale, options.variant, options.device, options.precision,
                              kernel=options.kernel, **zssr_options)
    # The engine forwards a per-image model's own progress (training iterations, ETA).
    with torch_threads(threads):
        if job.box is None:
            return upscale.upscale_image(job.image, options, progress, cancel, model=model)
        return upscale.upscale_region(job.image, job.box, options, progress, cancel, model=model)


def kernel_scale(kernel: np.ndarray) -> int:
    """The SR scale a kernel is for, judged by its size (×4 kernels are at least 25 wide)."""
    return 4 if kernel.shape[0] >= X4_KERNEL_MIN_SIZE else 2


def check_kernel(array: Any, name: str = "kernel") -> np.ndarray:
    """A usable blur kernel or `KernelError`: 2-D, square, numeric, finite, summing to 1
    (within `SUM_TOLERANCE`), non-negative up to KernelGAN's interpolation ringing
    (`RINGING_TOLERANCE`). Returns float64 renormalised to sum exactly 1."""
    k = np.asarray(array)
    if k.dtype == object or not np.issubdtype(k.dtype, np.number) or np.iscomplexobj(k):
        raise KernelError(f"{name}: not a numeric array (dtype {k.dtype})")
    if k.ndim != 2:
        raise KernelError(f"{name}: a kernel must be a 2-D array, got shape {k.shape}")
    if k.shape[0] != k.shape[1] or k.shape[0] < 1:
        raise KernelError(f"{name}: a kernel must be square, got {k.shape[1]}×{k.shape[0]}")
    if k.shape[0] > MAX_KERNEL_SIZE:
        raise KernelError(f"{name}: kernel too large ({k.shape[0]}×{k.shape[0]}, at most "
                          f"{MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE})")
    k = k.astype(np.float64)
    if not np.all(np.isfinite(k)):
        raise KernelError(f"{name}: the kernel contains NaN or infinite values")
    total = float(k.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise KernelError(f"{name}: the kernel's taps sum to {total:.4g}, not 1")
    negative = float(-k[k < 0].sum())
    if negative > RINGING_TOLERANCE * total or k.min() < -RINGING_TOLERANCE * k.max():
        raise KernelError(f"{name}: the kernel has negative taps (min {k.min():.3g}, "
                          f"{negative:.0%} of its mass); a blur kernel is non-negative")
    return k / total


def load_kernel_file(path: str | Path) -> np.ndarray:
    """Read and check a kernel ``.npy`` (no pickles); `KernelError` with one line otherwise."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise KernelError(f"{path.name}: a kernel file must be a .npy array")
    if not path.is_file():
        raise KernelError(f"{path}: kernel file not found")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KernelError(f"{path.name}: not a readable .npy array ({reason})") from None
    return check_kernel(array, path.name)


def save_kernel_files(kernel: np.ndarray, npy_path: str | Path, png: bool = True) -> list[Path]:
    """Write the kernel as ``.npy`` (and its magnified heat map as a ``.png`` beside it,
    same stem). Both writes are atomic. `KernelError` with one line if a write fails."""
    from sr_desktop.engine.kernelgan.kernel_ops import save_kernel_npy, save_kernel_png

    npy_path = Path(npy_path)
    if npy_path.suffix.lower() != ".npy":
        npy_path = npy_path.with_name(npy_path.name + ".npy")
    if not npy_path.parent.is_dir():
        raise KernelError(f"cannot save the kernel: folder {npy_path.parent} does not exist")
    written = []
    try:
        written.append(save_kernel_npy(kernel, npy_path))
        if png:
            written.append(save_kernel_png(kernel, npy_path.with_suffix(".png")))
    except OSError as exc:
        raise KernelError(f"cannot save the kernel to {npy_path}: {exc.strerror or exc}") from None
    return written
