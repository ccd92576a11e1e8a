"""The Qt-free session state: image, result and what made it, region, saved; observers."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_desktop.app.session import Change, RunInfo, Session, result_name_tail
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_image


def _image(path: Path | None = None) -> Image:
    image = Image(np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3))
    image.path = path
    return image


def _result(image: Image):
    return upscale_image(image, UpscaleOptions(model="bicubic", scale=2))


def test_changes_are_told_to_subscribers_in_order():
    session, seen = Session(), []
    unsubscribe = session.subscribe(seen.append)
    image = _image()
    session.open_image(image, "pasted image")
    result = _result(image)
    session.set_result(result)
    session.select_region((1, 1, 2, 2))
    session.set_region_result((1, 1, 2, 2), _result(image))
    session.mark_saved(Path("out.png"))
    assert seen == [Change.IMAGE, Change.RESULT, Change.REGION, Change.RESULT, Change.SAVED]
    unsubscribe()
    session.select_region(None)
    assert len(seen) == 5
    unsubscribe()  # twice is harmless


def test_a_result_and_what_made_it_until_saved():
    session = Session()
    image = _image(Path("/photos/cat.png"))
    session.open_image(image)
    assert session.image_name == "cat.png" and session.result is None
    assert not session.has_unsaved_result
    result = _result(image)
    session.set_result(result)
    assert session.has_unsaved_result
    assert session.result_run == RunInfo("bicubic", result.variant, 2, result.device, result.seconds,
                                         result.tiles, "Bicubic", False, "pillow",
                                         setup_seconds=result.setup_seconds)
    assert session.last_run == session.result_run
    assert session.suggested_result_path("png", Path("/tmp")) == Path("/photos/cat_x2_bicubic.png")
    session.mark_saved(Path("/out/cat.jpg"), options="jpg-options")
    assert not session.has_unsaved_result
    assert (session.result_path, session.saved_options) == (Path("/out/cat.jpg"), "jpg-options")
    session.set_result(_result(image))  # a new result is unsaved again, with no target
    assert session.has_unsaved_result and session.result_path is None and session.saved_options is None


def test_a_new_image_drops_results_and_region():
    session = Session()
    image = _image()
    session.open_image(image)
    session.set_result(_result(image))
    session.select_region((0, 0, 2, 2))
    session.set_region_result((0, 0, 2, 2), _result(image))
    session.open_image(_image(), "next")
    assert session.image_name == "next"
    assert (session.result, session.result_run, session.region, session.region_result) == (None, None, None, None)
    assert not session.result_saved
    assert session.suggested_result_path("jpg", Path("/home/me")) == Path("/home/me/upscaled.jpg")


def test_a_whole_image_result_replaces_the_region_result():
    session = Session()
    image = _image()
    session.open_image(image)
    session.select_region((0, 0, 2, 2))
    region = _result(image)
    session.set_region_result((0, 0, 2, 2), region)
    assert session.region_result == ((0, 0, 2, 2), region) and session.result is None
    session.set_result(_result(image))
    assert session.region_result is None and session.region == (0, 0, 2, 2)


def test_a_new_image_forgets_the_last_run_so_no_label_stays_stale():
    session = Session()
    image = _image()
    session.open_image(image)
    session.set_result(_result(image))
    assert session.shown_run is not None and session.shown_size() == (12, 8)
    session.open_image(_image(), "next")
    assert session.last_run is None and session.shown_run is None and session.shown_size() is None


def test_the_run_names_the_model_and_says_when_the_picker_no_longer_matches():
    session = Session()
    image = _image()
    session.open_image(image)
    options = UpscaleOptions(model="bicubic", scale=2)
    session.set_result(upscale_image(image, options), options)
    run = session.shown_run
    assert run.title == "Bicubic ×2"
    assert run.describe() == f"Bicubic ×2 · {run.device} · 0.00 s"
    assert session.mismatch(options) == []
    assert session.mismatch(UpscaleOptions(model="bicubic", scale=3)) == ["scale"]
    assert session.mismatch(UpscaleOptions(model="lanczos", scale=4)) == ["model", "scale"]
    session.set_region_result((0, 0, 2, 2), upscale_image(image, options), options)
    assert session.shown_size() is None  # the after side is the original with a patch


def test_a_run_with_an_estimated_kernel_says_so():
    @dataclass
    class Made:  # the fields of an UpscaleResult that RunInfo reads
        model: str = "zssr"
        variant: str | None = None
        scale: int = 2
        device: str = "CPU (2 threads)"
        seconds: float = 76.0
        tiles: int = 1

    run = RunInfo.of(Made(), UpscaleOptions(model="zssr", scale=2, kernel=np.full((13, 13), 1 / 169)))
    assert run.kernel and run.title.startswith("ZSSR") and "(with a blur kernel) ×2" in run.title
    assert run.describe().endswith("· CPU (2 threads) · 1:16")
    assert run.differences(UpscaleOptions(model="realesr-animevideov3", scale=2)) == ["model"]


def test_the_backend_that_ran_the_network_is_part_of_the_run():
    from types import SimpleNamespace

    from sr_desktop.app.session import RunInfo

    result = SimpleNamespace(model="span", variant="ch48", scale=4, device="CPU (2 threads)", seconds=3.2,
                             tiles=1, backend="openvino")
    run = RunInfo.of(result)
    assert run.backend == "openvino"
    assert run.describe().endswith("· CPU (2 threads) · OpenVINO · 3.20 s")
    assert "OpenVINO" not in RunInfo.of(SimpleNamespace(**{**vars(result), "backend": "torch"})).describe()


def test_a_result_of_an_image_with_alpha_is_stale_when_the_alpha_choice_changes():
    """The picker's Alpha choice changed after a sprite's upscale left the result labelled as
    made with the settings shown; an image without alpha is the same either way."""
    from sr_desktop.app.session import RunInfo

    rgba = Image(np.arange(4 * 6 * 4, dtype=np.uint8).reshape(4, 6, 4))
    run = RunInfo.of(_result(rgba), UpscaleOptions(model="bicubic", scale=2, alpha="resample"))
    assert run.alpha == "resample"
    assert run.differences(UpscaleOptions(model="bicubic", scale=2, alpha="resample")) == []
    assert run.differences(UpscaleOptions(model="bicubic", scale=2)) == ["alpha"]
    opaque = RunInfo.of(_result(_image()), UpscaleOptions(model="bicubic", scale=2, alpha="resample"))
    assert opaque.alpha is None and opaque.differences(UpscaleOptions(model="bicubic", scale=2)) == []


def test_a_scale_the_model_does_not_have_says_how_it_was_reached():
    """SPAN ×3 said "SPAN ×3": a ×4 pass and a Lanczos downscale, unsaid (bench and the
    leaderboard said it)."""
    image = _image()
    three = upscale_image(image, UpscaleOptions(model="lanczos", scale=3))  # (any scale of its own)
    assert three.scale_route is None
    result = dataclasses.replace(three, native_scale=4, passes=1)  # what a ×4 model at ×3 gives
    run = RunInfo.of(result)
    assert run.route == "×4, then Lanczos to ×3"
    assert run.describe().startswith("Lanczos ×3 (×4, then Lanczos to ×3) · ")
    assert dataclasses.replace(three, native_scale=2, passes=2, scale=4).scale_route == "×2 twice"


def test_the_window_names_a_result_as_a_batch_does():
    """Save As suggested cat_bicubic_x2.png where a batch of the same run writes
    cat_x2_bicubic.png, and left out the variant a batch names."""
    def run(model, scale, variant):
        return type("R", (), {"model": model, "scale": scale, "variant": variant})()

    assert result_name_tail(run("bicubic", 2, None)) == "_x2_bicubic"
    assert result_name_tail(run("waifu2x-anime", 2, "denoise2")) == "_x2_waifu2x-anime_denoise2"
    assert result_name_tail(run("waifu2x-anime", 2, "default")) == "_x2_waifu2x-anime"
    # a model removed since the run keeps its variant in the name rather than failing the save
    assert result_name_tail(run("custom-gone", 4, "v2")) == "_x4_custom-gone_v2"
    # a per-image model's result names its variant too (map-sr's and ZSSR's results had none:
    # "cat_x2_map-sr.png" where a batch wrote "cat_x2_map-sr_tikhonov.png")
    image = Image(np.full((12, 12, 3), 90, np.uint8))
    result = upscale_image(image, UpscaleOptions(model="map-sr", scale=2, variant="tikhonov"))
    assert result_name_tail(result) == "_x2_map-sr_tikhonov"
    assert RunInfo.of(result).title.endswith(" · tikhonov ×2")


def test_a_result_s_time_reads_the_same_wherever_it_is_said():
    """One run was "0.2 s" in the status bar and the Result line, "0.25 s" in the Metrics
    panel and the CLI, and 75 s was "1:15" there, "75.00 s" here; 59.96 s read "60.0 s"."""
    from sr_desktop.engine.core.text import human_seconds, result_seconds

    assert [result_seconds(s) for s in (0.25, 3.2, 59.99, 59.996, 75)] == ["0.25 s", "3.20 s", "59.99 s", "1:00",
                                                                           "1:15"]
    assert [human_seconds(s) for s in (59.94, 59.96, 60.0)] == ["59.9 s", "1:00", "1:00"]
    run = RunInfo("span", "ch48", 4, "CPU", 75.0, 1, "SPAN")
    assert run.describe().endswith(" · 1:15")


def test_a_slow_speed_keeps_its_digits():
    """A slow model's speed read "0.00 MP/s" in the Metrics panel and the batch lines."""
    from sr_desktop.engine.core.text import rate_text

    assert [rate_text(v) for v in (12.345, 0.114, 0.0567, 0.0012, 3.41e-05, 0.0)] == [
        "12.35", "0.11", "0.0567", "0.00120", "0.0000341", "0.00"]
