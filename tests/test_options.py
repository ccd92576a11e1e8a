"""Typed upscale options: parsing and validation in one place, frozen values, the batch
options containing the upscale options, and the CLI and the GUI building the same options."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sr_desktop.cli.common import upscale_options_from
from sr_desktop.cli.main import build_parser
from sr_desktop.engine.batch.plan import BatchError
from sr_desktop.engine.batch.runner import BatchOptions
from sr_desktop.engine.core.errors import ModelError, OptionError, SRDesktopError
from sr_desktop.engine.core.options import (
    DEFAULT_MODEL,
    MAX_SCALE,
    AlphaMode,
    Device,
    Precision,
    TilePolicy,
    UpscaleOptions,
    parse_device,
    parse_scale,
    parse_tile,
)

# -- TilePolicy --------------------------------------------------------------------------------


@pytest.mark.parametrize("value, size", [
    ("auto", None), (None, None), ("", None), (" AUTO ", None),
    (0, 0), ("0", 0), (256, 256), ("256", 256), (64.0, 64), (TilePolicy(128), 128),
])
def test_parse_tile_accepts_auto_whole_image_and_sizes(value, size):
    policy = parse_tile(value)
    assert policy == TilePolicy(size)
    assert policy.is_auto == (size is None)
    assert policy.request == ("auto" if size is None else size)
    assert str(policy) == ("auto" if size is None else str(size))
    assert TilePolicy.parse(value) == policy


@pytest.mark.parametrize("value, message", [
    ("big", "tile must be 'auto' or a number of pixels"),
    (-1, "tile must be >= 0"),
    ("-16", "tile must be >= 0"),
    (12.5, "whole number"),
    (True, "tile must be"),
    ([64], "tile must be"),
])
def test_parse_tile_refuses_anything_else_with_one_error_type(value, message):
    with pytest.raises(OptionError, match=message):
        parse_tile(value)
    with pytest.raises(OptionError, match=message):
        UpscaleOptions(tile=value)
    with pytest.raises(OptionError):
        TilePolicy(-3)
    with pytest.raises(OptionError, match="at least 16 px"):  # built directly, it passed the floor
        TilePolicy(8)


def test_option_errors_are_model_errors_for_existing_handlers():
    assert issubclass(OptionError, ModelError) and issubclass(OptionError, SRDesktopError)


# -- enums ------------------------------------------------------------------------------------


def test_enums_are_str_valued_so_text_and_json_are_unchanged():
    assert Precision.FP16 == "fp16" and Device.CPU == "cpu" and AlphaMode.RESAMPLE == "resample"
    assert str(Precision.FP16) == "fp16" and f"{Device.MPS}" == "mps"
    assert json.dumps({"device": Device.CUDA, "precision": Precision.AUTO}) == \
        '{"device": "cuda", "precision": "auto"}'


def test_device_accepts_numbered_gpus_as_text():
    assert parse_device("cuda:1") == "cuda:1"
    assert parse_device("CPU") is Device.CPU
    assert parse_device(None) is Device.AUTO
    with pytest.raises(OptionError, match=r"unknown device 'tpu' \(choose from auto, cpu, cuda, mps, vulkan\)"):
        parse_device("tpu")


def test_scale_is_an_integer_up_to_the_limit():
    assert parse_scale(None) is None and parse_scale("3") == 3 and parse_scale(MAX_SCALE) == MAX_SCALE
    for bad, message in ((0, "between 1 and 16"), (MAX_SCALE + 1, "between 1 and 16"),
                         ("x2", "integer"), (2.5, "integer")):
        with pytest.raises(OptionError, match=message):
            parse_scale(bad)


# -- UpscaleOptions ---------------------------------------------------------------------------


def test_upscale_options_coerce_plain_values():
    options = UpscaleOptions(model="bicubic", scale="2", tile="128", device="CPU", precision="fp32",
                             alpha="resample", variant="")
    assert options.scale == 2 and options.variant is None
    assert options.tile == TilePolicy(128)
    assert options.device is Device.CPU and options.precision is Precision.FP32
    assert options.alpha is AlphaMode.RESAMPLE


def test_upscale_options_defaults_come_from_one_place():
    options = UpscaleOptions()
    assert options.model == DEFAULT_MODEL and options.scale is None and options.kernel is None
    assert (options.device, options.tile, options.precision, options.alpha) == \
        (Device.AUTO, TilePolicy(None), Precision.AUTO, AlphaMode.MODEL)


@pytest.mark.parametrize("field, value, message", [
    ("precision", "fp8", "unknown precision 'fp8'"),
    ("alpha", "magic", "unknown alpha mode 'magic'"),
    ("device", "gpu", "unknown device 'gpu'"),
    ("scale", 99, "scale must be between 1 and 16"),
    ("model", "", "model must be a model id"),
])
def test_upscale_options_refuse_bad_values_when_built(field, value, message):
    with pytest.raises(OptionError, match=message):
        UpscaleOptions(**{field: value})


def test_upscale_options_are_frozen_and_replace_revalidates():
    options = UpscaleOptions(model="bicubic")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.tile = 16  # type: ignore[misc]
    smaller = dataclasses.replace(options, tile=16)
    assert smaller.tile == TilePolicy(16) and options.tile == TilePolicy(None)
    with pytest.raises(OptionError):
        dataclasses.replace(options, tile="huge")


# -- BatchOptions -----------------------------------------------------------------------------


def test_batch_options_contain_the_upscale_options_without_restating_them():
    upscale_fields = {f.name for f in dataclasses.fields(UpscaleOptions)}
    batch_fields = {f.name for f in dataclasses.fields(BatchOptions)}
    assert "upscale" in batch_fields and not (upscale_fields & batch_fields)
    options = BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2, tile=0), format="png")
    assert options.upscale.tile == TilePolicy(0)
    assert BatchOptions().upscale == UpscaleOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.format = "jpg"  # type: ignore[misc]


@pytest.mark.parametrize("kwargs, message", [
    (dict(format="heic"), "unknown output format"),
    (dict(quality=0), "quality must be 1..100"),
    (dict(existing="ask"), "unknown policy"),
    (dict(name_template="{stem}{oops}"), "unknown placeholder"),
    (dict(upscale="bicubic"), "upscale must be UpscaleOptions"),
])
def test_batch_options_are_checked_when_built(kwargs, message):
    with pytest.raises(BatchError, match=message):
        BatchOptions(**kwargs)


# -- the CLI and the GUI build the same options -----------------------------------------------


def _cli_args(*flags: str):
    return build_parser().parse_args(["upscale", "in.png", "-o", "out.png", *flags])


def test_cli_defaults_are_the_engine_defaults():
    assert upscale_options_from(_cli_args()) == UpscaleOptions()


def test_cli_tile_errors_are_the_engine_message_as_a_usage_error(capsys):
    for bad, message in (("-1", "tile must be >= 0"), ("big", "tile must be 'auto' or a number of pixels")):
        with pytest.raises(SystemExit) as exc:
            _cli_args("--tile", bad)
        assert exc.value.code == 2
        assert message in capsys.readouterr().err


def test_batch_cli_builds_the_same_upscale_options():
    from sr_desktop.cli import cmd_batch

    flags = ["--model", "bicubic", "--scale", "3", "--tile", "0", "--device", "cpu", "--precision", "fp32"]
    batch_args = build_parser().parse_args(["batch", "in", "out", *flags])
    captured = {}

    def fake_run_batch(in_dir, out_dir, options, **kwargs):
        captured["options"] = options
        raise SystemExit(0)

    import sr_desktop.engine.batch.runner as runner

    original = runner.run_batch
    runner.run_batch = fake_run_batch
    try:
        with pytest.raises(SystemExit):
            cmd_batch.run(batch_args)
    finally:
        runner.run_batch = original
    assert captured["options"].upscale == upscale_options_from(_cli_args(*flags))
    assert captured["options"].upscale == UpscaleOptions(model="bicubic", scale=3, tile=0, device="cpu",
                                                         precision="fp32")


def test_gui_picker_and_cli_agree(qtbot):
    from sr_desktop.engine.models.registry import list_zoo_models
    from sr_desktop.gui.main_window.model_picker import ModelPicker
    from sr_desktop.gui.settings import DEFAULTS

    picker = ModelPicker([s for s in list_zoo_models() if s.id in ("bicubic", "lanczos")])
    qtbot.addWidget(picker)
    assert picker.set_model_id("lanczos") and picker.set_scale(3)
    assert picker.set_device("cpu") and picker.set_precision("fp32")
    picker.set_tile(192)
    gui = picker.options()
    cli = upscale_options_from(_cli_args("--model", "lanczos", "--scale", "3", "--variant", picker.variant(),
                                         "--device", "cpu", "--precision", "fp32", "--tile", "192"))
    assert gui == cli
    # the GUI's stored defaults are the engine's
    defaults = UpscaleOptions()
    assert (DEFAULTS["device"], DEFAULTS["precision"], DEFAULTS["tile"]) == \
        (defaults.device, defaults.precision, str(defaults.tile))
    picker.set_tile("garbage from an old settings file")
    assert picker.tile() == "auto"


def test_a_tile_below_the_tilers_floor_is_refused_once_before_any_file(capsys, tmp_path):
    from PIL import Image as PILImage

    from sr_desktop.cli.main import main
    from sr_desktop.engine.core.options import MIN_TILE, parse_tile

    assert parse_tile(MIN_TILE).size == MIN_TILE and parse_tile(0).size == 0
    with pytest.raises(OptionError, match="at least 16 px, got 8"):
        parse_tile(8)
    for name in ("a.png", "b.png"):
        PILImage.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / name)
    with pytest.raises(SystemExit):
        main(["upscale", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(tmp_path / "out"),
              "--model", "srcnn", "--tile", "8"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "at least 16 px" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", [2.5, float("inf"), float("nan"), True, "2.5", "x"])
def test_whole_numbers_are_whole_for_every_option(value):
    """A seed of 2.5 was taken as 2 (tile and scale refused it), and inf gave a bare
    OverflowError instead of the option's line."""
    from sr_desktop.engine.core.options import parse_seed

    with pytest.raises(OptionError, match="a seed is a whole number"):
        parse_seed(value)
    with pytest.raises(OptionError, match="scale must be an integer"):
        UpscaleOptions(scale=value)
    with pytest.raises(OptionError, match="tile must be 'auto' or a number of pixels"):
        UpscaleOptions(tile=value)
    assert parse_seed(7.0) == parse_seed(" 7 ") == 7 and UpscaleOptions(scale=2.0, tile="64").tile == TilePolicy(64)


