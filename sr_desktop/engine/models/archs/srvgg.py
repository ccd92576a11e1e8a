"""SRVGGNetCompact: the compact Real-ESRGAN network (realesr-animevideov3,
realesr-general-x4v3 and many community models).

A plain stack of 3×3 convolutions with PReLU activations, a last convolution to
``num_out_ch * scale**2`` channels, pixel-shuffle, plus the nearest-upsampled input.
Keys: ``body.0`` (first conv), ``body.1`` (PReLU), ``body.2``, ``body.3``, ..., and the
last conv at ``body.{2 * num_conv + 2}``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SRVGGNetCompact(nn.Module):
    """Compact VGG-style SR network (PReLU activations)."""

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
    ):
        super().__init__()
        self.upscale = upscale
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(upscale)

    @property
    def scale(self) -> int:
        return self.upscale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = self.upsampler(out)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")
