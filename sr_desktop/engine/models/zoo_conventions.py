"""Family conventions of the ncnn model zoo: what the original tools do outside the graph.

* border pre-padding (`prepad` pixels, `border` mode) and, for the unpadded U-Nets of
  waifu2x CUNet / Real-CUGAN, extra bottom/right padding to a size multiple of `align`;
  the output is then cropped back to exactly s·H × s·W from the top-left;
* SRMD / SRMDNF: 3 RGB planes + 15 constant kernel-PCA planes of the bicubic degradation
  (+ one noise plane = level/255 for SRMD); no pre-pad (the graph's own zero padding, as
  the authors evaluated it);
* Real-CUGAN ×4: the nearest-upscaled input is added to the network output.

`context` (input pixels of real neighbouring context per tile side) was chosen from
measured tiled-vs-whole PSNR (see docs/models.md and tests/test_zoo_tiling.py).

Torch-free: the graph input is built the same way from numpy arrays (a zoo model run by
OpenVINO or the ncnn runtime without torch, `zoo_host`) and from torch tensors (`zoo`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models.arch_conventions import pad_once

# Kernel-PCA code of the bicubic degradation fed to SRMD (the 15 values the SRMD tools use).
SRMD_BICUBIC_PCA = (
    -1.12360956e-08, -1.36899159e-08, 1.85637958e-02, 2.86066886e-08, 3.35292965e-02,
    8.37272935e-08, -2.54424009e-07, -3.16234976e-02, -1.35169253e-02, -1.10466090e-08,
    3.84753793e-02, 3.79465739e-08, -2.44916752e-01, -8.02213490e-01, -5.40549755e-01,
)


@dataclass(frozen=True)
class Convention:
    """Pre/post-processing of one family at one scale."""

    border: str = "reflect"  # reflect | replicate | none
    prepad: int = 0
    align: int = 1  # padded input size must be a multiple of this
    min_size: int = 1  # padded input size at least this
    add_nearest: bool = False  # Real-CUGAN ×4
    srmd_planes: bool = False
    #: the graph's convolutions are unpadded (waifu2x, Real-CUGAN): the pre-pad is consumed
    #: by the graph; otherwise the output keeps s·prepad pixels of padding per side
    unpadded: bool = False
    context: int = 16
    tileable: bool = True
    supports_fp16: bool = True


def convention(family: str, scale: int) -> Convention:
    """The conventions of `family` (manifest ``family`` field) at `scale`."""
    if family == "rrdbnet":  # Real-ESRGAN x4plus, RealSR (23 blocks)
        return Convention("reflect", prepad=10, context=56)
    if family == "rrdbnet-6b":  # Real-ESRGAN x4plus-anime (6 blocks)
        return Convention("reflect", prepad=10, context=32)
    if family == "srvgg":  # realesr-animevideov3
        return Convention("reflect", prepad=10, context=16)
    if family == "span":
        return Convention("reflect", prepad=10, context=16)
    if family == "waifu2x-upconv7":
        return Convention("replicate", prepad=7, unpadded=True, context=8)
    if family == "waifu2x-cunet":
        # CUNet's SE blocks pool over the whole input: tiles are not exactly independent
        prepad = 28 if scale == 1 else 18
        return Convention(
            "replicate", prepad=prepad, unpadded=True, align=4 if scale == 1 else 2,
            min_size=60 if scale == 1 else 40, context=64, tileable=False,
        )
    if family == "realcugan":
        prepad = {2: 18, 3: 14, 4: 19}[scale]
        align = {2: 2, 3: 4, 4: 2}[scale]
        return Convention(
            "reflect", prepad=prepad, unpadded=True, align=align, min_size=40, add_nearest=scale == 4,
            context=64, tileable=False,
        )
    if family in ("srmd", "srmdnf"):
        return Convention("none", srmd_planes=True, context=12)
    raise ValueError(f"unknown model family {family!r}")


def adopt_convention(model, family: str, scale: int) -> None:
    """Set what `family`'s convention at `scale` decides on a zoo model (`SRModel` fields):
    ``family``, ``scale``, ``conv`` and the tiler's ``context``, ``tileable``, ``align`` and
    ``supports_fp16``."""
    conv = convention(family, scale)
    model.family, model.scale, model.conv = family, scale, conv
    model.context, model.tileable, model.align, model.supports_fp16 = (
        conv.context, conv.tileable, conv.align, conv.supports_fp16)


def pad_border(x, left: int, right: int, top: int, bottom: int, mode: str):
    """Pad H×W (the last two axes of an array or a tensor) with `mode` (reflect without
    repeating the edge, or replicate).

    Reflect pads larger than the image are done in several mirror steps; a 1-pixel-wide
    side falls back to replicate (there is nothing to mirror).
    """
    if not (left or right or top or bottom):
        return x
    if mode == "replicate":
        return pad_once(x, left, right, top, bottom, "replicate")
    while left or right or top or bottom:
        h, w = x.shape[-2:]
        sl, sr = min(left, w - 1), min(right, w - 1)
        st, sb = min(top, h - 1), min(bottom, h - 1)
        if w == 1 or h == 1:
            return pad_once(x, left, right, top, bottom, "replicate")
        x = pad_once(x, sl, sr, st, sb, "reflect")
        left, right, top, bottom = left - sl, right - sr, top - st, bottom - sb
    return x


def _aligned(size: int, align: int, min_size: int) -> int:
    return max(min_size, (size + align - 1) // align * align)


def srmd_planes(count: int, height: int, width: int, noise_level: int | None) -> np.ndarray:
    """The constant planes SRMD reads after RGB: 15 kernel-PCA planes of the bicubic
    degradation, then (SRMD, not SRMDNF) the noise level / 255; count×k×H×W float64, cast
    once to the input's dtype by the caller."""
    values = list(SRMD_BICUBIC_PCA) + ([noise_level / 255.0] if noise_level is not None else [])
    return np.broadcast_to(np.asarray(values)[None, :, None, None], (count, len(values), height, width))


