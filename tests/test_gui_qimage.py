"""Pixels ↔ QImage conversions of the GUI (gui/qimage.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from sr_desktop.gui.qimage import array_to_qimage, qimage_to_array


@pytest.mark.parametrize("fmt", [QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32])
def test_a_converted_image_without_row_padding_is_copied_out(qapp, fmt):
    """RGB32/ARGB32 are converted to a temporary RGB888/RGBA8888 image; with rows that need
    no padding (width a multiple of 4, or any RGBA) the array was a view of that temporary,
    freed on return: what the clipboard or a drop gave came out as noise."""
    wrong = 0
    for _ in range(20):
        image = QImage(64, 32, fmt)
        image.fill(0xFF102030)
        out = qimage_to_array(image)
        del image
        for _ in range(4):  # new images reuse the freed memory
            QImage(64, 32, QImage.Format.Format_RGBA8888).fill(0xFFFFFFFF)
        wrong += int(not (out[..., :3] == [16, 32, 48]).all())
    assert wrong == 0


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_arrays_survive_the_round_trip(qapp, channels, dtype):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, np.iinfo(dtype).max, (9, 12, channels), endpoint=True).astype(dtype)
    image = array_to_qimage(pixels)
    # an opaque 16-bit image has no alpha channel (RGBX64): as RGBA64 other apps got a PNG with one
    assert image.hasAlphaChannel() == (channels == 4)
    back = qimage_to_array(image)
    assert back.dtype == dtype and back.shape == pixels.shape
    np.testing.assert_array_equal(back, pixels)
