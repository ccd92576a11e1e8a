"""Image regions: (x, y, w, h) boxes in pixels, as the window's region tool and the metrics
of a region use them."""

from __future__ import annotations

from sr_desktop.engine.core.options import as_whole_number

Box = tuple[int, int, int, int]


def whole_box(box) -> Box:
    """`box` as four whole numbers (x, y, w, h), given as numbers or their text; `ValueError`
    for anything else (x = 1.5 was taken as 1, three numbers failed unpacking)."""
    try:
        whole = tuple(as_whole_number(v) for v in box)
    except (TypeError, ValueError):
        whole = ()
    if len(whole) != 4:
        raise ValueError(f"a region is four whole numbers (x, y, w, h), got {box!r}")
    return whole  # type: ignore[return-value]


def parse_region(text: str) -> Box:
    """``X,Y,W,H`` (``--region``): a region's left and top edge and its width and height in
    pixels of the input; `OptionError` unless four whole numbers, the size at least 1×1 and
    the corner not left of or above the image."""
    from sr_desktop.engine.core.errors import OptionError

    try:
        x, y, w, h = whole_box(str(text).replace(" ", "").split(","))
    except ValueError:
        raise OptionError(f"a region is X,Y,W,H in pixels (e.g. 100,80,64,48), got {text!r}") from None
    if w < 1 or h < 1:
        raise OptionError(f"a region's width and height are at least 1, got {w}×{h}")
    if x < 0 or y < 0:
        raise OptionError(f"a region's corner is on the image (x and y from 0), got ({x}, {y})")
    return (x, y, w, h)


def clip_box(box, width: int, height: int) -> Box | None:
    """`box` intersected with a `width`×`height` image; None when nothing of it is left.
    `ValueError` for a box that is not four whole numbers."""
    x, y, w, h = whole_box(box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return (x0, y0, x1 - x0, y1 - y0)
