"""--width/--height: the result resized to fit a box after the model's upscale (upscale,
batch), its aspect ratio kept, colours under transparency not bled, 16 bits kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.errors import OptionError
from sr_desktop.engine.core.output_size import OutputSize
from sr_desktop.engine.imageio import read_image
from sr_desktop.engine.imageio.animation import Animation
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.output_size import resized


@pytest.mark.parametrize(("size", "own", "fitted"), [
    (OutputSize(width=1000), (600, 400), (1000, 667)),
    (OutputSize(height=300), (600, 400), (450, 300)),
    (OutputSize(1000, 300), (600, 400), (450, 300)),  # (the height holds it)
    (OutputSize(300, 1000), (600, 400), (300, 200)),  # (the width holds it)
    (OutputSize(width=2), (1, 500), (2, 1000)),
    (OutputSize(width=1), (1000, 10), (1, 1)),  # (never a side of 0)
])
def test_the_box_is_fitted_with_the_aspect_ratio_kept(size, own, fitted):
    assert size.fitted(*own) == fitted


@pytest.mark.parametrize("bad", [{}, {"width": 0}, {"height": -3}, {"width": 1.5}, {"width": True}])
def test_a_bad_size_is_one_option_error(bad):
    with pytest.raises(OptionError):
        OutputSize(**bad)


def test_resizing_keeps_the_depth_the_metadata_and_no_colour_bleeds_from_transparency():
    rgba = np.zeros((40, 60, 4), np.uint16)
    rgba[:, :30] = (65535, 0, 0, 65535)  # opaque red on the left
    rgba[:, 30:] = (0, 65535, 0, 0)  # transparent green (hidden) on the right
    image = Image(rgba, icc_profile=b"icc", info={"dpi": (300.0, 300.0)})
    out = resized(image, OutputSize(width=90))
    assert out.pixels.shape == (60, 90, 4) and out.pixels.dtype == np.uint16
    assert (out.icc_profile, out.info) == (b"icc", {"dpi": (300.0, 300.0)})
    visible = out.pixels[:, :, 3] > 0
    assert out.pixels[visible][:, 1].max() == 0  # (straight-alpha resizing mixed the hidden green in)
    assert resized(image, OutputSize(width=60)) is image and resized(image, None) is image


def test_an_animation_s_frames_are_all_resized():
    frames = [Image(np.full((20, 30, 3), 40 * i, np.uint8)) for i in range(3)]
    out = resized(Animation(frames, [50, 60, 70], 0, ["none"] * 3, "GIF"), OutputSize(height=10))
    assert [f.pixels.shape for f in out.frames] == [(10, 15, 3)] * 3 and out.durations == [50, 60, 70]
    assert [int(f.pixels.mean()) for f in out.frames] == [0, 40, 80]


def _photo(path, width=48, height=32):
    rng = np.random.default_rng(1)
    PILImage.fromarray(rng.integers(0, 256, (height, width, 3), np.uint8)).save(path)
    return path


def test_upscale_and_batch_write_the_size_asked_for(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    src = _photo(tmp_path / "in" / "a.png")
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.png"), "--model", "bicubic", "--width", "100"]) == 0
    assert read_image(tmp_path / "a.png").pixels.shape == (67, 100, 3)
    assert "(48×32 -> 192×128, resized to 100×67, bicubic ×4" in capsys.readouterr().out
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2",
                 "--width", "200", "--height", "100", "--report", str(tmp_path / "r.json"), "--no-progress"]) == 0
    assert read_image(tmp_path / "out" / "a_x2_bicubic.png").pixels.shape == (100, 150, 3)
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["options"]["width"], report["options"]["height"]) == (200, 100)
    assert report["files"][0]["output_size"] == [150, 100]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "bicubic", "--height", "0"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err == ("sr-desktop upscale: error: argument --height: the output height must be a whole number of pixels "
                   "from 1 to 1048576, got 0 (see `sr-desktop upscale --help`)\n")
    assert not (tmp_path / "b.png").exists()


def test_write_any_resizes_and_the_writers_refuse_a_size_they_would_not_apply(tmp_path):
    from sr_desktop.engine.imageio import SaveOptions, write_image
    from sr_desktop.engine.pipeline.animation import write_any

    image = Image(np.full((20, 30, 3), 90, np.uint8))
    options = SaveOptions(format="png", size=OutputSize(width=60))
    with pytest.raises(OptionError, match="applied by sr_desktop.engine.pipeline.animation.write_any"):
        write_image(image, tmp_path / "a.png", options)  # (it wrote 30×20 without a word)
    assert not (tmp_path / "a.png").exists()
    write_any(image, tmp_path / "a.png", options)
    assert read_image(tmp_path / "a.png").pixels.shape == (40, 60, 3)
    write_image(resized(image, options.size), tmp_path / "b.png", options)  # (already that size: written)


def test_each_page_of_a_tiff_is_fitted_by_its_own_aspect_ratio(tmp_path):
    """Every page took the first page's size: a portrait page of a multi-page TIFF was squashed."""
    from sr_desktop.engine.imageio import SaveOptions
    from sr_desktop.engine.imageio.animation import read_animation
    from sr_desktop.engine.pipeline.animation import write_any

    pages = Animation([Image(np.zeros((48, 64, 3), np.uint8)), Image(np.zeros((60, 30, 3), np.uint8))],
                      source_format="TIFF")
    write_any(pages, tmp_path / "p.tif", SaveOptions(format="tiff", size=OutputSize(width=100)))
    assert [p.pixels.shape[:2] for p in read_animation(tmp_path / "p.tif").frames] == [(75, 100), (200, 100)]


