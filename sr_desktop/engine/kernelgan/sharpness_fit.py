"""A blur kernel fitted from cross-scale sharpness, without a GAN.

KernelGAN's premise is that the image downscaled ×2 by its own kernel looks like the image
itself. This module measures "looks like" with one statistic instead of a discriminator:
how sharp the image is in each direction — the energy of pixel differences at distance 1
against distance 2, along 16 directions. A blur along a direction lowers that ratio in that
direction only, so the ratio profile carries the kernel's size, elongation and orientation,
while the image's content largely cancels in the comparison of the image with its own
downscale. The kernel is an anisotropic Gaussian (the family of DIV2KRK-style kernels)
searched coarse to fine for the smallest difference of the two profiles (the *misfit*).

Where the premise fails (large flat or compressed areas), no Gaussian explains the image
and the misfit stays high; `estimate_kernel(method="auto")` then takes KernelGAN's kernel
alone (where the fit is trusted, auto averages it with KernelGAN's). Measured in
docs/kernelgan.md ("Sharpness fit", "Fit and KernelGAN averaged").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sr_desktop.engine.compute.degrade import gaussian_kernels
from sr_desktop.engine.core.progress import CancelToken, check_cancel
from sr_desktop.engine.kernelgan.confidence import RELIABLE_AT
from sr_desktop.engine.kernelgan.crops import GREY_WEIGHTS
from sr_desktop.engine.kernelgan.synthetic import center_crop

#: directions of the difference energies (0 … π)
N_DIRECTIONS = 16
#: difference distances in pixels: the profile is log E(d=1) − log E(d=2) per direction
DISTANCES = (1.0, 2.0)
#: the ×2 kernel's canvas (the KernelGAN estimate's size) and the σ range searched, in HR
#: pixels (DIV2KRK draws covariance eigenvalues from 0.35…5: σ 0.59…2.24)
KERNEL_SIZE = 17
SIGMA_RANGE = (0.5, 2.9)
#: at most this many pixels a side are used (a central crop): the statistic is global
MAX_SIDE = 512
#: misfit at which the fit stops being trusted (`estimate_kernel(method="auto")` averages
#: the fit with KernelGAN up to it, uses KernelGAN alone above it; the confidence is
#: RELIABLE_AT there). Set between the fits that explained their
#: image (≤ 0.0012) and those that did not (≥ 0.0052: rocket, whose LR no Gaussian explains)
#: over 35 synthetic images (7 kernel streams), docs/kernelgan.md ("Sharpness fit")
MISFIT_TRUSTED = 0.003
_MARGIN = 6
#: mean squared neighbour difference under which an image has no texture to measure
_TEXTURELESS = 1e-10


@dataclass(frozen=True)
class SharpnessFit:
    """The fitted ×2 kernel (17×17, centred on the ×2 convention n//2 + 0.5) and its shape."""

    kernel: np.ndarray
    sigma_major: float
    sigma_minor: float
    #: orientation of the major axis, radians in [0, π), x to the right and y down
    angle: float
    #: squared distance of the two sharpness profiles: lower explains the image better
    #: (infinite for an image without texture: nothing to measure)
    misfit: float
    candidates: int

    @property
    def trusted(self) -> bool:
        """The misfit is within `MISFIT_TRUSTED`: the fit explains the image."""
        return self.misfit <= MISFIT_TRUSTED

    @property
    def confidence(self) -> float:
        """0..1 from the misfit alone: 1 for a perfect fit, the "reliable" cut
        (`confidence.RELIABLE_AT`) at `MISFIT_TRUSTED`, 0 from twice that on."""
        if not np.isfinite(self.misfit):
            return 0.0
        return float(np.clip(1.0 - (1.0 - RELIABLE_AT) * self.misfit / MISFIT_TRUSTED, 0.0, 1.0))


def gaussian_kernel(
    sigma_major: float, sigma_minor: float, angle: float, size: int = KERNEL_SIZE, center: float | None = None
) -> np.ndarray:
    """An anisotropic Gaussian on a size×size canvas, normalised to sum 1; its centre is
    `center` (default the ×2 convention size//2 + 0.5) in both axes."""
    return _x2_kernels(np.array([sigma_major, sigma_minor, angle]), size, center)[0]


def _x2_kernels(params: np.ndarray, size: int = KERNEL_SIZE, center: float | None = None) -> np.ndarray:
    return gaussian_kernels(params, size, size // 2 + 0.5 if center is None else center)


def central_crop(image: np.ndarray) -> np.ndarray:
    """The central window of at most `MAX_SIDE` px a side the fit uses (a view)."""
    return center_crop(image, MAX_SIDE, multiple=1)


def _grey(image: np.ndarray) -> torch.Tensor:
    img = np.asarray(central_crop(np.asarray(image)), dtype=np.float64)
    if img.ndim == 3:
        img = img[:, :, :3] @ GREY_WEIGHTS if img.shape[2] >= 3 else img[:, :, 0]
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]


def _neighbour_energy(grey: torch.Tensor) -> float:
    """Mean squared difference of horizontal and vertical neighbours (0 for a flat image)."""
    across = (grey[..., 1:] - grey[..., :-1]).square().mean()
    down = (grey[..., 1:, :] - grey[..., :-1, :]).square().mean()
    return float(across + down)


def sharpness_profile(grey: torch.Tensor) -> torch.Tensor:
    """B×1×H×W → B×16: log E(d=1) − log E(d=2) of the directional differences per direction
    (bilinear sub-pixel shifts; a 6-px margin left out)."""
    b, _, h, w = grey.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=grey.dtype), torch.arange(w, dtype=grey.dtype), indexing="ij")
    energies = []
    for d in DISTANCES:
        per_dir = []
        for a in np.arange(N_DIRECTIONS) * np.pi / N_DIRECTIONS:
            gx = (xs + d * float(np.cos(a))) / (w - 1) * 2 - 1
            gy = (ys + d * float(np.sin(a))) / (h - 1) * 2 - 1
            grid = torch.stack([gx, gy], -1)[None].expand(b, -1, -1, -1)
            shifted = F.grid_sample(grey, grid, mode="bilinear", align_corners=True)
            diff = (shifted - grey)[:, :, _MARGIN : h - _MARGIN, _MARGIN : w - _MARGIN]
            per_dir.append(diff.square().mean(dim=(1, 2, 3)))
        energies.append(torch.stack(per_dir, 1).clamp_min(1e-20).log())
    return energies[0] - energies[1]


