"""Recognise a state dict: which architecture, which hyper-parameters, which scale.

The supported architectures are data: `ARCH_REGISTRY`, one `ArchSupport` entry per
architecture (its name, a cheap test of the key names, the inference of scale and
hyper-parameters, the module class, and its tiling settings). Adding an architecture is
one arch module plus one entry here.

`detect_architecture(state)` returns a `DetectedModel` whose ``state_dict`` is already in
the key layout of our module (old ESRGAN keys renamed, SPAN's training-form Conv3XC
folded) and whose `build()` returns the module with the weights loaded. Anything that
is not one of the supported architectures raises `UnknownArchitecture`; a recognised one
whose weights do not fit raises `UnsupportedStateDict` (both one line).

Safety: nothing is allocated for a checkpoint before its shapes are checked. The file may
not claim more data than it stores (`check_stored_sizes`), the inferred hyper-parameters
must be within `ARCH_LIMITS`, and the module is first built on the ``meta`` device (no
memory) under a budget of weight tensors and values (`MAX_PARAMETERS`); every tensor of the
file is compared with it before the real module is built.

Over 500 lines because the table of every supported architecture is one piece of data:
each entry's key test, hyper-parameter inference and checks sit together, and splitting
the table would split what a reviewer compares.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from sr_desktop.engine.models.archs import (
    csnln,
    ddbpn,
    edsr,
    enhancenet,
    espcn,
    fsrcnn,
    lapsrn,
    mdsr,
    prosr,
    rcan,
    rdn,
    rrdbnet,
    san,
    span,
    spsr,
    srcnn,
    srresnet,
    srvgg,
    vdsr,
)

StateDict = dict[str, torch.Tensor]
#: the containers of the weights in training tools' files, preferred in this order (BasicSR's
#: params_ema / params, its older params-ema; net_g; PyTorch's tutorial's model_state_dict)
_CONTAINER_KEYS = ("params_ema", "params-ema", "params", "state_dict", "model_state_dict", "model", "net_g", "net",
                   "generator")
#: prefixes a training wrapper puts before every key (ESRGAN trainers' netG.; a Lightning
#: module's model., when what follows is a name, not a Sequential's index)
_WRAPPER_PREFIXES = ("netG.", "model.")


class UnsupportedStateDict(ValueError):
    """The state dict is not one of the supported architectures (message says why)."""


class UnknownArchitecture(UnsupportedStateDict):
    """No supported architecture's layer names were found in the state dict."""


