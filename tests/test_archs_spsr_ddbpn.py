"""SPSR's generator (official netG layout) and D-DBPN (EDSR-PyTorch's ``ddbpn`` layout).

As in test_archs_residual.py: a random-weight state dict is written here in the published
layout's own names and shapes, detected (architecture, hyper-parameters, scale), built
(after detect.py's checks on the meta device) and run; the output must equal a reference
forward written here with torch.nn.functional from the papers' equations, reading the
file's own tensor names. Tiny configurations: 4-8 features, a few blocks, 8-12 px inputs.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image as PILImage
from test_archs_residual import DIV2K_MEAN, Weights, conv

from sr_desktop.cli.main import main
from sr_desktop.engine.models.archs import UnsupportedStateDict, detect_architecture, unwrap_state_dict
from sr_desktop.engine.models.archs.spsr import SPSRNet, gradient_map
from sr_desktop.engine.models.custom import ArchModel
from sr_desktop.engine.pipeline.tiling import run_tiled


def lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def max_diff(out: torch.Tensor, ref: torch.Tensor) -> float:
    return (out - ref).abs().max().item() / max(1.0, ref.abs().max().item())


# -- SPSR: the gradient operator ---------------------------------------------------------------


def test_gradient_map_of_a_known_image():
    """M = sqrt(Dx² + Dy² + 1e-6) with central differences and zeros outside the image:
    for I(i, j) = 3i + j on 3×3, worked by hand (e.g. the centre: Dx = 5 − 3, Dy = 7 − 1)."""
    image = torch.arange(9.0).view(1, 1, 3, 3)
    squared = torch.tensor([[10.0, 20.0, 26.0], [52.0, 40.0, 52.0], [58.0, 20.0, 74.0]])
    got = gradient_map(torch.cat([image, 2 * image], 1))  # each channel on its own
    assert got.shape == (1, 2, 3, 3)
    torch.testing.assert_close(got[0, 0], torch.sqrt(squared + 1e-6), rtol=0, atol=1e-6)
    torch.testing.assert_close(got[0, 1], torch.sqrt(4 * squared + 1e-6), rtol=0, atol=1e-6)
    flat = gradient_map(torch.full((2, 3, 5, 5), 0.7))[:, :, 1:-1, 1:-1]  # no gradient inside
    torch.testing.assert_close(flat, torch.full_like(flat, 1e-3), rtol=1e-4, atol=0)


# -- SPSR: the official netG layout ------------------------------------------------------------


def rrdb_weights(sd: Weights, prefix: str, nf: int, gc: int) -> None:
    """ESRGAN's block.py names: ``RDBk.convj.0`` (conv_block = Sequential(conv[, act]))."""
    for k in (1, 2, 3):
        for j in range(1, 6):
            sd.conv(f"{prefix}.RDB{k}.conv{j}.0", gc if j < 5 else nf, nf + (j - 1) * gc, 3)


def spsr_weights(nf: int, gc: int, nb: int, n_grad: int, n_up: int, seed: int = 0) -> Weights:
    """The release's netG: ``model`` (ESRGAN trunk), ``HR_conv*_new``, ``get_g_nopadding``,
    ``b_*`` (gradient branch), ``conv_w``, ``f_*`` (fusion)."""
    sd = Weights(seed)
    sd.conv("model.0", nf, 3, 3)
    for n in range(nb):
        rrdb_weights(sd, f"model.1.sub.{n}", nf, gc)
    sd.conv(f"model.1.sub.{nb}", nf, nf, 3)
    for i in range(n_up):
        sd.conv(f"model.{3 + 3 * i}", nf, nf, 3)
    sd.conv(f"model.{3 * n_up + 2}", nf, nf, 3)
    for part in ("weight", "bias"):  # HR_conv0_new is also an attribute: stored twice
        sd[f"HR_conv0_new.0.{part}"] = sd[f"model.{3 * n_up + 2}.{part}"]
    sd.conv("HR_conv1_new.0", nf, nf, 3)
    sd["get_g_nopadding.weight_h"] = torch.tensor([[0.0, 0, 0], [-1, 0, 1], [0, 0, 0]]).view(1, 1, 3, 3)
    sd["get_g_nopadding.weight_v"] = torch.tensor([[0.0, -1, 0], [0, 0, 0], [0, 1, 0]]).view(1, 1, 3, 3)
    sd.conv("b_fea_conv.0", nf, 3, 3)
    for k in range(1, n_grad + 1):
        rrdb_weights(sd, f"b_block_{k}", 2 * nf, gc)
        sd.conv(f"b_concat_{k}.0", nf, 2 * nf, 3)
    sd.conv("b_LR_conv.0", nf, nf, 3)
    for i in range(n_up):
        sd.conv(f"b_module.{3 * i + 1}", nf, nf, 3)
    sd.conv(f"b_module.{3 * n_up}", nf, nf, 3)
    sd.conv(f"b_module.{3 * n_up + 2}", nf, nf, 3)
    sd.conv("conv_w.0", 3, nf, 1)
    rrdb_weights(sd, "f_block", 2 * nf, gc)
    sd.conv("f_concat.0", nf, 2 * nf, 3)
    sd.conv("f_HR_conv0.0", nf, nf, 3)
    sd.conv("f_HR_conv1.0", 3, nf, 3)
    return sd


