"""The network being trained: built from an architecture name or from an existing model,
and run in its *training space* (what its loss compares).

An architecture is named as ``ARCH[:key=value,...]`` — an `archs.detect.ARCH_REGISTRY`
name (or an alias such as ``EDSR-baseline``) with optional hyper-parameters of its module
(``EDSR:num_feat=32,num_block=4``). Every network is checked once when built: its state
dict must be recognised by `detect_architecture` as the same architecture at the same
scale, so what training exports is a file the app loads like any other.

Training space: a Y network (``color == "y"``) is trained on Y of BT.601 YCbCr (the
papers' protocol), every other network on RGB; values on the network's input range
(0..1 or 0..255) are rescaled to 0..1 in and out, and pre-upsampling networks (SRCNN,
VDSR) get MATLAB's bicubic upscale of the input as `ArchModel` gives them.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sr_desktop.engine.compute.ycbcr import rgb_to_ycbcr
from sr_desktop.engine.core.errors import SRDesktopError, UnsupportedModelFile, one_line
from sr_desktop.engine.models.arch_model import ArchModel, matlab_bicubic
from sr_desktop.engine.models.archs.detect import (
    UnsupportedStateDict,
    arch_support,
    check_guessed,
    check_hyperparameters,
    detect_architecture,
)
from sr_desktop.engine.models.archs.published_keys import published_keys
from sr_desktop.engine.training.arch_choices import ALIASES, SCRATCH_ARGUMENTS, TRAINABLE, log2_of
from sr_desktop.engine.training.errors import TrainingError

log = logging.getLogger(__name__)


def _value(text: str) -> Any:
    """A hyper-parameter value: int, float or bool, else the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_arch_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``"EDSR:num_feat=32,num_block=4"`` -> ``("EDSR", {...})`` (aliases resolved).

    Raises TrainingError for an architecture that cannot be trained or a malformed list.
    """
    name, _, rest = (text or "").strip().partition(":")
    lookup = {n.lower(): n for n in TRAINABLE}
    if name.lower() not in lookup:
        raise TrainingError(f"unknown or untrainable architecture {name!r}; use one of {', '.join(TRAINABLE)}")
    name = lookup[name.lower()]
    arch, preset = ALIASES.get(name, (name, {}))
    return arch, {**preset, **written_sizes(text)}


def written_sizes(text: str) -> dict[str, Any]:
    """The KEY=VALUE sizes written after the architecture's name in `text`, without an alias's
    presets (`parse_arch_spec` has both): what a fine-tuning (--init) must match, the model's
    own sizes being kept (``--arch Compact`` refused a Compact of 32 convs, the alias's 16)."""
    name, _, rest = (text or "").strip().partition(":")
    written = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise TrainingError(f"architecture option {item!r} is not KEY=VALUE (e.g. {name}:num_feat=32)")
        written[key.strip()] = _value(value)
    return written


@dataclass
class NetOutput:
    """One forward pass in training space: the image, a LapSRN's levels (×2, ×4, …), an
    SPSR gradient branch's SR gradient map."""

    sr: torch.Tensor
    levels: list[torch.Tensor] | None = None
    gradient: torch.Tensor | None = None


class TrainNet(nn.Module):
    """An architecture's module with its conventions, for training (see the module doc)."""

    def __init__(self, module: nn.Module, arch: str, scale: int, params: dict[str, Any]):
        super().__init__()
        self.module = module
        self.arch = arch
        self.scale = int(scale)
        self.params = dict(params)
        support = arch_support(arch)
        self.color = support.color_for(self.params)
        self.channels = 1 if self.color == "y" else 3
        self.input_range = float(support.input_range)
        #: what `--init` took from another scale's model ("23 of 23 tensors…"), "" otherwise
        self.init_note = ""
        #: whether layers start untrained or from another scale's (`--init` of another scale's
        #: model): they need the learning rate from scratch, not a fine-tuning's
        self.new_layers = False
        self.pre_upsample = support.pre_upsample
        self.forward_kwargs = support.forward_kwargs(self.scale, self.params)

    def to_space(self, rgb: torch.Tensor) -> torch.Tensor:
        """N×3×H×W RGB (0..1) -> the training space (Y or RGB, 0..1)."""
        return rgb_to_ycbcr(rgb)[:, :1] if self.color == "y" else rgb

    def forward(self, lr_rgb: torch.Tensor, scale: int | None = None) -> NetOutput:
        """The network's output for an LR batch; `scale` (default: the run's) is what a
        pre-upsampling network (SRCNN, VDSR) upscales its input by: any, for those.
        The input is prepared in float32 under mixed precision too (the Y conversion and
        the bicubic upsampling in bf16 were up to 1.5/255 off)."""
        with torch.autocast(lr_rgb.device.type, enabled=False):
            x = self.to_space(lr_rgb.float())
            if self.pre_upsample:
                x = matlab_bicubic(x, scale or self.scale)
        x = x * self.input_range
        r = self.input_range
        if self.arch == "LapSRN":
            levels = [y / r for y in self.module.pyramid(x, **self.forward_kwargs)]
            return NetOutput(levels[-1], levels=levels)
        if self.arch == "SPSR":
            sr, grad, _ = self.module.forward_all(x)
            return NetOutput(sr / r, gradient=grad / r)
        return NetOutput(self.module(x, **self.forward_kwargs) / r)

    def as_model(self, model_id: str = "training") -> ArchModel:
        """The engine's model for this module (eval mode; whole images, reflect borders)."""
        return ArchModel(self.module, self.arch, self.scale, model_id, align=arch_support(self.arch).align(self.params),
                         params=self.params)


def exported_state_dict(module: nn.Module, arch: str) -> dict[str, torch.Tensor]:
    """The module's weights (float32, CPU, contiguous) in a key layout the app recognises."""
    return published_keys({k: v.detach().float().cpu().contiguous() for k, v in module.state_dict().items()}, arch)


def _checked(module: nn.Module, arch: str, scale: int, built: dict[str, Any]) -> dict[str, Any]:
    """The module's hyper-parameters as detection reads them back, those not in the weights
    (`GUESSED_PARAMS`) as `built` (a 256-feature EDSR built with res_scale 1 read back as
    0.1: validated, resumed and exported as another network), or TrainingError."""
    try:
        detected = detect_architecture(exported_state_dict(module, arch))
    except UnsupportedStateDict as exc:
        raise TrainingError(f"{arch}: the network built is not recognised ({one_line(exc)})") from None
    if detected.arch != arch:
        raise TrainingError(f"{arch} with these hyper-parameters reads back as {detected.arch}; change them")
    if not detected.scale:
        detected.set_scale(scale)
    if scale not in detected.scales:
        raise TrainingError(f"{arch} cannot do ×{scale} with these hyper-parameters")
    # what the module was built with, its constructor's defaults included (res_scale left
    # out of the spec is the module's 1.0, which detection guesses as 0.1 at 256 features)
    built = {**_constructor_defaults(type(module)), **built}
    return {**detected.params, **{k: v for k, v in check_guessed(built).items() if k in detected.params}}


def _constructor_defaults(cls: type) -> dict[str, Any]:
    """The default arguments of `cls`'s constructor."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def he_init(module: nn.Module, slope: float = 0.0) -> None:
    """He et al. (ICCV 2015) normal initialisation of every convolution for activations of
    negative `slope`, biases zero. VDSR and LapSRN train from it: with torch's default
    (uniform, a = √5) a 20-layer plain stack's signal and gradients vanish, and VDSR stayed
    exactly at its bicubic input for 250 iterations."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(layer.weight, a=slope, nonlinearity="leaky_relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def bilinear_init(deconv: nn.ConvTranspose2d) -> None:
    """Make a stride-s transposed convolution upsample each channel bilinearly (the kernel
    of Long et al.'s FCN; LapSRN's image branch starts from it)."""
    size = deconv.kernel_size[0]
    factor = (size + 1) // 2
    centre = factor - 1 if size % 2 else factor - 0.5
    taps = 1 - torch.abs(torch.arange(size, dtype=torch.float32) - centre) / factor
    with torch.no_grad():
        deconv.weight.zero_()
        for channel in range(min(deconv.in_channels, deconv.out_channels)):
            deconv.weight[channel, channel] = torch.outer(taps, taps)
        if deconv.bias is not None:
            deconv.bias.zero_()


# The layers that make the residual image start at zero (the papers initialise them like
# the rest): the network then starts as its interpolation (bicubic input for VDSR, the
# bilinear image branch for LapSRN) and improves on it from the first iterations, which
# matters for the short CPU runs of this project.
def _init_vdsr(module: nn.Module) -> None:
    he_init(module)
    nn.init.zeros_(module.tail.weight)


def _init_lapsrn(module: nn.Module) -> None:
    he_init(module, slope=0.2)
    for level in module.levels:
        bilinear_init(level.image_up)
        nn.init.zeros_(level.residual.weight)


#: how a network trained from scratch is initialised where torch's default does not train it
SCRATCH_INIT = {"VDSR": _init_vdsr, "LapSRN": _init_lapsrn}


def _check_options(arch: str, given: dict[str, Any]) -> None:
    """Refuse an option the architecture's constructor does not have, or a value of
    another kind than its default (a word for a width), naming what it takes: Python's
    TypeError said neither."""
    parameters = inspect.signature(arch_support(arch).module).parameters
    names = [n for n, p in parameters.items()
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    for key, value in given.items():
        if key not in names:
            raise TrainingError(f"{arch} has no option {key}; its options: {', '.join(names)}")
        default = parameters[key].default
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if type(default) is int and not (isinstance(value, int) and not isinstance(value, bool)):
            raise TrainingError(f"{arch} option {key} takes a whole number (default {default}), got {value!r}")
        if type(default) is float and not number:
            raise TrainingError(f"{arch} option {key} takes a number (default {default}), got {value!r}")
        if type(default) is bool and not isinstance(value, bool):
            raise TrainingError(f"{arch} option {key} takes true or false (default {default}), got {value!r}")


def build_network(arch_spec: str, scale: int) -> TrainNet:
    """A new network of `arch_spec` at `scale` with random weights (its paper's
    initialisation where `SCRATCH_INIT` has one, else torch's default)."""
    arch, user = parse_arch_spec(arch_spec)
    try:
        params = {**SCRATCH_ARGUMENTS[arch](scale), **user}
    except ValueError as exc:
        raise TrainingError(f"{arch} cannot do ×{scale}: {exc}") from None
    _check_options(arch, user)
    try:
        check_hyperparameters(arch, params)
        module = arch_support(arch).module(**params)
    except UnsupportedStateDict as exc:
        raise TrainingError(f"{arch}: {one_line(exc)}") from None
    except (TypeError, ValueError) as exc:
        what = user or "its defaults"
        raise TrainingError(f"{arch} cannot be built at ×{scale} with {what}: {one_line(exc)}") from None
    empty = [name for name, p in module.named_parameters() if p.numel() == 0]
    if empty:  # a width of 0: layers without weights, nothing to train
        raise TrainingError(f"{arch} with {user} has layers without weights ({empty[0]}); "
                            "widths and counts must be at least 1")
    if arch in SCRATCH_INIT:
        SCRATCH_INIT[arch](module)
    params = _checked(module, arch, scale, params)
    return TrainNet(module, arch, scale, params)


def rebuild_network(arch: str, scale: int, params: dict[str, Any]) -> TrainNet:
    """The network of a checkpoint from its recorded architecture and hyper-parameters."""
    try:
        return TrainNet(arch_support(arch).module(**params), arch, scale, params)
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"the checkpoint's network ({arch}) cannot be rebuilt: {one_line(exc)}") from None


def _grown_pyramid(model: ArchModel, scale: int) -> TrainNet:
    """A LapSRN of more levels than `model`, for `scale`: its levels are `model`'s, each new
    level starts as a copy of the last trained one (every level learns the same ×2 step, and
    MS-LapSRN shares one level's weights across the pyramid). A ×8 network then starts
    from a trained ×4 one instead of from scratch."""
    levels = model.params.get("num_levels", len(model.module.levels))
    wanted = log2_of(scale) if scale > 1 and scale & (scale - 1) == 0 else 0
    if wanted <= levels:
        raise TrainingError(f"--init: a ×{model.scale} LapSRN grows only to a larger power of two, not ×{scale}")
    params = {**model.params, "num_levels": wanted}
    try:
        module = arch_support("LapSRN").module(**params)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"--init: the ×{scale} LapSRN cannot be built: {one_line(exc)}") from None
    trained = model.module.float()
    module.load_state_dict(trained.state_dict(), strict=False)
    last = trained.levels[-1].state_dict()
    for level in module.levels[levels:]:
        level.load_state_dict(last)
    params = _checked(module, "LapSRN", scale, params)
    net = TrainNet(module.train(), "LapSRN", scale, params)
    net.init_note = (f"--init: the ×{model.scale} LapSRN's {levels} levels start the ×{scale} one; its "
                     f"{wanted - levels} new level(s) start as copies of the last")
    net.new_layers = True
    return net


