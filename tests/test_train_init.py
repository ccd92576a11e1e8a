"""Initialisation of networks trained from scratch where torch's default does not train
them (VDSR's 20-layer plain stack stayed exactly at its bicubic input for 250 iterations)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.training.networks import bilinear_init, build_network, he_init


def test_he_init_keeps_the_signal_through_a_deep_relu_stack():
    torch.manual_seed(0)
    stack = nn.Sequential(*[m for _ in range(18) for m in (nn.Conv2d(64, 64, 3, padding=1, bias=False), nn.ReLU())])
    x = torch.randn(1, 64, 24, 24)
    default_std = stack(x).std().item()
    he_init(stack)
    he_std = stack(x).std().item()
    # measured: 9.4e-8 with torch's default init, 0.56 with He's
    assert default_std < 1e-3 < 0.1 < he_std < 10


def test_bilinear_init_upsamples_like_bilinear_interpolation():
    deconv = nn.ConvTranspose2d(3, 3, 4, stride=2, padding=1)
    bilinear_init(deconv)
    x = torch.rand(1, 3, 9, 7)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(deconv(x)[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-6)


def test_scratch_vdsr_and_lapsrn_start_from_their_interpolation():
    x = torch.rand(1, 1, 16, 16)
    vdsr = build_network("vdsr", 2).module
    assert torch.equal(vdsr(x), x)  # the residual starts at zero: output = bicubic input
    assert all(conv.weight.std() > 0.01 for conv in vdsr.body)
    lapsrn = build_network("lapsrn", 4).module
    ref = F.interpolate(F.interpolate(x, scale_factor=2, mode="bilinear"), scale_factor=2, mode="bilinear")
    out = lapsrn(x)
    assert out.shape == (1, 1, 64, 64)
    assert torch.allclose(out[..., 4:-4, 4:-4], ref[..., 4:-4, 4:-4], atol=1e-5)


def test_fsrcnn_fine_tunes_to_another_scale_from_a_file_without_one(tmp_path):
    """FSRCNN's weights do not record the scale (the deconvolution has the same shape at
    every scale): `--init` of a ×3 run's model.safetensors at ×2 builds a ×2 network with
    those weights, as the FSRCNN paper transfers its layers across scales."""
    from safetensors.torch import save_file

    from sr_desktop.engine.training.networks import exported_state_dict, network_from_model

    x3 = build_network("fsrcnn", 3)
    path = tmp_path / "model.safetensors"  # no scale in the name
    save_file(exported_state_dict(x3.module, x3.arch), str(path))
    x2 = network_from_model(str(path), 2)
    assert x2.scale == 2 and x2.arch == "FSRCNN"
    pairs = zip(x2.module.state_dict().values(), x3.module.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert x2.module(torch.rand(1, 1, 8, 8)).shape == (1, 1, 16, 16)


def test_a_lapsrn_pyramid_grows_to_a_larger_scale_from_its_trained_levels(tmp_path):
    """`--init` of a ×4 LapSRN at ×8 keeps its two levels and starts the third as a copy of
    the second (each level learns the same ×2 step); ×3 stays refused with one line."""
    import pytest
    from safetensors.torch import save_file

    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.networks import exported_state_dict, network_from_model

    torch.manual_seed(0)
    x4 = build_network("LapSRN:depth=2,num_feat=8", 4)
    for p in x4.module.parameters():  # trained-looking weights, every level different
        p.data.normal_(0, 0.1)
    path = tmp_path / "lapsrn_x4.safetensors"
    save_file(exported_state_dict(x4.module, x4.arch), str(path))
    x8 = network_from_model(str(path), 8)
    assert x8.scale == 8 and len(x8.module.levels) == 3
    assert x8.params["num_levels"] == 3 and x8.params["num_feat"] == 8
    for i in range(2):
        for a, b in zip(x8.module.levels[i].parameters(), x4.module.levels[i].parameters(), strict=True):
            assert torch.equal(a, b)
    for a, b in zip(x8.module.levels[2].parameters(), x4.module.levels[1].parameters(), strict=True):
        assert torch.equal(a, b)
    x = torch.rand(1, 1, 6, 6)
    levels = x8.module.pyramid(x)
    assert [t.shape[-1] for t in levels] == [12, 24, 48]
    assert torch.allclose(levels[1], x4.module(x), atol=1e-6)  # the ×4 network inside is untouched
    with pytest.raises(TrainingError, match="not ×3"):
        network_from_model(str(path), 3)


def test_a_x2_model_starts_x3_and_x4_networks_of_its_architecture(tmp_path):
    """EDSR's paper trains ×3 and ×4 from its ×2 model: `--init` of a ×2 EDSR at ×4 keeps
    the body and the first ×2 upsampling stage, the second starts fresh; at ×3 the whole
    upsampler is new."""
    from safetensors.torch import save_file

    from sr_desktop.engine.training.networks import exported_state_dict, network_from_model

    torch.manual_seed(0)
    x2 = build_network("EDSR:num_feat=8,num_block=2", 2)
    path = tmp_path / "edsr_x2.safetensors"
    save_file(exported_state_dict(x2.module, x2.arch), str(path))
    trained = x2.module.state_dict()
    x4 = network_from_model(str(path), 4)
    assert x4.scale == 4 and x4.params["upscale"] == 4 and x4.params["num_block"] == 2
    four = x4.module.state_dict()
    assert all(torch.equal(four[k], v) for k, v in trained.items())
    assert not torch.equal(four["upsample.2.weight"], trained["upsample.0.weight"])
    assert x4.module(torch.rand(1, 3, 5, 5)).shape == (1, 3, 20, 20)
    x3 = network_from_model(str(path), 3)
    three = x3.module.state_dict()
    assert three["upsample.0.weight"].shape != trained["upsample.0.weight"].shape
    assert all(torch.equal(three[k], v) for k, v in trained.items() if not k.startswith("upsample"))


def test_what_init_took_from_another_scale_is_said_and_logged(tmp_path, capsys):
    """docs/training.md: "The log names what was copied and what is new" — it was only in
    `-v`'s log lines, not on the terminal nor in log.jsonl."""
    import json

    from safetensors.torch import save_file
    from train_fixtures import make_images

    from sr_desktop.cli.main import main
    from sr_desktop.engine.training.networks import exported_state_dict

    torch.manual_seed(0)
    x2 = build_network("EDSR:num_feat=8,num_block=2", 2)
    path = tmp_path / "edsr_x2.safetensors"
    save_file(exported_state_dict(x2.module, x2.arch), str(path))
    data = make_images(tmp_path / "data", 2, 48, seed=1)
    out = tmp_path / "run"
    assert main(["train", "--arch", "EDSR", "--init", str(path), "--scale", "4", "--data", str(data),
                 "--out", str(out), "--iterations", "2", "--batch", "2", "--patch", "8", "--device", "cpu",
                 "-q"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "--init:" in line]
    assert len(said) == 1 and "tensors from the ×2 EDSR; new: upsample.2" in said[0]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["note"] for r in records if r["kind"] == "init"] == [said[0].removeprefix("sr-desktop: ")]


