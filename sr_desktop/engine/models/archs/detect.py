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

from sr_desktop.engine.models.archs import edsr, mdsr, rcan, rdn, rrdbnet, span, srresnet, srvgg

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


# -- the residual networks: SRResNet, MSRResNet, EDSR, MDSR, RDN, RCAN --------------------


def _numbered(state: StateDict, pattern: str, what: str) -> int:
    """N for keys numbered 0..N-1 by the first group of `pattern` (N ≥ 1)."""
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    if not found or found != set(range(len(found))):
        raise UnsupportedStateDict(f"{what} are not numbered 0..N-1")
    return len(found)


def _rename(state: StateDict, rules: tuple[tuple[str, Any], ...]) -> StateDict:
    """Each key rewritten by the first rule whose pattern matches it whole (`re.sub` replacement)."""
    out = {}
    for key, value in state.items():
        for pattern, repl in rules:
            if re.fullmatch(pattern, key):
                new = re.sub(pattern, repl, key)
                if new in out:
                    raise UnsupportedStateDict(f"more than one tensor for {new} (at {key})")
                out[new] = value
                break
        else:
            raise UnsupportedStateDict(f"unexpected tensor {key}")
    return out


def _mean_shift(state: StateDict) -> tuple[float, tuple[float, ...]]:
    """Pop EDSR-PyTorch's ``sub_mean`` / ``add_mean`` 1×1 convs: ``(rgb_range, rgb_mean)``.

    They compute ``x ∓ rgb_range·mean``; only the identity weight (rgb_std 1, as in every
    released file) is supported, and the range is 255 or 1 (the bias holds range × mean).
    """
    try:
        sub_w, sub_b, add_w, add_b = (state.pop(k).double() for k in (
            "sub_mean.weight", "sub_mean.bias", "add_mean.weight", "add_mean.bias"))
    except KeyError:
        raise UnsupportedStateDict("sub_mean / add_mean incomplete") from None
    if sub_w.ndim != 4 or sub_w.shape[0] != sub_w.shape[1] or sub_w.shape != add_w.shape:
        raise UnsupportedStateDict("sub_mean / add_mean are not square 1×1 convs")
    eye = torch.eye(sub_w.shape[0], dtype=torch.float64).view_as(sub_w)
    if not (torch.allclose(sub_w, eye) and torch.allclose(add_w, eye)):
        raise UnsupportedStateDict("sub_mean / add_mean are not plain mean shifts (rgb_std ≠ 1)")
    if sub_b.shape != add_b.shape or not torch.allclose(sub_b, -add_b, rtol=1e-4, atol=1e-6):
        raise UnsupportedStateDict("sub_mean and add_mean disagree")
    rgb_range = 255.0 if add_b.sum().item() > 3 else 1.0
    return rgb_range, tuple(round(v, 6) for v in (add_b / rgb_range).tolist())


def _upsampler_scale(state: StateDict, prefix: str, num_feat: int) -> int:
    """The scale of an EDSR-style upsampler: convs at ``prefix.0``, ``.2``... each + shuffle."""
    convs = sorted(int(m.group(1)) for k in state if (m := re.match(rf"{re.escape(prefix)}\.(\d+)\.weight$", k)))
    if not convs or convs != list(range(0, 2 * len(convs), 2)):
        raise UnsupportedStateDict(f"{prefix} convs are not at {prefix}.0, .2, ...")
    factors = [_int_root(_shape(state, f"{prefix}.{i}.weight", 4)[0] / num_feat, f"{prefix}.{i}") for i in convs]
    return _sub_pixel_scale(factors, prefix)


def _sub_pixel_scale(factors: list[int], what: str) -> int:
    """The scale of sub-pixel stages shuffling by `factors`: one ×3, or ×2 stages."""
    if factors == [3] or set(factors) == {2}:
        return math.prod(factors)
    raise UnsupportedStateDict(f"{what} shuffles by {factors}, not one ×3 or ×2 stages")


def _upsampler_radius(scale: int) -> float:
    """Receptive radius, in input pixels, of the 3×3 convs of a pixel-shuffle upsampler."""
    radius, resolution = 0.0, 1
    for r in edsr.upsample_stages(scale):
        radius += 1 / resolution
        resolution *= r
    return radius


def _residual_context(lr_radius: float, hr_radius: float, scale: int) -> int:
    """Tile context: the receptive radius (convs at input resolution, the upsampler, convs
    at output resolution), capped at `DEEP_NET_CONTEXT`."""
    radius = lr_radius + _upsampler_radius(scale) + hr_radius / scale
    return min(math.ceil(radius), DEEP_NET_CONTEXT)


