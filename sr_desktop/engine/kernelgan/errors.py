"""Errors of kernel estimation and per-image SR (user-facing, one line).

`KernelError` lives in `sr_desktop.engine.core.errors` (the kernel file check in
`sr_desktop.engine.core.kernel_file` raises it below this package); it is re-exported here.
"""

from __future__ import annotations

from sr_desktop.engine.core.errors import KernelError

__all__ = ["KernelError"]
