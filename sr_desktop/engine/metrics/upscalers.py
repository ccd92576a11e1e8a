"""What the evaluation runs: an *upscaler* maps an 8-bit LR image to an 8-bit SR image.

The evaluation measures 8-bit results, as the published tables do (a model's output is
rounded as saving a PNG would round it). Three kinds:

* :class:`MatlabBicubic` — MATLAB ``imresize(lr, s, 'bicubic')`` on uint8, the baseline
  of the published tables (the bench's ``bicubic`` id). The engine's own ``bicubic``
  model (Pillow, float) differs slightly at the borders; use ``bicubic-pil`` for it.
* :class:`EngineUpscaler` — any model of the zoo through the real pipeline
  (:func:`sr_desktop.engine.pipeline.upscale.upscale_image`): same tiling, scale rule and grey
  handling the user gets.
* :class:`FunctionUpscaler` — wraps a plain ``f(rgb float32 H×W×3 0..1) -> float32
  sH×sW×3`` (tests, experiments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.compute.resample import quantize
from sr_desktop.engine.core.options import Backend, parse_backend
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.metrics.baseline_ids import ENGINE_BICUBIC_ID, MATLAB_BICUBIC_ID
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.timing import PeakMemory, Stopwatch, Timing


@dataclass
class UpscaleOutput:
    """An 8-bit SR image (H×W×C, C as the input's) and how long it took."""

    pixels: np.ndarray
    timing: Timing = field(default_factory=Timing)
    #: the output before 8-bit rounding (float 0..1, same layout), when asked for; the 8-bit
    #: pixels themselves for an upscaler whose output is 8-bit by nature (MATLAB's bicubic)
    float_pixels: np.ndarray | None = None


@runtime_checkable
class Upscaler(Protocol):
    """Anything with a `name`, a `scale` and ``upscale(lr uint8 H×W×C) -> UpscaleOutput``
    (C = 1 grey or 3 RGB; the output has the same C and is exactly scale× larger).
    With ``keep_float=True`` the output also carries the unrounded float result."""

    name: str
    scale: int

    def upscale(self, lr: np.ndarray, cancel: CancelToken | None = None,
                keep_float: bool = False) -> UpscaleOutput: ...

    def upscale_float(self, lr: np.ndarray, cancel: CancelToken | None = None) -> UpscaleOutput:
        """Float LR (H×W×C, 0..1 scale, unrounded) -> output with `float_pixels` set."""
        ...


class MatlabBicubic:
    """MATLAB ``imresize(lr, scale, 'bicubic')`` on uint8 (rounded after each pass)."""

    def __init__(self, scale: int, name: str = MATLAB_BICUBIC_ID):
        self.name = name
        self.scale = int(scale)

    def upscale(self, lr: np.ndarray, cancel: CancelToken | None = None,
                keep_float: bool = False) -> UpscaleOutput:
        with PeakMemory() as mem, Stopwatch() as sw:
            out = imresize(np.asarray(lr, dtype=np.uint8), self.scale)
        pixels = out if out.ndim == 3 else out[:, :, None]
        h, w = lr.shape[:2]
        # MATLAB's imresize of uint8 is uint8: its "unrounded" output is the 8-bit one, and it
        # is scored as 8-bit (as floats, its Y went unrounded beside the HR's rounded one under
        # --round-y: Set5 ×2 33.64 → 33.65 dB, an exact image 72.7 dB instead of inf)
        return UpscaleOutput(pixels, Timing(sw.seconds, h * w, "CPU (numpy)", mem.peak, 1, "numpy"),
                             pixels if keep_float else None)

    def upscale_float(self, lr: np.ndarray, cancel: CancelToken | None = None) -> UpscaleOutput:
        with PeakMemory() as mem, Stopwatch() as sw:
            out = imresize(np.asarray(lr, dtype=np.float64), self.scale)
        out = out if out.ndim == 3 else out[:, :, None]
        h, w = lr.shape[:2]
        timing = Timing(sw.seconds, h * w, "CPU (numpy)", mem.peak, 1, "numpy")
        return UpscaleOutput(quantize(out, np.uint8), timing, np.clip(out, 0.0, 1.0))


#: the most a float SR image on the 0..1 scale may reach: an unrounded bicubic or network
#: output overshoots 1 near edges (clipped, as its rounding would); beyond this it is 0..255
FLOAT_SR_MAX = 1.5


def check_unit_range(sr: np.ndarray, what: str = "a float SR image") -> None:
    """`EvaluationError` when float `sr` is not on the 0..1 scale (reaches beyond
    `FLOAT_SR_MAX`: 0..255 values clipped to 1 scored 6.9 dB for 37.1)."""
    if sr.size and float(np.nanmax(sr)) > FLOAT_SR_MAX:
        raise EvaluationError(f"{what} must be on the 0..1 scale; this one reaches {float(np.nanmax(sr)):g} "
                              "(divide 0..255 values by 255)")


class FunctionUpscaler:
    """Wraps ``fn(rgb float32 H×W×3 in 0..1) -> float (s·H)×(s·W)×3 in 0..1``.

    Grey input is given to `fn` as three equal channels; the output's channel mean is
    taken back as grey. The output is clipped and rounded to uint8.
    """

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], scale: int, name: str = "function",
                 device: str = "CPU"):
        self.fn = fn
        self.name = name
        self.scale = int(scale)
        self.device = device

    def upscale(self, lr: np.ndarray, cancel: CancelToken | None = None,
                keep_float: bool = False) -> UpscaleOutput:
        out = self.upscale_float(np.asarray(lr, dtype=np.float32) / 255.0, cancel)
        if not keep_float:
            out.float_pixels = None
        return out

    def upscale_float(self, lr: np.ndarray, cancel: CancelToken | None = None) -> UpscaleOutput:
        lr = np.asarray(lr, dtype=np.float32)
        if lr.ndim == 2:
            lr = lr[:, :, None]
        gray = lr.shape[2] == 1
        rgb = np.repeat(lr, 3, axis=2) if gray else lr
        with PeakMemory() as mem, Stopwatch() as sw:
            out = np.asarray(self.fn(rgb))
        if out.dtype.kind != "f":  # (a uint8 0..255 result was clipped to 1: 6.6 dB for 27.6)
            raise EvaluationError(f"{self.name} returned {out.dtype} values; it must return floats on the 0..1 "
                                  "scale (divide 0..255 values by 255)")
        out = out.astype(np.float32, copy=False)
        expected = (lr.shape[0] * self.scale, lr.shape[1] * self.scale, 3)
        if out.shape != expected:
            raise EvaluationError(f"{self.name} returned shape {out.shape}, expected {expected}")
        check_unit_range(out, f"the output of {self.name!r}")
        if gray:
            out = out.mean(axis=2, keepdims=True)
        timing = Timing(sw.seconds, lr.shape[0] * lr.shape[1], self.device, mem.peak, 1)
        return UpscaleOutput(quantize(out, np.uint8), timing, np.clip(out, 0.0, 1.0))


