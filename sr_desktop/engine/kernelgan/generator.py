"""KernelGAN's generator: a deep *linear* network (six bias-free convolutions, no
activations) whose last layer has stride 2. Being linear and shift-invariant, the whole
network is one correlation with a 13×13 kernel followed by keeping every 2nd pixel.

``collapse_kernel`` computes that kernel (differentiably) by pushing a single output
impulse backwards through the layers (the adjoint of each convolution), which costs a
few thousand multiply-adds instead of running the 64-channel network over every crop.
``KernelGenerator.forward`` can run either way; the results agree to float rounding and
the gradients reaching the weights are the same function, so training through the
collapsed kernel is an exact reparametrisation of the paper's generator, not a change.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: kernel sizes of the six layers (paper / official code)
G_STRUCTURE = (7, 5, 3, 1, 1, 1)
G_CHANNELS = 64


def collapsed_kernel_size(structure=G_STRUCTURE) -> int:
    """Support of the equivalent single kernel: 1 + Σ(k - 1) (13 for 7,5,3,1,1,1)."""
    return 1 + sum(k - 1 for k in structure)


def collapse_kernel(weights: list[torch.Tensor]) -> torch.Tensor:
    """The 2-D correlation kernel equivalent to a chain of bias-free convolutions.

    `weights` are the conv weights in forward order (first: C×1×k×k, last: 1×C×k×k).
    Returns a K×K tensor ``k`` with ``net(x)[i, j] == Σ k[u, v] x[i+u, j+v]`` (before the
    last layer's stride), i.e. the kernel in the ``degrade_with_kernel`` convention.
    """
    # Output impulse, pushed back through each layer's adjoint (a full convolution).
    response = torch.ones(1, 1, 1, 1, dtype=weights[-1].dtype, device=weights[-1].device)
    for w in reversed(weights):
        response = F.conv_transpose2d(response, w)
    return response[0, 0]


class KernelGenerator(nn.Module):
    """G of KernelGAN: RGB crops are fed as three grey images; output is ×1/scale."""

    def __init__(self, structure=G_STRUCTURE, channels: int = G_CHANNELS, scale: int = 2):
        super().__init__()
        self.scale = int(scale)
        self.structure = tuple(structure)
        layers = []
        for i, k in enumerate(self.structure):
            c_in = 1 if i == 0 else channels
            c_out = 1 if i == len(self.structure) - 1 else channels
            stride = self.scale if i == len(self.structure) - 1 else 1
            layers.append(nn.Conv2d(c_in, c_out, kernel_size=k, stride=stride, bias=False))
        self.layers = nn.ModuleList(layers)
        self.kernel_size = collapsed_kernel_size(self.structure)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Official initialisation: Xavier-normal with gain 0.1 on every layer."""
        for layer in self.layers:
            fan_in = layer.weight.shape[1] * layer.weight[0, 0].numel()
            fan_out = layer.weight.shape[0] * layer.weight[0, 0].numel()
            std = 0.1 * (2.0 / (fan_in + fan_out)) ** 0.5
            with torch.no_grad():
                layer.weight.normal_(0.0, std, generator=generator)

    def kernel(self) -> torch.Tensor:
        """The K×K correlation kernel G currently applies (differentiable)."""
        return collapse_kernel([layer.weight for layer in self.layers])

    def shave(self) -> int:
        """Input pixels lost per side before the stride (6 for 7,5,3,1,1,1)."""
        return self.kernel_size - 1

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The paper's forward pass through all six layers (slow reference path)."""
        n, c, h, w = x.shape
        y = x.reshape(n * c, 1, h, w)
        for layer in self.layers:
            y = layer(y)
        return y.reshape(n, c, y.shape[-2], y.shape[-1])

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """N×C×H×W -> N×C×h×w through the collapsed kernel (pass `kernel` to reuse one)."""
        k = self.kernel() if kernel is None else kernel
        return apply_kernel(x, k, self.scale)


def apply_kernel(x: torch.Tensor, kernel: torch.Tensor, scale: int) -> torch.Tensor:
    """Valid correlation of every channel with `kernel`, then keep every `scale`-th pixel."""
    n, c, h, w = x.shape
    y = F.conv2d(x.reshape(n * c, 1, h, w), kernel[None, None], stride=scale)
    return y.reshape(n, c, y.shape[-2], y.shape[-1])
