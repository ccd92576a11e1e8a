"""The evaluation protocol, degradation rules, maps and no-reference measures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.metrics.degradation import (
    Degradation,
    degrade_uint8,
    load_kernel,
    modcrop,
    parse_degradation,
)
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.evaluate import EvalProtocol, evaluate_image, score_pair
from sr_desktop.engine.metrics.maps import difference_map, gradient_map, ssim_display_map
from sr_desktop.engine.metrics.noref import consistency, sharpness
from sr_desktop.engine.metrics.upscalers import EngineUpscaler, FunctionUpscaler, MatlabBicubic


@pytest.fixture(scope="module")
def hr() -> np.ndarray:
    y, x = np.mgrid[0:66, 0:50]
    r = 128 + 90 * np.sin(x / 6.0)
    g = 128 + 90 * np.cos(y / 9.0)
    b = 128 + 60 * np.sin((x + y) / 11.0)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).astype(np.uint8)


def nearest(rgb: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)


def test_modcrop_and_bicubic_degradation(hr):
    cropped = modcrop(hr[:65, :49], 4)
    assert cropped.shape == (64, 48, 3)
    lr = degrade_uint8(cropped, 4, Degradation())
    np.testing.assert_array_equal(lr, imresize(cropped, 0.25))
    with pytest.raises(EvaluationError):
        modcrop(hr[:3, :3], 4)


def test_kernel_degradation_with_delta_kernel_subsamples(hr, tmp_path):
    delta = np.zeros((5, 5))
    delta[2, 2] = 1.0
    path = tmp_path / "k.npy"
    np.save(path, delta * 3)  # normalised on load
    d = parse_degradation(f"kernel:{path}")
    assert d.kind == "kernel" and d.kernel.sum() == pytest.approx(1.0)
    lr = degrade_uint8(hr[:64, :48], 2, d)
    np.testing.assert_array_equal(lr, hr[:64:2, :48:2])


def test_bad_degradations_are_one_line_errors(tmp_path):
    with pytest.raises(EvaluationError, match="unknown degradation"):
        parse_degradation("gaussian")
    with pytest.raises(EvaluationError, match="not found"):
        parse_degradation(f"kernel:{tmp_path / 'missing.npy'}")
    bad = tmp_path / "bad.npy"
    bad.write_text("not numpy")
    with pytest.raises(EvaluationError, match="cannot read kernel"):
        load_kernel(bad)
    np.save(tmp_path / "k3.npy", np.zeros((3, 3, 3)))
    with pytest.raises(EvaluationError, match="2-D"):
        load_kernel(tmp_path / "k3.npy")


def test_score_pair_identical_and_gray(hr):
    s = score_pair(hr, hr, scale=2)
    assert s.psnr_y == math.inf and s.psnr_rgb == math.inf and s.ssim_y == pytest.approx(1.0)
    gray = hr[:, :, 1:2]
    noisy = np.clip(gray.astype(int) + 3, 0, 255).astype(np.uint8)
    s = score_pair(noisy, gray, scale=2)
    # grey images are measured on grey values: MSE 9 (no clipping at these values)
    assert s.psnr_y == pytest.approx(10 * math.log10(255**2 / 9), abs=1e-9)
    with pytest.raises(EvaluationError):
        score_pair(hr[:10], hr, scale=2)


def test_evaluate_image_bicubic_beats_nearest(hr):
    bic = evaluate_image(hr, MatlabBicubic(2), 2, name="x")
    near = evaluate_image(hr, FunctionUpscaler(nearest, 2, name="nearest"), 2)
    assert bic.sr.shape == bic.hr.shape == (66, 50, 3)
    assert bic.lr.shape == (33, 25, 3)
    assert bic.scores.psnr_y > near.scores.psnr_y > 40.5  # measured 61.91 > 41.00 dB
    assert bic.scores.ssim_y > near.scores.ssim_y
    assert bic.timing.seconds >= 0 and bic.timing.input_pixels == 33 * 25
    # the same numbers as measuring the kept images directly with the protocol
    again = score_pair(bic.sr, bic.hr, 2, EvalProtocol())
    assert again.psnr_y == bic.scores.psnr_y


def test_the_colour_hidden_under_full_transparency_is_not_scored(hr):
    """An RGBA image scores the same whatever its editor left under alpha 0: those pixels
    take the nearest visible colour, as the upscale pipeline gives them (before, the hidden
    colour was degraded, upscaled and scored: PSNR-Y 23.81 dB with noise there, 31.40 with
    black; now 45.92 with either)."""
    alpha = np.full(hr.shape[:2] + (1,), 255, np.uint8)
    alpha[20:40, 10:30] = 0
    alpha[50:, 40:] = 0
    rng = np.random.default_rng(0)
    noisy = np.where(alpha > 0, hr, rng.integers(0, 256, hr.shape)).astype(np.uint8)
    black = np.where(alpha > 0, hr, 0).astype(np.uint8)
    scores = [evaluate_image(np.concatenate([rgb, alpha], axis=2), MatlabBicubic(2), 2).scores
              for rgb in (noisy, black)]
    assert scores[0] == scores[1]
    assert scores[0].psnr_y > 40  # the visible content and its smooth extension upscale well
    grey = evaluate_image(np.concatenate([noisy[:, :, :1], alpha], axis=2), MatlabBicubic(2), 2)  # LA too
    assert grey.hr.shape == (66, 50, 1) and grey.scores.psnr_y > 35  # measured 39.22


def test_function_upscaler_output_is_rounded_like_a_png(hr):
    calls = []

    def offset(rgb):
        calls.append(rgb.dtype)
        return nearest(rgb) + 0.4 / 255  # rounds back to the nearest-neighbour values

    a = evaluate_image(hr, FunctionUpscaler(offset, 2), 2)
    b = evaluate_image(hr, FunctionUpscaler(nearest, 2), 2)
    assert calls == [np.float32]
    np.testing.assert_array_equal(a.sr, b.sr)


def test_a_function_giving_0_to_255_values_is_refused_not_scored_as_clipped(hr):
    """fn must return floats on the 0..1 scale: a uint8 or 0..255 float result was clipped to
    1 and scored (6.6 dB where /255 gives 27.6) without a word; a wrong shape was a bare
    ValueError."""
    with pytest.raises(EvaluationError, match=r"returned uint8 values; it must return floats on the 0\.\.1"):
        evaluate_image(hr, FunctionUpscaler(lambda x: (nearest(x) * 255).astype(np.uint8), 2), 2)
    with pytest.raises(EvaluationError, match=r"of 'function' must be on the 0\.\.1 scale; this one reaches \d+"):
        evaluate_image(hr, FunctionUpscaler(lambda x: nearest(x) * 255, 2), 2)
    with pytest.raises(EvaluationError, match="returned shape"):
        evaluate_image(hr, FunctionUpscaler(lambda x: x, 2), 2)
    # an unrounded output overshooting 1 a little near edges is scored as before
    assert evaluate_image(hr, FunctionUpscaler(lambda x: nearest(x) * 1.01, 2), 2).scores.psnr_y > 20


def test_gray_hr_goes_through_rgb_upscaler_and_back(hr):
    gray = hr[:, :, :1]
    ev = evaluate_image(gray, FunctionUpscaler(nearest, 2), 2)
    assert ev.sr.shape == (66, 50, 1)
    bic = evaluate_image(gray, MatlabBicubic(2), 2)
    assert bic.scores.psnr_y > ev.scores.psnr_y


def test_scale_mismatch_is_an_error(hr):
    with pytest.raises(EvaluationError, match="×2"):
        evaluate_image(hr, MatlabBicubic(2), 3)


def test_maps_are_displayable(hr):
    noisy = np.clip(hr.astype(int) + np.random.default_rng(0).integers(-20, 20, hr.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    for m in (difference_map(hr, noisy), ssim_display_map(hr, noisy), gradient_map(hr)):
        assert m.dtype == np.uint8 and m.shape == hr.shape
    same = difference_map(hr, hr)
    assert np.all(same == same[0, 0])  # one colour: the colormap's zero
    flat = gradient_map(np.full((8, 8, 3), 100, dtype=np.uint8))
    assert flat.max() == 0  # sqrt(1e-6) * 255 rounds to 0 (measured 0)
    assert ssim_display_map(hr, hr).mean() > ssim_display_map(hr, noisy).mean()


def test_the_difference_map_colours_the_largest_channel_difference_up_to_its_995th_percentile():
    """Only dtype, shape and a one-colour map were checked: a mean over the channels, or
    another percentile, passed."""
    from sr_desktop.engine.metrics.maps import _colormap

    a = np.zeros((10, 20, 3), np.uint8)
    b = a.copy()
    b[..., 1] = 10  # 199 pixels 10 apart in one channel
    b[0, 0] = (200, 0, 0)  # one outlier, 200 apart in another
    inferno = _colormap("inferno")
    shown = difference_map(a, b)
    # the 99.5th percentile of 199 tens and one 200: 10 + 0.005 × 190 = 10.95
    assert np.array_equal(shown[5, 5], inferno[round(10 / 10.95 * 255)])  # index 233
    assert np.array_equal(shown[0, 0], inferno[255])  # the outlier, clipped
    fixed = difference_map(a, b, vmax=64)
    assert np.array_equal(fixed[5, 5], inferno[40]) and np.array_equal(fixed[0, 0], inferno[255])


def test_sharpness_and_consistency(hr):
    flat = np.full((32, 32, 3), 90, dtype=np.uint8)
    s = sharpness(flat)
    assert s.mean_gradient == 0 and s.laplacian_variance == 0
    lr = imresize(hr[:64, :48], 0.5)
    blurry = imresize(imresize(lr, 0.5), 2)
    assert sharpness(lr).mean_gradient > sharpness(blurry).mean_gradient
    up = imresize(lr, 2)
    c_good = consistency(up, lr, 2)
    c_bad = consistency(np.roll(up, 3, axis=1), lr, 2)
    assert c_good.psnr_y > c_bad.psnr_y
    assert c_good.psnr_rgb > 59.5  # measured 59.77 dB (the shifted one: 20.67)
    with pytest.raises(ValueError):
        consistency(up, lr, 3)


def test_engine_bicubic_is_the_same_kernel_as_matlab_on_smooth_images():
    # The app's Pillow bicubic and MATLAB's are both Keys' cubic a = -0.5 with the same
    # pixel-centre convention; on smooth content (no overshoot clipped by MATLAB's uint8
    # intermediate) they agree to the rounding of one 8-bit level.
    y, x = np.mgrid[0:20, 0:24]
    lr = np.stack([128 + 80 * np.sin(x / 3.0), 128 + 80 * np.cos(y / 4.0),
                   100 + 50 * np.sin((x - y) / 5.0)], axis=2).astype(np.uint8)
    for s in (2, 3):
        a = MatlabBicubic(s).upscale(lr).pixels.astype(int)
        b = EngineUpscaler("bicubic-pil", s, device="cpu").upscale(lr).pixels.astype(int)
        assert a.shape == b.shape == (20 * s, 24 * s, 3)
        assert np.abs(a - b).max() <= 1  # measured 1 at ×2 and ×3


def test_float_output_mode_measures_before_rounding(hr):
    def offset(rgb):
        return nearest(rgb) + 0.4 / 255

    rounded = evaluate_image(hr, FunctionUpscaler(offset, 2), 2)
    unrounded = evaluate_image(hr, FunctionUpscaler(offset, 2), 2,
                               protocol=EvalProtocol(quantize_output=False))
    np.testing.assert_array_equal(rounded.sr, unrounded.sr)  # the kept image is 8-bit
    assert unrounded.scores.psnr_y != rounded.scores.psnr_y
    # a float SR equal to HR/255 is a perfect match; 0.4/255 everywhere (nothing clipped
    # at these values) gives Y error 0.4 · (65.481 + 128.553 + 24.966) / 255
    exact = hr.astype(np.float64) / 255
    assert score_pair(exact, hr, 2).psnr_y == math.inf
    err = 0.4 * 219.0 / 255
    assert score_pair(exact + 0.4 / 255, hr, 2).psnr_y == pytest.approx(
        10 * math.log10(255**2 / err**2), abs=1e-9)


def test_float_lr_degradation_feeds_unrounded_lr(hr):
    seen = []

    def spy(rgb):
        seen.append(rgb)
        return nearest(rgb)

    d = parse_degradation("bicubic-float")
    assert d.float_lr and d.describe() == "bicubic-float"
    ev = evaluate_image(hr, FunctionUpscaler(spy, 2), 2, degradation=d)
    expected = imresize(hr.astype(np.float64) / 255, 0.5)
    np.testing.assert_array_equal(seen[0], expected.astype(np.float32))  # measured identical
    assert ev.lr.dtype.kind == "f" and ev.sr.dtype == np.uint8
    assert ev.to_json()["hr_size"] == [50, 66]
    bic = evaluate_image(hr, MatlabBicubic(2), 2, degradation=d)
    assert bic.scores.psnr_y > ev.scores.psnr_y


def test_a_network_takes_the_float_lr_with_its_overshoot(hr):
    """`bench --degradation bicubic-float` failed for every network model ("upscale_float
    takes values in 0..1, got -0.0077..1.0017"): the unrounded bicubic LR overshoots 0..1
    near edges. The engine's models take it as it is, as the function upscalers do."""
    from sr_desktop.engine.metrics.upscalers import EngineUpscaler

    d = parse_degradation("bicubic-float")
    edges = np.zeros_like(hr)
    edges[:, hr.shape[1] // 2:] = 255  # (a black-to-white step: the bicubic kernel's lobes overshoot it)
    edges[20:22] = 255 - edges[20:22]
    lr = imresize(edges.astype(np.float64) / 255, 0.5)
    assert lr.min() < -1e-3 or lr.max() > 1 + 1e-3
    seen = []

    def spy(rgb):
        seen.append(rgb)
        return nearest(rgb)

    evaluate_image(edges, FunctionUpscaler(spy, 2), 2, degradation=d)
    by_engine = evaluate_image(edges, EngineUpscaler("bicubic", 2), 2, degradation=d)
    assert np.isfinite(by_engine.scores.psnr_y) and seen[0].min() == pytest.approx(float(lr.min()), abs=1e-6)


def test_an_image_reproduced_exactly_leaves_the_psnr_means_and_is_counted():
    """A flat grey image beside Set5's bird: every model's mean PSNR was inf (JSON null),
    the comparison lost and the plot empty."""
    from sr_desktop.engine.metrics.evaluate import BenchReport, ImageEvaluation, ImageScores, ModelEvaluation
    from sr_desktop.engine.metrics.report import format_table
    from sr_desktop.engine.metrics.timing import Timing

    def model(name: str, psnrs: list[float]) -> ModelEvaluation:
        return ModelEvaluation(name, 3, "bicubic", [
            ImageEvaluation(f"im{i}", ImageScores(p, 1.0 if math.isinf(p) else 0.9, p), Timing())
            for i, p in enumerate(psnrs)])

    mixed, exact = model("a", [32.0, math.inf, 34.0]), model("b", [math.inf, math.inf])
    assert (mixed.psnr_y, mixed.psnr_rgb, mixed.exact_images) == (33.0, 33.0, 1)
    assert mixed.ssim_y == pytest.approx((0.9 + 1.0 + 0.9) / 3)  # SSIM 1.0 is a number: kept
    assert (exact.psnr_y, exact.exact_images) == (math.inf, 2)
    assert mixed.to_json()["psnr_y"] == 33.0 and mixed.to_json()["psnr_inf_images"] == 1
    assert exact.to_json()["psnr_y"] is None and "psnr_inf_images" not in model("c", [30.0]).to_json()
    report = BenchReport("set", 3, "bicubic", [mixed, exact])
    report.leave_out_exact_images()
    assert (mixed.psnr_y, exact.psnr_y) == (33.0, math.inf)  # b, exact everywhere, leaves nothing out of a's
    assert format_table(report).splitlines()[-1] == (
        "PSNR means leave out the images a model reproduced exactly (PSNR inf): im1 (a, b)")


def test_a_model_as_good_on_every_image_never_ranks_lower():
    """Each model's means left out only its own exact images: A (exact on the flat image,
    equal on the bird) averaged the bird alone, 40.61 dB, and B (49.45 on the flat one)
    45.03 dB: the better model ranked 4.4 dB lower."""
    from sr_desktop.engine.metrics.evaluate import BenchReport, ImageEvaluation, ImageScores, ModelEvaluation
    from sr_desktop.engine.metrics.timing import Timing

    def model(name: str, flat: float) -> ModelEvaluation:
        return ModelEvaluation(name, 2, "bicubic", [ImageEvaluation("flat", ImageScores(flat, 1.0, flat), Timing()),
                                                    ImageEvaluation("bird", ImageScores(40.61, 0.98, 39.0), Timing())])

    a, b = model("a", math.inf), model("b", 49.45)
    assert b.psnr_y > a.psnr_y  # each alone
    BenchReport("set", 2, "bicubic", [a, b]).leave_out_exact_images()
    assert a.psnr_y == b.psnr_y == 40.61 and a.psnr_rgb == b.psnr_rgb == 39.0
    assert a.to_json()["psnr_left_out"] == ["flat"]


def test_when_every_image_is_exact_for_some_model_each_keeps_its_own_mean():
    """One image, reproduced exactly by two of three models: leaving it out of every mean
    left no image, and every model's PSNR read "-" (null), the third's 49.45 dB too."""
    from sr_desktop.engine.metrics.evaluate import BenchReport, ImageEvaluation, ImageScores, ModelEvaluation
    from sr_desktop.engine.metrics.report import format_table
    from sr_desktop.engine.metrics.timing import Timing

    models = [ModelEvaluation(name, 2, "bicubic", [ImageEvaluation("ramp", ImageScores(p, 1.0, p), Timing())])
              for name, p in (("bicubic", math.inf), ("espcn", math.inf), ("nearest", 49.45))]
    report = BenchReport("ramp", 2, "bicubic", models)
    report.leave_out_exact_images()
    assert [m.psnr_y for m in models] == [math.inf, math.inf, 49.45]
    assert "psnr_left_out" not in models[2].to_json()
    assert "PSNR means leave out" not in format_table(report)  # nothing is: the ∞ of two models says it


def test_a_model_exact_everywhere_does_not_bring_the_others_back_to_their_own_means():
    """A exact on both images, B exact on im0 and 31 dB on im1, C 45 and 31 dB: the first
    fallback applied to every model once one had no image left, and C (38.00) outranked B
    (31.00), as good on every image."""
    from sr_desktop.engine.metrics.evaluate import BenchReport, ImageEvaluation, ImageScores, ModelEvaluation
    from sr_desktop.engine.metrics.report import format_table
    from sr_desktop.engine.metrics.timing import Timing

    def model(name: str, psnrs: list[float]) -> ModelEvaluation:
        return ModelEvaluation(name, 2, "bicubic", [ImageEvaluation(f"im{i}", ImageScores(p, 1.0, p), Timing())
                                                    for i, p in enumerate(psnrs)])

    a, b, c = model("a", [math.inf, math.inf]), model("b", [math.inf, 31.0]), model("c", [45.0, 31.0])
    BenchReport("set", 2, "bicubic", [a, b, c]).leave_out_exact_images()
    assert (a.psnr_y, b.psnr_y, c.psnr_y) == (math.inf, 31.0, 31.0)
    assert c.to_json()["psnr_left_out"] == ["im0"] and c.to_json()["psnr_rgb_left_out"] == ["im0"]
    # two models exact on each other's only finite image: neither has one left, each keeps its own
    d, e = model("d", [math.inf, 31.0]), model("e", [33.0, math.inf])
    report = BenchReport("set", 2, "bicubic", [d, e])
    report.leave_out_exact_images()
    assert (d.psnr_y, e.psnr_y) == (31.0, 33.0)
    assert format_table(report).splitlines()[-1] == (
        "d, e: PSNR mean without its own exact images only (no other image would be left)")


def test_round_y_rounds_both_images_luma_and_only_with_it(hr):
    """`--round-y` (MATLAB's rgb2ycbcr on uint8: Y rounded) applies to the HR's Y as to the
    SR's; without it both are measured unrounded. No test named it: ignoring it for the HR
    passed."""
    from sr_desktop.engine.metrics.color import luma_y
    from sr_desktop.engine.metrics.fullref import psnr, ssim

    sr = np.clip(hr.astype(np.int16) + np.random.default_rng(2).integers(-6, 7, hr.shape), 0, 255).astype(np.uint8)
    rounded = score_pair(sr, hr, 2, EvalProtocol(round_y=True))
    y_sr, y_hr = np.round(luma_y(sr)), np.round(luma_y(hr))
    assert rounded.psnr_y == pytest.approx(psnr(y_sr, y_hr, shave=2), abs=1e-9)
    assert rounded.ssim_y == pytest.approx(ssim(y_sr, y_hr, shave=2), abs=1e-12)
    plain = score_pair(sr, hr, 2, EvalProtocol())
    assert plain.psnr_y == pytest.approx(psnr(luma_y(sr), luma_y(hr), shave=2), abs=1e-9)
    assert plain.psnr_y != pytest.approx(rounded.psnr_y, abs=1e-4)


def test_a_backend_or_device_a_model_cannot_take_runs_it_as_auto_picks():
    """The window's Advanced choice is its picked model's: ncnn or Vulkan are the zoo's. Passed
    to every evaluated model, it made error rows of lanczos, srcnn, map-sr…"""
    from sr_desktop.app.metrics_jobs import RunSettings, evaluate_model
    from sr_desktop.engine.metrics.degradation import Degradation

    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    for model_id in ("lanczos", "srcnn"):
        row = evaluate_model(hr, model_id, 2, Degradation(), settings=RunSettings(backend="ncnn"))
        assert not row.error and row.psnr_y is not None and "ncnn" not in row.ran_on, (model_id, row)


def test_a_model_run_as_auto_picks_is_still_scored_in_fp32(monkeypatch):
    """The leaderboard's note says fp32 (Precision auto): the run of a model that cannot take
    the picked backend went on precision auto, fp16 on a GPU."""
    from sr_desktop.app.metrics_jobs import RunSettings, evaluate_model
    from sr_desktop.engine.metrics import upscalers
    from sr_desktop.engine.metrics.degradation import Degradation

    asked = []
    real = upscalers.make_upscaler
    monkeypatch.setattr(upscalers, "make_upscaler",
                        lambda *a, **k: asked.append(k.get("precision", "auto")) or real(*a, **k))
    hr = np.random.default_rng(3).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    row = evaluate_model(hr, "srcnn", 2, Degradation(), settings=RunSettings(backend="ncnn"))
    assert not row.error and asked == ["fp32", "fp32"]  # (the first refused: srcnn is no ncnn model)


def test_the_picked_models_variant_is_evaluated_and_named():
    """Metrics ▸ Evaluate ran SPAN as ch48 with ch52 picked in the window, and listed "SPAN"."""
    from sr_desktop.app.metrics_jobs import RunSettings, evaluate_model
    from sr_desktop.engine.metrics.degradation import Degradation
    from sr_desktop.engine.metrics.evaluate import evaluate_image
    from sr_desktop.engine.metrics.upscalers import make_upscaler

    rng = np.random.default_rng(5)
    hr = np.clip(rng.normal(128, 40, (48, 40, 3)), 0, 255).astype(np.uint8)
    picked = RunSettings(variants=(("span", "ch52"),))
    row = evaluate_model(hr, "span", 2, Degradation(), settings=picked)
    wide = evaluate_image(hr, make_upscaler("span", 2, variant="ch52"), 2, Degradation()).scores.psnr_y
    official = evaluate_model(hr, "span", 2, Degradation())
    assert row.variant == "ch52" and row.to_dict()["variant"] == "ch52" and row.psnr_y == wide
    assert official.variant is None and official.psnr_y != pytest.approx(wide, abs=1e-3)
    assert evaluate_model(hr, "lanczos", 2, Degradation(), settings=picked).variant is None  # another model's


def test_a_model_that_fails_unexpectedly_gets_an_error_row(monkeypatch):
    """An unforeseen error in one model stopped Metrics ▸ Evaluate there ("Evaluation failed:
    unexpected error", not naming the model); the models after it never ran."""
    from sr_desktop.app import metrics_jobs
    from sr_desktop.engine.metrics.degradation import Degradation

    def broken(*args, **kwargs):
        raise RuntimeError("injected")

    hr = np.random.default_rng(3).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    monkeypatch.setattr(metrics_jobs, "evaluate_image", broken)
    row = metrics_jobs.evaluate_model(hr, "lanczos", 2, Degradation())
    assert row.model == "lanczos" and row.error == "unexpected error: RuntimeError: injected"
    monkeypatch.setattr(metrics_jobs, "evaluate_image", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    assert metrics_jobs.evaluate_model(hr, "lanczos", 2, Degradation()).error.startswith("out of memory")


def test_the_optional_scores_are_taken_by_name_only():
    """A model's means were built positionally: a score added beside ms_ssim_y shifted NIQE
    into the perceptual field of the bench JSON without an error."""
    from sr_desktop.engine.metrics.evaluate import ImageEvaluation, ImageScores, ModelEvaluation
    from sr_desktop.engine.metrics.timing import Timing

    with pytest.raises(TypeError):
        ImageScores(30.0, 0.9, 29.0, 0.95)
    scores = ImageScores(30.0, 0.9, 29.0, ms_ssim_y=0.95, niqe=4.5, perceptual={"lpips": 0.2})
    model = ModelEvaluation("m", 2, "bicubic", [ImageEvaluation("a", scores, Timing())])
    data = model.to_json()
    assert (data["ms_ssim_y"], data["niqe"], data["lpips"]) == (0.95, 4.5, 0.2)
