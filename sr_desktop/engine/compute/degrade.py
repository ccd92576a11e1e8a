"""Degradation operators shared by evaluation, benchmarks and kernel estimation.

``degrade_with_kernel`` is the blur-then-subsample operator of the KernelGAN / DIV2KRK
protocol: each channel is *correlated* with the kernel (reflect border, kernel centre tap
at index n//2), then rows/columns 0, s, 2s, ... are kept. Optional Gaussian noise.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def correlate_channels(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate each channel of H×W[×C] float `image` with a 2-D `kernel` (reflect border).

    scipy's ``mode="reflect"`` is the half-sample symmetric border (d c b a | a b c d),
    and ``origin=0`` puts the kernel's centre tap at n//2 for odd and even sizes alike.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2:
        raise ValueError("kernel must be a 2-D array")
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        return ndimage.correlate(img, kernel, mode="reflect")
    out = np.empty_like(img)
    for c in range(img.shape[2]):
        out[:, :, c] = ndimage.correlate(img[:, :, c], kernel, mode="reflect")
    return out


def degrade_with_kernel(
    hr: np.ndarray,
    kernel: np.ndarray,
    scale: int,
    noise_sigma: float = 0.0,
    seed: int | None = None,
) -> np.ndarray:
    """Blur H×W[×C] float `hr` (0..1) with `kernel`, keep every `scale`-th pixel, add noise.

    `noise_sigma` is on the 0..1 scale (e.g. 5/255). Returns float64, not clipped unless
    noise was added (then clipped to 0..1).
    """
    if scale < 1:
        raise ValueError("scale must be >= 1")
    blurred = correlate_channels(hr, kernel)
    lr = blurred[::scale, ::scale]
    if noise_sigma > 0:
        rng = np.random.default_rng(seed)
        lr = np.clip(lr + rng.normal(0.0, noise_sigma, size=lr.shape), 0.0, 1.0)
    return lr
