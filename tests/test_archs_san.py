"""SAN (Dai et al., CVPR 2019) in the release's layout (``SAN_BIX*.pt``, daitao/SAN).

As in test_archs_residual.py: a random-weight state dict is written here in the release's
own names and shapes (including the tensors its forward never reads), detected, built and
run; the output must equal a reference forward written here with torch.nn.functional from
the paper's equations (covariance pooling Σ = X Ī Xᵀ, the Newton–Schulz iteration, the
region-level embedded-Gaussian non-local block, the share-source skip), reading the file's
own tensor names. Tiny configurations: 8 features, 2 groups of 2 blocks, 10-12 px inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_archs_residual import DIV2K_MEAN, Weights, conv, sub_pixel_stages

from sr_desktop.engine.models.archs import UnsupportedStateDict, detect_architecture
from sr_desktop.engine.models.archs.attention import softmax_attention
from sr_desktop.engine.models.archs.san import SAN, covariance_sqrt
from sr_desktop.engine.models.custom import ArchModel
from sr_desktop.engine.pipeline.tiling import run_tiled
from tests.cli_checkpoints import add_checkpoint, bench_waves, upscale_random

STAGES = {2: [2], 3: [3], 4: [2, 2], 8: [2, 2, 2]}


def san_weights(nf: int, groups: int, blocks: int, reduction: int, scale: int, seed: int = 0,
                gamma: float = 0.3) -> Weights:
    """The release's names: ``head.0``, ``non_local.{soca.conv_du, non_local.{g,theta,phi,W}}``,
    ``RG.G.{rcab.B.conv_first.0/2, soca.conv_du.0/2, conv_last, gamma}``, ``gamma``,
    ``conv_last`` (unused), ``tail.0.*``, ``tail.1``, mean shifts."""
    sd = Weights(seed)
    sd.mean_shift()
    sd.conv("head.0", nf, 3, 3)
    sd.conv("non_local.soca.conv_du.0", nf // 8, nf, 1)  # Nonlocal_CA's own SOCA: never run
    sd.conv("non_local.soca.conv_du.2", nf, nf // 8, 1)
    for name in ("g", "theta", "phi", "W"):
        c_out, c_in = (nf, nf // 8) if name == "W" else (nf // 8, nf)
        sd.conv(f"non_local.non_local.{name}", c_out, c_in, 1)
    sd["gamma"] = torch.tensor([gamma])
    for g in range(groups):
        for b in range(blocks):
            sd.conv(f"RG.{g}.rcab.{b}.conv_first.0", nf, nf, 3)
            sd.conv(f"RG.{g}.rcab.{b}.conv_first.2", nf, nf, 3)
        sd.conv(f"RG.{g}.soca.conv_du.0", nf // reduction, nf, 1)
        sd.conv(f"RG.{g}.soca.conv_du.2", nf, nf // reduction, 1)
        sd.conv(f"RG.{g}.conv_last", nf, nf, 3)
        sd[f"RG.{g}.gamma"] = torch.zeros(1)
    sd.conv("conv_last", nf, nf, 3)
    for j, r in enumerate(STAGES[scale]):
        sd.conv(f"tail.0.{2 * j}", nf * r * r, nf, 3)
    sd.conv("tail.1", 3, nf, 3)
    return sd


def newton_schulz_reference(sigma, iterations=5):
    """Dai et al. §3.3 (from Li et al.'s iSQRT-COV): A = Σ/tr Σ; Y0 = A, Z0 = I;
    Y_n = ½ Y_{n−1}(3I − Z_{n−1}Y_{n−1}), Z_n = ½(3I − Z_{n−1}Y_{n−1})Z_{n−1}; Σ^½ ≈ √tr Σ · Y_N."""
    c = sigma.shape[-1]
    trace = torch.diagonal(sigma, dim1=-2, dim2=-1).sum(-1)[..., None, None]
    eye = torch.eye(c, dtype=sigma.dtype)
    y, z = sigma / trace, eye.expand_as(sigma)
    for _ in range(iterations):
        y, z = 0.5 * y @ (3 * eye - z @ y), 0.5 * (3 * eye - z @ y) @ z
    return y * trace.sqrt()


def soca_reference(sd, prefix, x):
    """SOCA: Σ = X Ī Xᵀ with Ī = (1/M)(I − 11ᵀ/M) over the M pixels, Σ^½ by Newton–Schulz,
    z_c = mean over rows of column c, f · σ(W_U δ(W_D z))."""
    b, c, h, w = x.shape
    m = h * w
    feats = x.reshape(b, c, m)
    i_bar = (torch.eye(m) - torch.ones(m, m) / m) / m
    sqrt = newton_schulz_reference(feats @ i_bar @ feats.transpose(1, 2))
    z = sqrt.mean(1).view(b, c, 1, 1)
    return x * torch.sigmoid(conv(sd, f"{prefix}.2", F.relu(conv(sd, f"{prefix}.0", z))))


def non_local_reference(sd, x):
    """The embedded Gaussian z = x + W(softmax(θᵀφ) g) in each of the 2×2 regions (first
    half ⌊H/2⌋ × ⌊W/2⌋)."""
    out = torch.empty_like(x)
    h1, w1 = x.shape[2] // 2, x.shape[3] // 2
    for rows in (slice(None, h1), slice(h1, None)):
        for cols in (slice(None, w1), slice(w1, None)):
            r = x[:, :, rows, cols]
            b, _, h, w = r.shape
            theta, phi, g = (conv(sd, f"non_local.non_local.{n}", r).flatten(2) for n in ("theta", "phi", "g"))
            attention = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # B × HW × HW
            y = (attention @ g.transpose(1, 2)).transpose(1, 2).reshape(b, -1, h, w)
            out[:, :, rows, cols] = r + conv(sd, "non_local.non_local.W", y)
    return out


def san_reference(sd, x):
    """F0 = head(x − mean, 0..255); F = NL(F0); each LSRAG: F ← [F + conv(SOCA(RBs(F)))] + γ·NL(F0)
    with RB = f + conv(ReLU(conv f)); NL(F) + F0; sub-pixel upsampler, conv, add the mean."""
    head = conv(sd, "head.0", conv(sd, "sub_mean", x * 255))
    source = feat = non_local_reference(sd, head)
    groups = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("RG."))
    for g in range(groups):
        blocks = 1 + max(int(k.split(".")[3]) for k in sd if k.startswith(f"RG.{g}.rcab."))
        inner = feat
        for b in range(blocks):
            p = f"RG.{g}.rcab.{b}.conv_first"
            inner = inner + conv(sd, f"{p}.2", F.relu(conv(sd, f"{p}.0", inner)))
        feat = feat + conv(sd, f"RG.{g}.conv_last", soca_reference(sd, f"RG.{g}.soca.conv_du", inner))
        feat = feat + sd["gamma"] * source
    feat = non_local_reference(sd, feat) + head
    return conv(sd, "add_mean", conv(sd, "tail.1", sub_pixel_stages(sd, "tail.0", feat))) / 255


def test_newton_schulz_converges_to_the_matrix_square_root():
    """The iteration of `covariance_sqrt` is the square root: with many iterations it equals
    the eigen-decomposition's (float64 reference); with the paper's 5 it is near it."""
    feats = torch.randn(2, 6, 5, 7, generator=torch.Generator().manual_seed(1))
    centred = feats.double().flatten(2) - feats.double().flatten(2).mean(2, keepdim=True)
    sigma = centred @ centred.transpose(1, 2) / 35
    values, vectors = torch.linalg.eigh(sigma)
    exact = vectors @ torch.diag_embed(values.clamp(min=0).sqrt()) @ vectors.transpose(1, 2)
    converged = covariance_sqrt(feats, iterations=40).double()
    assert (converged - exact).abs().max().item() < 1e-6  # measured 1.1e-7 (float32)
    torch.testing.assert_close(covariance_sqrt(feats).double(), newton_schulz_reference(sigma), rtol=0, atol=1e-5)
    assert (covariance_sqrt(feats).double() - exact).abs().max().item() < 0.01  # measured 0.0035 after 5


def test_attention_in_chunks_of_queries_is_the_whole_softmax():
    """softmax(q kᵀ) v computed 5 queries at a time equals the whole score matrix's (the
    value may be wider than the embeddings, as in CSNLN)."""
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 23, c, generator=gen) for c in (4, 4, 6))
    whole = torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v
    torch.testing.assert_close(softmax_attention(q, k, v, chunk=5), whole, rtol=0, atol=1e-6)  # measured 3.6e-7


@pytest.mark.parametrize("scale,size", [(2, (10, 12)), (3, (9, 8)), (4, (10, 11))])
def test_san_release_layout(scale, size):
    sd = san_weights(nf=8, groups=2, blocks=2, reduction=2, scale=scale, seed=10 + scale)
    found = detect_architecture(dict(sd))
    assert (found.arch, found.scale) == ("SAN", scale)
    params = dict(found.params)
    assert np.allclose(params.pop("rgb_mean"), DIV2K_MEAN.numpy(), atol=1e-6)
    assert params == dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_group=2, num_block=2, reduction=2,
                          inter_channels=1, upscale=scale, rgb_range=255.0)
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(scale))
    with torch.inference_mode():
        out, ref = found.build()(x), san_reference(sd, x)
    assert out.shape == (1, 3, size[0] * scale, size[1] * scale)
    diff = (out - ref).abs().max().item() / max(1.0, ref.abs().max().item())
    # the covariance summed in another order (X Xᵀ/M − μμᵀ vs X Ī Xᵀ): measured ≤ 4.5e-7
    assert diff <= 2e-6, diff


def test_san_release_configuration_from_shapes():
    """The released network (G = 20, M = 10, 64 features, reduction 16, ×4) on the meta
    device: the hyper-parameters come back from the shapes of our layout."""
    with torch.device("meta"):
        state = SAN(upscale=8).state_dict()
    found = detect_architecture(state)
    assert (found.arch, found.scale) == ("SAN", 8)
    assert {k: found.params[k] for k in ("num_feat", "num_group", "num_block", "reduction", "inter_channels")} == \
        dict(num_feat=64, num_group=20, num_block=10, reduction=16, inter_channels=8)
    assert found.support.tileable is False and found.support.supports_fp16 is False


def test_san_bad_files_are_one_line():
    sd = san_weights(nf=8, groups=2, blocks=2, reduction=2, scale=2)
    sd["RG.1.soca.conv_du.0.weight"] = torch.zeros(4, 7, 1, 1)
    with pytest.raises(UnsupportedStateDict, match=r"SAN weights do not fit: RG.1.soca.conv_du.0.weight "
                                                   r"is 4×7×1×1 in the file, 4×8×1×1 in the network"):
        detect_architecture(dict(sd)).build()
    sd = san_weights(nf=8, groups=2, blocks=2, reduction=2, scale=2)
    sd["RG.0.soca.conv_du.0.weight"] = torch.zeros(3, 8, 1, 1)
    with pytest.raises(UnsupportedStateDict, match="SAN layer names, but second-order attention squeezes 8 to 3"):
        detect_architecture(dict(sd))
    sd = san_weights(nf=8, groups=2, blocks=2, reduction=2, scale=2)
    sd["RG.0.rcab.5.conv_first.0.weight"] = sd["RG.0.rcab.0.conv_first.0.weight"]
    with pytest.raises(UnsupportedStateDict, match="residual blocks of group 0 are not numbered"):
        detect_architecture(dict(sd))


def test_san_tiles_are_not_independent():
    """Covariance pooling over the whole map and non-local attention over each quarter: tiles
    with the full receptive radius as context still differ from the whole image (random
    weights, 64 px image, 16 px tiles, 12 px context: radius 1 + 2 + 1 convs, the upsampler and
    conv_last), so SAN is run whole."""
    sd = san_weights(nf=8, groups=1, blocks=1, reduction=2, scale=2, seed=5)
    found = detect_architecture(dict(sd))
    model = ArchModel(found.build(), found.arch, found.scale, "t", params=found.params)
    model.context = 12
    src = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    whole = np.empty((128, 128, 3), np.float32)
    tiled = np.empty_like(whole)
    with torch.inference_mode():
        run_tiled(model, src, whole, tile=0)
        run_tiled(model, src, tiled, tile=16)
    psnr = 10 * math.log10(1 / float(np.mean((tiled - whole) ** 2)))
    assert 10 < psnr < 30, psnr  # measured 16.6 dB


def test_san_checkpoint_add_upscale_bench(tmp_path, capsys):
    sd = san_weights(nf=8, groups=1, blocks=1, reduction=2, scale=2, seed=21)
    for key in sd:  # small weights keep the random network's output within 0..1
        if key.startswith(("head", "RG", "tail")) and key.endswith("weight"):
            sd[key] = sd[key] * 0.2
    path = tmp_path / "SAN_BIX2-tiny.pt"
    torch.save(dict(sd), path)
    added = add_checkpoint(path, "tiny san", capsys)
    assert added["arch"] == "SAN" and added["scales"] == [2]
    assert upscale_random(added["id"], tmp_path, (11, 13), seed=5) == (22, 26, 3)
    result = bench_waves(added["id"], tmp_path, 2, (24, 28))
    # small weights: about the DIV2K mean colour, as the tiny EDSR of test_archs_residual.py
    assert 17 < result["psnr_y"] < 20, result["psnr_y"]  # measured 18.48 dB
