"""KernelGAN blind kernel estimation, kernel utilities, synthetic set and scorer.

The estimator (torch) is imported on first use of its names: the window's kernel panel and
the CLI need the package's errors and options long before, or without, an estimate.
"""

from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.kernelgan.options import FAST_PRESET, KernelGANOptions

__all__ = ["FAST_PRESET", "KernelError", "KernelEstimate", "KernelGANOptions", "estimate_kernel"]

_FROM_TRAIN = ("KernelEstimate", "estimate_kernel")


def __getattr__(name: str):
    if name in _FROM_TRAIN:
        from sr_desktop.engine.kernelgan import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
