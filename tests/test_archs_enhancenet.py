"""EnhanceNet (Sajjadi et al., ICCV 2017): our plain PyTorch layout and the release's
TensorFlow variables (``generator/Conv_K/weights|biases``, kernels H × W × in × out).

As in test_archs_residual.py: random weights under each layout's names and shapes are
detected, built and run; the output must equal a reference forward written here from the
paper's Table 1 and the release's input convention (image − mean, plus its bicubic upscale),
with the bicubic of TensorFlow 1 (Keys a = −0.75 on the corner-aligned grid, edges repeated)
computed pixel by pixel. Tiny configurations: 8 features, 2 blocks, 7-10 px inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_archs_residual import Weights, conv

from sr_desktop.engine.models.archs import UnsupportedStateDict, detect_architecture
from sr_desktop.engine.models.archs.enhancenet import RELEASE_MEAN, EnhanceNet, legacy_bicubic_matrix
from sr_desktop.engine.models.custom import ArchModel
from sr_desktop.engine.pipeline.tiling import run_tiled
from tests.cli_checkpoints import add_checkpoint, bench_waves, upscale_random


def keys(d: float, a: float = -0.75) -> float:
    """Keys' cubic convolution kernel (1981) with parameter a."""
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def tf_bicubic_reference(x: torch.Tensor, scale: int) -> torch.Tensor:
    """TensorFlow 1's resize_bicubic, one output pixel at a time: source = out / scale, the
    four inputs around it (indices clamped) weighted by keys(distance)."""
    def axis(t: torch.Tensor, dim: int) -> torch.Tensor:
        n = t.shape[dim]
        outs = []
        for o in range(n * scale):
            src = o / scale
            base = math.floor(src)
            acc = 0
            for tap in (-1, 0, 1, 2):
                acc = acc + keys(src - (base + tap)) * t.select(dim, min(max(base + tap, 0), n - 1))
            outs.append(acc)
        return torch.stack(outs, dim)
    return axis(axis(x, 2), 3)


def plain_weights(nf: int, nb: int, n_up: int, seed: int = 0) -> Weights:
    sd = Weights(seed)
    sd.conv("conv_first", nf, 3, 3)
    for b in range(nb):
        sd.conv(f"body.{b}.conv1", nf, nf, 3)
        sd.conv(f"body.{b}.conv2", nf, nf, 3)
    for i in range(n_up):
        sd.conv(f"upsample.{i}", nf, nf, 3)
    sd.conv("conv_hr", nf, nf, 3)
    sd.conv("conv_last", 3, nf, 3)
    return sd


def enhancenet_reference(sd, x):
    """Table 1: ReLU(conv), blocks f + conv(ReLU(conv f)), [nearest ×2, conv, ReLU] per stage,
    ReLU(conv), conv; plus the bicubic upscale; the release feeds x − mean (and the mean back)."""
    mean = torch.tensor(RELEASE_MEAN).view(1, 3, 1, 1)
    feat = F.relu(conv(sd, "conv_first", x - mean))
    nb = len({k.split(".")[1] for k in sd if k.startswith("body.")})
    for b in range(nb):
        feat = feat + conv(sd, f"body.{b}.conv2", F.relu(conv(sd, f"body.{b}.conv1", feat)))
    n_up = len({k.split(".")[1] for k in sd if k.startswith("upsample.")})
    for i in range(n_up):
        feat = F.relu(conv(sd, f"upsample.{i}", feat.repeat_interleave(2, 2).repeat_interleave(2, 3)))
    residual = conv(sd, "conv_last", F.relu(conv(sd, "conv_hr", feat)))
    return residual + tf_bicubic_reference(x - mean, 2**n_up) + mean


def to_tensorflow(sd: dict) -> dict:
    """The release's variable names and kernel layout for a plain-layout state dict."""
    nb = len({k.split(".")[1] for k in sd if k.startswith("body.")})
    n_up = len({k.split(".")[1] for k in sd if k.startswith("upsample.")})
    order = ["conv_first", *(f"body.{b}.conv{j}" for b in range(nb) for j in (1, 2)),
             *(f"upsample.{i}" for i in range(n_up)), "conv_hr", "conv_last"]
    out = {}
    for k, name in enumerate(order):
        var = "generator/Conv" + (f"_{k}" if k else "")
        out[f"{var}/weights"] = sd[f"{name}.weight"].permute(2, 3, 1, 0).contiguous()
        out[f"{var}/biases"] = sd[f"{name}.bias"]
    return out


