"""A zoo model run by OpenVINO or the ncnn runtime in a process that never imports torch.

Importing torch takes 1.3–1.5 s, most of a short batch's start (`sr-desktop batch` of ten
256² photos: 4.4 s in all). Once ``auto`` has measured a zoo model (`backends.choose`) and,
for OpenVINO, its conversion is cached, nothing of torch is needed to run it: the graph
input is built from numpy tiles with the family's conventions (`zoo_conventions`), the
runner works on numpy arrays, and the tiler hands such a model numpy tiles
(`upscale_patch`). `load_without_torch` gives that model when everything it needs is
known, and None otherwise — then the model loads as always, through torch, which measures,
converts or reports what is wrong.

The same model runs on a Vulkan GPU (`--device vulkan`): the ncnn runtime's Vulkan path,
which torch has no part in (`_load_on_vulkan`).
"""

from __future__ import annotations

import logging

import numpy as np

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.errors import DeviceError, ModelError
from sr_desktop.engine.core.options import (
    Backend,
    Device,
    OptionError,
    Precision,
    parse_backend,
    parse_device,
    parse_precision,
)
from sr_desktop.engine.models.backends import choose
from sr_desktop.engine.models.backends.ncnn_runner import (
    auto_vulkan_gpu,
    ncnn_runner_from_files,
    ncnn_version,
    vulkan_gpu,
)
from sr_desktop.engine.models.backends.openvino_runner import (
    BackendError,
    cached_runner_of_files,
    openvino_version,
    source_key_of_files,
)
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.loader import is_zoo_spec, resolve_scale_variant, zoo_noise_level
from sr_desktop.engine.models.ncnn.param import graph_io, parse_param_text
from sr_desktop.engine.models.registry import get_model_spec, model_files
from sr_desktop.engine.models.zoo_conventions import adopt_convention, convention, graph_input, graph_output

log = logging.getLogger(__name__)


class HostZooModel(SRModel):
    """A zoo model whose graph runs in a numpy runner: OpenVINO or ncnn on the CPU (fp32), or
    ncnn on a Vulkan GPU (`device` a `devices.VulkanGPU`, fp16 or fp32)."""

    def __init__(self, model_id: str, family: str, scale: int, variant: str | None, runner, backend: str,
                 device, dtype: str = "float32", noise_level: int | None = None,
                 recommended_tile: int = 256) -> None:
        self.id = model_id
        self.variant = variant
        adopt_convention(self, family, scale)
        self.recommended_tile = recommended_tile
        self.noise_level = noise_level
        self.runner = runner
        self.backend = backend
        self.device = device
        self.dtype = dtype

    def to(self, device, dtype=None) -> HostZooModel:
        """It runs where and in what precision it was loaded for: returns self unchanged."""
        return self

    def upscale_patch(self, patch: np.ndarray) -> np.ndarray:
        """H×W×3 float32 (0..1) -> (s·H)×(s·W)×3 float32, unclamped: `ZooModel.run` on numpy."""
        x = np.ascontiguousarray(patch.transpose(2, 0, 1))[None]
        inp, pad = graph_input(self.conv, x, self.noise_level)
        y = graph_output(self.conv, self.runner.run_array(inp), x, self.scale, pad, self.id)
        return y[0].transpose(1, 2, 0)


