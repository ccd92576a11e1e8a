"""The upscale pipeline on real Image objects: modes, bit depths, alpha, regions, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.progress import CancelToken
from sr_desktop.engine.imageio import read_image, write_image
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_file, upscale_image, upscale_region
from tests.tiny_models import TinyModel


def _pixels(h, w, c, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    return rng.integers(0, top + 1, (h, w, c), dtype=np.int64).astype(dtype)


def test_grey_stays_grey_and_16_bit_stays_16_bit():
    img = Image(_pixels(20, 24, 1, np.uint16))
    res = upscale_image(img, UpscaleOptions(model="bicubic", scale=2))
    assert res.image.pixels.shape == (40, 48, 1) and res.image.pixels.dtype == np.uint16
    # 16-bit precision is used, not 8-bit steps
    assert len(np.unique(res.image.pixels % 257)) > 10


def test_grey_through_a_colour_model_is_the_mean_of_its_output():
    model = TinyModel(scale=2)
    grey = _pixels(16, 16, 1)
    res = upscale_image(Image(grey), UpscaleOptions(tile=0), model=model)
    rgb = upscale_image(Image(np.repeat(grey, 3, axis=2)), UpscaleOptions(tile=0), model=model)
    expected = rgb.image.pixels.astype(float).mean(axis=2)
    assert res.image.pixels.shape == (32, 32, 1)
    assert np.abs(res.image.pixels[:, :, 0] - expected).max() < 0.7  # measured 2/3 (steps of 1/3)


@pytest.mark.parametrize("alpha_mode", ["model", "resample"])
def test_alpha_is_upscaled_and_kept(alpha_mode):
    px = _pixels(12, 14, 4)
    px[:, :7, 3] = 0
    px[:, 7:, 3] = 255
    res = upscale_image(Image(px), UpscaleOptions(model="bicubic", scale=2, alpha=alpha_mode))
    out = res.image.pixels
    assert out.shape == (24, 28, 4)
    assert (out[:, :8, 3] == 0).all() and (out[:, 20:, 3] == 255).all()


@pytest.mark.parametrize("alpha_mode", ["model", "resample"])
@pytest.mark.parametrize("channels", [2, 4])
def test_hidden_colour_does_not_fringe_the_visible_edge(alpha_mode, channels):
    """An opaque white shape on transparent black: composed over white, the upscaled edge
    stays white. Colour and alpha are upscaled apart, and the hidden black under alpha 0 came
    out in the edge pixels (colour 52 at alpha 52: 213 over white, a dark fringe)."""
    px = np.zeros((12, 16, channels), np.uint8)
    px[:, 6:] = 255
    out = upscale_image(Image(px), UpscaleOptions(model="bicubic", scale=2, alpha=alpha_mode)).image.pixels
    colour, alpha = out[:, :, :-1].astype(np.float64), out[:, :, -1:].astype(np.float64) / 255
    over_white = colour * alpha + 255 * (1 - alpha)
    assert ((alpha > 0) & (alpha < 1)).any()  # a soft edge to look at
    assert over_white.min() >= 254.5


@pytest.mark.parametrize("alpha_mode,model", [("model", "lanczos"), ("resample", "bicubic")])
def test_alpha_does_not_ring_at_an_edge(alpha_mode, model):
    """Lanczos put ringing into alpha (through the model or by `--alpha resample`): opaque
    areas went to 247 two pixels inside an edge and clear ones to 8 (a faint halo). Each
    alpha is kept within its 3×3 source range."""
    px = np.zeros((12, 16, 4), np.uint8)
    px[:, 6:] = 255
    out = upscale_image(Image(px), UpscaleOptions(model=model, scale=4, alpha=alpha_mode)).image.pixels
    alpha = out[:, :, 3]
    assert int(alpha[:, : 5 * 4].max()) == 0 and int(alpha[:, 7 * 4 :].min()) == 255
    assert ((alpha > 0) & (alpha < 255)).any()


def test_the_alpha_clamp_is_the_source_neighbourhood_range_band_by_band(monkeypatch):
    import cv2

    from sr_desktop.engine.compute import antiring

    monkeypatch.setattr(antiring, "BAND_ROWS", 7)  # several bands with their one-row context
    rng = np.random.default_rng(3)
    source = rng.integers(0, 256, (40, 9, 1), dtype=np.uint8)
    upscaled = rng.integers(0, 256, (120, 27, 1), dtype=np.uint8)
    expected = upscaled[:, :, 0].copy()
    kernel = np.ones((3, 3), np.uint8)
    low, high = (cv2.resize(f(source[:, :, 0], kernel, borderType=cv2.BORDER_REPLICATE), (27, 120),
                            interpolation=cv2.INTER_NEAREST) for f in (cv2.erode, cv2.dilate))
    antiring.clamp_to_source_range(upscaled, source)
    assert np.array_equal(upscaled[:, :, 0], np.clip(expected, low, high))


def test_hidden_colour_is_filled_smoothly_from_the_visible_pixels():
    """Hidden pixels take their colour from the visible ones around them (a shape's own
    colour, never the stored black), smoothly: each copying the nearest visible pixel left a
    hard blue|green step in a thin transparent gap, which SPAN turned into speckle over the
    shapes' visible edges."""
    from sr_desktop.engine.compute.transparent_fill import fill_hidden_colour

    rgb = np.zeros((9, 13, 3), np.uint8)
    alpha = np.zeros((9, 13), np.uint8)
    rgb[:, :3], alpha[:, :3] = (0, 0, 255), 255  # a blue bar, a 7-px transparent gap, a green bar
    rgb[:, 10:], alpha[:, 10:] = (0, 255, 0), 1  # barely visible still counts
    filled = fill_hidden_colour(rgb, alpha)
    assert np.array_equal(filled[:, :3], rgb[:, :3]) and np.array_equal(filled[:, 10:], rgb[:, 10:])
    gap = filled[:, 3:10].astype(int)
    assert (gap[:, :, 0] == 0).all()  # no black, no other colour: blue turning into green
    steps = np.diff(filled[:, 2:11, 1].astype(int), axis=1)
    assert (steps >= 0).all() and steps.max() <= 255 // 3  # over 3 steps at least (nearest: one of 255)
    assert (np.diff(filled[:, 2:11, 2].astype(int), axis=1) <= 0).all()

    shape = np.zeros((6, 8, 3), np.uint16)  # one colour visible: every hidden pixel is that colour
    shape[2:4, 3:5] = (65535, 1000, 7)
    shape_alpha = np.zeros((6, 8), np.uint16)
    shape_alpha[2:4, 3:5] = 65535
    assert (fill_hidden_colour(shape, shape_alpha) == np.array([65535, 1000, 7], np.uint16)).all()
    assert fill_hidden_colour(rgb, np.zeros_like(alpha)) is rgb  # nothing visible to take from
    assert fill_hidden_colour(rgb, np.full_like(alpha, 3)) is rgb  # nothing hidden


