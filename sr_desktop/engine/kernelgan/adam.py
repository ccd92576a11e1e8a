"""Adam (Kingma & Ba, 2015) for KernelGAN's two small networks, without `torch.optim`.

Why not `torch.optim.Adam`: constructing any `torch.optim` optimizer imports
`torch._dynamo` on first use (≈ 800 modules: sympy, the inductor, onnx). Done in the GUI's
worker thread, that import holds the GIL for up to a second at a time, which froze the
window for 170–720 ms per stall while an estimation started (measured: docs/kernelgan.md).
The update below performs the same tensor operations in the same order as PyTorch's
single-tensor CPU Adam (no weight decay, no AMSGrad), so seeded CPU runs are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    """m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε).

    ``lr`` is a plain attribute: the training schedule scales it in place.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr = float(lr)
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.steps = [0] * len(self.params)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self) -> None:
        """Drop the gradients (set them to None, as ``zero_grad(set_to_none=True)``)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            self.steps[i] += 1
            step = self.steps[i]
            m, v = self.exp_avg[i], self.exp_avg_sq[i]
            m.lerp_(grad, 1 - self.beta1)
            v.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
            step_size = self.lr / (1 - self.beta1**step)
            denom = (v.sqrt() / (1 - self.beta2**step) ** 0.5).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)
