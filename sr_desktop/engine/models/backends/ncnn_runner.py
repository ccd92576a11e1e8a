"""Run a zoo model's own ncnn files with the ncnn runtime (CPU), in place of its torch graph.

The zoo's models *are* ncnn graphs (the `.param`/`.bin` files Upscayl and the
`*-ncnn-vulkan` tools run); the torch graph is the engine's translation of them. This
runner hands the same graph input (after the family's pre-padding and extra planes, which
stay in `ZooModel.run`) to the ncnn runtime itself: exact by construction, and on the CPU
the fastest for SRMD-like plain 3×3 stacks (issue 16's table). Full fp32 on the CPU: fp16/bf16
storage and arithmetic are switched off, as OpenVINO's precision hint is, never lowered
behind the user's back.

On a GPU (`--device vulkan`) it runs ncnn's Vulkan path, as Upscayl and the
``*-ncnn-vulkan`` tools do: any GPU with a Vulkan driver (AMD, Intel, NVIDIA; Apple through
MoltenVK). There fp16 is what ``--precision auto`` / ``fp16`` ask for (ncnn's own defaults:
fp16 storage and arithmetic where the GPU has them) and ``fp32`` switches it off as on the
CPU. Tested on Mesa's software Vulkan driver (lavapipe), not on a GPU (docs/backends.md).

The runner itself works on numpy arrays (`run_array`) and never needs torch: a zoo model
whose backend is known runs through it in a process that never imports torch (`zoo_host`).
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sr_desktop.engine.compute import devices
from sr_desktop.engine.compute.devices import VulkanGPU
from sr_desktop.engine.core.errors import DeviceError
from sr_desktop.engine.core.native_stderr import native_stderr_silenced
from sr_desktop.engine.models.backends.openvino_runner import BackendError

if TYPE_CHECKING:
    import torch


def ncnn_version() -> str | None:
    """The installed ncnn runtime's version, or None."""
    try:
        import ncnn
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return None
    return str(getattr(ncnn, "__version__", "unknown"))


#: ncnn's `GpuInfo.type()` codes
_GPU_KINDS = {0: "discrete", 1: "integrated", 2: "virtual", 3: "software"}
_LOW_PRECISION_OPTIONS = ("use_fp16_storage", "use_fp16_packed", "use_fp16_arithmetic", "use_bf16_storage",
                          "use_bf16_packed")


@functools.lru_cache(maxsize=1)
def vulkan_gpus() -> tuple[VulkanGPU, ...]:
    """The GPUs the ncnn runtime can drive through Vulkan, in its order; empty without the
    ncnn runtime, a Vulkan loader or a driver. The first call starts ncnn's Vulkan instance."""
    if ncnn_version() is None:
        return ()
    import ncnn

    with native_stderr_silenced():  # (ncnn prints a line per GPU, and per missing Vulkan library)
        count = int(ncnn.get_gpu_count())
        infos = [ncnn.get_gpu_info(i) for i in range(count)]
    return tuple(VulkanGPU(i, str(info.device_name()), _GPU_KINDS.get(int(info.type()), "unknown"))
                 for i, info in enumerate(infos))


#: the order in which a plain ``vulkan`` choice prefers GPU kinds when ncnn names no default
_DEFAULT_ORDER = {"discrete": 0, "integrated": 1, "virtual": 2, "software": 3}


def vulkan_gpu(device: str) -> VulkanGPU:
    """The GPU of a ``vulkan`` / ``vulkan:N`` device choice (``vulkan``: the one ncnn picks by
    default, a discrete GPU before an integrated one). `DeviceError` with one line when
    there is none."""
    if ncnn_version() is None:
        raise DeviceError("--device vulkan needs the ncnn runtime (pip install ncnn)")
    gpus = vulkan_gpus()
    if not gpus:
        raise DeviceError("--device vulkan: the ncnn runtime finds no Vulkan GPU on this machine "
                          "(install the GPU's Vulkan driver, or use --device cpu)")
    if device == "vulkan":
        import ncnn

        index = int(ncnn.get_default_gpu_index())
        if not 0 <= index < len(gpus):
            # ncnn 1.0.20261020 reports -1 when it has no default of its own: pick as it
            # documents its default, a discrete GPU, then an integrated one, then the rest
            index = min(gpus, key=lambda g: (_DEFAULT_ORDER.get(g.kind, len(_DEFAULT_ORDER)), g.index)).index
    else:
        index = int(device.partition(":")[2])
    if not 0 <= index < len(gpus):
        names = ", ".join(f"{g.index}: {g.name}" for g in gpus)
        raise DeviceError(f"{device}: there are only {len(gpus)} Vulkan GPU(s) ({names})")
    return gpus[index]


#: set to 0 to keep ``--device auto`` off Vulkan GPUs (then it is torch's choice, as for
#: every other model)
ENV_AUTO_VULKAN = "SR_DESKTOP_AUTO_VULKAN"


