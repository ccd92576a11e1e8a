"""The Qt-free session state: image, result and what made it, region, saved; observers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sr_desktop.app.session import Change, RunInfo, Session
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
    assert session.result_run == RunInfo("bicubic", result.variant, 2, result.device, result.seconds, result.tiles)
    assert session.last_run == session.result_run
    assert session.suggested_result_path("png", Path("/tmp")) == Path("/photos/cat_bicubic_x2.png")
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