@dataclass(frozen=True)
class ArchSupport:
    """What the engine knows about one architecture.

    ``matches(state)``: a cheap test of the key names (the first matching entry wins).
    ``infer(state)``: ``(scale, params, state)`` with `state` in the module's key layout,
    or `UnsupportedStateDict`. ``module``: the class built with ``**params``.
    ``context``: input pixels of tile context for seamless tiles (``small_context(params)``
    may lower it for a shallower network); ``recommended_tile``: tile side in pixels;
    ``align(params)``: the input size multiple the module needs.

    Conventions of the network, applied by the wrapper that runs it
    (`engine.models.arch_model.ArchModel`): ``color`` "y" = a one-channel network of this
    architecture upscales Y of BT.601 YCbCr (Cb/Cr go bicubic), "rgb" = RGB in and out;
    ``input_range`` 1.0 or 255.0; ``pre_upsample``: the network's input is the
    bicubic-upscaled image (then ``context`` is in output pixels); ``supports_fp16``;
    ``tileable`` False when tiles are not independent whatever their context (global
    pooling): the engine then runs the whole image while memory allows.
    ``scales(scale, params)``: the scales these weights serve (pre-upsampling networks:
    ×2/×3/×4; a LapSRN pyramid: every level); ``forward_kwargs(scale, params)``: extra
    arguments of ``module(x, ...)`` to run at one of them. An ``infer`` that cannot know
    the scale (FSRCNN: the deconvolution's stride is not in the weights) returns 0.
    """

    name: str
    matches: Callable[[StateDict], bool]
    infer: Callable[[StateDict], tuple[int, dict[str, Any], StateDict]]
    module: Callable[..., nn.Module]
    context: int
    recommended_tile: int
    align: Callable[[dict[str, Any]], int] = lambda params: 1
    small_context: Callable[[dict[str, Any]], int | None] = lambda params: None
    color: str = "rgb"
    input_range: float = 1.0
    pre_upsample: bool = False
    supports_fp16: bool = True
    tileable: bool = True
    scales: Callable[[int, dict[str, Any]], tuple[int, ...]] = lambda scale, params: (scale,)
    forward_kwargs: Callable[[int, dict[str, Any]], dict[str, Any]] = lambda scale, params: {}

    def color_for(self, params: dict[str, Any]) -> str:
        """"y" when this network runs on the Y channel (one channel, ``color == "y"``)."""
        return "y" if self.color == "y" and params.get("num_channels", 3) == 1 else "rgb"

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

    @property
    def scales(self) -> tuple[int, ...]:
        """Every scale these weights serve (empty while the scale is unknown)."""
        return self.support.scales(self.scale, self.params) if self.scale else ()

    def set_scale(self, scale: int) -> None:
        """Give the scale that `infer` could not read from the weights (FSRCNN)."""
        self.scale = scale
        self.params["upscale"] = scale

    def build(self) -> nn.Module:
        """The module with the weights loaded, in eval mode, float32.

        Checks first, allocating nothing: the hyper-parameters against `ARCH_LIMITS`, then
        every tensor of the file against the module built on the ``meta`` device. Raises
        `UnsupportedStateDict` naming the first missing / unexpected / mismatching tensor.
        """
        check_hyperparameters(self.arch, self.params)
        factory = self.support.module
        budget = 2 * len(self.state_dict) + 64  # slack: the exact check below names the tensor
        try:
            with weights_budget(self.arch, budget), torch.device("meta"):
                expected = factory(**self.params).state_dict()
        except UnsupportedStateDict:
            raise
        except Exception:  # noqa: BLE001 - a module that computes values while it is built
            expected = None  # cannot be built on meta; the limits above bound the real build
        if expected is not None:
            check_state_fits(self.arch, expected, self.state_dict)
        with weights_budget(self.arch, budget):
            module = factory(**self.params)
        if expected is None:
            check_state_fits(self.arch, module.state_dict(), self.state_dict)
        check_weight_types(self.arch, module.state_dict(), self.state_dict)
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
    preferred over ``params``, then ``state_dict``, ``model``...; a dict whose only dict is
    the weights, whatever its name), strips DataParallel's ``module.`` and a wrapper's prefix
    shared by every key (``netG.``, ``model.``: `_WRAPPER_PREFIXES`).
    """
    for _ in range(3):  # containers nest at most a couple of levels in practice
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in _CONTAINER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            dicts = [value for value in obj.values() if isinstance(value, Mapping)]
            holds_tensors = any(isinstance(value, torch.Tensor) for value in obj.values())
            inner = dicts[0] if len(dicts) == 1 and not holds_tensors else None
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise UnsupportedStateDict("the file holds no dict of tensors")
    # (e.g. an 'iter' counter stored next to the weights is left out); DataParallel's module.
    # off each key that has it (an EMA's n_averaged beside module.* weights is then named as
    # the tensor that does not fit)
    state = {key.removeprefix("module.").removeprefix("module."): value for key, value in obj.items()
             if isinstance(key, str) and isinstance(value, torch.Tensor)}
    if not state:
        inside = sorted(str(key) for key, value in obj.items() if isinstance(value, Mapping))
        raise UnsupportedStateDict("the file holds no tensors" + (
            f" outside the dicts {', '.join(inside[:6])}{', …' if len(inside) > 6 else ''} (which holds the "
            "weights is not known)" if inside else ""))
    return _without_wrapper_prefixes(state)


def _without_wrapper_prefixes(state: StateDict) -> StateDict:
    for _ in range(len(_WRAPPER_PREFIXES) + 1):
        prefix = next((p for p in _WRAPPER_PREFIXES if all(key.startswith(p) for key in state)), None)
        if prefix is None:
            return state
        rest = [key[len(prefix):] for key in state]
        if prefix == "model." and all(name.split(".", 1)[0].isdigit() for name in rest):
            return state  # an nn.Sequential named "model" (the first ESRGAN's "model.0.weight")
        state = dict(zip(rest, state.values(), strict=True))
    return state


def detect_architecture(state: StateDict) -> DetectedModel:
    """Recognise one of the architectures of `ARCH_REGISTRY` (first match, in order).

    Raises `UnknownArchitecture` when none matches, `UnsupportedStateDict` when one matches
    but its tensors do not make a network of it (the message names the architecture).
    """
    check_stored_sizes(state)
    for support in ARCH_REGISTRY:
        if support.matches(state):
            check_no_empty_dimension(state)  # the detectors divide by channel counts
            try:
                scale, params, converted = support.infer(state)
            except UnsupportedStateDict as exc:
                raise UnsupportedStateDict(f"{support.name} layer names, but {exc}") from None
            check_rgb_channels(support, params)
            return DetectedModel(support.name, scale, params, converted)
    raise UnknownArchitecture("no known layer names")


def arch_support(name: str) -> ArchSupport:
    """The `ArchSupport` entry named `name` (KeyError if none)."""
    for support in ARCH_REGISTRY:
        if support.name == name:
            return support
    raise KeyError(name)


# -- safety: check before anything is allocated ---------------------------------------------

#: No published SR network comes near this many weights (EDSR 43 M, HAT-L 41 M, RRDBNet
#: 16.7 M); a checkpoint describing more is refused before anything is allocated.
MAX_PARAMETERS = 200_000_000
#: The largest value of an integer hyper-parameter without its own limit in `ARCH_LIMITS`
#: (published models stay far below: EDSR 256 features and 32 blocks, RCAN 10 groups of 20
#: blocks, SwinIR-L 240 channels and 9 stages of 6 layers).
GENERIC_MAX_HYPERPARAMETER = 1024
#: A file may claim more than it stores (tensors viewing one storage), up to this slack.
STORED_SLACK_BYTES = 1 << 20

#: Largest accepted hyper-parameters per architecture, far above every released model:
#: RRDBNet: ESRGAN / Real-ESRGAN / BSRGAN 64 features, 32 growth, 23 blocks (x4plus-anime 6);
#: unshuffle 2 / 4 for the ×2 / ×1 models. SRVGGNetCompact: 64 features, 32 convs
#: (realesr-general-x4v3; animevideov3 16). SPAN: 48 / 52 channels. Other parameters and
#: other architectures: `GENERIC_MAX_HYPERPARAMETER`; a new architecture may add its row.
ARCH_LIMITS: dict[str, dict[str, int]] = {
    "RRDBNet": {"num_in_ch": 4, "num_out_ch": 4, "num_feat": 256, "num_block": 64,
                "num_grow_ch": 128, "num_upsample": 4, "unshuffle": 4},
    "SRVGGNetCompact": {"num_in_ch": 4, "num_out_ch": 4, "num_feat": 256, "num_conv": 128,
                        "upscale": 8},
    "SPAN": {"num_in_ch": 4, "num_out_ch": 4, "feature_channels": 256, "upscale": 8},
    # SPSR: the release's 64 features, 23 RRDBs, 4 gradient stages, ×4 (2 stages)
    "SPSR": {"num_in_ch": 4, "num_out_ch": 4, "num_feat": 256, "num_block": 64, "num_grow_ch": 128,
             "num_upsample": 3, "num_grad_block": 16, "tap_every": 64},
    # EnhanceNet: the release's 64 features, 10 blocks, 2 nearest ×2 stages (×4)
    "EnhanceNet": {"num_in_ch": 4, "num_out_ch": 4, "num_feat": 256, "num_block": 64, "num_upsample": 3},
    # CSNLN: the release's 128 features, 12 recurrent steps (each step runs the whole SEM cell)
    "CSNLN": {"num_in_ch": 4, "num_out_ch": 4, "num_feat": 512, "depth": 64},
    # D-DBPN: the paper's n0 256, nr 64, 7 up-units; EDSR-PyTorch's 128, 32, 6
    "D-DBPN": {"num_in_ch": 4, "num_out_ch": 4, "n0": 1024, "nr": 256, "depth": 16, "upscale": 8},
}


def _dims(shape: Any) -> str:
    return "×".join(str(int(d)) for d in shape) or "scalar"


def check_stored_sizes(state: StateDict) -> None:
    """Refuse a file whose tensors claim far more values than it stores.

    A crafted file can declare a 4096×4096×3×3 weight over one stored number (a stride-0
    view); reading it costs nothing, but converting or copying it would allocate the
    claimed size. Storages shared by several tensors are counted once. Tensors on the meta
    device (shapes only, never read from a file) are left out: they hold no data to copy.
    """
    state = {k: t for k, t in state.items() if not t.is_meta}
    claimed = sum(t.numel() * t.element_size() for t in state.values())
    storages: dict[tuple[int, int], int] = {}
    for t in state.values():
        storage = t.untyped_storage()
        storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
    stored = sum(storages.values())
    if claimed <= 2 * stored + STORED_SLACK_BYTES:
        return
    worst = max(state, key=lambda k: state[k].numel() * state[k].element_size()
                - state[k].untyped_storage().nbytes())
    raise UnsupportedStateDict(
        f"the file's tensors claim {claimed / 1e6:.0f} MB but it stores {stored / 1e6:.1f} MB "
        f"(e.g. {worst} claims {_dims(state[worst].shape)}): a crafted or damaged file"
    )


def check_no_empty_dimension(state: StateDict) -> None:
    """Refuse a tensor with a zero-size dimension: no layer has zero channels or a zero
    kernel, and such a network crashed on its first pass (or its detection divided by 0)."""
    for key, tensor in state.items():
        if tensor.ndim and 0 in tensor.shape:
            raise UnsupportedStateDict(f"{key} has a zero-size dimension ({_dims(tensor.shape)}): "
                                       "a damaged or crafted file")


#: The constructor arguments that count an architecture's image channels (a new RGB
#: architecture names them so: `check_rgb_channels` reads no other, and a test holds every
#: RGB entry's module to one of them)
IMAGE_CHANNELS = ("num_in_ch", "num_out_ch", "num_channels")


def check_rgb_channels(support: ArchSupport, params: Mapping[str, Any]) -> None:
    """Refuse a grayscale or RGBA network of an architecture the app runs on RGB only (the
    Y-channel architectures take 1 channel or 3): it was added, then every image failed."""
    if support.color == "y":
        return
    counts = [params[name] for name in IMAGE_CHANNELS if name in params]
    if any(count != 3 for count in counts):
        arrow = "→".join(str(count) for count in counts)
        raise UnsupportedStateDict(
            f"a {support.name} with {arrow} image channels: the app runs {support.name} on RGB images "
            "(3 channels in and out); grayscale and RGBA networks are not supported")


def check_weight_types(arch: str, expected: StateDict, state: StateDict) -> None:
    """Refuse integer, boolean or complex values where the network has floating-point
    weights: they were cast without a word (bool weights made a white image)."""
    for key, tensor in state.items():
        reference = expected.get(key)
        if reference is not None and reference.is_floating_point() and not tensor.is_floating_point():
            raise UnsupportedStateDict(f"{arch} weight {key} holds {str(tensor.dtype).removeprefix('torch.')} "
                                       "values, not floating-point weights")


#: hyper-parameters that are not in the weights, so detection guesses them from the published
#: networks (EDSR's residual scaling: 0.1 at 256 features); a model trained here records its
#: own in its metadata, which the loader prefers (`custom._trained_params`)
GUESSED_PARAMS = frozenset({"res_scale"})


def check_guessed(params: Mapping[str, Any]) -> dict[str, float]:
    """The `GUESSED_PARAMS` in `params` that are finite numbers in (0, 10] (others dropped)."""
    import math

    kept = {}
    for name in GUESSED_PARAMS & params.keys():
        value = params[name]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and 0 < value <= 10:
            kept[name] = float(value)
    return kept


def check_hyperparameters(arch: str, params: Mapping[str, Any]) -> None:
    """Refuse hyper-parameters beyond `ARCH_LIMITS` (integers, also inside lists)."""
    limits = ARCH_LIMITS.get(arch, {})
    for name, value in params.items():
        for v in value if isinstance(value, (list, tuple)) else (value,):
            if isinstance(v, bool) or not isinstance(v, int):
                continue
            top = limits.get(name, GENERIC_MAX_HYPERPARAMETER)
            if not 0 <= v <= top:
                raise UnsupportedStateDict(
                    f"{arch} with {name}={v} is not a plausible network (accepted: 0..{top})"
                )


@contextlib.contextmanager
def weights_budget(arch: str, max_tensors: int) -> Iterator[None]:
    """Abort building a module (in this thread) past `max_tensors` weights or `MAX_PARAMETERS`.

    Counted as each parameter is registered, so a network far larger than its file is
    refused after a bounded amount of construction work, not after building all of it.
    """
    thread = threading.get_ident()
    seen: set[tuple[int, str]] = set()
    total = [0]

    def count(module: nn.Module, name: str, param: Any) -> None:
        if param is None or threading.get_ident() != thread or (id(module), name) in seen:
            return
        seen.add((id(module), name))
        total[0] += param.numel()
        if len(seen) > max_tensors:
            raise UnsupportedStateDict(
                f"{arch} with these hyper-parameters has over {max_tensors} weight tensors; "
                "the file is far smaller"
            )
        if total[0] > MAX_PARAMETERS:
            raise UnsupportedStateDict(
                f"{arch} with these hyper-parameters has over {MAX_PARAMETERS:,} weights "
                "(not a plausible network)"
            )

    handle = torch.nn.modules.module.register_module_parameter_registration_hook(count)
    try:
        yield
    finally:
        handle.remove()


def check_state_fits(arch: str, expected: Mapping[str, torch.Tensor], state: StateDict) -> None:
    """Compare the file's tensors with the module's (`expected`, e.g. on ``meta``): one line
    naming the first missing / unexpected tensor and how many, or the first shape mismatch."""
    in_file = getattr(state, "original", {})  # (a file read under other layer names)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            named = "in this app's layer names: " if in_file else ""
            parts.append(f"{len(missing)} tensor(s) missing from the file (first, {named}{missing[0]})"
                         if named else f"{len(missing)} tensor(s) missing from the file (first: {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensor(s) in the file (first: "
                         f"{in_file.get(unexpected[0], unexpected[0])})")
        raise UnsupportedStateDict(f"{arch} weights do not fit: " + "; ".join(parts))
    for key, want in expected.items():
        if tuple(state[key].shape) != tuple(want.shape):
            raise UnsupportedStateDict(
                f"{arch} weights do not fit: {in_file.get(key, key)} is {_dims(state[key].shape)} in the file, "
                f"{_dims(want.shape)} in the network"
            )


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
    if _matches_spsr(state):  # SPSR's generator holds an RRDBNet trunk in the same names
        return False
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


# -- the early CNNs: SRCNN, FSRCNN, ESPCN, VDSR, LapSRN --------------------------------

#: the scales of a network run on the bicubic-upscaled image (SRCNN, VDSR): the papers
#: train and report ×2, ×3 and ×4, and the weights cannot tell which
PRE_UPSAMPLE_SCALES = (2, 3, 4)


def _conv(state: StateDict, key: str, k: int | None = None, cin: int | None = None) -> tuple[int, int]:
    """(out, in) channels of a square conv weight, checking its kernel and input channels."""
    cout, cin_found, kh, kw = _shape(state, key, 4)
    if kh != kw or (k is not None and kh != k) or (cin is not None and cin_found != cin):
        raise UnsupportedStateDict(f"unexpected shape {tuple(state[key].shape)} of {key}")
    return cout, cin_found


def _indices(state: StateDict, pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for k in state if (m := re.match(pattern, k))})


def _infer_srcnn(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    n1, channels = _conv(state, "conv1.weight")
    n2, _ = _conv(state, "conv2.weight", cin=n1)
    _conv(state, "conv3.weight", cin=n2)
    if state["conv3.weight"].shape[0] != channels:
        raise UnsupportedStateDict("SRCNN conv3 does not give back the input channels")
    f1, f2, f3 = (state[f"conv{i}.weight"].shape[-1] for i in (1, 2, 3))
    params = dict(num_channels=channels, n1=n1, n2=n2, f1=f1, f2=f2, f3=f3)
    return max(PRE_UPSAMPLE_SCALES), params, state


def _infer_fsrcnn(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    d, channels = _conv(state, "first_part.0.weight", k=5)
    convs = _indices(state, r"mid_part\.(\d+)\.weight$")
    s_maps, _ = _conv(state, "mid_part.0.weight", k=1, cin=d)
    m = len(convs) // 2 - 2  # conv + PReLU pairs: shrink, m maps, expand
    if m < 0 or convs != list(range(2 * m + 4)):
        raise UnsupportedStateDict("FSRCNN mid_part is not conv/PReLU pairs")
    d_in, c_out, k, _ = _shape(state, "last_part.weight", 4)
    if (d_in, c_out, k) != (d, channels, 9):
        raise UnsupportedStateDict("FSRCNN deconvolution does not fit the first layer")
    # the stride (= scale) of the deconvolution is not stored: the caller gives it
    return 0, dict(num_channels=channels, d=d, s=s_maps, m=m), state


def _infer_espcn(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    n1, channels = _conv(state, "first_part.0.weight", k=5)
    n2, _ = _conv(state, "first_part.2.weight", k=3, cin=n1)
    out, _ = _conv(state, "last_part.0.weight", k=3, cin=n2)
    if out % channels:
        raise UnsupportedStateDict("ESPCN last conv channels do not fit the input channels")
    scale = _int_root(out // channels, "pixel-shuffle")
    return scale, dict(upscale=scale, num_channels=channels, n1=n1, n2=n2, activation="tanh"), state


def _vdsr_params(state: StateDict, mean_shift: bool) -> tuple[int, dict[str, Any], StateDict]:
    num_feat, channels = _conv(state, "head.weight", k=3)
    body = _indices(state, r"body\.(\d+)\.weight$")
    if body != list(range(len(body))):
        raise UnsupportedStateDict("VDSR convs are not numbered 0..N-1")
    params = dict(num_channels=channels, num_feat=num_feat, num_layers=len(body) + 2,
                  bias="head.bias" in state, mean_shift=mean_shift)
    return max(PRE_UPSAMPLE_SCALES), params, state


def _infer_vdsr(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """The common port (twtygqyy/pytorch-vdsr): ``input``, ``residual_layer.N.conv``, ``output``."""
    state = _rename(state, ((r"input\.(.*)", r"head.\1"),
                            (r"residual_layer\.(\d+)\.conv\.(.*)", r"body.\1.\2"),
                            (r"output\.(.*)", r"tail.\1")))
    return _vdsr_params(state, mean_shift=False)


def _infer_vdsr_edsr(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """EDSR-PyTorch's ``vdsr``: ``body.0.0`` … ``body.L.0`` plus ``sub_mean``/``add_mean``."""
    blocks = _indices(state, r"body\.(\d+)\.0\.weight$")
    if len(blocks) < 3 or blocks != list(range(len(blocks))):
        raise UnsupportedStateDict("EDSR-PyTorch VDSR blocks are not numbered body.0..body.L")
    last = blocks[-1]

    def block(m: re.Match[str]) -> str:
        i = int(m.group(1))
        return ("head." if i == 0 else "tail." if i == last else f"body.{i - 1}.") + m.group(2)

    rules = ((r"body\.(\d+)\.0\.(.*)", block), KEEP_KEY)
    return _vdsr_params(_rename(state, rules), mean_shift=True)