def _matches_srresnet(state: StateDict) -> bool:
    return "conv1.0.weight" in state and "trunk.0.rcb.0.weight" in state


def _infer_srresnet(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """SRResNet / SRGAN generator in the Lornatang/SRGAN-PyTorch layout."""
    num_feat, in_ch = _shape(state, "conv1.0.weight", 4)[:2]
    out_ch = _shape(state, "conv3.weight", 4)[0]
    num_block = _numbered(state, r"trunk\.(\d+)\.", "residual blocks trunk.N")
    stages = _numbered(state, r"upsampling\.(\d+)\.", "upsampling stages")
    factors = [_int_root(_shape(state, f"upsampling.{i}.upsample_block.0.weight", 4)[0] / num_feat,
                         f"upsampling.{i}") for i in range(stages)]
    scale = _sub_pixel_scale(factors, "upsampling")
    prelu = state["conv1.1.weight"].numel() if "conv1.1.weight" in state else 1
    params = dict(num_in_ch=in_ch, num_out_ch=out_ch, num_feat=num_feat, num_block=num_block,
                  upscale=scale, prelu_channels=prelu)
    return scale, params, state


def _matches_msrresnet(state: StateDict) -> bool:
    return "upconv1.weight" in state and "conv_hr.weight" in state and "body.0.conv1.weight" in state


def _infer_msrresnet(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """BasicSR's MSRResNet: ×4 has upconv2; otherwise upconv1's channels give ×2 or ×3."""
    num_feat, in_ch = _shape(state, "conv_first.weight", 4)[:2]
    r = _int_root(_shape(state, "upconv1.weight", 4)[0] / num_feat, "upconv1")
    scale = 4 if "upconv2.weight" in state and r == 2 else r
    if scale not in (2, 3, 4):
        raise UnsupportedStateDict(f"MSRResNet upconv1 shuffles by {r}")
    params = dict(num_in_ch=in_ch, num_out_ch=_shape(state, "conv_last.weight", 4)[0], num_feat=num_feat,
                  num_block=_numbered(state, r"body\.(\d+)\.", "residual blocks body.N"), upscale=scale)
    return scale, params, state


#: EDSR-PyTorch's ``ResBlock.body.0/2`` are our ``conv1/conv2``
_RES_CONV = {"0": "conv1", "2": "conv2"}
_EDSR_PYTORCH_KEYS: tuple[tuple[str, Any], ...] = (
    (r"head\.0\.(weight|bias)", r"conv_first.\1"),
    (r"body\.(\d+)\.body\.([02])\.(weight|bias)", lambda m: f"body.{m[1]}.{_RES_CONV[m[2]]}.{m[3]}"),
    (r"body\.\d+\.(weight|bias)", r"conv_after_body.\1"),
    (r"tail\.0\.(\d+)\.(weight|bias)", r"upsample.\1.\2"),
    (r"tail\.1\.(weight|bias)", r"conv_last.\1"),
)


def _matches_edsr(state: StateDict) -> bool:
    edsr_pytorch = "head.0.weight" in state and "tail.1.weight" in state and "body.0.body.0.weight" in state
    basicsr = "conv_after_body.weight" in state and "body.0.conv1.weight" in state
    return edsr_pytorch or basicsr


def _edsr_family_layout(state: StateDict, rules: tuple[tuple[str, Any], ...]
                        ) -> tuple[StateDict, dict[str, Any]]:
    """The state dict in our key layout and the params every EDSR-family module shares.

    EDSR-PyTorch / official files (with ``sub_mean``) are renamed by `rules`, their range
    and mean read from the mean shifts; BasicSR files use its img_range 255 and DIV2K mean.
    """
    rgb_range, rgb_mean = 255.0, edsr.RGB_MEAN_DIV2K
    if "sub_mean.weight" in state:
        state = dict(state)
        rgb_range, rgb_mean = _mean_shift(state)
        state = _rename(state, rules)
    num_feat, in_ch = _shape(state, "conv_first.weight", 4)[:2]
    params = dict(num_in_ch=in_ch, num_out_ch=_shape(state, "conv_last.weight", 4)[0], num_feat=num_feat,
                  rgb_range=rgb_range, rgb_mean=rgb_mean)
    return state, params


def _infer_edsr(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """EDSR in EDSR-PyTorch's layout (mean shifts as convs, 0..255) or BasicSR's.

    The residual scaling is not in the weights: 0.1 for 256-feature networks (the paper's
    full EDSR and BasicSR's EDSR-L), 1 otherwise (baseline, EDSR-M).
    """
    state, params = _edsr_family_layout(state, _EDSR_PYTORCH_KEYS)
    num_feat = params["num_feat"]
    scale = _upsampler_scale(state, "upsample", num_feat)
    params.update(num_block=_numbered(state, r"body\.(\d+)\.", "residual blocks body.N"), upscale=scale,
                  res_scale=0.1 if num_feat >= 256 else 1.0)
    return scale, params, state


_MDSR_EDSR_PYTORCH_KEYS = (
    *_EDSR_PYTORCH_KEYS[:3],
    (r"pre_process\.(\d+)\.(\d+)\.body\.([02])\.(\w+)",
     lambda m: f"pre_process.{m[1]}.{m[2]}.{_RES_CONV[m[3]]}.{m[4]}"),
    (r"upsample\.(\d+)\.(\d+)\.(weight|bias)", r"upsample.\1.\2.\3"),
    (r"tail\.0\.(weight|bias)", r"conv_last.\1"),
)


def _infer_mdsr(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """MDSR: the branch scales from the upsamplers' shapes; runs at the largest by default."""
    state, params = _edsr_family_layout(state, _MDSR_EDSR_PYTORCH_KEYS)
    branches = _numbered(state, r"upsample\.(\d+)\.", "upsample branches")
    scales = tuple(_upsampler_scale(state, f"upsample.{i}", params["num_feat"]) for i in range(branches))
    if len(set(scales)) != len(scales):
        raise UnsupportedStateDict(f"MDSR branches repeat a scale: {scales}")
    scale = max(scales)
    params.update(num_block=_numbered(state, r"body\.(\d+)\.", "residual blocks body.N"), scales=scales,
                  upscale=scale)
    return scale, params, state


def with_scale(detected: DetectedModel, scale: int) -> DetectedModel:
    """The same weights run at another of the network's scales (MDSR's branches, listed in
    ``params["scales"]``); a one-scale network accepts only its own. UnsupportedStateDict
    names the scales there are."""
    scales = tuple(detected.params.get("scales", (detected.scale,)))
    if int(scale) not in scales:
        raise UnsupportedStateDict(f"this {detected.arch} has scales {list(scales)}, not ×{scale}")
    params = {**detected.params, "upscale": int(scale)} if "scales" in detected.params else detected.params
    return DetectedModel(detected.arch, int(scale), params, detected.state_dict)


def _infer_rdn(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """RDN in EDSR-PyTorch's layout; D, C, G, G0 and the scale from the shapes."""
    g0, in_ch = _shape(state, "SFENet1.weight", 4)[:2]
    growth = _shape(state, "RDBs.0.convs.0.conv.0.weight", 4)[0]
    if "UPNet.4.weight" in state:
        scale = 2 * _int_root(_shape(state, "UPNet.0.weight", 4)[0] / growth, "UPNet.0")
        last = "UPNet.4.weight"
    else:
        scale = _int_root(_shape(state, "UPNet.0.weight", 4)[0] / growth, "UPNet.0")
        last = "UPNet.2.weight"
    if scale not in (2, 3, 4):
        raise UnsupportedStateDict(f"RDN upsampler of ×{scale}")
    params = dict(num_in_ch=in_ch, num_out_ch=_shape(state, last, 4)[0], g0=g0,
                  num_blocks=_numbered(state, r"RDBs\.(\d+)\.", "dense blocks RDBs.N"),
                  num_layers=_numbered(state, r"RDBs\.0\.convs\.(\d+)\.", "dense layers RDBs.0.convs.M"),
                  growth=growth, upscale=scale)
    return scale, params, state


#: the official RCAB's ``body.0/2`` (convs) and ``body.3.conv_du.0/2`` (attention) in BasicSR's names
_RCAB_PART = {"0": "0", "2": "2", "3.conv_du.0": "3.attention.1", "3.conv_du.2": "3.attention.3"}
_RCAN_OFFICIAL_KEYS = (
    _EDSR_PYTORCH_KEYS[0],
    (r"body\.(\d+)\.body\.(\d+)\.body\.(0|2|3\.conv_du\.[02])\.(\w+)",
     lambda m: f"body.{m[1]}.residual_group.{m[2]}.rcab.{_RCAB_PART[m[3]]}.{m[4]}"),
    (r"body\.(\d+)\.body\.\d+\.(weight|bias)", r"body.\1.conv.\2"),
    *_EDSR_PYTORCH_KEYS[2:],
)


def _matches_rcan(state: StateDict) -> bool:
    return ("body.0.body.0.body.3.conv_du.0.weight" in state
            or "body.0.residual_group.0.rcab.3.attention.1.weight" in state)


def _infer_rcan(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """RCAN in the official / EDSR-PyTorch layout (``RCAN_BIX*.pt``) or BasicSR's."""
    state, params = _edsr_family_layout(state, _RCAN_OFFICIAL_KEYS)
    num_feat = params["num_feat"]
    squeezed = _shape(state, "body.0.residual_group.0.rcab.3.attention.1.weight", 4)[0]
    if num_feat % squeezed:
        raise UnsupportedStateDict(f"channel attention squeezes {num_feat} to {squeezed}")
    scale = _upsampler_scale(state, "upsample", num_feat)
    params.update(num_group=_numbered(state, r"body\.(\d+)\.", "residual groups body.G"),
                  num_block=_numbered(state, r"body\.0\.residual_group\.(\d+)\.", "RCABs of group 0"),
                  squeeze_factor=num_feat // squeezed, upscale=scale, res_scale=1.0)
    return scale, params, state


#: Deep residual networks see far (RCAN's receptive radius is over 400 px) but depend on
#: little of it; their tiles get at most this context, as RRDBNet's 48 px (radius ≈ 350,
#: 51 dB tiled vs whole with real weights). Shallower ones get their whole radius. Tiled vs
#: whole with random weights, 96-px image, 32-px tiles, 48-px context: EDSR r32f64 (radius
#: 67) 107 dB, RDN D16 C8 (radius 132) 120 dB.
DEEP_NET_CONTEXT = 48


def _context_srresnet(p: dict[str, Any]) -> int:
    return _residual_context(4 + 2 * p["num_block"] + 1, 4, p["upscale"])


def _context_msrresnet(p: dict[str, Any]) -> int:
    # +1: the bilinear skip reads one input pixel around
    return _residual_context(1 + 2 * p["num_block"] + 1, 2, p["upscale"])


def _context_edsr(p: dict[str, Any]) -> int:
    return _residual_context(2 + 2 * p["num_block"], 1, p["upscale"])


def _context_mdsr(p: dict[str, Any]) -> int:
    # two 5×5 residual blocks of pre-processing add 8
    return _residual_context(10 + 2 * p["num_block"], 1, p["upscale"])


def _context_rdn(p: dict[str, Any]) -> int:
    return _residual_context(3 + p["num_blocks"] * p["num_layers"], 1, p["upscale"])


def _context_rcan(p: dict[str, Any]) -> int:
    return _residual_context(2 + p["num_group"] * (2 * p["num_block"] + 1), 1, p["upscale"])


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
    ArchSupport(
        name="SRResNet", matches=_matches_srresnet, infer=_infer_srresnet, module=srresnet.SRResNet,
        context=DEEP_NET_CONTEXT, recommended_tile=256, small_context=_context_srresnet,
    ),
    ArchSupport(
        name="MSRResNet", matches=_matches_msrresnet, infer=_infer_msrresnet, module=srresnet.MSRResNet,
        context=DEEP_NET_CONTEXT, recommended_tile=256, small_context=_context_msrresnet,
    ),
    # before EDSR: an MDSR in our key layout also has conv_after_body and body.N.conv1
    ArchSupport(
        name="MDSR", matches=lambda s: "pre_process.0.0.body.0.weight" in s or "pre_process.0.0.conv1.weight" in s,
        infer=_infer_mdsr, module=mdsr.MDSR, context=DEEP_NET_CONTEXT, recommended_tile=256,
        small_context=_context_mdsr,
    ),
    ArchSupport(
        name="EDSR", matches=_matches_edsr, infer=_infer_edsr, module=edsr.EDSR,
        context=DEEP_NET_CONTEXT, recommended_tile=256, small_context=_context_edsr,
    ),
    ArchSupport(
        name="RDN", matches=lambda s: "SFENet1.weight" in s and "RDBs.0.LFF.weight" in s, infer=_infer_rdn,
        module=rdn.RDN, context=DEEP_NET_CONTEXT, recommended_tile=256, small_context=_context_rdn,
    ),
    # channel attention pools over the whole tile, so no context makes tiles exact: random
    # weights give 22-33 dB tiled vs whole (tests/test_archs_residual.py); run it whole
    ArchSupport(
        name="RCAN", matches=_matches_rcan, infer=_infer_rcan, module=rcan.RCAN,
        context=DEEP_NET_CONTEXT, recommended_tile=512, small_context=_context_rcan,
    ),
)
ARCHITECTURES = tuple(support.name for support in ARCH_REGISTRY)