def test_a_size_the_format_cannot_hold_or_memory_cannot_is_one_line_before_any_resizing(tmp_path, monkeypatch,
                                                                                      capsys):
    """A WebP 17 000 px wide was refused after 10 s and 5 GB of resizing (24 000 here: the
    other side of what was asked for); 200 000 px wide, the command line said "unexpected
    error: MemoryError" (and the window: a bug)."""
    from sr_desktop.engine.pipeline import output_size

    def never(*_args):
        raise AssertionError("resized before the refusal")

    (tmp_path / "in").mkdir()
    src = _photo(tmp_path / "in" / "a.png")
    monkeypatch.setattr(output_size, "_resized_pixels", never)
    # (the side asked for fits WebP, the other one, of the image's ratio, does not)
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.webp"), "--model", "bicubic", "--height", "16000"]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"sr-desktop: error: {src}: resizing to 16000 px high: WEBP holds at most 16383 pixels a side, the result is "
        "24000×16000; save it as PNG or TIFF (--format png)")

    def no_memory(*_args):
        raise MemoryError("Unable to allocate 297. GiB")

    monkeypatch.setattr(output_size, "_resized_pixels", no_memory)
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.png"), "--model", "bicubic", "--width", "200000"]) == 1
    assert capsys.readouterr().err.splitlines()[0].startswith(
        f"sr-desktop: error: {src}: not enough memory to resize to 200000×133333 (about ")


def test_a_size_no_output_can_have_is_refused_before_any_upscale(tmp_path, capsys):
    """A batch to WebP 20 000 px wide upscaled every file, then failed each; one upscale
    the same."""
    from sr_desktop.engine.batch.plan import BatchError
    from sr_desktop.engine.batch.runner import BatchOptions
    from sr_desktop.engine.core.options import UpscaleOptions

    with pytest.raises(BatchError, match="WEBP holds at most 16383 pixels a side, not 20000 px wide"):
        BatchOptions(upscale=UpscaleOptions(model="bicubic"), format="webp", size=OutputSize(width=20000))
    BatchOptions(upscale=UpscaleOptions(model="bicubic"), format="png", size=OutputSize(width=20000))
    (tmp_path / "in").mkdir()
    src = _photo(tmp_path / "in" / "a.png")
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.webp"), "--model", "bicubic", "--width", "20000"]) == 2
    assert capsys.readouterr().err == ("sr-desktop: error: WEBP holds at most 16383 pixels a side, not 20000 px wide: "
                                       "ask for less, or save as PNG or TIFF\n")


