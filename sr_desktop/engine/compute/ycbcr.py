"""ITU-R BT.601 studio-range YCbCr as MATLAB's ``rgb2ycbcr`` / ``ycbcr2rgb``.

The constants are shared with the metrics (`engine.metrics.color`, which evaluates on
this Y); the conversions serve the Y-channel models of the early SR literature, which
upscale Y and leave Cb/Cr to bicubic, on torch tensors and (run without torch) numpy arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: rows: Y, Cb, Cr; applied to R, G, B in 0..1, giving values on the 0..255 scale
BT601_MATRIX = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=np.float64,
)
BT601_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)


def _apply(x, matrix: np.ndarray, offset: np.ndarray):
    if isinstance(x, np.ndarray):
        m, b = matrix.astype(x.dtype), offset.astype(x.dtype).reshape(1, 3, 1, 1)
        return np.einsum("ij,njhw->nihw", m, x) + b
    import torch

    m = torch.as_tensor(matrix, dtype=x.dtype, device=x.device)
    b = torch.as_tensor(offset, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return torch.einsum("ij,njhw->nihw", m, x) + b


def rgb_to_ycbcr(rgb: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """N×3×H×W RGB in 0..1 (a tensor or an array) -> YCbCr divided by 255 (Y in
    16/255..235/255), unclipped."""
    return _apply(rgb, BT601_MATRIX / 255.0, BT601_OFFSET / 255.0)


def ycbcr_to_rgb(ycc: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """The inverse of `rgb_to_ycbcr` (N×3×H×W, both on the 0..1 scale), unclipped."""
    inverse = np.linalg.inv(BT601_MATRIX / 255.0)
    return _apply(ycc, inverse, -inverse @ (BT601_OFFSET / 255.0))
