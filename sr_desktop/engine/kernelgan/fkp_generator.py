"""KernelGAN-FKP's generator: the kernel is the frozen flow prior's image of a latent z,
k = FKP⁻¹(z), and only z is trained (Liang et al., CVPR 2021, §4.2).

It has KernelGAN's generator interface (`kernel()`, `forward(x, kernel=None)`, `shave()`,
`kernel_size`, `scale`, `reset_parameters()`; `parameters()` that require a gradient are just
z), so the estimation loop in train.py runs it unchanged. The flow's n×n kernel (11×11) is
zero-padded to KernelGAN's 13×13 support, so crops, the strided correlation and the
post-processing are the same as with the deep linear generator. Every kernel it can produce
is non-negative and sums to 1.

z starts at 0 (not drawn at random, as the paper's code does): measured on the synthetic set,
a random start, or z held on the sphere ‖z‖ = √d (the paper's spherical optimiser), let the
GAN game pull the kernel far outside the family (σ 3–4.5 px lines on chelsea, 25–30 dB);
starting at the centre with a small step (`KernelGANOptions.fkp_lr`) stays in it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.kernelgan.fkp import FlowKernelPrior
from sr_desktop.engine.kernelgan.generator import apply_kernel, collapsed_kernel_size


class FKPGenerator(nn.Module):
    """×1/scale downscaler whose kernel is ``prior.kernel_from_latent(z)``, padded to 13×13."""

    def __init__(self, prior: FlowKernelPrior, scale: int = 2):
        super().__init__()
        self.scale = int(scale)
        self.prior = prior.eval()
        for p in self.prior.parameters():
            p.requires_grad_(False)
        self.kernel_size = collapsed_kernel_size()
        self.pad = (self.kernel_size - prior.kernel_size) // 2
        if self.pad < 0 or prior.kernel_size + 2 * self.pad != self.kernel_size:
            raise ValueError(f"a {prior.kernel_size}×{prior.kernel_size} prior does not fit "
                             f"the {self.kernel_size}×{self.kernel_size} generator")
        self.z = nn.Parameter(torch.zeros(1, prior.dim))

    def reset_parameters(self) -> None:
        """z = 0: the centre of the prior's latent Gaussian (a typical, near-round kernel)."""
        with torch.no_grad():
            self.z.zero_()

    def kernel(self) -> torch.Tensor:
        """The 13×13 kernel FKP⁻¹(z) (differentiable in z)."""
        k = self.prior.kernel_from_latent(self.z)[0]
        return F.pad(k, (self.pad,) * 4)

    def shave(self) -> int:
        """Input pixels lost per side before the stride (12, as the linear generator)."""
        return self.kernel_size - 1

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """N×C×H×W -> N×C×h×w: correlation with the kernel, every `scale`-th pixel kept."""
        k = self.kernel() if kernel is None else kernel
        return apply_kernel(x, k, self.scale)
