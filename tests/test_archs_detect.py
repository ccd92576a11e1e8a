"""Architecture detection from state dicts (random weights), key-layout mapping and
SPAN's Conv3XC folding."""

from __future__ import annotations

import pytest
import torch

from sr_desktop.engine.models.archs import (
    SPAN,
    RRDBNet,
    SRVGGNetCompact,
    UnsupportedStateDict,
    detect_architecture,
    unwrap_state_dict,
)
from sr_desktop.engine.models.archs.span import Conv3XC


def _small_rrdb(num_upsample=2, unshuffle=1, seed=0):
    torch.manual_seed(seed)
    return RRDBNet(num_feat=16, num_block=2, num_grow_ch=8, num_upsample=num_upsample,
                   unshuffle=unshuffle).eval()


def to_esrgan_layout(state):
    """The original ESRGAN key names for a BasicSR-layout state dict (written for the
    test independently of the converter)."""
    num_block = len({k.split(".")[1] for k in state if k.startswith("body.")})
    num_up = len({k.split(".")[0] for k in state if k.startswith("conv_up")})
    tops = {"conv_first": "model.0", "conv_body": f"model.1.sub.{num_block}",
            "conv_hr": f"model.{3 * num_up + 2}", "conv_last": f"model.{3 * num_up + 4}"}
    tops.update({f"conv_up{i + 1}": f"model.{3 + 3 * i}" for i in range(num_up)})
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "body":
            _, n, rdb, conv, kind = parts
            out[f"model.1.sub.{n}.RDB{rdb[-1]}.{conv}.0.{kind}"] = value
        else:
            out[f"{tops[parts[0]]}.{parts[1]}"] = value
    return out


@pytest.mark.parametrize("num_upsample,unshuffle,scale", [(2, 1, 4), (2, 2, 2), (2, 4, 1), (1, 1, 2)])
def test_rrdbnet_detects_scale_and_hyperparameters(num_upsample, unshuffle, scale):
    net = _small_rrdb(num_upsample, unshuffle)
    found = detect_architecture(net.state_dict())
    assert found.arch == "RRDBNet"
    assert found.scale == scale
    assert found.params == dict(num_in_ch=3, num_out_ch=3, num_feat=16, num_block=2,
                                num_grow_ch=8, num_upsample=num_upsample, unshuffle=unshuffle)
    x = torch.rand(1, 3, 16, 20)
    with torch.inference_mode():
        ref, out = net(x), found.build()(x)
    assert out.shape == (1, 3, 16 * scale, 20 * scale)
    assert torch.equal(out, ref)


@pytest.mark.parametrize("num_upsample,scale", [(2, 4), (1, 2), (3, 8)])
def test_old_esrgan_layout_maps_to_same_network(num_upsample, scale):
    net = _small_rrdb(num_upsample, seed=1)
    old = to_esrgan_layout(net.state_dict())
    assert "model.1.sub.0.RDB1.conv1.0.weight" in old
    found = detect_architecture(old)
    assert (found.arch, found.scale, found.params["num_block"]) == ("RRDBNet", scale, 2)
    x = torch.rand(1, 3, 12, 12)
    with torch.inference_mode():
        assert torch.equal(found.build()(x), net(x))


def test_mmsr_layout_maps_to_same_network():
    net = _small_rrdb(seed=2)
    renames = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2",
               "conv_hr": "HRconv"}
    old = {}
    for key, value in net.state_dict().items():
        head, rest = key.split(".", 1)
        if head == "body":
            n, rdb, tail = rest.split(".", 2)
            key = f"RRDB_trunk.{n}.RDB{rdb[-1]}.{tail}"
        else:
            key = f"{renames.get(head, head)}.{rest}"
        old[key] = value
    found = detect_architecture(old)
    x = torch.rand(1, 3, 10, 10)
    with torch.inference_mode():
        assert torch.equal(found.build()(x), net(x))


@pytest.mark.parametrize("scale", [2, 4])
def test_srvgg_detection(scale):
    torch.manual_seed(scale)
    net = SRVGGNetCompact(num_feat=24, num_conv=5, upscale=scale).eval()
    with torch.no_grad():  # PReLU starts at 0.25 everywhere; make the slopes distinct
        for m in net.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.0, 0.5)
    found = detect_architecture(net.state_dict())
    assert (found.arch, found.scale) == ("SRVGGNetCompact", scale)
    assert found.params["num_feat"] == 24 and found.params["num_conv"] == 5
    x = torch.rand(2, 3, 9, 11)
    with torch.inference_mode():
        assert torch.equal(found.build()(x), net(x))


