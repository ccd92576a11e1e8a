"""SAN: Second-order Attention Network (Dai, Cai, Zhang, Xia, Zhang; CVPR 2019).

A conv head; a non-locally enhanced residual group (NLRG): a region-level non-local block,
``num_group`` local-source residual attention groups (LSRAG) each followed by the
share-source skip ``+ gamma · F0`` (one learnt scalar shared by all groups, F0 the
non-local block's output), the same non-local block again and a long skip from the head;
EDSR's pixel-shuffle upsampler and a conv to RGB. Images are 0..255 minus DIV2K's mean
(`edsr.RangeNorm`), as in the EDSR-PyTorch code base the release builds on.

* LSRAG: ``num_block`` residual blocks ``x + conv(relu(conv(x)))``, second-order channel
  attention, a conv, and a skip around the group.
* Second-order channel attention (SOCA, §3.3): the C×C covariance of the features over all
  pixels, Σ = X Ī Xᵀ with Ī = (I − 11ᵀ/M)/M; its square root by the Newton–Schulz
  iteration (`covariance_sqrt`: 5 iterations on Σ / tr Σ, then × √tr Σ); the mean of each
  column of Σ^½ is the channel statistic, then 1×1 conv down by ``reduction``, ReLU, 1×1
  conv up, sigmoid, and the features are scaled per channel. Feature maps over 1000 pixels
  in a direction are cropped to their central 1000 for the statistic, as in the release.
* Region-level non-local block (§3.2): the feature map is split into 2×2 regions (the
  first half rounded down); in each, the embedded-Gaussian non-local operation
  ``x + W(softmax(θ(x)ᵀ φ(x)) g(x))`` with 1×1 convs θ, φ, g to ``num_feat // 8`` channels
  and W back (`attention.softmax_attention`: exact, in chunks of queries).

Both attentions see the whole image (or a whole quarter of it), so tiles are not
independent: the engine runs SAN on the whole image (``tileable=False`` in `archs.detect`).

Key names of the module: ``conv_first``, ``non_local.{theta,phi,g,W}``, ``gamma``,
``groups.G.blocks.B.conv1/conv2``, ``groups.G.attention.conv_down/conv_up``, ``groups.G.conv``,
``upsample.0/2``, ``conv_last``. The release's layout (``SAN_BIX*.pt``: ``head.0``,
``non_local.non_local.*``, ``RG.G.rcab.B.conv_first.0/2``, ``RG.G.soca.conv_du.0/2``,
``RG.G.conv_last``, ``tail.0.*``, ``tail.1``, ``sub_mean`` / ``add_mean``) is renamed to these
by `archs.detect`, which drops the release's tensors its forward never uses (``conv_last``,
``non_local.soca.*``, ``RG.G.gamma``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.models.archs.attention import softmax_attention
from sr_desktop.engine.models.archs.edsr import RGB_MEAN_DIV2K, RangeNorm, pixel_shuffle_upsampler

#: Newton–Schulz iterations of the paper's SOCA (§3.3: "N = 5")
NEWTON_SCHULZ_ITERATIONS = 5
#: the release computes the covariance over at most the central 1000 × 1000 feature pixels
COVARIANCE_MAX_SIDE = 1000


def covariance_sqrt(x: torch.Tensor, iterations: int = NEWTON_SCHULZ_ITERATIONS) -> torch.Tensor:
    """B×C×C square root of the channel covariance of B×C×H×W features (in float32).

    Newton–Schulz: A = Σ / tr Σ, Y0 = A, Z0 = I, then ``T = (3I − Z Y) / 2``, ``Y ← Y T``,
    ``Z ← T Z``; after `iterations` steps (the last updates Y only) Σ^½ ≈ Y · √tr Σ.
    """
    b, c = x.shape[:2]
    feats = x.float().reshape(b, c, -1)
    centred = feats - feats.mean(dim=2, keepdim=True)
    cov = centred @ centred.transpose(1, 2) / feats.shape[2]
    trace = cov.diagonal(dim1=1, dim2=2).sum(-1).view(b, 1, 1)
    eye3 = 3 * torch.eye(c, dtype=cov.dtype, device=cov.device).expand(b, c, c)
    y = cov / trace
    z = torch.eye(c, dtype=cov.dtype, device=cov.device).expand(b, c, c)
    for step in range(iterations):
        t = 0.5 * (eye3 - z @ y)
        y, z = y @ t, (t @ z if step < iterations - 1 else z)
    return y * trace.sqrt()


class SecondOrderAttention(nn.Module):
    """SOCA: features scaled by ``sigmoid(W_up relu(W_down mean_rows(Σ^½)))``."""

    def __init__(self, num_feat: int, reduction: int = 16):
        super().__init__()
        self.conv_down = nn.Conv2d(num_feat, num_feat // reduction, 1)
        self.conv_up = nn.Conv2d(num_feat // reduction, num_feat, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        top, left = max(0, (h - COVARIANCE_MAX_SIDE) // 2), max(0, (w - COVARIANCE_MAX_SIDE) // 2)
        region = x[..., top:top + COVARIANCE_MAX_SIDE, left:left + COVARIANCE_MAX_SIDE]
        stat = covariance_sqrt(region).mean(dim=1).to(x.dtype).view(x.shape[0], -1, 1, 1)
        return x * torch.sigmoid(self.conv_up(F.relu(self.conv_down(stat))))


class RegionNonLocal(nn.Module):
    """The embedded-Gaussian non-local block, run on each of the 2×2 regions of the map."""

    def __init__(self, num_feat: int, inter_channels: int):
        super().__init__()
        self.theta = nn.Conv2d(num_feat, inter_channels, 1)
        self.phi = nn.Conv2d(num_feat, inter_channels, 1)
        self.g = nn.Conv2d(num_feat, inter_channels, 1)
        self.W = nn.Conv2d(inter_channels, num_feat, 1)  # the release's name

    def _block(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape

        def tokens(conv: nn.Conv2d) -> torch.Tensor:  # B×HW×C'
            return conv(x).flatten(2).transpose(1, 2)

        y = softmax_attention(tokens(self.theta), tokens(self.phi), tokens(self.g))
        return x + self.W(y.transpose(1, 2).reshape(b, -1, h, w))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h1, w1 = x.shape[-2] // 2, x.shape[-1] // 2
        rows = [torch.cat([self._block(x[..., r, :w1]), self._block(x[..., r, w1:])], dim=-1)
                for r in (slice(None, h1), slice(h1, None))]
        return torch.cat(rows, dim=-2)


class ResidualBlock(nn.Module):
    """``x + conv2(relu(conv1(x)))``."""

    def __init__(self, num_feat: int):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class LSRAG(nn.Module):
    """Local-source residual attention group: blocks, SOCA, conv, skip."""

    def __init__(self, num_feat: int, num_block: int, reduction: int):
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualBlock(num_feat) for _ in range(num_block)))
        self.attention = SecondOrderAttention(num_feat, reduction)
        self.conv = nn.Conv2d(num_feat, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.attention(self.blocks(x)))


class SAN(nn.Module):
    """SAN (Dai et al., 2019).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (64).
        num_group: LSRAGs (20).
        num_block: residual blocks per LSRAG (10).
        reduction: SOCA's channel reduction (16).
        inter_channels: channels of the non-local block's embeddings (``num_feat // 8``).
        upscale: 2, 3, 4 or 8.
        rgb_range, rgb_mean: as in `edsr.EDSR` (255 and DIV2K's mean for the released files).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_group: int = 20,
                 num_block: int = 10, reduction: int = 16, inter_channels: int = 8, upscale: int = 4,
                 rgb_range: float = 255.0, rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        super().__init__()
        self.upscale = upscale
        self.norm = RangeNorm(rgb_range, rgb_mean)
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.non_local = RegionNonLocal(num_feat, inter_channels)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.groups = nn.ModuleList(LSRAG(num_feat, num_block, reduction) for _ in range(num_group))
        self.upsample = pixel_shuffle_upsampler(num_feat, upscale)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        head = self.conv_first(self.norm.forward_in(x))
        source = feat = self.non_local(head)
        for group in self.groups:
            feat = group(feat) + self.gamma * source
        feat = self.non_local(feat) + head
        return self.norm.forward_out(self.conv_last(self.upsample(feat)))
