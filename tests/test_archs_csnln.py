"""CSNLN (Mei et al., CVPR 2020) in the release's layout (``model_x2/x3/x4.pt``,
SHI-Labs/Cross-Scale-Non-Local-Attention).

As in test_archs_residual.py: a random-weight state dict is written here in the release's
names and shapes (with its ``escape_NaN`` buffers and mean shifts), detected, built and
run; the output must equal a reference forward written here from the paper: the
cross-scale attention pixel by pixel (3×3 patch matching against the downscaled image, a
softmax with scale 10, (3s)×(3s) patches pasted s pixels apart and divided by 6), the
in-scale attention as an explicit softmax matrix, the multi-source and recurrent
projections with torch.nn.functional, reading the file's own tensor names. Tiny
configurations: 8 features, 2 recurrent steps, 4-9 px inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_archs_residual import Weights, conv

from sr_desktop.engine.models.archs import UnsupportedStateDict, detect_architecture
from sr_desktop.engine.models.archs.csnln import CSNLN
from sr_desktop.engine.models.custom import ArchModel
from sr_desktop.engine.pipeline.tiling import run_tiled
from tests.cli_checkpoints import add_checkpoint, bench_waves, upscale_random

PROJ = {2: (6, 2, 2), 3: (9, 3, 3), 4: (6, 2, 2)}  # Mei et al.'s release: deconv kernel, stride, padding


def csnln_weights(nf: int, depth: int, scale: int, seed: int = 0) -> Weights:
    sd = Weights(seed)
    sd.mean_shift()

    def block(name, c_out, c_in, k):  # BasicBlock: conv + one-weight PReLU
        sd.conv(f"{name}.0", c_out, c_in, k)
        sd.prelu(f"{name}.1")

    def projection(name, k):  # conv or transposed conv (square: in × out reads the same) + PReLU
        sd.conv(f"{name}.0", nf, nf, k)
        sd.prelu(f"{name}.1")

    def msp(p):
        sd[f"{p}.up_attention.escape_NaN"] = torch.tensor([1e-4])
        for name in ("conv_match_1", "conv_match_2"):
            block(f"{p}.up_attention.{name}", nf // 2, nf, 1)
        block(f"{p}.up_attention.conv_assembly", nf, nf, 1)
        for name in ("conv_match1", "conv_match2"):
            block(f"{p}.down_attention.{name}", nf // 2, nf, 1)
        block(f"{p}.down_attention.conv_assembly", nf, nf, 1)
        projection(f"{p}.upsample", PROJ[scale][0])
        sd.conv(f"{p}.encoder.body.0", nf, nf, 3)
        sd.prelu(f"{p}.encoder.body.1")
        sd.conv(f"{p}.encoder.body.2", nf, nf, 3)

    block("head.0", nf, 3, 3)
    block("head.1", nf, nf, 3)
    msp("SEM.multi_source_projection")
    k = PROJ[scale][0]
    projection("SEM.down_sample_1", k)
    projection("SEM.error_encode", k)
    if scale == 4:
        msp("SEM.multi_source_projection_2")
        for name in ("SEM.down_sample_3", "SEM.down_sample_4", "SEM.error_encode_2"):
            projection(name, 8)
    else:
        projection("SEM.down_sample_2", k)
    block("SEM.post_conv", nf, nf, 3)
    sd.conv("tail.0", 3, nf * depth, 3)
    return sd


def prelu_conv(sd, name, x):
    return F.prelu(conv(sd, f"{name}.0", x), sd[f"{name}.1.weight"])


def down_by(x, s):
    """Bilinear downscaling by s on the half-pixel grid: a 2×2 mean for s = 2, the centre
    pixel of each 3×3 cell for s = 3 (the sample points fall on pixels)."""
    return F.avg_pool2d(x, 2) if s == 2 else x[..., 1::3, 1::3]


def cross_scale_reference(sd, p, x, s):
    """Mei et al. §3.1, for one image: the 3×3 neighbourhood of φ1(x) at each pixel is
    matched with every 3×3 patch of φ2(x↓s) (zero padding, each patch over its L2 norm),
    softmax(10·score) weights the (3s)×(3s) patches of g(x) whose top-left is s·(p − 1) for
    patch centre p, pasted at s·(i − 1) for pixel i, divided by 6; output s·H × s·W."""
    a = prelu_conv(sd, f"{p}.conv_assembly", x)[0]
    q = F.pad(prelu_conv(sd, f"{p}.conv_match_1", x), (1, 1, 1, 1))[0]
    small = prelu_conv(sd, f"{p}.conv_match_2", down_by(x, s))
    ks = F.pad(small, (1, 1, 1, 1))[0]
    c, h, w = a.shape
    hs, ws = small.shape[-2:]
    keys = torch.stack([ks[:, i:i + 3, j:j + 3] for i in range(hs) for j in range(ws)])  # L × C' × 3 × 3
    keys = keys / keys.flatten(1).norm(dim=1).clamp(min=1e-4).view(-1, 1, 1, 1)
    big = 3 * s
    a_pad = F.pad(a, (s, s, s, s))
    patches = torch.stack([a_pad[:, i * s:i * s + big, j * s:j * s + big] for i in range(hs) for j in range(ws)])
    out = torch.zeros(c, (h + 2) * s, (w + 2) * s)  # pasted with a margin of s, cropped below
    for i in range(h):
        for j in range(w):
            score = torch.softmax(10 * (keys * q[:, i:i + 3, j:j + 3]).sum((1, 2, 3)), 0)
            out[:, i * s:i * s + big, j * s:j * s + big] += torch.einsum("l,lcuv->cuv", score, patches)
    return (out[:, s:s + s * h, s:s + s * w] / 6)[None]


def in_scale_reference(sd, p, x):
    """softmax over the pixels of φ1(x)ᵀ φ2(x), times g(x) (no residual)."""
    e1, e2, g = (prelu_conv(sd, f"{p}.{n}", x).flatten(2) for n in ("conv_match1", "conv_match2", "conv_assembly"))
    return (g @ torch.softmax(e1.transpose(1, 2) @ e2, -1).transpose(1, 2)).view_as(x)


def project(sd, name, x, kernel, stride, pad, up):
    op = F.conv_transpose2d if up else F.conv2d
    return F.prelu(op(x, sd[f"{name}.0.weight"], sd[f"{name}.0.bias"], stride=stride, padding=pad),
                   sd[f"{name}.1.weight"])


def msp_reference(sd, p, x, scale):
    """D = PReLU(deconv(in-scale attention)), U = cross-scale attention, D + (U − D) + res(U − D)."""
    kernel, stride, pad = PROJ[scale]
    down = project(sd, f"{p}.upsample", in_scale_reference(sd, f"{p}.down_attention", x), kernel, stride, pad, True)
    err = cross_scale_reference(sd, f"{p}.up_attention", x, stride) - down
    body = F.prelu(conv(sd, f"{p}.encoder.body.0", err), sd[f"{p}.encoder.body.1.weight"])
    body = conv(sd, f"{p}.encoder.body.2", body)
    return down + err + body


def csnln_reference(sd, x, scale, depth):
    """Head, ``depth`` steps of the shared SEM cell (H = P(x) + up(x − down(P(x))), twice for
    ×4; next x = post(down(H))), tail conv over cat(H_1..H_depth); 0..255 minus the mean."""
    k, st, pd = PROJ[scale]
    feat = prelu_conv(sd, "head.1", prelu_conv(sd, "head.0", conv(sd, "sub_mean", x * 255)))
    estimates = []
    for _ in range(depth):
        up = msp_reference(sd, "SEM.multi_source_projection", feat, scale)
        h = up + project(sd, "SEM.error_encode", feat - project(sd, "SEM.down_sample_1", up, k, st, pd, False),
                         k, st, pd, True)
        if scale == 4:
            up = msp_reference(sd, "SEM.multi_source_projection_2", h, scale)
            h = up + project(sd, "SEM.error_encode_2", feat - project(sd, "SEM.down_sample_3", up, 8, 4, 2, False),
                             8, 4, 2, True)
            feat = prelu_conv(sd, "SEM.post_conv", project(sd, "SEM.down_sample_4", h, 8, 4, 2, False))
        else:
            feat = prelu_conv(sd, "SEM.post_conv", project(sd, "SEM.down_sample_2", h, k, st, pd, False))
        estimates.append(h)
    return conv(sd, "add_mean", conv(sd, "tail.0", torch.cat(estimates, 1))) / 255


@pytest.mark.parametrize("scale,size", [(2, (6, 8)), (3, (6, 9)), (4, (4, 6))])
def test_csnln_release_layout(scale, size):
    sd = csnln_weights(nf=8, depth=2, scale=scale, seed=30 + scale)
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("CSNLN", scale)
    params = {k: v for k, v in found.params.items() if k != "rgb_mean"}
    assert params == dict(num_in_ch=3, num_out_ch=3, num_feat=8, depth=2, reduction=2, upscale=scale, rgb_range=255.0)
    assert found.support.align(found.params) == (3 if scale == 3 else 2)
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(scale))
    with torch.inference_mode():
        out, ref = found.build()(x), csnln_reference(sd, x, scale, depth=2)
    assert out.shape == (1, 3, size[0] * scale, size[1] * scale)
    diff = (out - ref).abs().max().item() / max(1.0, ref.abs().max().item())
    assert diff <= 2e-6, diff  # measured ≤ 6.9e-7 (float32 sums in another order)


def test_csnln_release_configurations_from_shapes():
    """The released networks (128 features, 12 steps, reduction 2) on the meta device; ×2 has
    the paper's 3.06 M parameters."""
    for scale in (2, 3, 4):
        with torch.device("meta"):
            state = CSNLN(upscale=scale).state_dict()
        found = detect_architecture(state)
        assert (found.arch, found.scale, found.params["num_feat"], found.params["depth"]) == ("CSNLN", scale, 128, 12)
        if scale == 2:
            assert sum(t.numel() for t in state.values()) == 3_061_266


