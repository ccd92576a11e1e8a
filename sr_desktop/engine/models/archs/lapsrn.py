"""LapSRN: Lai, Huang, Ahuja, Yang, "Deep Laplacian Pyramid Networks for Fast and Accurate
Super-Resolution" (CVPR 2017).

A pyramid of ×2 levels. Feature branch: a first 3×3 conv, then per level ``depth`` 3×3
convs and a 4×4 stride-2 transposed conv, each followed by leaky ReLU (0.2); a 3×3 conv
turns the level's features into a residual image. Image branch: the previous level's
image is upsampled by a 4×4 stride-2 transposed conv and the residual added. Every level
is an output (×2, ×4, ×8, …), so a ×8 model also gives ×2 and ×4 by stopping early.

Our key layout: ``conv_input``, ``levels.K.features.N`` (convs and the transposed conv at
even N), ``levels.K.image_up``, ``levels.K.residual``. `detect` renames the keys of
twtygqyy/pytorch-LapSRN (``convt_F{k}.0.cov_block.N``, ``convt_I{k}``, ``convt_R{k}``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Level(nn.Module):
    def __init__(self, num_channels: int, num_feat: int, depth: int, bias: bool):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1, bias=bias), nn.LeakyReLU(0.2)]
        layers += [nn.ConvTranspose2d(num_feat, num_feat, 4, stride=2, padding=1, bias=bias), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.image_up = nn.ConvTranspose2d(num_channels, num_channels, 4, stride=2, padding=1, bias=bias)
        self.residual = nn.Conv2d(num_feat, num_channels, 3, padding=1, bias=bias)


class LapSRN(nn.Module):
    """LapSRN with ``num_levels`` ×2 levels (×2**num_levels), ``depth`` convs per level
    (paper port: 10), ``num_feat`` maps (64), ``num_channels`` 1 (Y) or 3, ``bias``."""

    def __init__(self, num_levels: int = 2, depth: int = 10, num_feat: int = 64,
                 num_channels: int = 1, bias: bool = False):
        super().__init__()
        self.conv_input = nn.Conv2d(num_channels, num_feat, 3, padding=1, bias=bias)
        self.levels = nn.ModuleList(_Level(num_channels, num_feat, depth, bias) for _ in range(num_levels))

    def pyramid(self, x: torch.Tensor, levels: int | None = None) -> list[torch.Tensor]:
        """The outputs of the first `levels` levels (all by default): ×2, ×4, …"""
        feat = F.leaky_relu(self.conv_input(x), 0.2)
        image, outputs = x, []
        for level in self.levels[: levels or len(self.levels)]:
            feat = level.features(feat)
            image = level.image_up(image) + level.residual(feat)
            outputs.append(image)
        return outputs

    def forward(self, x: torch.Tensor, levels: int | None = None) -> torch.Tensor:
        """The output of level `levels` (default: the last, the model's full scale)."""
        return self.pyramid(x, levels)[-1]