class EngineUpscaler:
    """A zoo/custom model run through :func:`sr_desktop.engine.pipeline.upscale.upscale_image`.

    The model is loaded once, on construction (raises `ModelError`/`DeviceError` there,
    `Cancelled` when `cancel` stops its first-use measurement), so the timings exclude loading.
    """

    def __init__(self, model_id: str, scale: int, device: str = "auto", tile: int | str = "auto",
                 variant: str | None = None, precision: str = "auto", name: str | None = None,
                 backend: str = "auto", cancel: CancelToken | None = None):
        from sr_desktop.engine.pipeline.scale_plan import scale_route
        from sr_desktop.engine.pipeline.upscale import UpscaleOptions, resolve_model

        model_id = "bicubic" if model_id == ENGINE_BICUBIC_ID else model_id
        self.options = UpscaleOptions(model=model_id, scale=int(scale), variant=variant,
                                      device=device, tile=tile, precision=precision, backend=backend)
        self.model, plan = resolve_model(self.options, cancel=cancel)
        self.name = name or (ENGINE_BICUBIC_ID if model_id == "bicubic" else model_id)
        self.scale = int(scale)
        #: how a scale the model does not have is reached (None: a native scale)
        self.scale_route = scale_route(plan, self.scale)

    def provenance(self) -> dict:
        """Which weights these are, for a report: the variant, and the model zoo's package
        with its version or a weights file's sha256 (a literature model retrained later, or
        another file added under the id, measures otherwise under the same id)."""
        from sr_desktop.engine.models.provenance import weights_provenance

        found = {"variant": self.model.variant} if self.model.variant else {}
        return found | weights_provenance(self.model, self.options.model)

    def upscale(self, lr: np.ndarray, cancel: CancelToken | None = None,
                keep_float: bool = False) -> UpscaleOutput:
        from sr_desktop.engine.imageio.image import Image
        from sr_desktop.engine.pipeline.upscale import upscale_float, upscale_image

        lr = np.asarray(lr, dtype=np.uint8)
        result = upscale_image(Image(np.ascontiguousarray(lr)), self.options, cancel=cancel,
                               model=self.model)
        h, w = lr.shape[:2]
        timing = Timing(result.seconds, h * w, result.device, int(result.peak_memory_bytes),
                        int(result.tiles), backend=result.backend)
        floats = None
        if keep_float:  # a second, untimed run through the float pipeline
            rgb = np.repeat(lr, 3, axis=2) if lr.shape[2] == 1 else lr
            floats = upscale_float(rgb.astype(np.float32) / 255.0, self.options, cancel=cancel,
                                   model=self.model)
            if lr.shape[2] == 1:
                floats = floats.mean(axis=2, keepdims=True)
        return UpscaleOutput(result.image.pixels, timing, floats)

    def upscale_float(self, lr: np.ndarray, cancel: CancelToken | None = None) -> UpscaleOutput:
        from sr_desktop.engine.compute import devices
        from sr_desktop.engine.pipeline.upscale import upscale_float

        lr = np.asarray(lr, dtype=np.float32)
        gray = lr.shape[2] == 1
        rgb = np.repeat(lr, 3, axis=2) if gray else lr
        with PeakMemory(self.model.device.type) as mem, Stopwatch() as sw:
            out = upscale_float(rgb, self.options, cancel=cancel, model=self.model)
        if gray:
            out = out.mean(axis=2, keepdims=True)
        h, w = lr.shape[:2]
        timing = Timing(sw.seconds, h * w, devices.describe_device(self.model.device), mem.peak, 0)
        return UpscaleOutput(quantize(out, np.uint8), timing, out)