def _infer_lapsrn(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """twtygqyy/pytorch-LapSRN: ``conv_input``, per level k ``convt_F{k}.0.cov_block.N``,
    ``convt_I{k}`` (image upsampling), ``convt_R{k}`` (residual)."""
    state = _rename(state, (
        (r"convt_F(\d+)\.(?:0\.)?cov_block\.(.*)", lambda m: f"levels.{int(m[1]) - 1}.features.{m[2]}"),
        (r"convt_I(\d+)\.(.*)", lambda m: f"levels.{int(m[1]) - 1}.image_up.{m[2]}"),
        (r"convt_R(\d+)\.(.*)", lambda m: f"levels.{int(m[1]) - 1}.residual.{m[2]}"),
        KEEP_KEY,
    ))
    num_feat, channels = _conv(state, "conv_input.weight", k=3)
    levels = _indices(state, r"levels\.(\d+)\.image_up\.weight$")
    if not levels or levels != list(range(len(levels))):
        raise UnsupportedStateDict("LapSRN levels are not numbered 1..L")
    layers = _indices(state, r"levels\.0\.features\.(\d+)\.weight$")
    depth = len(layers) - 1
    if depth < 1 or layers != list(range(0, 2 * depth + 1, 2)):
        raise UnsupportedStateDict("LapSRN feature convs are not at even indices")
    if _shape(state, f"levels.0.features.{2 * depth}.weight", 4) != (num_feat, num_feat, 4, 4):
        raise UnsupportedStateDict("LapSRN level does not end with a 4×4 transposed conv")
    params = dict(num_levels=len(levels), depth=depth, num_feat=num_feat, num_channels=channels,
                  bias="conv_input.bias" in state)
    return 2 ** len(levels), params, state


def _lapsrn_scales(scale: int, params: dict[str, Any]) -> tuple[int, ...]:
    return tuple(2**k for k in range(1, params["num_levels"] + 1))


def _srcnn_keys(state: StateDict) -> bool:
    return set(state) == {f"conv{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")}