def test_la_image_keeps_two_channels():
    res = upscale_image(Image(_pixels(10, 10, 2)), UpscaleOptions(model="lanczos", scale=3))
    assert res.image.pixels.shape == (30, 30, 2)


def test_metadata_travels_with_the_result():
    img = Image(_pixels(8, 8, 3), icc_profile=b"icc", exif=b"Exif", source_format="PNG")
    res = upscale_image(img, UpscaleOptions(model="bicubic", scale=2))
    assert res.image.icc_profile == b"icc" and res.image.exif == b"Exif"


def test_region_equals_the_same_pixels_of_the_full_result():
    model = TinyModel(scale=2, context=4)
    img = Image(_pixels(40, 50, 3))
    full = upscale_image(img, UpscaleOptions(tile=0), model=model).image.pixels
    for box in [(10, 5, 12, 20), (0, 0, 8, 8), (42, 30, 8, 10)]:
        x, y, w, h = box
        region = upscale_region(img, box, UpscaleOptions(tile=0), model=model).image.pixels
        assert region.shape == (2 * h, 2 * w, 3)
        np.testing.assert_array_equal(region, full[2 * y : 2 * (y + h), 2 * x : 2 * (x + w)])


class _AveragingModel(TinyModel):
    """An SE block's way: the output is scaled by the mean of the whole input, so tiles and
    crops are not independent (`tileable` False, as Real-CUGAN and waifu2x CUNet)."""

    tileable = False

    def run(self, x):
        return super().run(x) * (0.5 + x.mean())


