"""SPSR: Structure-Preserving Super Resolution with Gradient Guidance (Ma, Gu, Tang, Lu,
Zhou; CVPR 2020) — its generator.

Two branches. The SR branch is ESRGAN's RRDB network up to its last high-resolution conv
(`rrdbnet.RRDB` blocks, a conv with a long skip, nearest ×2 + conv + LeakyReLU(0.2) per
upsampling stage, two HR convs) and yields features rather than an image. The gradient
branch turns the LR image's gradient map (`gradient_map`) into an SR gradient map: a conv,
then ``num_grad_block`` stages that each concatenate the SR branch's features after
another ``tap_every`` RRDBs, run one RRDB on the 2·nf channels and fuse back to nf with a
3×3 conv; a conv with a skip from the branch's first features, the same upsampler, two HR
convs, and a 1×1 conv to the gradient map it is trained against. Fusion: the branch's HR
features are concatenated with the SR branch's, an RRDB, a 3×3 conv to nf, a conv +
LeakyReLU and a conv to RGB. The released generator: nf = 64, gc = 32, 23 RRDBs tapped
after 5, 10, 15 and 20 by 4 gradient stages, ×4, RGB 0..1.

Key names of the module: ``conv_first``, ``body.N.rdbK.convJ``, ``conv_body``,
``conv_upI``, ``conv_hr0``, ``conv_hr1`` (SR branch); ``grad_conv_first``,
``grad_blocks.K``, ``grad_fuse.K``, ``grad_conv_body``, ``grad_upI``, ``grad_hr0``,
``grad_hr1``, ``grad_out``; ``fuse_block``, ``fuse_conv``, ``fuse_hr``, ``conv_last``. The
official release's ``netG`` layout (``model.0``, ``model.1.sub.N.RDBK.convJ.0``, ``b_*``,
``f_*``, ``conv_w``) is renamed to these by `archs.detect`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.models.archs.rrdbnet import RRDB

#: central differences of the paper's gradient operator, as 3×3 kernels (vertical, horizontal)
DIFF_V = ((0.0, -1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0))
DIFF_H = ((0.0, 0.0, 0.0), (-1.0, 0.0, 1.0), (0.0, 0.0, 0.0))
#: added under the square root (as the release does) so the map's gradient stays finite at 0
GRADIENT_EPS = 1e-6


def gradient_map(x: torch.Tensor) -> torch.Tensor:
    """The gradient-magnitude map M(I) of SPSR (§3.1), per channel.

    ``M = sqrt(Dx² + Dy² + 1e-6)`` with ``Dx(i, j) = I(i, j+1) − I(i, j−1)`` and
    ``Dy(i, j) = I(i+1, j) − I(i−1, j)``, zero outside the image (the release's
    ``Get_gradient_nopadding``: "no padding" of the image, the conv's zeros at the border).
    """
    c = x.shape[1]
    kernels = torch.tensor((DIFF_V, DIFF_H), dtype=x.dtype, device=x.device).unsqueeze(1)
    diffs = F.conv2d(x.reshape(-1, 1, *x.shape[2:]), kernels, padding=1)
    magnitude = torch.sqrt(diffs.pow(2).sum(1, keepdim=True) + GRADIENT_EPS)
    return magnitude.reshape(x.shape[0], c, *x.shape[2:])


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def _upsample(convs: list[nn.Module], feat: torch.Tensor) -> torch.Tensor:
    for conv in convs:
        feat = _lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
    return feat


class SPSRNet(nn.Module):
    """SPSR's generator (Ma et al., 2020).

    Args:
        num_in_ch, num_out_ch: image channels (3).
        num_feat: feature channels nf (64).
        num_block: RRDBs of the SR branch (23).
        num_grow_ch: growth channels of every RRDB's dense blocks (32).
        num_upsample: ×2 upsampling stages; scale = 2**num_upsample (2 → ×4).
        num_grad_block: gradient-branch stages, each fed by the SR branch (4).
        tap_every: RRDBs between two taps of the SR branch (5: after blocks 5, 10, 15, 20).
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 23,
                 num_grow_ch: int = 32, num_upsample: int = 2, num_grad_block: int = 4, tap_every: int = 5):
        super().__init__()
        if num_grad_block * tap_every > num_block or tap_every < 1:
            raise ValueError(f"{num_grad_block} taps every {tap_every} RRDBs do not fit in {num_block}")
        nf = num_feat
        self.tap_every = tap_every

        def conv(c_in: int, c_out: int, k: int = 3) -> nn.Conv2d:
            return nn.Conv2d(c_in, c_out, k, 1, k // 2)

        self.conv_first = conv(num_in_ch, nf)
        self.body = nn.ModuleList(RRDB(nf, num_grow_ch) for _ in range(num_block))
        self.conv_body = conv(nf, nf)
        for i in range(1, num_upsample + 1):
            setattr(self, f"conv_up{i}", conv(nf, nf))
            setattr(self, f"grad_up{i}", conv(nf, nf))
        self.num_upsample = num_upsample
        self.conv_hr0, self.conv_hr1 = conv(nf, nf), conv(nf, nf)

        self.grad_conv_first = conv(num_in_ch, nf)
        self.grad_blocks = nn.ModuleList(RRDB(2 * nf, num_grow_ch) for _ in range(num_grad_block))
        self.grad_fuse = nn.ModuleList(conv(2 * nf, nf) for _ in range(num_grad_block))
        self.grad_conv_body = conv(nf, nf)
        self.grad_hr0, self.grad_hr1 = conv(nf, nf), conv(nf, nf)
        self.grad_out = conv(nf, num_out_ch, 1)

        self.fuse_block = RRDB(2 * nf, num_grow_ch)
        self.fuse_conv = conv(2 * nf, nf)
        self.fuse_hr = conv(nf, nf)
        self.conv_last = conv(nf, num_out_ch)

    @property
    def scale(self) -> int:
        """Output size / input size."""
        return 2**self.num_upsample

    def _ups(self, prefix: str) -> list[nn.Module]:
        return [getattr(self, f"{prefix}{i}") for i in range(1, self.num_upsample + 1)]

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(sr, sr_gradient, lr_gradient)``: the SR image, the gradient branch's SR gradient
        map (its output, trained against M of the HR image) and M of the input."""
        lr_gradient = gradient_map(x)
        shallow = self.conv_first(x)
        feat, taps = shallow, []
        for i, block in enumerate(self.body):
            feat = block(feat)
            if (i + 1) % self.tap_every == 0 and len(taps) < len(self.grad_blocks):
                taps.append(feat)
        feat = _upsample(self._ups("conv_up"), shallow + self.conv_body(feat))
        sr_feat = self.conv_hr1(_lrelu(self.conv_hr0(feat)))

        grad_shallow = self.grad_conv_first(lr_gradient)
        grad = grad_shallow
        for block, fuse, tap in zip(self.grad_blocks, self.grad_fuse, taps, strict=True):
            grad = fuse(block(torch.cat((grad, tap), 1)))
        grad = _upsample(self._ups("grad_up"), grad_shallow + self.grad_conv_body(grad))
        grad_feat = self.grad_hr1(_lrelu(self.grad_hr0(grad)))

        fused = self.fuse_conv(self.fuse_block(torch.cat((grad_feat, sr_feat), 1)))
        sr = self.conv_last(_lrelu(self.fuse_hr(fused)))
        return sr, self.grad_out(grad_feat), lr_gradient

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[0]
