"""map-sr as an `SRModel` of kind `ModelKind.PER_IMAGE` (zoo id ``map-sr``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F

from sr_desktop.engine.core.errors import KernelError
from sr_desktop.engine.core.kernel_file import as_kernel, kernel_scale, odd_canvas
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback
from sr_desktop.engine.kernelgan.options import FAST_PRESET
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.map_sr.operators import BicubicDegradation, KernelDegradation
from sr_desktop.engine.models.map_sr.solver import PRIORS, MapSROptions, map_sr

#: the smallest LR side: the prior's differences and an 11-tap kernel need some room
MIN_SIDE = 8


def kernel_for_scale(kernel: np.ndarray, scale: int, given: bool = False) -> np.ndarray:
    """A ×2 kernel at ×4 becomes the analytic ×4 kernel (the ×2 degradation twice), as
    ZSSR's ×4 stage; a ×4-size kernel (≥ 25 taps) is used as it is. A `given` kernel (the
    user's; an estimate comes centred) is first aligned for the scale it is used at
    (`aligned_kernel`), as ZSSR's are: the result then lies on the grid of the other models'."""
    from sr_desktop.engine.kernelgan.kernel_ops import aligned_kernel, analytic_kernel_x4

    x2_at_x4 = scale == 4 and kernel_scale(kernel) == 2  # (judged by the size the user gave)
    if given:
        kernel = aligned_kernel(kernel, 4 if scale == 4 and not x2_at_x4 else 2)
    if x2_at_x4:
        return odd_canvas(analytic_kernel_x4(kernel))
    return kernel


#: settings of ``kernel="estimate"``: method auto (KernelGAN's fast preset with 3 restarts
#: combined by median and early stopping, averaged with the sharpness fit where the fit
#: explains the image), as ZSSR's "estimate" (docs/kernelgan.md)
ESTIMATE_DEFAULTS = {"iterations": FAST_PRESET["iterations"], "restarts": 3, "batch": FAST_PRESET["batch"],
                     "seed": 0, "method": "auto"}


class MapSRModel(SRModel):
    """Per-image MAP reconstruction. `kernel`: ndarray / .npy path / "estimate" (a kernel
    estimate first, with `estimate` overriding `ESTIMATE_DEFAULTS`) / None (MATLAB bicubic
    degradation); `options`: `MapSROptions`."""

    id = "map-sr"
    kind = ModelKind.PER_IMAGE
    tileable = False
    supports_fp16 = False

    def __init__(self, scale: int, kernel=None, device: str = "auto", options: MapSROptions | None = None,
                 estimate: dict | None = None):
        super().__init__()
        from sr_desktop.engine.compute.devices import resolve_device

        if scale not in (2, 4):
            raise KernelError(f"map-sr supports ×2 and ×4, not ×{scale}")
        self.scale = scale
        self.options = options or MapSROptions()
        self.device = resolve_device(device)
        #: the user's choice: the kernel estimation resolves "auto" its own way (to the CPU)
        self.kernel_device = device
        self.estimate_settings = None
        self.kernel = None
        if isinstance(kernel, str) and kernel == "estimate":
            self.estimate_settings = {**ESTIMATE_DEFAULTS, **(estimate or {})}
        elif kernel is not None:
            self.kernel = odd_canvas(as_kernel(kernel))
        self.last_kernel_estimate = None

    def degradation(self, kernel: np.ndarray | None, given: bool = False):
        """The operator D of this model's problem (kernel None: MATLAB bicubic; `given`: the
        user's kernel, aligned first)."""
        if kernel is None:
            return BicubicDegradation(self.scale, self.device)
        return KernelDegradation(kernel_for_scale(kernel, self.scale, given), self.scale, self.device)

    def _kernel_for(self, rgb: np.ndarray, progress, cancel) -> np.ndarray | None:
        if self.estimate_settings is None:
            return self.kernel
        from sr_desktop.engine.kernelgan import estimate_kernel

        est = estimate_kernel(rgb, scale=2, device=self.kernel_device, progress=progress, cancel=cancel,
                              early_stop=True, **self.estimate_settings)
        self.last_kernel_estimate = est
        return est.kernel_x2

    def upscale_array(self, rgb: np.ndarray, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> np.ndarray:
        """H×W×3 float32 0..1 -> (s·H)×(s·W)×3 float32, clipped to 0..1."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise KernelError(f"map-sr expects an H×W×3 image, got shape {rgb.shape}")
        if min(rgb.shape[:2]) < MIN_SIDE:
            raise KernelError(f"image too small for map-sr ({rgb.shape[1]}×{rgb.shape[0]}, "
                              f"need {MIN_SIDE}×{MIN_SIDE})")
        kernel = self._kernel_for(rgb, progress, cancel)
        y = torch.as_tensor(np.ascontiguousarray(rgb.transpose(2, 0, 1)), dtype=torch.float32,
                            device=self.device)[None]
        h, w = rgb.shape[:2]
        x0 = F.interpolate(y, size=(h * self.scale, w * self.scale), mode="bicubic", align_corners=False)
        try:
            x = map_sr(y, x0, self.degradation(kernel, given=self.estimate_settings is None), self.scale,
                       self.options, progress, cancel)
        except torch.OutOfMemoryError:
            raise KernelError(f"map-sr ran out of device memory on a {w}×{h} image "
                              f"(try a smaller image or region, or --device cpu)") from None
        out = x[0].clamp(0.0, 1.0).permute(1, 2, 0).float().cpu().numpy()
        return np.ascontiguousarray(out, dtype=np.float32)


#: the model's variants (manifest ``variants``): the prior with the α and iteration count
#: measured best on a tuning set (motorcycle_right + hubble_deep_field, set seed 7, HR 256;
#: not the table's images or seed; docs/kernelgan.md): TV α 3e-5 / 300 its 31.43 dB against
#: 31.15 at 1e-4, 30.47 at 3e-4, 29.63 at 1e-3; Tikhonov α 3e-4 / 100 its 31.02 dB against
#: 30.98 at 1e-4, 30.82 at 1e-3, 28.97 at 3e-2
VARIANTS: dict[str, dict] = {
    "default": {"prior": "tv", "alpha": 3e-5, "iterations": 300},
    "tikhonov": {"prior": "tikhonov", "alpha": 3e-4, "iterations": 100},
}


def make_map_sr_model(scale: int, kernel=None, device: str = "auto", variant: str = "default",
                      seed: int | None = None, **opts) -> MapSRModel:
    """The `map-sr` zoo model: MAP super-resolution with the degradation of `kernel`
    (ndarray, ``.npy`` path, ``"estimate"`` for the kernel estimate, None for the MATLAB
    bicubic shrink) and the prior of `variant` ("default": total variation, "tikhonov":
    gradient energy). Keywords set `MapSROptions` fields (``alpha``, ``iterations``,
    ``eps``, ``prior``…) or kernel_method / kernel_iterations / kernel_restarts /
    kernel_batch for ``kernel="estimate"`` (method "auto": KernelGAN's fast preset with 3
    restarts, averaged with the sharpness fit where it explains the image, as ZSSR's)."""
    if variant not in VARIANTS:
        raise KernelError(f"map-sr has no variant {variant!r} (use {', '.join(VARIANTS)})")
    fields = {f.name for f in dataclasses.fields(MapSROptions)}
    settings = dict(VARIANTS[variant])
    estimate = {} if seed is None else {"seed": int(seed)}
    for name, value in opts.items():
        if name == "kernel_method":
            from sr_desktop.engine.kernelgan.options import check_method

            estimate["method"] = check_method(value)
        elif name.startswith("kernel_") and name[len("kernel_"):] in ESTIMATE_DEFAULTS:
            estimate[name[len("kernel_"):]] = int(value)
        elif name in fields:
            settings[name] = value
        else:
            raise KernelError(f"unknown map-sr option {name!r}")
    options = MapSROptions(**settings)
    if options.prior not in PRIORS:
        raise KernelError(f"unknown map-sr prior {options.prior!r} (use {', '.join(PRIORS)})")
    if not (options.alpha >= 0 and np.isfinite(options.alpha)):
        raise KernelError(f"map-sr alpha must be a non-negative number, got {options.alpha}")
    if options.iterations < 1:
        raise KernelError("map-sr iterations must be at least 1")
    if options.eps <= 0 or options.history < 1 or options.report_every < 1:
        raise KernelError("map-sr eps, history and report_every must be positive")
    return MapSRModel(scale, kernel=kernel, device=device, options=options, estimate=estimate)
