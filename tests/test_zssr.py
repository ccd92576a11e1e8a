"""ZSSR: network, kernels, short test-time training, the per-image SRModel, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.kernelgan.kernel_ops import center_of_mass
from sr_desktop.engine.models.zssr import load_kernel, make_zssr_model
from sr_desktop.engine.models.zssr.model import stage_kernels
from sr_desktop.engine.models.zssr.zssr import ZSSROptions, ZSSRTrainer, bicubic_kernel, to_numpy, to_tensor, upsample

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny(size: int = 48) -> np.ndarray:
    img = np.asarray(PILImage.open(ROOT / "resources" / "sample.jpg").convert("RGB"), dtype=np.float64) / 255.0
    return img[100 : 100 + size, 200 : 200 + size]


def _psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


def test_bicubic_kernels_follow_the_alignment_convention():
    for s in (2, 4):
        k = bicubic_kernel(s)
        n = k.shape[0]
        assert n % 2 == 1 and k.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(center_of_mass(k), [n // 2 + (s - 1) / 2] * 2, atol=1e-9)
    # ×2: the same taps as the 8×8 antialiased bicubic kernel
    from sr_desktop.engine.kernelgan.kernel_ops import bicubic_kernel_x2

    np.testing.assert_allclose(bicubic_kernel(2)[1:, 1:], bicubic_kernel_x2(), atol=1e-12)


def test_short_training_beats_bicubic_on_its_own_pairs():
    # Augmentation off and the crop = the whole image, so the single training pair is
    # exactly (son of the input -> input): a short run must fit it better than bicubic.
    lr = _tiny(32)
    k = bicubic_kernel(2)
    opts = ZSSROptions(max_iters=200, min_iters=200, crop=32, leave_as_is_probability=1.0)
    trainer = ZSSRTrainer(opts, torch.device("cpu"), seed=0)
    son = trainer._son(lr, k, 2)
    bicubic = np.clip(to_numpy(upsample(to_tensor(son, "cpu"), 2, lr.shape[:2])), 0, 1)
    before = _psnr(bicubic, lr)
    log = trainer.train([lr], k, 2)
    after = _psnr(trainer.forward(son, 2), lr)
    assert log.iterations == 200
    assert after > before + 8.0, (before, after)  # measured 37.10 -> 47.25 dB (+10.14), seed 0


def test_back_projection_makes_output_consistent_with_input():
    lr = _tiny(32)
    k = bicubic_kernel(2)
    trainer = ZSSRTrainer(ZSSROptions(back_projection_iters=10), torch.device("cpu"), seed=0)
    sr = np.clip(to_numpy(upsample(to_tensor(lr, "cpu"), 2)), 0, 1)
    err_before = np.abs(degrade_with_kernel(sr, k, 2) - lr).mean()
    bp = trainer.back_project(sr, lr, k, 2)
    err_after = np.abs(degrade_with_kernel(bp, k, 2) - lr).mean()
    assert err_after < 0.02 * err_before  # measured 0.0163


def test_per_image_model_upscales_and_reports_progress():
    model = make_zssr_model(2, kernel=bicubic_kernel(2), device="cpu", iterations=20, seed=0,
                            crop=24, ensemble=False, back_projection_iters=2)
    assert model.kind == "per_image" and model.scale == 2 and model.id == "zssr"
    seen = []
    out = model.upscale_array(_tiny(24).astype(np.float32), progress=seen.append)
    assert out.shape == (48, 48, 3) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert seen and seen[-1].done >= 20


def test_a_given_kernel_is_aligned_as_zssrs_kernel_shift_does():
    from sr_desktop.engine.compute.degrade import gaussian_kernels

    g13 = gaussian_kernels(np.array([[1.6, 1.0, 0.5]]), 13)[0]  # centred on its canvas: (6, 6)
    g27 = gaussian_kernels(np.array([[3.2, 2.0, 0.5]]), 27)[0]  # a ×4-size kernel
    for kernel, scale, stage in ((g13, 2, 2), (g13, 4, 2), (g27, 4, 4)):
        aligned = stage_kernels(kernel, scale, given=True)[stage]
        n = aligned.shape[0]
        assert n % 2 == 1 and aligned.sum() == pytest.approx(1.0)
        # LR pixel i ↔ HR s·i + (s−1)/2, as the bicubic kernel of the network's input
        np.testing.assert_allclose(center_of_mass(aligned), [n // 2 + (stage - 1) / 2] * 2, atol=1e-3)
    x4 = stage_kernels(g13, 4, given=True)[4]  # the analytic ×4 of the aligned ×2 kernel
    np.testing.assert_allclose(center_of_mass(x4), [x4.shape[0] // 2 + 1.5] * 2, atol=1e-3)
    assert stage_kernels(g13, 2)[2] is g13  # an estimate (given=False) comes centred: used as it is
    # the spline rings beside a sharp tap: a non-negative kernel stays non-negative; lobes the
    # user gave (bicubic's) are kept
    sharp = gaussian_kernels(np.array([[0.4, 0.4, 0.0]]), 13)[0]
    assert stage_kernels(sharp, 2, given=True)[2].min() >= 0  # it had a tap of -0.052
    assert stage_kernels(bicubic_kernel(2), 2, given=True)[2].min() < 0


def test_zssr_with_a_canvas_centred_kernel_is_not_shifted():
    """LR made with the Gaussian at the bicubic alignment; the user gives the Gaussian centred
    on its canvas, as kernel files usually are. Measured: 35.21 dB; used unaligned (before
    the fix) the output was half an HR pixel off and scored 32.91 dB."""
    from sr_desktop.engine.compute.degrade import gaussian_kernels
    from sr_desktop.engine.kernelgan.kernel_ops import aligned_kernel

    g = gaussian_kernels(np.array([[1.6, 1.0, 0.5]]), 13)[0]
    hr = _tiny(48)
    lr = np.clip(degrade_with_kernel(hr, aligned_kernel(g, 2), 2), 0, 1)
    model = make_zssr_model(2, kernel=g, device="cpu", iterations=60, seed=0, crop=24, ensemble=False,
                            back_projection_iters=2)
    out = model.upscale_array(lr.astype(np.float32)).astype(np.float64)
    assert _psnr(out[4:-4, 4:-4], hr[4:-4, 4:-4]) > 34.5


def test_x4_uses_gradual_stages_and_cancel_works():
    k2 = bicubic_kernel(2)
    stages = stage_kernels(k2, 4)
    assert sorted(stages) == [2, 4] and stages[4].shape[0] == 2 * k2.shape[0] - 1
    assert sorted(stage_kernels(None, 4)) == [2, 4]
    assert sorted(stage_kernels(np.ones((33, 33)), 4)) == [4]  # a ×4-size kernel: one direct stage
    model = make_zssr_model(4, kernel=None, device="cpu", iterations=5, crop=16, ensemble=False,
                            back_projection_iters=1)
    out = model.upscale_array(_tiny(16).astype(np.float32))
    assert out.shape == (64, 64, 3)
    assert [log.scale for log in model.last_logs] == [2, 4]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        model.upscale_array(_tiny(16).astype(np.float32), cancel=token)


def test_the_x4_stage_draws_fathers_from_the_input_and_the_x2_result(monkeypatch):
    """Gradual ×4 (as the paper): the second stage's HR fathers come from the input and the
    first stage's ×2 output, each cut to a multiple of 4 so that its son is whole."""
    pyramids, outputs, fathers = [], [], []
    make_pyramid, final_output, father_of = ZSSRTrainer._pyramid, ZSSRTrainer.final_output, ZSSRTrainer._father

    def spy_pyramid(self, sources, scale):
        pyramids.append((scale, [src.copy() for src in sources]))
        return make_pyramid(self, sources, scale)

    def spy_output(self, *args, **kwargs):
        outputs.append(final_output(self, *args, **kwargs))
        return outputs[-1]

    def spy_father(self, pyramid, scale):
        father, weights = father_of(self, pyramid, scale)
        fathers.append((scale, father.shape))
        return father, weights

    monkeypatch.setattr(ZSSRTrainer, "_pyramid", spy_pyramid)
    monkeypatch.setattr(ZSSRTrainer, "final_output", spy_output)
    monkeypatch.setattr(ZSSRTrainer, "_father", spy_father)
    lr = _tiny(20).astype(np.float32)
    model = make_zssr_model(4, kernel=None, device="cpu", iterations=30, crop=18, ensemble=False,
                            back_projection_iters=1)
    assert model.upscale_array(lr).shape == (80, 80, 3)
    assert [scale for scale, _ in pyramids] == [2, 4]
    second = pyramids[1][1]
    assert len(second) == 2 and second[1].shape == (40, 40, 3)
    np.testing.assert_allclose(second[0], lr, atol=1e-6)
    np.testing.assert_array_equal(second[1], outputs[0])
    x4 = [shape for scale, shape in fathers if scale == 4]
    assert len(x4) == 30 and all(h % 4 == 0 and w % 4 == 0 and h > 0 for h, w, _ in x4)


