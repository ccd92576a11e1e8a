"""A palette image's palette, kept: an image read in palette mode (P, or 1-bit) records its
palette in ``Image.info[PALETTE_KEY]``, and a PNG of a result whose every visible colour is
one of its entries is written as a palette PNG with that palette, entries in their order
(nearest's pixel art: a 4-colour sprite came back as RGBA, 93 hidden colours under its
transparent pixels, ten times the file; a game's palette-swap tooling needs the indices).
"""

from __future__ import annotations

import numpy as np

#: the `Image.info` key of the source's palette: N×4 RGBA bytes (N ≤ 256)
PALETTE_KEY = "palette"
#: what `lossy_changes` says of a palette image written with colours beyond its palette
PALETTE_NOT_KEPT = "palette not kept (colours beyond it)"


def palette_of_pillow(im) -> bytes | None:
    """The RGBA palette (N×4 bytes) of a Pillow image in mode P or 1, else None."""
    if im.mode == "1":
        return bytes((0, 0, 0, 255, 255, 255, 255, 255))
    if im.mode != "P":
        return None
    rgb = np.asarray(im.getpalette("RGB") or [], np.uint8).reshape(-1, 3)
    if not 1 <= len(rgb) <= 256:
        return None
    alpha = np.full(len(rgb), 255, np.uint8)
    transparency = im.info.get("transparency")
    if isinstance(transparency, int) and 0 <= transparency < len(rgb):
        alpha[transparency] = 0
    elif isinstance(transparency, (bytes, bytearray)):  # (PNG tRNS: an alpha per entry)
        count = min(len(transparency), len(rgb))
        alpha[:count] = np.frombuffer(bytes(transparency), np.uint8)[:count]
    return np.concatenate([rgb, alpha[:, None]], axis=1).tobytes()


def palette_array(palette: bytes) -> np.ndarray:
    """`palette` bytes as an N×4 uint8 array."""
    return np.frombuffer(palette, np.uint8).reshape(-1, 4)


def palette_indices(pixels: np.ndarray, palette: bytes) -> np.ndarray | None:
    """H×W×1 indices into the RGBA `palette` of 8-bit `pixels` (grey, grey+alpha, RGB or
    RGBA), or None when a visible pixel's colour is not one of its entries. A fully
    transparent pixel takes the palette's first transparent entry (the colour under it is
    the pipeline's to fill: `transparent_fill`)."""
    entries = palette_array(palette)
    if pixels.dtype != np.uint8 or not 1 <= len(entries) <= 256:
        return None
    entry_keys = _packed(entries[:, :3], entries[:, 3])
    order = np.argsort(entry_keys, kind="stable")  # (a colour listed twice: its first index)
    ranked = entry_keys[order]
    # a sample first (every n-th row and column): a network's result, colours between the
    # entries, misses at once (the whole image, checked on every save of a palette source,
    # took 1.7 s and 350 MB for 17 MP)
    step = max(1, int((pixels.shape[0] * pixels.shape[1] / 4096) ** 0.5))
    sample_keys, sample_alpha = _keys(pixels[::step, ::step])
    if not np.isin(sample_keys[sample_alpha != 0], ranked).all():
        return None
    keys, alpha = _keys(pixels)
    position = np.minimum(np.searchsorted(ranked, keys), len(ranked) - 1)
    found = ranked[position] == keys
    indices = order[position]
    clear = alpha == 0
    if clear.any():
        transparent = np.flatnonzero(entries[:, 3] == 0)
        if len(transparent) == 0:
            return None
        indices = np.where(clear, transparent[0], indices)
        found |= clear
    if not found.all():
        return None
    return indices.astype(np.uint8)[:, :, None]


def _keys(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(packed RGBA keys, alpha) of grey, grey+alpha, RGB or RGBA 8-bit pixels."""
    channels = pixels.shape[2]
    rgb = np.repeat(pixels[:, :, :1], 3, axis=2) if channels <= 2 else pixels[:, :, :3]
    alpha = pixels[:, :, -1] if channels in (2, 4) else np.full(pixels.shape[:2], 255, np.uint8)
    return _packed(rgb, alpha), alpha


def _packed(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return ((rgb[..., 0].astype(np.uint32) << 24) | (rgb[..., 1].astype(np.uint32) << 16)
            | (rgb[..., 2].astype(np.uint32) << 8) | alpha.astype(np.uint32))
