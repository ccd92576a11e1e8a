"""ncnn's fused activations (a layer's param 9, with its param 10 values): what the graph's
layers and the fused CPU plan both run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sr_desktop.engine.models.ncnn.param import NcnnGraphError


@dataclass(frozen=True)
class Activation:
    """An activation: oneDNN post-op name + scalars, and the same as an in-place function."""

    attr: str | None  # None: oneDNN cannot fuse it, `apply` runs after the convolution
    scalars: tuple[float, ...]
    apply: Callable[[torch.Tensor], torch.Tensor]


def ncnn_activation(kind: int, params: list) -> Activation | None:
    """ncnn's fused activation `kind` with its `params` as an `Activation`; None for none,
    `NcnnGraphError` for a kind this interpreter does not run."""
    if kind == 0:
        return None
    if kind == 1:
        return Activation("relu", (), F.relu_)
    if kind == 2:
        slope = float(params[0]) if params else 0.0
        return Activation("leaky_relu", (slope,), lambda t: F.leaky_relu_(t, slope))
    if kind == 3:
        lo, hi = float(params[0]), float(params[1])
        return Activation("hardtanh", (lo, hi), lambda t: t.clamp_(lo, hi))
    if kind == 4:
        return Activation("sigmoid", (), torch.sigmoid_)
    if kind == 5:
        return Activation(None, (), F.mish)
    raise NcnnGraphError(f"activation type {kind} is not supported")