def load_without_torch(model_id: str, scale: int | None, variant: str | None, device, precision,
                       backend) -> HostZooModel | None:
    """The zoo model `model_id` on a runner that needs no torch, or None when that cannot be
    known without torch: not a zoo model, not on the CPU in fp32, a backend of torch, ``auto``
    not measured yet for it on this machine, or no cached OpenVINO conversion.

    On ``--device vulkan`` a zoo model always loads here (the ncnn runtime on the GPU);
    `DeviceError` / `OptionError` say in one line what does not fit (no Vulkan GPU, another
    backend asked for). So does it on ``--device auto`` where `auto_vulkan_gpu` finds a GPU."""
    spec = get_model_spec(model_id)
    if not (is_zoo_spec(spec) and spec.installed):
        return None
    choice = parse_device(device) if device is None or isinstance(device, str) else None
    if choice is not None and choice.startswith(Device.VULKAN.value):
        return _load_on_vulkan(spec, scale, variant, choice, precision, backend)
    if choice == Device.AUTO and parse_backend(backend) in (Backend.AUTO, Backend.NCNN):
        gpu = auto_vulkan_gpu()
        if gpu is not None:
            try:
                return _load_on_vulkan(spec, scale, variant, str(gpu), precision, backend)
            except (DeviceError, BackendError) as exc:  # auto asked for no GPU in particular: the CPU
                log.info("%s: not on %s (%s); on the CPU", model_id, devices.describe_device(gpu), exc)
    if not devices.host_fp32_requested(device, precision,
                                       auto_device_on_host=devices.auto_device_is_cpu_without_torch()):
        return None
    try:
        scale, variant = resolve_scale_variant(spec, scale, variant)
        noise_level = zoo_noise_level(spec, variant)
        param, weights = model_files(spec, scale, variant)
        threads = devices.torch_default_threads()
        wanted = choose.backend_without_torch(spec.id, scale, variant, backend, threads, ncnn_runs_it=True)
        runner = _runner(wanted, spec.id, scale, variant, param, weights, threads)
    except (ModelError, OSError, UnicodeDecodeError) as exc:  # the torch path reports it, or copes
        log.debug("%s: loading through torch (%s)", model_id, exc)
        return None
    if runner is None:
        return None
    return HostZooModel(spec.id, spec.source["family"], scale, variant, runner, wanted.value,
                        devices.HostCPU(threads), noise_level=noise_level, recommended_tile=spec.recommended_tile)


def _load_on_vulkan(spec, scale: int | None, variant: str | None, device: str, precision, backend) -> HostZooModel:
    """The zoo model on a Vulkan GPU through the ncnn runtime; fp16 for ``auto`` where the
    family allows it, as on CUDA."""
    wanted = parse_backend(backend)
    if wanted not in (Backend.AUTO, Backend.NCNN):
        raise OptionError(f"--backend {wanted.value} cannot run on --device vulkan: there the ncnn runtime runs "
                          "the zoo's models (--backend ncnn or auto)")
    gpu = vulkan_gpu(device)
    scale, variant = resolve_scale_variant(spec, scale, variant)
    family = spec.source["family"]
    precision = parse_precision(precision)
    fp16 = precision == Precision.FP16 or (precision == Precision.AUTO and convention(family, scale).supports_fp16)
    param, weights = model_files(spec, scale, variant)
    try:
        runner = _ncnn_runner(param, weights, devices.torch_default_threads(), gpu=gpu, fp16=fp16)
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{spec.id}: cannot read {param.name} ({exc})") from None
    return HostZooModel(spec.id, family, scale, variant, runner, Backend.NCNN.value, gpu,
                        dtype="float16" if fp16 else "float32", noise_level=zoo_noise_level(spec, variant),
                        recommended_tile=spec.recommended_tile)


def _ncnn_runner(param, weights, threads: int, gpu=None, fp16: bool = False):
    """The ncnn runtime on the zoo files, its input and output blobs read from the ``.param``."""
    text = param.read_text(encoding="utf-8")
    input_name, output_name = graph_io(parse_param_text(text, source=param.name), param.name)
    return ncnn_runner_from_files(param, weights, input_name, output_name, threads, gpu=gpu, fp16=fp16)


def _runner(backend: Backend, model_id: str, scale: int, variant: str | None, param, weights, threads: int):
    if backend == Backend.NCNN and ncnn_version() is not None:
        return _ncnn_runner(param, weights, threads)
    if backend == Backend.OPENVINO and openvino_version() is not None:
        return cached_runner_of_files(source_key_of_files(param, weights), model_id, scale, variant, threads)
    return None
