"""What this machine can run models on: the compute devices (the CPU, CUDA and MPS GPUs for
torch, Vulkan GPUs for the ncnn runtime) and the inference libraries' versions
(``sr-desktop devices``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import psutil

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.text import counted
from sr_desktop.engine.models.backends.ncnn_runner import ncnn_version, vulkan_gpus
from sr_desktop.engine.models.backends.openvino_runner import openvino_version

#: what each kind of device runs
RUNS_EVERYTHING = "every model, training and kernel estimation"
RUNS_ZOO = "the model zoo's models, upscaling only (the ncnn runtime)"


@dataclass(frozen=True)
class DeviceInfo:
    """One `--device` value and what stands behind it on this machine."""

    device: str  # the --device value: cpu, cuda:0, mps, vulkan:0 (or the family when absent)
    name: str  # what it is ("NVIDIA H100 (79 GB)"), or why there is none
    available: bool
    runs: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def compute_devices() -> list[DeviceInfo]:
    """The CPU, then each CUDA GPU, MPS and each Vulkan GPU; a family with none present is one
    entry with ``available`` False and the reason as its name. Imports torch only for a torch
    build that can have GPUs."""
    cores = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    found = [DeviceInfo("cpu", f"{devices.cpu_name()} ({counted(cores, 'core')}; torch uses "
                               f"{counted(devices.torch_default_threads(), 'thread')})", True, RUNS_EVERYTHING)]
    found += _torch_gpus()
    gpus = vulkan_gpus()
    for gpu in gpus:
        found.append(DeviceInfo(f"vulkan:{gpu.index}", devices.describe_device(gpu), True, RUNS_ZOO))
    if not gpus:
        why = "no Vulkan GPU: the ncnn runtime finds none" if ncnn_version() else "the ncnn runtime is not installed"
        found.append(DeviceInfo("vulkan", why, False, RUNS_ZOO))
    return found


def _torch_gpus() -> list[DeviceInfo]:
    version = devices.installed_torch_version()
    if version is None:
        return [DeviceInfo("cuda", "torch is not installed", False), DeviceInfo("mps", "torch is not installed", False)]
    why = devices.why_auto_device_is_cpu()
    if why is not None:  # a CPU-only build has no MPS either; a CUDA build on Linux never has it
        return [DeviceInfo("cuda", why, False),
                DeviceInfo("mps", why if version.endswith("+cpu") else "no Apple GPU (MPS)", False)]
    import torch

    found = [DeviceInfo(f"cuda:{i}", devices.describe_device(torch.device("cuda", i)), True, RUNS_EVERYTHING)
             for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if not found:
        found.append(DeviceInfo("cuda", "no CUDA GPU found", False))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(DeviceInfo("mps", "Apple GPU (MPS)", True, RUNS_EVERYTHING))
    else:
        found.append(DeviceInfo("mps", "no Apple GPU (MPS)", False))
    return found


def library_versions() -> dict[str, str | None]:
    """The inference libraries' versions (None: not installed)."""
    return {"torch": devices.installed_torch_version(), "openvino": openvino_version(), "ncnn": ncnn_version()}