def test_legacy_bicubic_weights_by_hand():
    """×4: output 10 samples input 2.5: taps 1..4 at distances 1.5, 0.5, 0.5, 1.5 with
    Keys(a = −0.75) weights −0.09375, 0.59375, 0.59375, −0.09375; output 0 is input 0; every
    row sums to 1 (edges repeated)."""
    m = legacy_bicubic_matrix(6, 4)
    np.testing.assert_allclose(m[10], [0, -0.09375, 0.59375, 0.59375, -0.09375, 0], atol=1e-7)
    np.testing.assert_allclose(m[0], [1, 0, 0, 0, 0, 0], atol=1e-7)
    np.testing.assert_allclose(m.sum(1), np.ones(24), atol=1e-6)
    x = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    rows, cols = torch.from_numpy(legacy_bicubic_matrix(5, 4)), torch.from_numpy(legacy_bicubic_matrix(7, 4))
    torch.testing.assert_close(rows @ x @ cols.T, tf_bicubic_reference(x, 4), rtol=0, atol=1e-6)


@pytest.mark.parametrize("layout", ["plain", "tensorflow"])
def test_enhancenet_layouts(layout):
    sd = plain_weights(nf=8, nb=2, n_up=2, seed=3)
    state = to_tensorflow(sd) if layout == "tensorflow" else dict(sd)
    found = detect_architecture(state)
    assert (found.arch, found.scale) == ("EnhanceNet", 4)
    assert found.params == dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=2, num_upsample=2)
    x = torch.rand(2, 3, 7, 10, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out, ref = found.build()(x), enhancenet_reference(sd, x)
    assert out.shape == (2, 3, 28, 40)
    diff = (out - ref).abs().max().item()
    assert diff <= 1e-6, diff  # measured 2.4e-7 (float32 sums in another order)


def test_enhancenet_release_configuration_from_tensorflow_shapes():
    """The release's 25 convs (10 blocks, ×4): blocks and scale from the variable count."""
    with torch.device("meta"):
        plain = EnhanceNet().state_dict()
    found = detect_architecture(to_tensorflow(plain))
    assert (found.arch, found.scale, found.params["num_block"], found.params["num_feat"]) == ("EnhanceNet", 4, 10, 64)
    assert found.support.context_for(found.params) == 24


def test_enhancenet_bad_files_are_one_line():
    tf = to_tensorflow(plain_weights(8, 2, 2))
    del tf["generator/Conv_3/biases"], tf["generator/Conv_3/weights"]
    with pytest.raises(UnsupportedStateDict, match=r"EnhanceNet layer names, but 8 convs generator/Conv…Conv_7"):
        detect_architecture(tf)
    tf = to_tensorflow(plain_weights(8, 2, 2))
    tf["generator/Conv_2/weights"] = torch.zeros(3, 3, 5, 8)
    with pytest.raises(UnsupportedStateDict, match=r"body.0.conv2.weight is 8×5×3×3 in the file, 8×8×3×3"):
        detect_architecture(tf).build()
    tf = to_tensorflow(plain_weights(8, 2, 2))
    tf["generator/extra"] = torch.zeros(1)
    with pytest.raises(UnsupportedStateDict, match="unexpected tensor generator/extra"):
        detect_architecture(tf)


def test_enhancenet_tiles_equal_the_whole_image():
    """Convolutions, nearest ×2 and the bicubic residual are local: with the receptive
    radius as context (1 + 2·1 + 2 + 1 = 6 px for one block) tiles are exact."""
    found = detect_architecture(dict(plain_weights(8, 1, 2, seed=7)))
    model = ArchModel(found.build(), found.arch, found.scale, "t", params=found.params)
    model.context = found.support.context_for(found.params)
    assert model.context == 6
    src = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
    whole = np.empty((128, 128, 3), np.float32)
    tiled = np.empty_like(whole)
    with torch.inference_mode():
        run_tiled(model, src, whole, tile=0)
        run_tiled(model, src, tiled, tile=16)
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=5e-6)  # measured 0 (4.2e-3 with 4 px of context)


def test_enhancenet_checkpoint_add_upscale_bench(tmp_path, capsys):
    sd = plain_weights(8, 1, 2, seed=11)
    for key in sd:  # small weights: the output stays near the bicubic upscale
        if key.endswith("weight"):
            sd[key] = sd[key] * 0.1
    path = tmp_path / "enhancenet-tiny.pth"
    torch.save(dict(sd), path)
    added = add_checkpoint(path, "tiny enhancenet", capsys)
    assert added["arch"] == "EnhanceNet" and added["scales"] == [4]
    assert upscale_random(added["id"], tmp_path, (9, 7), seed=2) == (36, 28, 3)
    result = bench_waves(added["id"], tmp_path, 4, (32, 36))
    # near a bicubic upscale of smooth waves (shifted by the release's corner-aligned grid)
    assert 21 < result["psnr_y"] < 26, result["psnr_y"]  # measured 23.16 dB
