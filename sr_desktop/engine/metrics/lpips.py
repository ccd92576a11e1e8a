"""LPIPS, the Learned Perceptual Image Patch Similarity (Zhang, Isola, Efros, Shechtman and
Wang, CVPR 2018), VGG variant, version 0.1: a full-reference distance, lower is closer.

    LPIPS(x, y) = Σ_l mean_hw( w_l · (x̂_l − ŷ_l)² )

with x̂_l the VGG16 features of layer l (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) of the
scaled input, each divided by its channel norm at every pixel (‖·‖ + 1e-10), and w_l the
layer's learned non-negative 1×1 weights (no bias). The input is RGB mapped to [−1, 1], then
scaled per channel as in version 0.1 ((v − shift) / scale, shift = (−.030, −.088, −.188),
scale = (.458, .448, .450)). Weights: torchvision's ImageNet VGG16 and the lpips package's
``weights/v0.1/vgg.pth`` (keys ``lin0.model.1.weight`` … ``lin4.model.1.weight``).
"""

from __future__ import annotations

import os

import torch
from torch import nn

from sr_desktop.engine.metrics.vgg16 import TAP_CHANNELS, frozen_vgg16, vgg16_taps
from sr_desktop.engine.metrics.weight_files import check_layout, read_state_dict

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
#: added to each feature vector's norm, as in the release
NORM_EPS = 1e-10
#: what the weight file is, for error messages
DESCRIPTION = "the lpips package's weights/v0.1/vgg.pth (LPIPS, VGG, v0.1)"
#: the smallest image side: relu5_3 is 1/16 of the input
MIN_SIZE = 16


def lpips_layout() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the lpips package's VGG weight file."""
    return {f"lin{i}.model.1.weight": (1, c, 1, 1) for i, c in enumerate(TAP_CHANNELS)}


def load_lpips_weights(path: str | os.PathLike) -> list[torch.Tensor]:
    """The five checked 1×C×1×1 layer weights of an LPIPS VGG file."""
    checked = check_layout(read_state_dict(path, "LPIPS weights"), lpips_layout(), path, DESCRIPTION)
    return list(checked.values())


def unit_normalize(features: torch.Tensor) -> torch.Tensor:
    """Each pixel's feature vector divided by its L2 norm (+ `NORM_EPS`)."""
    return features / (features.square().sum(dim=1, keepdim=True).sqrt() + NORM_EPS)


class LPIPS(nn.Module):
    """LPIPS (VGG, v0.1) between two batches of RGB images in 0..1 (N×3×H×W -> N)."""

    def __init__(self, vgg16_state: dict[str, torch.Tensor], layer_weights: list[torch.Tensor]):
        super().__init__()
        self.features = frozen_vgg16(vgg16_state)
        self.register_buffer("layer_weights", torch.cat([w.reshape(-1) for w in layer_weights]))
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The distance of each image pair; both batches have the same shape."""
        n = x.shape[0]
        both = (torch.cat([x, y]) * 2.0 - 1.0 - self.shift) / self.scale
        weights = torch.split(self.layer_weights, TAP_CHANNELS)
        total = torch.zeros(n, dtype=both.dtype, device=both.device)
        for w, tap in zip(weights, vgg16_taps(self.features, both), strict=True):
            unit = unit_normalize(tap)
            diff = (unit[:n] - unit[n:]).square()
            total = total + torch.einsum("nchw,c->nhw", diff, w).mean(dim=(1, 2))
        return total

