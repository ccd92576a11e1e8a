"""FSRCNN: Dong, Loy, Tang, "Accelerating the Super-Resolution Convolutional Neural
Network" (ECCV 2016).

On the low-resolution image: feature extraction 5×5 (d maps), shrinking 1×1 (s maps),
m mapping layers 3×3 (s maps), expanding 1×1 (d maps), each followed by a PReLU; then a
9×9 deconvolution with stride = scale gives exactly s·H × s·W. Y channel in the paper.
The scale is the deconvolution's stride, which a checkpoint does not record.

Key layout of yjn870/FSRCNN-pytorch (the most used port): ``first_part.0`` (conv),
``first_part.1`` (PReLU), ``mid_part.{0,2,..}`` convs with PReLUs at the odd indices,
``last_part`` (the deconvolution).
"""

from __future__ import annotations

import torch
from torch import nn


class FSRCNN(nn.Module):
    """FSRCNN(d, s, m) at ``upscale``; ``num_channels`` 1 (Y) or 3 (RGB)."""

    def __init__(self, upscale: int = 3, num_channels: int = 1, d: int = 56, s: int = 12, m: int = 4):
        super().__init__()
        self.first_part = nn.Sequential(nn.Conv2d(num_channels, d, 5, padding=2), nn.PReLU(d))
        mid: list[nn.Module] = [nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            mid += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        mid += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.mid_part = nn.Sequential(*mid)
        # padding 4 and output_padding scale-1: (H-1)·s - 8 + 9 + s-1 = s·H exactly
        self.last_part = nn.ConvTranspose2d(d, num_channels, 9, stride=upscale, padding=4,
                                            output_padding=upscale - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_part(self.mid_part(self.first_part(x)))