def _rescaled(model: ArchModel, scale: int) -> TrainNet:
    """A network of `model`'s architecture and hyper-parameters at another `scale`, holding
    every tensor of `model` that has the same name and shape (the body, and the first ×2
    stage of a ×4 pixel-shuffle upsampler) and its own initialisation for the rest. EDSR's
    paper trains ×3 and ×4 this way from its ×2 model."""
    arch = model.arch
    try:
        params = {**model.params, **SCRATCH_ARGUMENTS[arch](scale)}
        module = arch_support(arch).module(**params)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"--init: a ×{model.scale} {arch} cannot start a ×{scale} one: {one_line(exc)}") from None
    if arch in SCRATCH_INIT:
        SCRATCH_INIT[arch](module)
    own = module.state_dict()
    kept = {k: v for k, v in model.module.float().state_dict().items() if k in own and own[k].shape == v.shape}
    module.load_state_dict(kept, strict=False)
    fresh = [k for k in own if k not in kept]
    params = _checked(module, arch, scale, params)
    net = TrainNet(module.train(), arch, scale, params)
    if not fresh and SCRATCH_ARGUMENTS[arch](scale) != SCRATCH_ARGUMENTS[arch](model.scale):
        # every tensor fits, yet a layer works at the new scale (FSRCNN's deconvolution, by its
        # stride): by a registry id it was "new: none" and fine-tuned at a tenth of the rate
        _relearns_its_last_layer(net, model.scale)
        return net
    note = (f"--init: {len(kept)} of {len(own)} tensors from the ×{model.scale} {arch}; "
            f"new: {', '.join(fresh) or 'none'}")
    log.info("%s", note)
    net.init_note = note  # (said by the command line and in the run's log: it was only in `-v`)
    net.new_layers = bool(fresh)
    return net


