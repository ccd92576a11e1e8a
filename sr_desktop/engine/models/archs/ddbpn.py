"""D-DBPN: Dense Deep Back-Projection Networks (Haris, Shakhnarovich, Ukita; CVPR 2018).

Shallow features (a 3×3 conv to ``n0`` channels and a 1×1 conv to ``nr``, each with a
PReLU), then ``depth`` up-projection units alternating with ``depth - 1`` down-projection
units. An up-projection maps low-resolution features L to high-resolution ones:

    H0 = up(L),  L0 = down(H0),  H1 = up(L0 - L),  output H0 + H1

and a down-projection is the same with the roles swapped (the back-projected error is
projected again and added). ``up`` is a transposed convolution and ``down`` a strided
convolution of kernel 6 / 8 / 12, stride 2 / 4 / 8, padding 2 for ×2 / ×4 / ×8, each followed
by a PReLU. Dense connections: every unit sees the concatenation of all earlier units'
outputs of the other resolution, squeezed to ``nr`` channels by a 1×1 conv + PReLU (the
first two up-units and the first down-unit see one unit's output and need none). The
reconstruction is a 3×3 conv over the concatenation of all up-units' outputs.

The paper's D-DBPN: n0 = 256, nr = 64, T = 7 up-units; EDSR-PyTorch's ``ddbpn``: n0 = 128,
nr = 32, 6 up-units, PReLUs with one weight per channel, the image in 0..255 minus DIV2K's
mean (its ``sub_mean`` / ``add_mean``), which `RangeNorm` applies here.

Key names of the module: ``conv_first`` / ``act_first``, ``conv_reduce`` / ``act_reduce``,
``up.I`` and ``down.I`` (each ``squeeze`` / ``squeeze_act`` when dense, ``proj1..3`` /
``act1..3``), ``conv_last``; dense inputs are concatenated oldest unit first. EDSR-PyTorch's
names (``initial.0..3``, ``upmodules.I.bottleneck.0/1``, ``upmodules.I.conv_1.0/1``…,
``reconstruction.0``) and the official release's (``feat0/1``, ``upK.up_conv1.deconv``,
``downK.conv.conv``…, ``output_conv``; newest unit first, 0..1 without a mean, one PReLU
weight per layer) are renamed to these by `archs.detect`.
"""

from __future__ import annotations

import torch
from torch import nn

from sr_desktop.engine.models.archs.edsr import RGB_MEAN_DIV2K, RangeNorm

#: (kernel, stride, padding) of the projection convolutions for each scale (the paper's §4.1)
PROJECTION = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}


def _projection_conv(c_in: int, c_out: int, scale: int, up: bool) -> nn.Module:
    kernel, stride, padding = PROJECTION[scale]
    cls = nn.ConvTranspose2d if up else nn.Conv2d
    return cls(c_in, c_out, kernel, stride, padding)


class Projection(nn.Module):
    """One up- (``up=True``) or down-projection unit, with the dense 1×1 squeeze when
    ``dense`` (its input then has ``in_ch`` channels; without it, ``nr``)."""

    def __init__(self, in_ch: int, nr: int, scale: int, up: bool, dense: bool, prelu_channels: bool = True):
        super().__init__()
        act = (lambda: nn.PReLU(nr)) if prelu_channels else (lambda: nn.PReLU())
        self.squeeze = nn.Conv2d(in_ch, nr, 1) if dense else None
        self.squeeze_act = act() if dense else None
        self.proj1, self.act1 = _projection_conv(nr, nr, scale, up), act()
        self.proj2, self.act2 = _projection_conv(nr, nr, scale, not up), act()
        self.proj3, self.act3 = _projection_conv(nr, nr, scale, up), act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.squeeze is not None:
            x = self.squeeze_act(self.squeeze(x))
        first = self.act1(self.proj1(x))
        back = self.act2(self.proj2(first))
        return first + self.act3(self.proj3(back - x))


class DDBPN(nn.Module):
    """D-DBPN (Haris et al., 2018).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        n0: channels of the first 3×3 conv (256 in the paper, 128 in EDSR-PyTorch).
        nr: channels of every projection unit (64, or 32).
        depth: up-projection units T (7, or 6); there are ``depth - 1`` down-units.
        upscale: 2, 4 or 8 (the projection kernels are made for these).
        prelu_channels: one PReLU weight per channel (EDSR-PyTorch) or one per layer.
        rgb_range, rgb_mean: the pixel range and the mean (0..1 units) the network works in
            (EDSR-PyTorch: 255 and DIV2K's mean).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, n0: int = 128, nr: int = 32, depth: int = 6,
                 upscale: int = 4, prelu_channels: bool = True, rgb_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        super().__init__()
        if upscale not in PROJECTION:
            raise ValueError(f"D-DBPN supports ×2, ×4 and ×8, not ×{upscale}")
        if depth < 2:
            raise ValueError("D-DBPN needs at least two up-projection units")
        self.upscale = upscale
        self.norm = RangeNorm(rgb_range, rgb_mean)
        self.conv_first = nn.Conv2d(num_in_ch, n0, 3, 1, 1)
        self.act_first = nn.PReLU(n0) if prelu_channels else nn.PReLU()
        self.conv_reduce = nn.Conv2d(n0, nr, 1)
        self.act_reduce = nn.PReLU(nr) if prelu_channels else nn.PReLU()
        # up-unit i sees the i down-units before it (the first one sees the shallow features);
        # down-unit i sees the i + 1 up-units before it
        self.up = nn.ModuleList(Projection(max(i, 1) * nr, nr, upscale, True, i > 1, prelu_channels)
                                for i in range(depth))
        self.down = nn.ModuleList(Projection((i + 1) * nr, nr, upscale, False, i > 0, prelu_channels)
                                  for i in range(depth - 1))
        self.conv_last = nn.Conv2d(depth * nr, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.act_reduce(self.conv_reduce(self.act_first(self.conv_first(self.norm.forward_in(x)))))
        highs: list[torch.Tensor] = []
        lows: list[torch.Tensor] = []
        for i, up in enumerate(self.up):
            highs.append(up(torch.cat(lows, 1) if lows else feat))
            if i < len(self.down):
                lows.append(self.down[i](torch.cat(highs, 1)))
        return self.norm.forward_out(self.conv_last(torch.cat(highs, 1)))
