"""PSNR / SSIM / MS-SSIM and the BT.601 Y channel against known values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from sr_desktop.engine.metrics.color import luma_y, rgb2ycbcr
from sr_desktop.engine.metrics.fullref import (
    finite_or_none,
    gaussian_window_1d,
    ms_ssim,
    psnr,
    ssim,
    ssim_map,
)


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:96, 0:80]
    base = 120 + 60 * np.sin(x / 5.0) * np.cos(y / 7.0) + rng.normal(0, 8, size=x.shape)
    return np.clip(base, 0, 255).astype(np.uint8)


def test_psnr_identical_is_inf(texture):
    assert psnr(texture, texture) == math.inf
    assert finite_or_none(psnr(texture, texture)) is None


def test_psnr_known_value():
    a = np.zeros((10, 10), dtype=np.uint8)
    b = np.full((10, 10), 5, dtype=np.uint8)
    # MSE = 25 -> 10 log10(255² / 25)
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25.0), abs=1e-12)
    # the shave removes a border where all the error is
    c = a.copy()
    c[0, :] = 200
    assert psnr(a, c, shave=1) == math.inf
    with pytest.raises(ValueError):
        psnr(a, np.zeros((10, 11)))


def test_ssim_of_self_is_one(texture):
    assert ssim(texture, texture) == pytest.approx(1.0, abs=1e-12)
    assert ms_ssim(texture, texture) == pytest.approx(1.0, abs=1e-12)
    rgb = np.stack([texture, texture[::-1], texture[:, ::-1]], axis=2)
    assert ssim(rgb, rgb) == pytest.approx(1.0, abs=1e-12)


def test_ssim_decreases_with_noise_and_is_symmetric(texture):
    rng = np.random.default_rng(1)
    noisy = np.clip(texture + rng.normal(0, 10, texture.shape), 0, 255)
    noisier = np.clip(texture + rng.normal(0, 30, texture.shape), 0, 255)
    s1, s2 = ssim(texture, noisy), ssim(texture, noisier)
    assert 0 < s2 < s1 < 1
    assert ssim(noisy, texture) == pytest.approx(s1, abs=1e-12)
    m1, m2 = ms_ssim(texture, noisy), ms_ssim(texture, noisier)
    assert 0 < m2 < m1 < 1


def test_ms_ssim_halves_an_odd_side_as_msssim_m_does():
    """Wang's msssim.m takes 2×2 means with `imfilter(ones(2)/4, 'symmetric')` then every
    other pixel: an odd last row or column is averaged with itself. It was cropped (coastguard
    ×3: 3e-4 above the reference)."""
    from scipy import ndimage

    from sr_desktop.engine.metrics.fullref import _halve

    rng = np.random.default_rng(3)
    odd = rng.uniform(0, 255, (23, 17))
    # MATLAB's 'same' 2×2 correlation anchors at the kernel's first tap: each output is the
    # mean of the pixel, its right, lower and lower-right neighbours, mirrored past the edge
    padded = np.pad(odd, ((0, 1), (0, 1)), mode="symmetric")
    means = ndimage.correlate(padded, np.full((2, 2), 0.25), mode="constant", origin=(-1, -1))[:-1, :-1]
    np.testing.assert_allclose(_halve(odd), means[0::2, 0::2], atol=1e-12)
    assert _halve(odd).shape == (12, 9)
    # 175 px a side (→ 88 → 44 → 22 → 11) has all five scales; cropped halving (→ 87 → 43 →
    # 21 → 10) stopped at four, renormalising the weights
    a = rng.uniform(0, 255, (176, 175))
    b = np.clip(a + rng.normal(0, 8, a.shape), 0, 255)
    assert ms_ssim(a, b) == pytest.approx(_naive_ms_ssim(a, b), abs=1e-9)


def test_ssim_window_is_matlab_fspecial():
    w = gaussian_window_1d()
    assert w.shape == (11,) and w.sum() == pytest.approx(1.0)
    # fspecial('gaussian', 11, 1.5): exp(-(x²+y²)/(2σ²)) normalised; centre and corner
    full = np.outer(w, w)
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    ref = np.outer(g, g) / np.outer(g, g).sum()
    np.testing.assert_allclose(full, ref, atol=1e-15)
    assert full[5, 5] == pytest.approx(1 / np.outer(g, g).sum())


def test_ssim_map_constant_offset_matches_formula():
    # two constant images: σ = 0, SSIM = (2·μx·μy + C1) / (μx² + μy² + C1)
    a = np.full((20, 20), 100.0)
    b = np.full((20, 20), 110.0)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    m = ssim_map(a, b)
    assert m.shape == (10, 10)  # 'valid': 20 - 11 + 1
    np.testing.assert_allclose(m, expected, rtol=1e-12)
    assert ssim_map(a, b, valid=False).shape == (20, 20)


def test_rgb2ycbcr_bt601():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255], [10, 200, 90]]],
                   dtype=np.uint8)
    ycc = rgb2ycbcr(rgb)
    assert ycc.dtype == np.uint8
    assert ycc[0, 0].tolist() == [16, 128, 128]
    assert ycc[0, 1].tolist() == [235, 128, 128]
    # red: Y = 16 + 65.481 = 81.481 -> 81; Cb = 128 - 37.797 -> 90; Cr = 128 + 112 = 240
    assert ycc[0, 2].tolist() == [81, 90, 240]
    # blue: Y = 16 + 24.966 -> 41; Cb = 240; Cr = 128 - 18.214 -> 110
    assert ycc[0, 3].tolist() == [41, 240, 110]
    r, g, b = 10, 200, 90
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    assert luma_y(rgb)[0, 4] == pytest.approx(y, abs=1e-12)
    assert luma_y(rgb, round_to_uint8=True)[0, 4] == round(y)
    fl = rgb2ycbcr(rgb.astype(np.float64) / 255)
    assert fl[0, 4, 0] == pytest.approx(y / 255, abs=1e-12)


def test_gray_images_use_grey_values():
    g = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(luma_y(g), g.astype(float))
    np.testing.assert_array_equal(luma_y(g[:, :, None]), g.astype(float))


def _naive_ms_ssim(x: np.ndarray, y: np.ndarray, data_range: float = 255.0) -> float:
    """MS-SSIM written straight from Wang, Simoncelli & Bovik (2003): at each of five scales
    (2×2 means between them, an odd side's last row or column repeated as in their
    msssim.m) the mean contrast-structure term over every 11×11 Gaussian window inside the
    image, the last scale's full SSIM, weighted (finest first)."""
    from numpy.lib.stride_tricks import sliding_window_view

    t = np.arange(11) - 5.0
    g1 = np.exp(-t * t / (2 * 1.5 ** 2))
    g = np.outer(g1, g1) / np.outer(g1, g1).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    weights = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
    result = 1.0
    for level, weight in enumerate(weights):
        wx, wy = sliding_window_view(x, (11, 11)), sliding_window_view(y, (11, 11))
        mx, my = (wx * g).sum((-2, -1)), (wy * g).sum((-2, -1))
        vx = (wx * wx * g).sum((-2, -1)) - mx * mx
        vy = (wy * wy * g).sum((-2, -1)) - my * my
        cov = (wx * wy * g).sum((-2, -1)) - mx * my
        cs = (2 * cov + c2) / (vx + vy + c2)
        term = cs if level < 4 else cs * (2 * mx * my + c1) / (mx * mx + my * my + c1)
        result *= max(0.0, float(term.mean())) ** weight
        # an odd last row or column is repeated, as msssim.m's symmetric imfilter does
        x, y = (np.pad(im, ((0, im.shape[0] % 2), (0, im.shape[1] % 2)), mode="edge") for im in (x, y))
        h, w = x.shape
        x = x.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        y = y.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return result


