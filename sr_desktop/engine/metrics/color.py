"""MATLAB's ``rgb2ycbcr`` (ITU-R BT.601, studio range: Y in 16..235, Cb/Cr in 16..240)."""

from __future__ import annotations

import numpy as np

from sr_desktop.engine.compute.ycbcr import BT601_MATRIX, BT601_OFFSET

__all__ = ["BT601_MATRIX", "BT601_OFFSET", "luma_y", "rgb2ycbcr"]


def rgb2ycbcr(rgb: np.ndarray) -> np.ndarray:
    """H×W×3 RGB -> YCbCr exactly as MATLAB does for each input class.

    * uint8 (0..255): result uint8, rounded half away from zero.
    * uint16 (0..65535): result uint16, the float result × 65535 rounded (MATLAB's
      ``im2uint16`` of it: Y 16·257 … 235·257); it was taken as floats in 0..1.
    * float (0..1): result float64 in 0..1 (``(T·rgb + offset) / 255``), not rounded.

    Other integer types are refused (ValueError).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 RGB array, got shape {rgb.shape}")
    if rgb.dtype == np.uint8:
        ycc = rgb.astype(np.float64) @ (BT601_MATRIX.T / 255.0) + BT601_OFFSET
        return np.clip(np.floor(ycc + 0.5), 0, 255).astype(np.uint8)
    if rgb.dtype == np.uint16:
        ycc = rgb2ycbcr(rgb.astype(np.float64) / 65535.0) * 65535.0
        return np.clip(np.floor(ycc + 0.5), 0, 65535).astype(np.uint16)
    if rgb.dtype.kind in "iub":
        raise ValueError(f"rgb2ycbcr takes uint8, uint16 or float RGB, got {rgb.dtype}")
    ycc = rgb.astype(np.float64) @ BT601_MATRIX.T + BT601_OFFSET
    return ycc / 255.0


def luma_y(img: np.ndarray, round_to_uint8: bool = False) -> np.ndarray:
    """The evaluation channel of an image on the 0..255 scale (uint8, or float values on
    the 0..255 scale), as float64.

    RGB (H×W×3) -> Y of MATLAB's rgb2ycbcr (16..235); grayscale (H×W or H×W×1) -> its
    grey values unchanged, as the SRCNN/SRMD evaluation scripts do. With
    `round_to_uint8`, Y is rounded to integers as MATLAB does for uint8 input; otherwise
    it is computed in double precision (``im2double`` first, as EDSR/RCAN scripts do).
    A 16-bit image (uint16, the engine's `Image` of a 16-bit file) is brought to the 0..255
    scale first (its values counted 257 times over: NIQE 32.3 for 3.3); other integer types
    are taken on the 0..255 scale, and refused beyond it.
    """
    img = np.asarray(img)
    if img.dtype == np.uint16:
        if round_to_uint8:
            raise ValueError("round_to_uint8 needs 8-bit pixels (uint8)")
        img = img.astype(np.float64) / 257.0
    elif img.dtype == bool or (img.dtype.kind in "iu" and img.dtype != np.uint8 and img.size
                               and not 0 <= img.min() <= img.max() <= 255):
        # (other integer types on the 0..255 scale, an int64 copy of an image, are taken as before)
        raise ValueError(f"expected uint8, uint16 or values on the 0..255 scale, got {img.dtype} "
                         f"{img.min()}..{img.max()}")
    if img.ndim == 2:
        return img.astype(np.float64)
    if img.ndim == 3 and img.shape[2] == 1:
        return img[:, :, 0].astype(np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected a gray or RGB image, got shape {img.shape}")
    if img.dtype != np.uint8 and round_to_uint8:
        raise ValueError("round_to_uint8 needs 8-bit pixels (uint8)")
    if round_to_uint8:
        return rgb2ycbcr(img)[:, :, 0].astype(np.float64)
    return img.astype(np.float64) @ BT601_MATRIX[0] / 255.0 + BT601_OFFSET[0]