@pytest.mark.parametrize("scale,channels", [(2, 48), (4, 52)])
def test_span_training_form_is_folded_exactly(scale, channels):
    torch.manual_seed(scale + channels)
    net = SPAN(feature_channels=channels, upscale=scale, training_form=True).eval()
    state = net.state_dict()
    assert "block_3.c2_r.sk.weight" in state and "block_3.c2_r.conv.1.weight" in state
    found = detect_architecture(state)
    assert (found.arch, found.scale) == ("SPAN", scale)
    assert found.params["feature_channels"] == channels and found.params["norm"] is True
    assert "block_3.c2_r.eval_conv.weight" in found.state_dict
    x = torch.rand(1, 3, 14, 18)
    with torch.inference_mode():
        ref, out = net(x), found.build()(x)
    assert out.shape == (1, 3, 14 * scale, 18 * scale)
    # the fold is exact algebra; float32 rounding of two different summation orders
    torch.testing.assert_close(out, ref, rtol=0, atol=2e-6 * ref.abs().max().item())  # measured 3.6-4.1e-7·max


def test_span_eval_form_and_no_norm():
    torch.manual_seed(3)
    net = SPAN(feature_channels=48, upscale=2, norm=False).eval()
    state = net.state_dict()
    assert "no_norm" in state and "conv_1.eval_conv.weight" in state
    found = detect_architecture(state)
    assert found.params["norm"] is False and found.scale == 2
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert torch.equal(found.build()(x), net(x))


def test_conv3xc_fold_matches_training_form_at_borders():
    torch.manual_seed(5)
    train = Conv3XC(4, 6, gain=2, training_form=True)
    from sr_desktop.engine.models.archs.span import collapse_conv3xc

    w, b = collapse_conv3xc(train.sk.weight, train.sk.bias, train.conv[0].weight, train.conv[0].bias,
                            train.conv[1].weight, train.conv[1].bias, train.conv[2].weight,
                            train.conv[2].bias)
    x = torch.randn(1, 4, 7, 5)
    with torch.no_grad():
        ref = train(x)
        out = torch.nn.functional.conv2d(x, w, b, padding=1)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)  # measured 2.4e-7


def test_unwrap_containers_and_module_prefix():
    net = SRVGGNetCompact(num_feat=8, num_conv=1, upscale=2)
    wrapped = {"params_ema": {"module." + k: v for k, v in net.state_dict().items()},
               "params": {"junk": torch.zeros(1)}, "iter": 5}
    state = unwrap_state_dict(wrapped)
    assert set(state) == set(net.state_dict())
    assert set(unwrap_state_dict({"state_dict": net.state_dict()})) == set(net.state_dict())


@pytest.mark.parametrize("wrap", [
    lambda sd: {"net_g": sd},  # (a trainer's generator)
    lambda sd: {"model_state_dict": sd, "optimizer_state_dict": {"state": {}}, "epoch": 3},  # PyTorch's tutorial
    lambda sd: {"params-ema": sd},  # (BasicSR's older name)
    lambda sd: {"weights_of_my_run": sd, "step": 10},  # the only dict, whatever its name
    lambda sd: {"netG." + k: v for k, v in sd.items()},  # (ESRGAN trainers' prefix)
    lambda sd: {"state_dict": {"model." + k: v for k, v in sd.items()}, "epoch": 2},  # a Lightning .ckpt
])
def test_the_containers_and_prefixes_spandrel_reads_are_unwrapped(wrap):
    """"the file holds no tensors" for {"net_g": weights} (false), and "no known layer names"
    for netG.-prefixed keys, which spandrel then took (as its own Compact, unlike the same
    weights without the prefix)."""
    net = SRVGGNetCompact(num_feat=8, num_conv=1, upscale=2)
    state = unwrap_state_dict(wrap(net.state_dict()))
    assert set(state) == set(net.state_dict())
    assert detect_architecture(state).arch == detect_architecture(net.state_dict()).arch


def test_module_comes_off_each_key_that_has_it():
    """An EMA of torch's AveragedModel: module.* weights beside an n_averaged counter. Taken off
    only when every key had it, the file got the list of twenty architectures instead of the
    tensor that does not fit."""
    net = SRVGGNetCompact(num_feat=8, num_conv=1, upscale=2)
    ema = {"module." + k: v for k, v in net.state_dict().items()} | {"n_averaged": torch.tensor(5)}
    assert set(unwrap_state_dict(ema)) == set(net.state_dict()) | {"n_averaged"}


