"""View arithmetic of the compare view: zoom, pan and the mapping between widget and
scene coordinates. The scene is the result's pixel grid (the original's when there is no
result); every pane of the view shows the scene with the same zoom and centre, which is
what keeps the two sides on the same place."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF

MIN_ZOOM = 1.0 / 64.0
MAX_ZOOM = 32.0
ZOOM_STEPS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
WHEEL_NOTCH_FACTOR = 2.0 ** 0.25  # four wheel notches double the zoom


class ViewTransform:
    """Zoom (device pixels per scene pixel) and centre (the scene point at each pane's
    centre). Positions in widget coordinates are logical pixels, so a scene pixel covers
    ``zoom / dpr`` of them: 100 % means one image pixel per physical screen pixel."""

    def __init__(self) -> None:
        self.zoom = 1.0
        self.center = QPointF(0.0, 0.0)
        self.dpr = 1.0
        self.scene_width = 1.0
        self.scene_height = 1.0
        #: scene pixels per original pixel (the result's scale once it is shown)
        self.scene_per_original = 1.0

    @property
    def logical_scale(self) -> float:
        """Logical widget pixels per scene pixel."""
        return self.zoom / self.dpr

    def origin(self, pane: QRectF) -> QPointF:
        """Where the scene's (0, 0) is in widget coordinates: ``center`` at the pane's
        centre, rounded to a whole device pixel. A pane or image of odd size put it half a
        device pixel off, and every image drawn scaled (the result beside its original at
        100 %) was resampled across pixel boundaries: blurred, 100 % of its pixels off."""
        k = self.logical_scale
        c = pane.center()
        return QPointF(round((c.x() - self.center.x() * k) * self.dpr) / self.dpr,
                       round((c.y() - self.center.y() * k) * self.dpr) / self.dpr)

    def scene_to_widget(self, point: QPointF, pane: QRectF) -> QPointF:
        k = self.logical_scale
        o = self.origin(pane)
        return QPointF(o.x() + point.x() * k, o.y() + point.y() * k)

    def widget_to_scene(self, point: QPointF, pane: QRectF) -> QPointF:
        k = self.logical_scale
        o = self.origin(pane)
        return QPointF((point.x() - o.x()) / k, (point.y() - o.y()) / k)

    def scene_rect_to_widget(self, rect: QRectF, pane: QRectF) -> QRectF:
        top_left = self.scene_to_widget(rect.topLeft(), pane)
        k = self.logical_scale
        return QRectF(top_left.x(), top_left.y(), rect.width() * k, rect.height() * k)

    def widget_rect_to_scene(self, rect: QRectF, pane: QRectF) -> QRectF:
        """The part of the scene plane (not clipped to the image) that ``rect`` of a pane
        shows."""
        top_left = self.widget_to_scene(rect.topLeft(), pane)
        k = self.logical_scale
        return QRectF(top_left.x(), top_left.y(), rect.width() / k, rect.height() / k)

    def fit_zoom(self, pane: QRectF) -> float:
        """The zoom at which the whole scene fits in the pane, at most `MAX_ZOOM` screen
        pixels per *original* pixel: a tiny image then fits at the same on-screen size
        before and after its upscale (capped on the result's pixels, a 10×10 image grew from
        320 to 688 px when its ×4 result arrived)."""
        if pane.width() <= 0 or pane.height() <= 0:
            return 1.0
        zx = pane.width() * self.dpr / self.scene_width
        zy = pane.height() * self.dpr / self.scene_height
        return max(MIN_ZOOM, min(MAX_ZOOM / self.scene_per_original, zx, zy))

    def clamp(self, pane: QRectF) -> None:
        """Keep the view on the image: a scene axis smaller than the pane is centred; a
        larger one is kept so that no empty border shows."""
        k = self.logical_scale
        cx, cy = self.center.x(), self.center.y()
        cx = _clamp_axis(cx, pane.width() / k, self.scene_width)
        cy = _clamp_axis(cy, pane.height() / k, self.scene_height)
        self.center = QPointF(cx, cy)

    def zoom_about(self, new_zoom: float, anchor: QPointF, pane: QRectF) -> None:
        """Change the zoom so that the scene point under ``anchor`` (widget coordinates)
        stays under it, then clamp."""
        fixed = self.widget_to_scene(anchor, pane)
        self.zoom = clamp_zoom(new_zoom)
        k = self.logical_scale
        c = pane.center()
        self.center = QPointF(fixed.x() - (anchor.x() - c.x()) / k,
                              fixed.y() - (anchor.y() - c.y()) / k)
        self.clamp(pane)

    def pan_by(self, dx: float, dy: float, pane: QRectF) -> None:
        """Move the image by (dx, dy) logical pixels."""
        k = self.logical_scale
        self.center = QPointF(self.center.x() - dx / k, self.center.y() - dy / k)
        self.clamp(pane)


def _clamp_axis(center: float, visible: float, extent: float) -> float:
    if visible >= extent:
        return extent / 2.0
    return min(max(center, visible / 2.0), extent - visible / 2.0)


def clamp_zoom(zoom: float) -> float:
    """`zoom` clamped to `MIN_ZOOM`..`MAX_ZOOM`; ValueError for a non-finite or non-positive zoom."""
    if not math.isfinite(zoom) or zoom <= 0:
        raise ValueError(f"zoom must be a positive number, got {zoom}")
    return max(MIN_ZOOM, min(MAX_ZOOM, zoom))


def next_zoom_step(current: float, fit: float, up: bool, smallest: float = MIN_ZOOM,
                   largest: float = MAX_ZOOM) -> float:
    """The next zoom preset above (``up``) or below ``current``: the powers of two from
    `ZOOM_STEPS` up to ``largest``, the fit zoom, and the limits themselves."""
    powers = {2.0 ** k for k in range(-5, math.floor(math.log2(largest)) + 1)} | set(ZOOM_STEPS)
    steps = sorted({s for s in powers if smallest <= s <= largest} | {fit, smallest, largest})
    if up:
        larger = [s for s in steps if s > current * 1.001]
        return larger[0] if larger else steps[-1]
    smaller = [s for s in steps if s < current / 1.001]
    return smaller[-1] if smaller else steps[0]
