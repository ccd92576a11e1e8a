"""The training losses, their spec (``l1:1,perceptual:0.01,gan:0.005``) and their sum.

Pixel losses compare the network's output with the HR patch in its training space (Y or
RGB, 0..1). Each term is ``NAME[@OPTION][:WEIGHT]`` (weight 1 when left out):

======================  ==========================================================  ============================
name                    what                                                          from
======================  ==========================================================  ============================
``l1``                  mean |SR − HR|                                               EDSR (Lim et al. 2017)
``mse``                 mean (SR − HR)²                                              SRCNN (Dong et al. 2014)
``charbonnier``         mean √((SR − HR)² + ε²), ε = 1e-3                            LapSRN (Lai et al. 2017)
``perceptual@LAYER``    L1 of VGG19 features at LAYER (default conv5_4)             SRGAN / ESRGAN
``texture@LAYER``       MSE of Gram matrices of VGG19 features                       EnhanceNet (Sajjadi 2017)
``tv``                  mean |∂x SR| + mean |∂y SR| (anisotropic total variation)   SRGAN's regulariser
``gan@D``               vanilla (BCE) adversarial loss, D = ``vgg`` or ``unet``     SRGAN (Ledig et al. 2017)
``lsgan@D``             least-squares adversarial loss                               Mao et al. 2017
``ragan@D``             relativistic average adversarial loss                         ESRGAN (Wang et al. 2018)
``gradient``            L1 of SPSR gradient maps of SR and HR                        SPSR (Ma et al. 2020)
``gradbranch``          L1 of the SPSR gradient branch's output vs HR's gradient map  SPSR (SPSR only)
``cycle``               L1 of degrade(SR) vs LR                                        CinCGAN / back-projection
``levels``              Charbonnier at every pyramid level (×2, ×4, …)                LapSRN (LapSRN only)
======================  ==========================================================  ============================

The ``unet`` discriminator is Real-ESRGAN's (`discriminators.UNetDiscriminatorSN`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.models.archs.spsr import gradient_map
from sr_desktop.engine.training.degradations import Degradation, bicubic_downscale_torch
from sr_desktop.engine.training.discriminators import DISCRIMINATORS
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.networks import NetOutput, TrainNet
from sr_desktop.engine.training.vgg import DEFAULT_LAYER, VGGFeatures, layer_names

CHARBONNIER_EPS = 1e-3
PIXEL_LOSSES = ("l1", "mse", "charbonnier")
VGG_LOSSES = ("perceptual", "texture")
GAN_LOSSES = ("gan", "lsgan", "ragan")
OTHER_LOSSES = ("tv", "gradient", "gradbranch", "cycle", "levels")
LOSS_NAMES = PIXEL_LOSSES + VGG_LOSSES + GAN_LOSSES + OTHER_LOSSES
#: the GUI's presets (PSNR-oriented; ESRGAN's perceptual + GAN; SPSR's)
PRESETS = {
    "PSNR": "l1:1",
    "perceptual": "l1:0.01,perceptual:1",
    "GAN": "l1:0.01,perceptual:1,ragan:0.005",
    "SPSR": "l1:0.01,perceptual:1,ragan:0.005,gradient:0.01,gradbranch:0.5",
}


@dataclass(frozen=True)
class LossTerm:
    """One weighted term of a loss spec."""

    name: str
    weight: float = 1.0
    option: str = ""

    def describe(self) -> str:
        """Back to the spec syntax."""
        return f"{self.name}{'@' + self.option if self.option else ''}:{self.weight:g}"


def parse_loss_spec(text: str) -> tuple[LossTerm, ...]:
    """``"l1:1,perceptual@relu5_4:0.01,gan@unet:0.005"`` -> terms; TrainingError when bad."""
    terms = []
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        head, _, weight_text = item.partition(":")
        name, _, option = head.strip().partition("@")
        name = name.strip().lower()
        if name not in LOSS_NAMES:
            raise TrainingError(f"unknown loss {name!r}; use {', '.join(LOSS_NAMES)}")
        try:
            weight = float(weight_text) if weight_text.strip() else 1.0
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight) or weight <= 0:
            raise TrainingError(f"loss {item!r}: the weight must be a positive number")
        option = option.strip()
        if name in VGG_LOSSES:
            option = option or DEFAULT_LAYER
            if option not in layer_names():
                raise TrainingError(f"loss {item!r}: unknown VGG19 layer {option!r} (e.g. relu2_2, conv5_4)")
        elif name in GAN_LOSSES:
            option = option or "vgg"
            if option not in DISCRIMINATORS:
                raise TrainingError(f"loss {item!r}: the discriminator is {' or '.join(DISCRIMINATORS)}")
        elif option:
            raise TrainingError(f"loss {item!r}: {name} takes no @option")
        if any(t.name == name for t in terms):
            raise TrainingError(f"loss {name} is given twice")
        terms.append(LossTerm(name, weight, option))
    if not terms:
        raise TrainingError("the loss spec is empty (e.g. l1:1)")
    if sum(t.name in GAN_LOSSES for t in terms) > 1:
        raise TrainingError("give one adversarial loss (gan, lsgan or ragan)")
    return tuple(terms)


# -- the terms, as functions of tensors ------------------------------------------------------


def charbonnier_loss(a: torch.Tensor, b: torch.Tensor, eps: float = CHARBONNIER_EPS) -> torch.Tensor:
    """mean √((a − b)² + ε²)."""
    return torch.sqrt((a - b) ** 2 + eps * eps).mean()


PIXEL_FUNCTIONS = {"l1": F.l1_loss, "mse": F.mse_loss, "charbonnier": charbonnier_loss}


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """N×C×H×W -> N×C×C: F·Fᵀ / (C·H·W)."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def texture_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MSE between the Gram matrices of two feature maps."""
    return F.mse_loss(gram_matrix(a), gram_matrix(b))


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation: mean |x[.., i, j+1] − x[.., i, j]| + mean |x[.., i+1, j] − x[.., i, j]|."""
    return (x[..., :, 1:] - x[..., :, :-1]).abs().mean() + (x[..., 1:, :] - x[..., :-1, :]).abs().mean()


def gradient_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 between the SPSR gradient maps of two images."""
    return F.l1_loss(gradient_map(a), gradient_map(b))


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def generator_adversarial(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss from the discriminator's logits on HR and SR."""
    if kind == "gan":
        return _bce(fake, 1.0)
    if kind == "lsgan":
        return ((fake - 1.0) ** 2).mean()
    # relativistic average (ESRGAN eq. 2): both terms, with the roles swapped
    return 0.5 * (_bce(real - fake.mean(), 0.0) + _bce(fake - real.mean(), 1.0))


def discriminator_adversarial(kind: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its logits on HR (`real`) and detached SR (`fake`)."""
    if kind == "gan":
        return _bce(real, 1.0) + _bce(fake, 0.0)
    if kind == "lsgan":
        return 0.5 * (((real - 1.0) ** 2).mean() + (fake ** 2).mean())
    return 0.5 * (_bce(real - fake.mean(), 1.0) + _bce(fake - real.mean(), 0.0))


def level_targets(hr: torch.Tensor, count: int) -> list[torch.Tensor]:
    """The HR patch at every pyramid level ×2, ×4, … (bicubic downscales of it, then itself)."""
    return [bicubic_downscale_torch(hr, 2 ** (count - k)) if k < count else hr for k in range(1, count + 1)]


# -- their weighted sum ----------------------------------------------------------------------


class LossSet(nn.Module):
    """The weighted terms of a spec for one network, with the VGG and the discriminator
    they need. `generator_loss` -> (total, {name: value}); `discriminator_loss` for the
    adversarial term's second optimiser."""

    def __init__(self, terms: tuple[LossTerm, ...], net: TrainNet, degradation: Degradation,
                 vgg_weights: str | os.PathLike | None = None, vgg_features: nn.Sequential | None = None):
        super().__init__()
        self.terms = terms
        self.scale = net.scale
        self.degradation = degradation
        names = {t.name for t in terms}
        if "levels" in names and net.arch != "LapSRN":
            raise TrainingError(f"the levels loss is for LapSRN's pyramid, not {net.arch}")
        if "gradbranch" in names and net.arch != "SPSR":
            raise TrainingError(f"the gradbranch loss is for SPSR's gradient branch, not {net.arch}")
        self.vgg = nn.ModuleDict()
        for term in terms:
            if term.name in VGG_LOSSES and term.option not in self.vgg:
                self.vgg[term.option] = VGGFeatures(term.option, vgg_weights, features=vgg_features)
        gan = next((t for t in terms if t.name in GAN_LOSSES), None)
        self.gan_kind = gan.name if gan else ""
        self.discriminator = DISCRIMINATORS[gan.option](net.channels) if gan else None

    def generator_loss(self, out: NetOutput, lr: torch.Tensor,
                       hr: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted total and each term's value; `lr`, `hr` in training space."""
        sr = out.sr
        total = sr.new_zeros(())
        parts: dict[str, float] = {}
        feats: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for term in self.terms:
            name = term.name
            if name in PIXEL_FUNCTIONS:
                value = PIXEL_FUNCTIONS[name](sr, hr)
            elif name in VGG_LOSSES:
                if term.option not in feats:
                    with torch.no_grad():
                        target = self.vgg[term.option](hr)
                    feats[term.option] = (self.vgg[term.option](sr), target)
                fs, fh = feats[term.option]
                value = F.l1_loss(fs, fh) if name == "perceptual" else texture_loss(fs, fh)
            elif name == "tv":
                value = tv_loss(sr)
            elif name == "gradient":
                value = gradient_loss(sr, hr)
            elif name == "gradbranch":
                value = F.l1_loss(out.gradient, gradient_map(hr))
            elif name == "cycle":
                # the batch's own scale: a mixed-scale run (VDSR) changes it batch by batch
                value = F.l1_loss(self.degradation.downscale_torch(sr, sr.shape[-1] // lr.shape[-1]), lr)
            elif name == "levels":
                levels = out.levels or [sr]
                value = sum(charbonnier_loss(y, t) for y, t in zip(levels, level_targets(hr, len(levels)), strict=True))
            else:  # the adversarial term
                d = self.discriminator
                with torch.no_grad():
                    real = d(hr)
                value = generator_adversarial(name, real, d(sr))
            parts[name] = float(value.detach())
            total = total + term.weight * value
        return total, parts

    def discriminator_loss(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """The discriminator's loss on HR and the (detached) SR."""
        return discriminator_adversarial(self.gan_kind, self.discriminator(hr), self.discriminator(sr.detach()))

    def describe(self) -> str:
        """The spec, normalised."""
        return ",".join(t.describe() for t in self.terms)
