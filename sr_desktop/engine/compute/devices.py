"""Device and precision selection, memory queries, and torch's thread count for a block
(`torch_threads`).

``auto`` picks CUDA, then Apple MPS, then the CPU. Precision ``auto`` is fp16 on CUDA for
models that support it and fp32 everywhere else (fp16 convolutions on the CPU are slow or
unsupported in torch, and MPS fp16 is not reliable for every op these models use).

torch is imported by the functions that need it, not by this module: work that never
touches a tensor (the Pillow resamplers, `HOST_CPU`) runs in a process that never pays
torch's 1.3 s import.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import sys
from typing import TYPE_CHECKING

import psutil

from sr_desktop.engine.core.errors import DeviceError, message_of
from sr_desktop.engine.core.options import DEVICE_CHOICES, PRECISION_CHOICES, parse_device, parse_precision
from sr_desktop.engine.core.text import counted, human_bytes

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEVICE_CHOICES", "HOST_CPU", "PRECISION_CHOICES", "HostCPU", "VulkanGPU", "auto_device_is_cpu_without_torch",
    "cpu_name", "cpu_signature", "describe_device", "empty_cache", "free_memory_bytes", "host_fp32_requested",
    "installed_torch_version", "is_out_of_memory", "process_rss_bytes", "resolve_device", "resolve_precision",
    "torch_default_threads", "torch_threads", "why_auto_device_is_cpu",
]


class HostCPU:
    """The CPU as the device of models that run without torch (Pillow's resamplers).

    It answers what code asks of a ``torch.device("cpu")`` — ``type``, ``index``, ``str``,
    equality with it — without importing torch.
    """

    type = "cpu"
    index = None

    def __init__(self, threads: int | None = None) -> None:
        #: the threads the work runs on, when it is a runtime's (None: Pillow's own)
        self.threads = threads

    def __str__(self) -> str:
        return "cpu"

    def __repr__(self) -> str:
        return "HostCPU()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostCPU) or (getattr(other, "type", other) == "cpu"
                                              and getattr(other, "index", None) is None)

    def __hash__(self) -> int:
        return hash("cpu")


HOST_CPU = HostCPU()


class VulkanGPU:
    """A GPU that the ncnn runtime drives through Vulkan (`Device.VULKAN`): the device of zoo
    models run there. Torch never sees it; code that asks ``type`` gets ``"vulkan"``, which
    is neither the CPU nor CUDA (tiles of the model's recommended size, as on the CPU)."""

    type = "vulkan"

    def __init__(self, index: int, name: str, kind: str = "discrete") -> None:
        self.index = index
        #: the driver's device name (``AMD Radeon RX 7600``, ``llvmpipe (LLVM 15.0.6, 256 bits)``)
        self.name = name
        #: discrete | integrated | virtual | software (a CPU behind a Vulkan driver: lavapipe)
        self.kind = kind

    def __str__(self) -> str:
        return f"vulkan:{self.index}"

    def __repr__(self) -> str:
        return f"VulkanGPU({self.index}, {self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VulkanGPU) and other.index == self.index

    def __hash__(self) -> int:
        return hash(("vulkan", self.index))


@functools.lru_cache(maxsize=1)
def installed_torch_version() -> str | None:
    """``torch.__version__`` read from the installed package's metadata (no import)."""
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


#: where a GPU driver torch can use shows itself: NVIDIA's (WSL's: /dev/dxg; Jetson's
#: nvgpu), and AMD's ROCm (/dev/kfd: distributions build ROCm torch without a version tag);
#: without any of them an untagged or CUDA build of torch finds no GPU
GPU_DRIVER_PATHS = ("/proc/driver/nvidia", "/dev/nvidiactl", "/dev/dxg", "/dev/nvhost-ctrl-gpu", "/dev/nvgpu",
                    "/dev/nvmap", "/dev/kfd")


def auto_device_is_cpu_without_torch() -> bool:
    """Whether ``--device auto`` is the CPU, told without importing torch
    (`why_auto_device_is_cpu`)."""
    return why_auto_device_is_cpu() is not None


def why_auto_device_is_cpu() -> str | None:
    """Why ``--device auto`` is the CPU, told without importing torch, or None when torch has
    to be asked (`resolve_device`): a CPU-only torch build (version tag ``+cpu``: neither
    CUDA nor MPS), or on Linux a CUDA build (tag ``+cuNNN``, or none: the package index's
    default build) on a machine without a GPU driver — the common case of a laptop or a
    server without an NVIDIA GPU, which imported torch on every start only to learn that.
    Any GPU driver present (`GPU_DRIVER_PATHS`: NVIDIA's, AMD's ROCm) means asking torch."""
    version = installed_torch_version() or ""
    if version.endswith("+cpu"):
        return f"torch {version} is a CPU-only build"
    tag = version.partition("+")[2]
    if (version and sys.platform.startswith("linux") and (tag == "" or tag.startswith("cu"))
            and not any(os.path.exists(path) for path in GPU_DRIVER_PATHS)):
        return f"no GPU driver on this machine (torch {version} finds GPUs through NVIDIA's or ROCm's)"
    return None


CPUINFO = "/proc/cpuinfo"


def _cpuinfo_field(prefixes: tuple[str, ...], cpuinfo: str = CPUINFO) -> str | None:
    """The value of the first line of Linux's `cpuinfo` that starts with one of `prefixes`."""
    try:
        with open(cpuinfo, encoding="utf-8") as info:
            for line in info:
                if line.startswith(prefixes):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name(cpuinfo: str = CPUINFO) -> str:
    """The processor's marketing name ("Intel(R) Xeon(R) Processor"), else its architecture."""
    import platform

    return _cpuinfo_field(("model name",), cpuinfo) or platform.processor() or platform.machine() or "CPU"


@functools.cache
def cpu_signature(cpuinfo: str = CPUINFO) -> str:
    """The processor as far as speed goes: its name and a digest of its instruction-set flags.

    Names alone do not tell CPUs apart under a hypervisor ("AMD EPYC" for a whole family),
    and a backend choice measured on one CPU can be wrong on another: OpenVINO ran SPAN ×2 in
    0.78 of the ncnn runtime's time on an AVX-512 Xeon and in 1.05 of it on an AVX-512 EPYC,
    SRMD ×4 in 1.4 and 1.9 of it (128², docs/models.md, docs/backends.md).
    """
    import hashlib

    flags = " ".join(sorted((_cpuinfo_field(("flags", "Features"), cpuinfo) or "").split()))
    digest = hashlib.sha1(flags.encode()).hexdigest()[:10] if flags else "-"
    return f"{cpu_name(cpuinfo)} {digest}"


def host_fp32_requested(device, precision, *, auto_device_on_host: bool) -> bool:
    """Whether the user's `device` and `precision` choices ask for the host CPU in fp32, told
    without importing torch: device ``cpu`` (or ``auto`` where `auto_device_on_host`, or None)
    and precision ``fp32`` or ``auto``. A torch device object is never a choice of this kind.
    Raises `OptionError` for a name outside the choices."""
    if not (device is None or isinstance(device, str)):
        return False
    device = parse_device(device)
    return (device == "cpu" or (device == "auto" and auto_device_on_host)) and (
        parse_precision(precision) in ("auto", "fp32"))


def torch_default_threads() -> int:
    """The intra-op thread count torch starts with, without importing torch: like torch,
    ``MKL_NUM_THREADS`` over ``OMP_NUM_THREADS`` when set, else the physical cores — never
    more than those, as MKL caps it (``OMP_NUM_THREADS=4`` on 2 cores is 2 threads: keyed
    by 4, a warm run never found its measured choice and loaded torch, 1.25 s instead of
    0.37). (`tests/test_zoo_host.py` checks it against torch's own count.)"""
    cores = psutil.cpu_count(logical=False) or os.cpu_count() or 1
    for name in ("MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return min(int(value), cores)
    return cores


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a user choice (auto|cpu|cuda|cuda:N|mps) into an available `torch.device`."""
    import torch

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
            # a CPU-only torch on a machine with an NVIDIA card: "no GPU" sent users to their
            # hardware, where the cure is another torch build
            why = why_auto_device_is_cpu()
            cure = "install a CUDA build of torch, or use --device cpu or auto" if why and "CPU-only" in why else \
                "use --device cpu or auto"
            raise DeviceError(f"CUDA was requested but {why or 'no CUDA GPU is available'} ({cure})")
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"{name}: only {torch.cuda.device_count()} CUDA device(s) present")
        return device
    if name == "mps":
        if not _mps_available():
            raise DeviceError("MPS was requested but is not available on this machine")
        return torch.device("mps")
    if name.startswith("vulkan"):
        raise DeviceError("--device vulkan runs only the model zoo's ncnn models (the ncnn runtime on the GPU); "
                          "use --device cpu, cuda or mps for this one")
    raise DeviceError(f"unknown device {name!r} (choose from {', '.join(DEVICE_CHOICES)})")


def resolve_precision(precision: str, device: torch.device, supports_fp16: bool = True) -> torch.dtype:
    """Pick the compute dtype for `device` from a user choice (auto|fp32|fp16)."""
    import torch

    precision = (precision or "auto").lower()
    if precision not in PRECISION_CHOICES:
        raise DeviceError(f"unknown precision {precision!r} (choose from {', '.join(PRECISION_CHOICES)})")
    if precision == "fp32":
        return torch.float32
    if precision == "fp16":
        if device.type == "cpu":
            raise DeviceError("fp16 needs a GPU (CUDA or MPS; --device vulkan for the model zoo's models); "
                              "use --precision fp32 or auto on the CPU")
        return torch.float16
    if device.type == "cuda" and supports_fp16:
        return torch.float16
    return torch.float32


def torch_imported() -> bool:
    """Whether torch is imported and done importing: while another thread imports it (the
    window's `load_torch_soon`) it is in ``sys.modules`` already, and an ``import torch``
    waits for the rest (the window froze 1.2-2.9 s when a label asked then)."""
    module = sys.modules.get("torch")
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


def describe_device(device: torch.device | HostCPU | VulkanGPU | str) -> str:
    """A short human description: 'NVIDIA H100 80GB HBM3 (79 GB)', 'CPU (2 threads)' (torch's
    threads), 'CPU' for `HOST_CPU` (Pillow's resamplers), 'AMD Radeon RX 7600 (Vulkan 0)'."""
    if isinstance(device, HostCPU):
        return f"CPU ({counted(device.threads, 'thread')})" if device.threads else "CPU"
    if isinstance(device, VulkanGPU):
        software = ", software" if device.kind == "software" else ""
        return f"{device.name} (Vulkan {device.index}{software})"
    if isinstance(device, str) and device.startswith("vulkan"):
        # the choice, not yet a GPU: which one it is the ncnn runtime says (`ncnn_runner.vulkan_gpu`)
        return "Vulkan GPU" + (f" {device.partition(':')[2]}" if ":" in device else "")
    if device in ("cpu", "auto") and not torch_imported() and (
            device == "cpu" or auto_device_is_cpu_without_torch()):
        # told without loading torch (1.7 s of the window's start): the threads it will start with
        return f"CPU ({counted(torch_default_threads(), 'thread')})"
    import torch

    device = torch.device(device) if isinstance(device, str) and device != "auto" else (
        resolve_device("auto") if device == "auto" else device
    )
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{props.name} ({human_bytes(props.total_memory)})"  # (binary units: it said "GB")
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({counted(torch.get_num_threads(), 'thread')})"


def free_memory_bytes(device: torch.device) -> int:
    """Memory available for a job's working tensors on `device`."""
    if device.type == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return available_host_bytes()  # CPU and MPS (unified memory)


def available_host_bytes() -> int:
    """Memory the OS says is available to a new allocation on the host."""
    return int(psutil.virtual_memory().available)


def process_rss_bytes() -> int:
    """Resident memory of this process."""
    return int(psutil.Process(os.getpid()).memory_info().rss)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for the out-of-memory errors of CUDA, MPS and the CPU allocator."""
    torch = sys.modules.get("torch")  # not imported: no torch error can have been raised
    # (another thread still importing it: the module has no OutOfMemoryError yet, and an
    # Esc then was an AttributeError, 'unexpected error', instead of Cancelled)
    out_of_memory = getattr(torch, "OutOfMemoryError", None)
    if out_of_memory is not None and isinstance(exc, out_of_memory):
        return True
    if isinstance(exc, (RuntimeError, MemoryError)):
        text = message_of(exc).lower()
        # oneDNN's words when it cannot allocate a convolution's workspace (measured under a
        # 1 GB address-space limit: a whole-image 1500² pass failed with it, and so did the
        # next file) rather than torch's allocator error
        return ("out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
                or "could not create a primitive" in text)
    return False


def empty_cache(device: torch.device | HostCPU) -> None:
    """Return the cached blocks of a GPU's allocator to the driver (nothing on the CPU)."""
    if device.type not in ("cuda", "mps"):
        return
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif hasattr(torch, "mps"):
        torch.mps.empty_cache()


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` intra-op torch threads in this thread (None: unchanged),
    then restore the previous count (torch's setting is shared by threads started meanwhile,
    so nothing is set, or restored, when the count is already ``n``)."""
    if n is None:
        yield
        return
    import torch

    n, previous = max(1, int(n)), torch.get_num_threads()
    if previous == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
