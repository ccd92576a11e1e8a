"""RCAN: Residual Channel Attention Networks (Zhang, Li, Li, Wang, Zhong, Fu; ECCV 2018).

Residual-in-residual: a conv head, ``num_group`` residual groups (each ``num_block``
residual channel-attention blocks and a conv, with a skip around the group), a conv after
the groups with a long skip from the head, EDSR's pixel-shuffle upsampler and a conv to
RGB (`edsr.Skeleton` around RCAN's body). A block is conv-ReLU-conv followed by channel
attention: global average pooling, a 1×1 conv down to ``num_feat // squeeze_factor``
channels, ReLU, a 1×1 conv back, sigmoid, and the features multiplied by that per-channel
weight. The published network has 10 groups of 20 blocks, 64 features, reduction 16, and
runs on 0..255 images minus DIV2K's mean (`edsr.RangeNorm`).

The global pooling makes every output pixel depend on the whole input, so tiles are not
exactly independent (see the RCAN entry of `archs.detect`).

Key names of the module (BasicSR's ``RCAN``): ``conv_first``,
``body.G.residual_group.B.rcab.0/2`` (convs), ``body.G.residual_group.B.rcab.3.attention.1/3``
(the attention's 1×1 convs), ``body.G.conv``, ``conv_after_body``, ``upsample.0/2``,
``conv_last``. The official / EDSR-PyTorch layout of the released ``RCAN_BIX*.pt`` files is
renamed to these by `archs.detect`.
"""

from __future__ import annotations

import torch
from torch import nn

from sr_desktop.engine.models.archs.edsr import RGB_MEAN_DIV2K, Skeleton


class ChannelAttention(nn.Module):
    """``x * sigmoid(W2 relu(W1 mean_hw(x)))`` with 1×1 convs W1, W2 (``attention.1/3``)."""

    def __init__(self, num_feat: int, squeeze_factor: int = 16):
        super().__init__()
        squeezed = num_feat // squeeze_factor
        # indices 1 and 3 are the published key names (0 pool, 2 ReLU, 4 sigmoid)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(num_feat, squeezed, 1), nn.ReLU(),
            nn.Conv2d(squeezed, num_feat, 1), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class RCAB(nn.Module):
    """Residual channel-attention block: ``x + res_scale * CA(conv(relu(conv(x))))``."""

    def __init__(self, num_feat: int, squeeze_factor: int = 16, res_scale: float = 1.0):
        super().__init__()
        self.res_scale = res_scale
        self.rcab = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.ReLU(), nn.Conv2d(num_feat, num_feat, 3, 1, 1),
            ChannelAttention(num_feat, squeeze_factor),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rcab(x) * self.res_scale


class ResidualGroup(nn.Module):
    """``num_block`` RCABs and a conv, with a skip around them."""

    def __init__(self, num_feat: int, num_block: int, squeeze_factor: int = 16, res_scale: float = 1.0):
        super().__init__()
        self.residual_group = nn.Sequential(
            *(RCAB(num_feat, squeeze_factor, res_scale) for _ in range(num_block)))
        self.conv = nn.Conv2d(num_feat, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.residual_group(x))


class RCAN(Skeleton):
    """RCAN (Zhang et al., 2018).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (64).
        num_group: residual groups (10).
        num_block: RCABs per group (20).
        squeeze_factor: channel-attention reduction (16).
        upscale: 2, 3, 4 or 8.
        res_scale: residual scaling inside the blocks (1; the official code ignores it).
        rgb_range, rgb_mean: as in `edsr.EDSR` (255 and DIV2K's mean for the released files).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_group: int = 10,
                 num_block: int = 20, squeeze_factor: int = 16, upscale: int = 4, res_scale: float = 1.0,
                 rgb_range: float = 255.0, rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        body = nn.Sequential(*(ResidualGroup(num_feat, num_block, squeeze_factor, res_scale)
                               for _ in range(num_group)))
        super().__init__(body, num_in_ch, num_out_ch, num_feat, upscale, rgb_range, rgb_mean)
