"""Errors of kernel estimation and per-image SR (user-facing, one line)."""

from __future__ import annotations

from sr_desktop.engine.core.errors import SRDesktopError


class KernelError(SRDesktopError):
    """Bad input for kernel estimation / ZSSR (image too small, bad kernel file or option)."""
