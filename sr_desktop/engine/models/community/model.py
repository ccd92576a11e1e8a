"""`SpandrelModel`: a spandrel ``ImageModelDescriptor`` run under the engine's contract —
``run(x)``: N×3×H×W RGB in 0..1 -> N×3×sH×sW.

What spandrel's descriptor tells is followed:

* channels: a 1-channel network upscales the full-range BT.601 luma; the colour
  differences (RGB minus luma) are bicubic-upscaled and added back, so a grey image comes
  out exactly grey. A 4-channel (RGBA) network gets an opaque alpha plane: the engine
  gives models RGB and brings the image's alpha through its own alpha path.
* ``size_requirements`` (minimum, multiple of, square): spandrel's call pads the input
  (reflect, then replicate) and crops the output back; tiles start at multiples of
  ``multiple_of`` (`align`), so window partitions fall as in the whole image.
* ``tiling``: SUPPORTED -> tiled with `CONTEXT` pixels of real context; DISCOURAGED or
  INTERNAL -> the engine runs the whole image while memory allows.
* ``supports_half``: fp16 is used (``--precision auto`` on a GPU) and accepted
  (``--precision fp16``) only when spandrel says the architecture supports it.

Borders: as chaiNNer and ComfyUI run these models — no extra border padding — so a
whole-image run gives exactly spandrel's own output (the output is clamped to 0..1 by
spandrel's call).

Backends: where spandrel calls the network as ``model(image)`` (most architectures), its
call — pad to the size requirements, network, clamp, crop — is made here
(`spandrel_conventions.descriptor_call`) with the network going through the model's backend
`runner`, so OpenVINO can run the network as it runs the project's own, and a later process
can run that conversion without torch or spandrel (`arch_host`, `host_record`). An
architecture that spandrel calls its own way (``call_fn``: DnCNN's and DRUNet's noise level,
FBCNN's quality, ...) is called through spandrel, in torch only (`graph_call_is_plain`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models.archs.detect import DEEP_NET_CONTEXT
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.spandrel_conventions import SpandrelConvention, descriptor_call, luma, run_spandrel

__all__ = ["CONTEXT", "DEFAULT_TILE", "SpandrelModel", "luma", "plain_graph_call", "recommended_tile"]

#: tile context in input pixels: the transformers' receptive fields reach across several
#: windows, as deep as the residual networks of `archs` (`DEEP_NET_CONTEXT`)
CONTEXT = DEEP_NET_CONTEXT
#: tile side on the CPU (a multiple of every spandrel ``multiple_of``: 1, 2, 4, 8, 16, 64)
DEFAULT_TILE = 256
#: architectures run on whole images whatever spandrel says of their tiling
WHOLE_IMAGE_ARCHS = frozenset({"RealCUGAN"})


def recommended_tile(descriptor: Any) -> int:
    """A tile side meeting the descriptor's minimum and multiple."""
    req = descriptor.size_requirements
    side = max(DEFAULT_TILE, int(req.minimum))
    step = max(1, int(req.multiple_of))
    return -(-side // step) * step


class SpandrelModel(SRModel):
    """A checkpoint loaded by spandrel (see the module docstring for its conventions)."""

    def __init__(self, descriptor: Any, model_id: str):
        super().__init__()
        self.descriptor = descriptor.eval()
        self.module = descriptor.model
        self.arch = str(descriptor.architecture.id)
        self.id = model_id
        self.scale = int(descriptor.scale)
        self.input_channels = int(descriptor.input_channels)
        self.output_channels = int(descriptor.output_channels)
        req = descriptor.size_requirements
        self.convention = SpandrelConvention(
            scale=self.scale, input_channels=self.input_channels, output_channels=self.output_channels,
            minimum=int(req.minimum), multiple_of=max(1, int(req.multiple_of)), square=bool(req.square))
        self.align = self.convention.multiple_of
        window = getattr(self.module, "window_size", None)
        if isinstance(window, int) and window > 1:
            # a window transformer pads to whole windows itself (spandrel says multiple_of 1):
            # tiles off the whole image's window grid differed (Swin2SR 29-45 dB against whole)
            self.align = math.lcm(self.align, window)
        # Real-CUGAN's SE blocks pool over their whole input: tiles disagree (21 dB), and the
        # zoo's own Real-CUGAN runs whole images for that reason; spandrel says SUPPORTED
        self.tileable = descriptor.tiling.name == "SUPPORTED" and self.arch not in WHOLE_IMAGE_ARCHS
        self.context = CONTEXT
        self.recommended_tile = recommended_tile(descriptor)
        self.supports_fp16 = bool(descriptor.supports_half)
        self.weights_digest = ""
        self.graph_call_is_plain = plain_graph_call(descriptor)
        if not self.graph_call_is_plain:
            self.torch_only_reason = f"spandrel calls {self.arch}'s network with arguments of its own"

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> SpandrelModel:
        if dtype == torch.float16 and not self.supports_fp16:
            raise ModelError(f"{self.id} ({self.arch}) does not support fp16; "
                             "use --precision fp32 or auto")
        return super().to(device, dtype)

    def host_record(self) -> dict:
        """What runs this model around a converted graph without torch or spandrel (`arch_host`)."""
        return {"spandrel": self.convention.to_dict(), "context": int(self.context),
                "recommended_tile": int(self.recommended_tile), "tileable": bool(self.tileable)}

    def run(self, x: torch.Tensor) -> torch.Tensor:
        if not self.graph_call_is_plain:
            return run_spandrel(self.convention, self.descriptor, x)
        return run_spandrel(self.convention,
                            lambda image: descriptor_call(self.convention, self.runner or self.module, image), x)


def plain_graph_call(descriptor: Any) -> bool:
    """Whether spandrel calls this descriptor's network as ``model(image)``: the call it
    makes when an architecture gives none of its own (a lambda of its ``__init__``)."""
    call = getattr(descriptor, "_call_fn", None)
    return getattr(call, "__qualname__", "").startswith("ImageModelDescriptor.__init__.<locals>.")
