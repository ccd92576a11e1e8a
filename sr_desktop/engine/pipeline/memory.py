"""Out of memory while upscaling one image: a clear error naming the file and the remedy."""

from __future__ import annotations

from sr_desktop.engine.compute import devices
from sr_desktop.engine.core.errors import SRDesktopError, message_of
from sr_desktop.engine.core.text import human_bytes
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.pipeline.scale_plan import ScalePlan

# What allocators say besides "out of memory" (torch's CPU allocator, libc, C++).
#: (OpenVINO's CPU plugin says "[CPU] Reorder node with name '…' can't alloc": it was one
#: file's "RuntimeError: Exception from src/inference/src/cpp/infer_request.cpp:224:")
_ALLOCATION_FAILURES = ("posix_memalign", "cannot allocate memory", "bad_alloc", "failed to allocate", "can't alloc")


class UpscaleMemoryError(SRDesktopError):
    """One image did not fit in memory; other images of the same run may."""


def is_allocation_failure(exc: BaseException) -> bool:
    """True for out-of-memory errors of the device, torch's CPU allocator and numpy."""
    if devices.is_out_of_memory(exc):
        return True
    text = message_of(exc).lower()
    return isinstance(exc, RuntimeError) and any(word in text for word in _ALLOCATION_FAILURES)


def estimated_bytes(image: Image, target_scale: int, plan: ScalePlan, native: int) -> int:
    """A lower bound on what upscaling ``image`` holds at once: the output, the 16-bit
    intermediate of every pass but the last, and a float32 copy of the largest input."""
    h, w, c = image.height, image.width, image.channels
    itemsize = image.pixels.dtype.itemsize
    total = h * w * c * itemsize + (h * target_scale) * (w * target_scale) * c * itemsize
    side = 1
    for _ in range(max(0, plan.passes - 1)):
        side *= native
        total += (h * side) * (w * side) * 3 * 2
    return total + (h * side) * (w * side) * 3 * 4


def memory_error(image: Image, needed: int, available: int | None = None) -> UpscaleMemoryError:
    """``out of memory upscaling NAME (needs about N GiB); try a smaller --tile, …``; where
    `needed` (tile-independent: the result and its intermediates) is more than the host's
    `available` memory (default: what the OS says now), only a smaller scale helps and the
    message says so (it named the tile, which changed nothing)."""
    name = image.path.name if image.path is not None else "the image"
    available = devices.available_host_bytes() if available is None else available
    if needed > available:
        return UpscaleMemoryError(
            f"out of memory upscaling {name} (the result needs about {human_bytes(needed)}, "
            f"{human_bytes(available)} free); "
            "try a smaller scale, or close other programs"
        )
    return UpscaleMemoryError(
        f"out of memory upscaling {name} (needs about {human_bytes(needed)}); try a smaller --tile, "
        "a smaller scale, or close other programs"
    )