def graph_input(conv: Convention, x, noise_level: int | None = None):
    """The graph input for N×3×H×W `x` (a numpy array or a torch tensor) and its left/top
    pad in input pixels: SRMD's extra planes, or the family's border padding and alignment."""
    h, w = x.shape[-2:]
    if conv.srmd_planes:
        planes = srmd_planes(x.shape[0], h, w, noise_level)
        if isinstance(x, np.ndarray):
            return np.concatenate([x, planes.astype(x.dtype)], axis=1), 0
        import torch

        return torch.cat([x, torch.from_numpy(np.array(planes)).to(x.device, x.dtype)], dim=1), 0
    p = conv.prepad
    ph = _aligned(h + 2 * p, conv.align, conv.min_size)
    pw = _aligned(w + 2 * p, conv.align, conv.min_size)
    return pad_border(x, p, pw - w - p, p, ph - h - p, conv.border), p


def _nearest(x, s: int):
    """Nearest-neighbour ×`s` of the last two axes of an array or a tensor."""
    if isinstance(x, np.ndarray):
        return x.repeat(s, axis=-2).repeat(s, axis=-1)
    return x.repeat_interleave(s, dim=-2).repeat_interleave(s, dim=-1)


def graph_output(conv: Convention, y, x, scale: int, pad: int, model_id: str):
    """The model's output from the graph's output `y` for its N×3×H×W input `x` (arrays or
    tensors, alike) whose graph input had a left/top pad of `pad`: exactly s·H × s·W from
    the top-left, plus the nearest-upscaled input where the family adds it (Real-CUGAN ×4).
    Raises `ModelError` when the graph gave less than that."""
    h, w = x.shape[-2:]
    # unpadded graphs consume the pre-pad exactly; padded ones keep it, scaled
    o = 0 if conv.unpadded else scale * pad
    y = y[..., o : o + scale * h, o : o + scale * w]
    if y.shape[-2] != scale * h or y.shape[-1] != scale * w:
        raise ModelError(f"{model_id}: graph output {tuple(y.shape)} is smaller than ×{scale} of {h}×{w}")
    if conv.add_nearest:
        y = y + _nearest(x, scale)
    return y
