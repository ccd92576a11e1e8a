"""Small random-weight models with a known receptive field, for engine tests."""

from __future__ import annotations

import torch
from torch import nn

from sr_desktop.engine.models.base import SRModel


class TinyNet(nn.Module):
    """Three 3×3 convs (receptive radius 3) then pixel shuffle ×s, plus a nearest skip."""

    def __init__(self, scale: int, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.scale = scale
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 3 * scale * scale, 3, padding=1)
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)

    def forward(self, x):
        y = torch.relu(self.c1(x))
        y = torch.relu(self.c2(y))
        y = nn.functional.pixel_shuffle(self.c3(y), self.scale)
        return y + nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")


class TinyModel(SRModel):
    """`TinyNet` behind the SRModel contract."""

    def __init__(self, scale: int = 2, context: int = 4, seed: int = 0):
        super().__init__()
        self.id = f"tiny-x{scale}"
        self.scale = scale
        self.context = context
        self.module = TinyNet(scale, seed).eval()
        self.calls: list[tuple[int, ...]] = []

    def run(self, x):
        self.calls.append(tuple(x.shape))
        return self.module(x)


class OOMModel(TinyModel):
    """Raises torch.OutOfMemoryError for inputs above `max_pixels` (per batch item)."""

    def __init__(self, max_pixels: int, error=None, **kw):
        super().__init__(**kw)
        self.max_pixels = max_pixels
        self.ooms = 0
        simulated = "CUDA out of memory. Tried to allocate 2.00 GiB (simulated)"
        self.error = error or (lambda: torch.OutOfMemoryError(simulated))

    def run(self, x):
        if x.shape[0] * x.shape[2] * x.shape[3] > self.max_pixels:
            self.ooms += 1
            raise self.error()
        return super().run(x)
