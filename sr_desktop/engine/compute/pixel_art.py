"""ScaleNx: the Scale2x and Scale3x pixel-art scalers (the `scalenx` model).

Andrea Mazzoleni's Scale2x (2001; the same rules as Eric Johnston's EPX of 1992) and
Scale3x, also known as AdvMAME2x/3x, enlarge each pixel E into a 2×2 or 3×3 block whose
corners may take a neighbour's colour where two neighbours of the same colour meet
across E's corner, so that diagonal staircases of sprites and fonts become smoother lines
while every output pixel stays one of the input's colours (no blending: a palette is
kept, as with nearest neighbour). The neighbourhood, with E in the middle::

    A B C
    D E F
    G H I

×4, ×6, ×8, ×9, … are passes of ×2 and ×3 (the ×2 passes first); the part of a scale
that is not a product of 2 and 3 (×5 = ×5, ×10 = ×2 then ×5) is repeated blocks, nearest
neighbour. Pixels beyond the image border repeat the border's.

Equality is exact over all channels. With 2 or 4 channels the last is alpha, and every
fully transparent pixel counts as the same colour whatever its hidden colour: a sprite's
outline against a transparent background is rounded as against a plain one.
"""

from __future__ import annotations

import numpy as np

#: input pixels beyond a tile's core every pass chain needs for exact tiles: one pass reads
#: one neighbour, and the later passes' one neighbour is less than one input pixel
CONTEXT = 2


def pass_factors(scale: int) -> tuple[list[int], int]:
    """The Scale2x/Scale3x passes (each 2 or 3, in order) that make up `scale`, and the
    remaining factor done by nearest neighbour (1 when none): ``6 -> ([2, 3], 1)``,
    ``10 -> ([2], 5)``."""
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}")
    passes, rest = [], int(scale)
    for factor in (2, 3):
        while rest % factor == 0:
            passes.append(factor)
            rest //= factor
    return passes, rest


def scale_pixel_art(pixels: np.ndarray, scale: int) -> np.ndarray:
    """H×W×C `pixels` (any dtype) enlarged `scale` times by ScaleNx (see the module
    docstring); the result has the input's dtype and no colour that is not in the input."""
    if pixels.ndim != 3:
        raise ValueError(f"expected an H×W×C array, got shape {pixels.shape}")
    passes, rest = pass_factors(scale)
    out = pixels
    for factor in passes:
        out = _scale2x(out) if factor == 2 else _scale3x(out)
    if rest > 1:
        out = np.repeat(np.repeat(out, rest, axis=0), rest, axis=1)
    return out if out is not pixels else pixels.copy()


def _equality_key(pixels: np.ndarray) -> np.ndarray:
    """What pixels are compared by: the pixels, with every fully transparent one's colour
    made the same when the last channel is alpha (2 or 4 channels)."""
    if pixels.shape[2] not in (2, 4):
        return pixels
    key = pixels.copy()
    key[key[:, :, -1] == 0] = 0
    return key


def _neighbourhood(pixels: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The nine H×W×C arrays A..I of every pixel's neighbourhood (borders repeated), of the
    pixels and of their equality keys."""
    height, width = pixels.shape[:2]

    def shifted(array: np.ndarray) -> dict[str, np.ndarray]:
        padded = np.pad(array, ((1, 1), (1, 1), (0, 0)), mode="edge")
        names = "ABCDEFGHI"
        return {names[3 * dy + dx]: padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)}

    key = _equality_key(pixels)
    around = shifted(pixels)
    return around, (shifted(key) if key is not pixels else around)


def _same(keys: dict[str, np.ndarray], a: str, b: str) -> np.ndarray:
    """H×W booleans: whether neighbours `a` and `b` are the same colour."""
    return np.all(keys[a] == keys[b], axis=2)


def _pick(condition: np.ndarray, value: np.ndarray, otherwise: np.ndarray) -> np.ndarray:
    return np.where(condition[:, :, None], value, otherwise)


def _scale2x(pixels: np.ndarray) -> np.ndarray:
    """One Scale2x pass: each pixel becomes 2×2."""
    p, k = _neighbourhood(pixels)
    height, width, channels = pixels.shape
    # a corner changes only where E is not on a straight edge (B≠H and D≠F)
    bend = ~_same(k, "B", "H") & ~_same(k, "D", "F")
    out = np.empty((2 * height, 2 * width, channels), pixels.dtype)
    out[0::2, 0::2] = _pick(bend & _same(k, "D", "B"), p["D"], p["E"])
    out[0::2, 1::2] = _pick(bend & _same(k, "B", "F"), p["F"], p["E"])
    out[1::2, 0::2] = _pick(bend & _same(k, "D", "H"), p["D"], p["E"])
    out[1::2, 1::2] = _pick(bend & _same(k, "H", "F"), p["F"], p["E"])
    return out


def _scale3x(pixels: np.ndarray) -> np.ndarray:
    """One Scale3x pass: each pixel becomes 3×3."""
    p, k = _neighbourhood(pixels)
    height, width, channels = pixels.shape
    bend = ~_same(k, "B", "H") & ~_same(k, "D", "F")
    db, bf, dh, hf = (bend & _same(k, x, y) for x, y in (("D", "B"), ("B", "F"), ("D", "H"), ("H", "F")))
    e_is = {name: _same(k, "E", name) for name in "ACGI"}
    out = np.empty((3 * height, 3 * width, channels), pixels.dtype)
    out[0::3, 0::3] = _pick(db, p["D"], p["E"])
    out[0::3, 1::3] = _pick((db & ~e_is["C"]) | (bf & ~e_is["A"]), p["B"], p["E"])
    out[0::3, 2::3] = _pick(bf, p["F"], p["E"])
    out[1::3, 0::3] = _pick((db & ~e_is["G"]) | (dh & ~e_is["A"]), p["D"], p["E"])
    out[1::3, 1::3] = p["E"]
    out[1::3, 2::3] = _pick((bf & ~e_is["I"]) | (hf & ~e_is["C"]), p["F"], p["E"])
    out[2::3, 0::3] = _pick(dh, p["D"], p["E"])
    out[2::3, 1::3] = _pick((dh & ~e_is["I"]) | (hf & ~e_is["G"]), p["H"], p["E"])
    out[2::3, 2::3] = _pick(hf, p["F"], p["E"])
    return out
