"""The engine used as a Python library (a script, a notebook): an argument of the wrong
kind, shape, dtype or range is one clear error before any work, not a silently wrong number
or a traceback from deep inside numpy or a backend; a call leaves no global state behind."""

from __future__ import annotations

import numpy as np
import pytest

from sr_desktop.engine.core.errors import ImageWriteError, ModelError, OptionError, SRDesktopError
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.imageio import write_image
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.pipeline import upscale
from sr_desktop.engine.pipeline.upscale import upscale_file, upscale_float, upscale_image
from tests.sample_photo import chelsea_crop
from tests.train_fixtures import make_images


@pytest.mark.parametrize(("pixels", "words"), [
    (chelsea_crop(20, 24), "floats in 0..1, got uint8"),
    # (it came back all white)
    (chelsea_crop(20, 24).astype(np.float32), "values in 0..1, got 1..184 (divide 0..255 values by 255 first)"),
    (np.zeros((20, 24, 4), np.float32), "H×W×3"),
    (np.zeros((3, 20, 24), np.float32), "H×W×3"),  # CHW ("its weights are damaged")
    (np.zeros((20, 24), np.float32), "H×W×3"),
    (np.full((20, 24, 3), np.nan, np.float32), "values in 0..1"),
])
def test_upscale_float_refuses_what_is_not_hwc_rgb_in_0_to_1(pixels, words):
    with pytest.raises(SRDesktopError, match=words.replace("(", r"\(").replace(")", r"\)")):
        upscale_float(pixels, UpscaleOptions(model="bicubic", scale=2))


def test_upscale_float_takes_a_rounding_overshoot():
    rgb = chelsea_crop(20, 24).astype(np.float32) / 255
    rgb[0, 0, 0] = 1.0000005
    out = upscale_float(rgb, UpscaleOptions(model="bicubic", scale=2))
    assert out.shape == (40, 48, 3) and 0 <= out.min() and out.max() <= 1


