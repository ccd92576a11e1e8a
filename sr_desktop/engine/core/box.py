"""Image regions: (x, y, w, h) boxes in pixels, as the window's region tool and the metrics
of a region use them."""

from __future__ import annotations

Box = tuple[int, int, int, int]


def clip_box(box, width: int, height: int) -> Box | None:
    """`box` intersected with a `width`×`height` image; None when nothing of it is left.
    `ValueError` for a box that is not four whole numbers."""
    try:
        x, y, w, h = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"a region is (x, y, w, h), got {box!r}") from None
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)
