"""The residual networks: SRResNet / MSRResNet, EDSR, MDSR, RDN, RCAN.

For each published key layout, a random-weight state dict is written here with the
layout's own tensor names and shapes, detected (architecture, hyper-parameters, scale),
built, and run; the output must equal a reference forward written here with
torch.nn.functional from the papers' equations, reading the file's own tensor names (so a
wrong key mapping in `archs.detect` shows up as a different output). Tiny configurations:
2 blocks, 8-16 features, 12×12 inputs; ×2, ×3 and ×4.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.models.archs import UnsupportedStateDict, detect_architecture
from sr_desktop.engine.models.archs.detect import with_scale
from sr_desktop.engine.models.archs.edsr import EDSR
from sr_desktop.engine.models.archs.mdsr import MDSR
from sr_desktop.engine.models.archs.rcan import RCAN
from sr_desktop.engine.models.archs.rdn import RDN
from sr_desktop.engine.models.archs.srresnet import MSRResNet, SRResNet
from sr_desktop.engine.models.custom import ArchModel
from sr_desktop.engine.pipeline.tiling import run_tiled

DIV2K_MEAN = torch.tensor([0.4488, 0.4371, 0.4040])
STAGES = {2: [2], 3: [3], 4: [2, 2]}  # EDSR's sub-pixel upsampler: ×4 is two ×2 stages


class Weights(dict):
    """A state dict being written: random conv / BN / PReLU tensors under given names."""

    def __init__(self, seed: int):
        super().__init__()
        self.gen = torch.Generator().manual_seed(seed)

    def _rand(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(*shape, generator=self.gen) * scale

    def conv(self, name: str, c_out: int, c_in: int, k: int, bias: bool = True) -> None:
        self[f"{name}.weight"] = self._rand(c_out, c_in, k, k, scale=1 / math.sqrt(c_in * k * k))
        if bias:
            self[f"{name}.bias"] = self._rand(c_out, scale=0.1)

    def bn(self, name: str, c: int) -> None:
        self[f"{name}.weight"] = 1 + self._rand(c, scale=0.1)
        self[f"{name}.bias"] = self._rand(c, scale=0.1)
        self[f"{name}.running_mean"] = self._rand(c, scale=0.1)
        self[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=self.gen)
        self[f"{name}.num_batches_tracked"] = torch.tensor(100)

    def prelu(self, name: str, n: int = 1) -> None:
        self[f"{name}.weight"] = torch.rand(n, generator=self.gen) * 0.5

    def mean_shift(self, rgb_range: float = 255.0) -> None:
        """EDSR-PyTorch's fixed 1×1 convs ``sub_mean`` and ``add_mean``."""
        for name, sign in (("sub_mean", -1), ("add_mean", 1)):
            self[f"{name}.weight"] = torch.eye(3).view(3, 3, 1, 1)
            self[f"{name}.bias"] = sign * rgb_range * DIV2K_MEAN


