"""`--device vulkan`: the zoo's ncnn models on a GPU through ncnn's Vulkan path, as Upscayl.

The runs need a Vulkan driver; on a machine without a GPU, Mesa's software driver (lavapipe,
``apt-get install mesa-vulkan-drivers``) is one, and runs the same shaders on the CPU. Without
any, those tests are skipped; the error lines are checked everywhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.errors import DeviceError
from sr_desktop.engine.core.options import (
    DEVICE_CHOICES,
    UPSCALE_DEVICE_CHOICES,
    OptionError,
    UpscaleOptions,
    parse_device,
)
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.metrics.fullref import psnr
from sr_desktop.engine.models.backends import ncnn_runner
from sr_desktop.engine.models.zoo_host import HostZooModel, load_without_torch
from sr_desktop.engine.pipeline.upscale import upscale_float, upscale_image
from tests.sample_photo import chelsea_crop

needs_vulkan = pytest.mark.skipif(not ncnn_runner.vulkan_gpus(), reason="no Vulkan driver (ncnn sees no GPU)")


def test_vulkan_is_an_upscale_device_and_not_a_torch_one():
    assert "vulkan" in UPSCALE_DEVICE_CHOICES and "vulkan" not in DEVICE_CHOICES
    assert parse_device("Vulkan:1") == "vulkan:1" and parse_device("vulkan") == "vulkan"
    with pytest.raises(OptionError):
        parse_device("vulkan:x")
    with pytest.raises(DeviceError, match="only the model zoo's ncnn models"):
        devices.resolve_device("vulkan")


def test_what_cannot_run_on_vulkan_is_one_line(monkeypatch):
    with pytest.raises(OptionError, match="--backend openvino cannot run on --device vulkan"):
        load_without_torch("realesr-animevideov3", 2, None, "vulkan", "auto", "openvino")
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda: ())
    with pytest.raises(DeviceError, match="finds no Vulkan GPU"):
        load_without_torch("realesr-animevideov3", 2, None, "vulkan", "auto", "auto")
    gpu = devices.VulkanGPU(0, "Radeon Test", "discrete")
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda: (gpu,))
    with pytest.raises(DeviceError, match=r"vulkan:3: there are only 1 Vulkan GPU\(s\) \(0: Radeon Test\)"):
        load_without_torch("realesr-animevideov3", 2, None, "vulkan:3", "auto", "ncnn")
    assert devices.describe_device(gpu) == "Radeon Test (Vulkan 0)"


def test_plain_vulkan_takes_ncnns_default_gpu_else_the_first_discrete_one(monkeypatch):
    import ncnn

    gpus = (devices.VulkanGPU(0, "Intel Test", "integrated"), devices.VulkanGPU(1, "Radeon Test", "discrete"))
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda: gpus)
    monkeypatch.setattr(ncnn, "get_default_gpu_index", lambda: 0)
    assert ncnn_runner.vulkan_gpu("vulkan").name == "Intel Test"  # ncnn's own default is kept
    monkeypatch.setattr(ncnn, "get_default_gpu_index", lambda: -1)  # ncnn 1.0.20261020 without a default
    assert ncnn_runner.vulkan_gpu("vulkan").name == "Radeon Test"
    assert ncnn_runner.vulkan_gpu("vulkan:0").name == "Intel Test"
    software_first = (devices.VulkanGPU(0, "llvmpipe", "software"), devices.VulkanGPU(1, "Intel Test", "integrated"))
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda: software_first)
    assert ncnn_runner.vulkan_gpu("vulkan").name == "Intel Test"  # a real GPU before a software driver


@needs_vulkan
@pytest.mark.parametrize("model_id, scale", [("realesr-animevideov3", 2), ("waifu2x-photo", 2), ("srmdnf", 4)])
def test_fp32_on_vulkan_equals_the_cpu_runtime(model_id, scale, tmp_path, monkeypatch):
    """The same graph and conventions on the GPU in fp32: within float rounding of the CPU
    runtime (the exactness bar of the backends, ≥ 100 dB), tiled and whole."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    gpu_model = load_without_torch(model_id, scale, None, "vulkan", "fp32", "auto")
    cpu_model = load_without_torch(model_id, scale, None, "cpu", "fp32", "ncnn")
    assert isinstance(gpu_model, HostZooModel) and gpu_model.device.type == "vulkan"
    assert gpu_model.backend == "ncnn" and gpu_model.dtype == "float32"
    rgb = chelsea_crop(26, 34, top=90, left=160)
    for tile in (0, 16):
        options = UpscaleOptions(model=model_id, scale=scale, tile=tile)
        on_gpu = upscale_float(rgb / 255.0, options, model=gpu_model)
        on_cpu = upscale_float(rgb / 255.0, options, model=cpu_model)
        assert on_gpu.shape == on_cpu.shape == (26 * scale, 34 * scale, 3)
        assert psnr(on_gpu, on_cpu, data_range=1.0) >= 100.0, (model_id, tile)
        # 8-bit: float rounding moves a value sitting on a .5 by one level at most
        saved_gpu = upscale_image(Image(rgb), options, model=gpu_model)
        saved_cpu = upscale_image(Image(rgb), options, model=cpu_model)
        diff = np.abs(saved_gpu.image.pixels.astype(int) - saved_cpu.image.pixels.astype(int))
        assert diff.max() <= 1 and np.count_nonzero(diff) <= diff.size // 1000
        assert saved_gpu.device == devices.describe_device(gpu_model.device) and "Vulkan" in saved_gpu.device


