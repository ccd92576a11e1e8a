"""`ArchModel`: a torch architecture of `engine.models.archs` run under the engine's
contract — ``run(x)``: N×3×H×W RGB in 0..1 -> N×3×sH×sW — whatever the network expects.

The conventions come from the architecture's `ArchSupport` entry:

* ``color == "y"`` (for one-channel networks): the network upscales Y of BT.601 YCbCr
  (MATLAB's ``rgb2ycbcr``), Cb and Cr are bicubic-upscaled, as the papers evaluate.
* ``input_range``: the network sees pixel values on 0..1 or 0..255.
* ``pre_upsample``: the input is first upscaled to s·H × s·W with MATLAB's bicubic
  ``imresize`` (SRCNN, VDSR); then ``context`` is counted in output pixels and turned into
  input pixels here.

Borders: reflect-pad by `PRE_PAD` (input) pixels, run, crop to exactly s·H × s·W, as the
Real-ESRGAN tools do, so the networks' zero padding does not darken the border.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from sr_desktop.engine.compute.matlab_resize import resize_weights
from sr_desktop.engine.compute.ycbcr import rgb_to_ycbcr, ycbcr_to_rgb
from sr_desktop.engine.models.archs.detect import arch_support
from sr_desktop.engine.models.base import SRModel

PRE_PAD = 8
#: input pixels the bicubic kernel reaches (support ±2) plus one for its rounding of centres
BICUBIC_REACH = 3


def pad_border(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Reflect-pad (replicate when the input is too small to reflect)."""
    if max(left, right, top, bottom) == 0:
        return x
    h, w = x.shape[-2:]
    mode = "reflect" if max(left, right) < w and max(top, bottom) < h else "replicate"
    return F.pad(x, (left, right, top, bottom), mode=mode)


@functools.lru_cache(maxsize=64)
def _bicubic_matrix(length: int, scale: int) -> np.ndarray:
    return resize_weights(length, length * scale, float(scale)).astype(np.float32)


def matlab_bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    """N×C×H×W -> N×C×sH×sW like MATLAB's ``imresize(x, s, 'bicubic')`` (float, unclipped)."""
    h, w = x.shape[-2:]
    rows = torch.as_tensor(_bicubic_matrix(h, scale), dtype=x.dtype, device=x.device)
    cols = torch.as_tensor(_bicubic_matrix(w, scale), dtype=x.dtype, device=x.device)
    return rows @ x @ cols.T


class ArchModel(SRModel):
    """A torch architecture from `sr_desktop.engine.models.archs` with custom weights.

    `scale` is the scale this instance runs at (one of the architecture's scales for these
    weights); `params` are the detected hyper-parameters.
    """

    def __init__(self, module: torch.nn.Module, arch: str, scale: int, model_id: str,
                 align: int = 1, params: dict | None = None):
        super().__init__()
        self.module = module.eval()
        self.arch = arch
        self.id = model_id
        self.scale = scale
        self.align = align
        self.params = dict(params or {})
        support = arch_support(arch)
        self.color = support.color_for(self.params)
        self.input_range = support.input_range
        self.pre_upsample = support.pre_upsample
        self.forward_kwargs = support.forward_kwargs(scale, self.params)
        context = support.context_for(self.params)
        self.context = math.ceil(context / scale) + BICUBIC_REACH if self.pre_upsample else context
        self.recommended_tile = support.recommended_tile
        self.tileable = support.tileable
        self.supports_fp16 = support.supports_fp16

    def run(self, x: torch.Tensor) -> torch.Tensor:
        if self.color != "y":
            return self._network(x * self.input_range) / self.input_range
        ycc = rgb_to_ycbcr(x)
        y = self._network(ycc[:, :1] * self.input_range) / self.input_range
        return ycbcr_to_rgb(torch.cat([y, matlab_bicubic(ycc[:, 1:], self.scale)], dim=1))

    def _network(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        s = self.scale
        if self.pre_upsample:
            x, pad, extra_h, extra_w, s = matlab_bicubic(x, s), PRE_PAD * s, 0, 0, 1
            h, w = h * self.scale, w * self.scale
        else:
            pad = PRE_PAD
            extra_h = -(h + 2 * pad) % self.align
            extra_w = -(w + 2 * pad) % self.align
        network = self.runner or self.module
        y = network(pad_border(x, pad, pad + extra_w, pad, pad + extra_h), **self.forward_kwargs)
        p = pad * s
        return y[..., p : p + s * h, p : p + s * w]
