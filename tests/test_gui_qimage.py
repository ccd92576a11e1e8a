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


def _profile(space) -> bytes:
    """The ICC profile of a QColorSpace."""
    return bytes(space.iccProfile())


@pytest.mark.parametrize("suffix", ["png", "jpg", "tif"])
def test_a_thumbnail_is_in_srgb_as_the_compare_view_shows_it(qapp, tmp_path, suffix):
    """Thumbnails ignored the embedded profile: an Adobe RGB photo's was up to 64 levels off
    the picture beside it (PNG/TIFF decoded by the engine, JPEG by Qt)."""
    from PIL import Image
    from PySide6.QtGui import QColorSpace

    from sr_desktop.gui.main_window.thumbnails import decode_thumbnail
    from sr_desktop.gui.qimage import qimage_in_srgb

    icc = _profile(QColorSpace(QColorSpace.NamedColorSpace.AdobeRgb))
    colour = (40, 160, 200)
    path = tmp_path / f"adobe.{suffix}"
    Image.new("RGB", (32, 24), colour).save(path, icc_profile=icc, **({"quality": 100} if suffix == "jpg" else {}))
    expected = qimage_to_array(qimage_in_srgb(array_to_qimage(np.full((1, 1, 3), colour, np.uint8)), icc))[0, 0, :3]
    assert np.abs(expected.astype(int) - colour).max() > 10  # (a colour the conversion moves)
    shown = qimage_to_array(decode_thumbnail(path).image)
    centre = shown[shown.shape[0] // 2, shown.shape[1] // 2, :3].astype(int)
    assert np.abs(centre - expected).max() <= 2


def test_a_grey_image_s_grey_profile_is_applied(qapp):
    """A grey image with a gamma 1.8 (or linear) profile was shown with its stored values as
    if they were sRGB: 99 shown as 99, not 118."""
    from PySide6.QtGui import QColorSpace

    from sr_desktop.gui.compare.image import to_display_qimage
    from sr_desktop.gui.qimage import qimage_in_srgb

    srgb = QColorSpace(QColorSpace.NamedColorSpace.SRgb)
    gamma_18 = QColorSpace(srgb.whitePoint(), QColorSpace.TransferFunction.Gamma, 1.8)
    shown = qimage_in_srgb(to_display_qimage(np.full((2, 3, 1), 99, np.uint8)), _profile(gamma_18))
    assert qimage_to_array(shown)[0, 0, :3].tolist() == [118, 118, 118]
    with_alpha = to_display_qimage(np.full((2, 3, 2), 99, np.uint8))  # grey+alpha: as stored
    assert qimage_in_srgb(with_alpha, _profile(gamma_18)) is with_alpha


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (64, 33)])
@pytest.mark.parametrize("channels", [1, 3])
def test_display_images_of_grey_and_rgb_are_qts_own_conversion_and_own_their_pixels(qapp, shape, channels):
    """Grey and RGB are converted by OpenCV into the QImage's own buffer (Qt's conversion held
    Python's lock: a 96-megapixel result stopped the window for 0.4 s): the same pixels as
    Qt's conversion, and independent of the array they came from."""
    from sr_desktop.gui.compare.image import to_display_qimage

    pixels = np.random.default_rng(channels).integers(0, 256, (*shape, channels), dtype=np.uint8)
    qt_format = QImage.Format.Format_Grayscale8 if channels == 1 else QImage.Format.Format_RGB888
    data = np.ascontiguousarray(pixels)
    expected = QImage(data.data, shape[1], shape[0], data.strides[0], qt_format).convertToFormat(
        QImage.Format.Format_RGB32)
    shown = to_display_qimage(pixels)
    assert shown.format() == QImage.Format.Format_RGB32 and shown == expected
    pixels[...] = 0
    assert shown == expected


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (61, 80), (101, 67)])
@pytest.mark.parametrize("n", [2, 3])
def test_a_reduced_display_copy_is_the_average_of_each_block(qapp, shape, alpha, n):
    """Pixel i of the 1/n copy is the average of the image's pixels n·i … n·i + n − 1, a last
    partial block of what it holds: the half-size copy of a 101-pixel side was 50 pixels of
    2.02 each (Qt's and OpenCV's scaling to the size rounded down), and the view drawn from it
    up to a pixel off."""
    from sr_desktop.gui.compare.image import _pixels_of, block_averaged, to_display_qimage

    pixels = np.random.default_rng(5).integers(0, 256, (*shape, 4 if alpha else 3), dtype=np.uint8)
    shown = to_display_qimage(pixels)
    reduced = block_averaged(shown, n)
    source = _pixels_of(shown).astype(float)
    rows, cols = -(-shape[0] // n), -(-shape[1] // n)
    expected = np.array([[source[n * r:n * r + n, n * c:n * c + n].mean(axis=(0, 1)) for c in range(cols)]
                         for r in range(rows)])
    assert (reduced.width(), reduced.height()) == (cols, rows) and reduced.format() == shown.format()
    assert np.abs(_pixels_of(reduced) - expected).max() <= 0.5 + 1e-9  # (premultiplied; rounded)


def test_a_results_zoomed_out_copies_are_made_in_the_worker(qapp):
    """They were made in the first paint of the fitted view, on the GUI thread (0.2 s for a
    96-megapixel result)."""
    from sr_desktop.engine.imageio.image import Image
    from sr_desktop.gui.main_window.display_runner import with_display_layer

    class Job:
        box = None

    job = Job()
    image = Image(np.zeros((700, 4100, 3), np.uint8))
    assert with_display_layer(lambda job, progress, cancel: image)(job, None, None) is image
    assert sorted(job.display._levels) == [0, 1, 2, 3]  # down to 512×87: a side at most 1024
