"""Generated training images for the training tests (smooth waves plus sharp squares)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def make_images(folder: Path, count: int, size: int, seed: int) -> Path:
    """`count` RGB PNGs of `size`² in `folder` (created); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(count):
        img = np.zeros((size, size, 3))
        for c in range(3):
            for _ in range(6):
                fx, fy = rng.uniform(2, 12, 2)
                img[..., c] += np.sin(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 6.3))
        for _ in range(4):
            x0, y0 = rng.integers(0, size, 2)
            w = int(rng.integers(8, size // 2))
            img[y0:y0 + w, x0:x0 + w] += rng.uniform(-2, 2, 3)
        img = (img - img.min()) / (img.max() - img.min())
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder
