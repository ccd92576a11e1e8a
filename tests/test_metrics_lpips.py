"""LPIPS (VGG, v0.1) with random weights in the real files' layouts, against a forward pass
written from the paper's formulas; and the one-line refusals of wrong or missing files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.lpips import LPIPS, load_lpips_weights
from sr_desktop.engine.metrics.perceptual import load_perceptual
from sr_desktop.engine.metrics.vgg16 import TORCHVISION_FILE, load_vgg16_state
from tests.perceptual_weights import random_lpips_state, random_vgg16_state, reference_vgg16_taps


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lpips")
    vgg, lin = folder / TORCHVISION_FILE, folder / "vgg.pth"
    torch.save(random_vgg16_state(), vgg)
    torch.save(random_lpips_state(), lin)
    return vgg, lin


@pytest.fixture(scope="module")
def network(files):
    vgg, lin = files
    return LPIPS(load_vgg16_state(vgg), load_lpips_weights(lin)).eval()


def reference_lpips(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """LPIPS v0.1 from the formulas, float64, with the random weights of the fixture files."""
    vgg, lin = random_vgg16_state(), random_lpips_state()
    shift = torch.tensor([-0.030, -0.088, -0.188], dtype=torch.float64).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450], dtype=torch.float64).view(1, 3, 1, 1)

    def taps(img):
        return reference_vgg16_taps(vgg, ((2 * img.double() - 1) - shift) / scale, lambda h: F.max_pool2d(h, 2))

    total = torch.zeros(x.shape[0], dtype=torch.float64)
    for i, (fx, fy) in enumerate(zip(taps(x), taps(y), strict=True)):
        ux = fx / (fx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        uy = fy / (fy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        w = lin[f"lin{i}.model.1.weight"].double().view(1, -1, 1, 1)
        total += ((ux - uy).pow(2) * w).sum(1).mean(dim=(1, 2))
    return total


def images(seed=0, shape=(2, 3, 40, 36)):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g)
    y = (x + 0.15 * torch.randn(shape, generator=g)).clamp(0, 1)
    return x, y


def test_identical_images_are_at_distance_zero(network):
    x, _ = images()
    assert network(x, x).abs().max().item() == 0.0


def test_agrees_with_the_formulas(network):
    x, y = images()
    expected = reference_lpips(x, y)
    got = network(x, y).double()
    assert (expected > 0.01).all()  # not a vanishing case: measured 0.0181 and 0.0172
    assert torch.allclose(got, expected, rtol=0, atol=1e-6)  # float32 network: measured max diff 3.0e-10


def test_symmetric(network):
    x, y = images(seed=3)
    assert torch.allclose(network(x, y), network(y, x), rtol=0, atol=1e-7)


def test_numpy_distance_matches_the_network_and_grey_is_three_equal_channels(files):
    vgg, lin = files
    (metric,) = load_perceptual(lpips_file=lin, vgg16_file=vgg)
    assert metric.name == "lpips"
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
    as_tensor = [torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)[None] for a in (sr, hr)]
    assert metric.distance(sr, hr) == pytest.approx(float(metric.network(*as_tensor)[0]), abs=1e-7)
    # float on the 0..255 scale (the protocol's unrounded output) gives the same number
    assert metric.distance(sr.astype(np.float64), hr) == pytest.approx(metric.distance(sr, hr), abs=1e-7)
    grey_sr, grey_hr = sr[:, :, :1], hr[:, :, :1]
    rgb = metric.distance(np.repeat(grey_sr, 3, axis=2), np.repeat(grey_hr, 3, axis=2))
    assert metric.distance(grey_sr, grey_hr) == pytest.approx(rgb, abs=1e-7)
    assert metric.distance(sr[:15], hr[:15]) is None  # relu5_3 is 1/16 of the image


def one_line_error(excinfo, *parts):
    message = str(excinfo.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message
    return message


def test_missing_and_wrong_lpips_files(tmp_path, files):
    vgg, _ = files
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(lpips_file=tmp_path / "none.pth", vgg16_file=vgg)
    one_line_error(excinfo, "LPIPS weights not found", "none.pth")

    state = random_lpips_state()
    del state["lin4.model.1.weight"]
    torch.save(state, tmp_path / "four.pth")
    with pytest.raises(EvaluationError) as excinfo:
        load_lpips_weights(tmp_path / "four.pth")
    one_line_error(excinfo, "four.pth", "no lin4.model.1.weight", "v0.1/vgg.pth")

    state = random_lpips_state()
    state["lin2.model.1.weight"] = torch.rand(1, 384, 1, 1)  # AlexNet's layer 2
    torch.save(state, tmp_path / "alex.pth")
    with pytest.raises(EvaluationError) as excinfo:
        load_lpips_weights(tmp_path / "alex.pth")
    one_line_error(excinfo, "alex.pth", "lin2.model.1.weight is 1×384×1×1, expected 1×256×1×1")

    (tmp_path / "text.pth").write_text("not a checkpoint\nsecond line\n")
    with pytest.raises(EvaluationError) as excinfo:
        load_lpips_weights(tmp_path / "text.pth")
    one_line_error(excinfo, "cannot read LPIPS weights", "text.pth")

    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(EvaluationError) as excinfo:
        load_lpips_weights(tmp_path / "list.pth")
    one_line_error(excinfo, "list.pth is not a state dict")

    state = random_lpips_state()
    state["lin0.model.1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    with pytest.raises(EvaluationError) as excinfo:
        load_lpips_weights(tmp_path / "nan.pth")
    one_line_error(excinfo, "nan.pth", "NaN")


def test_wrong_vgg16_files(tmp_path, files):
    _, lin = files
    state = random_vgg16_state()
    state["features.30.weight"] = torch.zeros(512, 512, 3, 3)  # a VGG19 goes on to layer 34
    torch.save(state, tmp_path / "vgg19.pth")
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(lpips_file=lin, vgg16_file=tmp_path / "vgg19.pth")
    one_line_error(excinfo, "vgg19.pth is not torchvision's ImageNet VGG16", "unexpected key features.30.weight")

    state = {f"module.{k}": v for k, v in random_vgg16_state().items() if k.startswith("features.")}
    torch.save(state, tmp_path / "wrapped.pth")
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(lpips_file=lin, vgg16_file=tmp_path / "wrapped.pth")
    one_line_error(excinfo, "wrapped.pth", "no features.0.weight", "module.features.0.weight")

    # a pickle that needs code to load is refused by weights_only, not run
    torch.save({"features.0.weight": EvaluationError("x")}, tmp_path / "code.pth")
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(lpips_file=lin, vgg16_file=tmp_path / "code.pth")
    one_line_error(excinfo, "refused to load VGG16 weights", "code.pth", "could run code")


def test_vgg16_from_the_hub_cache_or_a_clear_line(tmp_path, monkeypatch, files):
    vgg, lin = files
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(lpips_file=lin)
    one_line_error(excinfo, "--vgg16", TORCHVISION_FILE, "https://download.pytorch.org/models/",
                   "nothing is downloaded")
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / TORCHVISION_FILE).symlink_to(vgg)
    (metric,) = load_perceptual(lpips_file=lin)
    assert TORCHVISION_FILE in metric.describe
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(vgg16_file=vgg)
    one_line_error(excinfo, "only used by LPIPS and DISTS")
    assert load_perceptual() == ()