def rrdb_reference(sd, prefix, x):
    """Wang et al. (ESRGAN): dense blocks x + 0.2·conv5(cat(x, x1..x4)) with
    x_j = LReLU(conv_j(cat(x, x1..x_{j-1}))), three of them and a 0.2-scaled skip."""
    out = x
    for k in (1, 2, 3):
        feats = [out]
        for j in range(1, 5):
            feats.append(lrelu(conv(sd, f"{prefix}.RDB{k}.conv{j}.0", torch.cat(feats, 1))))
        out = out + 0.2 * conv(sd, f"{prefix}.RDB{k}.conv5.0", torch.cat(feats, 1))
    return x + 0.2 * out


def gradient_reference(x):
    """The paper's M(I): central differences with zero padding, by slicing."""
    p = F.pad(x, (1, 1, 1, 1))
    dx = p[..., 1:-1, 2:] - p[..., 1:-1, :-2]
    dy = p[..., 2:, 1:-1] - p[..., :-2, 1:-1]
    return torch.sqrt(dx * dx + dy * dy + 1e-6)


def spsr_reference(sd, x, tap_every):
    """Ma et al. §3: SR branch = ESRGAN up to its HR convs; the gradient branch starts from
    M(x), and stage k runs an RRDB and a 3×3 conv on cat(its features, the SR branch after
    k·tap_every RRDBs); long skip, upsampling, HR convs; conv_w (1×1) gives the SR gradient
    map; fusion = RRDB + conv on cat(gradient features, SR features), conv + LReLU, conv.
    Returns (sr, sr_gradient, lr_gradient)."""
    nb = max(int(k.split(".")[3]) for k in sd if k.startswith("model.1.sub."))
    n_grad = max(int(k.split(".")[0][len("b_block_"):]) for k in sd if k.startswith("b_block_"))
    n_up = (max(int(k.split(".")[1]) for k in sd if k.startswith("model.") and k.count(".") == 2) - 2) // 3
    lr_gradient = gradient_reference(x)
    shallow = conv(sd, "model.0", x)
    feat, taps = shallow, []
    for n in range(nb):
        feat = rrdb_reference(sd, f"model.1.sub.{n}", feat)
        if (n + 1) % tap_every == 0 and len(taps) < n_grad:
            taps.append(feat)
    feat = shallow + conv(sd, f"model.1.sub.{nb}", feat)
    for i in range(n_up):
        feat = lrelu(conv(sd, f"model.{3 + 3 * i}", F.interpolate(feat, scale_factor=2, mode="nearest")))
    sr_feat = conv(sd, "HR_conv1_new.0", lrelu(conv(sd, f"model.{3 * n_up + 2}", feat)))

    g_shallow = conv(sd, "b_fea_conv.0", lr_gradient)
    g = g_shallow
    for k in range(1, n_grad + 1):
        g = conv(sd, f"b_concat_{k}.0", rrdb_reference(sd, f"b_block_{k}", torch.cat([g, taps[k - 1]], 1)))
    g = g_shallow + conv(sd, "b_LR_conv.0", g)
    for i in range(n_up):
        g = lrelu(conv(sd, f"b_module.{3 * i + 1}", F.interpolate(g, scale_factor=2, mode="nearest")))
    g_feat = conv(sd, f"b_module.{3 * n_up + 2}", lrelu(conv(sd, f"b_module.{3 * n_up}", g)))

    fused = conv(sd, "f_concat.0", rrdb_reference(sd, "f_block", torch.cat([g_feat, sr_feat], 1)))
    sr = conv(sd, "f_HR_conv1.0", lrelu(conv(sd, "f_HR_conv0.0", fused)))
    return sr, conv(sd, "conv_w.0", g_feat), lr_gradient