def test_a_region_of_a_model_averaging_over_its_input_equals_the_full_result():
    """Its region ran on a crop with 32 px around it: other averages, Real-CUGAN pro ×3 up to
    109/255 off the full result, the region visibly softer beside it."""
    model = _AveragingModel(scale=2, context=4)
    img = Image(_pixels(40, 90, 3))
    full = upscale_image(img, UpscaleOptions(), model=model).image.pixels
    for x, y, w, h in [(0, 0, 8, 8), (70, 30, 20, 10)]:
        region = upscale_region(img, (x, y, w, h), UpscaleOptions(), model=model).image.pixels
        np.testing.assert_array_equal(region, full[2 * y : 2 * (y + h), 2 * x : 2 * (x + w)])


@pytest.mark.parametrize(("model", "scale"), [("espcn", 3), ("srcnn", 4)])
def test_a_tiny_region_at_the_image_edge_equals_the_full_result(model, scale):
    """A 1-2 px region at the edge was cut 7 px wide: narrower than the networks' reflected
    border padding, which then replicated, and it came out up to 6/255 off."""
    sample = read_image(Path(__file__).resolve().parents[1] / "resources" / "sample.jpg")
    img = sample.with_pixels(np.ascontiguousarray(sample.pixels[100:160, 200:280]))
    options = UpscaleOptions(model=model, scale=scale, backend="torch")
    full = upscale_image(img, options).image.pixels
    for x, y, w, h in [(0, 0, 1, 1), (0, 0, 2, 2), (0, 30, 1, 1), (79, 59, 1, 1), (40, 0, 2, 1)]:
        region = upscale_region(img, (x, y, w, h), options).image.pixels
        np.testing.assert_array_equal(region, full[scale * y : scale * (y + h), scale * x : scale * (x + w)])


@pytest.mark.parametrize("box", [(40, 5, 4, 4), (37, 2, 3, 3), (0, 0, 6, 6)])
def test_a_region_with_hidden_pixels_equals_the_full_result(box):
    """Hidden pixels take the colour of the nearest visible pixel of the whole image, which
    may lie outside a region's crop: filled from the crop alone, a region differed from the
    whole-image result by up to 8/255 next to it (and an all-hidden region got black)."""
    model = TinyModel(scale=2, context=3)
    px = np.zeros((20, 60, 4), np.uint8)
    px[:, 30:35] = (255, 0, 0, 255)
    px[:, 41:] = (0, 255, 0, 255)
    options = UpscaleOptions(tile=0, alpha="resample")
    full = upscale_image(Image(px), options, model=model).image.pixels
    x, y, w, h = box
    region = upscale_region(Image(px), box, options, model=model).image.pixels
    np.testing.assert_array_equal(region, full[2 * y : 2 * (y + h), 2 * x : 2 * (x + w)])


def test_region_outside_the_image_is_a_clear_error():
    with pytest.raises(SRDesktopError, match="not inside"):
        upscale_region(Image(_pixels(10, 10, 3)), (5, 5, 10, 10), UpscaleOptions(model="bicubic"))


def test_upscale_file_writes_result_and_cancel_writes_nothing(tmp_path):
    src = tmp_path / "in.png"
    PILImage.fromarray(_pixels(40, 40, 3)).save(src)
    dst = tmp_path / "out.png"
    res = upscale_file(src, dst, UpscaleOptions(model="bicubic", scale=2, tile=16))
    assert read_image(dst).pixels.shape == (80, 80, 3) and res.tiles == 9

    token = CancelToken()
    token.cancel()
    dst2 = tmp_path / "cancelled.png"
    with pytest.raises(Cancelled):
        upscale_file(src, dst2, UpscaleOptions(model="bicubic", scale=2, tile=16), cancel=token)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


def test_upscale_file_never_overwrites_its_input(tmp_path):
    src = tmp_path / "in.png"
    PILImage.fromarray(_pixels(8, 8, 3)).save(src)
    before = src.read_bytes()
    with pytest.raises(SRDesktopError):
        upscale_file(src, src, UpscaleOptions(model="bicubic", scale=2), overwrite=True)
    assert src.read_bytes() == before


def test_bad_options_are_clear_errors():
    img = Image(_pixels(8, 8, 3))
    with pytest.raises(SRDesktopError, match="scale"):
        upscale_image(img, UpscaleOptions(model="bicubic", scale=99))
    with pytest.raises(SRDesktopError, match="alpha"):
        upscale_image(img, UpscaleOptions(model="bicubic", alpha="magic"))
    with pytest.raises(SRDesktopError, match="fp16"):
        upscale_image(img, UpscaleOptions(model="bicubic", device="cpu", precision="fp16"))


