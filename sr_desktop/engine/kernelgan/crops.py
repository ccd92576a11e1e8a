"""Where KernelGAN looks: crop centres drawn in proportion to the (blurred, clipped)
gradient magnitude of the image, as in the official code, and batched crop gathering."""

from __future__ import annotations

import numpy as np
import torch
from scipy.signal import fftconvolve

GREY_WEIGHTS = np.array([0.299, 0.587, 0.114])


def _zero_edges(a: np.ndarray, edge: int) -> np.ndarray:
    out = np.zeros_like(a)
    if edge > 0 and a.shape[0] > 2 * edge and a.shape[1] > 2 * edge:
        out[edge:-edge, edge:-edge] = a[edge:-edge, edge:-edge]
    elif edge <= 0:
        out[:] = a
    return out


def _clip_extreme(a: np.ndarray, percent: float = 0.97) -> np.ndarray:
    """Zero values below the `percent` quantile and clip above the next value."""
    s = np.sort(a.ravel())
    pivot = int(percent * s.size)
    pivot = min(pivot, s.size - 2)
    v_min = s[pivot]
    v_max = s[pivot + 1] if s[pivot + 1] > v_min else v_min + 1e-5
    return np.clip(a, v_min, v_max) - v_min


def _box_same(a: np.ndarray, size: int) -> np.ndarray:
    """'same' convolution with a size×size box, divided by size² (zero outside)."""
    return fftconvolve(a, np.ones((size, size)), mode="same") / float(size * size)


def gradient_map(image: np.ndarray, window: int = 5, percent: float = 0.97) -> np.ndarray:
    """Blurred, clipped gradient energy of an H×W×3 image, normalised to mean 1."""
    grey = image @ GREY_WEIGHTS if image.ndim == 3 else image
    gy, gx = np.gradient(grey)
    mag = np.sqrt(gx**2 + gy**2)
    parts = [_clip_extreme(_zero_edges(np.abs(g), window), percent) for g in (gx, gy, mag)]
    comb = sum(p / p.sum() if p.sum() > 0 else p for p in parts)
    loss_map = np.clip(_box_same(comb, window), 0.0, None)
    mean = loss_map.mean()
    return loss_map / mean if mean > 0 else np.ones_like(loss_map)


def probability_map(loss_map: np.ndarray, crop: int) -> np.ndarray:
    """Flattened probabilities of crop centres: the loss map summed over crop//2 boxes,
    zero within crop//2 of the border, normalised (uniform if everything is flat)."""
    half = crop // 2
    p = _zero_edges(np.clip(_box_same(loss_map, half), 0.0, None), half).ravel()
    total = p.sum()
    return p / total if total > 0 else np.full(p.size, 1.0 / p.size)


class CropSampler:
    """Draws top-left corners of G crops (on the ×1/2 gradient map, nearest-upsampled) and
    D crops (on the image's own gradient map), both on even coordinates."""

    def __init__(self, image: np.ndarray, g_size: int = 64, d_size: int = 26, scale: int = 2):
        from sr_desktop.engine.compute.matlab_resize import imresize

        self.rows, self.cols = image.shape[:2]
        self.g_size, self.d_size = g_size, d_size
        self.p_d = probability_map(gradient_map(image), d_size)
        small = gradient_map(imresize(image, scale=1.0 / scale))
        big = np.repeat(np.repeat(small, scale, axis=0), scale, axis=1)[: self.rows, : self.cols]
        if big.shape != (self.rows, self.cols):
            big = np.pad(big, ((0, self.rows - big.shape[0]), (0, self.cols - big.shape[1])), mode="edge")
        self.p_g = probability_map(big, g_size)

    def _tops(self, centres: np.ndarray, size: int) -> np.ndarray:
        row, col = centres // self.cols, centres % self.cols
        top = np.minimum(np.maximum(0, row - size // 2), self.rows - size)
        left = np.minimum(np.maximum(0, col - size // 2), self.cols - size)
        return np.stack([top - top % 2, left - left % 2], axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`n` G-crop and `n` D-crop top-left corners, each an n×2 int array."""
        g = rng.choice(self.p_g.size, size=n, p=self.p_g)
        d = rng.choice(self.p_d.size, size=n, p=self.p_d)
        return self._tops(g, self.g_size), self._tops(d, self.d_size)


def gather_crops(image: torch.Tensor, tops: torch.Tensor, size: int) -> torch.Tensor:
    """Crops of a C×H×W tensor at B top-left corners (B×2 long tensor) -> B×C×size×size."""
    ar = torch.arange(size, device=image.device)
    rows = (tops[:, 0:1] + ar)[:, :, None]  # B×s×1
    cols = (tops[:, 1:2] + ar)[:, None, :]  # B×1×s
    return image[:, rows, cols].permute(1, 0, 2, 3)
