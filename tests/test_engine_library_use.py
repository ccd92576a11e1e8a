"""The engine called from Python (a notebook, a script): what a user plausibly passes wrong
is one error of the package's own, saying what to pass, not a bare AttributeError from deep
inside or a silently different result (a review of the engine as a library)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sr_desktop.engine.batch.plan import BatchError
from sr_desktop.engine.batch.runner import BatchOptions, run_batch
from sr_desktop.engine.core.box import whole_box
from sr_desktop.engine.core.errors import ImageWriteError, KernelError, ModelError, OptionError, SRDesktopError
from sr_desktop.engine.imageio import Image
from sr_desktop.engine.imageio.write import write_image
from sr_desktop.engine.kernelgan.train import estimate_kernel
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.niqe import niqe, niqe_or_none
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.models.registry import get_model_spec
from sr_desktop.engine.pipeline.upscale import UpscaleOptions, upscale_float, upscale_image, upscale_region

BICUBIC = UpscaleOptions(model="bicubic", scale=2)


@pytest.fixture
def image() -> Image:
    return Image(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8))


@pytest.mark.parametrize("options", [{"model": "bicubic"}, "bicubic"])
def test_options_that_are_not_upscale_options_are_named(image, options):
    for call in (lambda: upscale_image(image, options), lambda: upscale_region(image, (0, 0, 4, 4), options),
                 lambda: upscale_float(np.zeros((4, 4, 3), np.float32), options)):
        with pytest.raises(SRDesktopError, match="takes its options as UpscaleOptions"):
            call()


def test_a_region_of_an_array_or_of_other_than_four_whole_numbers_is_refused(image):
    with pytest.raises(SRDesktopError, match="upscale_region takes an engine Image"):
        upscale_region(image.pixels, (0, 0, 4, 4), BICUBIC)
    for box in [(1.5, 0, 4, 4), (0, 0, 4), (0, 0, True, 4), "0,0,4,4", (0, 0, "4.5", 4), (np.float32(1.5), 0, 4, 4)]:
        with pytest.raises(SRDesktopError, match="a region is four whole numbers"):
            upscale_region(image, box, BICUBIC)  # (1.5 was taken as 1)
    # whole numbers of any kind are regions
    assert whole_box((np.int64(1), 2.0, 4, 4)) == (1, 2, 4, 4)
    assert upscale_region(image, (np.int64(1), 2.0, 4, 4), BICUBIC).image.width == 8


@pytest.mark.parametrize("scale", [3.9, 2.7, "x2", np.float32(3.9), np.array(2.5)])
def test_a_scale_that_is_not_a_whole_number_is_refused_not_truncated(scale):
    with pytest.raises(OptionError, match="scale must be an integer"):
        load_model("fsrcnn", scale)  # (×3.9 ran ×3)
    assert load_model("fsrcnn", 2.0).scale == 2


def test_a_model_id_that_is_not_text_is_named():
    with pytest.raises(ModelError, match="a model id is text .*got NoneType"):
        get_model_spec(None)
    assert get_model_spec(Path("bicubic")).id == "bicubic"  # a Path of an id is that id


def test_batch_options_and_files_of_the_wrong_kind_are_refused(tmp_path):
    (tmp_path / "in").mkdir()
    with pytest.raises(BatchError, match="takes its options as BatchOptions"):
        run_batch(tmp_path / "in", tmp_path / "out", BICUBIC)
    with pytest.raises(BatchError, match="files is a list of files, got one name"):
        run_batch(tmp_path / "in", tmp_path / "out", BatchOptions(upscale=BICUBIC), files="in/a.png")
    assert not (tmp_path / "out").exists()  # (a report of 8 "files" 'i', 'n', … was written there)


def test_write_image_of_an_array_is_refused(tmp_path, image):
    with pytest.raises(ImageWriteError, match="write_image takes an engine Image"):
        write_image(image.pixels, tmp_path / "a.png")


def test_kernel_estimation_refuses_integer_images_other_than_8_and_16_bit(image):
    # an int64 copy of an image was taken as 0..1 floats: another kernel, without a word
    with pytest.raises(KernelError, match="expected an 8- or 16-bit image .* got int64"):
        estimate_kernel(np.zeros((80, 80, 3), np.int64), iterations=1)


def test_niqe_of_an_rgba_image_is_an_evaluation_error():
    rgba = np.random.default_rng(0).integers(0, 256, (96, 96, 4), dtype=np.uint8)
    for measure in (niqe, niqe_or_none):  # (a bare ValueError; niqe_or_none's None is for small or flat images)
        with pytest.raises(EvaluationError, match="NIQE scores an RGB or grey image"):
            measure(rgba)
    assert niqe_or_none(rgba[:8, :8, :3]) is None
