"""SRResNet, the SRGAN generator (Ledig et al., CVPR 2017), and BasicSR's MSRResNet.

`SRResNet` is the paper's network: a 9×9 conv + PReLU, ``num_block`` (16) residual blocks
conv-BN-PReLU-conv-BN, a conv + BN after the blocks with a skip from the first conv,
sub-pixel ×2 stages (conv to 4·C channels, PixelShuffle(2), PReLU; one ×3 stage for ×3)
and a 9×9 conv to RGB. It takes and returns RGB 0..1. Key names are those of the most
used PyTorch port with released weights (Lornatang/SRGAN-PyTorch ``SRResNet_x4-*.pth``,
``SRGAN_x4-*.pth``): ``conv1.0/1``, ``trunk.N.rcb.0..4``, ``conv2.0/1``,
``upsampling.K.upsample_block.0/2``, ``conv3``. That port clamps its output to 0..1; this
module does not (the engine clamps the final image).

`MSRResNet` is BasicSR's "modified SRResNet" (Wang et al., the ESRGAN authors' baseline):
no batch norm, 3×3 convs, LeakyReLU(0.1), EDSR's residual blocks, and the
bilinearly upsampled input added to the output. Keys: ``conv_first``,
``body.N.conv1/conv2``, ``upconv1`` (``upconv2`` for ×4), ``conv_hr``, ``conv_last``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.models.archs.edsr import ResBlock, upsample_stages


class BNResBlock(nn.Module):
    """SRGAN's residual block: ``x + BN(conv(PReLU(BN(conv(x)))))`` (convs without bias)."""

    def __init__(self, num_feat: int, prelu_channels: int = 1):
        super().__init__()
        self.rcb = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.BatchNorm2d(num_feat),
            nn.PReLU(prelu_channels),
            nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.BatchNorm2d(num_feat),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rcb(x)


class SubPixelStage(nn.Module):
    """Conv to ``r²·C`` channels, PixelShuffle(r), PReLU (``upsample_block.0`` / ``.2``)."""

    def __init__(self, num_feat: int, r: int, prelu_channels: int = 1):
        super().__init__()
        self.upsample_block = nn.Sequential(
            nn.Conv2d(num_feat, num_feat * r * r, 3, 1, 1), nn.PixelShuffle(r), nn.PReLU(prelu_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample_block(x)


class SRResNet(nn.Module):
    """SRResNet / SRGAN generator (Ledig et al., 2017).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (64).
        num_block: residual blocks (16).
        upscale: 2, 3, 4 or 8 (×2 stages, or one ×3 stage).
        prelu_channels: PReLU parameters (1 shared slope, as the port; or num_feat).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16,
                 upscale: int = 4, prelu_channels: int = 1):
        super().__init__()
        self.upscale = upscale
        self.conv1 = nn.Sequential(nn.Conv2d(num_in_ch, num_feat, 9, 1, 4), nn.PReLU(prelu_channels))
        self.trunk = nn.Sequential(*(BNResBlock(num_feat, prelu_channels) for _ in range(num_block)))
        self.conv2 = nn.Sequential(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False), nn.BatchNorm2d(num_feat))
        self.upsampling = nn.Sequential(
            *(SubPixelStage(num_feat, r, prelu_channels) for r in upsample_stages(upscale)))
        self.conv3 = nn.Conv2d(num_feat, num_out_ch, 9, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.conv1(x)
        feat = head + self.conv2(self.trunk(head))
        return self.conv3(self.upsampling(feat))


class MSRResNet(nn.Module):
    """BasicSR's modified SRResNet (no BN, LeakyReLU 0.1, bilinear skip).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (64).
        num_block: residual blocks (16).
        upscale: 2, 3 (one sub-pixel stage) or 4 (two ×2 stages).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64,
                 num_block: int = 16, upscale: int = 4):
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError(f"MSRResNet supports ×2, ×3 and ×4, not ×{upscale}")
        self.upscale = upscale
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResBlock(num_feat) for _ in range(num_block)))
        r = 2 if upscale == 4 else upscale
        self.upconv1 = nn.Conv2d(num_feat, num_feat * r * r, 3, 1, 1)
        if upscale == 4:
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(r)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.body(F.leaky_relu(self.conv_first(x), 0.1))
        for up in (self.upconv1, getattr(self, "upconv2", None)):
            if up is not None:
                feat = F.leaky_relu(self.pixel_shuffle(up(feat)), 0.1)
        out = self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.1))
        return out + F.interpolate(x, scale_factor=self.upscale, mode="bilinear", align_corners=False)
