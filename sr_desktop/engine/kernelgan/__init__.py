"""KernelGAN blind kernel estimation, kernel utilities, synthetic set and scorer."""

from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.kernelgan.train import FAST_PRESET, KernelEstimate, KernelGANOptions, estimate_kernel

__all__ = ["FAST_PRESET", "KernelError", "KernelEstimate", "KernelGANOptions", "estimate_kernel"]
