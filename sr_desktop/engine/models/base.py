"""The contract between models and the engine.

A model is loaded into an `SRModel`. The engine only ever talks to that interface:

* ``kind == ModelKind.FEEDFORWARD``: a network applied tile by tile. ``run(x)`` maps an
  N×3×H×W float tensor (RGB, nominally 0..1) to N×3×(s·H)×(s·W), unclamped. The model
  does its own family conventions *inside* ``run``: border pre-padding (reflect /
  replicate, as the original tools do), size alignment, extra input planes (SRMD), extra
  residuals (Real-CUGAN ×4), and crops back to exactly s·H × s·W. The engine adds real
  neighbouring pixels as context around each tile (``context`` pixels per side, clipped
  at the image border) and crops the scaled context away, so tiles stitch seamlessly.
* ``kind == ModelKind.RESAMPLE``: bicubic / lanczos baselines, any scale, whole image.
* ``kind == ModelKind.PER_IMAGE``: trained per image at test time (ZSSR): ``upscale_array``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sr_desktop.engine.core.progress import CancelToken, ProgressCallback
from sr_desktop.engine.models.kinds import ModelKind

#: the `ModelSpec.group` of the literature's architectures
LITERATURE = "literature"
#: how a user gets weights for a literature entry (or any architecture of `archs`)
ADD_WEIGHTS_COMMAND = "sr-desktop models add FILE"


@dataclass
class ModelSpec:
    """One entry of the model registry (a row of ``models/manifest.json`` or a custom model)."""

    id: str
    name: str
    arch: str
    scales: list[int]
    kind: ModelKind = ModelKind.FEEDFORWARD
    variants: list[str] = field(default_factory=lambda: ["default"])
    default_variant: str = "default"
    tags: list[str] = field(default_factory=list)
    description: str = ""
    license: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    recommended_tile: int = 256
    published: dict[str, Any] = field(default_factory=dict)
    installed: bool = True
    install_command: str | None = None
    custom: bool = False
    #: ``"literature"`` for the architectures of the SR literature listed with their paper
    #: (they need weights: ``sr-desktop models add FILE``); ``""`` for every other model
    group: str = ""
    paper: str = ""
    year: int | None = None
    #: literature weights trained for this project and shipped under ``models/``, by scale
    #: (``"3"``): file, sha256, data, iterations, measured Set5/Set14, ``incomplete``
    #: (`engine.models.literature`); empty when none ship
    trained: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = ModelKind.parse(self.kind)

    @property
    def needs_weights(self) -> bool:
        """True for a literature entry whose weights are not here (not runnable yet): none
        ship with the app, or a shipped file is missing."""
        return self.group == LITERATURE and not self.installed

    @property
    def status(self) -> str:
        """``installed``, ``needs weights`` (a literature entry) or ``not installed``."""
        if self.installed:
            return "installed"
        return "needs weights" if self.group == LITERATURE else "not installed"

    @property
    def is_per_image(self) -> bool:
        """True for models trained on each image (ZSSR): no tiles, their own progress."""
        return self.kind == ModelKind.PER_IMAGE

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arch": self.arch,
            "kind": self.kind.value,
            "scales": list(self.scales),
            "variants": list(self.variants),
            "default_variant": self.default_variant,
            "tags": list(self.tags),
            "description": self.description,
            "license": self.license,
            "source": self.source,
            "recommended_tile": self.recommended_tile,
            "published": self.published,
            "installed": self.installed,
            "install_command": self.install_command,
            "custom": self.custom,
            "group": self.group,
            "paper": self.paper,
            "year": self.year,
            "trained": self.trained,
            "status": self.status,
        }


class SRModel:
    """A loaded model, ready to run on a device. Subclasses set the attributes below."""

    id: str = ""
    kind: ModelKind = ModelKind.FEEDFORWARD
    scale: int = 1
    variant: str | None = None
    #: input pixels of real neighbouring context needed per tile side for seamless output
    context: int = 16
    #: False when tiles are not independent (e.g. global pooling); the engine then runs
    #: the whole image in one piece when memory allows
    tileable: bool = True
    supports_fp16: bool = True
    recommended_tile: int = 256
    #: input tile sizes are multiples of this after `run`'s own alignment (informational)
    align: int = 1
    #: what runs the network graph in place of the torch ``module`` (a backend's compiled
    #: graph, see `models.backends`); None = torch
    runner = None
    #: the backend running the graph: ``torch`` or ``openvino``
    backend: str = "torch"

    def __init__(self) -> None:
        self.device = torch.device("cpu")
        self.dtype = torch.float32

    # -- feedforward models -------------------------------------------------------------
    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> SRModel:
        """Move to `device` and cast to `dtype`; returns self."""
        self.device = torch.device(device)
        self.dtype = dtype
        module = getattr(self, "module", None)
        if isinstance(module, torch.nn.Module):
            module.to(device=self.device, dtype=dtype)
        return self

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×H×W -> N×3×(s·H)×(s·W); called under ``torch.inference_mode``."""
        raise NotImplementedError

    # -- per-image models ---------------------------------------------------------------
    def upscale_array(
        self,
        rgb: np.ndarray,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """H×W×3 float32 0..1 -> (s·H)×(s·W)×3 float32 (per_image models only)."""
        raise NotImplementedError

    def describe(self) -> str:
        v = f" [{self.variant}]" if self.variant and self.variant != "default" else ""
        return f"{self.id}{v} ×{self.scale}"
