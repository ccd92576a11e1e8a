"""Scoring of estimated kernels against the truth (the reference protocol):

* kernel PSNR: both normalised to sum 1, zero-padded to one canvas, the estimate
  spline-shifted onto the truth's centre of mass; SSE / (truth taps); peak 1.
* LR re-degradation PSNR: the HR degraded with the aligned estimate (same operator)
  against the stored LR; RGB, 4-px border shaved; peak 1.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.compute.psnr import psnr_from_mse
from sr_desktop.engine.kernelgan.kernel_ops import center_of_mass, embed


def align_kernels(estimate: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both kernels on one odd canvas (centre taps coincide), estimate moved to the truth's
    centre of mass. Returns (aligned estimate, truth) on that canvas, each summing to 1."""
    est = np.asarray(estimate, dtype=np.float64)
    tru = np.asarray(truth, dtype=np.float64)
    est, tru = est / est.sum(), tru / tru.sum()
    size = max(est.shape[0], tru.shape[0]) + 4
    size += 1 - size % 2
    e, t = embed(est, size), embed(tru, size)
    e = ndimage.shift(e, center_of_mass(t) - center_of_mass(e), order=3, mode="constant")
    return e, t


def kernel_psnr(estimate: np.ndarray, truth: np.ndarray) -> float:
    """PSNR (peak 1) of the centre-of-mass aligned estimate vs the truth, SSE / truth taps."""
    e, t = align_kernels(estimate, truth)
    return psnr_from_mse(float(np.sum((e - t) ** 2)) / np.asarray(truth).size)


def lr_psnr(
    hr: np.ndarray, lr: np.ndarray, estimate: np.ndarray, truth: np.ndarray, scale: int = 2, shave: int = 4
) -> float:
    """PSNR of degrade(hr, aligned estimate) vs the stored LR (RGB, `shave` px border)."""
    e, _ = align_kernels(estimate, truth)
    pred = degrade_with_kernel(hr, e, scale)
    ref = np.asarray(lr, dtype=np.float64)
    h = min(pred.shape[0], ref.shape[0])
    w = min(pred.shape[1], ref.shape[1])
    d = pred[shave : h - shave, shave : w - shave] - ref[shave : h - shave, shave : w - shave]
    return psnr_from_mse(float(np.mean(d**2)))
