"""The address-space limit of this process (``ulimit -v``, ``prlimit --as``; set by many HPC
batch systems). It counts what is mapped, not what is used: torch and OpenCV each map
hundreds of MiB of libraries and thread buffers when they start."""

from __future__ import annotations


def address_space_limit() -> int | None:
    """The soft address-space limit in bytes; None when there is none, or where the system
    has no such limit (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else int(soft)
