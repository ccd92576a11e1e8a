"""Degradation rules of the evaluation: how a low-resolution input is made from HR.

* ``bicubic``: MATLAB ``imresize(hr, 1/s, 'bicubic')`` on the 8-bit image (antialiased,
  rounded to uint8 between passes) — the rule behind the published tables.
* ``bicubic-float``: the same on ``im2double(hr)``, the LR kept unrounded in float.
* ``kernel``: blur with a given kernel (e.g. one estimated by KernelGAN) and keep every
  s-th pixel (:func:`sr_desktop.engine.compute.degrade.degrade_with_kernel`), optional Gaussian
  noise, then rounded to 8 bits as a saved PNG would be.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.compute.resample import quantize
from sr_desktop.engine.core.errors import KernelError
from sr_desktop.engine.core.kernel_file import check_kernel, kernel_spec_parts, load_kernel_file
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.metrics.errors import EvaluationError


@dataclass(frozen=True, eq=False)
class Degradation:
    """A degradation rule. ``kind`` is ``"bicubic"`` or ``"kernel"`` (then `kernel` is set)."""

    kind: str = "bicubic"
    kernel: np.ndarray | None = None
    noise_sigma: float = 0.0  # on the 0..1 scale (e.g. 5/255), kernel rule only
    seed: int | None = 0
    label: str = ""  # how the user named it, e.g. "kernel:k.npy"
    #: keep the LR image in floating point (MATLAB imresize of im2double(HR)) instead of
    #: 8 bits; some reference scripts (e.g. SRMD's) feed the model such an LR
    float_lr: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("bicubic", "kernel"):
            raise EvaluationError(f"unknown degradation {self.kind!r} (use bicubic or kernel:FILE.npy)")
        if self.kind == "kernel":
            validate_kernel(self.kernel)

    def describe(self) -> str:
        if self.label:
            return self.label
        if self.kind == "bicubic":
            return "bicubic-float" if self.float_lr else "bicubic"
        k = self.kernel
        noise = f", noise σ={self.noise_sigma * 255:.1f}/255" if self.noise_sigma > 0 else ""
        return f"kernel {k.shape[1]}×{k.shape[0]}{noise}"


def validate_kernel(kernel: np.ndarray | None) -> np.ndarray:
    """`kernel` checked by the one kernel rule (`check_kernel`): float64, normalised to sum 1."""
    if kernel is None:
        raise EvaluationError("the kernel degradation needs a kernel")
    try:
        return check_kernel(kernel)
    except KernelError as exc:
        raise EvaluationError(str(exc)) from None


def load_kernel(path: str | Path) -> np.ndarray:
    """Read a blur kernel from a ``.npy`` file by the one kernel rule (`load_kernel_file`)."""
    try:
        return load_kernel_file(path)
    except KernelError as exc:
        raise EvaluationError(str(exc)) from None


def parse_degradation(text: str) -> Degradation:
    """``"bicubic"``, ``"bicubic-float"`` or ``"kernel:FILE.npy"`` (the CLI syntax) ->
    :class:`Degradation`."""
    text = (text or "bicubic").strip()
    if text == "bicubic":
        return Degradation()
    if text == "bicubic-float":
        return Degradation(float_lr=True)
    if text.startswith("kernel:") and len(text) > len("kernel:"):
        path = text[len("kernel:"):]
        file, rest = kernel_spec_parts(text)
        if rest and not os.path.lexists(path) and os.path.lexists(file):
            # train's kernel:FILE,noise=…,jpeg=… ("k.npy,noise=5: kernel file not found")
            raise EvaluationError(f"--degradation kernel:FILE.npy takes the kernel file alone here; {rest[1:]!r} "
                                  "is for train's --degradation")
        return Degradation(kind="kernel", kernel=load_kernel(path), label=f"kernel:{path}")
    raise EvaluationError(
        f"unknown degradation {text!r} (use bicubic, bicubic-float or kernel:FILE.npy)")


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop H×W[×C] to the largest multiple of `scale` in each dimension (top-left kept)."""
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    if h == 0 or w == 0:
        raise EvaluationError(f"image {img.shape[1]}×{img.shape[0]} is smaller than the scale {scale}")
    return img[:h, :w]


def degrade_float(hr: np.ndarray, scale: int, degradation: Degradation) -> np.ndarray:
    """The float LR image (0..1 scale, not rounded or clipped) of a uint8 HR image."""
    if hr.shape[0] % scale or hr.shape[1] % scale:
        raise ValueError("crop the HR image to a multiple of the scale first (modcrop)")
    x = np.asarray(hr, dtype=np.float64) / 255.0
    if degradation.kind == "bicubic":
        return imresize(x, 1.0 / scale)
    return degrade_with_kernel(x, validate_kernel(degradation.kernel), scale,
                               noise_sigma=degradation.noise_sigma, seed=degradation.seed)


def degrade_uint8(hr: np.ndarray, scale: int, degradation: Degradation,
                  cancel: CancelToken | None = None) -> np.ndarray:
    """Make the uint8 LR image of a uint8 HR image whose sides are multiples of `scale`
    (`cancel`: looked at during a bicubic one, `imresize`)."""
    if hr.dtype != np.uint8:
        raise ValueError("degrade_uint8 expects uint8 pixels")
    if hr.shape[0] % scale or hr.shape[1] % scale:
        raise ValueError("crop the HR image to a multiple of the scale first (modcrop)")
    if degradation.kind == "bicubic":
        return imresize(hr, 1.0 / scale, cancel=cancel)
    lr = degrade_with_kernel(
        hr.astype(np.float64) / 255.0,
        validate_kernel(degradation.kernel),
        scale,
        noise_sigma=degradation.noise_sigma,
        seed=degradation.seed,
    )
    return quantize(lr, np.uint8)
