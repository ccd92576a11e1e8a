"""Random weight files in the layouts of the real ones (torchvision VGG16, lpips v0.1 VGG,
DISTS weights.pt), and a VGG16 forward written from the paper for the reference checks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

VGG16_CONVS = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
               (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
#: torchvision's index of each conv in ``features`` (a ReLU after each, pools at 4, 9, 16, 23, 30)
VGG16_CONV_INDICES = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
#: convs per block
VGG16_BLOCK_SIZES = [2, 2, 3, 3, 3]


def random_vgg16_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the keys and shapes of torchvision's vgg16-397923af.pth.

    He-normal convs keep the activations of 13 layers near unit scale; the classifier is
    a small stand-in of the right key names (the metrics ignore it), not its 500 MB.
    """
    g = torch.Generator().manual_seed(seed)
    state = {}
    for index, (cin, cout) in zip(VGG16_CONV_INDICES, VGG16_CONVS, strict=True):
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * math.sqrt(2.0 / (9 * cin))
        state[f"features.{index}.bias"] = torch.randn(cout, generator=g) * 0.05
    state["classifier.0.weight"] = torch.zeros(4, 4)
    state["classifier.6.bias"] = torch.zeros(4)
    return state


def random_lpips_state(seed: int = 1) -> dict[str, torch.Tensor]:
    """Non-negative 1×C×1×1 layer weights under the lpips package's key names."""
    g = torch.Generator().manual_seed(seed)
    return {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) * 0.1
            for i, c in enumerate((64, 128, 256, 512, 512))}


def random_dists_state(seed: int = 2) -> dict[str, torch.Tensor]:
    """alpha and beta of DISTS's weights.pt (1×1475×1×1 each), around 0.1 as its initialisation."""
    g = torch.Generator().manual_seed(seed)
    return {"alpha": 0.1 + 0.02 * torch.rand(1, 1475, 1, 1, generator=g),
            "beta": 0.1 + 0.02 * torch.rand(1, 1475, 1, 1, generator=g)}


def reference_vgg16_taps(state: dict[str, torch.Tensor], x: torch.Tensor, pool) -> list[torch.Tensor]:
    """relu1_2 … relu5_3 of `x` in float64: 3×3 convs with padding 1 and ReLU, `pool(x)` between blocks."""
    taps, conv = [], 0
    h = x.double()
    for block, n in enumerate(VGG16_BLOCK_SIZES):
        if block:
            h = pool(h)
        for _ in range(n):
            index = VGG16_CONV_INDICES[conv]
            h = F.relu(F.conv2d(h, state[f"features.{index}.weight"].double(),
                                state[f"features.{index}.bias"].double(), padding=1))
            conv += 1
        taps.append(h)
    return taps
