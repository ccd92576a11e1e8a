"""DISTS with random weights in the real files' layouts, against a forward pass written from
the paper's formulas; and the one-line refusals of wrong or missing files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sr_desktop.engine.metrics.dists import DISTS, L2Pool, load_dists_weights
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.perceptual import load_perceptual
from sr_desktop.engine.metrics.vgg16 import TORCHVISION_FILE, load_vgg16_state
from tests.perceptual_weights import (
    random_dists_state,
    random_lpips_state,
    random_vgg16_state,
    reference_vgg16_taps,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dists")
    vgg, weights, lin = folder / TORCHVISION_FILE, folder / "weights.pt", folder / "vgg.pth"
    torch.save(random_vgg16_state(), vgg)
    torch.save(random_dists_state(), weights)
    torch.save(random_lpips_state(), lin)
    return vgg, weights, lin


@pytest.fixture(scope="module")
def network(files):
    vgg, weights, _ = files
    return DISTS(load_vgg16_state(vgg), *load_dists_weights(weights)).eval()


def reference_l2pool(h: torch.Tensor) -> torch.Tensor:
    """sqrt of the [1 2 1]ᵀ[1 2 1]/16-weighted sum of squares, stride 2, zero padding 1."""
    window = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=h.dtype) / 16
    c = h.shape[1]
    return (F.conv2d(h * h, window.expand(c, 1, 3, 3), stride=2, padding=1, groups=c) + 1e-12).sqrt()


def reference_dists(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """DISTS from the paper's formulas in float64, with the fixture's random weights."""
    vgg, ab = random_vgg16_state(), random_dists_state()
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)

    def stages(img):
        img = img.double()
        return [img, *reference_vgg16_taps(vgg, (img - mean) / std, reference_l2pool)]

    alpha, beta = ab["alpha"].double().flatten(), ab["beta"].double().flatten()
    total_weight = alpha.sum() + beta.sum()
    score = torch.zeros(x.shape[0], dtype=torch.float64)
    start = 0
    for fx, fy in zip(stages(x), stages(y), strict=True):
        c = fx.shape[1]
        a, b = alpha[start:start + c] / total_weight, beta[start:start + c] / total_weight
        start += c
        mx, my = fx.mean(dim=(2, 3)), fy.mean(dim=(2, 3))
        vx, vy = fx.var(dim=(2, 3), unbiased=False), fy.var(dim=(2, 3), unbiased=False)
        cov = ((fx - mx[:, :, None, None]) * (fy - my[:, :, None, None])).mean(dim=(2, 3))
        texture = (2 * mx * my + 1e-6) / (mx**2 + my**2 + 1e-6)
        structure = (2 * cov + 1e-6) / (vx + vy + 1e-6)
        score += (texture * a + structure * b).sum(dim=1)
    assert start == 1475
    return 1 - score


def images(seed=0, shape=(2, 3, 40, 36)):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g)
    y = (x + 0.15 * torch.randn(shape, generator=g)).clamp(0, 1)
    return x, y


def test_l2_pooling_window():
    pool = L2Pool(2)
    x = torch.zeros(1, 2, 5, 5)
    x[0, 0, 2, 2] = 4.0  # under the centre (weight 4/16) of the window centred on it only
    x[0, 1, 1, 1] = 4.0  # under a corner (weight 1/16) of the four windows around it
    out = pool(x)
    assert out.shape == (1, 2, 3, 3)  # ⌈5 / 2⌉
    assert out[0, 0, 1, 1].item() == pytest.approx(2.0, abs=1e-6)  # sqrt(16 · 4/16)
    assert out[0, 0, 0, 0].item() == pytest.approx(1e-6, abs=1e-9)  # sqrt(0 + 1e-12)
    assert torch.allclose(out[0, 1, :2, :2], torch.ones(2, 2), atol=1e-6)  # sqrt(16 · 1/16)


def test_identical_images_are_at_distance_zero(network):
    x, _ = images()
    assert network(x, x).abs().max().item() < 1e-6  # measured 2.4e-07 (float32 rounding)


def test_agrees_with_the_formulas(network):
    x, y = images()
    expected = reference_dists(x, y)
    assert (expected > 0.02).all()  # not a vanishing case: measured 0.0276 and 0.0247
    assert torch.allclose(network(x, y).double(), expected, rtol=0, atol=1e-6)  # measured max diff 7.5e-08


def test_symmetric(network):
    x, y = images(seed=3)
    assert torch.allclose(network(x, y), network(y, x), rtol=0, atol=1e-7)


def test_both_metrics_share_one_vgg16_file_and_score_small_images(files):
    vgg, weights, lin = files
    lpips_metric, dists_metric = load_perceptual(lpips_file=lin, dists_file=weights, vgg16_file=vgg)
    assert (lpips_metric.name, dists_metric.name) == ("lpips", "dists")
    rng = np.random.default_rng(1)
    hr = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-30, 31, hr.shape), 0, 255).astype(np.uint8)
    assert lpips_metric.distance(sr, hr) is None  # under 16 pixels
    value = dists_metric.distance(sr, hr)  # L2 pooling leaves 1 pixel at relu5_3
    assert value is not None and 0 < value < 1


def one_line_error(excinfo, *parts):
    message = str(excinfo.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message


def test_missing_and_wrong_dists_files(tmp_path, files):
    vgg, _, _ = files
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(dists_file=tmp_path / "weights.pt", vgg16_file=vgg)
    one_line_error(excinfo, "DISTS weights not found", "weights.pt")

    torch.save({"alpha": random_dists_state()["alpha"]}, tmp_path / "alpha.pt")
    with pytest.raises(EvaluationError) as excinfo:
        load_dists_weights(tmp_path / "alpha.pt")
    one_line_error(excinfo, "alpha.pt is not the DISTS release's weights.pt", "no beta")

    torch.save({"alpha": torch.rand(1, 1472, 1, 1), "beta": torch.rand(1, 1475, 1, 1)}, tmp_path / "short.pt")
    with pytest.raises(EvaluationError) as excinfo:
        load_dists_weights(tmp_path / "short.pt")
    one_line_error(excinfo, "short.pt", "alpha is 1×1472×1×1, expected 1×1475×1×1")

    torch.save({"alpha": torch.zeros(1, 1475, 1, 1), "beta": torch.zeros(1, 1475, 1, 1)}, tmp_path / "zero.pt")
    with pytest.raises(EvaluationError) as excinfo:
        load_dists_weights(tmp_path / "zero.pt")
    one_line_error(excinfo, "zero.pt", "do not sum to a positive value")

    # the LPIPS file given as DISTS's (and the other way round) is named as such
    _, weights, lin = files
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(dists_file=lin, vgg16_file=vgg)
    one_line_error(excinfo, "vgg.pth is not the DISTS release's weights.pt", "no alpha")
    with pytest.raises(EvaluationError) as excinfo:
        load_perceptual(lpips_file=weights, vgg16_file=vgg)
    one_line_error(excinfo, "weights.pt is not the lpips package's weights/v0.1/vgg.pth")
