"""KernelGAN's losses: the L1 GAN loss on D-maps, and the kernel regularisers
(bicubic prior, sum-to-one, boundaries, centre of mass, sparsity), as in the paper."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sr_desktop.engine.kernelgan.kernel_ops import bicubic_kernel_x2


def gan_loss(d_map: torch.Tensor, real: bool) -> torch.Tensor:
    """L1 distance of a D-map to the all-ones (real) or all-zeros (fake) label map."""
    return (1.0 - d_map).abs().mean() if real else d_map.abs().mean()


def bicubic_downscale(x: torch.Tensor, mix_channels: bool = False) -> torch.Tensor:
    """×2 bicubic downscaling of N×3×H×W crops with the 8×8 bicubic kernel (pad 3, stride 2).

    ``mix_channels=True`` reproduces the official code, whose kernel is expanded to
    3×3×8×8 without ``groups``: every output channel is the *sum* of the three bicubic
    downscaled channels. That makes the "bicubic" target about 3× the grey image, so on
    bright or dark images the bicubic loss never drops below the 0.4 trigger.
    """
    k = torch.as_tensor(bicubic_kernel_x2(), dtype=x.dtype, device=x.device)
    c = x.shape[1]
    if mix_channels:
        weight = k.expand(c, c, 8, 8)
        return F.conv2d(x, weight, stride=2, padding=3)
    return F.conv2d(x, k.expand(c, 1, 8, 8), stride=2, padding=3, groups=c)


def shave_to(a: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Crop `a` symmetrically to the spatial size of `like`."""
    dr = (a.shape[-2] - like.shape[-2]) // 2
    dc = (a.shape[-1] - like.shape[-1]) // 2
    return a[..., dr : dr + like.shape[-2], dc : dc + like.shape[-1]]


def bicubic_loss(g_input: torch.Tensor, g_output: torch.Tensor, mix_channels: bool = False) -> torch.Tensor:
    """MSE between G's output and the bicubic downscaling of its input (a prior on k)."""
    target = shave_to(bicubic_downscale(g_input, mix_channels), g_output)
    return F.mse_loss(g_output, target)


def sum_to_one_loss(kernel: torch.Tensor) -> torch.Tensor:
    """|1 - Σk|."""
    return (1.0 - kernel.sum()).abs()


def boundary_mask(size: int, penalty: float = 30.0) -> np.ndarray:
    """penalty·(1 - Gaussian(σ=size)/max) on the outer ring, 0 in the centre (official layout).

    For size 13 the centre (zero) region is rows/columns 2..10, so a 2-tap ring is penalised.
    """
    z = np.arange(-size // 2 + 1, size // 2 + 1, dtype=np.float64)
    g = np.exp(-(z**2) / (2.0 * size**2))
    mask = 1.0 - np.outer(g, g) / np.outer(g, g).max()
    centre = size // 2 + size % 2
    margin = (size - centre) // 2 - 1
    if margin > 0:
        mask[margin:-margin, margin:-margin] = 0.0
    return penalty * mask


def boundaries_loss(kernel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mean |k · M|: pushes the kernel's mass away from its borders."""
    return (kernel * mask).abs().mean()


def wanted_center(size: int, scale: int = 2) -> float:
    """Centre of mass of a kernel aligned for ×scale: size//2 + 0.5·(scale - size%2)."""
    return size // 2 + 0.5 * (scale - size % 2)


def centralized_loss(kernel: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """Mean squared distance of the kernel's centre of mass from the aligned centre."""
    n = kernel.shape[0]
    idx = torch.arange(n, dtype=kernel.dtype, device=kernel.device)
    total = kernel.sum()
    r = (kernel.sum(dim=1) * idx).sum() / total
    c = (kernel.sum(dim=0) * idx).sum() / total
    centre = wanted_center(n, scale)
    return 0.5 * ((r - centre) ** 2 + (c - centre) ** 2)


def sparsity_loss(kernel: torch.Tensor, power: float = 0.2) -> torch.Tensor:
    """mean |k|^0.2: favours few non-zero taps.

    |k| is floored at 1e-12 so a tap that is exactly 0 gets gradient 0 instead of the
    0·∞ = NaN of the plain power (which can poison the whole generator)."""
    return (kernel.abs().clamp_min(1e-12) ** power).mean()
