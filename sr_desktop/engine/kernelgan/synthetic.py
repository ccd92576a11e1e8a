"""A DIV2KRK-style synthetic set: random anisotropic Gaussian ×2 kernels (as in the
KernelGAN paper) applied to HR images by `degrade_with_kernel`, LR stored as 8-bit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.kernelgan.kernel_ops import center_of_mass


def random_kernel_x2(
    rng: np.random.Generator,
    size: int = 11,
    lambda_range: tuple[float, float] = (0.35, 5.0),
    noise_level: float = 0.4,
    scale: int = 2,
) -> np.ndarray:
    """An 11×11 anisotropic Gaussian: covariance eigenvalues λ1, λ2 ~ U(0.35, 5), angle
    θ ~ U(0, π), each tap × U(0.6, 1.4); centre of mass shifted (cubic spline, within the
    support) to size//2 + 0.5 (the ×2 convention), normalised to sum 1."""
    lam1 = rng.uniform(*lambda_range)
    lam2 = rng.uniform(*lambda_range)
    theta = rng.uniform(0.0, np.pi)
    noise = rng.uniform(1.0 - noise_level, 1.0 + noise_level, size=(size, size))
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    inv_cov = np.linalg.inv(rot @ np.diag([lam1, lam2]) @ rot.T)
    mu = size // 2 - 0.5 * (scale - 1)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    zx, zy = x - mu, y - mu
    quad = inv_cov[0, 0] * zx * zx + (inv_cov[0, 1] + inv_cov[1, 0]) * zx * zy + inv_cov[1, 1] * zy * zy
    raw = np.exp(-0.5 * quad) * noise
    wanted = size // 2 + 0.5 * (scale - size % 2)
    shifted = ndimage.shift(raw, wanted - center_of_mass(raw), order=3, mode="constant")
    return shifted / shifted.sum()


def center_crop(image: np.ndarray, max_size: int = 512, multiple: int = 2) -> np.ndarray:
    """Centre crop to at most max_size per side, each side a multiple of `multiple`."""
    h, w = image.shape[:2]
    th = min(h, max_size) // multiple * multiple
    tw = min(w, max_size) // multiple * multiple
    top, left = (h - th) // 2, (w - tw) // 2
    return image[top : top + th, left : left + tw]


@dataclass
class SyntheticSample:
    """One named pair: the HR image, its LR (blurred with `kernel`, subsampled, 8-bit) and the kernel."""

    name: str
    hr: np.ndarray  # H×W×3 float64 0..1
    lr: np.ndarray  # (H/2)×(W/2)×3 float64 0..1, 8-bit quantised
    kernel: np.ndarray  # 11×11, sums to 1


def make_sample(name: str, hr: np.ndarray, rng: np.random.Generator, scale: int = 2) -> SyntheticSample:
    """Blur+subsample `hr` (float 0..1 or uint8) with a fresh random kernel; LR rounded to 8 bits."""
    hr = np.asarray(hr)
    if hr.dtype == np.uint8:
        hr = hr.astype(np.float64) / 255.0
    hr = np.asarray(hr, dtype=np.float64)[:, :, :3]
    kernel = random_kernel_x2(rng, scale=scale)
    lr = degrade_with_kernel(hr, kernel, scale)
    lr = np.round(np.clip(lr, 0.0, 1.0) * 255.0) / 255.0
    return SyntheticSample(name, hr, lr, kernel)


def make_set(images: dict[str, np.ndarray], seed: int = 0, max_size: int = 512) -> list[SyntheticSample]:
    """One sample per HR image (centre-cropped to ≤ max_size), kernels from one seeded stream."""
    rng = np.random.default_rng(seed)
    return [make_sample(name, center_crop(img, max_size), rng) for name, img in images.items()]
