"""EnhanceNet: Sajjadi, Schölkopf, Hirsch, "EnhanceNet: Single Image Super-Resolution
Through Automated Texture Synthesis" (ICCV 2017).

The generator of Table 1 (×4): a 3×3 conv + ReLU, ``num_block`` residual blocks
(conv-ReLU-conv plus the skip, no normalisation), ``num_upsample`` × [nearest-neighbour ×2,
3×3 conv, ReLU], a 3×3 conv + ReLU and a 3×3 conv to RGB; the network learns the residual
over the bicubic upscale of its input. The release (msmsajjadi/EnhanceNet-Code, TensorFlow)
feeds the image on 0..1 minus a per-channel mean (`RELEASE_MEAN`) and adds the bicubic
upscale of that input and the mean back: since bicubic weights sum to one, that is
``net(x − mean) + bicubic(x)`` here. Its bicubic is TensorFlow 1's ``resize_bicubic``
without half-pixel centres: Keys' cubic with a = −0.75 sampled at ``source = out · in/out``
(the corner-aligned grid, which shifts the image by (s − 1)/2 output pixels against a
centred resize) and edge pixels repeated; `legacy_bicubic` reproduces it.

The release ships a TensorFlow checkpoint only (``weights``, variables
``generator/Conv/weights``, ``generator/Conv_1`` … ``generator/Conv_24`` with their
``biases``), no PyTorch file. The plain PyTorch layout of this module, which `archs.detect`
reads, is: ``conv_first``, ``body.N.conv1/conv2``, ``upsample.I`` (the conv after each
nearest ×2), ``conv_hr``, ``conv_last`` (weights out × in × 3 × 3, with biases).
`archs.detect` also reads the release's variables saved as a dict of tensors under their
TensorFlow names (kernels height × width × in × out are transposed), e.g. converted with
``{v: torch.from_numpy(tf.train.load_checkpoint("weights").get_tensor(v)) for v in names}``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.models.archs.edsr import ResBlock

#: the per-channel mean (RGB, 0..1) the release subtracts from its input (enhancenet.py)
RELEASE_MEAN = (0.47614917, 0.45001204, 0.40904046)
#: Keys' cubic parameter of TensorFlow's legacy bicubic resize
TF_LEGACY_CUBIC_A = -0.75


def _keys_cubic(distance: np.ndarray, a: float) -> np.ndarray:
    d = np.abs(distance)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


@functools.lru_cache(maxsize=64)
def legacy_bicubic_matrix(size: int, scale: int) -> np.ndarray:
    """The (scale·size)×size matrix of TensorFlow 1's ``resize_bicubic`` (align_corners and
    half_pixel_centers off) along one axis: output o reads input ⌊o/s⌋ − 1 … ⌊o/s⌋ + 2
    (clamped to the edge) with Keys' weights (a = −0.75) at distance from o/s."""
    out = np.arange(size * scale)
    source = out / scale
    base = np.floor(source).astype(int)
    matrix = np.zeros((size * scale, size), np.float64)
    for tap in range(-1, 3):
        weight = _keys_cubic(source - (base + tap), TF_LEGACY_CUBIC_A)
        np.add.at(matrix, (out, np.clip(base + tap, 0, size - 1)), weight)
    return matrix.astype(np.float32)


def legacy_bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """N×C×H×W -> N×C×sH×sW as the release's bicubic (float, unclipped)."""
    h, w = x.shape[-2:]
    rows = torch.as_tensor(legacy_bicubic_matrix(h, scale), dtype=x.dtype, device=x.device)
    cols = torch.as_tensor(legacy_bicubic_matrix(w, scale), dtype=x.dtype, device=x.device)
    return rows @ x @ cols.T


class EnhanceNet(nn.Module):
    """EnhanceNet's generator (Sajjadi et al., 2017).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (64).
        num_block: residual blocks (10).
        num_upsample: nearest ×2 stages (2: ×4, the published scale).
        rgb_mean: the mean subtracted from the input (0..1 units; the release's `RELEASE_MEAN`).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 10,
                 num_upsample: int = 2, rgb_mean: tuple[float, ...] = RELEASE_MEAN):
        super().__init__()
        self.upscale = 2**num_upsample
        self.register_buffer("mean", torch.tensor(rgb_mean, dtype=torch.float32).view(1, -1, 1, 1),
                             persistent=False)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResBlock(num_feat) for _ in range(num_block)))
        self.upsample = nn.ModuleList(nn.Conv2d(num_feat, num_feat, 3, 1, 1) for _ in range(num_upsample))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.body(F.relu(self.conv_first(x - self.mean.to(x.dtype))))
        for conv in self.upsample:
            feat = F.relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        residual = self.conv_last(F.relu(self.conv_hr(feat)))
        return residual + legacy_bicubic(x, self.upscale)

