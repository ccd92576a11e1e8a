"""LPIPS and DISTS against their published implementations (the lpips 0.1.4 and DISTS_pytorch
0.1 packages), with the same weights: the packages' own learned layer weights and a VGG16
with random weights in place of the ImageNet file, which cannot be had here. What this checks
is everything but the backbone's values: the input scaling, the taps, the normalisation, the
L2 pooling, the statistics and the weighting.

The packages import torchvision, so these tests run in the community environment
(scripts/test.sh installs the ``reference`` extra there)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

lpips = pytest.importorskip("lpips")
dists_pt = pytest.importorskip("DISTS_pytorch.DISTS_pt")
torchvision = pytest.importorskip("torchvision")

from sr_desktop.engine.metrics.perceptual import load_perceptual  # noqa: E402


@pytest.fixture(scope="module")
def vgg16_model():
    torch.manual_seed(0)
    return torchvision.models.vgg16(weights=None).eval()


@pytest.fixture(scope="module")
def vgg16_file(vgg16_model, tmp_path_factory):
    """The random VGG16 saved as torchvision saves its ImageNet file (features + classifier)."""
    path = tmp_path_factory.mktemp("vgg") / "vgg16-random.pth"
    torch.save(vgg16_model.state_dict(), path)
    return path


def _image_pair(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth 8-bit photo-like image and a blurred, noisy version of it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([np.sin(xx / (5 + 3 * c)) * np.cos(yy / (7 + 2 * c)) for c in range(3)], axis=2)
    hr = np.clip(127.5 + 90 * base + rng.normal(0, 12, base.shape), 0, 255)
    sr = hr.copy()
    sr[1:-1] = (hr[:-2] + hr[1:-1] + hr[2:]) / 3
    sr = np.clip(sr + rng.normal(0, 6, sr.shape), 0, 255)
    return sr.round().astype(np.uint8), hr.round().astype(np.uint8)


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None]


def _copy_of(model):
    """A stand-in for ``torchvision.models.vgg16`` that gives `model`'s weights whatever it is asked."""
    build = torchvision.models.vgg16

    def vgg16(*args, **kwargs):
        clone = build(weights=None)
        clone.load_state_dict(model.state_dict())
        return clone.eval()

    return vgg16


@pytest.mark.parametrize("height, width, seed", [(64, 80, 0), (97, 53, 1)])
def test_lpips_equals_the_lpips_package(vgg16_model, vgg16_file, monkeypatch, height, width, seed):
    monkeypatch.setattr(lpips.pretrained_networks.tv, "vgg16", _copy_of(vgg16_model))
    reference = lpips.LPIPS(net="vgg", version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()
    lin_file = Path(lpips.__file__).parent / "weights" / "v0.1" / "vgg.pth"
    (ours,) = load_perceptual(lpips_file=lin_file, vgg16_file=vgg16_file)
    sr, hr = _image_pair(height, width, seed)
    with torch.no_grad():
        theirs = float(reference(_tensor(sr), _tensor(hr), normalize=True).reshape(-1)[0])
    mine = ours.distance(sr, hr)
    assert theirs > 1e-3  # the pair is not trivially close: the comparison means something
    assert mine == pytest.approx(theirs, rel=1e-4)


@pytest.mark.parametrize("height, width, seed", [(64, 80, 0), (97, 53, 1)])
def test_dists_equals_the_dists_package(vgg16_model, vgg16_file, monkeypatch, height, width, seed):
    monkeypatch.setattr(dists_pt.models, "vgg16", _copy_of(vgg16_model))
    reference = dists_pt.DISTS().eval()  # reads the release's weights.pt from sys.prefix
    weights = Path(sys.prefix) / "weights.pt"
    (ours,) = load_perceptual(dists_file=weights, vgg16_file=vgg16_file)
    sr, hr = _image_pair(height, width, seed)
    with torch.no_grad():
        theirs = float(reference(_tensor(sr), _tensor(hr)))
    mine = ours.distance(sr, hr)
    assert theirs > 1e-3
    assert mine == pytest.approx(theirs, rel=1e-4)
