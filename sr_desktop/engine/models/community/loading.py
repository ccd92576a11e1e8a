"""A checkpoint the project's own architectures do not know, loaded through spandrel.

Reading: the file is read by the project's own reader (``custom._read_state_dict``:
``torch.load(weights_only=True)`` or safetensors, plain tensors only) and the tensors are
handed to spandrel's architecture registry. spandrel's own file reader is not used: for a
``.pt`` it tries ``torch.jit.load``, which runs TorchScript code.

Checks before anything is allocated, as for the project's architectures
(`engine.models.archs.detect`): the tensors may not claim more data than the file stores
(`check_stored_sizes`); spandrel first builds the network on the ``meta`` device (no
memory) under the weights budget of `MAX_PARAMETERS`, and the real build runs under the
same budget (the only check for the few architectures that read tensor values while they
are built, e.g. DAT's split sizes: they cannot be built on meta).

Purposes: super-resolution and 1× restoration models are accepted (a 1× model is a ×1 step
of the upscale chain); face restoration and inpainting are refused with a line naming what
the file is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from sr_desktop.engine.core.errors import ModelError, one_line
from sr_desktop.engine.core.options import MAX_SCALE
from sr_desktop.engine.core.quiet_warnings import warnings_ignored
from sr_desktop.engine.core.weight_file import refuse_non_finite
from sr_desktop.engine.models.archs.detect import (
    MAX_PARAMETERS,
    UnsupportedStateDict,
    check_stored_sizes,
    check_weight_types,
    weights_budget,
)
from sr_desktop.engine.models.community.importer import family_of, spandrel_registry
from sr_desktop.engine.models.community.licence import architecture_licence
from sr_desktop.engine.models.community.model import SpandrelModel, recommended_tile

StateDict = dict[str, torch.Tensor]

#: what spandrel's purposes are called in a message
PURPOSE_WORDS = {"SR": "super-resolution", "Restoration": "1× restoration",
                 "FaceSR": "face-restoration", "Inpainting": "inpainting"}
#: the purposes SR Desktop runs
ACCEPTED_PURPOSES = ("SR", "Restoration")
WHAT_WE_RUN = "SR Desktop runs super-resolution and 1× restoration models"


class NotCommunity(ModelError):
    """spandrel does not recognise the state dict either."""


@dataclass(frozen=True)
class CommunityCheckpoint:
    """A checked spandrel descriptor of a file, with what the registry entry records."""

    descriptor: Any

    @property
    def arch(self) -> str:
        """spandrel's architecture id (``"HAT"``)."""
        return str(self.descriptor.architecture.id)

    @property
    def licence(self) -> str:
        """The architecture's licence line (``""`` for spandrel's own, permissive ones)."""
        return architecture_licence(self.descriptor.architecture)

    def params(self) -> dict[str, Any]:
        """What spandrel tells of the network, as plain JSON data."""
        d = self.descriptor
        req = d.size_requirements
        return {
            "purpose": d.purpose, "tags": list(d.tags),
            "input_channels": int(d.input_channels), "output_channels": int(d.output_channels),
            "size_requirements": {"minimum": int(req.minimum), "multiple_of": int(req.multiple_of),
                                  "square": bool(req.square)},
            "tiling": d.tiling.name.lower(),
            "supports_half": bool(d.supports_half), "supports_bfloat16": bool(d.supports_bfloat16),
        }


class _SchedulesOnCpu(TorchFunctionMode):
    """Inside a ``meta`` build, ``torch.linspace`` without a device stays on the CPU: the
    transformers (SwinIR, HAT, DAT, …) read their stochastic-depth schedule from it with
    ``.item()`` (a few numbers, not weights), which a meta tensor cannot give."""

    FACTORIES = (torch.linspace,)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in self.FACTORIES and kwargs.get("device") is None:
            kwargs["device"] = "cpu"
        return func(*args, **kwargs)


def _weights_and_buffers(module: torch.nn.Module) -> int:
    return sum(t.numel() for t in module.parameters()) + sum(t.numel() for t in module.buffers())


@contextlib.contextmanager
def _budget(arch: str, state: StateDict) -> Iterator[None]:
    """The project's weights budget around a spandrel build (one line when exceeded); the
    architectures' own construction warnings (``torch.meshgrid`` indexing, …) are not the
    user's business and stay off the terminal."""
    with weights_budget(arch, 2 * len(state) + 64), warnings_ignored(UserWarning):
        yield


