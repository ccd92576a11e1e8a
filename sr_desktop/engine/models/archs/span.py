"""SPAN: Swift Parameter-free Attention Network (Wan et al., 2024; NTIRE 2024 ESR winner).

Structure (key names of the official release):
- ``conv_1``: Conv3XC image -> features; the input is first normalised as
  ``(x - rgb_mean) * 255`` (checkpoints carrying a ``no_norm`` buffer skip that);
- ``block_1`` .. ``block_6``: SPAB blocks. Each has three Conv3XC layers ``c1_r``,
  ``c2_r``, ``c3_r`` with SiLU between them and a parameter-free attention
  ``(c3 + x) * (sigmoid(c3) - 0.5)``;
- ``conv_cat``: 1×1 conv over ``[conv_1 out, conv_2 out, block_1 out, SiLU(block_6.c1_r)]``;
- ``conv_2``: Conv3XC after block 6;
- ``upsampler.0``: 3×3 conv to ``3 * scale**2`` channels, then pixel-shuffle. The output
  is not de-normalised.

Conv3XC has a training form (a 1×1 skip ``sk`` in parallel with a 1×1 -> 3×3 -> 1×1
chain ``conv.0..2`` run on the zero-padded input) that is linear, so it collapses exactly
into one 3×3 convolution ``eval_conv`` — what the released network runs at inference.
`collapse_conv3xc` does that fold; `SPAN` can be built in either form.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RGB_MEAN = (0.4488, 0.4371, 0.4040)
IMG_RANGE = 255.0


class Conv3XC(nn.Module):
    """A 3×3 convolution, re-parameterised for training as a 1×1 skip + 1×1/3×3/1×1 chain.

    With ``training_form=False`` only ``eval_conv`` exists (the collapsed form).
    """

    def __init__(self, c_in: int, c_out: int, gain: int = 2, training_form: bool = False):
        super().__init__()
        self.training_form = training_form
        if training_form:
            self.sk = nn.Conv2d(c_in, c_out, 1)
            self.conv = nn.Sequential(
                nn.Conv2d(c_in, c_in * gain, 1),
                nn.Conv2d(c_in * gain, c_out * gain, 3),
                nn.Conv2d(c_out * gain, c_out, 1),
            )
        else:
            self.eval_conv = nn.Conv2d(c_in, c_out, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training_form:
            return self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)
        return self.eval_conv(x)


def collapse_conv3xc(
    sk_w: torch.Tensor,
    sk_b: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    w3: torch.Tensor,
    b3: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold a training-form Conv3XC into the weight and bias of one padded 3×3 conv.

    Exact, borders included: the chain pads with zeros *before* its first 1×1 conv, so
    the first bias reaches every tap of the 3×3 conv at every position, which is a
    constant that goes into the folded bias.
    """
    # float64 numpy: exact enough, and free of torch's per-op thread start-up cost on
    # these tiny matrices (it dominates when the CPU is busy)
    a, b, c, d = (t.detach().cpu().double().numpy()
                  for t in (w1[:, :, 0, 0], w2, w3[:, :, 0, 0], sk_w[:, :, 0, 0]))
    b1_, b2_, b3_, bsk = (t.detach().cpu().double().numpy() for t in (b1, b2, b3, sk_b))
    # weight[o, i, y, x] = sum_{m, n} w3[o, m] * w2[m, n, y, x] * w1[n, i]
    per_tap = c @ (b.transpose(2, 3, 0, 1) @ a)  # (y, x, o, i)
    weight = np.ascontiguousarray(per_tap.transpose(2, 3, 0, 1))
    weight[:, :, 1, 1] += d
    bias = c @ (b.sum((2, 3)) @ b1_ + b2_) + b3_ + bsk
    weight, bias = torch.from_numpy(weight), torch.from_numpy(bias)
    return weight.to(w2.dtype), bias.to(w2.dtype)


class SPAB(nn.Module):
    """Swift parameter-free attention block."""

    def __init__(self, channels: int, training_form: bool = False):
        super().__init__()
        self.c1_r = Conv3XC(channels, channels, 2, training_form)
        self.c2_r = Conv3XC(channels, channels, 2, training_form)
        self.c3_r = Conv3XC(channels, channels, 2, training_form)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (block output, SiLU of the first conv). The official code applies an
        in-place SiLU, so its second output is the activated tensor; released graphs
        concatenate that one."""
        out1 = F.silu(self.c1_r(x))
        out3 = self.c3_r(F.silu(self.c2_r(out1)))
        attention = torch.sigmoid(out3) - 0.5
        return (out3 + x) * attention, out1


class SPAN(nn.Module):
    """The SPAN network; ``norm=False`` for checkpoints with a ``no_norm`` buffer."""

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        feature_channels: int = 48,
        upscale: int = 4,
        norm: bool = True,
        training_form: bool = False,
    ):
        super().__init__()
        self.upscale = upscale
        self.norm = norm
        self.register_buffer("mean", torch.tensor(RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        if not norm:
            self.register_buffer("no_norm", torch.zeros(1))
        f = feature_channels
        self.conv_1 = Conv3XC(num_in_ch, f, 2, training_form)
        for i in range(1, 7):
            setattr(self, f"block_{i}", SPAB(f, training_form))
        self.conv_cat = nn.Conv2d(f * 4, f, 1)
        self.conv_2 = Conv3XC(f, f, 2, training_form)
        self.upsampler = nn.Sequential(
            nn.Conv2d(f, num_out_ch * upscale * upscale, 3, 1, 1), nn.PixelShuffle(upscale)
        )

    @property
    def scale(self) -> int:
        return self.upscale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm:
            x = (x - self.mean.to(x.dtype)) * IMG_RANGE
        feat = self.conv_1(x)
        b1, _ = self.block_1(feat)
        out = b1
        for i in range(2, 6):
            out, _ = getattr(self, f"block_{i}")(out)
        b6, b6_first = self.block_6(out)
        b6 = self.conv_2(b6)
        out = self.conv_cat(torch.cat([feat, b6, b1, b6_first], 1))
        return self.upsampler(out)
