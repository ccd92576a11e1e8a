"""MATLAB-compatible imresize on small arrays whose results are worked out by hand from
MATLAB's documented algorithm (cubic a=-0.5, antialias widening, symmetric border,
uint8 rounding between passes)."""

from __future__ import annotations

import numpy as np
import pytest

from sr_desktop.engine.compute.matlab_resize import cubic_kernel, imresize, resize_weights

# Keys' cubic (a = -0.5) at the distances that occur for ×2 and ×½, worked out by hand:
# cubic(0.25) = 1.5/64 - 2.5/16 + 1 = 0.8671875      cubic(0.75) = 0.2265625
# cubic(1.25) = -0.5*1.953125 + 2.5*1.5625 - 5 + 2 = -0.0703125
# cubic(1.75) = -0.0234375                             cubic(t >= 2) = 0
C025, C075, C125, C175 = 0.8671875, 0.2265625, -0.0703125, -0.0234375


def test_cubic_kernel_values():
    x = np.array([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0, 2.5, -0.25, -1.25])
    expected = [1.0, C025, C075, 0.0, C125, C175, 0.0, 0.0, C025, C125]
    np.testing.assert_allclose(cubic_kernel(x), expected, atol=1e-15)


def test_upscale_x2_weights_by_hand():
    # scale 2: u = i/2 + 0.25. Output 1: u = 0.75, taps at inputs -1, 0, 1, 2 (1-based)
    # at distances 1.75, 0.75, -0.25, -1.25; inputs 0 and -1 mirror to 1 and 2.
    w = resize_weights(3, 6, 2.0)
    np.testing.assert_allclose(w[0], [C075 + C025, C175 + C125, 0.0], atol=1e-15)
    # output 2: u = 1.25: inputs 0, 1, 2, 3 at distances 1.25, 0.25, -0.75, -1.75
    np.testing.assert_allclose(w[1], [C125 + C025, C075, C175], atol=1e-15)
    # output 3: u = 1.75: inputs 0..3 at 1.75, 0.75, -0.25, -1.25
    np.testing.assert_allclose(w[2], [C175 + C075, C025, C125], atol=1e-15)


def test_upscale_x2_tiny_column():
    x = np.array([[10.0], [50.0], [30.0]])
    out = imresize(x, 2)
    assert out.shape == (6, 2)
    # y1 = C175*x(2) + C075*x(1) + C025*x(1) + C125*x(2) = -1.171875+2.265625+8.671875-3.515625
    assert out[0, 0] == pytest.approx(6.25, abs=1e-12)
    # y2 = C125*x(1) + C025*x(1) + C075*x(2) + C175*x(3)
    assert out[1, 0] == pytest.approx(-0.703125 + 8.671875 + 11.328125 - 0.703125, abs=1e-12)
    # a single column stays itself along the other axis (all taps mirror onto it)
    np.testing.assert_allclose(out[:, 0], out[:, 1], atol=1e-12)


def test_downscale_half_antialiased_weights_by_hand():
    # scale 1/2 with antialiasing: h(x) = cubic(x/2)/2, width 8; u = 2i - 0.5;
    # taps at 2i-4 .. 2i+3 at distances 3.5, 2.5, 1.5, 0.5, -0.5, ... -3.5.
    half = np.array([C175, C125, C075, C025, C025, C075, C125, C175]) / 2
    assert half.sum() == pytest.approx(1.0, abs=1e-15)  # already normalised
    w = resize_weights(8, 4, 0.5)
    # output 2 (i = 2): inputs 0..7 -> 0 mirrors to 1
    expected = np.zeros(8)
    for tap, idx in zip(half, range(0, 8), strict=True):
        expected[max(idx, 1) - 1] += tap
    np.testing.assert_allclose(w[1], expected, atol=1e-15)
    # output 1: inputs -2, -1, 0, 1, 2, 3, 4, 5 mirror to 3, 2, 1, 1, 2, 3, 4, 5
    expected = np.zeros(8)
    for tap, idx in zip(half, [3, 2, 1, 1, 2, 3, 4, 5], strict=True):
        expected[idx - 1] += tap
    np.testing.assert_allclose(w[0], expected, atol=1e-15)
    # output 4: inputs 4..11 -> 9, 10, 11 mirror to 8, 7, 6
    expected = np.zeros(8)
    for tap, idx in zip(half, [4, 5, 6, 7, 8, 8, 7, 6], strict=True):
        expected[idx - 1] += tap
    np.testing.assert_allclose(w[3], expected, atol=1e-15)


