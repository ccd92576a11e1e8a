"""VGG19 features for the perceptual and texture losses (Simonyan & Zisserman 2015).

The network is built here (torchvision is not needed) with torchvision's key names
(``features.N.weight``), so torchvision's ImageNet file ``vgg19-dcbb9e9d.pth`` loads into
it. Weights come from a file the user gives, else from torch's hub cache
(``<torch hub dir>/checkpoints/vgg19*.pth``) where torchvision keeps its downloads.
Nothing is ever downloaded: without weights the loss fails with one line saying where to
put them.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from sr_desktop.engine.core.errors import one_line
from sr_desktop.engine.core.weight_file import WeightFileError, read_weight_file
from sr_desktop.engine.training.errors import TrainingError

#: features per conv of each block; a max-pool ends each block
VGG19_BLOCKS = ((64, 64), (128, 128), (256, 256, 256, 256), (512, 512, 512, 512), (512, 512, 512, 512))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: ESRGAN's choice: the last conv of block 5, before its activation
DEFAULT_LAYER = "conv5_4"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"


def layer_names() -> list[str]:
    """The names of VGG19's feature layers in order: conv1_1, relu1_1, …, pool5."""
    names = []
    for b, block in enumerate(VGG19_BLOCKS, 1):
        for i in range(1, len(block) + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return names


def vgg19_features(up_to: str) -> nn.Sequential:
    """VGG19's ``features`` up to and including layer `up_to` (random weights)."""
    names = layer_names()
    if up_to not in names:
        raise TrainingError(f"unknown VGG19 layer {up_to!r} (e.g. relu2_2, conv5_4)")
    layers: list[nn.Module] = []
    cin = 3
    for block in VGG19_BLOCKS:
        for cout in block:
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=False)]
            cin = cout
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers[: names.index(up_to) + 1])


def find_vgg_weights(given: str | os.PathLike | None = None) -> Path:
    """The VGG19 weight file to use: `given`, else one in torch's hub cache; TrainingError if none."""
    if given:
        path = Path(given)
        if not path.is_file():
            raise TrainingError(f"VGG19 weights not found: {path}")
        return path
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    candidates = sorted(folder.glob("vgg19*.pth")) if folder.is_dir() else []
    if not candidates:
        raise TrainingError(
            f"the perceptual and texture losses need VGG19 ImageNet weights (torchvision's {TORCHVISION_FILE}): "
            f"give the file with --vgg-weights, or put it in {folder}; nothing is downloaded")
    preferred = [p for p in candidates if p.name == TORCHVISION_FILE]
    return (preferred or candidates)[0]


class VGGFeatures(nn.Module):
    """Frozen VGG19 features at one layer of ImageNet-normalised RGB (0..1 in)."""

    def __init__(self, layer: str = DEFAULT_LAYER, weights: str | os.PathLike | None = None,
                 features: nn.Sequential | None = None):
        super().__init__()
        self.layer = layer
        if features is None:
            features = vgg19_features(layer)
            path = find_vgg_weights(weights)
            try:
                state = read_weight_file(path, "VGG19 weights")
            except WeightFileError as exc:
                raise TrainingError(str(exc)) from None
            own = ({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
                   if isinstance(state, dict) else {})
            wanted = features.state_dict()
            missing = [k for k in wanted if k not in own]
            if missing:
                raise TrainingError(f"cannot use VGG19 weights {path}: not torchvision's VGG19 layout "
                                    f"(no features.{missing[0]}; {len(missing)} of {len(wanted)} tensors missing)")
            try:
                features.load_state_dict({k: own[k] for k in wanted}, strict=True)
            except RuntimeError as exc:  # the right names with other shapes
                raise TrainingError(f"cannot use VGG19 weights {path}: {one_line(exc)}") from None
        self.features = features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features of N×C×H×W images in 0..1 (one channel = Y, repeated to RGB)."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)
