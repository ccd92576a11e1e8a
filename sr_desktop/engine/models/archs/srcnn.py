"""SRCNN: Dong, Loy, He, Tang, "Image Super-Resolution Using Deep Convolutional Networks"
(ECCV 2014, TPAMI 2016).

Three convolutions — patch extraction f1×f1 (n1 maps), non-linear mapping f2×f2 (n2 maps),
reconstruction f3×f3 — with ReLU after the first two. The network does not change the
size: its input is the bicubic-upscaled image, so one checkpoint serves any scale it was
trained for. The paper works on the Y channel (``num_channels=1``); 3 channels is RGB.
Keys of the common PyTorch ports: ``conv1``, ``conv2``, ``conv3`` (weights and biases).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SRCNN(nn.Module):
    """SRCNN 9-1-5 (``f2=1``) or 9-5-5 (``f2=5``); "same" padding keeps the size.

    Args: ``num_channels`` (1 = Y, 3 = RGB), ``n1``/``n2`` feature maps of the first two
    layers (paper: 64/32), ``f1``/``f2``/``f3`` kernel sizes (paper: 9, 1 or 5, 5).
    """

    def __init__(self, num_channels: int = 1, n1: int = 64, n2: int = 32,
                 f1: int = 9, f2: int = 5, f3: int = 5):
        super().__init__()
        self.conv1 = nn.Conv2d(num_channels, n1, f1, padding=f1 // 2)
        self.conv2 = nn.Conv2d(n1, n2, f2, padding=f2 // 2)
        self.conv3 = nn.Conv2d(n2, num_channels, f3, padding=f3 // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.conv3(x)
