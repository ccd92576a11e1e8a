"""RDN: Residual Dense Network (Zhang, Tian, Kong, Zhong, Fu; CVPR 2018).

Shallow features (two 3×3 convs, the first one's output kept for a global skip), ``D``
residual dense blocks in a chain — each has ``C`` densely connected 3×3 conv+ReLU layers
that add ``G`` channels apiece to the running concatenation, a 1×1 local fusion back to
``G0`` channels and a local skip — then global fusion of all block outputs (1×1 conv over
their concatenation, 3×3 conv) plus the global skip, and a pixel-shuffle upsampler on
``G`` channels followed by a conv to RGB. The paper's network: D=16, C=8, G=64, G0=64;
EDSR-PyTorch's configuration A: D=20, C=6, G=32.

No mean is subtracted; the network sees the image scaled to ``rgb_range`` (255 in
EDSR-PyTorch, whose layout this module keeps: ``SFENet1/2``, ``RDBs.N.convs.M.conv.0``,
``RDBs.N.LFF``, ``GFF.0/1``, ``UPNet.0/2`` (``UPNet.0/2/4`` for ×4)).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class DenseLayer(nn.Module):
    """A 3×3 conv + ReLU whose ``G`` output channels are appended to its input."""

    def __init__(self, in_ch: int, growth: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_ch, growth, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, F.relu(self.conv(x))), 1)


class RDB(nn.Module):
    """Residual dense block: ``x + LFF(dense layers(x))``."""

    def __init__(self, g0: int, growth: int, num_layers: int):
        super().__init__()
        self.convs = nn.Sequential(*(DenseLayer(g0 + i * growth, growth) for i in range(num_layers)))
        self.LFF = nn.Conv2d(g0 + num_layers * growth, g0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.LFF(self.convs(x))


class RDN(nn.Module):
    """RDN (Zhang et al., 2018).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        g0: feature channels between blocks (G0 = 64).
        num_blocks: residual dense blocks (D: 16 in the paper, 20 in configuration A).
        num_layers: conv layers per block (C: 8, or 6).
        growth: channels each layer adds (G: 64, or 32); also the upsampler's width.
        upscale: 2, 3 or 4.
        rgb_range: the pixel range the network was trained on (255 in EDSR-PyTorch).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, g0: int = 64, num_blocks: int = 16,
                 num_layers: int = 8, growth: int = 64, upscale: int = 4, rgb_range: float = 255.0):
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError(f"RDN supports ×2, ×3 and ×4, not ×{upscale}")
        self.upscale = upscale
        self.rgb_range = float(rgb_range)
        self.SFENet1 = nn.Conv2d(num_in_ch, g0, 3, 1, 1)
        self.SFENet2 = nn.Conv2d(g0, g0, 3, 1, 1)
        self.RDBs = nn.ModuleList(RDB(g0, growth, num_layers) for _ in range(num_blocks))
        self.GFF = nn.Sequential(nn.Conv2d(num_blocks * g0, g0, 1), nn.Conv2d(g0, g0, 3, 1, 1))
        stages = [2, 2] if upscale == 4 else [upscale]
        layers: list[nn.Module] = []
        width = g0
        for r in stages:
            layers += [nn.Conv2d(width, growth * r * r, 3, 1, 1), nn.PixelShuffle(r)]
            width = growth
        layers.append(nn.Conv2d(growth, num_out_ch, 3, 1, 1))
        self.UPNet = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shallow = self.SFENet1(x * self.rgb_range)
        feat = self.SFENet2(shallow)
        outs = []
        for block in self.RDBs:
            feat = block(feat)
            outs.append(feat)
        feat = self.GFF(torch.cat(outs, 1)) + shallow
        return self.UPNet(feat) / self.rgb_range