def test_the_engine_image_and_upscale_image_say_what_they_take():
    from PIL import Image as PILImage

    with pytest.raises(TypeError, match="numpy array"):
        Image(PILImage.new("RGB", (4, 4)))
    with pytest.raises(ValueError, match="at least one pixel"):
        Image(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(SRDesktopError, match="takes an engine Image"):
        upscale_image(chelsea_crop(8, 8), UpscaleOptions(model="bicubic", scale=2))


def test_save_options_of_another_kind_are_one_error(tmp_path):
    with pytest.raises(SRDesktopError, match="SaveOptions"):
        write_image(Image(chelsea_crop(8, 8)), tmp_path / "a.webp", "webp")


def test_upscale_file_checks_its_destination_before_the_upscale(tmp_path, monkeypatch):
    """It checked after the upscale: minutes of work thrown away for an existing file."""
    from PIL import Image as PILImage

    src = tmp_path / "in.png"
    PILImage.fromarray(chelsea_crop(16, 16)).save(src)
    (tmp_path / "taken.png").write_bytes(b"mine")

    def never(*args, **kwargs):
        raise AssertionError("upscaled before the destination was checked")

    monkeypatch.setattr(upscale, "upscale_image", never)
    for dst, words in [(tmp_path / "taken.png", "exists"), (tmp_path / "out.xyz", "xyz"), (src, "overwrite the input")]:
        with pytest.raises(ImageWriteError, match=words):
            upscale_file(src, dst, UpscaleOptions(model="bicubic", scale=2))
    assert (tmp_path / "taken.png").read_bytes() == b"mine"


@pytest.mark.parametrize("model", ["span", "bicubic"])
def test_a_kernel_for_a_model_that_takes_none_is_refused(model):
    """span failed on the loader's keyword; bicubic ignored the kernel and said "with kernel"."""
    kernel = np.full((5, 5), 1 / 25)
    with pytest.raises(ModelError, match="only applies to the models zssr and map-sr"):
        upscale_image(Image(chelsea_crop(8, 8)), UpscaleOptions(model=model, scale=2, kernel=kernel))


def test_metrics_refuse_a_float_image_on_the_0_255_scale_and_a_scale_below_1():
    from sr_desktop.engine.metrics.evaluate import score_pair

    hr = chelsea_crop(40, 40)
    sr = np.clip(hr.astype(np.float32) + 3, 0, 255)
    with pytest.raises(EvaluationError, match="0..1 scale; this one reaches"):  # (scored 6.9 dB for 37)
        score_pair(sr, hr, 2)
    with pytest.raises(EvaluationError, match="scale must be"):
        score_pair(hr, hr, 0)
    near = score_pair(sr / 255, hr, 2)  # the same pixels on the 0..1 scale are measured
    assert 30 < near.psnr_y < 60


def test_16_bit_pixels_are_measured_on_the_8_bit_scale():
    """uint16 (the engine's Image of a 16-bit file) was taken as 0..255 values: NIQE 32.3 for 3.3,
    a sharpness 257 times too large."""
    from sr_desktop.engine.metrics.niqe import niqe
    from sr_desktop.engine.metrics.noref import sharpness

    u8 = chelsea_crop(192, 192, top=40, left=100)
    u16 = u8.astype(np.uint16) * 257
    assert niqe(u16) == pytest.approx(niqe(u8), abs=1e-9)
    assert sharpness(u16).mean_gradient == pytest.approx(sharpness(u8).mean_gradient)
    # another integer type on the 0..255 scale (an int64 copy) is measured as before; a mask is no image
    assert sharpness(u8.astype(np.int64)) == sharpness(u8)
    with pytest.raises(ValueError, match="bool"):
        sharpness(u8 > 128)


@pytest.mark.parametrize("scale", [0, 2.5, -2])
def test_evaluate_image_refuses_a_scale_that_is_not_an_sr_scale(scale):
    from sr_desktop.engine.metrics.evaluate import evaluate_image

    with pytest.raises(OptionError, match="scale"):  # (ZeroDivisionError, "slice indices must be integers")
        evaluate_image(chelsea_crop(48, 48), "bicubic", scale)


def test_kernel_estimation_refuses_floats_on_the_0_255_scale():
    """They gave another kernel (17×17 for 19×19) and confidence 0.0 for 0.95."""
    from sr_desktop.engine.kernelgan.errors import KernelError
    from sr_desktop.engine.kernelgan.train import estimate_kernel

    with pytest.raises(KernelError, match="0..1 scale; this one spans"):
        estimate_kernel(chelsea_crop(120, 120).astype(np.float32), iterations=10)


def test_train_options_take_a_scripts_values(tmp_path):
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.options import TrainOptions

    data = make_images(tmp_path / "data", 2, 32, 0)
    options = TrainOptions(arch="srcnn", scale=np.int64(2), data=data, out=tmp_path / "run", lr=np.float32(1e-3))
    assert options.data == (str(data),) and options.scale == 2 and isinstance(options.lr, float)
    for bad in ({"lr": "1e-3"}, {"ema": None}, {"grad_clip": None}, {"iterations": 2.5}):
        with pytest.raises(TrainingError, match="must be"):
            TrainOptions(arch="srcnn", scale=2, data=(str(data),), out=str(tmp_path / "run"), **bad)


def test_a_training_leaves_the_callers_torch_random_state_as_it_was(tmp_path):
    """The run seeded torch's global generator: a script's later draws were the run's."""
    import torch

    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    data = make_images(tmp_path / "data", 2, 32, 0)
    torch.manual_seed(1234)
    expected = torch.rand(4)
    torch.manual_seed(1234)
    train(TrainOptions(arch="SRCNN:n1=8,n2=4", scale=2, data=(str(data),), out=str(tmp_path / "run"),
                       iterations=2, batch=2, patch=12, device="cpu", val_every=2))
    assert torch.equal(torch.rand(4), expected)


def _kernel_run(tmp_path, out, degradation, iterations, resume=False, init=None):
    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    return train(TrainOptions(arch="SRCNN:n1=8,n2=4", scale=2, data=(str(tmp_path / "data"),), out=out,
                              degradation=degradation, iterations=iterations, batch=2, patch=12, device="cpu",
                              val_every=iterations, resume=resume, init=init))


def test_a_run_with_relative_files_resumes_from_another_folder(tmp_path, monkeypatch):
    """--degradation kernel:k.npy was recorded as typed: resumed from a sub-folder the right
    file ("kernel:../k.npy") was refused and the recorded name was read there."""
    make_images(tmp_path / "data", 2, 32, 0)
    kernel = np.zeros((7, 7))
    kernel[2:5, 2:5] = 1 / 9
    np.save(tmp_path / "k.npy", kernel)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    _kernel_run(tmp_path, "run", "kernel:k.npy,noise=1", 2)
    monkeypatch.chdir(tmp_path / "sub")
    result = _kernel_run(tmp_path, "../run", "kernel:../k.npy,noise=1", 4, resume=True)
    assert result.iterations == 4


def test_a_run_does_not_resume_with_another_kernel_in_its_file(tmp_path, monkeypatch):
    """Another kernel copied over the file: the run went on training on another blur."""
    from sr_desktop.engine.training.errors import TrainingError

    make_images(tmp_path / "data", 2, 32, 0)
    kernel = np.zeros((7, 7))
    kernel[3, 2:5] = 1 / 3
    np.save(tmp_path / "k.npy", kernel)
    _kernel_run(tmp_path, str(tmp_path / "run"), f"kernel:{tmp_path / 'k.npy'}", 2)
    np.save(tmp_path / "k.npy", kernel.T)
    with pytest.raises(TrainingError, match="holds another kernel than the one the run trained with"):
        _kernel_run(tmp_path, str(tmp_path / "run"), f"kernel:{tmp_path / 'k.npy'}", 4, resume=True)


def test_a_training_checkpoint_reads_as_the_model_its_run_exports(tmp_path):
    """A run stopped part-way leaves only checkpoints; `models add` or --init of one said
    "unsupported model file"."""
    import torch

    from sr_desktop.engine.models.custom import detect_model_file, load_model_file

    make_images(tmp_path / "data", 2, 32, 0)
    _kernel_run(tmp_path, str(tmp_path / "run"), "bicubic", 2)
    weights = next((tmp_path / "run" / "checkpoint").glob("weights-*.safetensors"))
    exported = load_model_file(tmp_path / "run" / "model.safetensors").module.state_dict()
    state = load_model_file(weights).module.state_dict()
    assert state.keys() == exported.keys() and all(torch.equal(state[k], exported[k]) for k in state)
    assert detect_model_file(weights)["arch"] == "SRCNN"


@pytest.mark.parametrize("arch", ["VDSR:num_layers=3,num_feat=8", "LapSRN:depth=2,num_feat=8", "FSRCNN:d=8,s=4,m=1"])
def test_a_checkpoint_of_any_architecture_is_a_model_file(tmp_path, arch):
    """The checkpoint held the module's own keys (VDSR's head/body/tail, LapSRN's levels) and
    no scale: models add and --init of a VDSR or LapSRN checkpoint were refused ("SRVGG
    layers are not…", "no known layer names"), an FSRCNN one had "no scale recorded"."""
    import torch

    from sr_desktop.engine.models.custom import detect_model_file, load_model_file
    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    make_images(tmp_path / "data", 2, 48, 0)
    scale = 4 if arch.startswith("LapSRN") else 2
    train(TrainOptions(arch=arch, scale=scale, data=(str(tmp_path / "data"),), out=str(tmp_path / "run"),
                       iterations=2, batch=2, patch=12, device="cpu", val_every=2))
    weights = next((tmp_path / "run" / "checkpoint").glob("weights-*.safetensors"))
    found, model = detect_model_file(weights), tmp_path / "run" / "model.safetensors"
    assert (found["arch"], found["scale"]) == (detect_model_file(model)["arch"], detect_model_file(model)["scale"])
    exported = load_model_file(model).module.state_dict()
    state = load_model_file(weights).module.state_dict()
    assert state.keys() == exported.keys() and all(torch.equal(state[k], exported[k]) for k in state)


def test_upscale_float_refuses_values_far_outside_0_to_1():
    """Within 0.5 of 0..1 such values went into the networks unclipped and came back wrong
    without a word (-0.3 as 0.67); the bicubic LR's overshoot (a few hundredths) passes."""
    rgb = chelsea_crop(20, 24).astype(np.float32) / 255
    rgb[0, 0, 0] = -0.3
    with pytest.raises(SRDesktopError, match="values in 0..1"):
        upscale_float(rgb, UpscaleOptions(model="bicubic", scale=2))
    rgb[0, 0, 0] = -0.05
    assert upscale_float(rgb, UpscaleOptions(model="bicubic", scale=2)).shape == (40, 48, 3)