def check_backend_for(model_id: str, backend: str) -> None:
    """`EvaluationError` for a backend asked for by name that cannot run `model_id` where
    that is known without loading it: MATLAB's bicubic has no network (it ran, and the
    report's backend was empty, where `upscale` refuses the same request)."""
    if model_id == MATLAB_BICUBIC_ID and parse_backend(backend) in (Backend.OPENVINO, Backend.NCNN):
        raise EvaluationError(f"{MATLAB_BICUBIC_ID} (MATLAB's imresize in numpy) has no network: --backend "
                              f"{backend} cannot run it (use auto or torch)")


def split_variant(model: str) -> tuple[str, str | None]:
    """A bench model as (id, variant): ``span@ch52`` is SPAN's ch52 weights, ``span`` its
    default (one report could not hold two variants of a model)."""
    model_id, at, variant = model.rpartition("@")
    return (model_id, variant) if at and model_id and variant else (model, None)


def make_upscaler(model_id: str, scale: int, device: str = "auto", tile: int | str = "auto",
                  variant: str | None = None, precision: str = "auto", backend: str = "auto",
                  cancel: CancelToken | None = None) -> Upscaler:
    """The upscaler of a bench model id: ``bicubic`` = MATLAB bicubic, ``bicubic-pil`` =
    the engine's bicubic model, anything else = that model through the engine; ``ID@VARIANT``
    (`split_variant`) that variant, named so in the report."""
    name = model_id
    if variant is None:
        model_id, variant = split_variant(model_id)
    if model_id == MATLAB_BICUBIC_ID:
        if variant is not None:
            raise EvaluationError(f"{MATLAB_BICUBIC_ID} (MATLAB's imresize) has no variants, not {variant!r}")
        check_backend_for(model_id, backend)
        return MatlabBicubic(scale)
    return EngineUpscaler(model_id, scale, device=device, tile=tile, variant=variant,
                          precision=precision, backend=backend, cancel=cancel,
                          name=name if name != model_id else None)


def as_upscaler(obj, scale: int) -> Upscaler:
    """Accept an :class:`Upscaler`, a model id, or a float function (see FunctionUpscaler)."""
    if isinstance(obj, str):
        return make_upscaler(obj, scale)
    if isinstance(obj, Upscaler):
        return obj
    if callable(obj):
        return FunctionUpscaler(obj, scale, name=getattr(obj, "__name__", "function"))
    raise TypeError(f"not an upscaler: {obj!r}")