def test_a_per_image_model_s_iterations_are_checked_once_and_reach_the_model():
    """ZSSR's and map-sr's iterations (their one knob of time against detail) had no option:
    `UpscaleOptions.iterations` takes a whole number 1..MAX_PER_IMAGE_ITERATIONS or None (the
    model's default), and the loaded model runs that many; another model refuses it."""
    from sr_desktop.engine.core.options import MAX_PER_IMAGE_ITERATIONS, UpscaleOptions
    from sr_desktop.engine.pipeline.upscale import resolve_model

    assert UpscaleOptions(model="zssr").iterations is None
    assert UpscaleOptions(model="zssr", iterations="40").iterations == 40
    for bad in (0, -3, 2.5, "many", MAX_PER_IMAGE_ITERATIONS + 1):
        with pytest.raises(OptionError, match="iterations must be a whole number from 1 to "):
            UpscaleOptions(model="zssr", iterations=bad)
    zssr = resolve_model(UpscaleOptions(model="zssr", scale=2, device="cpu", iterations=7))[0]
    assert zssr.options.max_iters == 7
    assert resolve_model(UpscaleOptions(model="zssr", scale=2, device="cpu"))[0].options.max_iters == 1000
    map_sr = resolve_model(UpscaleOptions(model="map-sr", scale=2, device="cpu", iterations=4))[0]
    assert map_sr.options.iterations == 4
    assert resolve_model(UpscaleOptions(model="map-sr", scale=2, device="cpu"))[0].options.iterations == 300
    with pytest.raises(ModelError, match="iterations only apply to the models zssr and map-sr"):
        resolve_model(UpscaleOptions(model="bicubic", scale=2, iterations=4))
