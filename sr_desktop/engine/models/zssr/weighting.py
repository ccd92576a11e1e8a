"""Gradient-based weighting of ZSSR's training, as in the ZSSR configuration that the
KernelGAN paper's pipeline runs (its ``grad_based_loss_map`` and gradient-driven crops):
textured areas carry the information about the blur, flat ones carry almost none.
"""

from __future__ import annotations

import cv2
import numpy as np


def _box_sum(img: np.ndarray, size: int) -> np.ndarray:
    """Sum over a size×size window centred on each pixel, zeros outside ('same' size)."""
    return cv2.boxFilter(img.astype(np.float64), -1, (size, size), normalize=False,
                         borderType=cv2.BORDER_CONSTANT)


def gradient_loss_map(img: np.ndarray, window: int = 5) -> np.ndarray:
    """Per-pixel L1 weights (H×W, mean 1): the grey gradient magnitude summed over a
    `window`² box, zero on a (window+1)//2 border. A flat image gets uniform weights."""
    gray = img[..., :3] @ np.array([0.299, 0.587, 0.114]) if img.ndim == 3 else img
    gy, gx = np.gradient(gray.astype(np.float64))
    weights = np.zeros(gray.shape, dtype=np.float64)
    margin = (window + window % 2) // 2
    inner = _box_sum(np.hypot(gx, gy), window)[margin:-margin, margin:-margin]
    weights[margin:-margin, margin:-margin] = inner
    total = weights.sum()
    if not np.isfinite(total) or total <= 0:
        return np.ones(gray.shape, dtype=np.float64)
    return weights * (weights.size / total)


def crop_probability(img: np.ndarray, crop: int) -> np.ndarray:
    """Probability (H×W, sums to 1) of each pixel being a crop centre: the colour gradient
    magnitude summed over a (crop−3)² window, zero within crop//2 − 1 of the border.
    Uniform over the valid centres when the image is flat or smaller than a crop."""
    h, w = img.shape[:2]
    margin = crop // 2 - 1
    prob = np.zeros((h, w), dtype=np.float64)
    if h > 2 * margin and w > 2 * margin:
        planes = img if img.ndim == 3 else img[..., None]
        magnitude = np.zeros((h, w), dtype=np.float64)
        for c in range(planes.shape[2]):
            gy, gx = np.gradient(planes[..., c].astype(np.float64))
            magnitude += np.hypot(gx, gy)
        summed = _box_sum(magnitude, max(1, crop - 3))
        prob[margin:h - margin, margin:w - margin] = summed[margin:h - margin, margin:w - margin]
    total = prob.sum()
    if not np.isfinite(total) or total <= 0:
        prob[:] = 0.0
        if h > 2 * margin and w > 2 * margin:
            prob[margin:h - margin, margin:w - margin] = 1.0
        else:
            prob[:] = 1.0
        total = prob.sum()
    return prob / total
