"""CSNLN: Mei, Fan, Zhou, Huang, Huang, Shi, "Image Super-Resolution with Cross-Scale
Non-Local Attention and Exhaustive Self-Exemplars Mining" (CVPR 2020).

Two conv + PReLU layers of head, then one self-exemplar mining (SEM) cell run ``depth``
times with shared weights (recurrent, paper: 12); the tail conv maps the concatenation of
every step's high-resolution estimate to RGB. Images are 0..255 minus DIV2K's mean
(`edsr.RangeNorm`), as in the EDSR-PyTorch code base the release builds on.

* SEM cell (recurrent projection): the multi-source projection of x gives an HR estimate
  H; it is projected down (strided conv + PReLU), the LR error ``x − down(H)`` is projected
  up (transposed conv + PReLU) and added to H. ×4 repeats this with a second multi-source
  projection from the ×2 estimate to ×4 (kernels 8, stride 4). The cell's LR output for the
  next step is ``post_conv(down(H))``; H goes to the tail.
* Multi-source projection: D = PReLU(deconv(in-scale non-local attention of x)), U =
  cross-scale non-local attention of x; output ``D + ResBlock(U − D)`` (3×3 convs, PReLU).
* In-scale non-local attention: ``softmax(φ1(x)ᵀ φ2(x)) · g(x)`` over all pixels, with 1×1
  conv + PReLU embeddings (`attention.softmax_attention`: exact, in chunks of queries).
* Cross-scale non-local attention (§3.1): y = x bilinearly downscaled by s; 3×3 patches of
  φ2(y), each divided by its L2 norm (at least 1e-4), are correlated with φ1(x) (zero
  'same' padding), a softmax over the patches with scale 10 weights them, and the
  matching (3s)×(3s) patches of g(x), taken every s pixels with 'same' padding, are pasted
  by a transposed conv (stride s, padding s) and divided by 6 — an s× larger feature map.
  Deconvolution kernel / stride / padding of the projections: 6 / 2 / 2 for ×2 and ×4,
  9 / 3 / 3 for ×3. The input side must be a multiple of s (2 for ×4).

The attentions see the whole input, so tiles are close to but not exactly the whole-image
result; like the release's evaluation (``--chop``), the engine runs it in tiles (the
attention's memory grows with the square of the pixels): see the CSNLN entry of
`archs.detect` for the measured difference.

Key names of the module are the release's (``model_x2.pt`` …): ``head.0/1.0`` (+ ``.1``
PReLU), ``SEM.multi_source_projection[_2].{up_attention, down_attention, upsample, encoder}``,
``SEM.down_sample_1..4``, ``SEM.error_encode[_2]``, ``SEM.post_conv``, ``tail.0``; the mean
shifts ``sub_mean`` / ``add_mean`` are read by `archs.detect`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.models.archs.attention import softmax_attention
from sr_desktop.engine.models.archs.edsr import RGB_MEAN_DIV2K, RangeNorm

#: (kernel, stride, padding) of the SEM cell's projections per scale (×4: two ×2 steps)
PROJECTION = {2: (6, 2, 2), 3: (9, 3, 3), 4: (6, 2, 2)}
#: the cross-scale attention's softmax scale, patch size and divisor of the pasted patches
SOFTMAX_SCALE = 10.0
PATCH = 3
PASTE_DIVISOR = 6.0


def conv_prelu(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """``conv`` (padding k // 2) then a one-weight PReLU (``.0`` and ``.1``)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), nn.PReLU())


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero padding of TensorFlow's 'SAME' (the extra pixel at the bottom/right)."""
    h, w = x.shape[-2:]
    pad_h = max(0, (math.ceil(h / stride) - 1) * stride + kernel - h)
    pad_w = max(0, (math.ceil(w / stride) - 1) * stride + kernel - w)
    return F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


class NonLocalAttention(nn.Module):
    """In-scale non-local attention (no residual): ``softmax(θᵀφ) g`` over all pixels."""

    def __init__(self, channels: int, reduction: int):
        super().__init__()
        self.conv_match1 = conv_prelu(channels, channels // reduction, 1)
        self.conv_match2 = conv_prelu(channels, channels // reduction, 1)
        self.conv_assembly = conv_prelu(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape

        def tokens(embed: nn.Module) -> torch.Tensor:  # B×HW×C
            return embed(x).flatten(2).transpose(1, 2)

        y = softmax_attention(tokens(self.conv_match1), tokens(self.conv_match2), tokens(self.conv_assembly))
        return y.transpose(1, 2).reshape(b, -1, h, w)


class CrossScaleAttention(nn.Module):
    """Cross-scale non-local attention: an ``scale``× larger map of g(x)'s patches, chosen by
    how well x matches the patches of x downscaled by ``scale``."""

    def __init__(self, channels: int, reduction: int, scale: int):
        super().__init__()
        self.scale = scale
        self.register_buffer("escape_NaN", torch.tensor([1e-4]))
        self.conv_match_1 = conv_prelu(channels, channels // reduction, 1)
        self.conv_match_2 = conv_prelu(channels, channels // reduction, 1)
        self.conv_assembly = conv_prelu(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, big = self.scale, self.scale * PATCH
        assembly = self.conv_assembly(x)
        b, c = assembly.shape[:2]
        paste = F.unfold(same_pad(assembly, big, s), big, stride=s)  # B × C·big² × L
        paste = paste.view(b, c, big, big, -1).permute(0, 4, 1, 2, 3)
        query = same_pad(self.conv_match_1(x), PATCH, 1)
        small = self.conv_match_2(F.interpolate(x, scale_factor=1 / s, mode="bilinear", align_corners=False))
        keys = F.unfold(same_pad(small, PATCH, 1), PATCH)  # B × C'·9 × L
        keys = keys.view(b, small.shape[1], PATCH, PATCH, -1).permute(0, 4, 1, 2, 3)
        norms = keys.pow(2).sum(dim=(2, 3, 4), keepdim=True).sqrt().clamp(min=float(self.escape_NaN))
        keys = keys / norms
        out = []
        for i in range(b):
            score = torch.softmax(F.conv2d(query[i:i + 1], keys[i]) * SOFTMAX_SCALE, dim=1)
            out.append(F.conv_transpose2d(score, paste[i], stride=s, padding=s) / PASTE_DIVISOR)
        return torch.cat(out, 0)


class MultisourceProjection(nn.Module):
    """``D + ResBlock(U − D)``: D the deconvolved in-scale attention, U the cross-scale one."""

    def __init__(self, channels: int, reduction: int, scale: int):
        super().__init__()
        kernel, stride, padding = PROJECTION[scale]
        self.up_attention = CrossScaleAttention(channels, reduction, stride)
        self.down_attention = NonLocalAttention(channels, reduction)
        self.upsample = nn.Sequential(nn.ConvTranspose2d(channels, channels, kernel, stride, padding), nn.PReLU())
        self.encoder = nn.Module()
        self.encoder.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.PReLU(),
                                          nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        down = self.upsample(self.down_attention(x))
        error = self.up_attention(x) - down
        return down + error + self.encoder.body(error)


def _projection(c: int, kernel: int, stride: int, padding: int, up: bool) -> nn.Sequential:
    cls = nn.ConvTranspose2d if up else nn.Conv2d
    return nn.Sequential(cls(c, c, kernel, stride, padding), nn.PReLU())


class RecurrentProjection(nn.Module):
    """The SEM cell: ``(next LR features, HR estimate)`` of LR features."""

    def __init__(self, channels: int, reduction: int, scale: int):
        super().__init__()
        kernel, stride, padding = PROJECTION[scale]
        self.scale = scale
        self.multi_source_projection = MultisourceProjection(channels, reduction, scale)
        self.down_sample_1 = _projection(channels, kernel, stride, padding, up=False)
        if scale != 4:
            self.down_sample_2 = _projection(channels, kernel, stride, padding, up=False)
        self.error_encode = _projection(channels, kernel, stride, padding, up=True)
        self.post_conv = conv_prelu(channels, channels, 3)
        if scale == 4:
            self.multi_source_projection_2 = MultisourceProjection(channels, reduction, scale)
            self.down_sample_3 = _projection(channels, 8, 4, 2, up=False)
            self.down_sample_4 = _projection(channels, 8, 4, 2, up=False)
            self.error_encode_2 = _projection(channels, 8, 4, 2, up=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        up = self.multi_source_projection(x)
        estimate = up + self.error_encode(x - self.down_sample_1(up))
        if self.scale == 4:
            up = self.multi_source_projection_2(estimate)
            estimate = up + self.error_encode_2(x - self.down_sample_3(up))
            return self.post_conv(self.down_sample_4(estimate)), estimate
        return self.post_conv(self.down_sample_2(estimate)), estimate


class CSNLN(nn.Module):
    """CSNLN (Mei et al., 2020).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels (128).
        depth: recurrent SEM steps (12).
        reduction: channel reduction of the attentions' matching embeddings (2).
        upscale: 2, 3 or 4.
        rgb_range, rgb_mean: as in `edsr.EDSR` (255 and DIV2K's mean for the released files).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 128, depth: int = 12,
                 reduction: int = 2, upscale: int = 2, rgb_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        super().__init__()
        if upscale not in PROJECTION:
            raise ValueError(f"CSNLN supports ×2, ×3 and ×4, not ×{upscale}")
        self.upscale = upscale
        self.depth = depth
        self.norm = RangeNorm(rgb_range, rgb_mean)
        self.head = nn.Sequential(conv_prelu(num_in_ch, num_feat, 3), conv_prelu(num_feat, num_feat, 3))
        self.SEM = RecurrentProjection(num_feat, reduction, upscale)
        self.tail = nn.Sequential(nn.Conv2d(num_feat * depth, num_out_ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(self.norm.forward_in(x))
        estimates = []
        for _ in range(self.depth):
            feat, estimate = self.SEM(feat)
            estimates.append(estimate)
        return self.norm.forward_out(self.tail(torch.cat(estimates, 1)))
