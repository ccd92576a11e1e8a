"""Bit-depth conversions of pixel arrays (one rounding rule everywhere)."""

from __future__ import annotations

import numpy as np


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels from uint8 or uint16 ones: round(x · 255 / 65535), as MATLAB's im2uint8.

    The integer form ``(x·255 + 32767) // 65535`` equals ``floor(x / 257 + 0.5)`` for every
    16-bit value (x / 257 never has a fractional part of exactly one half).
    """
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype != np.uint16:
        raise TypeError(f"to_uint8 takes uint8 or uint16 pixels, not {pixels.dtype}")
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
