"""`bicubic` and `lanczos` as models, so baselines go through the same pipeline."""

from __future__ import annotations

import numpy as np
import torch

from sr_desktop.engine.compute import resample
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.kinds import ModelKind


class ResampleModel(SRModel):
    """Classic interpolation at an integer scale. Runs on the CPU with Pillow. Built by
    ``loader.load_model`` (which checks the scale against the pipeline's limit)."""

    kind = ModelKind.RESAMPLE
    supports_fp16 = False
    recommended_tile = 1024

    def __init__(self, method: str, scale: int):
        super().__init__()
        if method not in resample.METHODS:
            raise ValueError(f"unknown resampling method {method!r}")
        self.id = method
        self.method = method
        self.scale = int(scale)
        # Interior tiles are exact once the filter's support is covered.
        self.context = resample.SUPPORT[method] + 1

    def to(self, device, dtype=torch.float32) -> ResampleModel:
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        return self

    def run(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        size = (w * self.scale, h * self.scale)
        arr = x.detach().to("cpu", torch.float32).numpy()
        out = np.empty((n, c, size[1], size[0]), dtype=np.float32)
        for i in range(n):
            for ch in range(c):
                out[i, ch] = resample.resize_plane(arr[i, ch], size, self.method)
        return torch.from_numpy(out)