def _relearns_its_last_layer(net: TrainNet, from_scale: int) -> None:
    """`net`, all of whose weights come from a ×`from_scale` model, has a last layer that
    works at another scale with them (FSRCNN: the layers before the deconvolution are shared
    across scales, as its paper fine-tunes them; the deconvolution's kernel then works at
    another stride and must learn it, a first validation of 13 dB): said, and trained at the
    rate of new layers."""
    net.init_note = (f"--init: the ×{from_scale} {net.arch}'s last layer starts the ×{net.scale} one: the first "
                     "validations are low until it has learnt the new scale")
    net.new_layers = True


def _names_a_file(init: str) -> bool:
    """Whether `--init` names a weights file rather than a registry id."""
    from sr_desktop.engine.models.model_files import is_model_file_name

    return is_model_file_name(init) or Path(init).is_file()


def _load_init(init: str, scale: int | None) -> Any:
    """The model `--init` names (a file or a registry id), at `scale` (None: its own)."""
    path = Path(init)
    if _names_a_file(init):
        from sr_desktop.engine.models.custom import load_model_file

        # at the asked scale: weights that do not record theirs (FSRCNN: the layers before
        # the deconvolution are shared across scales, as its paper fine-tunes them) take it
        return load_model_file(path, scale=scale)
    from sr_desktop.engine.models.loader import load_model

    return load_model(init, scale=scale)


