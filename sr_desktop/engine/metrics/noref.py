"""No-reference numbers, for real photos that have no ground truth.

* Sharpness: mean gradient magnitude and variance of the Laplacian of the luma (Y of
  BT.601, or grey), on the 0..255 scale. Higher = more high-frequency detail (also more
  noise and ringing: compare results of the same image, not across images).
* Consistency: downscale the result with the degradation rule that is assumed to have
  made the input, and measure PSNR against the input. A faithful upscale scores high;
  a model that invents content or shifts colours scores lower.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.metrics.color import luma_y
from sr_desktop.engine.metrics.degradation import Degradation, degrade_uint8
from sr_desktop.engine.metrics.fullref import psnr
from sr_desktop.engine.metrics.maps import laplacian


class _JsonFields:
    """``to_json`` of a dataclass whose fields are all JSON numbers."""

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sharpness(_JsonFields):
    """Sharpness measures of one image (luma, 0..255 scale)."""

    mean_gradient: float
    laplacian_variance: float


def sharpness(img: np.ndarray) -> Sharpness:
    """Mean gradient magnitude (central differences, 0..255 scale) and Laplacian variance
    of the luma (Y of BT.601, or grey)."""
    y = luma_y(np.asarray(img))
    padded = np.pad(y, 1, mode="edge")
    gv = padded[2:, 1:-1] - padded[:-2, 1:-1]
    gh = padded[1:-1, 2:] - padded[1:-1, :-2]
    grad = np.sqrt(gv * gv + gh * gh)
    return Sharpness(
        mean_gradient=float(np.mean(grad)),
        laplacian_variance=float(np.var(laplacian(y))),
    )


@dataclass(frozen=True)
class Consistency(_JsonFields):
    """Result-vs-input agreement after re-degrading the result."""

    psnr_rgb: float
    psnr_y: float


def consistency(
    result: np.ndarray, source: np.ndarray, scale: int, degradation: Degradation | None = None,
    cancel: CancelToken | None = None,
) -> Consistency:
    """Downscale the uint8 `result` by `scale` with `degradation` (default MATLAB bicubic)
    and compare with the uint8 `source` it was made from (PSNR, all channels and Y).

    The result's size must be exactly `scale` × the source's size.
    """
    result = np.asarray(result)
    source = np.asarray(source)
    if result.dtype != np.uint8 or source.dtype != np.uint8:
        raise ValueError("consistency expects 8-bit (uint8) images")
    expected = (source.shape[0] * scale, source.shape[1] * scale)
    if result.shape[:2] != expected:
        raise ValueError(
            f"result is {result.shape[1]}×{result.shape[0]}, expected "
            f"{expected[1]}×{expected[0]} (×{scale} of the input)"
        )
    back = degrade_uint8(result, scale, degradation or Degradation(), cancel)
    if back.ndim == 2:
        back = back[:, :, None]
    src = source if source.ndim == 3 else source[:, :, None]
    if back.shape[2] != src.shape[2]:
        raise ValueError("result and input have different channel counts")
    return Consistency(psnr_rgb=psnr(back, src), psnr_y=psnr(luma_y(back), luma_y(src)))
