"""Recognise a state dict: which architecture, which hyper-parameters, which scale.

The supported architectures are data: `ARCH_REGISTRY`, one `ArchSupport` entry per
architecture (its name, a cheap test of the key names, the inference of scale and
hyper-parameters, the module class, and its tiling settings). Adding an architecture is
one arch module plus one entry here.

`detect_architecture(state)` returns a `DetectedModel` whose ``state_dict`` is already in
the key layout of our module (old ESRGAN keys renamed, SPAN's training-form Conv3XC
folded) and whose `build()` returns the module with the weights loaded. Anything that
is not one of the supported architectures raises `UnsupportedStateDict`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sr_desktop.engine.models.archs import rrdbnet, span, srvgg

StateDict = dict[str, torch.Tensor]
_CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model", "net", "generator")


class UnsupportedStateDict(ValueError):
    """The state dict is not one of the supported architectures (message says why)."""


@dataclass(frozen=True)
class ArchSupport:
    """What the engine knows about one architecture.

    ``matches(state)``: a cheap test of the key names (the first matching entry wins).
    ``infer(state)``: ``(scale, params, state)`` with `state` in the module's key layout,
    or `UnsupportedStateDict`. ``module``: the class built with ``**params``.
    ``context``: input pixels of tile context for seamless tiles (``small_context(params)``
    may lower it for a shallower network); ``recommended_tile``: tile side in pixels;
    ``align(params)``: the input size multiple the module needs.
    """

    name: str
    matches: Callable[[StateDict], bool]
    infer: Callable[[StateDict], tuple[int, dict[str, Any], StateDict]]
    module: Callable[..., nn.Module]
    context: int
    recommended_tile: int
    align: Callable[[dict[str, Any]], int] = lambda params: 1
    small_context: Callable[[dict[str, Any]], int | None] = lambda params: None

    def context_for(self, params: dict[str, Any]) -> int:
        """The tile context of this architecture with these hyper-parameters."""
        return self.small_context(params) or self.context


@dataclass
class DetectedModel:
    """An architecture recognised in a state dict."""

    arch: str
    scale: int
    params: dict[str, Any]
    state_dict: StateDict = field(repr=False)

    @property
    def support(self) -> ArchSupport:
        """The registry entry of this architecture."""
        return arch_support(self.arch)

    def build(self) -> nn.Module:
        """The module with the weights loaded, in eval mode, float32."""
        module = self.support.module(**self.params)
        state = {k: v.float() for k, v in self.state_dict.items()}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise UnsupportedStateDict(f"{self.arch} weights do not fit: {first}") from None
        return module.eval()


def unwrap_state_dict(obj: Any) -> StateDict:
    """Find the tensor dict inside a loaded checkpoint and strip ``module.`` prefixes.

    Accepts a plain ``{name: tensor}`` dict or the usual containers (``params_ema``
    preferred over ``params``, then ``state_dict``, ``model``...).
    """
    for _ in range(3):  # containers nest at most a couple of levels in practice
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise UnsupportedStateDict("the file holds no dict of tensors")
    state = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            continue  # e.g. an 'iter' counter stored next to the weights
        while key.startswith("module."):
            key = key[len("module."):]
        state[key] = value
    if not state:
        raise UnsupportedStateDict("the file holds no tensors")
    return state


def detect_architecture(state: StateDict) -> DetectedModel:
    """Recognise one of the architectures of `ARCH_REGISTRY` (first match, in order)."""
    for support in ARCH_REGISTRY:
        if support.matches(state):
            scale, params, converted = support.infer(state)
            return DetectedModel(support.name, scale, params, converted)
    raise UnsupportedStateDict("no known layer names")


def arch_support(name: str) -> ArchSupport:
    """The `ArchSupport` entry named `name` (KeyError if none)."""
    for support in ARCH_REGISTRY:
        if support.name == name:
            return support
    raise KeyError(name)


def _shape(state: StateDict, key: str, ndim: int) -> tuple[int, ...]:
    t = state.get(key)
    if t is None or t.ndim != ndim:
        raise UnsupportedStateDict(f"missing or malformed {key}")
    return tuple(t.shape)


def _int_root(value: float, what: str) -> int:
    root = round(math.sqrt(value))
    if root < 1 or root * root != value:
        raise UnsupportedStateDict(f"{what} is not a square factor ({value})")
    return root


def _matches_rrdbnet(state: StateDict) -> bool:
    return (rrdbnet.is_esrgan_layout(state) or rrdbnet.is_mmsr_layout(state)
            or ("conv_first.weight" in state and "conv_body.weight" in state))


def _infer_rrdbnet(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """RRDBNet in three key layouts (BasicSR, original ESRGAN, MMSR), with pixel-unshuffle."""
    if rrdbnet.is_esrgan_layout(state):
        try:
            state = rrdbnet.convert_esrgan_keys(state)
        except ValueError as exc:
            raise UnsupportedStateDict(f"ESRGAN-style keys but {exc}") from None
    elif rrdbnet.is_mmsr_layout(state):
        state = rrdbnet.convert_mmsr_keys(state)
    if not ("conv_first.weight" in state and "conv_body.weight" in state):
        raise UnsupportedStateDict("RRDBNet key layout without conv_first / conv_body")
    num_feat, in_ch = _shape(state, "conv_first.weight", 4)[:2]
    num_out_ch = _shape(state, "conv_last.weight", 4)[0]
    num_grow_ch = _shape(state, "body.0.rdb1.conv1.weight", 4)[0]
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.", k))}
    num_block = len(blocks)
    if blocks != set(range(num_block)):
        raise UnsupportedStateDict("RRDB blocks are not numbered 0..N-1")
    ups = {int(m.group(1)) for k in state if (m := re.match(r"conv_up(\d+)\.weight$", k))}
    num_up = len(ups)
    if ups != set(range(1, num_up + 1)):
        raise UnsupportedStateDict("upsample convs are not numbered conv_up1..N")
    if in_ch % num_out_ch:
        raise UnsupportedStateDict("conv_first input channels do not fit the output channels")
    unshuffle = _int_root(in_ch // num_out_ch, "pixel-unshuffle")
    scale = 2**num_up / unshuffle
    if scale != int(scale) or scale < 1:
        raise UnsupportedStateDict(f"non-integer scale {scale}")
    params = dict(num_in_ch=num_out_ch, num_out_ch=num_out_ch, num_feat=num_feat,
                  num_block=num_block, num_grow_ch=num_grow_ch, num_upsample=num_up,
                  unshuffle=unshuffle)
    return int(scale), params, state


def _infer_srvgg(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    num_feat, num_in_ch = _shape(state, "body.0.weight", 4)[:2]
    indices = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.", k))}
    last = max(indices)
    if last % 2 or last < 2 or indices != set(range(last + 1)):
        raise UnsupportedStateDict("SRVGG layers are not body.0..body.2N with PReLUs between")
    if state["body.1.weight"].ndim != 1:
        raise UnsupportedStateDict("body.1 is not a PReLU")
    out_ch = _shape(state, f"body.{last}.weight", 4)[0]
    if out_ch % num_in_ch:
        raise UnsupportedStateDict("last conv channels do not fit the input channels")
    scale = _int_root(out_ch // num_in_ch, "pixel-shuffle")
    params = dict(num_in_ch=num_in_ch, num_out_ch=num_in_ch, num_feat=num_feat,
                  num_conv=(last - 2) // 2, upscale=scale)
    return scale, params, state


def _infer_span(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    state = _fold_conv3xc(state)
    state.pop("mean", None)
    feature_channels = _shape(state, "conv_cat.weight", 4)[0]
    num_in_ch = _shape(state, "conv_1.eval_conv.weight", 4)[1]
    up_ch = _shape(state, "upsampler.0.weight", 4)[0]
    if up_ch % num_in_ch:
        raise UnsupportedStateDict("upsampler channels do not fit the input channels")
    scale = _int_root(up_ch // num_in_ch, "pixel-shuffle")
    params = dict(num_in_ch=num_in_ch, num_out_ch=num_in_ch, feature_channels=feature_channels,
                  upscale=scale, norm="no_norm" not in state)
    return scale, params, state


def _fold_conv3xc(state: StateDict) -> StateDict:
    """Replace every training-form Conv3XC (``P.sk``, ``P.conv.0..2``) by ``P.eval_conv``.

    The training branch is authoritative: the official code recomputes ``eval_conv``
    from it at every eval forward, so a stored ``eval_conv`` may be stale.
    """
    state = dict(state)
    prefixes = [k[: -len(".sk.weight")] for k in state if k.endswith(".sk.weight")]
    for p in prefixes:
        try:
            parts = [state.pop(f"{p}.{n}") for n in (
                "sk.weight", "sk.bias", "conv.0.weight", "conv.0.bias",
                "conv.1.weight", "conv.1.bias", "conv.2.weight", "conv.2.bias")]
        except KeyError:
            raise UnsupportedStateDict(f"incomplete Conv3XC {p}") from None
        weight, bias = span.collapse_conv3xc(*parts)
        state[f"{p}.eval_conv.weight"] = weight
        state[f"{p}.eval_conv.bias"] = bias
    return state


#: RRDBNets with few blocks (x4plus-anime has 6) see less: 62.4 dB at 24 px (57.0 at 16)
SMALL_RRDB_BLOCKS = 8
SMALL_RRDB_CONTEXT = 24

#: The supported architectures, tried in this order. Contexts measured with real weights,
#: 64-px tiles, tiled vs whole on a photo crop (``python tests/test_archs_real_weights.py``):
#: SRVGGNetCompact 80.7 dB at 12 px, SPAN 78.3 dB at 8 px; RRDBNet ≈51 dB at 48 px
#: (x4plus, 23 blocks).
ARCH_REGISTRY: tuple[ArchSupport, ...] = (
    ArchSupport(
        name="RRDBNet", matches=_matches_rrdbnet, infer=_infer_rrdbnet, module=rrdbnet.RRDBNet,
        context=48, recommended_tile=256, align=lambda p: p.get("unshuffle", 1),
        small_context=lambda p: SMALL_RRDB_CONTEXT if p["num_block"] <= SMALL_RRDB_BLOCKS else None,
    ),
    ArchSupport(
        name="SRVGGNetCompact", matches=lambda s: "body.0.weight" in s and "body.1.weight" in s,
        infer=_infer_srvgg, module=srvgg.SRVGGNetCompact, context=12, recommended_tile=512,
    ),
    ArchSupport(
        name="SPAN", matches=lambda s: "conv_cat.weight" in s and "upsampler.0.weight" in s,
        infer=_infer_span, module=span.SPAN, context=8, recommended_tile=384,
    ),
)
ARCHITECTURES = tuple(support.name for support in ARCH_REGISTRY)