# -- the residual networks: SRResNet, MSRResNet, EDSR, MDSR, RDN, RCAN --------------------


def _numbered(state: StateDict, pattern: str, what: str) -> int:
    """N for keys numbered 0..N-1 by the first group of `pattern` (N ≥ 1)."""
    found = {int(m.group(1)) for k in state if (m := re.match(pattern, k))}
    if not found or found != set(range(len(found))):
        raise UnsupportedStateDict(f"{what} are not numbered 0..N-1")
    return len(found)


#: a last rule for `_rename` that keeps every key no earlier rule renamed
KEEP_KEY: tuple[str, Any] = (r".*", lambda m: m[0])


class RenamedState(dict):
    """A state dict under this app's layer names that remembers each key's name in the file
    (`original`), so that a refusal names the tensor the user can find in it."""

    def __init__(self, items: dict, original: dict[str, str]):
        super().__init__(items)
        self.original = original


def _rename(state: StateDict, rules: tuple[tuple[str, Any], ...]) -> StateDict:
    """Each key rewritten by the first rule whose pattern matches it whole (`re.sub` replacement)."""
    out, original = {}, {}
    for key, value in state.items():
        for pattern, repl in rules:
            if re.fullmatch(pattern, key):
                new = re.sub(pattern, repl, key)
                if new in out:
                    raise UnsupportedStateDict(f"more than one tensor for {new} (at {key})")
                out[new], original[new] = value, key
                break
        else:
            raise UnsupportedStateDict(f"unexpected tensor {key}")
    return RenamedState(out, original)


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
    if "sub_mean.weight" in state or any(k in state for k in ("head.0.weight", "add_mean.weight")):
        # (EDSR-PyTorch's names: its mean shifts must be there, else "missing conv_first"
        # named a layer of the other layout)
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

# -- SPSR's generator and D-DBPN ---------------------------------------------------------------

#: the official SPSR release's Get_gradient_nopadding kernels, stored as parameters in its netG
_SPSR_GRADIENT_KEYS = ("get_g_nopadding.weight_v", "get_g_nopadding.weight_h")


def _matches_spsr(state: StateDict) -> bool:
    official = "b_fea_conv.0.weight" in state and "f_HR_conv1.0.weight" in state
    return official or ("grad_conv_first.weight" in state and "fuse_block.rdb1.conv1.weight" in state)