def _load_descriptor(spandrel: Any, registry: Any, state: StateDict, path: Path) -> Any:
    """spandrel's descriptor of `state`, or `NotCommunity`; errors of a build are one line."""
    name = path.name
    # meta first: a crafted file whose shapes imply a huge network is refused for free
    meta_state = {k: torch.empty(v.shape, dtype=v.dtype, device="meta") for k, v in state.items()}
    try:
        with _budget("spandrel", state), torch.device("meta"), _SchedulesOnCpu():
            meta = registry.load(meta_state)
    except spandrel.UnsupportedModelError:
        raise NotCommunity(f"{name}: no known layer names (also none of spandrel's)") from None
    except UnsupportedStateDict as exc:
        raise ModelError(f"cannot use model file {path}: {exc}") from None
    except Exception:  # noqa: BLE001 - builds that read tensor values cannot run on meta
        meta = None
    if meta is not None:
        _refuse_purpose(meta, name)
        size = _weights_and_buffers(meta.model)
        if size > MAX_PARAMETERS:
            raise ModelError(f"cannot use model file {path}: {meta.architecture.id} with "
                             f"{size:,} weights is not a plausible network")
    try:
        with _budget("spandrel", state):
            return registry.load(state)
    except spandrel.UnsupportedModelError:
        raise NotCommunity(f"{name}: no known layer names (also none of spandrel's)") from None
    except UnsupportedStateDict as exc:
        raise ModelError(f"cannot use model file {path}: {exc}") from None
    except RuntimeError as exc:
        raise ModelError(f"cannot use model file {path}: {_state_dict_error(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - spandrel's inference on a damaged file
        # (its layer names are known to spandrel; "IndexError: tuple index out of range" alone
        # said nothing of what is wrong)
        known = f" as a {meta.architecture.id}" if meta is not None else ""
        raise ModelError(f"cannot use model file {path}: spandrel knows its layer names but cannot build "
                         f"it{known} (a tensor of an unexpected shape: a damaged or edited file?): "
                         f"{one_line(exc)}") from None


def _state_dict_error(exc: RuntimeError) -> str:
    """``load_state_dict``'s error as one line naming the first bad tensor (and both shapes)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict for"):
        arch = lines[0].removeprefix("Error(s) in loading state_dict for").strip(" :")
        detail = lines[1].split(". ")[0] if lines[1].startswith("size mismatch") else lines[1]
        return f"{arch} weights do not fit: {detail[:300]}"
    return one_line(exc)


def _refuse_purpose(descriptor: Any, name: str) -> None:
    purpose = str(descriptor.purpose)
    if purpose in ACCEPTED_PURPOSES:
        return
    what = PURPOSE_WORDS.get(purpose, purpose)
    raise ModelError(f"{name} is a {descriptor.architecture.id} {what} model; {WHAT_WE_RUN}")


def read_community_checkpoint(path: Path, state: StateDict) -> CommunityCheckpoint:
    """Recognise and build `state` (read from `path`) with spandrel.

    Raises `NotCommunity` when spandrel does not know it, `CommunityUnavailable` when
    spandrel is not installed, `ModelError` (one line) for a file it knows but refuses.
    """
    spandrel, registry = spandrel_registry()
    try:
        check_stored_sizes(state)
    except UnsupportedStateDict as exc:
        raise ModelError(f"cannot use model file {path}: {exc}") from None
    state = dict(spandrel.canonicalize_state_dict(state))
    descriptor = _load_descriptor(spandrel, registry, state, path)
    _refuse_purpose(descriptor, path.name)
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise ModelError(f"{path.name} is a {descriptor.architecture.id} model that needs more than an "
                         f"image; {WHAT_WE_RUN}")
    if not 1 <= int(descriptor.scale) <= MAX_SCALE:
        raise ModelError(f"{path.name} is a ×{descriptor.scale} {descriptor.architecture.id} model; "
                         f"the app runs scales 1..{MAX_SCALE}")
    built = descriptor.model.state_dict()
    try:  # (the build casts them: an int32 file was added and ran, as our own architectures refuse)
        check_weight_types(descriptor.architecture.id, built, state)
    except UnsupportedStateDict as exc:
        raise ModelError(f"cannot use model file {path}: {exc}") from None
    refuse_non_finite(built, path)
    return CommunityCheckpoint(descriptor.eval())


def describe_community_file(path: Path, state: StateDict) -> dict[str, Any]:
    """What `custom.detect_model_file` reports for a spandrel checkpoint, plus the
    ``family`` (``"spandrel:HAT"``), ``license`` and ``recommended_tile`` of its entry."""
    checkpoint = read_community_checkpoint(path, state)
    scale = int(checkpoint.descriptor.scale)
    return {"arch": checkpoint.arch, "scale": scale, "scales": [scale], "params": checkpoint.params(),
            "family": family_of(checkpoint.arch), "license": checkpoint.licence,
            "recommended_tile": recommended_tile(checkpoint.descriptor)}


def load_community_model(path: Path, state: StateDict, model_id: str) -> SpandrelModel:
    """The `SRModel` of a spandrel checkpoint (see `read_community_checkpoint`)."""
    return SpandrelModel(read_community_checkpoint(path, state).descriptor, model_id)
