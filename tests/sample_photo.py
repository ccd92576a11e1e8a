"""Crops of the bundled photo for the tests that compare two ways of running a model on
real content (random noise hides alignment and rounding faults a photo's edges show)."""

from __future__ import annotations

import numpy as np


def chelsea_crop(height: int, width: int, top: int = 80, left: int = 150, alpha: bool = False) -> np.ndarray:
    """uint8 HWC RGB crop of resources/chelsea.png at (`top`, `left`); with `alpha` an RGBA
    one whose alpha is a ramp over the whole crop."""
    from PIL import Image as PILImage

    from sr_desktop.engine.core.paths import RESOURCES_DIR

    photo = np.asarray(PILImage.open(RESOURCES_DIR / "chelsea.png").convert("RGB"))
    rgb = photo[top : top + height, left : left + width]
    if alpha:
        ramp = np.linspace(0, 255, height * width).reshape(height, width, 1).astype(np.uint8)
        return np.ascontiguousarray(np.concatenate([rgb, ramp], axis=2))
    return np.ascontiguousarray(rgb)