def _spsr_official_rules(state: StateDict) -> tuple[tuple[str, Any], ...]:
    """Renaming rules for the release's netG: ``model.*`` is ESRGAN's old layout up to its
    first HR conv (``model.{3n+2}``, also stored as ``HR_conv0_new.0``); ``b_module`` holds
    the gradient branch's upsampler convs at ``3i+1`` and its HR convs at ``3n``, ``3n+2``."""
    top = _indices(state, r"model\.(\d+)\.weight$")
    n_up = (top[-1] - 2) // 3 if top else -1
    if n_up < 1 or top != [0, *range(3, 3 * n_up + 1, 3), 3 * n_up + 2]:
        raise UnsupportedStateDict(f"SPSR model.N layers {top} are not ESRGAN's trunk and upsampler")
    rdb = r"RDB(\d)\.conv(\d)\.0\.(weight|bias)"
    model = {0: "conv_first", 3 * n_up + 2: "conv_hr0"} | {3 * i + 3: f"conv_up{i + 1}" for i in range(n_up)}
    branch = {3 * n_up: "grad_hr0", 3 * n_up + 2: "grad_hr1"} | {3 * i + 1: f"grad_up{i + 1}" for i in range(n_up)}
    return (
        (rf"model\.1\.sub\.(\d+)\.{rdb}", r"body.\1.rdb\2.conv\3.\4"),
        (r"model\.1\.sub\.(\d+)\.(weight|bias)", r"conv_body.\2"),
        (r"model\.(\d+)\.(weight|bias)", lambda m: f"{model.get(int(m[1]), m[0])}.{m[2]}"),
        (r"HR_conv1_new\.0\.(weight|bias)", r"conv_hr1.\1"),
        (r"b_fea_conv\.0\.(weight|bias)", r"grad_conv_first.\1"),
        (rf"b_block_(\d+)\.{rdb}", lambda m: f"grad_blocks.{int(m[1]) - 1}.rdb{m[2]}.conv{m[3]}.{m[4]}"),
        (r"b_concat_(\d+)\.0\.(weight|bias)", lambda m: f"grad_fuse.{int(m[1]) - 1}.{m[2]}"),
        (r"b_LR_conv\.0\.(weight|bias)", r"grad_conv_body.\1"),
        (r"b_module\.(\d+)\.(weight|bias)", lambda m: f"{branch.get(int(m[1]), m[0])}.{m[2]}"),
        (r"conv_w\.0\.(weight|bias)", r"grad_out.\1"),
        (rf"f_block\.{rdb}", r"fuse_block.rdb\1.conv\2.\3"),
        (r"f_concat\.0\.(weight|bias)", r"fuse_conv.\1"),
        (r"f_HR_conv0\.0\.(weight|bias)", r"fuse_hr.\1"),
        (r"f_HR_conv1\.0\.(weight|bias)", r"conv_last.\1"),
    )


def _spsr_from_official(state: StateDict) -> StateDict:
    """The release's netG in our names: the gradient kernels (fixed, not learnt) are checked
    and dropped, and the second copy of the SR branch's first HR conv must equal the first."""
    state = dict(state)
    for key, want in zip(_SPSR_GRADIENT_KEYS, (spsr.DIFF_V, spsr.DIFF_H), strict=True):
        kernel = state.pop(key, None)
        if kernel is not None and (kernel.numel() != 9 or not torch.equal(kernel.float().reshape(3, 3),
                                                                          torch.tensor(want))):
            raise UnsupportedStateDict(f"{key} is not the paper's gradient operator")
    for part in ("weight", "bias"):
        copy = state.pop(f"HR_conv0_new.0.{part}", None)
        first = max(_indices(state, r"model\.(\d+)\.weight$"), default=0)
        if copy is not None and not torch.equal(copy, state.get(f"model.{first}.{part}", copy[:0])):
            raise UnsupportedStateDict(f"HR_conv0_new.0.{part} differs from model.{first}.{part}")
    return _rename(state, _spsr_official_rules(state))


