"""KernelGAN building blocks: collapsed generator, regularisers, kernel algebra, scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.kernelgan import losses
from sr_desktop.engine.kernelgan.generator import KernelGenerator
from sr_desktop.engine.kernelgan.kernel_ops import (
    analytic_kernel_x4,
    bicubic_kernel_x2,
    center_of_mass,
    kernel_summary,
    post_process_kernel,
    render_kernel,
    shift_to_center,
)
from sr_desktop.engine.kernelgan.score import kernel_psnr, lr_psnr
from sr_desktop.engine.kernelgan.synthetic import random_kernel_x2


def _random_generator(seed: int = 0) -> KernelGenerator:
    torch.manual_seed(seed)
    g = KernelGenerator()
    for layer in g.layers:
        torch.nn.init.normal_(layer.weight, 0.0, 0.15)
    return g


def gaussian(size: int, sigma: float, center: float) -> np.ndarray:
    z = np.arange(size) - center
    g = np.exp(-(z**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def test_collapsed_kernel_equals_generator_on_impulse():
    g = _random_generator()
    n = g.kernel_size
    assert n == 13
    # The six layers applied to an impulse, padded so the whole response is valid.
    impulse = torch.zeros(1, 1, 2 * n - 1, 2 * n - 1, dtype=torch.float64)
    impulse[0, 0, n - 1, n - 1] = 1.0
    g64 = g.double()
    y = impulse.reshape(1, 1, *impulse.shape[-2:])
    for layer in g64.layers[:-1]:
        y = layer(y)
    y = torch.nn.functional.conv2d(y, g64.layers[-1].weight)  # last layer without its stride
    response = y[0, 0]
    # Correlation with k maps an impulse to the flipped kernel.
    k = g64.kernel().detach()
    assert response.shape == k.shape
    torch.testing.assert_close(response.flip(0, 1), k, rtol=0, atol=1e-13)  # measured 2.7e-14 (float64)


def test_collapsed_path_equals_six_layer_forward():
    g = _random_generator(1).double()
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    slow = g.forward_layers(x)
    fast = g(x)
    assert fast.shape == slow.shape == (2, 3, 26, 26)
    torch.testing.assert_close(fast, slow, rtol=0, atol=1e-12)  # measured 1.8e-13 (float64)
    # Gradients reaching the weights agree too (the fast path is a reparametrisation).
    w = torch.randn_like(slow)
    grads_slow = torch.autograd.grad((slow * w).sum(), list(g.parameters()))
    grads_fast = torch.autograd.grad((g(x) * w).sum(), list(g.parameters()))
    for a, b in zip(grads_slow, grads_fast, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=2e-11)  # measured <= 4.4e-12 (float64)


def test_collapsed_kernel_matches_degrade_operator():
    g = _random_generator(2).double()
    img = np.random.default_rng(0).random((40, 40, 3))
    k = g.kernel().detach().numpy()
    out = g(torch.from_numpy(img.transpose(2, 0, 1))[None]).detach().numpy()[0].transpose(1, 2, 0)
    ref = degrade_with_kernel(img, k, 2)
    c = k.shape[0] // 2  # valid output pixel i sits at degrade index i + c/2
    valid = ref[c // 2 : c // 2 + out.shape[0], c // 2 : c // 2 + out.shape[1]]
    np.testing.assert_allclose(out, valid, rtol=0, atol=1e-12)  # measured 0


def test_regularisers_vanish_on_ideal_centred_kernel():
    n = 13
    ideal = torch.from_numpy(gaussian(n, 1.2, n // 2 + 0.5))
    mask = torch.from_numpy(losses.boundary_mask(n))
    # measured 0, 8.5e-13 (float64 rounding: 1e-12 already sits at it) and 8.5e-6
    assert float(losses.sum_to_one_loss(ideal)) < 1e-12
    assert float(losses.centralized_loss(ideal, 2)) < 1e-12
    assert float(losses.boundaries_loss(ideal, mask)) < 1e-5
    # Moving mass off centre / to the border / scaling it makes each one grow.
    shifted = torch.from_numpy(gaussian(n, 1.2, n // 2 + 2.5))
    wide = torch.from_numpy(gaussian(n, 4.0, n // 2 + 0.5))
    assert float(losses.centralized_loss(shifted, 2)) > 3.9  # measured 3.995
    # measured ratio 700
    assert float(losses.boundaries_loss(wide, mask)) > 650 * float(losses.boundaries_loss(ideal, mask))
    assert float(losses.sum_to_one_loss(0.5 * ideal)) == pytest.approx(0.5)
    # Sparsity favours the concentrated kernel over a spread one of the same mass.
    assert float(losses.sparsity_loss(ideal)) < float(losses.sparsity_loss(wide))


def test_boundary_mask_layout():
    m = losses.boundary_mask(13)
    assert m[2:-2, 2:-2].max() == 0.0
    assert m[0, 0] == pytest.approx(m.max()) and 0 < m.max() <= 30.0
    assert m[0, 6] > 0 and m[1, 6] > 0


def test_bicubic_loss_modes():
    x = torch.full((1, 3, 64, 64), 0.5)
    g_out = torch.full((1, 3, 26, 26), 0.5)
    assert float(losses.bicubic_loss(x, g_out)) < 1e-12  # measured 0
    # The official (channel-summing) variant sees 3× the grey level instead.
    assert float(losses.bicubic_loss(x, g_out, mix_channels=True)) == pytest.approx(1.0, rel=1e-6)  # measured 1.0


def test_bicubic_kernel_table():
    k = bicubic_kernel_x2()
    assert k.shape == (8, 8)
    assert k.sum() == pytest.approx(1.0)
    assert k[3, 3] == pytest.approx(0.1880035400390625)
    assert k[0, 3] == pytest.approx(-0.0050811767578125)


def test_x4_analytic_kernel_equals_x2_operator_twice():
    rng = np.random.default_rng(3)
    k2 = post_process_kernel(np.clip(random_kernel_x2(rng), 0, None) + 1e-4 * rng.random((11, 11)))
    n = k2.shape[0]
    img = rng.random((160, 160, 3))
    twice = degrade_with_kernel(degrade_with_kernel(img, k2, 2), k2, 2)
    exact = analytic_kernel_x4(k2, crop=False)
    assert exact.shape == (3 * n - 2, 3 * n - 2)
    once = degrade_with_kernel(img, exact, 4)
    m = 3 * n  # away from the reflected border
    inner = (slice(m // 4 + 1, -(m // 4 + 1)), slice(m // 4 + 1, -(m // 4 + 1)))
    np.testing.assert_allclose(once[inner], twice[inner], rtol=0, atol=2e-14)  # measured 5.2e-15
    cropped = analytic_kernel_x4(k2)
    assert cropped.shape == (2 * n - 1, 2 * n - 1) and cropped.sum() == pytest.approx(1.0)
    # measured 3.3e-10 and 5.9e-6 px (float64, deterministic)
    np.testing.assert_allclose(degrade_with_kernel(img, cropped, 4)[inner], twice[inner], rtol=0, atol=1e-9)
    # ×4 convention: centre of mass 1.5 px past the centre tap.
    np.testing.assert_allclose(center_of_mass(cropped), [n - 1 + 1.5] * 2, rtol=0, atol=2e-5)


def test_post_processing_centres_and_normalises():
    raw = gaussian(13, 1.0, 5.8) + 0.001  # off-centre, with a floor of small values
    k = post_process_kernel(raw)
    assert k.shape == (17, 17)  # padded by ceil(0.7) + 1 per side
    assert post_process_kernel(gaussian(13, 1.0, 5.2)).shape == (19, 19)  # shift 1.3 -> pad 3
    assert k.sum() == pytest.approx(1.0)
    # cubic-spline shift: the centre lands within spline interpolation error
    np.testing.assert_allclose(center_of_mass(k), [8.5, 8.5], rtol=0, atol=2e-4)  # measured 1.3e-4
    assert (k >= 0.0).all()  # measured min 0.0
    assert (k > 1e-4).sum() < 60  # the floor is gone (measured 52 of 289)


def test_synthetic_kernels_follow_the_protocol():
    rng = np.random.default_rng(0)
    for _ in range(5):
        k = random_kernel_x2(rng)
        assert k.shape == (11, 11) and k.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(center_of_mass(k), [5.5, 5.5], rtol=0, atol=0.035)  # measured <= 0.0317
        s = kernel_summary(k)
        assert 0.3 < s["sigma_minor"] <= s["sigma_major"] < 2.6


def test_scores_true_kernel_perfect_and_bicubic_worse():
    rng = np.random.default_rng(1)
    truth = random_kernel_x2(rng)
    hr = rng.random((64, 64, 3))
    lr = degrade_with_kernel(hr, truth, 2)
    # measured 348.6, 95.8, 317.1 and 30.88 dB (float64, deterministic)
    assert kernel_psnr(truth, truth) > 340
    assert kernel_psnr(shift_to_center(truth), truth) > 95  # re-centring / padding is harmless
    assert lr_psnr(hr, lr, truth, truth) > 310
    bic = kernel_psnr(bicubic_kernel_x2(), truth)
    assert 30.5 < bic < 31.3


def test_render_kernel_picture():
    k = gaussian(17, 1.5, 8.5)
    img = render_kernel(k, magnify=8)
    assert img.shape == (136, 136, 3) and img.dtype == np.uint8
    assert img[8 * 8 + 4, 8 * 8 + 4].sum() > img[4, 4].sum()


def test_restart_median_ignores_one_diverged_run():
    from sr_desktop.engine.kernelgan.train import average_kernels

    good = post_process_kernel(gaussian(13, 1.0, 6.5))
    near = post_process_kernel(gaussian(13, 1.1, 6.5))
    bad = post_process_kernel(gaussian(13, 3.5, 6.5))
    med = average_kernels([good, near, bad], how="median")
    mean = average_kernels([good, near, bad], how="mean")
    assert med.sum() == pytest.approx(1.0) and mean.sum() == pytest.approx(1.0)
    assert kernel_psnr(med, good) > kernel_psnr(mean, good) + 7.5  # measured +7.92 dB


def test_post_processing_leaves_no_negative_ringing():
    from sr_desktop.engine.kernelgan.kernel_ops import post_process_kernel, shift_to_center

    k = np.zeros((13, 13))
    k[5:8, 4:7] = 1.0  # a box with sharp edges, off-centre: the spline shift rings
    assert shift_to_center(k / k.sum()).min() < -0.012  # the ringing exists (measured -0.0122)
    out = post_process_kernel(k)
    assert out.min() >= 0.0 and abs(out.sum() - 1.0) < 1e-15  # measured 0.0 and 1.1e-16
    faithful = post_process_kernel(k, clip_ringing=False)
    assert faithful.min() < 0.0