@pytest.mark.parametrize("n_up", [1, 2])
def test_spsr_official_layout(n_up):
    sd = spsr_weights(nf=4, gc=4, nb=4, n_grad=2, n_up=n_up, seed=n_up)
    found = detect_architecture(dict(sd))
    scale = 2**n_up
    assert (found.arch, found.scale) == ("SPSR", scale)
    assert found.params == dict(num_in_ch=3, num_out_ch=3, num_feat=4, num_block=4, num_grow_ch=4,
                                num_upsample=n_up, num_grad_block=2, tap_every=2)
    module = found.build()
    x = torch.rand(1, 3, 6, 8)
    with torch.inference_mode():
        sr, sr_grad, lr_grad = module.forward_all(x)
        ref = spsr_reference(sd, x, tap_every=2)
        plain = module(x)
    assert sr.shape == sr_grad.shape == (1, 3, 6 * scale, 8 * scale) and lr_grad.shape == x.shape
    assert torch.equal(plain, sr)  # the engine's forward is the SR branch's image
    diffs = [max_diff(a, b) for a, b in zip((sr, sr_grad, lr_grad), ref, strict=True)]
    # the same float32 operations in the same order: measured 0 (×2 and ×4)
    assert max(diffs) <= 2e-6, diffs


def test_spsr_release_configuration_from_shapes():
    """The released netG (nf 64, 23 RRDBs, 4 gradient stages, ×4) on the meta device: the
    hyper-parameters come back from our layout's shapes, taps every 23 // 4 = 5 RRDBs."""
    with torch.device("meta"):
        state = SPSRNet().state_dict()
    found = detect_architecture(state)
    assert (found.arch, found.scale) == ("SPSR", 4)
    assert found.params == dict(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32,
                                num_upsample=2, num_grad_block=4, tap_every=5)


def test_spsr_with_another_gradient_operator_or_a_changed_copy_is_refused():
    sd = spsr_weights(nf=4, gc=4, nb=2, n_grad=1, n_up=1)
    sd["get_g_nopadding.weight_h"] = sd["get_g_nopadding.weight_h"] * 2
    with pytest.raises(UnsupportedStateDict, match="SPSR layer names, but get_g_nopadding.weight_h is not"):
        detect_architecture(dict(sd))
    sd = spsr_weights(nf=4, gc=4, nb=2, n_grad=1, n_up=1)
    sd["get_g_nopadding.weight_v"] = torch.zeros(1, 1, 5, 5)
    with pytest.raises(UnsupportedStateDict, match="get_g_nopadding.weight_v is not the paper's gradient"):
        detect_architecture(dict(sd))
    with pytest.raises(UnsupportedStateDict, match="3 gradient stages need as many RRDBs to tap, not 2"):
        detect_architecture(dict(spsr_weights(nf=4, gc=4, nb=2, n_grad=3, n_up=1)))
    sd = spsr_weights(nf=4, gc=4, nb=2, n_grad=1, n_up=1)
    sd["HR_conv0_new.0.bias"] = sd["HR_conv0_new.0.bias"] + 1
    with pytest.raises(UnsupportedStateDict, match="HR_conv0_new.0.bias differs from model.5.bias"):
        detect_architecture(dict(sd))
    sd = spsr_weights(nf=4, gc=4, nb=2, n_grad=1, n_up=1)
    sd["f_HR_conv1.0.weight"] = torch.zeros(3, 5, 3, 3)
    with pytest.raises(UnsupportedStateDict, match="f_HR_conv1.0.weight is 3×5×3×3 in the file, 3×4×3×3"):
        detect_architecture(dict(sd)).build()


# -- D-DBPN: EDSR-PyTorch's ddbpn --------------------------------------------------------------


PROJECTION = {2: (6, 2, 2), 4: (8, 4, 2), 8: (12, 8, 2)}  # (kernel, stride, padding), Haris et al. §4.1


