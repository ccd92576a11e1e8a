"""ProSR and ProSRs (Wang et al., CVPRW 2018) in the release's layout (``proSR_x*.pth``).

As in test_archs_residual.py: a random-weight state dict is written here in the release's
names and shapes, detected (variant, levels, DCUs, widths), built and run at each of its
scales; the output must equal a reference forward written here with torch.nn.functional
from the paper (dense layers, DCUs, the level pyramid, sub-pixel ×2 steps, the residual
over the bicubic upscale) and the release's conventions (reflection-padded 3×3 convs,
0..255 minus DIV2K's mean), reading the file's own tensor names. Tiny configurations.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_archs_residual import Weights

from sr_desktop.engine.models.arch_model import matlab_bicubic
from sr_desktop.engine.models.archs import UnsupportedStateDict, detect_architecture, unwrap_state_dict
from sr_desktop.engine.models.archs.prosr import ProSR
from sr_desktop.engine.models.custom import ArchModel
from sr_desktop.engine.pipeline.tiling import run_tiled
from tests.cli_checkpoints import add_checkpoint, bench_waves, upscale_random

MEAN = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1)


def prosr_weights(init: int, growth: int, levels: tuple[tuple[int, ...], ...], residual: bool,
                  block_rate: float = 0.4, level_rate: float = 0.5, max_feat: int = 312, seed: int = 0) -> Weights:
    """The release's names (see `archs.prosr`); a 1×1 compression has no bias."""
    sd = Weights(seed)
    bn = 4 * growth
    for k in range(1, len(levels) + 1):
        sd.conv(f"init_conv_{k}.conv.1", init, 3, 3)
    feats = init
    for i, blocks in enumerate(levels):
        p = f"pyramid_residual_{i + 1}"
        if i:
            out = init if residual else int(level_rate * feats)
            sd.conv(f"{p}.compression_{i}.conv1", out, feats, 1, bias=False)
            feats = out
        for b, n in enumerate(blocks):
            q = f"{p}.residual_denseblock_{b + 1}.dense_block" if residual else f"{p}.denseblock_{b + 1}.dense"
            for j in range(n):
                sd.conv(f"{q}.denselayer{j + 1}.conv_1", bn, feats + j * growth, 1)
                sd.conv(f"{q}.denselayer{j + 1}.conv_2.conv.1", growth, bn, 3)
            if residual:
                sd.conv(f"{p}.residual_denseblock_{b + 1}.comp.conv1", feats, feats + n * growth, 1, bias=False)
            else:
                feats += n * growth
                if b != len(blocks) - 1:
                    sd.conv(f"{p}.denseblock_{b + 1}.comp.conv1", int(block_rate * feats), feats, 1, bias=False)
                    feats = int(block_rate * feats)
        if feats > max_feat:
            sd.conv(f"{p}.final_conv.final_comp.conv1", max_feat, feats, 1, bias=False)
            feats = max_feat
        sd.conv(f"{p}.final_conv.final_conv.conv.1", feats, feats, 3)
        sd.conv(f"{p}_residual_upsampler.m.0.conv.1", 4 * feats, feats, 3)
        sd.conv(f"reconst_{i + 1}.final_conv.conv.1", 3, feats, 3)
    return sd


def rconv(sd, name, x):
    """The release's Conv2d: reflection padding, then the conv."""
    w = sd[f"{name}.weight"]
    p = w.shape[-1] // 2
    return F.conv2d(F.pad(x, (p, p, p, p), mode="reflect") if p else x, w, sd.get(f"{name}.bias"))


def prosr_reference(sd, x, scale):
    """Wang et al.: F = conv_s(x); per level k ≤ log2 s: [compress], DCUs, [compress], conv,
    ReLU(shuffle₂(conv)) (ProSR: DCU(f) = f + 0.2·comp(dense(f)) and a skip around the level;
    ProSRs: dense blocks and compressions in a row); residual image conv(F) over the bicubic."""
    levels = scale.bit_length() - 1
    residual = any("residual_denseblock" in k for k in sd)
    f = rconv(sd, f"init_conv_{levels}.conv.1", (x - MEAN) * 255)
    for k in range(1, levels + 1):
        p = f"pyramid_residual_{k}"
        g = rconv(sd, f"{p}.compression_{k - 1}.conv1", f) if k > 1 else f
        b = 1
        while any(key.startswith(f"{p}.{'residual_' if residual else ''}denseblock_{b}.") for key in sd):
            block = f"{p}.residual_denseblock_{b}" if residual else f"{p}.denseblock_{b}"
            dense = f"{block}.dense_block" if residual else f"{block}.dense"
            h, j = g, 1
            while f"{dense}.denselayer{j}.conv_1.weight" in sd:
                new = rconv(sd, f"{dense}.denselayer{j}.conv_2.conv.1",
                            F.relu(rconv(sd, f"{dense}.denselayer{j}.conv_1", h)))
                h, j = torch.cat([h, new], 1), j + 1
            if f"{block}.comp.conv1.weight" in sd:
                h = rconv(sd, f"{block}.comp.conv1", h)
            g = g + 0.2 * h if residual else h
            b += 1
        if f"{p}.final_conv.final_comp.conv1.weight" in sd:
            g = rconv(sd, f"{p}.final_conv.final_comp.conv1", g)
        g = rconv(sd, f"{p}.final_conv.final_conv.conv.1", g)
        f = g + f if residual else g
        f = F.relu(F.pixel_shuffle(rconv(sd, f"{p}_residual_upsampler.m.0.conv.1", f), 2))
    return rconv(sd, f"reconst_{levels}.final_conv.conv.1", f) / 255 + matlab_bicubic(x, scale)


