"""VGG16's convolutional ``features`` (Simonyan & Zisserman 2015), the trunk of LPIPS and DISTS.

Built here with torchvision's layout (``features.N``: conv, ReLU, …, max-pool), so that
torchvision's ImageNet file ``vgg16-397923af.pth`` loads into it without torchvision. Only
layers 0–29 are built (up to relu5_3; the last pool and the classifier are not used), and the
pooling layers can be replaced (DISTS uses L2 pooling). The weights come from a file the user
gives, else from torch's hub cache where torchvision keeps its downloads; nothing is ever
downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.weight_files import Shape, check_layout, read_state_dict

#: features per conv of each block; a pool ends each block
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
TORCHVISION_FILE = "vgg16-397923af.pth"
TORCHVISION_URL = f"https://download.pytorch.org/models/{TORCHVISION_FILE}"
#: indices in ``features`` of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (what LPIPS and DISTS read)
TAP_INDICES = (3, 8, 15, 22, 29)
#: channels at those taps
TAP_CHANNELS = (64, 128, 256, 512, 512)
DESCRIPTION = f"torchvision's ImageNet VGG16 ({TORCHVISION_FILE})"


def vgg16_features(pool: Callable[[int], nn.Module] | None = None) -> nn.Sequential:
    """Layers 0–29 of VGG16's ``features`` (random weights); `pool(channels)` makes each pool.

    The default pool is torchvision's 2×2 max-pool of stride 2.
    """
    layers: list[nn.Module] = []
    cin = 3
    for b, block in enumerate(VGG16_BLOCKS):
        if b:
            layers.append(pool(cin) if pool else nn.MaxPool2d(2, 2))
        for cout in block:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
            cin = cout
    return nn.Sequential(*layers)


def vgg16_layout() -> dict[str, Shape]:
    """The keys and shapes of the ``features`` tensors of torchvision's VGG16 file."""
    return {f"features.{key}": tuple(t.shape)
            for key, t in vgg16_features().state_dict().items()}


def find_vgg16_weights(given: str | os.PathLike | None = None) -> Path:
    """The VGG16 file to use: `given`, else torchvision's file in torch's hub cache."""
    if given:
        return Path(given)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    if cached.is_file():
        return cached
    raise EvaluationError(
        f"LPIPS and DISTS need {DESCRIPTION}: pass --vgg16 FILE or put the file in {cached.parent} "
        f"(it is {TORCHVISION_URL}; nothing is downloaded)")


def load_vgg16_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The checked ``features`` tensors of a VGG16 file, keyed as in ``vgg16_features()``.

    The classifier of the file is ignored; any other key, a missing key or a wrong shape
    is an `EvaluationError` naming the file.
    """
    state = read_state_dict(path, "VGG16 weights")
    checked = check_layout(state, vgg16_layout(), path, DESCRIPTION, ignored_prefixes=("classifier.",))
    return {key[len("features."):]: tensor for key, tensor in checked.items()}


def frozen_vgg16(state: dict[str, torch.Tensor], pool: Callable[[int], nn.Module] | None = None) -> nn.Sequential:
    """VGG16 features with the weights of `state` (from `load_vgg16_state`), frozen, in eval mode."""
    features = vgg16_features(pool)
    own = features.state_dict()
    features.load_state_dict({**own, **state}, strict=True)
    for parameter in features.parameters():
        parameter.requires_grad_(False)
    return features.eval()


def vgg16_taps(features: nn.Sequential, x: torch.Tensor) -> Iterator[torch.Tensor]:
    """relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 of `x`, computed as they are read."""
    h = x
    for index, layer in enumerate(features):
        h = layer(h)
        if index in TAP_INDICES:
            yield h