@needs_vulkan
def test_auto_precision_on_vulkan_is_fp16_close_to_fp32(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    half = load_without_torch("realesr-animevideov3", 2, None, "vulkan", "auto", "auto")
    full = load_without_torch("realesr-animevideov3", 2, None, "vulkan", "fp32", "auto")
    assert half.dtype == "float16" and full.dtype == "float32"
    image = Image(chelsea_crop(24, 24, top=90, left=160))
    options = UpscaleOptions(model="realesr-animevideov3", scale=2, tile=0)
    a = upscale_image(image, options, model=half).image.pixels
    b = upscale_image(image, options, model=full).image.pixels
    assert 40.0 <= psnr(a, b) < 100.0  # fp16 really ran, and stays close


@needs_vulkan
def test_the_cli_upscales_and_reports_on_vulkan(tmp_path):
    """A whole `sr-desktop upscale --device vulkan` (without torch) and `batch --device vulkan`:
    outputs written, the GPU named in the report, and no line of ncnn's own on the terminal."""
    from PIL import Image as PILImage

    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(chelsea_crop(20, 28, top=90, left=160)).save(src / "a.png")
    PILImage.fromarray(chelsea_crop(18, 18, top=90, left=160)).save(src / "b.png")
    env_cmd = [sys.executable, "-m", "sr_desktop"]
    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    # in a process where importing torch fails: the GPU path never needs it
    without_torch = [sys.executable, "-c", "import sys; sys.modules['torch'] = None; "
                     "from sr_desktop.cli.main import main; sys.exit(main(sys.argv[1:]))"]
    one = subprocess.run([*without_torch, "upscale", str(src / "a.png"), "-o", str(tmp_path / "a_x2.png"),
                          "--model", "realesr-animevideov3", "--scale", "2", "--device", "vulkan"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr
    assert "Vulkan" in one.stdout and "llvmpipe" not in one.stderr and "[0 " not in one.stderr
    assert PILImage.open(tmp_path / "a_x2.png").size == (56, 40)
    report = tmp_path / "report.json"
    batch = subprocess.run([*env_cmd, "batch", str(src), str(tmp_path / "out"), "--model", "realesr-animevideov3",
                            "--scale", "2", "--device", "vulkan", "--no-progress", "--name", "{stem}", "--report",
                            str(report)],
                           capture_output=True, text=True, env=env, timeout=300)
    assert batch.returncode == 0, batch.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    text = json.dumps(json.loads(report.read_text()))
    assert "Vulkan" in text


def _pretend_default_gpu_is(monkeypatch, kind: str) -> None:
    """ncnn's default GPU (lavapipe here) reported as a `kind` GPU."""
    real = ncnn_runner.vulkan_gpus()
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus",
                        lambda: tuple(devices.VulkanGPU(g.index, g.name, kind) for g in real))
    monkeypatch.setenv(ncnn_runner.ENV_AUTO_VULKAN, "1")


@needs_vulkan
def test_auto_runs_the_zoo_on_a_real_vulkan_gpu_when_torch_has_none(tmp_path, monkeypatch):
    """``--device auto`` with a discrete or integrated Vulkan GPU and a CPU-only torch: the
    zoo's models run there (fp16 for auto), as in Upscayl; other models stay on torch's CPU."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    _pretend_default_gpu_is(monkeypatch, "integrated")
    model = load_without_torch("realesr-animevideov3", 2, None, "auto", "auto", "auto")
    assert isinstance(model, HostZooModel) and model.device.type == "vulkan" and model.dtype == "float16"
    assert ncnn_runner.auto_vulkan_gpu() == model.device
    # a backend of the CPU asked for, or the rule switched off: not the GPU
    assert load_without_torch("realesr-animevideov3", 2, None, "auto", "auto", "torch") is None
    monkeypatch.setenv(ncnn_runner.ENV_AUTO_VULKAN, "0")
    assert ncnn_runner.auto_vulkan_gpu() is None


def test_auto_keeps_off_software_and_virtual_vulkan_drivers(monkeypatch):
    monkeypatch.setenv(ncnn_runner.ENV_AUTO_VULKAN, "1")
    for kind in ("software", "virtual"):
        monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda kind=kind: (devices.VulkanGPU(0, "x", kind),))
        assert ncnn_runner.auto_vulkan_gpu() is None
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda: ())
    assert ncnn_runner.auto_vulkan_gpu() is None


def test_auto_leaves_the_zoo_to_torch_where_torch_has_a_gpu(monkeypatch):
    """A torch build that can have GPUs is asked: CUDA (or MPS) present keeps auto on torch."""
    import torch

    monkeypatch.setenv(ncnn_runner.ENV_AUTO_VULKAN, "1")
    gpu = devices.VulkanGPU(0, "Radeon A", "discrete")
    monkeypatch.setattr(ncnn_runner, "vulkan_gpus", lambda: (gpu,))
    monkeypatch.setattr(ncnn_runner.devices, "auto_device_is_cpu_without_torch", lambda: False)
    monkeypatch.setattr(ncnn_runner.devices, "resolve_device", lambda name: torch.device("cuda"))
    assert ncnn_runner.auto_vulkan_gpu() is None
    monkeypatch.setattr(ncnn_runner.devices, "resolve_device", lambda name: torch.device("cpu"))
    assert ncnn_runner.auto_vulkan_gpu() is gpu


def test_auto_falls_back_to_the_cpu_when_the_gpu_cannot_load_the_model(monkeypatch):
    """Unlike ``--device vulkan`` asked for, ``auto`` never fails for its own choice of GPU."""
    from sr_desktop.engine.models import zoo_host
    from sr_desktop.engine.models.backends.openvino_runner import BackendError

    def broken(*args, **kwargs):
        raise BackendError("the ncnn runtime cannot load it")

    monkeypatch.setattr(zoo_host, "auto_vulkan_gpu", lambda: devices.VulkanGPU(0, "Radeon A"))
    monkeypatch.setattr(zoo_host, "_load_on_vulkan", broken)
    model = load_without_torch("realesr-animevideov3", 2, None, "auto", "auto", "ncnn")
    assert isinstance(model, HostZooModel) and model.device.type == "cpu"  # the CPU runtime, asked for
    with pytest.raises(BackendError):
        load_without_torch("realesr-animevideov3", 2, None, "vulkan", "auto", "ncnn")


class _TileLimitedNet:
    """An ncnn net whose extractors fail with the runtime's out-of-memory status on inputs
    above `limit` pixels, as a GPU with too little memory does."""

    def __init__(self, net, limit: int):
        self.net, self.limit, self.refused, self.passed = net, limit, 0, []

    def create_extractor(self):
        return _TileLimitedExtractor(self.net.create_extractor(), self)


class _TileLimitedExtractor:
    def __init__(self, extractor, owner: _TileLimitedNet):
        self.extractor, self.owner, self.pixels = extractor, owner, 0

    def input(self, name, mat):
        self.pixels = mat.w * mat.h
        return self.extractor.input(name, mat)

    def extract(self, name):
        if self.pixels > self.owner.limit:
            self.owner.refused += 1
            return ncnn_runner.NCNN_OUT_OF_MEMORY, None
        self.owner.passed.append(self.pixels)
        return self.extractor.extract(name)


@pytest.mark.parametrize("device", ["cpu", pytest.param("vulkan", marks=needs_vulkan)])
def test_a_tile_the_runtime_has_no_memory_for_is_split_and_retried(device, tmp_path, monkeypatch):
    """ncnn's out-of-memory status (-100) splits the tile as a CUDA OOM does: nothing
    dropped, the same pixels as one whole pass."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path))
    model = load_without_torch("realesr-animevideov3", 2, None, device, "fp32", "ncnn")
    rgb = chelsea_crop(40, 48, top=90, left=160) / 255.0
    options = UpscaleOptions(model="realesr-animevideov3", scale=2, tile=0)
    unlimited = _TileLimitedNet(model.runner._net, limit=1 << 30)
    model.runner._net = unlimited
    whole = upscale_float(rgb, options, model=model)
    (whole_pass,) = unlimited.passed
    limited = _TileLimitedNet(unlimited.net, limit=whole_pass - 1)
    model.runner._net = limited
    split = upscale_float(rgb, options, model=model)
    assert limited.refused == 1 and len(limited.passed) == 4
    assert split.shape == whole.shape and psnr(split, whole, data_range=1.0) >= 100
