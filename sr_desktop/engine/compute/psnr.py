"""The decibel form of a mean squared error: the one PSNR formula every score uses (image
metrics, kernel estimates, KernelGAN's convergence test)."""

from __future__ import annotations

import math


def psnr_from_mse(mse: float, peak: float = 1.0) -> float:
    """``10·log10(peak² / mse)`` in dB; ``inf`` when `mse` is 0 (identical signals)."""
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(peak * peak / mse)