def test_downscale_without_antialias_uses_narrow_kernel():
    w = resize_weights(8, 4, 0.5, antialias=False)
    # u = 2i - 0.5 = 3.5 for i = 2, width 4: inputs 2..5 at distances 1.5, 0.5, -0.5, -1.5;
    # cubic(1.5) = -0.5*3.375 + 2.5*2.25 - 6 + 2 = -0.0625, cubic(0.5) = 0.5625
    np.testing.assert_allclose(w[1], [0, -0.0625, 0.5625, 0.5625, -0.0625, 0, 0, 0], atol=1e-15)


def test_downscale_1d_values():
    x = np.arange(10.0, 90.0, 10.0)[:, None]  # 10, 20, ..., 80
    out = imresize(x, 0.5)
    assert out.shape == (4, 1)
    half = np.array([C175, C125, C075, C025, C025, C075, C125, C175]) / 2
    # output 1: inputs -2..5 mirror to 3, 2, 1, 1, 2, 3, 4, 5
    assert out[0, 0] == pytest.approx(float(half @ [30, 20, 10, 10, 20, 30, 40, 50]), abs=1e-12)
    # output 3: u = 5.5, inputs 2..9; 9 mirrors to 8: the ramp value 55 (x = 10·u) plus C175/2 * (80 - 90)
    assert out[2, 0] == pytest.approx(55.0 - 10.0 * C175 / 2, abs=1e-12)
    assert out[2, 0] == pytest.approx(55.1171875, abs=1e-12)


def test_uint8_rounds_between_passes():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    out = imresize(img, 0.5)
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3)
    # by hand: rows pass (scale ties: dimension 1 first), round, then columns, round
    wr = resize_weights(12, 6, 0.5)
    wc = resize_weights(10, 5, 0.5)
    rows = np.clip(np.floor(np.einsum("oi,ijc->ojc", wr, img.astype(float)) + 0.5), 0, 255)
    both = np.clip(np.floor(np.einsum("oj,ijc->ioc", wc, rows) + 0.5), 0, 255)
    np.testing.assert_array_equal(out, both.astype(np.uint8))
    # and it differs from the unrounded float path on at least one pixel of random data
    float_path = imresize(img.astype(np.float64), 0.5)
    assert np.any(np.floor(float_path + 0.5) != out)


def test_smaller_scale_dimension_goes_first():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, size=(8, 8), dtype=np.uint8)
    out = imresize(img, output_shape=(16, 4))  # rows ×2, columns ×0.5 -> columns first
    wc = resize_weights(8, 4, 0.5)
    wr = resize_weights(8, 16, 2.0)
    cols = np.clip(np.floor(img.astype(float) @ wc.T + 0.5), 0, 255)
    expected = np.clip(np.floor(wr @ cols + 0.5), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_constant_image_is_preserved_and_sizes():
    img = np.full((9, 15, 3), 77, dtype=np.uint8)
    assert np.all(imresize(img, 1 / 3) == 77)
    assert imresize(img, 1 / 3).shape == (3, 5, 3)
    assert imresize(img, 4).shape == (36, 60, 3)
    with pytest.raises(ValueError):
        imresize(img)


def test_a_resize_stops_at_cancel_and_its_blocks_change_no_value(monkeypatch):
    """A 192 MP result's consistency (a MATLAB bicubic downscale) ran on 30 s after Cancel.
    The passes now run in blocks of columns with Cancel looked at between them; the numbers
    are the same bit for bit whatever the blocks."""
    from sr_desktop.engine.compute import matlab_resize
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken

    image = np.random.default_rng(5).integers(0, 256, (96, 120, 3), dtype=np.uint8)
    whole = matlab_resize.imresize(image, 0.25)
    monkeypatch.setattr(matlab_resize, "CANCEL_COLUMNS", 7)
    assert np.array_equal(matlab_resize.imresize(image, 0.25), whole)
    assert np.array_equal(matlab_resize.imresize(image.astype(np.float64), 0.25),
                          matlab_resize.imresize(image.astype(np.float64), 0.25, cancel=CancelToken()))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        matlab_resize.imresize(image, 0.25, cancel=token)
