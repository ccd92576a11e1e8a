"""ProSR: Wang, Perazzi, McWilliams, Sorkine-Hornung, Sorkine-Hornung, Schroers, "A Fully
Progressive Approach to Single-Image Super-Resolution" (CVPRW 2018).

A pyramid of ×2 levels; level i works at 2^(i−1) times the input's resolution. To upscale
by 2^L the image (0..255 minus DIV2K's mean) goes through that scale's own 3×3 input conv,
then levels 1..L, each: [a 1×1 compression of the incoming features from level 2 on], its
dense compression units (DCUs), a 3×3 conv (after a 1×1 compression when the features
exceed ``max_num_feature``), and a sub-pixel ×2 upsampler (3×3 conv, pixel shuffle, ReLU);
level L's features give the residual image by a 3×3 conv, added to the bicubic upscale.

* DCU of ProSR (the full model, ``residual=True``): ``n`` dense layers (1×1 conv to
  ``bn_size · growth`` channels, ReLU, 3×3 conv to ``growth``, output concatenated to the
  input), a 1×1 compression back to the input's channels, ``x + res_factor · DCU(x)``
  (0.2), and a skip around each whole level. ProSRs (``residual=False``): plain dense
  blocks whose output (but the level's last) is compressed by ``block_compression`` (0.4),
  levels compressed by ``level_compression`` (0.5), no skips.
* Every 3×3 conv pads by reflection, as in the release (``Conv2d`` = ReflectionPad2d + conv).
* The release adds PIL's bicubic upscale (Keys a = −0.5, centred, 8-bit) of the input; here
  it is the project's MATLAB-compatible bicubic (the same kernel and grid; edges and
  rounding differ).

Published configurations: ProSR 160 initial features, growth 40, bn_size 4, levels of
9 / 3 / 1 DCUs of 8 layers, max_num_feature 312, res_factor 0.2; ProSRs 24, 12, 4, levels of
4 / 2 / 1 DCUs of 6 layers. One file serves each of its levels' scales (×2, ×4, ×8).

Key names of the module are the release's (``proSR_x*.pth``: the checkpoint's
``state_dict``): ``init_conv_K.conv.1``, ``pyramid_residual_K.compression_{K−1}.conv1``,
``pyramid_residual_K.residual_denseblock_B.dense_block.denselayerJ.conv_1`` /
``.conv_2.conv.1`` / ``….comp.conv1`` (ProSRs: ``denseblock_B.dense.denselayerJ…``,
``denseblock_B.comp.conv1``), ``pyramid_residual_K.final_conv.[final_comp.conv1,]final_conv.conv.1``,
``pyramid_residual_K_residual_upsampler.m.0.conv.1``, ``reconst_K.final_conv.conv.1``.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.models.archs.edsr import RGB_MEAN_DIV2K, RangeNorm

#: the release's ProSR levels: DCUs (each 8 dense layers) of the ×2, ×4 and ×8 levels
PROSR_LEVELS = ((8,) * 9, (8,) * 3, (8,))


class ReflectConv(nn.Module):
    """A 3×3 conv after reflection padding (the release's ``Conv2d``: ``conv.0`` pad, ``conv.1``)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Compression(nn.Module):
    """A 1×1 conv without bias (``conv1``)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(x)


class DenseLayer(nn.Module):
    """``cat(x, conv_2(relu(conv_1(x))))`` with a 1×1 bottleneck ``conv_1``."""

    def __init__(self, c_in: int, growth: int, bn_size: int):
        super().__init__()
        self.conv_1 = nn.Conv2d(c_in, bn_size * growth, 1)
        self.conv_2 = ReflectConv(bn_size * growth, growth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv_2(F.relu(self.conv_1(x)))], 1)


def dense_block(c_in: int, num_layers: int, growth: int, bn_size: int) -> nn.Sequential:
    """``denselayer1..n``: the input plus ``n · growth`` new channels."""
    return nn.Sequential(OrderedDict(
        (f"denselayer{j + 1}", DenseLayer(c_in + j * growth, growth, bn_size)) for j in range(num_layers)))


class ResidualDCU(nn.Module):
    """ProSR's DCU: ``x + res_factor · comp(dense_block(x))``."""

    def __init__(self, c_in: int, num_layers: int, growth: int, bn_size: int, res_factor: float):
        super().__init__()
        self.res_factor = res_factor
        self.dense_block = dense_block(c_in, num_layers, growth, bn_size)
        self.comp = Compression(c_in + num_layers * growth, c_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_factor * self.comp(self.dense_block(x))


def _compressed(channels: int, rate: float) -> int:
    return channels if rate <= 0 else int(rate * channels)


class ProSR(nn.Module):
    """ProSR / ProSRs (Wang et al., 2018).

    Args:
        num_in_ch: image channels (3; the output has as many).
        num_init_features: channels of the input convs (160; ProSRs 24).
        growth: dense layers' growth rate (40; 12).
        bn_size: dense layers' bottleneck factor (4).
        level_config: per level, the number of dense layers of each DCU (`PROSR_LEVELS`).
        residual: ProSR's residual DCUs (True) or ProSRs' plain dense blocks (False).
        res_factor: scaling of the residual DCUs (0.2).
        block_compression: ProSRs' compression between dense blocks (0.4).
        level_compression: compression at the start of levels 2..L (ProSRs 0.5; ≤ 0: back
            to ``num_init_features``, ProSR).
        max_num_feature: features above this are compressed before a level's last conv (312).
        upscale: the scale `forward` runs at by default (2^k, k ≤ levels; the largest).
        rgb_range, rgb_mean: the release's 0..255 images minus DIV2K's mean.
    """

    def __init__(self, num_in_ch: int = 3, num_init_features: int = 160, growth: int = 40, bn_size: int = 4,
                 level_config: tuple[tuple[int, ...], ...] = PROSR_LEVELS, residual: bool = True,
                 res_factor: float = 0.2, block_compression: float = 0.4, level_compression: float = -1.0,
                 max_num_feature: int = 312, upscale: int = 0, rgb_range: float = 255.0,
                 rgb_mean: tuple[float, ...] = RGB_MEAN_DIV2K):
        super().__init__()
        levels = len(level_config)
        self.levels = levels
        self.upscale = upscale or 2**levels
        self.residual = residual
        self.norm = RangeNorm(rgb_range, rgb_mean)
        for k in range(1, levels + 1):
            self.add_module(f"init_conv_{k}", ReflectConv(num_in_ch, num_init_features))
        features = num_init_features
        for i, blocks in enumerate(level_config):
            parts: OrderedDict[str, nn.Module] = OrderedDict()
            if i:
                out = num_init_features if level_compression <= 0 else int(level_compression * features)
                parts[f"compression_{i}"] = Compression(features, out)
                features = out
            for b, num_layers in enumerate(blocks):
                if residual:
                    parts[f"residual_denseblock_{b + 1}"] = ResidualDCU(features, num_layers, growth, bn_size,
                                                                        res_factor)
                    continue
                block: OrderedDict[str, nn.Module] = OrderedDict(dense=dense_block(features, num_layers, growth,
                                                                                   bn_size))
                features += num_layers * growth
                if b != len(blocks) - 1:
                    block["comp"] = Compression(features, _compressed(features, block_compression))
                    features = _compressed(features, block_compression)
                parts[f"denseblock_{b + 1}"] = nn.Sequential(block)
            final: OrderedDict[str, nn.Module] = OrderedDict()
            if features > max_num_feature:
                final["final_comp"] = Compression(features, max_num_feature)
                features = max_num_feature
            final["final_conv"] = ReflectConv(features, features)
            parts["final_conv"] = nn.Sequential(final)
            self.add_module(f"pyramid_residual_{i + 1}", nn.Sequential(parts))
            upsampler = nn.Module()
            upsampler.m = nn.Sequential(ReflectConv(features, 4 * features), nn.PixelShuffle(2), nn.ReLU())
            self.add_module(f"pyramid_residual_{i + 1}_residual_upsampler", upsampler)
            self.add_module(f"reconst_{i + 1}", nn.Sequential(OrderedDict(final_conv=ReflectConv(features,
                                                                                              num_in_ch))))

    def forward(self, x: torch.Tensor, scale: int | None = None) -> torch.Tensor:
        scale = int(scale or self.upscale)
        levels = int(math.log2(scale))
        if 2**levels != scale or not 1 <= levels <= self.levels:
            raise ValueError(f"this ProSR has scales {[2**k for k in range(1, self.levels + 1)]}, not ×{scale}")
        feats = getattr(self, f"init_conv_{levels}")(self.norm.forward_in(x))
        for k in range(1, levels + 1):
            out = getattr(self, f"pyramid_residual_{k}")(feats)
            feats = out + feats if self.residual else out
            feats = getattr(self, f"pyramid_residual_{k}_residual_upsampler").m(feats)
        residual = getattr(self, f"reconst_{levels}")(feats) / self.norm.rgb_range
        return residual + _bicubic(x, scale)


def _bicubic(x: torch.Tensor, scale: int) -> torch.Tensor:
    # imported here: arch_model (which holds the engine's one torch bicubic) imports this package
    from sr_desktop.engine.models.arch_model import matlab_bicubic

    return matlab_bicubic(x, scale)