def test_a_sequential_named_model_keeps_its_prefix_and_an_unknown_container_is_said_so():
    """The first ESRGAN's keys are an nn.Sequential's ("model.0.weight"): "model." is theirs."""
    sequential = {"model.0.weight": torch.zeros(4, 3, 3, 3), "model.0.bias": torch.zeros(4),
                  "model.1.sub.0.weight": torch.zeros(4, 4, 3, 3)}
    assert set(unwrap_state_dict(sequential)) == set(sequential)
    with pytest.raises(UnsupportedStateDict, match="no tensors outside the dicts a, b "):
        unwrap_state_dict({"a": {"w": torch.zeros(1)}, "b": {"w": torch.zeros(1)}})


def test_other_networks_are_rejected():
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 3))
    with pytest.raises(UnsupportedStateDict):
        detect_architecture(other.state_dict())
    broken = _small_rrdb().state_dict()
    del broken["conv_hr.weight"]
    with pytest.raises(UnsupportedStateDict):
        detect_architecture(broken).build()


# -- the registry of architectures ---------------------------------------------------------------


def test_registry_lists_every_architecture_once_in_detection_order():
    from sr_desktop.engine.models.archs import ARCH_REGISTRY, ARCHITECTURES
    from sr_desktop.engine.models.archs.detect import arch_support

    assert ARCHITECTURES[:3] == ("RRDBNet", "SRVGGNetCompact", "SPAN")
    early_cnns = ("SRCNN", "FSRCNN", "ESPCN", "VDSR", "VDSR-EDSR", "LapSRN")
    assert [ARCHITECTURES.index(a) for a in early_cnns] == sorted(ARCHITECTURES.index(a) for a in early_cnns)
    residual = ("SRResNet", "MSRResNet", "MDSR", "EDSR", "RDN", "RCAN")
    assert [ARCHITECTURES.index(a) for a in residual] == sorted(ARCHITECTURES.index(a) for a in residual)
    later = ("SPSR", "D-DBPN", "SAN", "EnhanceNet", "CSNLN", "ProSR")
    assert ARCHITECTURES[-len(later):] == later
    assert set(ARCHITECTURES) == {"RRDBNet", "SRVGGNetCompact", "SPAN", *early_cnns, *residual, *later}
    assert len(set(ARCHITECTURES)) == len(ARCHITECTURES)
    assert tuple(s.name for s in ARCH_REGISTRY) == ARCHITECTURES
    for support in ARCH_REGISTRY:
        assert arch_support(support.name) is support
        assert support.context > 0 and support.recommended_tile > 0
    with pytest.raises(KeyError):
        arch_support("UNet")


def test_registry_entries_carry_tiling_settings():
    from sr_desktop.engine.models.archs.detect import arch_support

    deep = detect_architecture(_small_rrdb().state_dict())  # 2 blocks: a small RRDBNet
    assert deep.support.context_for(deep.params) == 24
    assert arch_support("RRDBNet").context_for({"num_block": 23}) == 48
    shuffled = detect_architecture(_small_rrdb(num_upsample=2, unshuffle=2).state_dict())
    assert shuffled.support.align(shuffled.params) == 2
    assert arch_support("SPAN").align({}) == 1


class _TinyNet(torch.nn.Module):
    """A made-up architecture: one conv to 3·s² channels and a pixel shuffle."""

    def __init__(self, scale: int = 2):
        super().__init__()
        self.tiny_head = torch.nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
        self.shuffle = torch.nn.PixelShuffle(scale)

    def forward(self, x):
        return self.shuffle(self.tiny_head(x))


def test_adding_an_architecture_is_one_registry_entry(monkeypatch, tmp_path):
    from safetensors.torch import save_file

    from sr_desktop.engine.models import custom
    from sr_desktop.engine.models.archs import detect

    def infer(state):
        scale = int(round((state["tiny_head.weight"].shape[0] // 3) ** 0.5))
        return scale, {"scale": scale}, state

    entry = detect.ArchSupport(
        name="Tiny", matches=lambda s: "tiny_head.weight" in s, infer=infer, module=_TinyNet,
        context=2, recommended_tile=128,
    )
    monkeypatch.setattr(detect, "ARCH_REGISTRY", detect.ARCH_REGISTRY + (entry,))
    torch.manual_seed(0)
    net = _TinyNet(3).eval()
    found = detect_architecture(net.state_dict())
    assert (found.arch, found.scale, found.params) == ("Tiny", 3, {"scale": 3})
    x = torch.rand(1, 3, 8, 10)
    with torch.inference_mode():
        assert torch.equal(found.build()(x), net(x))
    # the custom-model loader takes the tiling settings from the entry
    path = tmp_path / "tiny.safetensors"
    save_file(net.state_dict(), str(path))
    model = custom.load_model_file(path)
    assert (model.arch, model.scale, model.context, model.recommended_tile) == ("Tiny", 3, 2, 128)
    # the real architectures are still found first
    assert detect_architecture(_small_rrdb().state_dict()).arch == "RRDBNet"
