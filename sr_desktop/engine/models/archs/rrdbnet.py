"""RRDBNet: the generator of ESRGAN and Real-ESRGAN (Wang et al. 2018, 2021).

Key layout follows BasicSR (``conv_first``, ``body.N.rdbK.convJ``, ``conv_body``,
``conv_upN``, ``conv_hr``, ``conv_last``). The original ESRGAN release used a different
layout (``model.0``, ``model.1.sub.N.RDBK.convJ.0``, ...); `convert_esrgan_keys` maps
it onto this one.

Scale = 2**num_upsample / unshuffle. Real-ESRGAN's ×2 and ×1 models keep the two ×2
upsamplers and first fold the input with a pixel-unshuffle of 2 or 4 (3 -> 12 or 48
input channels), so their input size must be a multiple of `unshuffle`.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, negative_slope=0.2)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3×3 convolutions with a scaled residual."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = _lrelu(self.conv1(x))
        x2 = _lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = _lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = _lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks and a scaled residual."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN / Real-ESRGAN generator.

    `num_in_ch` is the number of image channels (before any pixel-unshuffle); the
    first convolution sees ``num_in_ch * unshuffle**2`` channels.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        num_upsample: int = 2,
        unshuffle: int = 1,
    ):
        super().__init__()
        self.num_upsample = num_upsample
        self.unshuffle = unshuffle
        self.conv_first = nn.Conv2d(num_in_ch * unshuffle * unshuffle, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for i in range(1, num_upsample + 1):
            setattr(self, f"conv_up{i}", nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    @property
    def scale(self) -> float:
        """Output size / input size (an integer for every released model)."""
        return 2**self.num_upsample / self.unshuffle

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for i in range(1, self.num_upsample + 1):
            up = getattr(self, f"conv_up{i}")
            feat = _lrelu(up(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(_lrelu(self.conv_hr(feat)))


# -- the original ESRGAN key layout --------------------------------------------------
# model.0                     conv_first
# model.1.sub.N.RDBk.convj.0  body.N.rdbk.convj        (N < num_block)
# model.1.sub.<num_block>     conv_body
# model.{3,6,9,...}           conv_up1, conv_up2, ...  (Upsample, Conv, LeakyReLU triples)
# model.{3n+2}                conv_hr
# model.{3n+4}                conv_last

_OLD_BODY = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_TOP = re.compile(r"^model\.(\d+)\.(weight|bias)$")
_OLD_TRUNK = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")


def is_esrgan_layout(state: dict[str, torch.Tensor]) -> bool:
    """True if `state` uses the original ESRGAN key layout."""
    return "model.0.weight" in state and any(k.startswith("model.1.sub.") for k in state)


def convert_esrgan_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map an original-ESRGAN state dict onto the BasicSR `RRDBNet` key layout.

    Raises ValueError on keys that do not fit the layout.
    """
    top = sorted({int(m.group(1)) for k in state if (m := _OLD_TOP.match(k))})
    if not top or top[0] != 0:
        raise ValueError("no model.0 convolution")
    last = top[-1]
    if (last - 4) % 3 != 0 or last < 4:
        raise ValueError(f"unexpected last layer index model.{last}")
    num_up = (last - 4) // 3
    names = {0: "conv_first", last - 2: "conv_hr", last: "conv_last"}
    for i in range(num_up):
        names[3 + 3 * i] = f"conv_up{i + 1}"
    if set(top) != set(names):
        raise ValueError(f"unexpected top-level layers {top}")
    trunk = sorted({int(m.group(1)) for k in state if (m := _OLD_TRUNK.match(k))})
    if len(trunk) != 1:
        raise ValueError("no trunk convolution model.1.sub.<N>")
    num_block = trunk[0]

    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if m := _OLD_BODY.match(key):
            block, rdb, conv, kind = m.groups()
            if int(block) >= num_block:
                raise ValueError(f"unexpected key {key}")
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif m := _OLD_TRUNK.match(key):
            out[f"conv_body.{m.group(2)}"] = value
        elif m := _OLD_TOP.match(key):
            out[f"{names[int(m.group(1))]}.{m.group(2)}"] = value
        else:
            raise ValueError(f"unexpected key {key}")
    return out


# -- the intermediate (mmsr / old BasicSR) layout ------------------------------------
# conv_first, RRDB_trunk.N.RDBk.convj, trunk_conv, upconv1, upconv2, HRconv, conv_last
_MMSR_RENAMES = (
    (re.compile(r"^RRDB_trunk\.(\d+)\.RDB(\d)\."), r"body.\1.rdb\2."),
    (re.compile(r"^trunk_conv\."), "conv_body."),
    (re.compile(r"^upconv(\d)\."), r"conv_up\1."),
    (re.compile(r"^HRconv\."), "conv_hr."),
)


def is_mmsr_layout(state: dict[str, torch.Tensor]) -> bool:
    """True if `state` uses the RRDB_trunk / trunk_conv / HRconv key layout."""
    return "trunk_conv.weight" in state and any(k.startswith("RRDB_trunk.") for k in state)


def convert_mmsr_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map an RRDB_trunk-style state dict onto the BasicSR `RRDBNet` key layout."""
    out = {}
    for key, value in state.items():
        new = key
        for pattern, repl in _MMSR_RENAMES:
            new = pattern.sub(repl, new)
        out[new] = value
    return out
