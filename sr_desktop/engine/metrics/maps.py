"""Maps for the eye: where two images differ, where structure is lost, where edges are.

Every function returns an H×W×3 uint8 RGB image ready to display (the GUI turns it into
a pixmap). Inputs are 8-bit images (uint8, H×W, H×W×1 or H×W×3).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sr_desktop.engine.metrics.color import luma_y
from sr_desktop.engine.metrics.fullref import ssim_map as _ssim_map


def _colormap(name: str) -> np.ndarray:
    """256×3 uint8 lookup table of a matplotlib colormap (no pyplot, no GUI backend)."""
    from matplotlib import colormaps

    lut = colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.round(lut * 255.0).astype(np.uint8)


def apply_colormap(values: np.ndarray, vmin: float, vmax: float, name: str = "inferno") -> np.ndarray:
    """Map a 2-D float array to RGB uint8 through `name`, clipping to [vmin, vmax]."""
    if vmax <= vmin:
        raise ValueError("vmax must be greater than vmin")
    t = np.clip((np.asarray(values, dtype=np.float64) - vmin) / (vmax - vmin), 0.0, 1.0)
    return _colormap(name)[np.round(t * 255.0).astype(np.intp)]


def _as_float(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise ValueError(f"expected a gray or RGB image, got shape {img.shape}")
    return img.astype(np.float64)


def difference_map(a: np.ndarray, b: np.ndarray, vmax: float | None = None) -> np.ndarray:
    """Heat map of |a − b| (max over channels), 0 black → `vmax` bright.

    `vmax` defaults to the 99.5th percentile of the difference (at least 1), so a few
    outliers do not wash out the rest; pass e.g. 64 for a fixed scale between images.
    """
    x, y = _as_float(a), _as_float(b)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    diff = np.abs(x - y).max(axis=2)
    if vmax is None:
        vmax = max(1.0, float(np.percentile(diff, 99.5)))
    return apply_colormap(diff, 0.0, float(vmax))


def ssim_display_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of the evaluation channels (Y, or grey), same size as the inputs.

    Bright = similar (SSIM 1), dark = structure lost (SSIM ≤ 0). Borders use a reflected
    window, so the map lines up pixel for pixel with the image.
    """
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    values = _ssim_map(luma_y(x), luma_y(y), valid=False)
    return apply_colormap(values, 0.0, 1.0, name="viridis")


def gradient_magnitude(img: np.ndarray) -> np.ndarray:
    """Per-channel gradient magnitude as in SPSR (Ma et al., CVPR 2020), H×W×C float64.

    Central differences ``I(x+1) − I(x−1)`` vertically and horizontally, magnitude
    ``sqrt(gv² + gh² + 1e-6)``, on 0..1 values. SPSR pads with zeros; here the border
    pixels are replicated instead, so the image frame does not show up as a false edge
    (only the outermost pixel ring differs from SPSR).
    """
    x = _as_float(img) / 255.0
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="edge")
    gv = padded[2:, 1:-1] - padded[:-2, 1:-1]
    gh = padded[1:-1, 2:] - padded[1:-1, :-2]
    return np.sqrt(gv * gv + gh * gh + 1e-6)


def gradient_map(img: np.ndarray) -> np.ndarray:
    """SPSR's gradient-magnitude map as a displayable RGB image (per channel, clipped at 1)."""
    mag = gradient_magnitude(img)
    out = np.round(np.clip(mag, 0.0, 1.0) * 255.0).astype(np.uint8)
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return out


def laplacian(img2d: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian of a 2-D float array (reflect border)."""
    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
    return ndimage.correlate(np.asarray(img2d, dtype=np.float64), kernel, mode="reflect")
