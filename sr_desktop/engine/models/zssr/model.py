"""ZSSR as an `SRModel` of kind `ModelKind.PER_IMAGE` (zoo id ``zssr``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from sr_desktop.engine.core.kernel_file import as_kernel, kernel_scale, odd_canvas
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback
from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.kernelgan.kernel_ops import aligned_kernel, analytic_kernel_x4
from sr_desktop.engine.kernelgan.options import FAST_PRESET
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.zssr.zssr import ZSSROptions, bicubic_kernel, zssr_upscale

CPU_CROP = 64
CPU_MAX_ITERS = 1000


def _has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available() or getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def load_kernel(kernel) -> np.ndarray:
    """A kernel from an ndarray or a .npy path by the one kernel rule (`as_kernel`), on an
    odd canvas (even sizes padded, same centre tap) as the ZSSR degradation needs."""
    return odd_canvas(as_kernel(kernel))


def stage_kernels(kernel: np.ndarray | None, scale: int, given: bool = False) -> dict[int, np.ndarray]:
    """Kernels of the ZSSR stages: ×2 → {2: k}; ×4 → {2: k, 4: analytic ×4} for a ×2-size
    kernel, {4: k} (one direct stage) for a ×4-size kernel; None → bicubic. A `given` kernel
    (the user's, not this engine's estimate, which comes centred) is first aligned for the
    scale it is used at (`aligned_kernel`)."""
    if kernel is None:
        return {2: bicubic_kernel(2)} if scale == 2 else {2: bicubic_kernel(2), 4: bicubic_kernel(4)}
    direct_x4 = scale == 4 and kernel_scale(kernel) == 4  # (judged by the size the user gave)
    if given:
        kernel = aligned_kernel(kernel, 4 if direct_x4 else 2)
    if scale == 2:
        return {2: kernel}
    if direct_x4:
        return {4: kernel}
    return {2: kernel, 4: analytic_kernel_x4(kernel)}


class ZSSRModel(SRModel):
    """Per-image ZSSR. `kernel`: ndarray / .npy path / "estimate" (a kernel estimate first) / None."""

    id = "zssr"
    kind = ModelKind.PER_IMAGE
    tileable = False
    supports_fp16 = False

    def __init__(self, scale: int, kernel=None, device: str = "auto", seed: int | None = None,
                 options: ZSSROptions | None = None, kernel_iterations: int = FAST_PRESET["iterations"],
                 kernel_restarts: int = 3, kernel_batch: int = FAST_PRESET["batch"], kernel_method: str = "auto"):
        super().__init__()
        from sr_desktop.engine.compute.devices import resolve_device

        if scale not in (2, 4):
            raise KernelError(f"ZSSR supports ×2 and ×4, not ×{scale}")
        self.scale = scale
        self.estimate = isinstance(kernel, str) and kernel == "estimate"
        self.kernel = None if (kernel is None or self.estimate) else load_kernel(kernel)
        self.options = options or ZSSROptions()
        self.seed = 0 if seed is None else int(seed)
        self.kernel_iterations = kernel_iterations
        self.kernel_restarts = kernel_restarts
        self.kernel_batch = kernel_batch
        self.kernel_method = kernel_method
        self.device = resolve_device(device)
        #: the user's choice: the kernel estimation resolves "auto" its own way (to the CPU)
        self.kernel_device = device
        self.last_logs = []
        self.last_kernel_estimate = None

    def upscale_array(self, rgb: np.ndarray, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> np.ndarray:
        """H×W×3 float32 0..1 -> (s·H)×(s·W)×3 float32."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise KernelError(f"ZSSR expects an H×W×3 image, got shape {rgb.shape}")
        if min(rgb.shape[:2]) < 8:
            raise KernelError(f"image too small for ZSSR ({rgb.shape[1]}×{rgb.shape[0]}, need 8×8)")
        kernel, given = self.kernel, self.kernel is not None
        if self.estimate:
            from sr_desktop.engine.kernelgan import estimate_kernel

            est = estimate_kernel(rgb, scale=2, iterations=self.kernel_iterations, device=self.kernel_device,
                                  seed=self.seed, restarts=self.kernel_restarts, progress=progress, cancel=cancel,
                                  batch=self.kernel_batch, early_stop=True, method=self.kernel_method)
            self.last_kernel_estimate = est
            kernel = est.kernel_x2
        out, self.last_logs = zssr_upscale(rgb.astype(np.float64), self.scale, stage_kernels(kernel, self.scale, given),
                                           self.options, self.device, self.seed, progress, cancel)
        return out.astype(np.float32)


