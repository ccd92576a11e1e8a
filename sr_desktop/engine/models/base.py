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

This contract does not import torch: a process that only resamples never loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sr_desktop.engine.core.progress import CancelToken, ProgressCallback
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.spec import ADD_WEIGHTS_COMMAND, LITERATURE, ModelSpec

# ModelSpec and the literature group's names live in the torch-free `models.spec`; they are
# re-exported here for the modules that take both from the contract.
__all__ = ["ADD_WEIGHTS_COMMAND", "LITERATURE", "ModelSpec", "SRModel", "aligned_context"]

if TYPE_CHECKING:
    import torch


def aligned_context(context: int, align: int) -> int:
    """Context rounded up to a multiple of `align` (keeps tile starts on the phase grid)."""
    return -(-context // align) * align


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
    #: the backend running the graph: ``torch``, ``openvino`` or ``ncnn`` (``pillow`` or
    #: ``numpy``: no network, a resampling model or `scalenx`)
    backend: str = "torch"
    #: True for a model that upscales every channel of an image with alpha in one
    #: `upscale_patch` call (H×W×C, alpha last), deciding them together; else colour and
    #: alpha are upscaled apart (`pipeline.upscale`)
    upscales_alpha_with_colour: bool = False
    #: why no backend but torch can run the network ("": any can), e.g. a spandrel
    #: architecture called with arguments of its own
    torch_only_reason: str = ""

    def __init__(self) -> None:
        import torch

        self.device = torch.device("cpu")
        self.dtype = torch.float32

    # -- feedforward models -------------------------------------------------------------
    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> SRModel:
        """Move to `device` and cast to `dtype` (default float32); returns self."""
        import torch

        dtype = torch.float32 if dtype is None else dtype
        self.device = torch.device(device)
        self.dtype = dtype
        module = getattr(self, "module", None)
        if isinstance(module, torch.nn.Module):
            module.to(device=self.device, dtype=dtype)
        return self

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×H×W -> N×3×(s·H)×(s·W); called under ``torch.inference_mode``."""
        raise NotImplementedError

    def cpu_pass_side(self) -> int:
        """Input side of the largest pass the CPU plan makes on a large image: one
        `recommended_tile` with its context (rounded up to `align`) on every side."""
        return int(self.recommended_tile) + 2 * aligned_context(self.context, max(1, int(self.align)))

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