def test_ms_ssim_equals_the_formula_written_out():
    """Reversed scale weights, SSIM instead of contrast-structure at the finer scales, or
    subsampling instead of 2×2 means all kept MS-SSIM in (0, 1] and passed."""
    rng = np.random.default_rng(5)
    hr = ndimage.gaussian_filter(rng.random((180, 200)) * 255, 2.0)
    sr = np.clip(hr + rng.normal(0, 6, hr.shape), 0, 255)
    value = ms_ssim(sr, hr)
    assert value == pytest.approx(_naive_ms_ssim(sr, hr), abs=1e-9)
    assert 0.2 < value < 0.999


def test_rgb2ycbcr_of_uint16_is_matlabs():
    """uint16 was taken as floats in 0..1: white gave Y 56283.06 and Cb = Cr = 0.502.
    MATLAB's rgb2ycbcr returns uint16, Y 235·257 for white, 16·257 for black, Cb = Cr 128·257."""
    from sr_desktop.engine.metrics.color import rgb2ycbcr

    pixels = np.array([[[65535, 65535, 65535], [0, 0, 0], [257 * 200, 257 * 30, 257 * 90]]], np.uint16)
    ycc = rgb2ycbcr(pixels)
    assert ycc.dtype == np.uint16
    assert ycc[0, 0].tolist() == [235 * 257, 128 * 257, 128 * 257]
    assert ycc[0, 1].tolist() == [16 * 257, 128 * 257, 128 * 257]
    # a 16-bit colour that is an 8-bit one ×257 lands within rounding of the uint8 result ×257
    as8 = rgb2ycbcr(np.array([[[200, 30, 90]]], np.uint8))[0, 0].astype(int) * 257
    assert np.abs(ycc[0, 2].astype(int) - as8).max() <= 257 // 2 + 1
    with pytest.raises(ValueError, match="uint8, uint16 or float"):
        rgb2ycbcr(np.zeros((1, 1, 3), np.int32))
