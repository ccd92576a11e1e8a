"""The blur of kernel degradations (engine/compute/degrade.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sr_desktop.engine.compute import degrade
from sr_desktop.engine.compute.degrade import correlate_channels

ndimage_correlate = ndimage.correlate


@pytest.mark.parametrize(("kernel_shape", "image_shape"), [((101, 101), (132, 132, 3)), ((40, 41), (80, 70)),
                                                           ((34, 35), (60, 90, 3)), ((21, 21), (50, 50))])
def test_a_large_kernel_gives_what_reflect_correlation_gives(kernel_shape, image_shape, monkeypatch):
    """Large kernels go through the FFT (a 101×101 one took 5 s a channel on a training
    window, 20 iterations in 5 minutes): the same sums, odd and even sizes, to float rounding."""
    rng = np.random.default_rng(sum(kernel_shape))
    kernel = rng.random(kernel_shape)
    kernel /= kernel.sum()
    image = rng.random(image_shape)
    planes = image[..., None] if image.ndim == 2 else image
    expected = np.stack([ndimage.correlate(planes[..., c], kernel, mode="reflect")
                         for c in range(planes.shape[2])], axis=-1).reshape(image.shape)
    direct = []
    monkeypatch.setattr(degrade.ndimage, "correlate", lambda *a, **k: direct.append(1) or ndimage_correlate(*a, **k))
    got = correlate_channels(image, kernel)
    assert np.abs(got - expected).max() < 1e-12
    assert bool(direct) == (kernel.size <= 33 * 33)  # (measured: 0.9 s through the FFT, 15 s directly)
