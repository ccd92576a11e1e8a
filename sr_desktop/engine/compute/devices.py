"""Device and precision selection, and memory queries.

``auto`` picks CUDA, then Apple MPS, then the CPU. Precision ``auto`` is fp16 on CUDA for
models that support it and fp32 everywhere else (fp16 convolutions on the CPU are slow or
unsupported in torch, and MPS fp16 is not reliable for every op these models use).
"""

from __future__ import annotations

import os

import psutil
import torch

from sr_desktop.engine.core.errors import DeviceError
from sr_desktop.engine.core.options import DEVICE_CHOICES, PRECISION_CHOICES

__all__ = [
    "DEVICE_CHOICES", "PRECISION_CHOICES", "describe_device", "empty_cache", "free_memory_bytes",
    "is_out_of_memory", "process_rss_bytes", "resolve_device", "resolve_precision",
]


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a user choice (auto|cpu|cuda|cuda:N|mps) into an available `torch.device`."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available (use --device cpu or auto)")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"{name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return device
    if name == "mps":
        if not _mps_available():
            raise DeviceError("MPS was requested but is not available on this machine")
        return torch.device("mps")
    raise DeviceError(f"unknown device {name!r} (choose from {', '.join(DEVICE_CHOICES)})")


def resolve_precision(precision: str, device: torch.device, supports_fp16: bool = True) -> torch.dtype:
    """Pick the compute dtype for `device` from a user choice (auto|fp32|fp16)."""
    precision = (precision or "auto").lower()
    if precision not in PRECISION_CHOICES:
        raise DeviceError(f"unknown precision {precision!r} (choose from {', '.join(PRECISION_CHOICES)})")
    if precision == "fp32":
        return torch.float32
    if precision == "fp16":
        if device.type == "cpu":
            raise DeviceError("fp16 needs a GPU (CUDA or MPS); use --precision fp32 or auto on the CPU")
        return torch.float16
    if device.type == "cuda" and supports_fp16:
        return torch.float16
    return torch.float32


def describe_device(device: torch.device | str) -> str:
    """A short human description: 'NVIDIA H100 80GB HBM3 (79 GB)' or 'CPU (2 threads)'."""
    device = torch.device(device) if isinstance(device, str) and device != "auto" else (
        resolve_device("auto") if device == "auto" else device
    )
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GB)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def free_memory_bytes(device: torch.device) -> int:
    """Memory available for a job's working tensors on `device`."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    # CPU and MPS (unified memory): what the OS says is available.
    return int(psutil.virtual_memory().available)


def process_rss_bytes() -> int:
    """Resident memory of this process."""
    return int(psutil.Process(os.getpid()).memory_info().rss)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the out-of-memory errors of CUDA, MPS and the CPU allocator."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    if isinstance(exc, (RuntimeError, MemoryError)):
        text = str(exc).lower()
        return "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    return False


def empty_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()