def auto_vulkan_gpu() -> VulkanGPU | None:
    """The GPU ``--device auto`` runs the zoo's models on through Vulkan, or None: ncnn's
    default GPU when it is a real one (discrete or integrated: not a software driver, not a
    virtual one) and torch has no GPU here (no CUDA, no MPS) — what an Upscayl user with an
    AMD, Intel or Apple GPU, or an NVIDIA one under a CPU-only torch, expects. Asks torch only
    for a torch build that can have GPUs."""
    if os.environ.get(ENV_AUTO_VULKAN, "").strip() == "0":
        return None
    if not vulkan_gpus():
        return None
    try:
        default = vulkan_gpu("vulkan")
    except DeviceError:  # a default index ncnn reports that is not one of its GPUs
        return None
    if default.kind not in ("discrete", "integrated"):
        return None
    if devices.installed_torch_version() is not None and not devices.auto_device_is_cpu_without_torch():
        if devices.resolve_device("auto").type != "cpu":
            return None
    return default


#: what every ncnn layer returns when an allocation fails, in host or GPU memory
NCNN_OUT_OF_MEMORY = -100


class NcnnOutOfMemory(BackendError, MemoryError):
    """The runtime could not allocate a tile's blobs: the tiler splits the tile and retries
    (`devices.is_out_of_memory`), on the CPU and on a Vulkan GPU alike."""


class NcnnRunner:
    """Callable in place of a zoo model's torch graph: N×C×H×W tensor in, tensor out
    (`run_array`: the same on numpy arrays)."""

    def __init__(self, net, input_name: str, output_name: str) -> None:
        self._net = net
        self._input, self._output = input_name, output_name
        self._lock = threading.Lock()

    def __call__(self, x: torch.Tensor, **_bound: Any) -> torch.Tensor:
        import torch

        out = self.run_array(x.detach().to("cpu", torch.float32).numpy())
        return torch.from_numpy(out).to(device=x.device, dtype=x.dtype)

    def run_array(self, batch: np.ndarray) -> np.ndarray:
        """N×C×H×W float32 graph input -> the graph's N×C'×H'×W' output."""
        import ncnn

        outputs = []
        with self._lock:
            for item in batch:
                # Into a Mat of ncnn's own: one wrapping the array's memory has a channel step
                # of exactly H·W, which ncnn's Vulkan upload does not honour (garbage out
                # whenever H·W is not a multiple of 4); ncnn's Mat aligns each channel, and the
                # view copied into follows its strides. (It also never outlives the array.)
                mat = ncnn.Mat(item.shape[2], item.shape[1], item.shape[0])
                np.array(mat, copy=False)[...] = item
                extractor = self._net.create_extractor()
                extractor.input(self._input, mat)
                status, out = extractor.extract(self._output)
                if status == NCNN_OUT_OF_MEMORY:
                    raise NcnnOutOfMemory(f"the ncnn runtime ran out of memory on a {item.shape[2]}×{item.shape[1]} "
                                          "tile")
                if status != 0:
                    raise BackendError(f"the ncnn runtime failed on a {item.shape[2]}×{item.shape[1]} tile "
                                       f"(status {status})")
                outputs.append(np.array(out, copy=True))
        return np.stack(outputs)


def can_use_ncnn(model) -> bool:
    """A zoo model (its own ncnn files) on the CPU in fp32."""
    import torch

    return (getattr(model, "conv", None) is not None and hasattr(getattr(model, "module", None), "input_name")
            and model.device.type == "cpu" and model.dtype == torch.float32)


def build_ncnn_runner(model, threads: int | None = None) -> NcnnRunner:
    """An `NcnnRunner` for zoo model `model`; `BackendError` with one line when it cannot be made."""
    from sr_desktop.engine.models import registry

    if ncnn_version() is None:
        raise BackendError("the ncnn runtime is not installed (pip install ncnn)")
    if not can_use_ncnn(model):
        from sr_desktop.engine.models.backends.choose import why_not_cpu_fp32_network

        raise BackendError(f"--backend ncnn cannot run {model.id}: {why_not_cpu_fp32_network(model, zoo_only=True)}")
    import torch

    param, weights = registry.model_files(registry.get_model_spec(model.id), model.scale, model.variant)
    return ncnn_runner_from_files(param, weights, model.module.input_name, model.module.output_name,
                                  threads or torch.get_num_threads())


def ncnn_runner_from_files(param: Path, weights: Path, input_name: str, output_name: str,
                           threads: int, gpu: VulkanGPU | None = None, fp16: bool = False) -> NcnnRunner:
    """An `NcnnRunner` of the ``.param``/``.bin`` pair: full fp32 on `threads` CPU threads, or
    on `gpu` through Vulkan, in fp16 where `fp16` and the GPU allow it."""
    import ncnn

    net = ncnn.Net()
    opt = net.opt
    opt.use_vulkan_compute = gpu is not None
    if gpu is not None:
        net.set_vulkan_device(gpu.index)
    if gpu is None or not fp16:
        for name in _LOW_PRECISION_OPTIONS:
            if hasattr(opt, name):  # (use_bf16_packed came with ncnn 1.0.20260114: older ones have no bf16 packing)
                setattr(opt, name, False)
    opt.num_threads = max(1, threads)
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise BackendError(f"the ncnn runtime cannot load {param.name} / {weights.name}")
    return NcnnRunner(net, input_name, output_name)
