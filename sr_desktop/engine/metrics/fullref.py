"""Full-reference metrics: PSNR, SSIM and MS-SSIM, computed as in the SR literature.

All functions take arrays on the 0..`data_range` scale (default 255, i.e. 8-bit values)
and compute in float64. ``shave`` removes that many pixels from every border first (the
SR protocol shaves `scale` pixels).

PSNR of identical images is ``math.inf`` (MSE = 0); callers that need a finite number
(JSON, plots) should use :func:`finite_or_none`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from sr_desktop.engine.compute.psnr import psnr_from_mse

#: SSIM constants of Wang et al. (2004)
SSIM_K1 = 0.01
SSIM_K2 = 0.03
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
#: MS-SSIM scale weights of Wang, Simoncelli & Bovik (2003)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def shave_border(img: np.ndarray, shave: int) -> np.ndarray:
    """Remove `shave` pixels from each border of an H×W[×C] array."""
    if shave <= 0:
        return img
    if img.shape[0] <= 2 * shave or img.shape[1] <= 2 * shave:
        raise ValueError(f"image {img.shape[1]}×{img.shape[0]} too small to shave {shave} px")
    return img[shave:-shave, shave:-shave]


def _pair(a: np.ndarray, b: np.ndarray, shave: int) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return (
        shave_border(a, shave).astype(np.float64),
        shave_border(b, shave).astype(np.float64),
    )


def mse(a: np.ndarray, b: np.ndarray, shave: int = 0) -> float:
    """Mean squared error over all pixels and channels."""
    x, y = _pair(a, b, shave)
    return float(np.mean((x - y) ** 2))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0, shave: int = 0) -> float:
    """Peak signal-to-noise ratio in dB, over all channels; ``inf`` for identical inputs."""
    return psnr_from_mse(mse(a, b, shave), data_range)


def finite_or_none(value: float) -> float | None:
    """`value`, or None when it is inf/nan (for JSON output)."""
    return value if math.isfinite(value) else None


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian; its outer product is MATLAB's ``fspecial('gaussian')``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    w = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return w / w.sum()


def _filter(img: np.ndarray, window: np.ndarray, valid: bool) -> np.ndarray:
    out = ndimage.correlate1d(img, window, axis=0, mode="reflect")
    out = ndimage.correlate1d(out, window, axis=1, mode="reflect")
    if valid:
        r = len(window) // 2
        out = out[r:-r, r:-r]
    return out


def _ssim_components(
    x: np.ndarray, y: np.ndarray, data_range: float, valid: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel SSIM map and contrast-structure map of two 2-D float64 arrays."""
    window = gaussian_window_1d()
    if valid and (x.shape[0] < len(window) or x.shape[1] < len(window)):
        raise ValueError(f"image {x.shape[1]}×{x.shape[0]} smaller than the SSIM window")
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_x = _filter(x, window, valid)
    mu_y = _filter(y, window, valid)
    sxx = _filter(x * x, window, valid) - mu_x * mu_x
    syy = _filter(y * y, window, valid) - mu_y * mu_y
    sxy = _filter(x * y, window, valid) - mu_x * mu_y
    cs = (2.0 * sxy + c2) / (sxx + syy + c2)
    lum = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    return lum * cs, cs


def ssim_map(
    a: np.ndarray, b: np.ndarray, data_range: float = 255.0, shave: int = 0, valid: bool = True
) -> np.ndarray:
    """SSIM map of two 2-D images (Gaussian 11×11, σ = 1.5, K1 = 0.01, K2 = 0.03).

    ``valid=True`` keeps only windows fully inside the image (MATLAB ``filter2(..., 'valid')``,
    as ``ssim_index.m``); ``valid=False`` returns a map of the input size (reflect border),
    for display.
    """
    x, y = _pair(a, b, shave)
    if x.ndim != 2:
        raise ValueError("ssim_map expects 2-D (single-channel) images")
    return _ssim_components(x, y, data_range, valid)[0]


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0, shave: int = 0) -> float:
    """Mean SSIM of two images; for H×W×C the mean of the per-channel SSIMs."""
    x, y = _pair(a, b, shave)
    if x.ndim == 2:
        return float(np.mean(_ssim_components(x, y, data_range, True)[0]))
    values = [
        float(np.mean(_ssim_components(x[:, :, c], y[:, :, c], data_range, True)[0]))
        for c in range(x.shape[2])
    ]
    return float(np.mean(values))


def _halve(img: np.ndarray) -> np.ndarray:
    """2×2 means, as Wang's ``msssim.m`` takes them (``imfilter(ones(2)/4, 'symmetric')``,
    then every other pixel): an odd last row or column is averaged with itself, not cropped
    (cropped, coastguard ×3 differed by 3e-4)."""
    if img.shape[0] % 2:
        img = np.concatenate([img, img[-1:]], axis=0)
    if img.shape[1] % 2:
        img = np.concatenate([img, img[:, -1:]], axis=1)
    return 0.25 * (img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2])


def ms_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0, shave: int = 0) -> float:
    """Multi-scale SSIM (Wang et al. 2003) of two 2-D images.

    Five scales, 2×2 mean downsampling between them, contrast-structure terms of the
    first four scales and full SSIM of the last, weighted by :data:`MS_SSIM_WEIGHTS`.
    Images too small for five scales (each scale needs ≥ 11 px) use as many scales as
    fit, with the weights of those scales renormalised to sum 1. Negative terms are
    clipped to 0 before the fractional powers.
    """
    x, y = _pair(a, b, shave)
    if x.ndim == 3:
        return float(np.mean([ms_ssim(x[:, :, c], y[:, :, c], data_range) for c in range(x.shape[2])]))
    levels = 0
    h, w = x.shape
    while levels < len(MS_SSIM_WEIGHTS) and min(h, w) >= SSIM_WINDOW:
        levels += 1
        h, w = (h + 1) // 2, (w + 1) // 2
    if levels == 0:
        raise ValueError(f"image {x.shape[1]}×{x.shape[0]} smaller than the SSIM window")
    weights = np.array(MS_SSIM_WEIGHTS[:levels])
    if levels < len(MS_SSIM_WEIGHTS):  # (the published five sum to 1.0001: used as published)
        weights = weights / weights.sum()
    terms = []
    for level in range(levels):
        s_map, cs_map = _ssim_components(x, y, data_range, True)
        last = level == levels - 1
        terms.append(max(0.0, float(np.mean(s_map if last else cs_map))))
        if not last:
            x, y = _halve(x), _halve(y)
    return float(np.prod(np.power(terms, weights)))