def test_kernel_loading_and_errors(tmp_path):
    good = tmp_path / "k.npy"
    np.save(good, 2.0 * bicubic_kernel(2))
    k = load_kernel(str(good))
    assert k.sum() == pytest.approx(1.0)
    assert load_kernel(np.ones((4, 4))).shape == (5, 5)  # even -> odd canvas, same centre tap
    with pytest.raises(SRDesktopError, match="not found"):
        load_kernel(tmp_path / "missing.npy")
    (tmp_path / "k.txt").write_text("0.25 0.25 0.25 0.25")  # (a missing one is "not found", whatever its suffix)
    with pytest.raises(SRDesktopError, match="a kernel file is a .npy array"):
        load_kernel(tmp_path / "k.txt")
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    with pytest.raises(SRDesktopError, match="not a readable"):
        load_kernel(bad)
    with pytest.raises(SRDesktopError, match="square"):
        load_kernel(np.ones((3, 5)))
    with pytest.raises(SRDesktopError, match="NaN"):
        load_kernel(np.full((3, 3), np.nan))
    with pytest.raises(SRDesktopError, match="positive sum"):
        load_kernel(np.zeros((3, 3)))
    with pytest.raises(SRDesktopError, match="×2 and ×4"):
        make_zssr_model(3)
    with pytest.raises(SRDesktopError, match="unknown ZSSR option"):
        make_zssr_model(2, bogus=1)
    with pytest.raises(SRDesktopError, match="too small"):
        make_zssr_model(2, device="cpu").upscale_array(np.zeros((4, 4, 3), np.float32))


