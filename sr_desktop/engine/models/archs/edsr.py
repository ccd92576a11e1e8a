"""EDSR: Enhanced Deep Residual Networks (Lim, Son, Kim, Nah, Lee; CVPRW 2017).

A conv head, ``num_block`` residual blocks without batch norm (conv-ReLU-conv, the
residual scaled by ``res_scale``), a conv after the blocks with a global skip from the
head, a pixel-shuffle upsampler (two ×2 stages for ×4, one ×3 stage for ×3) and a conv
to RGB. The network works on ``(x - rgb_mean) * rgb_range`` and maps its output back with
``y / rgb_range + rgb_mean``, so `EDSR` takes and returns RGB 0..1 like every model here.

Published configurations: baseline (16 blocks, 64 features, res_scale 1) and full
(32 blocks, 256 features, res_scale 0.1), both trained on DIV2K with rgb_range 255.

Key names of the module (BasicSR's ``EDSR``): ``conv_first``, ``body.N.conv1/conv2``,
``conv_after_body``, ``upsample.0`` (``.2`` for the second ×2 stage), ``conv_last``.
EDSR-PyTorch's layout (``head.0``, ``body.N.body.0/2``, ``body.{num_block}``,
``tail.0.0/2``, ``tail.1`` and the ``sub_mean`` / ``add_mean`` 1×1 convs) is renamed to
these by `archs.detect`.

The building blocks here (`ResBlock`, `pixel_shuffle_upsampler`, `RangeNorm`, `Skeleton`)
are shared with MDSR, RCAN and the SRResNets.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: the DIV2K training-set mean that EDSR-PyTorch and BasicSR subtract
RGB_MEAN_DIV2K = (0.4488, 0.4371, 0.4040)


class ResBlock(nn.Module):
    """EDSR's residual block: ``x + res_scale * conv2(relu(conv1(x)))``, no batch norm."""

    def __init__(self, num_feat: int, res_scale: float = 1.0, kernel_size: int = 3):
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, kernel_size, 1, kernel_size // 2)
        self.conv2 = nn.Conv2d(num_feat, num_feat, kernel_size, 1, kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x))) * self.res_scale


def upsample_stages(scale: int) -> list[int]:
    """The pixel-shuffle factors of EDSR's upsampler: ``[2] * log2(scale)`` or ``[3]``."""
    if scale == 3:
        return [3]
    if scale >= 2 and scale & (scale - 1) == 0:
        return [2] * int(math.log2(scale))
    raise ValueError(f"EDSR-style upsampler supports ×3 and powers of two, not ×{scale}")


def pixel_shuffle_upsampler(num_feat: int, scale: int) -> nn.Sequential:
    """Conv to ``r²·num_feat`` channels + PixelShuffle(r) per stage (convs at even indices)."""
    layers: list[nn.Module] = []
    for r in upsample_stages(scale):
        layers += [nn.Conv2d(num_feat, r * r * num_feat, 3, 1, 1), nn.PixelShuffle(r)]
    return nn.Sequential(*layers)


class RangeNorm(nn.Module):
    """The input/output convention of networks trained on mean-subtracted 0..255 images.

    ``forward_in(x) = (x - rgb_mean) * rgb_range`` and ``forward_out(y) = y / rgb_range +
    rgb_mean``; no state-dict entries (the mean is a non-persistent buffer).
    """

    def __init__(self, rgb_range: float = 255.0, rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        super().__init__()
        self.rgb_range = float(rgb_range)
        self.register_buffer("mean", torch.tensor(rgb_mean, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)

    def forward_in(self, x: torch.Tensor) -> torch.Tensor:
        """RGB 0..1 -> the network's input range."""
        return (x - self.mean.to(x.dtype)) * self.rgb_range

    def forward_out(self, y: torch.Tensor) -> torch.Tensor:
        """The network's output range -> RGB 0..1."""
        return y / self.rgb_range + self.mean.to(y.dtype)


class Skeleton(nn.Module):
    """EDSR's outer network around a given body: head conv, body plus a conv with a long
    skip from the head, `pixel_shuffle_upsampler`, conv to RGB, in `RangeNorm`'s units.
    EDSR and RCAN differ only in their bodies."""

    def __init__(self, body: nn.Module, num_in_ch: int, num_out_ch: int, num_feat: int, upscale: int,
                 rgb_range: float, rgb_mean: tuple[float, ...]):
        super().__init__()
        self.upscale = upscale
        self.norm = RangeNorm(rgb_range, rgb_mean)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = body
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = pixel_shuffle_upsampler(num_feat, upscale)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(self.norm.forward_in(x))
        feat = feat + self.conv_after_body(self.body(feat))
        return self.norm.forward_out(self.conv_last(self.upsample(feat)))


class EDSR(Skeleton):
    """EDSR (Lim et al., 2017).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (64 baseline, 256 full).
        num_block: residual blocks (16 baseline, 32 full).
        upscale: 2, 3 or 4 (any power of two).
        res_scale: residual scaling (1 baseline, 0.1 full).
        rgb_range: the pixel range the network was trained on (255 for the released weights).
        rgb_mean: the mean subtracted before the network, in 0..1 units (DIV2K's).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 upscale: int = 4, res_scale: float = 1.0, rgb_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        body = nn.Sequential(*(ResBlock(num_feat, res_scale) for _ in range(num_block)))
        super().__init__(body, num_in_ch, num_out_ch, num_feat, upscale, rgb_range, rgb_mean)
