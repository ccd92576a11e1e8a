"""ESPCN: Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
Efficient Sub-Pixel Convolutional Neural Network" (CVPR 2016).

On the low-resolution image: conv 5×5 (64), conv 3×3 (32), conv 3×3 (c·r²), then the
sub-pixel (pixel-shuffle) rearrangement to r·H × r·W; tanh after the first two layers as
in the paper. Y channel in the paper. Key layout of yjn870/ESPCN-pytorch:
``first_part.0`` and ``first_part.2`` (convs, activations at 1 and 3), ``last_part.0``.
"""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class ESPCN(nn.Module):
    """ESPCN at ``upscale`` r; ``num_channels`` 1 (Y) or 3; ``activation`` "tanh" (paper)
    or "relu" (some ports); ``n1``/``n2`` feature maps (paper: 64/32)."""

    def __init__(self, upscale: int = 3, num_channels: int = 1, n1: int = 64, n2: int = 32,
                 activation: str = "tanh"):
        super().__init__()
        act = _ACTIVATIONS[activation]
        self.first_part = nn.Sequential(
            nn.Conv2d(num_channels, n1, 5, padding=2), act(),
            nn.Conv2d(n1, n2, 3, padding=1), act(),
        )
        self.last_part = nn.Sequential(
            nn.Conv2d(n2, num_channels * upscale * upscale, 3, padding=1), nn.PixelShuffle(upscale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_part(self.first_part(x))
