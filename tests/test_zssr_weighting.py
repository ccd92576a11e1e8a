"""ZSSR's gradient weighting (KernelGAN's ZSSR configuration) and the named presets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.models.zssr import make_zssr_model
from sr_desktop.engine.models.zssr.weighting import crop_probability, gradient_loss_map
from sr_desktop.engine.models.zssr.zssr import PRESETS, ZSSROptions, ZSSRTrainer, bicubic_kernel, dihedral


def _photo() -> np.ndarray:
    """The bundled sample photo, float 0..1."""
    path = Path(__file__).resolve().parents[1] / "resources" / "sample.jpg"
    return np.asarray(PILImage.open(path).convert("RGB"), dtype=np.float64) / 255.0


def _half_textured(h: int = 64, w: int = 80) -> np.ndarray:
    """Flat grey on the left half, a random texture on the right half."""
    rng = np.random.default_rng(0)
    img = np.full((h, w, 3), 0.5)
    img[:, w // 2 :] = rng.random((h, w - w // 2, 3))
    return img


def test_loss_map_has_mean_one_zero_border_and_follows_texture():
    img = _half_textured()
    weights = gradient_loss_map(img)
    assert weights.shape == img.shape[:2]
    assert weights.mean() == pytest.approx(1.0)
    assert np.all(weights[:3] == 0) and np.all(weights[:, -3:] == 0)
    assert weights[10:-10, 5:30].max() == 0.0  # flat area: no weight
    assert weights[10:-10, 50:-5].min() > 1.7  # texture: all of the weight (measured 1.716)


def test_loss_map_of_a_flat_image_is_uniform():
    np.testing.assert_array_equal(gradient_loss_map(np.full((20, 30, 3), 0.3)), np.ones((20, 30)))


def test_crop_probability_is_a_distribution_away_from_the_border():
    img = _half_textured()
    prob = crop_probability(img, 16)
    margin = 16 // 2 - 1
    assert prob.sum() == pytest.approx(1.0) and prob.min() >= 0
    assert prob[:margin].sum() == 0 and prob[-margin:].sum() == 0 and prob[:, -margin:].sum() == 0
    # crops centred in the flat part (all of the window flat) are never drawn
    assert prob[:, margin : 40 - 16 // 2 - 2].sum() == 0
    flat = crop_probability(np.zeros((40, 40, 3)), 16)
    assert flat.sum() == pytest.approx(1.0)
    inner = flat[margin:-margin, margin:-margin]
    np.testing.assert_allclose(inner, inner[0, 0])  # uniform over the valid centres
    tiny = crop_probability(np.zeros((5, 5, 3)), 16)  # smaller than a crop: still a distribution
    assert tiny.sum() == pytest.approx(1.0)


def test_fathers_come_with_their_aligned_weights():
    img = _half_textured()
    opts = ZSSROptions.preset("kernelgan", crop=16)
    trainer = ZSSRTrainer(opts, torch.device("cpu"), seed=0)
    pyramid = trainer._pyramid([img], 2)
    weights_full = gradient_loss_map(img)
    for _ in range(20):
        father, weights = trainer._father(pyramid, 2)
        assert father.shape == (16, 16, 3) and weights.shape == (16, 16, 1)
        # no augmentation in this preset: the father is a crop of the input, its weights
        # the same crop of the map; and gradient sampling keeps crops on the texture
        hits = [(top, left) for top in range(img.shape[0] - 15) for left in range(img.shape[1] - 15)
                if np.array_equal(img[top : top + 16, left : left + 16], father)]
        assert hits, "father is not a crop of the input"
        top, left = hits[0]
        np.testing.assert_array_equal(weights[..., 0], weights_full[top : top + 16, left : left + 16])
        assert left + 16 > img.shape[1] // 2


def test_augmented_fathers_keep_weights_aligned():
    img = np.random.default_rng(2).random((28, 30, 3))  # every crop unique
    opts = ZSSROptions(crop=16, loss_map=True, leave_as_is_probability=0.0, no_interpolate_probability=1.0)
    trainer = ZSSRTrainer(opts, torch.device("cpu"), seed=1)
    pyramid = trainer._pyramid([img], 2)
    weights_full = gradient_loss_map(img)
    for _ in range(10):
        father, weights = trainer._father(pyramid, 2)
        matches = [(k, top, left) for k in range(8)
                   for top in range(img.shape[0] - 15) for left in range(img.shape[1] - 15)
                   if np.array_equal(dihedral(img[top : top + 16, left : left + 16], k), father)]
        assert len(matches) == 1
        k, top, left = matches[0]
        np.testing.assert_array_equal(weights[..., 0], dihedral(weights_full[top : top + 16, left : left + 16], k))


def test_weighted_training_learns_the_images_own_pairs():
    img = _photo()[100:148, 200:248]
    opts = ZSSROptions.preset("kernelgan", crop=32, max_iters=200, min_iters=200, run_test_every=20)
    trainer = ZSSRTrainer(opts, torch.device("cpu"), seed=0)
    log = trainer.train([img], bicubic_kernel(2), 2)
    assert log.iterations == 200
    first, last = log.rec_errors[0][1], log.rec_errors[-1][1]
    assert np.isfinite(last) and last < 0.75 * first, (first, last)  # measured 0.698, seed 0


def test_presets_and_auto_choice():
    assert set(PRESETS) == {"zssr", "kernelgan"}
    kg = ZSSROptions.preset("kernelgan")
    assert (kg.ensemble, kg.back_projection_iters, kg.leave_as_is_probability, kg.loss_map, kg.crop_sampling) == (
        False, 2, 1.0, True, "gradient")
    assert ZSSROptions.preset("zssr") == ZSSROptions()
    assert make_zssr_model(2, kernel=bicubic_kernel(2), device="cpu").options.loss_map is True
    assert make_zssr_model(2, kernel=None, device="cpu").options.ensemble is True
    assert make_zssr_model(2, kernel=None, device="cpu", preset="kernelgan").options.ensemble is False
    with pytest.raises(SRDesktopError, match="unknown ZSSR preset"):
        make_zssr_model(2, device="cpu", preset="nope")


def test_estimate_path_runs_kernelgan_restarts_then_the_kernelgan_preset():
    img = _photo()[100:196, 150:246].astype(np.float32)  # 96 px: above KernelGAN's 84-px minimum
    model = make_zssr_model(2, kernel="estimate", device="cpu", iterations=4, crop=32, seed=0,
                            kernel_iterations=30, kernel_restarts=2, kernel_batch=1, kernel_method="kernelgan")
    assert model.kernel_restarts == 2 and model.options.ensemble is False  # estimate -> kernelgan preset
    assert make_zssr_model(2, kernel="estimate", device="cpu").kernel_restarts == 3  # the default
    out = model.upscale_array(img)
    assert out.shape == (192, 192, 3) and np.isfinite(out).all()
    est = model.last_kernel_estimate
    assert len(est.restart_kernels) == 2
    assert est.kernel_x2.sum() == pytest.approx(1.0)


def test_real_variant_adds_noise_to_sons_and_drops_back_projection():
    from sr_desktop.engine.models.loader import load_model
    from sr_desktop.engine.models.registry import get_model_spec
    from sr_desktop.engine.models.zssr.model import REAL_PHOTO

    assert get_model_spec("zssr").variants == ["default", "real"]
    real = load_model("zssr", scale=2, variant="real", kernel=bicubic_kernel(2))
    assert (real.options.noise_std, real.options.back_projection_iters) == (
        REAL_PHOTO["noise_std"], REAL_PHOTO["back_projection_iters"]) == (0.0125, 0)
    assert real.options.loss_map is True  # still the kernelgan preset otherwise
    plain = load_model("zssr", scale=2, kernel=bicubic_kernel(2))
    assert (plain.options.noise_std, plain.options.back_projection_iters) == (0.0, 2)
    # the sons really are noisy
    trainer = ZSSRTrainer(real.options, torch.device("cpu"), seed=0)
    father = np.full((16, 16, 3), 0.5)
    son = trainer._son(father, bicubic_kernel(2), 2)
    assert 0.0115 < float(son.std()) < 0.0126  # measured 0.01204 (noise_std 0.0125, seed 0)
