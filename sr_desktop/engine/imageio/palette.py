"""Palettes: a palette image's own, kept, and a GIF frame's (`gif_palette_image`).

A palette image's palette, kept: an image read in palette mode (P, or 1-bit) records its
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


def _rgb_packed(rgb: np.ndarray) -> np.ndarray:
    """0xRRGGBB keys of 8-bit colours (…×3)."""
    return (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]


def _packed(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """0xRRGGBBAA keys."""
    return (_rgb_packed(rgb) << 8) | alpha.astype(np.uint32)


def _unused_colour(palette: np.ndarray) -> np.ndarray:
    """A colour for the transparent entry that no visible pixel has. Pillow's GIF writer crops
    a frame that follows a cleared one to where it differs from that entry's colour drawn
    opaque: with black there, a later frame's opaque black along its edge was cut off, and
    came out transparent."""
    used = set(_rgb_packed(palette[None]).ravel().tolist())
    key = 0xFE01FD  # an unlikely colour first; the next ones until one is free (256 at most taken)
    while key in used:
        key = (key + 0x010203) & 0xFFFFFF
    return np.array([(key >> 16) & 255, (key >> 8) & 255, key & 255], np.uint8)


def gif_palette_image(pixels8: np.ndarray):
    """A Pillow palette image of 8-bit RGB or RGBA (alpha 0 or 255: `write.gif_alpha`) for GIF: its
    own colours exactly when they are at most 256 (255 beside a transparent one), else a
    quantised palette of them (below); transparent pixels one palette index. (Pillow's RGBA
    quantiser, a fast octree, kept 8 of a sprite's 32 colours, 4 of a gradient's 32.)"""
    from PIL import Image as PILImage

    rgb = np.ascontiguousarray(pixels8[:, :, :3])
    clear = pixels8[:, :, 3] == 0 if pixels8.shape[2] == 4 else None
    room = 256 if clear is None or not clear.any() else 255
    keys = _rgb_packed(rgb)
    seen = keys if clear is None else keys[~clear]
    # a sample first: a photo's frame has more colours than fit in its first few thousand
    # pixels already (all of them sorted took 0.56 s a 1-MP frame)
    sample = np.unique(seen.ravel()[:: max(1, seen.size // 16384)])
    colours = np.unique(seen) if len(sample) <= room else sample
    if len(colours) <= room:
        indices = np.searchsorted(colours, keys).astype(np.uint8) if len(colours) else np.zeros(keys.shape, np.uint8)
        palette = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1).astype(np.uint8)
    else:
        # more colours than fit: as before, median cut where all is visible, Pillow's fast
        # octree beside a transparent colour (median cut took 20-38× longer: 0.77 s a 1-MP
        # frame); the hidden pixels take a visible colour first, so they spend no entry
        if clear is not None and clear.any():
            rgb = rgb.copy()
            rgb[clear] = rgb[~clear][0]
        method = PILImage.Quantize.MEDIANCUT if room == 256 else PILImage.Quantize.FASTOCTREE
        quantised = PILImage.fromarray(rgb).quantize(colors=room, method=method)
        indices = np.asarray(quantised)
        palette = np.asarray(quantised.getpalette()[: 3 * room], np.uint8).reshape(-1, 3)
    image_indices = indices.copy()
    transparency = None
    if room == 255:
        transparency = len(palette)
        image_indices[clear] = transparency
        palette = np.concatenate([palette, _unused_colour(palette)[None]])
    image = PILImage.fromarray(image_indices, "P")
    image.putpalette(palette.tobytes())
    if transparency is not None:
        image.info["transparency"] = transparency
    return image
