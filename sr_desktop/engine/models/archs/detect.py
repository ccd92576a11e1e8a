"""Recognise a state dict: which architecture, which hyper-parameters, which scale.

`detect_architecture(state)` returns a `DetectedModel` whose ``state_dict`` is already in
the key layout of our module (old ESRGAN keys renamed, SPAN's training-form Conv3XC
folded) and whose `build()` returns the module with the weights loaded. Anything that
is not one of the supported architectures raises `UnsupportedStateDict`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from sr_desktop.engine.models.archs import rrdbnet, span, srvgg

ARCHITECTURES = ("RRDBNet", "SRVGGNetCompact", "SPAN")
_CONTAINER_KEYS = ("params_ema", "params", "state_dict", "model", "net", "generator")


class UnsupportedStateDict(ValueError):
    """The state dict is not one of the supported architectures (message says why)."""


@dataclass
class DetectedModel:
    """An architecture recognised in a state dict."""

    arch: str
    scale: int
    params: dict[str, Any]
    state_dict: dict[str, torch.Tensor] = field(repr=False)

    def build(self) -> nn.Module:
        """The module with the weights loaded, in eval mode, float32."""
        builders = {"RRDBNet": rrdbnet.RRDBNet, "SRVGGNetCompact": srvgg.SRVGGNetCompact,
                    "SPAN": span.SPAN}
        module = builders[self.arch](**self.params)
        state = {k: v.float() for k, v in self.state_dict.items()}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[0]
            raise UnsupportedStateDict(f"{self.arch} weights do not fit: {first}") from None
        return module.eval()


def unwrap_state_dict(obj: Any) -> dict[str, torch.Tensor]:
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


def detect_architecture(state: dict[str, torch.Tensor]) -> DetectedModel:
    """Recognise RRDBNet (three key layouts), SRVGGNetCompact or SPAN."""
    if rrdbnet.is_esrgan_layout(state):
        try:
            state = rrdbnet.convert_esrgan_keys(state)
        except ValueError as exc:
            raise UnsupportedStateDict(f"ESRGAN-style keys but {exc}") from None
    elif rrdbnet.is_mmsr_layout(state):
        state = rrdbnet.convert_mmsr_keys(state)
    if "conv_first.weight" in state and "conv_body.weight" in state:
        return _detect_rrdbnet(state)
    if "body.0.weight" in state and "body.1.weight" in state:
        return _detect_srvgg(state)
    if "conv_cat.weight" in state and "upsampler.0.weight" in state:
        return _detect_span(state)
    raise UnsupportedStateDict("no known layer names")


def _shape(state: dict[str, torch.Tensor], key: str, ndim: int) -> tuple[int, ...]:
    t = state.get(key)
    if t is None or t.ndim != ndim:
        raise UnsupportedStateDict(f"missing or malformed {key}")
    return tuple(t.shape)


def _int_root(value: float, what: str) -> int:
    root = round(math.sqrt(value))
    if root < 1 or root * root != value:
        raise UnsupportedStateDict(f"{what} is not a square factor ({value})")
    return root


def _detect_rrdbnet(state: dict[str, torch.Tensor]) -> DetectedModel:
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
    return DetectedModel("RRDBNet", int(scale), params, state)


def _detect_srvgg(state: dict[str, torch.Tensor]) -> DetectedModel:
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
    return DetectedModel("SRVGGNetCompact", scale, params, state)


def _detect_span(state: dict[str, torch.Tensor]) -> DetectedModel:
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
    return DetectedModel("SPAN", scale, params, state)


def _fold_conv3xc(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
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