def test_csnln_bad_files_are_one_line():
    sd = csnln_weights(nf=8, depth=2, scale=2)
    sd["SEM.multi_source_projection.upsample.0.weight"] = torch.zeros(8, 8, 7, 7)
    with pytest.raises(UnsupportedStateDict, match="CSNLN layer names, but projection kernel 7 is not one of"):
        detect_architecture(dict(sd))
    sd = csnln_weights(nf=8, depth=2, scale=2)
    sd["tail.0.weight"] = torch.zeros(3, 20, 3, 3)
    with pytest.raises(UnsupportedStateDict, match="the tail reads 20 channels, not a multiple of 8"):
        detect_architecture(dict(sd))
    sd = csnln_weights(nf=8, depth=2, scale=2)
    sd["tail.0.weight"] = torch.zeros(3, 8 * 65, 3, 3)  # 65 recurrent steps of the shared cell
    with pytest.raises(UnsupportedStateDict, match=r"CSNLN with depth=65 is not a plausible network"):
        detect_architecture(dict(sd)).build()
    sd = csnln_weights(nf=8, depth=2, scale=2)
    sd["SEM.down_sample_2.0.weight"] = torch.zeros(8, 8, 5, 5)
    with pytest.raises(UnsupportedStateDict, match=r"SEM.down_sample_2.0.weight is 8×8×5×5 in the file, 8×8×6×6"):
        detect_architecture(dict(sd)).build()


