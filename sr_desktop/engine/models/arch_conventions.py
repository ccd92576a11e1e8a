"""What an architecture model does around its network graph, on numpy arrays and torch
tensors alike: colour handling, input range, bicubic pre-upsampling, border padding and the
crop back to s·H × s·W.

The torch model (`arch_model.ArchModel`) and the same model run by a cached OpenVINO
conversion in a process that never imports torch (`arch_host`) both go through `run_around`,
so the two cannot drift apart.

* ``color == "y"`` (one-channel networks): the network upscales Y of BT.601 YCbCr (MATLAB's
  ``rgb2ycbcr``), Cb and Cr are bicubic-upscaled, as the papers evaluate.
* ``input_range``: the network sees pixel values on 0..1 or 0..255.
* ``pre_upsample``: the input is first upscaled to s·H × s·W with MATLAB's bicubic
  ``imresize`` (SRCNN, VDSR).

Borders: reflect-pad by `PRE_PAD` (input) pixels (more for a graph that shrinks its
output), run, crop to exactly s·H × s·W, as the Real-ESRGAN tools do, so the networks' zero
padding does not darken the border. A user's ncnn graph (`custom.NcnnPairModel`) runs
through the same code.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sr_desktop.engine.compute.matlab_resize import resize_weights
from sr_desktop.engine.compute.ycbcr import rgb_to_ycbcr, ycbcr_to_rgb

PRE_PAD = 8
#: input pixels the bicubic kernel reaches (support ±2) plus one for its rounding of centres
BICUBIC_REACH = 3


def whole(value, least: int = 1) -> bool:
    """Whether a value read from a record is an int (not a bool) of at least `least`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@dataclass(frozen=True)
class ArchConvention:
    """The conventions of one architecture model at one scale (see the module's docstring);
    `align`: the padded input size of a model without pre-upsampling is a multiple of it;
    `pad`: the border pad in input pixels; `shrink`: output pixels per axis that the graph's
    unpadded convolutions lose (a user's ncnn graph; the crop centres on what is left)."""

    scale: int
    color: str = "rgb"
    input_range: float = 1.0
    pre_upsample: bool = False
    align: int = 1
    pad: int = PRE_PAD
    shrink: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ArchConvention:
        """The convention a `to_dict` wrote; `ValueError` for anything else (a damaged file)."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        conv = cls(scale=data.get("scale"), color=data.get("color"), input_range=data.get("input_range"),
                   pre_upsample=data.get("pre_upsample"), align=data.get("align"), pad=data.get("pad"),
                   shrink=data.get("shrink"))
        valid = (whole(conv.scale) and conv.color in ("rgb", "y") and whole(conv.align)
                 and whole(conv.pad, 0) and whole(conv.shrink, 0) and conv.shrink % 2 == 0
                 and isinstance(conv.input_range, (int, float)) and not isinstance(conv.input_range, bool)
                 and math.isfinite(conv.input_range) and conv.input_range > 0
                 and isinstance(conv.pre_upsample, bool))
        if not valid:
            raise ValueError(f"not a convention: {data!r}")
        return conv


def host_record_of(model) -> dict[str, Any]:
    """What runs `model` (with a `convention`) around its converted graph without torch: the
    convention, context, recommended tile and whether it is tileable (`arch_host`)."""
    return {"convention": model.convention.to_dict(), "context": int(model.context),
            "recommended_tile": int(model.recommended_tile), "tileable": bool(model.tileable)}


def pad_once(x, left: int, right: int, top: int, bottom: int, mode: str):
    """Pad the last two axes of an array or a tensor in one `mode` (reflect or replicate)."""
    if isinstance(x, np.ndarray):
        widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
        return np.pad(x, widths, mode="edge" if mode == "replicate" else "reflect")
    import torch.nn.functional as F

    return F.pad(x, (left, right, top, bottom), mode=mode)


def pad_border(x, left: int, right: int, top: int, bottom: int):
    """Reflect-pad the last two axes of an array or a tensor (replicate when the input is too
    small to reflect)."""
    if max(left, right, top, bottom) == 0:
        return x
    h, w = x.shape[-2:]
    mode = "reflect" if max(left, right) < w and max(top, bottom) < h else "replicate"
    return pad_once(x, left, right, top, bottom, mode)


@functools.lru_cache(maxsize=64)
def _bicubic_matrix(length: int, scale: int) -> np.ndarray:
    return resize_weights(length, length * scale, float(scale)).astype(np.float32)


def matlab_bicubic(x, scale: int):
    """N×C×H×W -> N×C×sH×sW like MATLAB's ``imresize(x, s, 'bicubic')`` (float, unclipped),
    for a float32 array or a tensor."""
    h, w = x.shape[-2:]
    rows, cols = _bicubic_matrix(h, scale), _bicubic_matrix(w, scale)
    if isinstance(x, np.ndarray):
        return rows @ x @ cols.T
    import torch

    rows = torch.as_tensor(rows, dtype=x.dtype, device=x.device)
    cols = torch.as_tensor(cols, dtype=x.dtype, device=x.device)
    return rows @ x @ cols.T


def concat_channels(parts: list):
    """Arrays or tensors N×C×H×W joined along C."""
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=1)
    import torch

    return torch.cat(parts, dim=1)


def run_around(conv: ArchConvention, graph: Callable, x):
    """The model's output for N×3×H×W `x` (RGB 0..1, an array or a tensor): N×3×sH×sW,
    unclamped; `graph` runs the network on its input (the same kind of value)."""
    if conv.color != "y":
        return _network(conv, graph, x * conv.input_range) / conv.input_range
    ycc = rgb_to_ycbcr(x)
    y = _network(conv, graph, ycc[:, :1] * conv.input_range) / conv.input_range
    return ycbcr_to_rgb(concat_channels([y, matlab_bicubic(ycc[:, 1:], conv.scale)]))


def _network(conv: ArchConvention, graph: Callable, x):
    h, w = x.shape[-2:]
    s = conv.scale
    if conv.pre_upsample:
        x, pad, extra_h, extra_w, s = matlab_bicubic(x, s), conv.pad * s, 0, 0, 1
        h, w = h * conv.scale, w * conv.scale
    else:
        pad = conv.pad
        extra_h = -(h + 2 * pad) % conv.align
        extra_w = -(w + 2 * pad) % conv.align
    y = graph(pad_border(x, pad, pad + extra_w, pad, pad + extra_h))
    p = pad * s - conv.shrink // 2
    return y[..., p : p + s * h, p : p + s * w]
