"""MDSR: the multi-scale deep SR network of the EDSR paper (Lim et al., CVPRW 2017).

One network for ×2, ×3 and ×4: a shared conv head, a per-scale pre-processing module
(two residual blocks with 5×5 convolutions), a shared body of residual blocks with a conv
and a global skip, a per-scale pixel-shuffle upsampler and a shared conv to RGB. The
released MDSR has 80 blocks of 64 features (baseline: 16); the residuals are not scaled.
Inputs and outputs follow EDSR's convention (`edsr.RangeNorm`, 0..255 with DIV2K's mean).

Key names of the module: ``conv_first``, ``pre_process.I.{0,1}.conv1/conv2``,
``body.N.conv1/conv2``, ``conv_after_body``, ``upsample.I.{0,2}``, ``conv_last``;
EDSR-PyTorch's layout (``head.0``, ``pre_process.I.J.body.0/2``, ``body.N.body.0/2``,
``body.{num_block}``, ``upsample.I.*``, ``tail.0``, ``sub_mean`` / ``add_mean``) is renamed
to these by `archs.detect`.
"""

from __future__ import annotations

import torch
from torch import nn

from sr_desktop.engine.models.archs.edsr import RGB_MEAN_DIV2K, RangeNorm, ResBlock, pixel_shuffle_upsampler


class MDSR(nn.Module):
    """MDSR (Lim et al., 2017), run at one of its scales.

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (64).
        num_block: shared residual blocks (80 released, 16 baseline).
        scales: the scale of each pre-process/upsample branch, in state-dict order.
        upscale: the branch to run (one of `scales`); `set_scale` changes it later.
        rgb_range, rgb_mean: as in `edsr.EDSR`.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 scales: tuple[int, ...] = (2, 3, 4), upscale: int = 4, rgb_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        super().__init__()
        self.scales = tuple(int(s) for s in scales)
        self.norm = RangeNorm(rgb_range, rgb_mean)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.pre_process = nn.ModuleList(
            nn.Sequential(ResBlock(num_feat, kernel_size=5), ResBlock(num_feat, kernel_size=5))
            for _ in self.scales
        )
        self.body = nn.Sequential(*(ResBlock(num_feat) for _ in range(num_block)))
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.upsample = nn.ModuleList(pixel_shuffle_upsampler(num_feat, s) for s in self.scales)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.set_scale(upscale)

    def set_scale(self, scale: int) -> None:
        """Run the branch of `scale` from now on (ValueError if the network has none)."""
        if int(scale) not in self.scales:
            raise ValueError(f"this MDSR has scales {list(self.scales)}, not ×{scale}")
        self.upscale = int(scale)
        self._branch = self.scales.index(self.upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.pre_process[self._branch](self.conv_first(self.norm.forward_in(x)))
        feat = feat + self.conv_after_body(self.body(feat))
        return self.norm.forward_out(self.conv_last(self.upsample[self._branch](feat)))
