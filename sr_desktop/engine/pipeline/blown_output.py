"""Network outputs that blew up: values many times outside 0..1, which clipping turns into
coloured noise without a word.

Measured by ``benchmarks/bench_blown_output.py`` (two 128-px photo crops and four drawn
images — 1-px line art, a pixel-art checker, a sprite, a mix — at ×2 and ×4): SPAN reached
−3,608..3,282 on the checker and −51..48 on the line art, Real-CUGAN Pro ×2 −159,070..74,763
on the checker, Real-CUGAN SE ×4 −55..13 on it; every other installed model stayed within
−2.8..3.6 on all six (a PSNR model's overshoot at hard edges, which clipping only sharpens),
and every model within −0.2..1.4 on the photos. (The review's own drawn images, measured
the same way, agreed.) A pixel with a channel outside `LOW`..`HIGH` has blown up: none of
the well-behaved runs had one; the blown-up runs had 4.7-100 % of their pixels so.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: a channel below this or above this (with 0..1 the image's range) has blown up
LOW, HIGH = -4.0, 5.0
#: the share of a result's pixels blown up from which the result is said to be noise
#: (a pixel or two of a large image is not seen)
WARN_AT = 1e-4
#: models that stayed in range on all six images at every scale (made for drawings, or adding
#: nothing); Real-CUGAN SE was one until its ×4 blew up on the checker
INSTEAD = ("realesrgan-x4plus-anime", "realesr-animevideov3", "nearest")


def count_blown_pixels(core) -> int:
    """Pixels of `core` (N×C×H×W torch tensor, or H×W×C numpy array) with a channel outside
    `LOW`..`HIGH`. One min/max pass; the count only when one is out."""
    if isinstance(core, np.ndarray):
        if core.size == 0 or (core.min() >= LOW and core.max() <= HIGH):
            return 0
        return int(((core < LOW) | (core > HIGH)).any(axis=-1).sum())
    import torch

    if core.numel() == 0:
        return 0
    low, high = torch.aminmax(core)
    if float(low) >= LOW and float(high) <= HIGH:
        return 0
    return int(((core < LOW) | (core > HIGH)).any(dim=1).sum())


def blown_up_warnings(model_id: str, fraction: float) -> list[str]:
    """A result's warnings (`UpscaleResult.warnings`): its `blown_up_note`, if any."""
    note = blown_up_note(model_id, fraction)
    return [note] if note else []


def blown_up_note(model_id: str, fraction: float, name_of: Callable[[str], str] = str) -> str | None:
    """The warning for a result whose `fraction` of pixels blew up (None below `WARN_AT`);
    models named by `name_of` (their ids by default: the command line's words)."""
    if fraction < WARN_AT:
        return None
    share = f"{fraction * 100:.0f} %" if fraction >= 0.01 else "under 1 %"
    others = [name_of(other) for other in INSTEAD if other != model_id]
    return (f"{name_of(model_id)} blew up on {share} of the result's pixels (values far outside the image's "
            "range, clipped into coloured noise): it fails on images like this one (flat colours, hard 1-px "
            f"edges: line art, pixel art); try {', '.join(others[:-1])} or {others[-1]}")
