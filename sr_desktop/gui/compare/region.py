"""Region boxes of the compare view: (x, y, w, h) in original-image pixels, checked
against the image, snapped from a rubber band, moved by a drag."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from sr_desktop.engine.core.box import Box
from sr_desktop.engine.core.box import clip_box as clip_to_image
from sr_desktop.gui.compare.image import DisplayImageError


def clip_box(box, width: int, height: int) -> Box:
    """`box` clipped to a width×height image; DisplayImageError if malformed or empty."""
    try:
        clipped = clip_to_image(box, width, height)
    except ValueError as exc:
        raise DisplayImageError(str(exc)) from None
    if clipped is None:
        raise DisplayImageError(f"region {box!r} is empty or outside the {width}×{height} image")
    return clipped


def snap_box(a: QPointF, b: QPointF, width: int, height: int) -> Box | None:
    """The box spanned by image points `a` and `b`, edges rounded to the pixel grid and
    kept on the image; None when it is less than a pixel wide or high."""
    x0 = min(max(round(min(a.x(), b.x())), 0), width)
    x1 = min(max(round(max(a.x(), b.x())), 0), width)
    y0 = min(max(round(min(a.y(), b.y())), 0), height)
    y1 = min(max(round(max(a.y(), b.y())), 0), height)
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def moved_box(box: Box, start: QPointF, current: QPointF, width: int, height: int) -> Box:
    """`box` moved by whole pixels from image point `start` to `current`, kept inside."""
    x, y, w, h = box
    dx = round(current.x() - start.x())
    dy = round(current.y() - start.y())
    nx = int(min(max(x + dx, 0), width - w))
    ny = int(min(max(y + dy, 0), height - h))
    return (nx, ny, w, h)


def box_contains(box: Box, point: QPointF) -> bool:
    """True when the image point lies in the box (pixel x covers [x, x+1))."""
    x, y, w, h = box
    return x <= point.x() < x + w and y <= point.y() < y + h
