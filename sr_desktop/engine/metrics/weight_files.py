"""Reading the weight files a user gives for the perceptual metrics (LPIPS, DISTS, VGG16).

The files are PyTorch pickles (``.pth`` / ``.pt``) read with ``torch.load(weights_only=True)``
only, so a file cannot run code. Every key the metric needs is checked for presence, shape
and finite values before a network is built; anything wrong is one line that names the file
and what is wrong with it. Nothing is ever downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from sr_desktop.engine.core.weight_file import WeightFileError, read_weight_file
from sr_desktop.engine.metrics.errors import EvaluationError

Shape = tuple[int, ...]


def _shape_text(shape: Iterable[int]) -> str:
    return "×".join(str(int(n)) for n in shape) or "a scalar"


def read_state_dict(path: str | os.PathLike, what: str) -> dict[str, torch.Tensor]:
    """The tensors of the state-dict file `path` (`what` names it in errors, e.g. "VGG16 weights")."""
    path = Path(path)
    try:
        state = read_weight_file(path, what)
    except WeightFileError as exc:
        raise EvaluationError(str(exc)) from None
    if not isinstance(state, Mapping) or not state:
        raise EvaluationError(f"{path} is not a state dict of tensors ({what} expected)")
    bad = next((k for k, v in state.items() if not isinstance(k, str) or not torch.is_tensor(v)), None)
    if bad is not None:
        raise EvaluationError(f"{path} is not a state dict of tensors ({what} expected): entry {bad!r}")
    return dict(state)


def check_layout(state: Mapping[str, torch.Tensor], expected: Mapping[str, Shape], path: str | os.PathLike,
                 what: str, ignored_prefixes: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """The `expected` tensors of `state` as float32, after checking every key and shape.

    A key of `state` that is not expected is an error unless it starts with one of
    `ignored_prefixes` (parts of a file the metric does not use, e.g. VGG16's classifier).
    """
    missing = [k for k in expected if k not in state]
    if missing:
        sample = ", ".join(list(state)[:3])
        raise EvaluationError(f"{path} is not {what}: it has no {missing[0]} "
                              f"({len(missing)} of {len(expected)} keys missing; its keys start {sample})")
    extra = [k for k in state if k not in expected and not k.startswith(ignored_prefixes)]
    if extra:
        raise EvaluationError(f"{path} is not {what}: unexpected key {extra[0]}"
                              f"{f' (and {len(extra) - 1} more)' if len(extra) > 1 else ''}")
    checked = {}
    for key, shape in expected.items():
        tensor = state[key]
        if tuple(tensor.shape) != tuple(shape):
            raise EvaluationError(f"{path} is not {what}: {key} is {_shape_text(tensor.shape)}, "
                                  f"expected {_shape_text(shape)}")
        if not tensor.is_floating_point():
            raise EvaluationError(f"{path}: {key} holds {tensor.dtype}, not floating-point weights")
        tensor = tensor.to(torch.float32)
        if not bool(torch.isfinite(tensor).all()):
            raise EvaluationError(f"{path}: {key} has NaN or infinite values")
        checked[key] = tensor
    return checked
