"""VDSR: Kim, Lee, Lee, "Accurate Image Super-Resolution Using Very Deep Convolutional
Networks" (CVPR 2016).

``num_layers`` 3×3 convolutions (paper: 20, 64 maps) with ReLU between them, learning the
residual: output = input + net(input). The input is the bicubic-upscaled image, so one
model serves ×2, ×3 and ×4. Our key layout: ``head`` (first conv), ``body.N``
(the middle convs), ``tail`` (last conv); `detect` renames the ports' keys to it.
With ``mean_shift`` (the EDSR-PyTorch ``vdsr`` model, RGB on 0..255) two 1×1 convs
``sub_mean`` / ``add_mean`` subtract the dataset mean before and add it back after.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class VDSR(nn.Module):
    """VDSR; ``num_channels`` 1 (Y) or 3, ``num_feat`` maps, ``num_layers`` convs in all,
    ``bias`` on the convs (the common port has none), ``mean_shift`` (EDSR-PyTorch)."""

    def __init__(self, num_channels: int = 1, num_feat: int = 64, num_layers: int = 20,
                 bias: bool = False, mean_shift: bool = False):
        super().__init__()
        self.head = nn.Conv2d(num_channels, num_feat, 3, padding=1, bias=bias)
        self.body = nn.ModuleList(
            nn.Conv2d(num_feat, num_feat, 3, padding=1, bias=bias) for _ in range(num_layers - 2)
        )
        self.tail = nn.Conv2d(num_feat, num_channels, 3, padding=1, bias=bias)
        self.mean_shift = mean_shift
        if mean_shift:
            self.sub_mean = nn.Conv2d(num_channels, num_channels, 1)
            self.add_mean = nn.Conv2d(num_channels, num_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean_shift:
            x = self.sub_mean(x)
        out = F.relu(self.head(x))
        for conv in self.body:
            out = F.relu(conv(out))
        out = self.tail(out) + x
        return self.add_mean(out) if self.mean_shift else out