def test_init_at_a_scale_the_architecture_cannot_build_is_one_clear_error(tmp_path):
    """RRDBNet upsamples in ×2 steps: a ×4 model cannot start a ×3 network. `--init` says so
    in one line instead of failing while building it."""
    import pytest
    from safetensors.torch import save_file

    from sr_desktop.engine.core.errors import SRDesktopError
    from sr_desktop.engine.training.networks import exported_state_dict, network_from_model

    x4 = build_network("RRDBNet:num_feat=8,num_block=1,num_grow_ch=4", 4)
    path = tmp_path / "rrdb_x4.safetensors"
    save_file(exported_state_dict(x4.module, x4.arch), str(path))
    assert network_from_model(str(path), 2).scale == 2  # ×2 builds: the body kept, one upsampling step
    with pytest.raises(SRDesktopError) as failure:
        network_from_model(str(path), 3)
    message = str(failure.value)
    assert "\n" not in message and "cannot start a ×3" in message and "not a power of two" in message, message


def test_a_residual_scaling_not_in_the_weights_survives_export_and_load(tmp_path):
    """Detection guesses res_scale (0.1 for a 256-feature EDSR, 1 for RCAN): a network
    trained with another one was validated, resumed and loaded as a different network
    (0.029 apart on 0..1)."""
    import pytest

    from sr_desktop.engine.models.custom import load_model_file
    from sr_desktop.engine.training.export import model_metadata, write_model

    for spec, value in (("EDSR:num_feat=256,num_block=1,res_scale=1.0", 1.0),
                        ("EDSR:num_feat=256,num_block=1", 1.0),  # the module's default, left out of the spec
                        ("EDSR:num_feat=16,num_block=1,res_scale=0.1", 0.1),
                        ("RCAN:num_feat=16,num_group=1,num_block=1,squeeze_factor=4,res_scale=0.5", 0.5)):
        torch.manual_seed(0)
        net = build_network(spec, 2)
        assert net.params["res_scale"] == pytest.approx(value), spec
        with torch.no_grad():  # weights far from zero, so that the scaling shows
            for p in net.module.parameters():
                p.normal_(0, 0.05)
        path = write_model(net, tmp_path / "model.safetensors", model_metadata(net))
        loaded = load_model_file(path)
        assert loaded.params["res_scale"] == pytest.approx(value), spec
        x = torch.rand(1, 3, 12, 12)
        with torch.no_grad():
            torch.testing.assert_close(loaded.module(x), net.module.eval()(x), rtol=0, atol=1e-5)