def conv(sd: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w, sd.get(f"{name}.bias"), padding=w.shape[-1] // 2)


def bn(sd: dict, name: str, x: torch.Tensor) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    norm = (x - sd[f"{name}.running_mean"].view(shape)) / torch.sqrt(sd[f"{name}.running_var"].view(shape) + 1e-5)
    return norm * sd[f"{name}.weight"].view(shape) + sd[f"{name}.bias"].view(shape)


def check(found, sd_ref, reference, x, scale):
    """Build the detected module; its output equals `reference(sd_ref, x)`."""
    with torch.inference_mode():
        out = found.build()(x)
        ref = reference(sd_ref, x)
    assert out.shape == (x.shape[0], 3, x.shape[2] * scale, x.shape[3] * scale)
    diff = (out - ref).abs().max().item()
    # float32 rounding of the same sums in another order: measured ≤ 5.7e-7 × max|ref| (RDN, MSRResNet: 0)
    assert diff <= 2e-6 * max(1.0, ref.abs().max().item()), diff
    return diff


# -- SRResNet: the paper's network in Lornatang/SRGAN-PyTorch's layout ------------------


def srresnet_weights(nf: int, nb: int, scale: int, seed: int = 0) -> Weights:
    sd = Weights(seed)
    sd.conv("conv1.0", nf, 3, 9)
    sd.prelu("conv1.1")
    for i in range(nb):
        sd.conv(f"trunk.{i}.rcb.0", nf, nf, 3, bias=False)
        sd.bn(f"trunk.{i}.rcb.1", nf)
        sd.prelu(f"trunk.{i}.rcb.2")
        sd.conv(f"trunk.{i}.rcb.3", nf, nf, 3, bias=False)
        sd.bn(f"trunk.{i}.rcb.4", nf)
    sd.conv("conv2.0", nf, nf, 3, bias=False)
    sd.bn("conv2.1", nf)
    for j, r in enumerate(STAGES[scale]):
        sd.conv(f"upsampling.{j}.upsample_block.0", nf * r * r, nf, 3)
        sd.prelu(f"upsampling.{j}.upsample_block.2")
    sd.conv("conv3", 3, nf, 9)
    return sd


def srresnet_reference(sd, x):
    """Ledig et al.: PReLU(conv9), B × [x + BN(conv(PReLU(BN(conv x))))], BN(conv) + skip,
    sub-pixel stages with PReLU, conv9."""
    head = F.prelu(conv(sd, "conv1.0", x), sd["conv1.1.weight"])
    feat = head
    nb = len({k.split(".")[1] for k in sd if k.startswith("trunk.")})
    for i in range(nb):
        p = f"trunk.{i}.rcb"
        inner = F.prelu(bn(sd, f"{p}.1", conv(sd, f"{p}.0", feat)), sd[f"{p}.2.weight"])
        feat = feat + bn(sd, f"{p}.4", conv(sd, f"{p}.3", inner))
    feat = head + bn(sd, "conv2.1", conv(sd, "conv2.0", feat))
    j = 0
    while f"upsampling.{j}.upsample_block.0.weight" in sd:
        p = f"upsampling.{j}.upsample_block"
        up = conv(sd, f"{p}.0", feat)
        feat = F.prelu(F.pixel_shuffle(up, math.isqrt(up.shape[1] // feat.shape[1])), sd[f"{p}.2.weight"])
        j += 1
    return conv(sd, "conv3", feat)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srresnet_paper_layout(scale):
    sd = srresnet_weights(8, 2, scale, seed=scale)
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("SRResNet", scale)
    assert found.params == dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=2, upscale=scale,
                                prelu_channels=1)
    check(found, sd, srresnet_reference, torch.rand(1, 3, 12, 12), scale)  # measured ≤ 8.9e-7


# -- MSRResNet: BasicSR ---------------------------------------------------------------


def msrresnet_weights(nf: int, nb: int, scale: int, seed: int = 0) -> Weights:
    sd = Weights(seed)
    sd.conv("conv_first", nf, 3, 3)
    for i in range(nb):
        sd.conv(f"body.{i}.conv1", nf, nf, 3)
        sd.conv(f"body.{i}.conv2", nf, nf, 3)
    r = 2 if scale == 4 else scale
    sd.conv("upconv1", nf * r * r, nf, 3)
    if scale == 4:
        sd.conv("upconv2", nf * 4, nf, 3)
    sd.conv("conv_hr", nf, nf, 3)
    sd.conv("conv_last", 3, nf, 3)
    return sd


def msrresnet_reference(sd, x):
    """BasicSR's description: LeakyReLU(0.1) everywhere, residual blocks conv-ReLU-conv without
    BN, ×2 stages (one ×3), conv_hr, conv_last, plus the bilinearly upsampled input."""
    feat = F.leaky_relu(conv(sd, "conv_first", x), 0.1)
    nb = len({k.split(".")[1] for k in sd if k.startswith("body.")})
    for i in range(nb):
        feat = feat + conv(sd, f"body.{i}.conv2", F.relu(conv(sd, f"body.{i}.conv1", feat)))
    scale = 1
    for name in ("upconv1", "upconv2"):
        if f"{name}.weight" in sd:
            up = conv(sd, name, feat)
            r = math.isqrt(up.shape[1] // feat.shape[1])
            feat, scale = F.leaky_relu(F.pixel_shuffle(up, r), 0.1), scale * r
    out = conv(sd, "conv_last", F.leaky_relu(conv(sd, "conv_hr", feat), 0.1))
    return out + F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_msrresnet_basicsr_layout(scale):
    sd = msrresnet_weights(8, 2, scale, seed=10 + scale)
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("MSRResNet", scale)
    assert found.params == dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=2, upscale=scale)
    check(found, sd, msrresnet_reference, torch.rand(1, 3, 12, 12), scale)  # measured 0


# -- EDSR: EDSR-PyTorch (released edsr_*.pt) and BasicSR ----------------------------------


def edsr_weights(nf: int, nb: int, scale: int, seed: int = 0) -> Weights:
    """EDSR-PyTorch's layout, as its released ``edsr_baseline_x2-*.pt`` files."""
    sd = Weights(seed)
    sd.mean_shift()
    sd.conv("head.0", nf, 3, 3)
    for i in range(nb):
        sd.conv(f"body.{i}.body.0", nf, nf, 3)
        sd.conv(f"body.{i}.body.2", nf, nf, 3)
    sd.conv(f"body.{nb}", nf, nf, 3)
    for j, r in enumerate(STAGES[scale]):
        sd.conv(f"tail.0.{2 * j}", nf * r * r, nf, 3)
    sd.conv("tail.1", 3, nf, 3)
    return sd


def sub_pixel_stages(sd, prefix, feat):
    """The sub-pixel upsampler: conv ``prefix.0``, ``prefix.2``, … each followed by a pixel
    shuffle by the factor its output channels give."""
    j = 0
    while f"{prefix}.{j}.weight" in sd:
        up = conv(sd, f"{prefix}.{j}", feat)
        feat = F.pixel_shuffle(up, math.isqrt(up.shape[1] // feat.shape[1]))
        j += 2
    return feat


def edsr_reference(sd, x, res_scale=1.0):
    """Lim et al.: the image in 0..255 minus the mean (sub_mean), head, blocks
    x + res_scale·conv(ReLU(conv x)), conv + long skip, sub-pixel stages, conv, add_mean."""
    h = conv(sd, "sub_mean", x * 255)
    h = conv(sd, "head.0", h)
    nb = max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    feat = h
    for i in range(nb):
        feat = feat + res_scale * conv(sd, f"body.{i}.body.2", F.relu(conv(sd, f"body.{i}.body.0", feat)))
    feat = h + conv(sd, f"body.{nb}", feat)
    feat = sub_pixel_stages(sd, "tail.0", feat)
    return conv(sd, "add_mean", conv(sd, "tail.1", feat)) / 255


def to_basicsr_edsr(sd: dict) -> dict:
    """BasicSR's names for an EDSR-PyTorch state dict (its mean and range are BasicSR's defaults)."""
    nb = max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    out = {}
    for key, value in sd.items():
        p = key.split(".")
        if p[0] in ("sub_mean", "add_mean"):
            continue
        if p[0] == "head":
            out[f"conv_first.{p[-1]}"] = value
        elif p[0] == "body" and int(p[1]) == nb:
            out[f"conv_after_body.{p[-1]}"] = value
        elif p[0] == "body":
            out[f"body.{p[1]}.conv{1 if p[3] == '0' else 2}.{p[-1]}"] = value
        elif p[:2] == ["tail", "0"]:
            out[f"upsample.{p[2]}.{p[-1]}"] = value
        else:
            out[f"conv_last.{p[-1]}"] = value
    return out


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_edsr_pytorch_layout(scale):
    sd = edsr_weights(8, 2, scale, seed=20 + scale)
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("EDSR", scale)
    params = dict(found.params)
    assert np.allclose(params.pop("rgb_mean"), DIV2K_MEAN.numpy(), atol=1e-6)
    assert params == dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=2, upscale=scale,
                          res_scale=1.0, rgb_range=255.0)
    check(found, sd, edsr_reference, torch.rand(1, 3, 12, 12), scale)  # measured ≤ 7.5e-7


@pytest.mark.parametrize("scale", [2, 4])
def test_edsr_basicsr_layout(scale):
    sd = edsr_weights(8, 2, scale, seed=30 + scale)
    basicsr = to_basicsr_edsr(sd)
    assert "conv_after_body.weight" in basicsr and "upsample.0.weight" in basicsr
    found = detect_architecture(basicsr)
    assert (found.arch, found.scale, found.params["num_block"], found.params["rgb_range"]) == ("EDSR", scale, 2, 255)
    check(found, sd, edsr_reference, torch.rand(2, 3, 12, 10), scale)  # measured ≤ 9.6e-7


def test_edsr_full_width_scales_residuals_by_a_tenth():
    """256 features is the full EDSR (res_scale 0.1): the scaling is not in the weights."""
    sd = edsr_weights(256, 1, 2, seed=40)
    found = detect_architecture(dict(sd))
    assert found.params["num_feat"] == 256 and found.params["res_scale"] == 0.1
    check(found, sd, lambda s, x: edsr_reference(s, x, res_scale=0.1), torch.rand(1, 3, 8, 8), 2)  # 4.8e-7


def test_edsr_mean_shift_with_other_std_is_refused():
    sd = edsr_weights(8, 1, 2)
    sd["sub_mean.weight"] = sd["sub_mean.weight"] / 0.5
    with pytest.raises(UnsupportedStateDict, match="rgb_std"):
        detect_architecture(dict(sd))


def test_a_file_that_does_not_fit_is_told_in_its_own_layer_names():
    """The refusal named this app's renamed keys (body.0.conv2.weight), which the user's
    EDSR-PyTorch file does not hold; and a file without its mean shifts was told
    "missing conv_first.weight", a layer of the other (BasicSR) layout."""
    sd = edsr_weights(8, 1, 2)
    sd["body.0.body.2.weight"] = torch.zeros(8, 8, 5, 5)
    with pytest.raises(UnsupportedStateDict, match=r"body\.0\.body\.2\.weight is 8×8×5×5 in the file"):
        detect_architecture(dict(sd)).build()
    sd = edsr_weights(8, 1, 2)
    del sd["body.0.body.2.weight"]
    with pytest.raises(UnsupportedStateDict, match="missing from the file .first, in this app's layer names"):
        detect_architecture(dict(sd)).build()
    sd = edsr_weights(8, 1, 2)
    for key in ("sub_mean.weight", "sub_mean.bias"):
        del sd[key]
    with pytest.raises(UnsupportedStateDict, match="sub_mean / add_mean incomplete"):
        detect_architecture(dict(sd))


# -- MDSR: EDSR-PyTorch ---------------------------------------------------------------------


def mdsr_weights(nf: int, nb: int, scales=(2, 3, 4), seed: int = 0) -> Weights:
    sd = Weights(seed)
    sd.mean_shift()
    sd.conv("head.0", nf, 3, 3)
    for b in range(len(scales)):
        for j in range(2):
            sd.conv(f"pre_process.{b}.{j}.body.0", nf, nf, 5)
            sd.conv(f"pre_process.{b}.{j}.body.2", nf, nf, 5)
    for i in range(nb):
        sd.conv(f"body.{i}.body.0", nf, nf, 3)
        sd.conv(f"body.{i}.body.2", nf, nf, 3)
    sd.conv(f"body.{nb}", nf, nf, 3)
    for b, s in enumerate(scales):
        for j, r in enumerate(STAGES[s]):
            sd.conv(f"upsample.{b}.{2 * j}", nf * r * r, nf, 3)
    sd.conv("tail.0", 3, nf, 3)
    return sd


def mdsr_reference(sd, x, branch):
    """Lim et al.'s MDSR: shared head, the branch's two 5×5 residual blocks, shared body +
    long skip, the branch's upsampler, shared tail; EDSR's 0..255 and mean shifts."""
    def res(prefix, t):
        return t + conv(sd, f"{prefix}.body.2", F.relu(conv(sd, f"{prefix}.body.0", t)))

    h = conv(sd, "head.0", conv(sd, "sub_mean", x * 255))
    h = res(f"pre_process.{branch}.1", res(f"pre_process.{branch}.0", h))
    nb = max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    feat = h
    for i in range(nb):
        feat = res(f"body.{i}", feat)
    feat = h + conv(sd, f"body.{nb}", feat)
    feat = sub_pixel_stages(sd, f"upsample.{branch}", feat)
    return conv(sd, "add_mean", conv(sd, "tail.0", feat)) / 255


def test_mdsr_every_branch():
    sd = mdsr_weights(8, 2, seed=50)
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("MDSR", 4)
    assert found.params["scales"] == (2, 3, 4) and found.params["num_block"] == 2
    module = found.build()
    x = torch.rand(1, 3, 12, 12)
    for branch, scale in enumerate((2, 3, 4)):
        module.set_scale(scale)
        with torch.inference_mode():
            out, ref = module(x), mdsr_reference(sd, x, branch)
        assert out.shape[-1] == 12 * scale
        assert (out - ref).abs().max().item() <= 5e-6  # measured ≤ 1.3e-6
    with pytest.raises(ValueError, match="not ×8"):
        module.set_scale(8)


def test_mdsr_scale_is_picked_when_loading():
    sd = mdsr_weights(8, 1, seed=51)
    found = detect_architecture(dict(sd))
    x = torch.rand(1, 3, 10, 10)
    for branch, scale in enumerate((2, 3, 4)):
        at = with_scale(found, scale)
        assert (at.scale, at.params["upscale"], at.params["scales"]) == (scale, scale, (2, 3, 4))
        with torch.inference_mode():
            assert (at.build()(x) - mdsr_reference(sd, x, branch)).abs().max().item() <= 5e-6  # measured ≤ 1e-6
    with pytest.raises(UnsupportedStateDict, match=r"scales \[2, 3, 4\], not ×8"):
        with_scale(found, 8)
    edsr_x2 = detect_architecture(dict(edsr_weights(8, 1, 2)))
    assert with_scale(edsr_x2, 2).params == edsr_x2.params
    with pytest.raises(UnsupportedStateDict, match="not ×3"):
        with_scale(edsr_x2, 3)


# -- RDN: EDSR-PyTorch --------------------------------------------------------------------


def rdn_weights(g0: int, d: int, c: int, g: int, scale: int, seed: int = 0) -> Weights:
    sd = Weights(seed)
    sd.conv("SFENet1", g0, 3, 3)
    sd.conv("SFENet2", g0, g0, 3)
    for i in range(d):
        for m in range(c):
            sd.conv(f"RDBs.{i}.convs.{m}.conv.0", g, g0 + m * g, 3)
        sd.conv(f"RDBs.{i}.LFF", g0, g0 + c * g, 1)
    sd.conv("GFF.0", g0, d * g0, 1)
    sd.conv("GFF.1", g0, g0, 3)
    width = g0
    for j, r in enumerate(STAGES[scale]):
        sd.conv(f"UPNet.{2 * j}", g * r * r, width, 3)
        width = g
    sd.conv(f"UPNet.{2 * len(STAGES[scale])}", 3, g, 3)
    return sd


def rdn_reference(sd, x):
    """Zhang et al.: F-1 = conv(x), F0 = conv(F-1); each RDB concatenates ReLU(conv) outputs,
    fuses them with a 1×1 conv and adds its input; GFF = conv3(conv1(cat of RDB outputs)) + F-1;
    sub-pixel upsampling, conv. EDSR-PyTorch feeds 0..255."""
    f_1 = conv(sd, "SFENet1", x * 255)
    feat = conv(sd, "SFENet2", f_1)
    outs, i = [], 0
    while f"RDBs.{i}.LFF.weight" in sd:
        dense, m = feat, 0
        while f"RDBs.{i}.convs.{m}.conv.0.weight" in sd:
            dense = torch.cat([dense, F.relu(conv(sd, f"RDBs.{i}.convs.{m}.conv.0", dense))], 1)
            m += 1
        feat = feat + conv(sd, f"RDBs.{i}.LFF", dense)
        outs.append(feat)
        i += 1
    feat = conv(sd, "GFF.1", conv(sd, "GFF.0", torch.cat(outs, 1))) + f_1
    j = 0
    while f"UPNet.{j + 2}.weight" in sd:
        up = conv(sd, f"UPNet.{j}", feat)
        growth = sd[f"UPNet.{j + 2}.weight"].shape[1]
        feat = F.pixel_shuffle(up, math.isqrt(up.shape[1] // growth))
        j += 2
    return conv(sd, f"UPNet.{j}", feat) / 255


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_rdn_edsr_pytorch_layout(scale):
    sd = rdn_weights(8, 2, 3, 4, scale, seed=60 + scale)
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("RDN", scale)
    assert found.params == dict(num_in_ch=3, num_out_ch=3, g0=8, num_blocks=2, num_layers=3, growth=4,
                                upscale=scale)
    check(found, sd, rdn_reference, torch.rand(1, 3, 12, 12), scale)  # measured 0


# -- RCAN: official / EDSR-PyTorch (RCAN_BIX*.pt) and BasicSR ----------------------------


def rcan_weights(nf: int, groups: int, blocks: int, reduction: int, scale: int, seed: int = 0) -> Weights:
    sd = Weights(seed)
    sd.mean_shift()
    sd.conv("head.0", nf, 3, 3)
    for g in range(groups):
        for b in range(blocks):
            p = f"body.{g}.body.{b}.body"
            sd.conv(f"{p}.0", nf, nf, 3)
            sd.conv(f"{p}.2", nf, nf, 3)
            sd.conv(f"{p}.3.conv_du.0", nf // reduction, nf, 1)
            sd.conv(f"{p}.3.conv_du.2", nf, nf // reduction, 1)
        sd.conv(f"body.{g}.body.{blocks}", nf, nf, 3)
    sd.conv(f"body.{groups}", nf, nf, 3)
    for j, r in enumerate(STAGES[scale]):
        sd.conv(f"tail.0.{2 * j}", nf * r * r, nf, 3)
    sd.conv("tail.1", 3, nf, 3)
    return sd


def rcan_reference(sd, x):
    """Zhang et al.: RCAB = x + CA(conv(ReLU(conv x))) with CA(f) = f·σ(W_U ReLU(W_D mean_hw f));
    RG = x + conv(RCABs); RIR = head + conv(RGs); EDSR's upsampler and mean shifts (0..255)."""
    h = conv(sd, "head.0", conv(sd, "sub_mean", x * 255))
    groups = max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    feat = h
    for g in range(groups):
        blocks = max(int(k.split(".")[3]) for k in sd if k.startswith(f"body.{g}.body."))
        gin = feat
        for b in range(blocks):
            p = f"body.{g}.body.{b}.body"
            res = conv(sd, f"{p}.2", F.relu(conv(sd, f"{p}.0", feat)))
            weight = torch.sigmoid(conv(sd, f"{p}.3.conv_du.2",
                                        F.relu(conv(sd, f"{p}.3.conv_du.0", res.mean((2, 3), keepdim=True)))))
            feat = feat + res * weight
        feat = gin + conv(sd, f"body.{g}.body.{blocks}", feat)
    feat = h + conv(sd, f"body.{groups}", feat)
    feat = sub_pixel_stages(sd, "tail.0", feat)
    return conv(sd, "add_mean", conv(sd, "tail.1", feat)) / 255


def to_basicsr_rcan(sd: dict) -> dict:
    """BasicSR's names for an official-layout RCAN state dict."""
    groups = max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    out = {}
    for key, value in sd.items():
        p = key.split(".")
        if p[0] in ("sub_mean", "add_mean"):
            continue
        if p[0] == "head":
            name = "conv_first"
        elif p[0] == "body" and int(p[1]) == groups:
            name = "conv_after_body"
        elif p[0] == "body" and len(p) == 5:
            name = f"body.{p[1]}.conv"
        elif p[0] == "body" and p[5] == "3":
            name = f"body.{p[1]}.residual_group.{p[3]}.rcab.3.attention.{1 if p[7] == '0' else 3}"
        elif p[0] == "body":
            name = f"body.{p[1]}.residual_group.{p[3]}.rcab.{p[5]}"
        elif p[:2] == ["tail", "0"]:
            name = f"upsample.{p[2]}"
        else:
            name = "conv_last"
        out[f"{name}.{p[-1]}"] = value
    return out


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_rcan_official_layout(scale):
    sd = rcan_weights(16, 2, 2, 4, scale, seed=70 + scale)
    assert "body.1.body.0.body.3.conv_du.0.weight" in sd and "body.1.body.2.weight" in sd and "body.2.weight" in sd
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("RCAN", scale)
    params = dict(found.params)
    assert np.allclose(params.pop("rgb_mean"), DIV2K_MEAN.numpy(), atol=1e-6)
    assert params == dict(num_in_ch=3, num_out_ch=3, num_feat=16, num_group=2, num_block=2, squeeze_factor=4,
                          upscale=scale, res_scale=1.0, rgb_range=255.0)
    check(found, sd, rcan_reference, torch.rand(1, 3, 12, 12), scale)  # measured ≤ 2.1e-6


@pytest.mark.parametrize("scale", [2, 4])
def test_rcan_basicsr_layout(scale):
    sd = rcan_weights(16, 2, 3, 8, scale, seed=80 + scale)
    basicsr = to_basicsr_rcan(sd)
    assert "body.1.residual_group.2.rcab.3.attention.3.weight" in basicsr and "body.1.conv.weight" in basicsr
    found = detect_architecture(basicsr)
    assert (found.arch, found.scale) == ("RCAN", scale)
    assert (found.params["num_group"], found.params["num_block"], found.params["squeeze_factor"]) == (2, 3, 8)
    check(found, sd, rcan_reference, torch.rand(1, 3, 12, 12), scale)  # measured ≤ 2.3e-6


# -- the published configurations, from shapes alone ---------------------------------------


PUBLISHED = [  # (module class, published hyper-parameters, expected tile context)
    (SRResNet, dict(num_feat=64, num_block=16, upscale=4, prelu_channels=1), 40),
    (MSRResNet, dict(num_feat=64, num_block=16, upscale=4), 36),
    (EDSR, dict(num_feat=64, num_block=16, upscale=2, res_scale=1.0), 36),  # baseline
    (EDSR, dict(num_feat=256, num_block=32, upscale=4, res_scale=0.1), 48),  # full
    (MDSR, dict(num_feat=64, num_block=80, scales=(2, 3, 4), upscale=4), 48),
    (MDSR, dict(num_feat=64, num_block=16, scales=(2, 3, 4), upscale=4), 44),  # baseline
    (RDN, dict(g0=64, num_blocks=16, num_layers=8, growth=64, upscale=4), 48),
    (RDN, dict(g0=64, num_blocks=20, num_layers=6, growth=32, upscale=3), 48),
    (RCAN, dict(num_feat=64, num_group=10, num_block=20, squeeze_factor=16, upscale=4), 48),
]


@pytest.mark.parametrize("cls,params,context", PUBLISHED, ids=lambda v: getattr(v, "__name__", None))
def test_published_configurations_are_recognised(cls, params, context):
    """Full-size networks on the meta device (shapes, no memory): the hyper-parameters
    come back from the shapes, and the context is the receptive radius capped at 48."""
    with torch.device("meta"):
        state = cls(**params).state_dict()
    found = detect_architecture(state)
    assert found.arch == cls.__name__ and found.scale == params["upscale"]
    assert {k: found.params[k] for k in params} == params
    assert found.support.context_for(found.params) == context


# -- tiling -------------------------------------------------------------------------------------


def _tiled_vs_whole(found, size=48, tile=16):
    """The engine's tiled run (`run_tiled`, the registry's context) and the whole-image run."""
    model = ArchModel(found.build(), found.arch, found.scale, "t", params=found.params)
    model.context = found.support.context_for(found.params)
    src = np.random.default_rng(0).random((size, size, 3), dtype=np.float32)
    whole = np.empty((size * found.scale, size * found.scale, 3), np.float32)
    tiled = np.empty_like(whole)
    with torch.inference_mode():
        run_tiled(model, src, whole, tile=0)
        run_tiled(model, src, tiled, tile=tile)
    return model.context, whole, tiled


def test_shallow_residual_nets_tile_exactly():
    """Context = the whole receptive radius when it is under the cap: tiles are exact."""
    found = detect_architecture(dict(edsr_weights(8, 2, 2, seed=90)))
    context, whole, tiled = _tiled_vs_whole(found)
    assert context == 8  # 1 + 2·2 + 1 convs, ×2 upsampler conv, conv_last at ×2 → 7.5
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=5e-6)  # measured 8.0e-7 (summation order)


def test_rcan_tiles_are_not_independent():
    """Channel attention averages over the whole input it is given, so a tile's attention
    weights differ from the whole image's even with the full receptive radius as context:
    RCAN's tiles are close to, but not, the whole-image result (random weights, 48 px image,
    24 px tiles + 14 px context). The model is to be run whole (``tileable = False``)."""
    found = detect_architecture(dict(rcan_weights(16, 2, 2, 4, 2, seed=91)))
    context, whole, tiled = _tiled_vs_whole(found, size=48, tile=24)
    assert context == 14  # the whole receptive radius: 1 + 2·(2·2 + 1) + 1 + ×2 upsampler + conv_last
    psnr = 10 * math.log10(1 / float(np.mean((tiled - whole) ** 2)))
    assert 32 < psnr < 60, psnr  # measured 33.2 dB (41-51 dB with other seeds and tile sizes)


# -- end to end: models add, upscale, bench ----------------------------------------------------


def test_edsr_checkpoint_add_upscale_bench(tmp_path, capsys):
    sd = edsr_weights(8, 2, 2, seed=99)
    for key in sd:  # small weights keep the random network's output within 0..1
        if key.startswith(("head", "body", "tail")) and key.endswith("weight"):
            sd[key] = sd[key] * 0.05
    path = tmp_path / "edsr_baseline_x2-tiny.pt"
    torch.save(dict(sd), path)
    assert main(["models", "add", str(path), "--name", "tiny edsr", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["arch"] == "EDSR" and added["scales"] == [2]
    model_id = added["id"]

    src = tmp_path / "in.png"
    rgb = np.random.default_rng(1).integers(0, 256, (14, 10, 3), dtype=np.uint8)
    PILImage.fromarray(rgb).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", model_id, "-q"]) == 0
    assert PILImage.open(tmp_path / "out.png").size == (20, 28)

    data_dir = tmp_path / "set"
    data_dir.mkdir()
    y, x = np.mgrid[0:32, 0:36]
    hr = np.stack([128 + 80 * np.sin(x / 4.0), 128 + 80 * np.cos(y / 5.0), 100 + 50 * np.sin((x - y) / 6.0)], 2)
    PILImage.fromarray(np.clip(hr, 0, 255).astype(np.uint8)).save(data_dir / "a.png")
    out_json = tmp_path / "bench.json"
    rc = main(["bench", "--dataset", str(data_dir), "--model", model_id, "--scale", "2", "--device", "cpu",
               "--json", str(out_json), "--quiet"])
    assert rc == 0
    data = json.loads(out_json.read_text())
    assert data["scale"] == 2 and [m["model"] for m in data["models"]] == [model_id]
    result = data["models"][0]
    # small weights: the output is about the DIV2K mean colour, a flat grey-beige image
    assert len(result["images"]) == 1 and 17 < result["psnr_y"] < 20, result["psnr_y"]  # measured 18.14 dB
    assert 0.35 < result["ssim_y"] < 0.45  # measured 0.392


def test_mdsr_checkpoint_serves_every_branch_and_rcan_runs_whole(tmp_path, capsys):
    """An added MDSR offers its three branches through the CLI, each the branch's output;
    an added RCAN is run whole (its tiles are not independent)."""
    from sr_desktop.engine.models.arch_model import PRE_PAD, pad_border
    from sr_desktop.engine.models.loader import load_model

    sd = mdsr_weights(8, 1, seed=52)
    for key in sd:  # halved weights: outputs within 0..1 that still vary (std ≈ 10 levels)
        if key.startswith(("head", "body", "pre_process", "upsample", "tail")) and key.endswith("weight"):
            sd[key] = sd[key] * 0.5
    path = tmp_path / "mdsr-tiny.pt"
    torch.save(dict(sd), path)
    assert main(["models", "add", str(path), "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["arch"] == "MDSR" and added["scales"] == [2, 3, 4]
    src = tmp_path / "in.png"
    rgb = np.random.default_rng(2).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    PILImage.fromarray(rgb).save(src)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255
    for branch, scale in enumerate((2, 3, 4)):
        out = tmp_path / f"out{scale}.png"
        assert main(["upscale", str(src), "-o", str(out), "--model", added["id"], "--scale", str(scale),
                     "--tile", "0", "-q"]) == 0
        got = np.asarray(PILImage.open(out), dtype=np.float64)
        with torch.inference_mode():  # the wrapper pads the border by PRE_PAD before the network
            ref = mdsr_reference(dict(sd), pad_border(x, PRE_PAD, PRE_PAD, PRE_PAD, PRE_PAD), branch)
        p = PRE_PAD * scale
        ref = ref[..., p:-p, p:-p].clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255
        assert got.shape == (10 * scale, 12 * scale, 3)
        assert np.abs(got - ref).max() <= 1.0  # 8-bit rounding of the same branch's output

    rcan = tmp_path / "rcan-tiny.pt"
    torch.save(dict(rcan_weights(8, 1, 1, 4, 2, seed=93)), rcan)
    assert main(["models", "add", str(rcan), "--json"]) == 0
    rcan_id = json.loads(capsys.readouterr().out)["id"]
    assert load_model(rcan_id).tileable is False
