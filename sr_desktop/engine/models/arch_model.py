"""`ArchModel`: a torch architecture of `engine.models.archs` run under the engine's
contract — ``run(x)``: N×3×H×W RGB in 0..1 -> N×3×sH×sW — whatever the network expects.

The conventions (colour, input range, bicubic pre-upsampling, border padding) come from the
architecture's `ArchSupport` entry and are applied by `arch_conventions.run_around`, which
also serves the same model run without torch (`arch_host`). With ``pre_upsample``,
``context`` is counted in output pixels and turned into input pixels here.
"""

from __future__ import annotations

import math

import torch

from sr_desktop.engine.models.arch_conventions import (  # noqa: F401 - re-exported for the archs and training
    BICUBIC_REACH,
    PRE_PAD,
    ArchConvention,
    host_record_of,
    matlab_bicubic,
    pad_border,
    run_around,
)
from sr_desktop.engine.models.archs.detect import arch_support
from sr_desktop.engine.models.base import SRModel


class ArchModel(SRModel):
    """A torch architecture from `sr_desktop.engine.models.archs` with custom weights.

    `scale` is the scale this instance runs at (one of the architecture's scales for these
    weights); `params` are the detected hyper-parameters. `weights_digest`: the sha256 of the
    weights file it was loaded from, where known (a cached OpenVINO conversion is then found
    by it without torch, `arch_host`).
    """

    def __init__(self, module: torch.nn.Module, arch: str, scale: int, model_id: str,
                 align: int = 1, params: dict | None = None):
        super().__init__()
        self.module = module.eval()
        self.arch = arch
        self.id = model_id
        self.scale = scale
        self.align = align
        self.params = dict(params or {})
        self.weights_digest = ""
        support = arch_support(arch)
        self.convention = ArchConvention(scale=scale, color=support.color_for(self.params),
                                         input_range=float(support.input_range),
                                         pre_upsample=bool(support.pre_upsample), align=int(align))
        self.forward_kwargs = support.forward_kwargs(scale, self.params)
        context = support.context_for(self.params)
        self.context = math.ceil(context / scale) + BICUBIC_REACH if self.pre_upsample else context
        self.recommended_tile = support.recommended_tile
        self.tileable = support.tileable
        self.supports_fp16 = support.supports_fp16

    @property
    def color(self) -> str:
        """``y`` for a one-channel network of Y, else ``rgb`` (its `convention`'s)."""
        return self.convention.color

    @property
    def input_range(self) -> float:
        """1.0 or 255.0: the pixel range the network sees (its `convention`'s)."""
        return self.convention.input_range

    @property
    def pre_upsample(self) -> bool:
        """True when the network gets the bicubic upscale (its `convention`'s)."""
        return self.convention.pre_upsample

    def host_record(self) -> dict:
        """What runs this model around a converted graph without torch (`arch_host`)."""
        return host_record_of(self)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        return run_around(self.convention, self._graph, x)

    def _graph(self, x: torch.Tensor) -> torch.Tensor:
        return (self.runner or self.module)(x, **self.forward_kwargs)