def test_each_rotation_or_flip_is_undone_on_a_non_square_image():
    from sr_desktop.engine.models.zssr.zssr import dihedral, undo_dihedral

    x = np.random.default_rng(0).random((5, 7, 3))
    outs = [dihedral(x, k) for k in range(8)]
    assert len({o.tobytes() for o in outs}) == 8  # eight different orientations
    for k in range(8):
        assert np.array_equal(undo_dihedral(outs[k], k), x), k


def test_the_ensemble_is_the_median_of_the_outputs_turned_back(monkeypatch):
    """ZSSR's default output: the 8 orientations, each turned back, then their median. A
    network that marks the top-left corner of what it sees marks each corner of the image in
    two of the eight outputs: the median drops the marks (a mean, or outputs turned back the
    wrong way, keep them). Every other test ran with the ensemble off."""
    trainer = ZSSRTrainer(ZSSROptions(back_projection_iters=0), torch.device("cpu"), seed=0)

    def marking_nearest(lr, scale):
        out = np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1).copy()
        out[0, 0] = 1.0
        return out

    monkeypatch.setattr(trainer, "forward", marking_nearest)
    lr = np.random.default_rng(1).random((5, 7, 3)) * 0.5
    out = trainer.final_output(lr, bicubic_kernel(2), 2)
    assert out.shape == (10, 14, 3)
    assert np.array_equal(out, np.repeat(np.repeat(lr, 2, axis=0), 2, axis=1))


@pytest.mark.parametrize("falling", [False, True])
def test_the_learning_rate_drops_when_the_reconstruction_error_stops_falling(monkeypatch, falling):
    """ZSSR's policy: a line fitted to the recent reconstruction errors; when its slope is
    within 1.5× its own standard error (a plateau), the rate drops tenfold, at least
    `min_iters` apart, and training stops under `min_lr`. A disabled drop passed."""
    lr = _tiny(24)
    opts = ZSSROptions(max_iters=600, min_iters=30, lr_check_every=10, run_test_every=5, lr_slope_range=40,
                       crop=16, leave_as_is_probability=1.0)
    trainer = ZSSRTrainer(opts, torch.device("cpu"), seed=0)
    rng, calls = np.random.default_rng(0), [0]

    def reconstruction(son, scale):  # the input back, off by noise that is flat or falls fast
        calls[0] += 1
        level = 0.2 / calls[0] if falling else 0.01
        return lr + rng.normal(0.0, level, lr.shape)

    monkeypatch.setattr(trainer, "forward", reconstruction)
    log = trainer.train([lr], bicubic_kernel(2), 2)
    if falling:
        assert log.lr_changes == [0] and log.iterations == 600
    else:
        assert len(log.lr_changes) == 4 and log.iterations < 600  # 1e-3 → 1e-6 < min_lr: stopped
        assert all(b - a > opts.min_iters for a, b in zip(log.lr_changes, log.lr_changes[1:], strict=False))