def test_layers_an_init_of_another_scale_starts_train_at_the_rate_from_scratch(tmp_path, capsys, monkeypatch):
    """At the fine-tuning preset (2e-5) the fresh layers barely trained (an ESPCN ×2 → ×3:
    15 dB after 400 iterations, 26 dB at 2e-4); an FSRCNN ×2 file loaded at ×3 whole, its
    deconvolution at another stride, without a word — by its registry id, "new: none" and
    the preset's rate. A resumed run keeps its own rate."""
    import json

    from safetensors.torch import save_file
    from train_fixtures import make_images

    from sr_desktop.cli.main import main
    from sr_desktop.engine.training.networks import exported_state_dict

    data = make_images(tmp_path / "data", 2, 48, seed=1)

    def run(out, arch, init, scale, *more):
        assert main(["train", "--arch", arch, "--init", str(init), "--scale", str(scale), "--data", str(data),
                     "--out", str(out), "--iterations", "2", "--batch", "2", "--patch", "8", "--device", "cpu",
                     "--schedule", "constant", *more]) == 0
        said = [line for line in capsys.readouterr().err.splitlines() if "--init:" in line]
        rates = [r["lr"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "lr" in r]
        return said, rates

    torch.manual_seed(0)
    espcn = build_network("ESPCN", 2)
    save_file(exported_state_dict(espcn.module, "ESPCN"), str(tmp_path / "espcn_x2.safetensors"))
    said, rates = run(tmp_path / "e3", "ESPCN", tmp_path / "espcn_x2.safetensors", 3)
    assert len(said) == 1 and said[0].endswith("they train at lr 0.0002, as from scratch (--lr to choose)")
    assert rates[0] == 2e-4
    said, rates = run(tmp_path / "e3b", "ESPCN", tmp_path / "espcn_x2.safetensors", 3, "--lr", "1e-5")
    assert rates[0] == 1e-5 and "they train at" not in said[0]  # (asked for: as asked)
    said, rates = run(tmp_path / "e2", "ESPCN", tmp_path / "espcn_x2.safetensors", 2)
    assert said == [] and rates[0] == 2e-5  # its own scale: the fine-tuning preset
    fsrcnn = build_network("FSRCNN", 2)
    save_file(exported_state_dict(fsrcnn.module, "FSRCNN"), str(tmp_path / "fsrcnn_x2.safetensors"))
    said, rates = run(tmp_path / "f3", "FSRCNN", tmp_path / "fsrcnn_x2.safetensors", 3)
    assert len(said) == 1 and "the ×2 FSRCNN's last layer starts the ×3 one" in said[0] and rates[0] == 2e-4
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))  # (the model it registers)
    assert main(["models", "add", str(tmp_path / "fsrcnn_x2.safetensors"), "--name", "my fsrcnn", "--json"]) == 0
    model_id = json.loads(capsys.readouterr().out)["id"]
    said, rates = run(tmp_path / "f3id", "FSRCNN", model_id, 3)
    assert len(said) == 1 and "the ×2 FSRCNN's last layer starts the ×3 one" in said[0] and rates[0] == 2e-4
    assert main(["train", "--arch", "ESPCN", "--init", str(tmp_path / "espcn_x2.safetensors"), "--scale", "3",
                 "--data", str(data), "--out", str(tmp_path / "e3"), "--iterations", "4", "--batch", "2",
                 "--patch", "8", "--device", "cpu", "--schedule", "constant", "--resume"]) == 0
    assert "another learning-rate schedule: --iterations 2 → 4;" in capsys.readouterr().err  # (not --lr)
    rates = [r["lr"] for r in map(json.loads, (tmp_path / "e3" / "log.jsonl").read_text().splitlines()) if "lr" in r]
    assert rates[-1] == 2e-4
