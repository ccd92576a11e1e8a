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
call — pad to the size requirements, network, clamp, crop — is made here with the network
call going through the model's backend `runner`, so OpenVINO can run the network as it runs
the project's own. An architecture that spandrel calls its own way (``call_fn``: DnCNN's
and DRUNet's noise level, FBCNN's quality, ...) runs in torch only
(`graph_call_is_plain`).
"""

from __future__ import annotations

from typing import Any

import torch

from sr_desktop.engine.compute.ycbcr import BT601_MATRIX
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.models.arch_model import matlab_bicubic
from sr_desktop.engine.models.archs.detect import DEEP_NET_CONTEXT
from sr_desktop.engine.models.base import SRModel

#: tile context in input pixels: the transformers' receptive fields reach across several
#: windows, as deep as the residual networks of `archs` (`DEEP_NET_CONTEXT`)
CONTEXT = DEEP_NET_CONTEXT
#: tile side on the CPU (a multiple of every spandrel ``multiple_of``: 1, 2, 4, 8, 16, 64)
DEFAULT_TILE = 256
#: full-range BT.601 luma weights (Y row of the studio-range matrix over its 219 span)
LUMA_WEIGHTS = tuple(float(w) for w in BT601_MATRIX[0] / 219.0)


def recommended_tile(descriptor: Any) -> int:
    """A tile side meeting the descriptor's minimum and multiple."""
    req = descriptor.size_requirements
    side = max(DEFAULT_TILE, int(req.minimum))
    step = max(1, int(req.multiple_of))
    return -(-side // step) * step


def luma(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB -> N×1×H×W full-range BT.601 luma."""
    weights = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


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
        self.align = max(1, int(descriptor.size_requirements.multiple_of))
        self.tileable = descriptor.tiling.name == "SUPPORTED"
        self.context = CONTEXT
        self.recommended_tile = recommended_tile(descriptor)
        self.supports_fp16 = bool(descriptor.supports_half)
        self.graph_call_is_plain = plain_graph_call(descriptor)
        if not self.graph_call_is_plain:
            self.torch_only_reason = f"spandrel calls {self.arch}'s network with arguments of its own"

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> SpandrelModel:
        if dtype == torch.float16 and not self.supports_fp16:
            raise ModelError(f"{self.id} ({self.arch}) does not support fp16; "
                             "use --precision fp32 or auto")
        return super().to(device, dtype)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_channels == 1:
            grey = luma(x)
            y = self._call(grey)
            if self.output_channels == 1:
                return y + matlab_bicubic(x - grey, self.scale)
            return y[:, :3]
        if self.input_channels == 4:
            x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        y = self._call(x)
        return y.expand(-1, 3, -1, -1) if y.shape[1] == 1 else y[:, :3]

    def _call(self, image: torch.Tensor) -> torch.Tensor:
        """spandrel's descriptor call, with the network run by the backend's `runner` when
        there is one (spandrel's own call otherwise: the same pixels)."""
        if self.runner is None or not self.graph_call_is_plain:
            return self.descriptor(image)
        h, w = image.shape[-2:]
        padded = pad_to_requirements(image, self.descriptor.size_requirements)
        out = self.runner(padded).clamp_(0, 1)
        return out[..., : h * self.scale, : w * self.scale]


def plain_graph_call(descriptor: Any) -> bool:
    """Whether spandrel calls this descriptor's network as ``model(image)``: the call it
    makes when an architecture gives none of its own (a lambda of its ``__init__``)."""
    call = getattr(descriptor, "_call_fn", None)
    return getattr(call, "__qualname__", "").startswith("ImageModelDescriptor.__init__.<locals>.")


def pad_to_requirements(image: torch.Tensor, requirements: Any) -> torch.Tensor:
    """Pad on the right and bottom to meet spandrel's size requirements, as its call does:
    reflect as far as the image allows, replicate the rest."""
    import torch.nn.functional as F

    h, w = image.shape[-2:]
    pad_w, pad_h = requirements.get_padding(w, h)
    if not (pad_w or pad_h):
        return image
    reflect_w, reflect_h = min(pad_w, w - 1), min(pad_h, h - 1)
    image = F.pad(image, (0, reflect_w, 0, reflect_h), mode="reflect")
    return F.pad(image, (0, pad_w - reflect_w, 0, pad_h - reflect_h), mode="replicate")
