"""Zoo models through `load_model`: shapes, alignment, family conventions, odd sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models import zoo
from sr_desktop.engine.models.loader import load_model

FAST = [
    ("realesr-animevideov3", 2), ("realesr-animevideov3", 3),
    ("waifu2x-photo", 2), ("waifu2x-anime", 2), ("waifu2x-cunet", 1), ("waifu2x-cunet", 2),
    ("realcugan-se", 2), ("realcugan-se", 3), ("realcugan-se", 4), ("realcugan-pro", 2),
    ("srmd", 2), ("srmdnf", 3), ("span", 2), ("span", 4),
]


def crop(y: int, x: int, h: int, w: int) -> torch.Tensor:
    rgb = np.asarray(Image.open(paths.RESOURCES_DIR / "chelsea.png").convert("RGB"), np.float32) / 255
    return torch.from_numpy(np.ascontiguousarray(rgb[y : y + h, x : x + w].transpose(2, 0, 1)))[None]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 10 * np.log10(1 / mse) if mse > 0 else float("inf")


@pytest.mark.parametrize("model_id,scale", FAST)
def test_output_is_aligned_with_input(model_id, scale):
    """Box-downscaling the output gives back the input best at zero shift, with a PSNR that
    only a correctly placed crop reaches (a 1-px misalignment costs 5.6-25 dB on this photo)."""
    model = load_model(model_id, scale=scale)
    x = crop(80, 140, 30, 34)
    with torch.inference_mode():
        y = model.run(x)
    assert y.shape == (1, 3, 30 * scale, 34 * scale)
    down = F.avg_pool2d(y, scale) if scale > 1 else y
    scores = {}
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = torch.roll(x, (dy, dx), (2, 3))
            scores[(dy, dx)] = psnr(down[..., 3:-3, 3:-3], shifted[..., 3:-3, 3:-3])
    assert max(scores, key=scores.get) == (0, 0), scores
    # measured 29.80 (realcugan-pro ×2) - 50.93 dB (waifu2x-cunet ×2); best 1-px shift <= 25.8 dB
    assert scores[(0, 0)] > 29.3, scores


@pytest.mark.parametrize(
    "model_id,scale",
    [("waifu2x-cunet", 2), ("realcugan-se", 3), ("realesr-animevideov3", 4), ("srmd", 4), ("span", 2)],
)
@pytest.mark.parametrize("size", [(1, 1), (2, 5), (7, 3)])
def test_tiny_and_odd_inputs(model_id, scale, size):
    model = load_model(model_id, scale=scale)
    with torch.inference_mode():
        y = model.run(crop(100, 100, *size))
    assert y.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert torch.isfinite(y).all()


def test_realcugan_x4_adds_nearest_input():
    """Without the nearest-upscaled input the ×4 graph output is a residual near zero."""
    model = load_model("realcugan-se", scale=4)
    x = crop(60, 60, 24, 24)
    with torch.inference_mode():
        y = model.run(x)
        residual = y - F.interpolate(x, scale_factor=4, mode="nearest")
    assert psnr(F.avg_pool2d(y, 4), x) > 36.4  # measured 36.93 dB
    assert float(residual.abs().mean()) < 0.036 * float(x.mean())  # measured 0.0340


@pytest.mark.needs_srmd
def test_srmd_noise_plane_and_pca_planes():
    model = load_model("srmd", scale=2, variant="denoise7")
    x = crop(10, 10, 8, 9)
    planes, pad = model.prepare_input(x)
    assert pad == 0 and planes.shape == (1, 19, 8, 9)
    assert torch.equal(planes[:, :3], x)
    assert torch.allclose(planes[0, 3:18, 0, 0], torch.tensor(zoo.SRMD_BICUBIC_PCA))
    assert torch.allclose(planes[:, 18], torch.full((1, 8, 9), 7 / 255))
    nf = load_model("srmdnf", scale=2)
    assert nf.prepare_input(x)[0].shape[1] == 18
    assert load_model("srmd", scale=2, noise_level=15).noise_level == 15


def test_pad_border_modes():
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    r = zoo.pad_border(x, 4, 1, 3, 0, "reflect")
    assert r.shape == (1, 1, 5, 8)
    # periodic mirror of [0, 1, 2] without repeating the edge, done in two steps
    assert r[0, 0, 3].tolist() == [0.0, 1.0, 2.0, 1.0, 0.0, 1.0, 2.0, 1.0]
    e = zoo.pad_border(x, 2, 0, 0, 0, "replicate")
    assert e[0, 0, 0, :3].tolist() == [0.0, 0.0, 0.0]


def test_conventions_per_family():
    assert zoo.convention("waifu2x-upconv7", 2).border == "replicate"
    assert zoo.convention("realcugan", 3).border == "reflect"
    assert not zoo.convention("realcugan", 2).tileable
    assert zoo.convention("srmd", 2).prepad == 0
    assert zoo.convention("realcugan", 4).add_nearest


def test_bad_scale_and_variant_are_model_errors():
    with pytest.raises(ModelError, match="scales"):
        load_model("span", scale=3)
    with pytest.raises(ModelError, match="variant"):
        load_model("waifu2x-photo", scale=2, variant="denoise9")
    with pytest.raises(ModelError, match="noise_level"):
        load_model("span", scale=2, noise_level=3)
    with pytest.raises(ModelError, match="unknown model"):
        load_model("no-such-model")


def test_default_variants():
    assert load_model("span", scale=2).variant == "ch48"
    assert load_model("realcugan-se", scale=2).variant == "default"
    # ×1 CUNet only exists as a denoiser: the first denoise level is the default there
    assert load_model("waifu2x-cunet", scale=1).variant == "denoise0"


def test_peak_activation_bytes_grows_with_area():
    model = load_model("realcugan-se", scale=2)
    small = zoo.peak_activation_bytes(model, 48, 48)
    large = zoo.peak_activation_bytes(model, 96, 96)
    assert 2.5 < large / small < 4.5
    assert large > 96 * 96 * 64 * 4  # at least one 64-channel full-size blob