def ddbpn_weights(n0: int, nr: int, depth: int, scale: int, seed: int = 0, sd: Weights | None = None) -> Weights:
    """EDSR-PyTorch's names: ``initial.0..3``, ``upmodules.I`` / ``downmodules.I`` with
    ``bottleneck.0/1`` (dense units) and ``conv_1..3.0/1``, ``reconstruction.0``, mean shifts.
    Transposed convolutions store their weight as in × out × k × k."""
    sd = sd if sd is not None else Weights(seed)
    k = PROJECTION[scale][0]
    sd.mean_shift()
    sd.conv("initial.0", n0, 3, 3)
    sd.prelu("initial.1", n0)
    sd.conv("initial.2", nr, n0, 1)
    sd.prelu("initial.3", nr)

    def unit(prefix: str, in_ch: int, dense: bool, up: bool) -> None:
        if dense:
            sd.conv(f"{prefix}.bottleneck.0", nr, in_ch, 1)
            sd.prelu(f"{prefix}.bottleneck.1", nr)
        for j in (1, 2, 3):
            sd.conv(f"{prefix}.conv_{j}.0", nr, nr, k)  # square: in × out reads the same
            sd.prelu(f"{prefix}.conv_{j}.1", nr)

    for i in range(depth):
        unit(f"upmodules.{i}", max(i, 1) * nr, i > 1, True)
    for i in range(depth - 1):
        unit(f"downmodules.{i}", (i + 1) * nr, i > 0, False)
    sd.conv("reconstruction.0", 3, depth * nr, 3)
    return sd


def ddbpn_reference(sd, x):
    """Haris et al.: L0 = PReLU(conv1×1(PReLU(conv3×3 x))); up-unit: H0 = up(L), L0 = down(H0),
    H1 = up(L0 − L), H0 + H1 (down-unit: the same with up/down swapped), every conv with its
    PReLU; dense units first squeeze cat(earlier outputs) with conv1×1 + PReLU; the image is
    conv3×3(cat(all H)). EDSR-PyTorch works in 0..255 minus the mean (its mean shifts)."""
    k = sd["upmodules.0.conv_1.0.weight"].shape[-1]
    _, stride, pad = next(v for v in PROJECTION.values() if v[0] == k)

    def act(name, t):
        return F.prelu(t, sd[f"{name}.weight"])

    def project(prefix, t, up):
        w, b = sd[f"{prefix}.weight"], sd[f"{prefix}.bias"]
        if up:
            return F.conv_transpose2d(t, w, b, stride=stride, padding=pad)
        return F.conv2d(t, w, b, stride=stride, padding=pad)

    def unit(prefix, t, up):
        if f"{prefix}.bottleneck.0.weight" in sd:
            t = act(f"{prefix}.bottleneck.1", conv(sd, f"{prefix}.bottleneck.0", t))
        h0 = act(f"{prefix}.conv_1.1", project(f"{prefix}.conv_1.0", t, up))
        l0 = act(f"{prefix}.conv_2.1", project(f"{prefix}.conv_2.0", h0, not up))
        return h0 + act(f"{prefix}.conv_3.1", project(f"{prefix}.conv_3.0", l0 - t, up))

    feat = act("initial.1", conv(sd, "initial.0", conv(sd, "sub_mean", x * 255)))
    feat = act("initial.3", conv(sd, "initial.2", feat))
    depth = 1 + max(int(key.split(".")[1]) for key in sd if key.startswith("upmodules."))
    highs, lows = [], []
    for i in range(depth):
        highs.append(unit(f"upmodules.{i}", torch.cat(lows, 1) if lows else feat, True))
        if i < depth - 1:
            lows.append(unit(f"downmodules.{i}", torch.cat(highs, 1), False))
    return conv(sd, "add_mean", conv(sd, "reconstruction.0", torch.cat(highs, 1))) / 255


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_ddbpn_edsr_pytorch_layout(scale):
    sd = ddbpn_weights(n0=8, nr=4, depth=4, scale=scale, seed=100 + scale)
    assert "upmodules.2.bottleneck.0.weight" in sd and "upmodules.1.bottleneck.0.weight" not in sd
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("D-DBPN", scale)
    params = dict(found.params)
    assert np.allclose(params.pop("rgb_mean"), DIV2K_MEAN.numpy(), atol=1e-6)
    assert params == dict(num_in_ch=3, num_out_ch=3, n0=8, nr=4, depth=4, upscale=scale, prelu_channels=True,
                          rgb_range=255.0)
    x = torch.rand(1, 3, 6, 7)
    with torch.inference_mode():
        out, ref = found.build()(x), ddbpn_reference(sd, x)
    assert out.shape == (1, 3, 6 * scale, 7 * scale)
    diff = max_diff(out, ref)
    assert diff <= 2e-6, diff  # measured 6.0e-8 (float32 sums in another order)