def _misfits(grey: torch.Tensor, target: torch.Tensor, params: np.ndarray, cancel: CancelToken | None,
             chunk: int = 16) -> np.ndarray:
    # 16 kernels between looks at `cancel`: 64 made Cancel wait 4–6 s on the largest crop
    # (measured on a 400×600 crop, 2 threads: 64 a chunk 6.1 s, 16 a chunk 5.2 s, same fit)
    bank = torch.from_numpy(_x2_kernels(params).astype(np.float32))[:, None]
    out = []
    for i in range(0, len(bank), chunk):
        check_cancel(cancel)
        down = F.conv2d(grey, bank[i : i + chunk])[:, :, ::2, ::2].transpose(0, 1)
        out.append((sharpness_profile(down) - target).square().sum(1))
    return torch.cat(out).double().numpy()


def _coarse_grid() -> np.ndarray:
    sigmas = np.arange(SIGMA_RANGE[0], SIGMA_RANGE[1] + 1e-9, 0.3)
    rows = []
    for i, s1 in enumerate(sigmas):
        for s2 in sigmas[: i + 1]:
            angles = [0.0] if s1 == s2 else np.arange(6) * np.pi / 6
            rows += [(s1, s2, a) for a in angles]
    return np.array(rows)


def _around(center: np.ndarray, d_sigma: float, d_angle: float) -> list[tuple[float, float, float]]:
    rows = []
    for ds1 in (-d_sigma, 0.0, d_sigma):
        for ds2 in (-d_sigma, 0.0, d_sigma):
            for da in (-d_angle, 0.0, d_angle):
                s1 = float(np.clip(center[0] + ds1, *SIGMA_RANGE))
                s2 = float(np.clip(center[1] + ds2, SIGMA_RANGE[0], s1))
                rows.append((round(s1, 6), round(s2, 6), round((center[2] + da) % np.pi, 6)))
    return rows


def fit_kernel(image: np.ndarray, keep: int = 4, cancel: CancelToken | None = None) -> SharpnessFit:
    """Fit the ×2 blur kernel of an LR image (H×W×C or H×W float 0..1; RGB weighted to
    grey, fewer channels: the first) as an anisotropic Gaussian: a coarse grid (σ step 0.3,
    30°: 225 kernels), then refinements around the `keep` best (0.15 / 15°) and around the
    `keep` // 2 best of all (0.075 / 7.5°). Deterministic; 1–2 s for a 256² image, 5–8 s for
    the largest crop (512²) on one core. `cancel` is checked between batches of kernels
    (raises `Cancelled`). An image without texture (flat, black) gets an infinite misfit."""
    with torch.no_grad():
        grey = _grey(image)
        if _neighbour_energy(grey) < _TEXTURELESS:
            return SharpnessFit(gaussian_kernel(SIGMA_RANGE[0], SIGMA_RANGE[0], 0.0), SIGMA_RANGE[0],
                                SIGMA_RANGE[0], 0.0, float("inf"), 0)
        target = sharpness_profile(grey)
        params = _coarse_grid()
        errors = _misfits(grey, target, params, cancel)
        seen = {tuple(np.round(p, 6)) for p in params}
        for d_sigma, d_angle, n_best in ((0.15, np.pi / 12, keep), (0.075, np.pi / 24, max(1, keep // 2))):
            best = params[np.argsort(errors)[:n_best]]
            new = sorted({p for c in best for p in _around(c, d_sigma, d_angle)} - seen)
            if new:
                seen.update(new)
                params = np.concatenate([params, np.array(new)])
                errors = np.concatenate([errors, _misfits(grey, target, np.array(new), cancel)])
    i = int(np.argmin(errors))
    s1, s2, angle = params[i]
    return SharpnessFit(
        kernel=gaussian_kernel(s1, s2, angle),
        sigma_major=float(s1),
        sigma_minor=float(s2),
        angle=float(angle),
        misfit=float(errors[i]),
        candidates=len(params),
    )