#: ZSSR changes for real photos (official KernelGAN ``--real``: noise on the sons, no BP)
REAL_PHOTO = {"noise_std": 0.0125, "back_projection_iters": 0}


def make_zssr_model(scale: int, kernel=None, device: str = "auto", iterations: int | None = None,
                    seed: int | None = None, preset: str = "auto", real: bool = False, **opts) -> ZSSRModel:
    """The `zssr` zoo model. `iterations` caps ZSSR's training iterations (official 3000 with
    128-px crops on a GPU; on the CPU the default is 1000 iterations of 64-px crops);
    other keywords set `ZSSROptions` fields (crop, ensemble, back_projection_iters, ...) or
    kernel_method / kernel_iterations / kernel_restarts / kernel_batch for
    ``kernel="estimate"`` (default: method "auto", KernelGAN's fast preset, ≤ 1000
    iterations of 4 crops with early stopping, 3 restarts combined by median: one diverging
    run is out-voted, averaged with the sharpness fit where the fit explains the image; on
    the synthetic set ZSSR's PSNR with KernelGAN's 3 restarts was 31.16 dB against 30.89 with
    one, see docs/kernelgan.md).

    `preset`: "kernelgan" (the configuration of the KernelGAN paper's pipeline: no
    augmentation or ensemble, 2 back-projections, gradient-weighted loss and crops),
    "zssr" (the ZSSR paper's defaults), or "auto": "kernelgan" when a kernel is given or
    estimated, "zssr" for the bicubic kernel.

    `real` (the `zssr` model's variant "real"): settings for real photos, as the official
    KernelGAN code's ``--real``: Gaussian noise σ = 0.0125 added to each LR son and no
    back-projection, so JPEG blocks and sensor noise are not learnt as detail to amplify."""
    if preset == "auto":
        preset = "zssr" if kernel is None else "kernelgan"
    try:
        options = ZSSROptions.preset(preset)
    except ValueError as exc:
        raise KernelError(str(exc)) from None
    if real:
        options = dataclasses.replace(options, **REAL_PHOTO)
    if device in ("cpu", None) or (device == "auto" and not _has_gpu()):
        # CPU preset (measured in docs/kernelgan.md): 64-px crops, ≤ 1000 iterations; the
        # official 128-px / 3000-iteration run takes ~1 s per iteration on a laptop CPU.
        options = dataclasses.replace(options, crop=CPU_CROP, max_iters=CPU_MAX_ITERS)
    extra = {}
    for name, value in opts.items():
        if name in ("kernel_iterations", "kernel_restarts", "kernel_batch"):
            extra[name] = int(value)
        elif name == "kernel_method":
            from sr_desktop.engine.kernelgan.options import check_method

            extra[name] = check_method(value)
        elif hasattr(options, name):
            options = dataclasses.replace(options, **{name: value})
        else:
            raise KernelError(f"unknown ZSSR option {name!r}")
    if iterations is not None:
        if iterations < 1:
            raise KernelError("ZSSR iterations must be at least 1")
        options = dataclasses.replace(
            options, max_iters=int(iterations), min_iters=min(options.min_iters, int(iterations))
        )
    return ZSSRModel(scale, kernel=kernel, device=device, seed=seed, options=options, **extra)
