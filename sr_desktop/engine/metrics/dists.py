"""DISTS, Deep Image Structure and Texture Similarity (Ding, Ma, Wang and Simoncelli, IEEE
TPAMI 2020): a full-reference distance that tolerates resampled texture, lower is closer.

The trunk is VGG16 with each max-pool replaced by L2 pooling (the square root of a 3×3 Hanning
window's weighted mean of squares, stride 2, +1e-12 under the root). For the image itself and
the stages ending at relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3 (3, 64, 128, 256, 512 and
512 channels), every channel j of stage i compares the two images' global statistics:

    texture   l = (2 μx μy + c1) / (μx² + μy² + c1)
    structure s = (2 σxy + c2) / (σx² + σy² + c2)           c1 = c2 = 1e-6

(means, variances and the covariance over the whole feature map), and

    DISTS = 1 − Σ_ij (α_ij · l_ij + β_ij · s_ij) / Σ_ij (α_ij + β_ij)

with the learned α, β of the release's ``weights.pt`` (keys ``alpha``, ``beta``, 1×1475×1×1).
The input is RGB in 0..1, normalised with ImageNet's mean and std before the trunk; the
image term uses it unnormalised.
"""

from __future__ import annotations

import itertools
import os

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.vgg16 import TAP_CHANNELS, frozen_vgg16, vgg16_taps
from sr_desktop.engine.metrics.weight_files import check_layout, read_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: channels of the compared stages: the image, then the five VGG16 taps
STAGE_CHANNELS = (3, *TAP_CHANNELS)
C1 = C2 = 1e-6
#: what the weight file is, for error messages
DESCRIPTION = "the DISTS release's weights.pt (alpha, beta)"
#: L2 pooling never empties a map (⌈n/2⌉ each time); one pixel is enough
MIN_SIZE = 1


def hanning_window() -> torch.Tensor:
    """The 3×3 pooling window: the outer product of (0.5, 1, 0.5), summing to 1."""
    a = torch.tensor([0.5, 1.0, 0.5])
    window = a[:, None] * a[None, :]
    return window / window.sum()


class L2Pool(nn.Module):
    """sqrt(Hanning-weighted mean of x² + 1e-12) over 3×3 windows, stride 2, zero padding 1."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("window", hanning_window().expand(channels, 1, 3, 3).clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.conv2d(x.square(), self.window, stride=2, padding=1, groups=self.channels)
        return (pooled + 1e-12).sqrt()


def dists_layout() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of the DISTS release's ``weights.pt``."""
    total = sum(STAGE_CHANNELS)
    return {"alpha": (1, total, 1, 1), "beta": (1, total, 1, 1)}


def load_dists_weights(path: str | os.PathLike) -> tuple[torch.Tensor, torch.Tensor]:
    """The checked α and β of a DISTS weight file, each of 1475 values."""
    checked = check_layout(read_state_dict(path, "DISTS weights"), dists_layout(), path, DESCRIPTION)
    alpha, beta = checked["alpha"].reshape(-1), checked["beta"].reshape(-1)
    if not float(alpha.sum() + beta.sum()) > 0:
        raise EvaluationError(f"{path} is not {DESCRIPTION}: its alpha and beta do not sum to a positive value")
    return alpha, beta


def _global_stats(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and variance (over the map, divided by its size) of N×C×H×W features."""
    mean = f.mean(dim=(2, 3), keepdim=True)
    return mean, (f - mean).square().mean(dim=(2, 3), keepdim=True)


class DISTS(nn.Module):
    """DISTS between two batches of RGB images in 0..1 (N×3×H×W -> N)."""

    def __init__(self, vgg16_state: dict[str, torch.Tensor], alpha: torch.Tensor, beta: torch.Tensor):
        super().__init__()
        self.features = frozen_vgg16(vgg16_state, pool=L2Pool)
        total = alpha.sum() + beta.sum()
        self.register_buffer("alpha", alpha.reshape(-1) / total)
        self.register_buffer("beta", beta.reshape(-1) / total)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The distance of each image pair; both batches have the same shape."""
        n = x.shape[0]
        both = torch.cat([x, y])
        # the image, then the taps as they are computed (one stage's maps alive at a time)
        stages = itertools.chain([both], vgg16_taps(self.features, (both - self.mean) / self.std))
        alphas = torch.split(self.alpha, STAGE_CHANNELS)
        betas = torch.split(self.beta, STAGE_CHANNELS)
        similarity = torch.zeros(n, dtype=both.dtype, device=both.device)
        for f, a, b in zip(stages, alphas, betas, strict=True):
            fx, fy = f[:n], f[n:]
            (mx, vx), (my, vy) = _global_stats(fx), _global_stats(fy)
            # the covariance as E[xy] − μxμy, the variances as E[(x − μx)²]: as in the release
            cov = (fx * fy).mean(dim=(2, 3), keepdim=True) - mx * my
            texture = (2 * mx * my + C1) / (mx.square() + my.square() + C1)
            structure = (2 * cov + C2) / (vx + vy + C2)
            similarity = similarity + texture.flatten(1) @ a + structure.flatten(1) @ b
        return 1.0 - similarity