def test_the_save_as_dialog_refuses_a_size_the_format_cannot_hold(qtbot, tmp_path, monkeypatch):
    from sr_desktop.engine.imageio import SaveOptions
    from sr_desktop.gui.main_window.save_dialog import SaveAsDialog

    dialog = SaveAsDialog(tmp_path / "a.webp", SaveOptions(format="webp"), image_size=(400, 300))
    qtbot.addWidget(dialog)
    said = []
    monkeypatch.setattr(dialog, "_show_problem", said.append)
    dialog.size_field.width_spin.setValue(20000)
    dialog.accept()
    assert said == ["At 20000×15000 the result is too large for WebP (at most 16383 pixels a side): choose a "
                    "smaller Size or PNG or TIFF."] and not dialog.result()
    dialog.size_field.set_output_size(OutputSize(height=1048576))  # (its width past the largest side)
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    dialog.accept()
    assert said[-1].startswith("At 1398101×1048576 the result is too large for PNG (at most 1048576 pixels")


def test_a_cancel_stops_the_resizing():
    """Cancel in the window's save left seconds of resizing running, memory growing."""
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken

    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        resized(Image(np.zeros((20, 30, 3), np.uint8)), OutputSize(width=300), cancel=cancel)


def test_only_a_size_no_output_can_have_is_refused_before_the_work(tmp_path, capsys):
    """A box with one side past WebP's limit was refused though its result fits (20000×300
    makes 300×300 of a square); of several outputs, one WebP refused the whole run (unnamed,
    status 2) where the others could be written; a batch keeping each input's format
    upscaled a WebP before failing it."""
    from sr_desktop.engine.batch.runner import BatchOptions, run_batch
    from sr_desktop.engine.core.options import UpscaleOptions
    from sr_desktop.engine.pipeline.output_size import box_refusal

    assert box_refusal(OutputSize(20000, 300), "webp") is None and box_refusal(OutputSize(20000), "webp")
    (tmp_path / "in").mkdir()
    src = _photo(tmp_path / "in" / "a.png")
    PILImage.open(src).save(tmp_path / "in" / "b.webp", lossless=True)
    assert main(["upscale", str(src), str(tmp_path / "in" / "b.webp"), "-o", f"{tmp_path / 'out'}/",
                 "--model", "bicubic", "--width", "20000"]) == 1
    err = capsys.readouterr().err
    assert f"sr-desktop: error: {tmp_path / 'in' / 'b.webp'}: resizing to 20000 px wide: WEBP holds" in err
    assert (tmp_path / "out" / "a.png").is_file()
    result = run_batch(tmp_path / "in", tmp_path / "batch", BatchOptions(
        upscale=UpscaleOptions(model="bicubic", scale=2), format="same", size=OutputSize(width=20000)))
    webp = next(r for r in result.records if r.input.endswith("b.webp"))
    assert webp.status == "failed" and webp.error.startswith("WEBP holds at most 16383 pixels a side")
    assert webp.upscale_seconds == 0


def sprite(side: int = 16) -> np.ndarray:
    """RGBA pixel art: a red square with a blue dot on a transparent ground."""
    rgba = np.zeros((side, side, 4), np.uint8)
    rgba[4:12, 4:12] = (220, 30, 30, 255)
    rgba[7:9, 7:9] = (30, 30, 220, 255)
    return rgba


def same_visible(got: np.ndarray, expected: np.ndarray) -> bool:
    """Equal alpha, and equal colours where a pixel shows (the colour under alpha 0 is the
    pipeline's to fill: `transparent_fill`)."""
    shows = expected[:, :, 3] > 0
    return np.array_equal(got[:, :, 3], expected[:, :, 3]) and np.array_equal(got[shows], expected[shows])