def ddbpn_official_weights(n0: int, nr: int, stages: int, scale: int, seed: int = 0) -> Weights:
    """The release's ``dbpn.py`` names: ``feat0/1``, ``upK`` / ``downK`` (K from 1) of ConvBlock
    (``.conv``) / DeconvBlock (``.deconv``) with one-weight PReLUs ``.act``, dense units' 1×1
    ``.conv.conv``, ``output_conv.conv``."""
    sd = Weights(seed)
    k = PROJECTION[scale][0]
    sd.conv("feat0.conv", n0, 3, 3)
    sd.prelu("feat0.act")
    sd.conv("feat1.conv", nr, n0, 1)
    sd.prelu("feat1.act")

    def unit(prefix: str, kind: str, inputs: int, up: bool) -> None:
        if inputs > 1:
            sd.conv(f"{prefix}.conv.conv", nr, inputs * nr, 1)
            sd.prelu(f"{prefix}.conv.act")
        for j in (1, 2, 3):
            layer = "deconv" if (j != 2) == up else "conv"
            sd.conv(f"{prefix}.{kind}_conv{j}.{layer}", nr, nr, k)
            sd.prelu(f"{prefix}.{kind}_conv{j}.act")

    for K in range(1, stages + 1):
        unit(f"up{K}", "up", max(K - 1, 1), True)
        if K < stages:
            unit(f"down{K}", "down", K, False)
    sd.conv("output_conv.conv", 3, stages * nr, 3)
    return sd


def ddbpn_official_reference(sd, x):
    """The same projection units (Haris et al., Fig. 4), the image in 0..1 without a mean, and
    the release's concatenations: the newest unit's output first, e.g. down2 sees cat(H2, H1)."""
    k = sd["up1.up_conv1.deconv.weight"].shape[-1]
    _, stride, pad = next(v for v in PROJECTION.values() if v[0] == k)

    def block(prefix, t):
        t = F.conv_transpose2d(t, sd[f"{prefix}.deconv.weight"], sd[f"{prefix}.deconv.bias"], stride=stride,
                               padding=pad) if f"{prefix}.deconv.weight" in sd else \
            F.conv2d(t, sd[f"{prefix}.conv.weight"], sd[f"{prefix}.conv.bias"], stride=stride, padding=pad)
        return F.prelu(t, sd[f"{prefix}.act.weight"])

    def unit(prefix, kind, t):
        if f"{prefix}.conv.conv.weight" in sd:
            t = F.prelu(conv(sd, f"{prefix}.conv.conv", t), sd[f"{prefix}.conv.act.weight"])
        first = block(f"{prefix}.{kind}_conv1", t)
        return first + block(f"{prefix}.{kind}_conv3", block(f"{prefix}.{kind}_conv2", first) - t)

    feat = F.prelu(conv(sd, "feat0.conv", x), sd["feat0.act.weight"])
    feat = F.prelu(conv(sd, "feat1.conv", feat), sd["feat1.act.weight"])
    stages = max(int(key.split(".")[0][2:]) for key in sd if key.startswith("up"))
    highs, lows = [unit("up1", "up", feat)], []
    for K in range(1, stages):
        lows.insert(0, unit(f"down{K}", "down", torch.cat(highs, 1)))
        highs.insert(0, unit(f"up{K + 1}", "up", torch.cat(lows, 1)))
    return conv(sd, "output_conv.conv", torch.cat(highs, 1))


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_ddbpn_official_layout(scale):
    sd = ddbpn_official_weights(n0=8, nr=4, stages=4, scale=scale, seed=110 + scale)
    assert "up3.conv.conv.weight" in sd and "down2.conv.conv.weight" in sd and "up2.conv.conv.weight" not in sd
    found = detect_architecture(unwrap_state_dict({f"module.{k}": v for k, v in sd.items()}))  # DataParallel
    assert (found.arch, found.scale) == ("D-DBPN", scale)
    assert found.params == dict(num_in_ch=3, num_out_ch=3, n0=8, nr=4, depth=4, upscale=scale,
                                prelu_channels=False, rgb_range=1.0, rgb_mean=(0.0, 0.0, 0.0))
    x = torch.rand(2, 3, 5, 6)
    with torch.inference_mode():
        out, ref = found.build()(x), ddbpn_official_reference(sd, x)
    assert out.shape == (2, 3, 5 * scale, 6 * scale)
    diff = max_diff(out, ref)
    assert diff <= 2e-6, diff  # measured ≤ 1.8e-7 (without the block reordering: 0.32)


