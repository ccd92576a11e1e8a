"""The degradation y = D(x) of reconstruction-based SR, in torch (differentiable, any device).

Two operators, each equal to the project's NumPy degradation it stands for:

* `KernelDegradation`: `compute.degrade.degrade_with_kernel` — correlate each channel with
  the kernel (half-sample symmetric border, centre tap n//2), keep rows/columns 0, s, 2s…
* `BicubicDegradation`: `compute.matlab_resize.imresize(x, 1/s)` on floats — MATLAB's
  antialiased bicubic shrink, one dense weight matrix per axis.

Both are linear; their adjoints come from autograd.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sr_desktop.engine.compute.matlab_resize import resize_weights


def symmetric_indices(length: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    """Indices of a half-sample symmetric extension (… b a | a b … z | z y …), scipy's
    ``mode="reflect"``; any padding width (the pattern repeats with period 2·length)."""
    idx = torch.arange(-before, length + after, device=device) % (2 * length)
    return torch.where(idx < length, idx, 2 * length - 1 - idx)


class KernelDegradation:
    """``D(x) = (x ⋆ k)↓s`` on N×C×H×W tensors, exactly `degrade_with_kernel`."""

    def __init__(self, kernel: np.ndarray, scale: int, device: torch.device, dtype: torch.dtype = torch.float32):
        k = np.asarray(kernel, dtype=np.float64)
        self.scale = int(scale)
        self.size = k.shape[0]
        self.weight = torch.as_tensor(k, dtype=dtype, device=device)[None, None]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        before = self.size // 2
        after = self.size - 1 - before
        rows = symmetric_indices(h, before, after, x.device)
        cols = symmetric_indices(w, before, after, x.device)
        padded = x.index_select(2, rows).index_select(3, cols).reshape(n * c, 1, h + self.size - 1, -1)
        # a strided correlation computes only the kept pixels: same values as blur-then-subsample
        out = F.conv2d(padded, self.weight, stride=self.scale)
        return out.reshape(n, c, out.shape[2], out.shape[3])


class BicubicDegradation:
    """``D(x) = imresize(x, 1/s)``: MATLAB bicubic with antialiasing, rows then columns."""

    def __init__(self, scale: int, device: torch.device, dtype: torch.dtype = torch.float32):
        self.scale = int(scale)
        self.device = device
        self.dtype = dtype
        self._matrices: dict[int, torch.Tensor] = {}

    def _matrix(self, length: int) -> torch.Tensor:
        if length not in self._matrices:
            out = -(-length // self.scale)
            m = resize_weights(length, out, 1.0 / self.scale, antialias=True)
            self._matrices[length] = torch.as_tensor(m, dtype=self.dtype, device=self.device)
        return self._matrices[length]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        rows = self._matrix(x.shape[2])
        cols = self._matrix(x.shape[3])
        return torch.matmul(torch.matmul(rows, x), cols.T)