def test_a_result_of_nearest_is_resized_with_nearest_and_stays_square_blocks(tmp_path, capsys):
    """--width after nearest smoothed the ×4 blocks with Lanczos (a 3-colour sprite came out
    with 27 colours and 45 alpha levels) where an exact ×8 was asked for."""
    (tmp_path / "in").mkdir()
    PILImage.fromarray(sprite()).save(tmp_path / "in" / "s.png")
    exact = np.repeat(np.repeat(sprite(), 8, axis=0), 8, axis=1)
    for scale in ("4", "2"):
        out = tmp_path / f"nearest{scale}.png"
        assert main(["upscale", str(tmp_path / "in" / "s.png"), "-o", str(out), "--model", "nearest",
                     "--scale", scale, "--width", "128", "-q"]) == 0
        assert same_visible(np.asarray(PILImage.open(out)), exact)
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "b"), "--model", "nearest", "--scale", "4",
                 "--width", "128", "--name", "{stem}", "-q"]) == 0
    assert same_visible(np.asarray(PILImage.open(tmp_path / "b" / "s.png")), exact)
    # any other model's result keeps Lanczos: the size is the box's, how is the model's
    size = OutputSize(width=128)
    assert size.resampling == "lanczos" and size.for_model("bicubic").resampling == "lanczos"
    assert size.for_model("nearest") == OutputSize(width=128, resampling="nearest")
    with pytest.raises(OptionError, match="resized by lanczos or nearest"):
        OutputSize(width=8, resampling="cubic")


def test_alpha_resampled_after_nearest_is_nearest_too():
    """--alpha resample resized the alpha with Lanczos whatever the model: nearest's sprite got
    soft edges of 122 alpha levels around square colour blocks."""
    from sr_desktop.engine.core.options import AlphaMode, UpscaleOptions
    from sr_desktop.engine.pipeline.upscale import upscale_image

    result = upscale_image(Image(sprite()), UpscaleOptions(model="nearest", scale=4, alpha=AlphaMode.RESAMPLE))
    assert same_visible(result.image.pixels, np.repeat(np.repeat(sprite(), 4, axis=0), 4, axis=1))


def test_a_result_enlarged_past_the_models_output_says_so(tmp_path, capsys, qtbot):
    """`--width` past the network's output stretched it by Lanczos without a word (a
    photographer's 5000 px from a 640-px ×4 result: 7.8× interpolated): `upscale`, the batch
    report and the Save As dialog's Size say how much was interpolated; a reduction says nothing."""
    from sr_desktop.engine.imageio import SaveOptions
    from sr_desktop.gui.main_window.save_dialog import SaveAsDialog

    (tmp_path / "in").mkdir()
    src = _photo(tmp_path / "in" / "a.png")  # 48×32
    note = ("resized up ×2.08 past espcn ×2 by Lanczos (interpolated, no detail added: a larger scale adds "
            "the model's)")
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.png"), "--model", "espcn", "--scale", "2",
                 "--width", "200"]) == 0
    assert f"sr-desktop: note: a.png: {note}" in capsys.readouterr().err.splitlines()
    assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "espcn", "--scale", "2",
                 "--width", "90"]) == 0
    assert "note" not in capsys.readouterr().err
    from sr_desktop.engine.pipeline.output_size import enlargement_note

    assert enlargement_note((1000, 800), (1004, 803), "espcn", 2) == ""  # (it said "×1.00")
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "espcn", "--scale", "2",
                 "--width", "200", "--report", str(tmp_path / "r.json"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["files"][0]["note"] == note
    # a resampling model's whole result is interpolated: a larger scale would add nothing
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out2"), "--model", "nearest", "--scale", "2",
                 "--height", "96", "--report", str(tmp_path / "r2.json"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "r2.json").read_text())["files"][0]["note"] == ""

    dialog = SaveAsDialog(tmp_path / "a.png", SaveOptions(format="png"), image_size=(320, 240))
    qtbot.addWidget(dialog)
    label = dialog.size_field.result_label
    dialog.size_field.width_spin.setValue(2000)
    assert label.text() == "→ 2000×1500, ×6.25 interpolated" and "adds no detail" in label.toolTip()
    dialog.size_field.width_spin.setValue(160)
    assert label.text() == "→ 160×120" and label.toolTip() == ""
