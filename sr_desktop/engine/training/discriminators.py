"""Discriminators of the adversarial losses.

* `VGGDiscriminator`: SRGAN's / ESRGAN's VGG-style network (Ledig et al. 2017, Fig. 4;
  Wang et al. 2018): pairs of 3×3 convs (the second of stride 2) with batch norm and
  LeakyReLU(0.2), doubling features at every stage, then dense layers 100 -> 1. Global
  average pooling before the dense layers lets it take any patch size (the papers fix
  96² / 128²).
* `UNetDiscriminatorSN`: Real-ESRGAN's U-Net discriminator with spectral normalisation
  (Wang et al., ICCVW 2021, §3.2): a per-pixel realness map, three stride-2 downsampling
  convs, bilinear upsampling with skip connections, two more convs and a 1-channel head.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm


class VGGDiscriminator(nn.Module):
    """VGG-style discriminator of `channels`-channel images, ``num_feat`` first features."""

    def __init__(self, channels: int = 3, num_feat: int = 64, stages: int = 4):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, num_feat, 3, 1, 1), nn.LeakyReLU(0.2, True),
                                   nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False),
                                   nn.BatchNorm2d(num_feat), nn.LeakyReLU(0.2, True)]
        feat = num_feat
        for _ in range(stages - 1):
            layers += [nn.Conv2d(feat, feat * 2, 3, 1, 1, bias=False), nn.BatchNorm2d(feat * 2),
                       nn.LeakyReLU(0.2, True),
                       nn.Conv2d(feat * 2, feat * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(feat * 2),
                       nn.LeakyReLU(0.2, True)]
            feat *= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(feat, 100), nn.LeakyReLU(0.2, True), nn.Linear(100, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One logit per image (N×1)."""
        return self.head(self.features(x).mean(dim=(2, 3)))


class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral norm; one logit per pixel."""

    def __init__(self, channels: int = 3, num_feat: int = 64):
        super().__init__()

        def sn(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Module:
            return spectral_norm(nn.Conv2d(cin, cout, k, stride, 1 if k == 3 or stride == 2 else 0, bias=False))

        f = num_feat
        self.conv0 = nn.Conv2d(channels, f, 3, 1, 1)
        self.down1, self.down2, self.down3 = sn(f, f * 2, 4, 2), sn(f * 2, f * 4, 4, 2), sn(f * 4, f * 8, 4, 2)
        self.up1, self.up2, self.up3 = sn(f * 8, f * 4), sn(f * 4, f * 2), sn(f * 2, f)
        self.conv1, self.conv2 = sn(f, f), sn(f, f)
        self.head = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N×1×H×W logits (H, W multiples of 8)."""
        def act(t: torch.Tensor) -> torch.Tensor:
            return F.leaky_relu(t, 0.2)

        x0 = act(self.conv0(x))
        x1 = act(self.down1(x0))
        x2 = act(self.down2(x1))
        x3 = act(self.down3(x2))

        def up(t: torch.Tensor, conv: nn.Module, skip: torch.Tensor) -> torch.Tensor:
            t = F.interpolate(t, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            return act(conv(t)) + skip

        y = up(x3, self.up1, x2)
        y = up(y, self.up2, x1)
        y = up(y, self.up3, x0)
        return self.head(act(self.conv2(act(self.conv1(y)))))


DISCRIMINATORS = {"vgg": VGGDiscriminator, "unet": UNetDiscriminatorSN}
