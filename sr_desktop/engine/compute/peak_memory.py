"""The peak resident memory one piece of work adds to this process, where the OS lets it
be measured.

Linux keeps a resettable high-water mark of the resident set: ``VmHWM`` in
``/proc/self/status``, reset to the current size by writing ``5`` to
``/proc/self/clear_refs``. So the peak of one call is exact, allocations freed before it
returns included. Before the baseline is read, glibc's ``malloc_trim`` hands freed heap back
to the OS: otherwise pages an earlier call freed would serve this one and its memory would
look free. Elsewhere (macOS, Windows) the peak is not measured: `PeakMemory.mib` stays None.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_mib(field: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # the kernel writes kB
    raise OSError(f"no {field} in {_STATUS}")


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def peak_memory_supported() -> bool:
    """Whether this process can measure the peak of one call (Linux with /proc)."""
    try:
        _status_mib("VmHWM")
    except OSError:
        return False
    return _reset_peak()


class PeakMemory:
    """``with PeakMemory() as peak: work()`` -> ``peak.mib``: the most resident memory (MiB)
    the work held above what the process held before it; None where it cannot be measured."""

    def __init__(self) -> None:
        self.mib: float | None = None
        self._base = 0.0

    def __enter__(self) -> PeakMemory:
        if peak_memory_supported():
            trim = _malloc_trim()
            if trim is not None:
                trim(0)
            self._base = _status_mib("VmRSS")
            _reset_peak()
        return self

    def __exit__(self, *_exc) -> None:
        if peak_memory_supported():
            self.mib = max(0.0, _status_mib("VmHWM") - self._base)