def _init_failure(init: str, exc: Exception) -> str:
    """Why `init` cannot start a network: the loader's line, except for a registry model
    without its weights, whose line names the checkpoint the user added as an ``--init``
    (it said "(--model custom-…)", a flag `train` does not have)."""
    from sr_desktop.engine.models.registry import get_model_spec, not_installed_message

    if not _names_a_file(init):
        try:
            spec = get_model_spec(init)
        except SRDesktopError:
            spec = None
        if spec is not None and spec.needs_weights:
            return not_installed_message(spec, flag="--init")
    if isinstance(exc, UnsupportedModelFile):  # (the line named the file after --init named it)
        return exc.reason
    return one_line(exc)


def network_from_model(init: str, scale: int) -> TrainNet:
    """A network initialised from a model file or a registry id (fine-tuning).

    Only torch architectures can be trained: an ncnn graph (zoo models) is refused.
    """
    try:
        model = _load_init(init, scale)
    except SRDesktopError as exc:
        # a model of the same architecture at another scale starts the network (a LapSRN
        # of fewer levels is grown), as the papers train ×3 and ×4 from their ×2 models
        try:
            other = _load_init(init, None)
        except SRDesktopError:
            other = None
        if not (isinstance(other, ArchModel) and other.arch in SCRATCH_ARGUMENTS and other.scale != scale):
            raise TrainingError(f"--init {init}: {_init_failure(init, exc)}") from None
        if other.arch == "LapSRN":
            if other.scale > scale:
                raise TrainingError(f"--init {init}: {one_line(exc)}") from None
            return _grown_pyramid(other, scale)
        return _rescaled(other, scale)
    if not isinstance(model, ArchModel):
        if getattr(model, "family", None) is None:
            raise TrainingError(f"--init {init}: not a torch architecture this app can train "
                                f"(use a .pth/.safetensors of {', '.join(SCRATCH_ARGUMENTS)})")
        from sr_desktop.engine.training.zoo_weights import network_from_zoo

        arch, module, params = network_from_zoo(model)  # a zoo model: its ncnn graph converted
        return TrainNet(module.float().train(), arch, scale, params)
    if model.arch not in SCRATCH_ARGUMENTS:
        raise TrainingError(f"--init {init}: {model.arch} cannot be trained here")
    support = arch_support(model.arch)
    if scale not in support.scales(model.scale, model.params):
        served = ", ".join(f"×{s}" for s in support.scales(model.scale, model.params))
        raise TrainingError(f"--init {init} is a {served} {model.arch} model, not ×{scale}")
    module = model.module.float().train()
    net = TrainNet(module, model.arch, scale, model.params)
    recorded = _recorded_scale(init)
    if recorded is not None and scale not in support.scales(recorded, model.params):
        _relearns_its_last_layer(net, recorded)  # (a ×2 FSRCNN file loads at ×3)
    return net


def _recorded_scale(init: str) -> int | None:
    """The scale the `--init` model file records for itself (its metadata, its name), None
    when it records none or `init` is a registry id (loaded at the scale asked: its own).
    Read without loading the weights a second time."""
    if not Path(init).is_file():
        return None
    from sr_desktop.engine.models.custom import scale_recorded_by

    return scale_recorded_by(Path(init))
