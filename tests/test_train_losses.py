"""Each training loss on inputs whose value is known by hand; the loss spec parser."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.models.archs import SRVGGNetCompact
from sr_desktop.engine.training.degradations import Bicubic, bicubic_downscale_torch
from sr_desktop.engine.training.discriminators import UNetDiscriminatorSN, VGGDiscriminator
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.losses import (
    LossSet,
    charbonnier_loss,
    discriminator_adversarial,
    generator_adversarial,
    gradient_loss,
    gram_matrix,
    level_targets,
    parse_loss_spec,
    texture_loss,
    tv_loss,
)
from sr_desktop.engine.training.networks import NetOutput, build_network
from sr_desktop.engine.training.vgg import VGGFeatures, find_vgg_weights, vgg19_features


def _images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)


def test_pixel_losses_known_values():
    a = torch.zeros(1, 3, 4, 4)
    b = a + 0.1
    specs = parse_loss_spec("l1:1,mse:1,charbonnier:1")
    net = build_network("SRVGGNetCompact:num_feat=4,num_conv=1", 2)
    losses = LossSet(specs, net, Bicubic())
    _, parts = losses.generator_loss(NetOutput(b), a, a)
    assert parts["l1"] == pytest.approx(0.1, abs=1e-6)
    assert parts["mse"] == pytest.approx(0.01, abs=1e-6)
    assert parts["charbonnier"] == pytest.approx(math.sqrt(0.01 + 1e-6), abs=1e-6)
    # identical images: zero, except Charbonnier's ε
    _, parts = losses.generator_loss(NetOutput(a), a, a)
    assert parts["l1"] == 0 and parts["mse"] == 0
    assert float(charbonnier_loss(a, a)) == pytest.approx(1e-3)


def test_gram_and_texture_by_hand():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    expected = torch.tensor([[5.0, 11.0], [11.0, 25.0]]) / 4  # F·Fᵀ / (C·H·W)
    assert torch.allclose(gram_matrix(f)[0], expected)
    assert float(texture_loss(f, f)) == 0
    g = f * 2  # Gram ×4: differences 3·G
    assert float(texture_loss(f, g)) == pytest.approx(float(((3 * expected) ** 2).mean()))


def test_tv_by_hand():
    x = torch.tensor([[0.0, 1.0], [3.0, 5.0]]).reshape(1, 1, 2, 2)
    # horizontal |1-0|, |5-3| -> 1.5; vertical |3-0|, |5-1| -> 3.5
    assert float(tv_loss(x)) == pytest.approx(5.0)
    assert float(tv_loss(torch.ones(1, 3, 5, 5))) == 0


def test_gradient_loss_zero_on_identical_positive_otherwise():
    a, b = _images()
    assert float(gradient_loss(a, a)) == 0
    assert float(gradient_loss(a, b)) > 0.01


def test_adversarial_losses_known_values():
    zero = torch.zeros(4, 1)
    assert float(generator_adversarial("gan", zero, zero)) == pytest.approx(math.log(2))
    assert float(generator_adversarial("lsgan", zero, zero + 1)) == 0
    assert float(generator_adversarial("ragan", zero, zero)) == pytest.approx(math.log(2))
    big = torch.full((4, 1), 30.0)
    assert float(discriminator_adversarial("gan", big, -big)) < 1e-9
    assert float(discriminator_adversarial("lsgan", zero + 1, zero)) == 0
    assert float(discriminator_adversarial("ragan", big, -big)) < 1e-9


def test_adversarial_losses_with_logits_that_tell_the_targets_apart():
    """At zero logits BCE is log 2 whatever the target: swapped targets passed the test
    above. Here fake = +2, real = −1 (sigmoid 0.88 / 0.27)."""
    fake, real = torch.full((4, 1), 2.0), torch.full((4, 1), -1.0)
    softplus = lambda v: math.log1p(math.exp(v))  # noqa: E731 - BCE with logits: log(1 + e^(∓x))
    assert float(generator_adversarial("gan", real, fake)) == pytest.approx(softplus(-2.0))
    # RaGAN (ESRGAN eq. 2): the real relative to the mean fake towards 0, the fake towards 1
    assert float(generator_adversarial("ragan", real, fake)) == pytest.approx(softplus(-3.0))
    assert float(discriminator_adversarial("gan", real, fake)) == pytest.approx(softplus(1.0) + softplus(2.0))
    assert float(discriminator_adversarial("ragan", real, fake)) == pytest.approx(softplus(3.0))
    assert float(generator_adversarial("lsgan", real, fake)) == pytest.approx(1.0)


def test_the_total_is_the_weighted_sum_of_the_terms():
    """A spec's weights (the GAN preset l1:0.01,perceptual:1,ragan:0.005) must weigh: a total
    that ignored them trained every term at 1."""
    net = build_network("SRVGGNetCompact:num_feat=4,num_conv=1", 2)
    losses = LossSet(parse_loss_spec("l1:0.5,mse:2,tv:0.25"), net, Bicubic())
    sr, hr = _images()
    total, parts = losses.generator_loss(NetOutput(sr), hr[:, :, ::2, ::2], hr)
    assert float(total) == pytest.approx(0.5 * parts["l1"] + 2 * parts["mse"] + 0.25 * parts["tv"], rel=1e-6)


def test_discriminators_shapes():
    x = torch.rand(2, 3, 32, 32)
    assert VGGDiscriminator(3, num_feat=8)(x).shape == (2, 1)
    assert UNetDiscriminatorSN(3, num_feat=8)(x).shape == (2, 1, 32, 32)
    assert VGGDiscriminator(1, num_feat=8)(x[:, :1]).shape == (2, 1)


def test_perceptual_loss_zero_on_identical_and_from_a_weight_file(tmp_path):
    torch.manual_seed(0)
    features = vgg19_features("relu2_2")
    a, b = _images()
    vgg = VGGFeatures("relu2_2", features=features)
    assert float(torch.nn.functional.l1_loss(vgg(a), vgg(a))) == 0
    assert float(torch.nn.functional.l1_loss(vgg(a), vgg(b))) > 0
    # torchvision's key names load: features.N.weight
    path = tmp_path / "vgg19-test.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    loaded = VGGFeatures("relu2_2", weights=path)
    assert torch.equal(loaded(a), vgg(a))


def test_no_vgg_weights_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(TrainingError) as err:
        find_vgg_weights(None)
    assert "nothing is downloaded" in str(err.value) and "\n" not in str(err.value)
    net = build_network("SRVGGNetCompact:num_feat=4,num_conv=1", 2)
    with pytest.raises(TrainingError):
        LossSet(parse_loss_spec("l1:1,perceptual:0.01"), net, Bicubic())


def test_unusable_vgg_weight_files_are_one_clear_line(tmp_path):
    (tmp_path / "random.pth").write_bytes(os.urandom(5000))
    with pytest.raises(TrainingError) as err:
        VGGFeatures("relu2_2", weights=tmp_path / "random.pth")
    # torch's own text advised re-running with weights_only=False, an unsafe load
    assert str(err.value).endswith("random.pth: not a readable PyTorch file")
    other = SRVGGNetCompact(num_feat=8, num_conv=1, upscale=2)
    torch.save(other.state_dict(), tmp_path / "compact.pth")
    with pytest.raises(TrainingError) as err:  # was: KeyError: '0.weight'
        VGGFeatures("relu2_2", weights=tmp_path / "compact.pth")
    assert "not torchvision's VGG19 layout (no features.0.weight" in str(err.value)


def test_cycle_loss_zero_when_sr_degrades_to_lr():
    hr = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    lr = bicubic_downscale_torch(hr, 2)
    # the torch bicubic is MATLAB's imresize (float)
    ref = imresize(hr[0].permute(1, 2, 0).numpy(), 0.5)
    assert np.allclose(lr[0].permute(1, 2, 0).numpy(), ref, atol=1e-12)
    net = build_network("SRVGGNetCompact:num_feat=4,num_conv=1", 2)
    losses = LossSet(parse_loss_spec("cycle"), net, Bicubic())
    _, parts = losses.generator_loss(NetOutput(hr.float()), lr.float(), hr.float())
    assert parts["cycle"] < 1e-6


def test_levels_loss_for_lapsrn():
    net = build_network("LapSRN:depth=1,num_feat=8", 4)
    targets = level_targets(torch.rand(1, 1, 32, 32), 2)
    assert [t.shape[-1] for t in targets] == [16, 32]
    losses = LossSet(parse_loss_spec("levels"), net, Bicubic())
    out = net(torch.rand(1, 3, 8, 8))
    assert len(out.levels) == 2
    total, parts = losses.generator_loss(out, torch.rand(1, 1, 8, 8), torch.rand(1, 1, 32, 32))
    assert total.requires_grad and parts["levels"] > 0
    other = build_network("SRVGGNetCompact:num_feat=4,num_conv=1", 4)
    with pytest.raises(TrainingError, match="LapSRN"):
        LossSet(parse_loss_spec("levels"), other, Bicubic())


def test_loss_spec_parser():
    terms = parse_loss_spec("l1:1, perceptual@relu5_4:0.01, ragan@unet:0.005, tv")
    assert [(t.name, t.weight, t.option) for t in terms] == [
        ("l1", 1.0, ""), ("perceptual", 0.01, "relu5_4"), ("ragan", 0.005, "unet"), ("tv", 1.0, "")]
    for bad in ("", "l3:1", "l1:-1", "l1:abc", "gan@big:1", "perceptual@relu9_9:1", "l1:1,l1:2",
                "gan:1,lsgan:1", "tv@x:1"):
        with pytest.raises(TrainingError):
            parse_loss_spec(bad)


@pytest.mark.parametrize("arch, scale, loss", [
    ("SPSR:num_feat=8,num_block=2,num_grad_block=1,tap_every=2,num_grow_ch=4", 2,
     "l1:0.01,perceptual@relu1_2:1,texture@relu1_2:1,tv:0.1,ragan@unet:0.005,gradient:0.01,gradbranch:0.5,cycle:0.1"),
    ("LapSRN:depth=1,num_feat=8", 4, "charbonnier:1,levels:1,lsgan@vgg:0.01"),
    ("FSRCNN:d=8,s=4,m=1", 3, "mse:1,gan:0.01,perceptual@relu1_2:0.1"),
])
def test_every_term_trains_in_a_real_run(tmp_path, arch, scale, loss):
    from train_fixtures import make_images

    from sr_desktop.app.kernel_jobs import torch_threads
    from sr_desktop.engine.training import TrainOptions, train

    torch.manual_seed(1)
    weights = tmp_path / "vgg19-small.pth"  # the first block is all these losses read
    torch.save({f"features.{k}": v for k, v in vgg19_features("relu1_2").state_dict().items()}, weights)
    data = make_images(tmp_path / "data", 1, 16 * scale + 8, seed=0)
    options = TrainOptions(arch=arch, scale=scale, data=(str(data),), out=str(tmp_path / "run"), loss=loss,
                           iterations=3, batch=2, patch=12, device="cpu", vgg_weights=str(weights), log_every=1)
    with torch_threads(1):
        result = train(options)
    assert result.iterations == 3 and result.model_path.is_file()
    import json

    record = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()][-2]
    names = [t.name for t in parse_loss_spec(loss)]
    assert record["kind"] == "train" and all(math.isfinite(record[n]) for n in names)
    if any(n in ("gan", "lsgan", "ragan") for n in names):
        assert math.isfinite(record["discriminator"])


def test_a_weight_file_is_read_as_safetensors_by_its_header_not_by_one_byte(tmp_path):
    """Random bytes with a "{" at offset 8 (1 file in 256) were read as safetensors and the
    message said so; a safetensors file under another suffix is still recognised."""
    from safetensors.torch import save_file

    from sr_desktop.engine.core.weight_file import WeightFileError, read_weight_file

    data = bytearray(np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    data[8] = ord("{")
    (tmp_path / "random.pth").write_bytes(bytes(data))
    with pytest.raises(WeightFileError) as err:
        read_weight_file(tmp_path / "random.pth")
    assert err.value.reason == "not a readable PyTorch file"
    save_file({"w": torch.ones(2, 3)}, tmp_path / "real.safetensors")
    (tmp_path / "real.safetensors").rename(tmp_path / "real.pth")
    assert torch.equal(read_weight_file(tmp_path / "real.pth")["w"], torch.ones(2, 3))


def test_a_safetensors_file_whose_name_is_not_utf8_is_read(tmp_path):
    """safetensors opens UTF-8 paths only: a Latin-1 name (``m\\xe9x.safetensors``) was "not a
    readable safetensors file" while the same weights as .pth were taken."""
    from pathlib import Path

    from safetensors.torch import save_file

    from sr_desktop.engine.core.weight_file import read_weight_file

    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/m\xe9x.safetensors"))
    save_file({"w": torch.full((2, 3), 0.5)}, tmp_path / "plain.safetensors")
    (tmp_path / "plain.safetensors").rename(odd)
    assert torch.equal(read_weight_file(odd)["w"], torch.full((2, 3), 0.5))