def test_write_result_round_trip(tmp_path):
    res = upscale_image(Image(_pixels(10, 10, 4, np.uint16)), UpscaleOptions(model="bicubic", scale=2))
    path = write_image(res.image, tmp_path / "x.png")
    back = read_image(path)
    assert back.pixels.dtype == np.uint16 and back.pixels.shape == (20, 20, 4)
    np.testing.assert_array_equal(back.pixels, res.image.pixels)


def test_per_image_models_report_their_own_progress():
    from sr_desktop.engine.core.progress import ProgressInfo
    from sr_desktop.engine.models.base import SRModel

    class Trained(SRModel):
        kind = "per_image"
        scale = 2

        def upscale_array(self, rgb, progress=None, cancel=None):
            for i in range(1, 4):
                if progress:
                    progress(ProgressInfo(i, 3, 0.1 * i, 0.1 * (3 - i), "training"))
            return np.repeat(np.repeat(rgb, 2, axis=0), 2, axis=1)

    seen = []
    res = upscale_image(Image(_pixels(6, 6, 3)), UpscaleOptions(), progress=seen.append, model=Trained())
    assert res.image.pixels.shape == (12, 12, 3)
    assert [(p.done, p.total, p.stage) for p in seen if p.stage == "training"] == [
        (1, 3, "training"), (2, 3, "training"), (3, 3, "training")
    ]


def test_a_black_and_white_photo_stored_as_rgb_stays_neutral():
    """R=G=B files (B&W camera JPEGs, scans) came back with colour noise on edges from a
    colour model (realesr-animevideov3: 40 % of pixels 3+ levels apart); a grey file did not.
    They now get what the grey file gets, in all three channels."""
    model = TinyModel(scale=2)
    grey = _pixels(16, 16, 1)
    as_rgb = upscale_image(Image(np.repeat(grey, 3, axis=2)), UpscaleOptions(tile=0), model=model).image.pixels
    as_grey = upscale_image(Image(grey), UpscaleOptions(tile=0), model=model).image.pixels
    assert as_rgb.shape == (32, 32, 3)
    assert np.array_equal(as_rgb, np.repeat(as_grey, 3, axis=2))
    almost = np.repeat(grey, 3, axis=2)
    almost[5, 5, 0] ^= 1  # one pixel not grey: a colour image, through the model's colour
    coloured = upscale_image(Image(almost), UpscaleOptions(tile=0), model=model).image.pixels
    assert not np.array_equal(coloured[:, :, 0], coloured[:, :, 1])


def test_the_time_making_the_model_ready_is_reported_beside_the_runs(monkeypatch):
    """A first upscale (loading, converting and timing the backends: 7 s) said "0.2 s": the
    run's seconds leave the model's readying out, and the result now reports it apart."""
    import time

    from sr_desktop.app.session import RunInfo
    from sr_desktop.engine.pipeline import upscale as pipeline
    from sr_desktop.gui.main_window.status_labels import StatusLabels

    real = pipeline.resolve_model

    def slow(*args, **kwargs):
        time.sleep(0.6)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "resolve_model", slow)
    image = Image(pixels=np.zeros((12, 16, 3), np.uint8))
    for result in (upscale_image(image, UpscaleOptions(model="bicubic", scale=2)),
                   upscale_region(image, (2, 2, 6, 6), UpscaleOptions(model="bicubic", scale=2))):
        assert result.setup_seconds >= 0.6 and result.seconds < 0.6
    run = RunInfo.of(result)
    assert run.setup_seconds == result.setup_seconds

    from PySide6.QtWidgets import QStatusBar

    from sr_desktop.engine.core.text import result_seconds
    from sr_desktop.gui.app import create_application

    create_application()
    bar = QStatusBar()
    labels = StatusLabels(bar)
    labels.show_run(run)
    assert labels.time_label.full_text().startswith(
        f"Last run: {result_seconds(result.seconds)} + {result_seconds(result.setup_seconds)} readying the model (")
    monkeypatch.undo()
    labels.show_run(RunInfo.of(upscale_image(image, UpscaleOptions(model="bicubic", scale=2))))
    assert "readying" not in labels.time_label.full_text()  # (under half a second: not said)
    # the Metrics panel's Result time says it too
    from sr_desktop.gui.metrics.result_section import ResultSection

    section = ResultSection()
    section.show_result(result, image)
    assert section.time.text().endswith(f" (+ {result_seconds(result.setup_seconds)} readying the model)")
