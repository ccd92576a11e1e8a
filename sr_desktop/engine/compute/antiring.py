"""Keep an upscaled plane within the range of the source pixels around each output pixel.

Lanczos (and a network's sharpening) overshoots at a step: on an alpha plane that turns a
fully opaque area next to an edge slightly transparent (255 → 247 two pixels in) and a
fully transparent one faintly visible (0 → 8, a halo). No value outside the range of its
source neighbourhood is meaningful for alpha, so each output pixel is clamped to the
minimum and maximum of the 3×3 source pixels around the one it comes from (the anti-ringing
clamp of video scalers such as mpv's).
"""

from __future__ import annotations

import numpy as np

#: source rows clamped at a time: the bounds take two output-sized planes of one band only
BAND_ROWS = 256


def clamp_to_source_range(upscaled: np.ndarray, source: np.ndarray) -> None:
    """Clamp `upscaled` (sH×sW×1, in place; `s` a whole number) to the 3×3 neighbourhood
    range of `source` (H×W×1, the same dtype) around the source pixel each output pixel
    comes from."""
    import cv2

    h, w = source.shape[:2]
    s = upscaled.shape[0] // h
    if (upscaled.shape[0], upscaled.shape[1]) != (h * s, w * s):
        raise ValueError(f"{upscaled.shape[:2]} is not a whole multiple of {source.shape[:2]}")
    plane = np.ascontiguousarray(source[:, :, 0])
    kernel = np.ones((3, 3), np.uint8)
    for top in range(0, h, BAND_ROWS):
        bottom = min(h, top + BAND_ROWS)
        lo, hi = max(0, top - 1), min(h, bottom + 1)  # one row of context for the 3×3 window
        band = plane[lo:hi]
        low = cv2.erode(band, kernel, borderType=cv2.BORDER_REPLICATE)[top - lo : top - lo + bottom - top]
        high = cv2.dilate(band, kernel, borderType=cv2.BORDER_REPLICATE)[top - lo : top - lo + bottom - top]
        low = np.repeat(np.repeat(low, s, axis=0), s, axis=1)
        high = np.repeat(np.repeat(high, s, axis=0), s, axis=1)
        out = upscaled[top * s : bottom * s, :, 0]
        np.clip(out, low, high, out=out)