class MetaWeights(Weights):
    """Shapes only, on the meta device (the mean shifts stay real: their values are read)."""

    def _rand(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.empty(*shape, device="meta")

    def prelu(self, name: str, n: int = 1) -> None:
        self[f"{name}.weight"] = torch.empty(n, device="meta")


@pytest.mark.parametrize("depth,n0,nr,scale,context", [(7, 256, 64, 8, 48), (6, 128, 32, 4, 48), (2, 16, 8, 2, 25)])
def test_ddbpn_published_configurations_from_shapes(depth, n0, nr, scale, context):
    """The paper's D-DBPN (T = 7, n0 256, nr 64) and EDSR-PyTorch's (6, 128, 32) from shapes."""
    found = detect_architecture(dict(ddbpn_weights(n0, nr, depth, scale, sd=MetaWeights(0))))
    assert (found.arch, found.scale, found.params["depth"], found.params["n0"], found.params["nr"]) == (
        "D-DBPN", scale, depth, n0, nr)
    assert found.support.context_for(found.params) == context


def test_ddbpn_bad_files_are_one_line():
    sd = ddbpn_weights(8, 4, 3, 2)
    sd["upmodules.0.conv_1.0.weight"] = torch.zeros(4, 4, 7, 7)
    with pytest.raises(UnsupportedStateDict, match=r"D-DBPN layer names, but projection kernel 7 is not"):
        detect_architecture(dict(sd))
    sd = ddbpn_weights(8, 4, 3, 2)
    for key in [k for k in sd if k.startswith("downmodules.1.")]:
        del sd[key]
    with pytest.raises(UnsupportedStateDict, match="3 up-projection units need 2 down-projection units"):
        detect_architecture(dict(sd))


def test_ddbpn_tiles_equal_the_whole_image():
    """The receptive radius is the tile context (25 px for 2 units at ×2): tiles are exact."""
    found = detect_architecture(dict(ddbpn_weights(8, 4, 2, 2, seed=7)))
    model = ArchModel(found.build(), found.arch, found.scale, "t", params=found.params)
    model.context = found.support.context_for(found.params)
    assert model.context == 25
    src = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
    whole = np.empty((64, 64, 3), np.float32)
    tiled = np.empty_like(whole)
    with torch.inference_mode():
        run_tiled(model, src, whole, tile=0)
        run_tiled(model, src, tiled, tile=16)
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=5e-6)  # measured 0 (7.8e-6 with 10 px of context)


# -- end to end ----------------------------------------------------------------------------------


def test_ddbpn_checkpoint_add_and_upscale(tmp_path, capsys):
    sd = ddbpn_weights(8, 4, 2, 4, seed=9)
    for key in sd:  # small weights keep the random network's output within 0..1
        if key.startswith(("initial", "upmodules", "downmodules", "reconstruction")) and key.endswith("weight"):
            sd[key] = sd[key] * 0.2
    path = tmp_path / "DDBPN_x4-tiny.pt"
    torch.save(dict(sd), path)
    assert main(["models", "add", str(path), "--name", "tiny ddbpn", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["arch"] == "D-DBPN" and added["scales"] == [4]
    src = tmp_path / "in.png"
    rgb = np.random.default_rng(3).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    PILImage.fromarray(rgb).save(src)
    out = tmp_path / "out.png"
    assert main(["upscale", str(src), "-o", str(out), "--model", added["id"], "-q"]) == 0
    got = np.asarray(PILImage.open(out))
    assert got.shape == (36, 44, 3)
    assert 0 < got.std() and math.isfinite(float(got.mean()))


def test_spsr_checkpoint_add_and_upscale(tmp_path, capsys):
    path = tmp_path / "SPSR-tiny.pth"
    torch.save(dict(spsr_weights(nf=4, gc=4, nb=2, n_grad=1, n_up=2, seed=11)), path)
    assert main(["models", "add", str(path), "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["arch"] == "SPSR" and added["scales"] == [4]
    src = tmp_path / "in.png"
    PILImage.fromarray(np.random.default_rng(4).integers(0, 256, (7, 9, 3), dtype=np.uint8)).save(src)
    out = tmp_path / "out.png"
    assert main(["upscale", str(src), "-o", str(out), "--model", added["id"], "-q"]) == 0
    assert np.asarray(PILImage.open(out)).shape == (28, 36, 3)
