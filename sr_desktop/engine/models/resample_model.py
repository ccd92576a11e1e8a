"""`bicubic`, `lanczos`, `nearest` and `scalenx` as models, so baselines and the pixel-art
scalers go through the same pipeline.

They run on the host with Pillow or numpy and never need torch: the pipeline hands them numpy tiles
(`upscale_patch`), and a process that only resamples does not import torch at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sr_desktop.engine.compute import pixel_art, resample
from sr_desktop.engine.compute.devices import HOST_CPU
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.kinds import ModelKind

if TYPE_CHECKING:
    import torch

#: the method of the `scalenx` model: Scale2x/Scale3x (`compute.pixel_art`), not a Pillow filter
SCALENX = "scalenx"


class ResampleModel(SRModel):
    """Classic interpolation at an integer scale. Runs on the CPU with Pillow. Built by
    ``loader.load_model`` (which checks the scale against the pipeline's limit)."""

    kind = ModelKind.RESAMPLE
    #: no network for a backend to run: reports say what does the work
    backend = "pillow"
    supports_fp16 = False
    recommended_tile = 1024
    #: Pillow resamples 32-bit float planes
    dtype = "float32"

    def __init__(self, method: str, scale: int):
        if method not in resample.METHODS:
            raise ValueError(f"unknown resampling method {method!r}")
        self.device = HOST_CPU
        self.id = method
        self.method = method
        self.scale = int(scale)
        # Interior tiles are exact once the filter's support is covered.
        self.context = resample.SUPPORT[method] + 1

    def to(self, device, dtype=None) -> ResampleModel:
        """Pillow runs on the host whatever device is asked for: returns self unchanged."""
        return self

    def upscale_patch(self, patch: np.ndarray) -> np.ndarray:
        """H×W×C float32 -> (s·H)×(s·W)×C float32, unclamped."""
        h, w = patch.shape[:2]
        return resample.resize(patch, (w * self.scale, h * self.scale), self.method)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """The model contract on tensors (N×C×H×W), for callers that hold them."""
        import torch

        arr = x.detach().to("cpu", torch.float32).permute(0, 2, 3, 1).numpy()
        out = np.stack([self.upscale_patch(item) for item in arr])
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


class ScaleNxModel(ResampleModel):
    """The `scalenx` pixel-art scaler (`compute.pixel_art`) in the resamplers' place: any
    integer scale, on the host, on numpy tiles."""

    backend = "numpy"
    # (a ScaleNx corner takes a neighbour's colour and alpha together)
    upscales_alpha_with_colour = True

    def __init__(self, scale: int):
        self.device = HOST_CPU
        self.id = self.method = SCALENX
        self.scale = int(scale)
        self.context = pixel_art.CONTEXT

    def upscale_patch(self, patch: np.ndarray) -> np.ndarray:
        """H×W×C float32 -> (s·H)×(s·W)×C float32 (with 2 or 4 channels the last is alpha)."""
        return pixel_art.scale_pixel_art(patch, self.scale)
