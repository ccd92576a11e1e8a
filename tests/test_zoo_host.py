"""Zoo models run without torch (`zoo_host`): the same pixels as the torch-side model on the
same runner, found only when everything is known without torch, and a whole CLI batch that
never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.text import counted
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.models.backends import choose
from sr_desktop.engine.models.loader import load_model
from sr_desktop.engine.models.zoo_host import HostZooModel, load_without_torch
from sr_desktop.engine.pipeline.upscale import upscale_image
from tests.sample_photo import chelsea_crop
from tests.without_torch import run_without_torch

pytest.importorskip("ncnn")

# one graph per zoo family (the smallest of each), as tests/test_backends.py
FAMILY_CASES = [
    ("realesrgan-x4plus-anime", 4, None),
    ("realesr-animevideov3", 2, None),
    ("waifu2x-photo", 2, None),
    ("waifu2x-cunet", 2, None),
    ("realcugan-se", 4, None),  # ×4 adds the nearest-upscaled input
    ("srmd", 2, None),  # SRMD planes with a noise plane
    ("span", 4, "ch52"),
]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    monkeypatch.delenv(choose.ENV_DEFAULT, raising=False)
    return tmp_path


@pytest.mark.parametrize(("model_id", "scale", "variant"), FAMILY_CASES, ids=[c[0] for c in FAMILY_CASES])
def test_a_zoo_model_without_torch_gives_the_pixels_of_the_torch_side_model(home, model_id, scale, variant):
    """The family's conventions on numpy tiles (padding, alignment, SRMD planes, Real-CUGAN's
    nearest skip, crops, rounding) equal those on tensors, pixel for pixel, on the same runner."""
    host = load_without_torch(model_id, scale, variant, "cpu", "auto", "ncnn")
    assert isinstance(host, HostZooModel) and host.backend == "ncnn"
    torch_side = load_model(model_id, scale=scale, variant=variant)
    choose.apply_backend(torch_side, "ncnn")
    channels = 4 if model_id == "realesr-animevideov3" else 3  # alpha through the model once
    image = Image(chelsea_crop(28, 36, alpha=channels == 4))
    for tile in (0, 16):
        options = UpscaleOptions(model=model_id, scale=scale, variant=variant, tile=tile)
        ours = upscale_image(image, options, model=host)
        theirs = upscale_image(image, options, model=torch_side)
        assert ours.image.pixels.shape == theirs.image.pixels.shape
        assert np.array_equal(ours.image.pixels, theirs.image.pixels), (model_id, tile)
        assert ours.backend == "ncnn" and ours.device == f"CPU ({counted(host.device.threads, 'thread')})"


def test_only_what_is_known_without_torch_loads_without_it(home):
    args = ("realesr-animevideov3", 2, None)
    # auto, not measured yet on this machine: torch measures it first
    assert load_without_torch(*args, "auto", "auto", "auto") is None
    # measured: the choice is found by the key torch would compute
    from sr_desktop.engine.compute import devices

    key = choose.measure_key("realesr-animevideov3", 2, "default", devices.torch_default_threads(),
                             devices.installed_torch_version(), True)
    choose.choices_file().parent.mkdir(parents=True, exist_ok=True)
    choose.choices_file().write_text(json.dumps({key: {"backend": "ncnn"}}))
    found = load_without_torch(*args, "auto", "auto", "auto")
    assert devices.auto_device_is_cpu_without_torch() is False or (found is not None and found.backend == "ncnn")
    assert load_without_torch(*args, "cpu", "auto", "auto").backend == "ncnn"
    choose.choices_file().write_text(json.dumps({key: {"backend": "torch"}}))
    assert load_without_torch(*args, "cpu", "auto", "auto") is None
    # what only torch can run or check
    assert load_without_torch(*args, "cpu", "fp16", "ncnn") is None
    assert load_without_torch(*args, "cuda", "auto", "ncnn") is None
    assert load_without_torch(*args, "cpu", "auto", "torch") is None
    assert load_without_torch("bicubic", 2, None, "cpu", "auto", "ncnn") is None
    assert load_without_torch("edsr-baseline", 2, None, "cpu", "auto", "ncnn") is None  # literature: torch
    # OpenVINO without a cached conversion: torch converts it
    assert load_without_torch(*args, "cpu", "auto", "openvino") is None
    # a bad variant is reported by the torch path, which says what is wrong
    assert load_without_torch("realesr-animevideov3", 2, "nope", "cpu", "auto", "ncnn") is None


def test_torch_free_estimates_match_torch():
    """The thread count and version `load_without_torch` keys the measured choice by are
    those torch reports (a mismatch would only cost the torch-free start, never pixels)."""
    probe = ("import torch; from sr_desktop.engine.compute import devices as d; "
             "from sr_desktop.engine.models.backends.choose import measure_key as k; "
             "print(torch.get_num_threads() == d.torch_default_threads(), "
             "k('m', 2, None, 1, torch.__version__, True) == k('m', 2, None, 1, d.installed_torch_version(), True))")
    for threads in (None, "1", str(4 * (os.cpu_count() or 1))):  # more than the cores: torch caps it
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        if threads:
            env["OMP_NUM_THREADS"] = threads
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                             env=env).stdout
        assert out.split() == ["True", "True"], threads


def test_the_measured_choice_is_found_whatever_local_tag_torch_reports():
    """The package index's Linux CUDA wheel: metadata "2.14.1", torch.__version__
    "2.14.1+cu130"; the measurement was stored under one and looked up under the other."""
    from sr_desktop.engine.models.backends.choose import measure_key

    keys = {measure_key("span", 4, "ch48", 2, version, True) for version in ("2.14.1", "2.14.1+cu130")}
    assert len(keys) == 1
    assert measure_key("span", 4, "ch48", 2, "2.13.0", True) not in keys  # (another version: measured again)


def test_auto_is_the_cpu_without_asking_torch_where_no_gpu_can_be_found(monkeypatch, tmp_path):
    """A CPU-only build; on Linux a CUDA build (the package index's default) on a machine
    without a GPU driver (NVIDIA's, ROCm's). Any other case asks torch — and where the rule says CPU, torch
    agrees."""
    from sr_desktop.engine.compute import devices

    monkeypatch.setattr(devices, "GPU_DRIVER_PATHS", (str(tmp_path / "nvidia"), str(tmp_path / "kfd")))
    cases = {"2.13.0+cpu": True, "2.14.1": sys.platform.startswith("linux"),
             "2.14.1+cu130": sys.platform.startswith("linux"), "2.14.1+rocm6.4": False, "2.14.1+xpu": False}
    for version, known in cases.items():
        monkeypatch.setattr(devices, "installed_torch_version", lambda v=version: v)
        assert devices.auto_device_is_cpu_without_torch() is known, version
    monkeypatch.setattr(devices, "installed_torch_version", lambda: "2.14.1")
    (tmp_path / "kfd").touch()  # ROCm's driver (an untagged distribution build may use it)
    assert devices.why_auto_device_is_cpu() is None
    (tmp_path / "kfd").unlink()
    (tmp_path / "nvidia").mkdir()  # NVIDIA's driver is there: torch has to say
    assert devices.why_auto_device_is_cpu() is None
    monkeypatch.undo()
    if devices.auto_device_is_cpu_without_torch():
        probe = "import torch; from sr_desktop.engine.compute import devices as d; print(d.resolve_device('auto'))"
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "cpu"


BLOCKED_BATCH = """
from sr_desktop.cli.main import main
print(main(["batch", {src!r}, {dst!r}, "--model", "realcugan-se", "--scale", "4", "--no-progress"]))
"""


def test_a_batch_with_a_known_backend_never_imports_torch(home, tmp_path):
    """`sr-desktop batch` with ``auto`` meaning ncnn runs the zoo model in a process where
    importing torch would fail; the files equal those of the torch-side model."""
    from PIL import Image as PILImage

    src = tmp_path / "in"
    src.mkdir()
    for i, channels in enumerate((3, 4)):
        PILImage.fromarray(chelsea_crop(20 + i, 26, alpha=channels == 4)).save(src / f"p{i}.png")
    env = {**os.environ, "SR_DESKTOP_HOME": str(home), choose.ENV_DEFAULT: "ncnn"}
    proc = run_without_torch(BLOCKED_BATCH.format(src=str(src), dst=str(tmp_path / "out")), env)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "0", proc.stderr
    torch_side = load_model("realcugan-se", scale=4)
    choose.apply_backend(torch_side, "ncnn")
    for i in range(2):
        written = np.asarray(PILImage.open(tmp_path / "out" / f"p{i}_x4_realcugan-se.png"))
        expected = upscale_image(Image(np.array(PILImage.open(src / f"p{i}.png"))),
                                 UpscaleOptions(model="realcugan-se", scale=4), model=torch_side)
        assert np.array_equal(written, expected.image.pixels)


def test_a_model_loaded_through_torch_stays_the_processs_model(home, monkeypatch):
    """Once a choice went through torch (the first use measures there), later loads in the
    same process reuse that model instead of loading the torch-free one beside it."""
    from sr_desktop.engine.pipeline import model_cache

    model_cache.clear_model_cache()
    monkeypatch.setenv(choose.ENV_DEFAULT, "torch")
    first = model_cache.get_model("realesr-animevideov3", 2, device="cpu")
    monkeypatch.setenv(choose.ENV_DEFAULT, "ncnn")  # what a measurement written meanwhile would do
    assert model_cache.get_model("realesr-animevideov3", 2, device="cpu") is first
    model_cache.clear_model_cache()
    assert isinstance(model_cache.get_model("realesr-animevideov3", 2, device="cpu"), HostZooModel)
    model_cache.clear_model_cache()


@pytest.mark.parametrize("family, scale", [("realcugan", 4), ("span", 2), ("waifu2x-upconv7", 2)])
def test_the_graph_output_is_the_same_from_arrays_and_tensors(family, scale):
    """`graph_output` crops (and adds Real-CUGAN ×4's nearest input) alike for numpy arrays
    and torch tensors, and a graph output short of s·H × s·W is one `ModelError`."""
    import torch

    from sr_desktop.engine.core.errors import ModelError
    from sr_desktop.engine.models.zoo_conventions import convention, graph_output

    conv = convention(family, scale)
    rng = np.random.default_rng(1)
    x = rng.random((1, 3, 5, 7), dtype=np.float32)
    pad = conv.prepad
    y = rng.random((1, 3, scale * (5 + 2 * pad) + 3, scale * (7 + 2 * pad) + 3), dtype=np.float32)
    ours = graph_output(conv, y, x, scale, pad, "m")
    theirs = graph_output(conv, torch.from_numpy(y), torch.from_numpy(x), scale, pad, "m").numpy()
    assert ours.shape == (1, 3, 5 * scale, 7 * scale)
    assert np.array_equal(ours, theirs)
    if conv.add_nearest:
        nearest = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=scale, mode="nearest").numpy()
        o = 0 if conv.unpadded else scale * pad
        assert np.array_equal(ours, y[..., o : o + 5 * scale, o : o + 7 * scale] + nearest)
    with pytest.raises(ModelError, match="smaller than"):
        graph_output(conv, y[..., : scale * 4, :], x, scale, 0, "m")