PROSR_TINY = dict(init=8, growth=4, levels=((2, 2), (2,), (1,)), residual=True)
PROSRS_TINY = dict(init=6, growth=3, levels=((2, 2), (2,), (2,)), residual=False, max_feat=10)


@pytest.mark.parametrize("variant", ["ProSR", "ProSRs"])
def test_prosr_release_layout_every_level(variant):
    config = PROSR_TINY if variant == "ProSR" else PROSRS_TINY
    sd = prosr_weights(**config, seed=1)
    checkpoint = {"class_name": "ProSR", "state_dict": dict(sd)}  # the release's .pth holds these (and params)
    found = detect_architecture(unwrap_state_dict(checkpoint))
    assert (found.arch, found.scale, found.scales) == ("ProSR", 8, (2, 4, 8))
    assert found.params["level_config"] == config["levels"] and found.params["residual"] == config["residual"]
    if variant == "ProSRs":  # 6 + 6 → comp 4 (int(0.4·12)) + 6 = 10 → level 2 from 5 → 11 > 10: final_comp
        assert "pyramid_residual_2.final_conv.final_comp.conv1.weight" in sd
        assert (found.params["level_compression"], found.params["max_num_feature"]) == (0.5, 10)
    module = found.build()
    x = torch.rand(1, 3, 6, 7, generator=torch.Generator().manual_seed(2))
    for scale in (2, 4, 8):
        with torch.inference_mode():
            out = module(x, **found.support.forward_kwargs(scale, found.params))
            ref = prosr_reference(sd, x, scale)
        assert out.shape == (1, 3, 6 * scale, 7 * scale)
        diff = (out - ref).abs().max().item()
        assert diff <= 1e-6, (scale, diff)  # measured 0 (the same operations in the same order)


def test_prosr_published_configurations_from_shapes():
    """The release's ProSR (160 features, growth 40, 9/3/1 DCUs of 8 layers) and ProSRs (24, 12,
    4/2/1 of 6, compressions 0.4 and 0.5) on the meta device: hyper-parameters from shapes."""
    with torch.device("meta"):
        full = ProSR().state_dict()
        small = ProSR(num_init_features=24, growth=12, level_config=((6,) * 4, (6,) * 2, (6,)), residual=False,
                      res_factor=1.0, level_compression=0.5).state_dict()
    found = detect_architecture(full)
    assert (found.params["num_init_features"], found.params["growth"], found.params["bn_size"]) == (160, 40, 4)
    assert found.params["level_config"] == ((8,) * 9, (8,) * 3, (8,)) and found.params["residual"]
    assert found.support.context_for(found.params) == 48  # radius 91 px, capped
    found = detect_architecture(small)
    assert (found.params["num_init_features"], found.params["growth"], found.params["block_compression"],
            found.params["level_compression"]) == (24, 12, 0.4, 0.5)
    assert not found.params["residual"] and found.support.context_for(found.params) == 37


def test_prosr_bad_files_are_one_line():
    sd = prosr_weights(**PROSR_TINY)
    del sd["init_conv_2.conv.1.weight"], sd["init_conv_2.conv.1.bias"]
    with pytest.raises(UnsupportedStateDict, match="ProSR layer names, but input convs are not numbered"):
        detect_architecture(dict(sd))
    sd = prosr_weights(**PROSR_TINY)
    sd["pyramid_residual_2.residual_denseblock_1.comp.conv1.weight"] = torch.zeros(8, 9, 1, 1)
    with pytest.raises(UnsupportedStateDict, match=r"residual_denseblock_1.comp.conv1.weight is 8×9×1×1 in the file, "
                                                   r"8×16×1×1 in the network"):
        detect_architecture(dict(sd)).build()


def test_prosr_tiles_equal_the_whole_image():
    """Convolutions only (reflection padding at tile edges is cropped away with the context):
    with the receptive radius as context tiles are exact."""
    found = detect_architecture(dict(prosr_weights(init=6, growth=3, levels=((1,), (1,)), residual=True, seed=4)))
    model = ArchModel(found.build(), found.arch, found.scale, "t", params=found.params)
    model.context = found.support.context_for(found.params)
    assert model.context == 6  # 1 + (1 + 2) + (1 + 2)/2 + 1/4 → 5.75 (the bicubic path reaches 2)
    src = np.random.default_rng(0).random((32, 32, 3), dtype=np.float32)
    whole = np.empty((128, 128, 3), np.float32)
    tiled = np.empty_like(whole)
    with torch.inference_mode():
        run_tiled(model, src, whole, tile=0)
        run_tiled(model, src, tiled, tile=16)
    np.testing.assert_allclose(tiled, whole, rtol=0, atol=5e-6)  # measured 3.6e-7 (0.13 with 3 px of context)


def test_prosr_checkpoint_add_upscale_bench(tmp_path, capsys):
    sd = prosr_weights(**PROSR_TINY, seed=9)
    for key in sd:  # small weights: the output stays near the bicubic upscale
        if key.endswith("weight"):
            sd[key] = sd[key] * 0.1
    path = tmp_path / "proSR_x8-tiny.pth"
    torch.save({"class_name": "ProSR", "state_dict": dict(sd)}, path)
    added = add_checkpoint(path, "tiny prosr", capsys)
    assert added["arch"] == "ProSR" and added["scales"] == [2, 4, 8]
    for scale in (2, 8):
        assert upscale_random(added["id"], tmp_path, (9, 7), seed=2, scale=scale) == (9 * scale, 7 * scale, 3)
    result = bench_waves(added["id"], tmp_path, 4, (32, 36))
    assert 45 < result["psnr_y"] < 55, result["psnr_y"]  # measured 50.98 dB (about the bicubic upscale)
