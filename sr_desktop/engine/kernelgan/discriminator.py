"""KernelGAN's discriminator: a fully convolutional patch discriminator with a 7×7
receptive field that outputs a per-pixel map of "is this a real LR patch" (the D-map)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

D_CHANNELS = 64
D_KERNEL = 7
D_LAYERS = 7  # first 7×7 conv, five 1×1 blocks, final 1×1 conv


class KernelDiscriminator(nn.Module):
    """SN-conv 7×7 (3→64), five [SN-conv 1×1, BatchNorm, ReLU], SN-conv 1×1 (64→1), sigmoid."""

    def __init__(self, channels: int = D_CHANNELS, kernel_size: int = D_KERNEL, n_layers: int = D_LAYERS):
        super().__init__()
        self.first = spectral_norm(nn.Conv2d(3, channels, kernel_size, bias=True))
        blocks = []
        for _ in range(n_layers - 2):
            blocks += [
                spectral_norm(nn.Conv2d(channels, channels, 1, bias=True)),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*blocks)
        self.last = spectral_norm(nn.Conv2d(channels, 1, 1, bias=True))
        self.shave = kernel_size - 1

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Zero conv biases; BatchNorm scale ~ N(1, 0.02), shift 0 (official init).

        The official code also calls Xavier init on the spectral-normalised weights, but
        with spectral norm that touches a derived tensor and has no lasting effect, so the
        conv weights keep PyTorch's default initialisation there too; we do the same.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                with torch.no_grad():
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                with torch.no_grad():
                    m.weight.normal_(1.0, 0.02, generator=generator)
                    m.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.last(self.features(self.first(x))))