def _infer_spsr(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """SPSR's generator in the official release's layout or ours. The taps of the SR branch
    are not in the weights: ``num_block // num_grad_block`` RRDBs apart (23 // 4 = 5, the
    release's blocks 5, 10, 15, 20)."""
    if "b_fea_conv.0.weight" in state:
        state = _spsr_from_official(state)
    num_feat, in_ch = _conv(state, "conv_first.weight", k=3)
    num_block = _numbered(state, r"body\.(\d+)\.", "RRDBs body.N")
    num_grad = _numbered(state, r"grad_blocks\.(\d+)\.", "gradient blocks")
    if num_grad > num_block:
        raise UnsupportedStateDict(f"{num_grad} gradient stages need as many RRDBs to tap, not {num_block}")
    ups = _indices(state, r"conv_up(\d+)\.weight$")
    num_up = len(ups)
    if not ups or ups != list(range(1, num_up + 1)):
        raise UnsupportedStateDict("upsampling convs are not numbered conv_up1..N")
    params = dict(num_in_ch=in_ch, num_out_ch=_shape(state, "conv_last.weight", 4)[0], num_feat=num_feat,
                  num_block=num_block, num_grow_ch=_shape(state, "body.0.rdb1.conv1.weight", 4)[0],
                  num_upsample=num_up, num_grad_block=num_grad, tap_every=max(1, num_block // num_grad))
    return 2**num_up, params, state


#: EDSR-PyTorch's DenseProjection: ``bottleneck.0/1`` and ``conv_K.0/1`` are our squeeze and projK
_DDBPN_EDSR_PYTORCH_KEYS: tuple[tuple[str, Any], ...] = (
    (r"initial\.([0-3])\.(weight|bias)",
     lambda m: f"{('conv_first', 'act_first', 'conv_reduce', 'act_reduce')[int(m[1])]}.{m[2]}"),
    (r"(up|down)modules\.(\d+)\.bottleneck\.([01])\.(weight|bias)",
     lambda m: f"{m[1]}.{m[2]}.{('squeeze', 'squeeze_act')[int(m[3])]}.{m[4]}"),
    (r"(up|down)modules\.(\d+)\.conv_([123])\.([01])\.(weight|bias)",
     lambda m: f"{m[1]}.{m[2]}.{('proj', 'act')[int(m[4])]}{m[3]}.{m[5]}"),
    (r"reconstruction\.0\.(weight|bias)", r"conv_last.\1"),
)


#: the official release (alterzero/DBPN-Pytorch, ``dbpn.py``): ``featK`` / ``upK`` / ``downK`` of
#: ConvBlock / DeconvBlock (``.conv`` or ``.deconv`` + ``.act``), dense units' 1×1 ``.conv``
_DDBPN_OFFICIAL_KEYS: tuple[tuple[str, Any], ...] = (
    (r"feat([01])\.(conv|act)\.(weight|bias)", lambda m: f"{m[2]}_{('first', 'reduce')[int(m[1])]}.{m[3]}"),
    (r"(up|down)(\d+)\.conv\.(conv|act)\.(weight|bias)",
     lambda m: f"{m[1]}.{int(m[2]) - 1}.{'squeeze' if m[3] == 'conv' else 'squeeze_act'}.{m[4]}"),
    (r"(up|down)(\d+)\.(?:up|down)_conv([123])\.(conv|deconv|act)\.(weight|bias)",
     lambda m: f"{m[1]}.{int(m[2]) - 1}.{'act' if m[4] == 'act' else 'proj'}{m[3]}.{m[5]}"),
    (r"output_conv\.conv\.(weight|bias)", r"conv_last.\1"),
)


def _matches_ddbpn(state: StateDict) -> bool:
    edsr_pytorch = "initial.0.weight" in state and "upmodules.0.conv_1.0.weight" in state
    return edsr_pytorch or ("feat0.conv.weight" in state and "up1.up_conv1.deconv.weight" in state)


def _reverse_blocks(weight: torch.Tensor, block: int) -> torch.Tensor:
    """`weight` with the blocks of `block` input channels in reverse order."""
    blocks = weight.shape[1] // block
    return weight.reshape(weight.shape[0], blocks, block, *weight.shape[2:]).flip(1).reshape(weight.shape)


def _infer_ddbpn(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """D-DBPN in EDSR-PyTorch's ``ddbpn`` layout (mean shifts, 0..255) or the official
    release's (0..1, no mean; one PReLU weight per layer); the scale from the projection
    kernel (6 / 8 / 12 → ×2 / ×4 / ×8). The release concatenates the newest unit's output
    first, ours the oldest: the input blocks of its dense 1×1 convs and of the
    reconstruction are put in our order."""
    if "feat0.conv.weight" in state:
        state = _rename(state, _DDBPN_OFFICIAL_KEYS)
        rgb_range, rgb_mean = 1.0, (0.0, 0.0, 0.0)
        nr = _conv(state, "conv_reduce.weight", k=1)[0]
        for key in [k for k in state if k.endswith(".squeeze.weight")] + ["conv_last.weight"]:
            if key in state and state[key].ndim == 4 and state[key].shape[1] % nr == 0:
                state[key] = _reverse_blocks(state[key], nr)
    else:
        state = dict(state)
        rgb_range, rgb_mean = _mean_shift(state)
        state = _rename(state, _DDBPN_EDSR_PYTORCH_KEYS)
    n0, in_ch = _conv(state, "conv_first.weight", k=3)
    nr, _ = _conv(state, "conv_reduce.weight", k=1, cin=n0)
    kernel = _shape(state, "up.0.proj1.weight", 4)[-1]
    scale = next((s for s, (k, _, _) in ddbpn.PROJECTION.items() if k == kernel), 0)
    if not scale:
        raise UnsupportedStateDict(f"projection kernel {kernel} is not one of D-DBPN's (6, 8, 12)")
    depth = _numbered(state, r"up\.(\d+)\.", "up-projection units")
    if _numbered(state, r"down\.(\d+)\.", "down-projection units") != depth - 1:
        raise UnsupportedStateDict(f"{depth} up-projection units need {depth - 1} down-projection units")
    params = dict(num_in_ch=in_ch, num_out_ch=_shape(state, "conv_last.weight", 4)[0], n0=n0, nr=nr, depth=depth,
                  upscale=scale, prelu_channels=_shape(state, "act_reduce.weight", 1)[0] > 1,
                  rgb_range=rgb_range, rgb_mean=rgb_mean)
    return scale, params, state


# -- EnhanceNet ----------------------------------------------------------------------------------

#: TensorFlow variables of the release's checkpoint (``generator/Conv_K/weights``, optionally ``:0``)
_TF_CONV = re.compile(r"generator/Conv(?:_(\d+))?/(weights|biases)(?::0)?")


def _enhancenet_from_tf(state: StateDict) -> StateDict:
    """The release's variables in our names: its convs in order are the first, two per
    residual block, one per nearest ×2 stage (two: the release is ×4), the HR conv and the
    last; kernels height × width × in × out become out × in × height × width."""
    convs: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        m = _TF_CONV.fullmatch(key)
        if m is None:
            raise UnsupportedStateDict(f"unexpected tensor {key}")
        convs.setdefault(int(m[1] or 0), {})[m[2]] = value
    n = len(convs)
    blocks, odd = divmod(n - 5, 2)
    if sorted(convs) != list(range(n)) or blocks < 1 or odd:
        raise UnsupportedStateDict(f"{n} convs generator/Conv…Conv_{n - 1} are not the release's 1 + 2·B + 4")
    names = ["conv_first", *(f"body.{b}.conv{j}" for b in range(blocks) for j in (1, 2)),
             "upsample.0", "upsample.1", "conv_hr", "conv_last"]
    out = {}
    for k, name in enumerate(names):
        kernel, bias = convs[k].get("weights"), convs[k].get("biases")
        if kernel is None or bias is None or kernel.ndim != 4:
            raise UnsupportedStateDict(f"generator/Conv_{k} lacks its 4-D weights or its biases")
        out[f"{name}.weight"], out[f"{name}.bias"] = kernel.permute(3, 2, 0, 1).contiguous(), bias
    return out


def _matches_enhancenet(state: StateDict) -> bool:
    ours = "conv_hr.weight" in state and "upsample.0.weight" in state and "body.0.conv1.weight" in state
    return ours or "generator/Conv/weights" in state or "generator/Conv/weights:0" in state


def _infer_enhancenet(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """EnhanceNet in our plain layout or the release's TensorFlow variable names."""
    if not any(k.startswith("conv_first.") for k in state):
        state = _enhancenet_from_tf(state)
    num_feat, in_ch = _conv(state, "conv_first.weight", k=3)
    num_up = _numbered(state, r"upsample\.(\d+)\.", "upsampling convs upsample.N")
    params = dict(num_in_ch=in_ch, num_out_ch=_shape(state, "conv_last.weight", 4)[0], num_feat=num_feat,
                  num_block=_numbered(state, r"body\.(\d+)\.", "residual blocks body.N"), num_upsample=num_up)
    if params["num_out_ch"] != in_ch:
        raise UnsupportedStateDict(f"{in_ch} input channels but {params['num_out_ch']} out: no bicubic residual")
    return 2**num_up, params, state


def _context_enhancenet(p: dict[str, Any]) -> int:
    # convs at the input's resolution, one input pixel per nearest ×2 stage (its conv and its
    # rounding), one for the two convs at the output's; the bicubic path reaches 2
    return 1 + 2 * p["num_block"] + p["num_upsample"] + 1


# -- ProSR ---------------------------------------------------------------------------------------


def _rate(state: StateDict, pattern: str, what: str) -> float:
    """The compression rate r of the 1×1 convs matching `pattern`: the release makes
    ``int(r · c_in)`` channels; the roundest r (tenths, then hundredths) that gives every
    one of them (-1 when there are none)."""
    pairs = [_conv(state, k, k=1) for k in sorted(state) if re.fullmatch(pattern, k)]
    if not pairs:
        return -1.0
    for rate in [k / 10 for k in range(1, 11)] + [k / 100 for k in range(1, 101)]:
        if all(int(rate * c_in) == c_out for c_out, c_in in pairs):
            return rate
    raise UnsupportedStateDict(f"no one {what} rate gives the compressions {pairs}")


def _infer_prosr(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """ProSR (residual DCUs) or ProSRs (dense blocks with compression) in the release's names:
    levels, DCUs and layers from the key numbering, widths from the shapes; the compression
    rates from the compressions' shapes (the meta-device build checks every shape)."""
    levels = _indices(state, r"init_conv_(\d+)\.conv\.1\.weight$")
    if levels != list(range(1, len(levels) + 1)):
        raise UnsupportedStateDict("input convs are not numbered init_conv_1..L")
    init, in_ch = _conv(state, "init_conv_1.conv.1.weight", k=3)
    residual = any(".residual_denseblock_" in k for k in state)
    block = "residual_denseblock" if residual else "denseblock"
    inner = "dense_block" if residual else "dense"
    config = []
    for k in levels:
        blocks = _indices(state, rf"pyramid_residual_{k}\.{block}_(\d+)\.")
        if blocks != list(range(1, len(blocks) + 1)):
            raise UnsupportedStateDict(f"level {k}'s dense blocks are not numbered {block}_1..N")
        config.append(tuple(len(_indices(state, rf"pyramid_residual_{k}\.{block}_{b}\.{inner}\.denselayer(\d+)\."))
                            for b in blocks))
    first = f"pyramid_residual_1.{block}_1.{inner}.denselayer1"
    growth, _ = _conv(state, f"{first}.conv_2.conv.1.weight", k=3)
    bottleneck, _ = _conv(state, f"{first}.conv_1.weight", k=1, cin=init)
    level_pattern = r"pyramid_residual_\d+\.compression_\d+\.conv1\.weight"
    to_init = all(state[k].shape[0] == init for k in state if re.fullmatch(level_pattern, k))
    level_comp = -1.0 if to_init else _rate(state, level_pattern, "level compression")
    block_comp = _rate(state, r"pyramid_residual_\d+\.denseblock_\d+\.comp\.conv1\.weight", "block compression")
    finals = [_shape(state, f"pyramid_residual_{k}.final_conv.final_conv.conv.1.weight", 4)[0] for k in levels]
    squeezed = [_shape(state, key, 4)[0] for k in levels
                if (key := f"pyramid_residual_{k}.final_conv.final_comp.conv1.weight") in state]
    params = dict(num_in_ch=in_ch, num_init_features=init, growth=growth, bn_size=max(1, bottleneck // growth),
                  level_config=tuple(config), residual=residual, res_factor=0.2 if residual else 1.0,
                  block_compression=block_comp, level_compression=level_comp,
                  max_num_feature=min(squeezed) if squeezed else max(finals), upscale=2 ** len(levels))
    return params["upscale"], params, state


def _context_prosr(p: dict[str, Any]) -> int:
    # each level's 3×3 convs (one per dense layer, the final conv, the upsampler's) at its
    # resolution, the input conv, the reconstruction conv; the bicubic path reaches 2
    radius = 1 + sum((sum(blocks) + 2) / 2**i for i, blocks in enumerate(p["level_config"]))
    return min(math.ceil(radius + 2 ** -len(p["level_config"])), DEEP_NET_CONTEXT)


# -- CSNLN ---------------------------------------------------------------------------------------

_CSNLN_DECONV = "SEM.multi_source_projection.upsample.0.weight"


def _infer_csnln(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """CSNLN in the release's names (``model_x*.pt``, mean shifts, 0..255): the scale from the
    projection kernel (6: ×2, or ×4 with a second projection; 9: ×3), the recurrent depth
    from the tail's input channels (the SEM cell's weights are shared by its steps)."""
    state = dict(state)
    rgb_range, rgb_mean = _mean_shift(state) if "sub_mean.weight" in state else (255.0, edsr.RGB_MEAN_DIV2K)
    num_feat, in_ch = _conv(state, "head.0.0.weight", k=3)
    kernel = _shape(state, _CSNLN_DECONV, 4)[-1]
    scale = {6: 4 if "SEM.multi_source_projection_2.upsample.0.weight" in state else 2, 9: 3}.get(kernel, 0)
    if not scale:
        raise UnsupportedStateDict(f"projection kernel {kernel} is not one of CSNLN's (6, 9)")
    tail_in = _shape(state, "tail.0.weight", 4)[1]
    if tail_in % num_feat:
        raise UnsupportedStateDict(f"the tail reads {tail_in} channels, not a multiple of {num_feat}")
    matched, _ = _conv(state, "SEM.multi_source_projection.down_attention.conv_match1.0.weight", k=1, cin=num_feat)
    if num_feat % matched:
        raise UnsupportedStateDict(f"attention embeds {num_feat} channels in {matched}")
    params = dict(num_in_ch=in_ch, num_out_ch=_shape(state, "tail.0.weight", 4)[0], num_feat=num_feat,
                  depth=tail_in // num_feat, reduction=num_feat // matched, upscale=scale, rgb_range=rgb_range,
                  rgb_mean=rgb_mean)
    return scale, params, state


# -- SAN ---------------------------------------------------------------------------------------

#: the release's (daitao/SAN, on EDSR-PyTorch) names: LSRAG ``RG.G`` of ``rcab.B.conv_first.0/2``,
#: ``soca.conv_du.0/2`` and ``conv_last``; the non-local block inside ``non_local.non_local``
_SAN_OFFICIAL_KEYS: tuple[tuple[str, Any], ...] = (
    _EDSR_PYTORCH_KEYS[0],
    (r"non_local\.non_local\.(theta|phi|g|W)\.(weight|bias)", r"non_local.\1.\2"),
    (r"RG\.(\d+)\.rcab\.(\d+)\.conv_first\.([02])\.(weight|bias)",
     lambda m: f"groups.{m[1]}.blocks.{m[2]}.{_RES_CONV[m[3]]}.{m[4]}"),
    (r"RG\.(\d+)\.soca\.conv_du\.([02])\.(weight|bias)",
     lambda m: f"groups.{m[1]}.attention.{('conv_down', '', 'conv_up')[int(m[2])]}.{m[3]}"),
    (r"RG\.(\d+)\.conv_last\.(weight|bias)", r"groups.\1.conv.\2"),
    (r"tail\.0\.(\d+)\.(weight|bias)", r"upsample.\1.\2"),
    (r"tail\.1\.(weight|bias)", r"conv_last.\1"),
    (r"gamma", r"gamma"),
)
#: tensors of the release that its forward never reads: the network's ``conv_last`` (the tail's
#: last conv is ``tail.1``), the non-local module's own SOCA, and each LSRAG's ``gamma``
_SAN_UNUSED = re.compile(r"conv_last\.(weight|bias)|non_local\.soca\..*|RG\.\d+\.gamma")


def _matches_san(state: StateDict) -> bool:
    official = "RG.0.rcab.0.conv_first.0.weight" in state and "non_local.non_local.theta.weight" in state
    return official or ("groups.0.attention.conv_down.weight" in state and "non_local.theta.weight" in state)


def _infer_san(state: StateDict) -> tuple[int, dict[str, Any], StateDict]:
    """SAN in the release's layout (``SAN_BIX*.pt``, mean shifts, 0..255) or ours; G, M, the
    reductions and the scale from the shapes."""
    if "RG.0.rcab.0.conv_first.0.weight" in state:
        state = {k: v for k, v in state.items() if not _SAN_UNUSED.fullmatch(k)}
        state, params = _edsr_family_layout(state, _SAN_OFFICIAL_KEYS)
    else:
        state, params = _edsr_family_layout(state, ())
    num_feat = params["num_feat"]
    squeezed, _ = _conv(state, "groups.0.attention.conv_down.weight", k=1, cin=num_feat)
    inter, _ = _conv(state, "non_local.theta.weight", k=1, cin=num_feat)
    if num_feat % squeezed:
        raise UnsupportedStateDict(f"second-order attention squeezes {num_feat} to {squeezed}")
    params.update(num_group=_numbered(state, r"groups\.(\d+)\.", "residual groups RG.G"),
                  num_block=_numbered(state, r"groups\.0\.blocks\.(\d+)\.", "residual blocks of group 0"),
                  reduction=num_feat // squeezed, inter_channels=inter,
                  upscale=_upsampler_scale(state, "upsample", num_feat))
    return params["upscale"], params, state


def _context_ddbpn(p: dict[str, Any]) -> int:
    # each projection conv reaches about kernel / (2·stride) + 1 input pixels further; a
    # unit has three, and the deepest path runs through all 2·depth − 1 units
    kernel, stride, _ = ddbpn.PROJECTION[p["upscale"]]
    radius = 1 + (2 * p["depth"] - 1) * 3 * (kernel / (2 * stride) + 1) + 1
    return min(math.ceil(radius), DEEP_NET_CONTEXT)


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
        name="SRCNN", matches=_srcnn_keys, infer=_infer_srcnn, module=srcnn.SRCNN,
        context=8, recommended_tile=256, color="y", pre_upsample=True,
        small_context=lambda p: (p["f1"] + p["f2"] + p["f3"] - 3) // 2,
        scales=lambda scale, p: PRE_UPSAMPLE_SCALES,
    ),
    ArchSupport(
        name="FSRCNN", infer=_infer_fsrcnn, module=fsrcnn.FSRCNN, context=9, recommended_tile=512,
        matches=lambda s: "first_part.1.weight" in s and "mid_part.0.weight" in s and "last_part.weight" in s,
        color="y", small_context=lambda p: p["m"] + 5,
    ),
    ArchSupport(
        name="ESPCN", infer=_infer_espcn, module=espcn.ESPCN, context=4, recommended_tile=512,
        matches=lambda s: "first_part.2.weight" in s and "last_part.0.weight" in s, color="y",
    ),
    ArchSupport(
        name="VDSR", infer=_infer_vdsr, module=vdsr.VDSR, context=20, recommended_tile=128,
        matches=lambda s: "input.weight" in s and "residual_layer.0.conv.weight" in s and "output.weight" in s,
        color="y", pre_upsample=True, small_context=lambda p: p["num_layers"],
        scales=lambda scale, p: PRE_UPSAMPLE_SCALES,
    ),
    ArchSupport(
        name="VDSR-EDSR", infer=_infer_vdsr_edsr, module=vdsr.VDSR, context=20, recommended_tile=128,
        matches=lambda s: "sub_mean.weight" in s and "body.0.0.weight" in s and "head.0.weight" not in s,
        input_range=255.0, pre_upsample=True, small_context=lambda p: p["num_layers"],
        scales=lambda scale, p: PRE_UPSAMPLE_SCALES,
    ),
    ArchSupport(
        name="LapSRN", infer=_infer_lapsrn, module=lapsrn.LapSRN, context=24, recommended_tile=256,
        matches=lambda s: "conv_input.weight" in s and "convt_I1.weight" in s,
        color="y", small_context=lambda p: 2 * p["depth"] + 4, scales=_lapsrn_scales,
        forward_kwargs=lambda scale, p: {"levels": scale.bit_length() - 1},
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
        small_context=_context_mdsr, scales=lambda scale, p: tuple(p["scales"]),
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
        context=DEEP_NET_CONTEXT, recommended_tile=512, small_context=_context_rcan, tileable=False,
    ),
    # the RRDB trunk sees as far as RRDBNet's; its fusion blocks run 128 channels at the
    # output's resolution (5× RRDBNet's memory per pixel): at RRDBNet's 256² tile, `auto`'s
    # first-use timing took over 8 minutes and 10 GB, whatever the image
    ArchSupport(
        name="SPSR", matches=_matches_spsr, infer=_infer_spsr, module=spsr.SPSRNet,
        context=DEEP_NET_CONTEXT, recommended_tile=128,
    ),
    ArchSupport(
        name="D-DBPN", infer=_infer_ddbpn, module=ddbpn.DDBPN, context=DEEP_NET_CONTEXT, recommended_tile=256,
        matches=_matches_ddbpn, small_context=_context_ddbpn,
    ),
    # second-order attention (covariance over the whole image) and non-local attention over
    # each quarter: tiles are not independent (tests/test_archs_san.py measures it); run whole
    ArchSupport(
        name="SAN", matches=_matches_san, infer=_infer_san, module=san.SAN, context=DEEP_NET_CONTEXT,
        recommended_tile=512, tileable=False, supports_fp16=False,
    ),
    ArchSupport(
        name="EnhanceNet", matches=_matches_enhancenet, infer=_infer_enhancenet, module=enhancenet.EnhanceNet,
        context=24, recommended_tile=256, small_context=_context_enhancenet,
    ),
    # the attentions see the whole input, so tiles are not exact (random weights: 23 dB tiled
    # vs whole, tests/test_archs_csnln.py), but their memory grows with the square of the
    # pixels (a 500 px image: a 62 GB score map): run in small tiles, as the release's own
    # evaluation does (--chop)
    ArchSupport(
        name="CSNLN", matches=lambda s: _CSNLN_DECONV in s and "SEM.post_conv.0.weight" in s, infer=_infer_csnln,
        module=csnln.CSNLN, context=DEEP_NET_CONTEXT, recommended_tile=64, supports_fp16=False,
        align=lambda p: 2 if p["upscale"] == 4 else p["upscale"],
    ),
    # one file serves every level of its pyramid (×2, ×4, ×8), like LapSRN
    ArchSupport(
        name="ProSR", matches=lambda s: "init_conv_1.conv.1.weight" in s and "reconst_1.final_conv.conv.1.weight" in s,
        infer=_infer_prosr, module=prosr.ProSR, context=DEEP_NET_CONTEXT, recommended_tile=256,
        small_context=_context_prosr, scales=lambda scale, p: tuple(2**k for k in range(1, len(p["level_config"]) + 1)),
        forward_kwargs=lambda scale, p: {"scale": scale},
    ),
)
ARCHITECTURES = tuple(support.name for support in ARCH_REGISTRY)