def test_csnln_tiles_are_close_to_the_whole_image():
    """The attentions see the whole tile: 16 px tiles with 8 px of context differ from the
    whole 40 px image by a measured amount (random weights, output std 0.09). The engine
    still tiles CSNLN (its attention memory grows with the square of the tile), as the
    release's own evaluation does (``--chop``)."""
    found = detect_architecture(dict(csnln_weights(nf=8, depth=1, scale=2, seed=8)))
    model = ArchModel(found.build(), found.arch, found.scale, "t", align=2, params=found.params)
    model.context = 8
    src = np.random.default_rng(0).random((40, 40, 3), dtype=np.float32)
    whole = np.empty((80, 80, 3), np.float32)
    tiled = np.empty_like(whole)
    with torch.inference_mode():
        run_tiled(model, src, whole, tile=0)
        run_tiled(model, src, tiled, tile=16)
    psnr = 10 * math.log10(1 / float(np.mean((tiled - whole) ** 2)))
    assert 18 < psnr < 30, psnr  # measured 23.0 dB


def test_csnln_checkpoint_add_upscale_bench(tmp_path, capsys):
    sd = csnln_weights(nf=8, depth=1, scale=2, seed=12)
    for key in sd:  # small weights keep the random network's output within 0..1
        if key.endswith(".0.weight") and not key.startswith(("sub_mean", "add_mean")):
            sd[key] = sd[key] * 0.2
    path = tmp_path / "model_x2-tiny.pt"
    torch.save(dict(sd), path)
    added = add_checkpoint(path, "tiny csnln", capsys)
    assert added["arch"] == "CSNLN" and added["scales"] == [2]
    assert upscale_random(added["id"], tmp_path, (9, 11), seed=6) == (18, 22, 3)
    result = bench_waves(added["id"], tmp_path, 2, (24, 28))
    # small weights: about the DIV2K mean colour, as the tiny EDSR of test_archs_residual.py
    assert 17 < result["psnr_y"] < 20, result["psnr_y"]  # measured 18.50 dB
