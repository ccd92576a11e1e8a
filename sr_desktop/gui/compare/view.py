"""The before/after compare view of the main window.

Two modes:

* ``"split"``: one canvas, a vertical divider (drag it; the cursor changes near it) with the
  before on its left and the after on its right;
* ``"side_by_side"``: two panes with the same zoom and centre, before left, after right.

``set_swapped(True)`` puts the after side on the left in both.

The scene is the result's pixel grid; the before (the original) is drawn stretched over it
so both line up pixel for pixel. ``zoom()`` (1.0 = 100 %) counts physical screen pixels per
scene (result) pixel; ``magnification()`` counts them per *original* pixel, which an upscale
does not change — the window shows and sets that one, so the same on-screen size always reads
the same percentage. Above 100 % zoom pixels are drawn nearest-neighbour (crisp), at or below
100 % smoothly (with half-size copies for strong zoom-outs). Arrays are converted to QImages once, when
they are set; painting only draws the visible part.

Setting a very large result converts it on the calling thread (about 0.4 s for 8000×6000 on
a slow CPU); to keep the GUI thread free, build ``sr_desktop.gui.compare.image.ImageLayer(pixels)``
in the worker and pass the layer instead of the array (every ``set_*`` method accepts one).

Mouse: wheel zooms about the cursor; left-drag (or middle-drag) pans; double-click toggles
fit / 100 %. Regions: with Shift held, or with ``set_tool("region")``, a left-drag draws a
rubber band and a drag that starts inside the current region moves it; on release
``regionSelected((x, y, w, h))`` is emitted in original-image pixels (edges snapped to the
original pixel grid). A click (no drag) in region mode outside the region clears it and
emits ``regionCleared``. Signals are emitted for user gestures only, not for the
programmatic ``set_region`` / ``clear_region`` (``zoomChanged`` is emitted for every change).

Over 500 lines because one widget owns zoom, pan, the divider and painting of both modes,
which read each other's state on every event; the image pyramid and overlays are modules
of their own.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QWheelEvent
from PySide6.QtWidgets import QWidget

from sr_desktop.gui.compare.content import CompareContent, as_layer
from sr_desktop.gui.compare.geometry import (
    MAX_ZOOM,
    MIN_ZOOM,
    WHEEL_NOTCH_FACTOR,
    ViewTransform,
    clamp_zoom,
    next_zoom_step,
)
from sr_desktop.gui.compare.gestures import PointerGestures
from sr_desktop.gui.compare.image import ImageLayer
from sr_desktop.gui.compare.overlays import (
    checker_brush,
    divider_handle_y,
    paint_before_label,
    paint_divider,
    paint_empty_hint,
    paint_label,
    paint_region,
)
from sr_desktop.gui.compare.region import clip_box, snap_box
from sr_desktop.gui.key_text import with_native_keys

MODES = ("split", "side_by_side")
TOOLS = ("pan", "region")

# the canvas stays dark in every theme, as in photo editors: images are judged against it
_BACKGROUND = QColor(43, 43, 46)  # on-image colour
_PANE_GAP = 4.0  # logical pixels between the two side-by-side panes
_DIVIDER_GRAB = 6.0  # how close (logical px) the pointer must be to grab the divider


class CompareView(PointerGestures, QWidget):
    """Before/after compare view (see the module docstring for the interaction)."""

    regionSelected = Signal(tuple)  # (x, y, w, h) in original pixels
    regionCleared = Signal()
    #: a click on the empty view (its drop zone): the window opens its file dialog
    openRequested = Signal()
    zoomChanged = Signal(float)
    #: screen pixels per original pixel (see `magnification`), after every change of it
    magnificationChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        # in the Tab order, so a keyboard user reaches it (Space there shows the original)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Before and after comparison")
        self.setAccessibleDescription(
            with_native_keys("The original and the upscaled image. Hold Space to see the original; "
                             "Ctrl++ and Ctrl+- zoom."))
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._view = ViewTransform()
        self._content = CompareContent()
        self._mode = "split"
        self._split = 0.5
        self._swapped = False  # the after side on the left (`set_swapped`)
        self._show_original = False
        self._tool = "pan"
        self._region: tuple[int, int, int, int] | None = None
        self._band: tuple[QPointF, QPointF] | None = None  # rubber band being drawn
        self._drag: dict | None = None
        self._fit = True
        self._checker = checker_brush()
        self._magnification = 0.0  # last one told through magnificationChanged
        self.setCursor(Qt.CursorShape.PointingHandCursor)  # the empty drop zone: a click opens images

    # ------------------------------------------------------------------ images

    def set_original(self, pixels: np.ndarray, icc: bytes | None = None) -> None:
        """Show a new original (H×W×C uint8/uint16, C 1..4, its colours described by the ICC
        profile `icc`: shown converted to sRGB, as are its results); clears the result,
        region results, display override and region, and fits the view."""
        layer = as_layer(pixels, icc)
        self._content.set_original(layer)
        self._content.icc = getattr(pixels, "icc_profile", icc)
        self._region = None
        self._band = None
        self._drag = None
        self._view.scene_width = float(layer.width)
        self._view.scene_height = float(layer.height)
        self._view.scene_per_original = 1.0
        self.zoom_fit()
        self._update_cursor(None, Qt.KeyboardModifier.NoModifier)  # (no longer the drop zone's hand)

    def set_result(self, pixels: np.ndarray, scale: int) -> None:
        """Show the upscaled image (about H·scale × W·scale). Replaces region results and
        the display override; the view stays on the same place at the same magnification."""
        self._content.require_original()
        sx, sy = self._content.set_result(as_layer(pixels, self._content.icc), scale)
        self._set_scene_scale(sx, sy)

    def show_frame(self, before, after=None, regions_on=None) -> None:
        """Another frame of an animation on both sides (layers or arrays of the sizes shown
        now; ``after`` None keeps the after side): view, mode, split and region stay.
        ``regions_on``: the frame that enhanced regions lie on, kept on the after side under
        them (None: the before side's frame)."""
        content = self._content
        content.original = as_layer(before, content.icc)
        content.patch_base = None if regions_on is None else as_layer(regions_on, content.icc)
        if after is not None and content.result is not None:
            content.result = as_layer(after, content.icc)
        self.update()

    def set_region_result(self, box: tuple, pixels: np.ndarray, scale: int) -> None:
        """Paste an upscaled region (h·scale × w·scale pixels) in place on the after side.

        The after side becomes the original with the enhanced regions pasted over it: a
        full result shown before is dropped (other areas show the original). Regions
        pasted earlier at the same scale stay; at another scale they are dropped.
        """
        content = self._content
        box = self._checked_box(box)
        content.paste_region(box, pixels, scale)
        scale = float(content.result_scale)
        if (content.sx, content.sy) != (scale, scale):
            self._set_scene_scale(scale, scale)
        else:
            self.update()
        if self._mode == "split":
            self._bring_after_divider(box)

    def _bring_after_divider(self, box: tuple) -> None:
        """Move the divider to the left edge of `box` (its right edge, the sides swapped) when
        most of it lies on the before side: a region drawn there was enhanced and nothing of
        it showed."""
        x, y, w, _h = box
        left = self.map_image_to_widget(QPointF(x, y)).x()
        right = self.map_image_to_widget(QPointF(x + w, y)).x()
        if self.width() <= 0:
            return
        if not self._swapped and right - max(left, self.divider_x()) < (right - left) / 2:
            self.set_split(max(0.0, left) / self.width())
        elif self._swapped and min(right, self.divider_x()) - left < (right - left) / 2:
            self.set_split(min(float(self.width()), right) / self.width())

    def drop_region_results(self) -> None:
        """Forget the pasted regions: the after side is empty until the next result."""
        self._content.drop_regions()
        self.update()

    def set_display_override(self, pixels: np.ndarray | None, label: str = "Map",
                             image_colours: bool = False, before_label: str = "Before") -> None:
        """Show another image (a difference/SSIM/gradient map at result size; uint8, uint16
        or float 0..1) on the after side instead of the result; None shows the result again.
        `image_colours`: it is an image in the original's colours (another model's result),
        converted by its colour profile as the result is; a map is not. The override covers
        the whole image, or from its top-left corner what it holds of it
        (`CompareContent.override_rect`). `before_label`: the before side's label meanwhile
        (beside an evaluated model's result the original is its ground truth, not a "Before")."""
        if pixels is None:
            self._content.override = None
        else:
            self._content.require_original()
            self._content.override = as_layer(pixels, self._content.icc if image_colours else None)
            self._content.override_label = label
            self._content.override_before = before_label
        self.update()

    def shown_instead_of_result(self) -> str | None:
        """The label of what the after side shows in place of the result (a map, an evaluated
        model), or None."""
        return self._content.override_label if self._content.override is not None else None

    def shown_instead_size(self) -> tuple[int, int] | None:
        """(width, height) of what the after side shows in place of the result, or None."""
        layer = self._content.override
        return None if layer is None else (layer.width * layer.reduced_by, layer.height * layer.reduced_by)

    def has_result(self) -> bool:
        """True when the after side has something (a result, region results or a map)."""
        return self._content.has_result()

    def set_after_caption(self, text: str) -> None:
        """What made the after side, drawn in its label ("After · SPAN ×4"); "" for none."""
        self._content.after_caption = str(text)
        self.update()

    def after_label(self) -> str:
        """The label drawn on the after side now."""
        return self._content.after_label()

    def before_label(self) -> str:
        """The label drawn on the before side now."""
        return self._content.before_label()

    def has_image(self) -> bool:
        return self._content.original is not None

    # ------------------------------------------------------------------ modes

    def set_mode(self, mode: str) -> None:
        """"split" (one canvas with a divider) or "side_by_side" (two synchronised panes)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == self._mode:
            return
        self._mode = mode
        self._refresh_view()

    def mode(self) -> str:
        return self._mode

    def set_swapped(self, on: bool) -> None:
        """The after side on the left and the before side on the right (split view and side
        by side), for an eye that reads the result first or a layout that has it there."""
        self._swapped = bool(on)
        self.update()

    def swapped(self) -> bool:
        return self._swapped

    def set_split(self, fraction: float) -> None:
        """Divider position as a fraction of the view width (0 = left edge, 1 = right)."""
        fraction = float(fraction)
        if not math.isfinite(fraction):
            raise ValueError(f"split fraction must be a number, got {fraction}")
        self._split = min(1.0, max(0.0, fraction))
        self.update()

    def split(self) -> float:
        return self._split

    def set_show_original(self, on: bool) -> None:
        """While on, the original is shown in place of the after side (e.g. Space held)."""
        self._show_original = bool(on)
        self.update()

    def show_original(self) -> bool:
        return self._show_original

    def set_tool(self, tool: str) -> None:
        """"pan": left-drag pans (Shift+drag draws a region); "region": left-drag draws or
        moves the region."""
        if tool not in TOOLS:
            raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
        self._tool = tool
        self._update_cursor(None, Qt.KeyboardModifier.NoModifier)

    def tool(self) -> str:
        return self._tool

    # ------------------------------------------------------------------ zoom

    def zoom(self) -> float:
        """Current zoom: result pixels per physical screen pixel (1.0 = 100 %)."""
        return self._view.zoom

    def magnification(self) -> float:
        """Physical screen pixels per *original* pixel (1.0 = 100 %): the on-screen size of
        the picture, the same before and after an upscale."""
        return self._view.zoom * self._content.sx

    def set_magnification(self, factor: float) -> None:
        """Zoom so that one original pixel covers ``factor`` screen pixels (about the
        centre of the view)."""
        self.zoom_to(float(factor) / self._content.sx)

    def is_fit(self) -> bool:
        return self._fit

    def zoom_fit(self) -> None:
        """Fit the whole image in the view (and keep fitting when the view is resized)."""
        self._fit = True
        self._refresh_view()

    def zoom_to(self, factor: float) -> None:
        """Zoom to ``factor`` (1.0 = 100 %) about the centre of the view."""
        pane = self._pane_rects()[0]
        self._zoom_about(clamp_zoom(float(factor)), pane.center(), pane)

    def zoom_in(self) -> None:
        """Next zoom preset (…, fit, 100 %, 200 %, 400 %, 800 %, …) of the magnification."""
        self._step_zoom(up=True)

    def zoom_out(self) -> None:
        """Previous zoom preset."""
        self._step_zoom(up=False)

    def _step_zoom(self, up: bool) -> None:
        # presets of the magnification the label shows: stepped on the result's pixels,
        # a ×3 result went 100 → 150 → 300 % and 100 % could not be reached again
        sx = self._content.sx
        step = next_zoom_step(self.magnification(), self._fit_zoom() * sx, up,
                              smallest=MIN_ZOOM * sx, largest=MAX_ZOOM * sx)
        self.set_magnification(step)

    def view_center(self) -> QPointF:
        """The original-image point at the centre of the view (each pane's centre)."""
        c = self._view.center
        return QPointF(c.x() / self._content.sx, c.y() / self._content.sy)

    # ------------------------------------------------------------------ region

    def region(self) -> tuple[int, int, int, int] | None:
        """The selected region (x, y, w, h) in original pixels, or None."""
        return self._region

    def set_region(self, box: tuple | None) -> None:
        """Select a region (original pixels; clipped to the image). None clears it."""
        if box is None:
            self.clear_region()
            return
        self._region = self._checked_box(box)
        self.update()

    def visible_box(self) -> tuple[int, int, int, int] | None:
        """The part of the original in view (x, y, w, h; the left pane's in side by side),
        or None when the whole image is in view or there is no image."""
        original = self._content.original
        if original is None:
            return None
        self._sync_dpr()
        pane = self._pane_rects()[0]
        scene = self._view.widget_rect_to_scene(pane, pane)
        sx, sy = self._content.sx, self._content.sy
        x0, y0 = max(0, math.floor(scene.left() / sx)), max(0, math.floor(scene.top() / sy))
        x1 = min(original.width, math.ceil(scene.right() / sx))
        y1 = min(original.height, math.ceil(scene.bottom() / sy))
        if x1 <= x0 or y1 <= y0 or (x0, y0, x1, y1) == (0, 0, original.width, original.height):
            return None
        return x0, y0, x1 - x0, y1 - y0

    def clear_region(self) -> None:
        self._region = None
        self._band = None
        self.update()

    # ------------------------------------------------------------------ mapping

    def map_widget_to_image(self, pos: QPointF) -> QPointF:
        """Widget position → original-image coordinates (pixel x covers [x, x+1))."""
        pos = QPointF(pos)
        return self._image_point(pos, self._pane_at(pos))

    def map_image_to_widget(self, point: QPointF, pane_index: int = 0) -> QPointF:
        """Original-image coordinates → widget position in pane 0 (left) or 1 (right)."""
        self._sync_dpr()
        panes = self._pane_rects()
        pane = panes[min(pane_index, len(panes) - 1)]
        scene = QPointF(point.x() * self._content.sx, point.y() * self._content.sy)
        return self._view.scene_to_widget(scene, pane)

    def divider_x(self) -> float:
        """The divider position in widget coordinates (split mode)."""
        return self.width() * self._split

    # ------------------------------------------------------------------ internals

    def sizeHint(self) -> QSize:
        return QSize(800, 600)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, 120)

    def _require_original(self) -> ImageLayer:
        return self._content.require_original()

    def _checked_box(self, box) -> tuple[int, int, int, int]:
        original = self._require_original()
        return clip_box(box, original.width, original.height)

    def _image_point(self, pos: QPointF, pane: QRectF) -> QPointF:
        """Widget position in `pane` → original-image coordinates."""
        self._sync_dpr()
        scene = self._view.widget_to_scene(pos, pane)
        return QPointF(scene.x() / self._content.sx, scene.y() / self._content.sy)

    def _set_scene_scale(self, sx: float, sy: float) -> None:
        """Switch the scene grid (original ×1 or the result's grid) keeping the image at the
        same place and on-screen size."""
        original = self._require_original()
        old_zoom = self._view.zoom
        magnification = self._view.zoom * self._content.sx
        center = self.view_center()
        self._content.sx, self._content.sy = sx, sy
        self._view.scene_width = original.width * sx
        self._view.scene_height = original.height * sy
        self._view.scene_per_original = sx
        self._view.center = QPointF(center.x() * sx, center.y() * sy)
        if not self._fit:
            self._view.zoom = clamp_zoom(magnification / sx)
        self._refresh_view(old_zoom)

    def _sync_dpr(self) -> None:
        self._view.dpr = float(self.devicePixelRatioF()) or 1.0

    def _fit_zoom(self) -> float:
        self._sync_dpr()
        return self._view.fit_zoom(self._pane_rects()[0])

    def _zoom_about(self, zoom: float, anchor: QPointF, pane: QRectF) -> None:
        """Leave fit mode and zoom so that the scene point under `anchor` stays there."""
        old = self._view.zoom
        self._fit = False
        self._sync_dpr()
        self._view.zoom_about(zoom, anchor, pane)
        self._after_view_change(old)

    def _refresh_view(self, old_zoom: float | None = None) -> None:
        """Re-fit (in fit mode) or re-clamp after a size, mode or scene change."""
        old = self._view.zoom if old_zoom is None else old_zoom
        self._sync_dpr()
        pane = self._pane_rects()[0]
        if self._fit:
            self._view.zoom = self._view.fit_zoom(pane)
        self._view.clamp(pane)
        self._after_view_change(old)

    def _after_view_change(self, old_zoom: float) -> None:
        self.update()
        if self._view.zoom != old_zoom:
            self.zoomChanged.emit(self._view.zoom)
        magnification = self.magnification()
        if not math.isclose(magnification, self._magnification, rel_tol=1e-9):
            self._magnification = magnification
            self.magnificationChanged.emit(magnification)

    def _pane_rects(self) -> list[QRectF]:
        full = QRectF(0.0, 0.0, float(max(1, self.width())), float(max(1, self.height())))
        if self._mode == "split":
            return [full]
        half = max(1.0, (full.width() - _PANE_GAP) / 2.0)
        return [QRectF(0.0, 0.0, half, full.height()),
                QRectF(full.width() - half, 0.0, half, full.height())]

    def _pane_at(self, pos: QPointF) -> QRectF:
        panes = self._pane_rects()
        if len(panes) == 2 and pos.x() >= self.width() / 2.0:
            return panes[1]
        return panes[0]

    def _after_visible(self) -> bool:
        return self.has_result() and not self._show_original

    def _near_divider(self, pos: QPointF) -> bool:
        return (self._mode == "split" and self._content.original is not None
                and self._after_visible() and abs(pos.x() - self.divider_x()) <= _DIVIDER_GRAB)

    # ------------------------------------------------------------------ events

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._content.original is not None:
            self._refresh_view()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        dpr_change = getattr(QEvent.Type, "DevicePixelRatioChange", None)
        if dpr_change is not None and event.type() == dpr_change and self._content.original is not None:
            self._refresh_view()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._content.original is None:
            event.ignore()
            return
        delta = event.angleDelta().y()
        if delta == 0:
            delta = event.pixelDelta().y()  # touchpads without angle deltas
        if delta == 0:
            event.ignore()
            return
        pos = QPointF(event.position())
        self._zoom_about(self._view.zoom * WHEEL_NOTCH_FACTOR ** (delta / 120.0), pos,
                         self._pane_at(pos))
        event.accept()

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), _BACKGROUND)
            if self._content.original is None:
                paint_empty_hint(painter, QRectF(self.rect()), self.font())
                return
            self._sync_dpr()
            panes = self._pane_rects()
            if self._mode == "split":
                self._paint_split(painter, panes[0])
            else:
                self._paint_side_by_side(painter, panes)
        finally:
            if self.hasFocus():  # where Space, the arrows and [ ] go: a keyboard user must see it
                painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2.0))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(QRectF(self.rect()).adjusted(1, 1, -1, -1))
            painter.end()

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    def _paint_split(self, painter: QPainter, pane: QRectF) -> None:
        content, view, checker = self._content, self._view, self._checker
        if not self._after_visible():
            content.paint_before(painter, view, pane, pane, checker)
            label = None
            if self.has_result():  # the original is shown while a key is held
                label = paint_label(painter, self._shown_rect(pane), "Before (original)", True, self.font())
            self._paint_region(painter, pane, (label,))
            return
        x = self.divider_x()
        left = QRectF(pane.left(), pane.top(), x - pane.left(), pane.height())
        right = QRectF(x, pane.top(), pane.right() - x, pane.height())
        before_part, after_part = (right, left) if self._swapped else (left, right)
        if before_part.width() > 0:
            content.paint_before(painter, view, pane, before_part, checker)
        if after_part.width() > 0:
            content.paint_after(painter, view, pane, after_part, checker)
        shown = self._shown_rect(pane)
        after_room = x - shown.left() if self._swapped else shown.right() - x
        after = paint_label(painter, shown, content.after_label(), self._swapped, self.font(), after_room)
        labels = (paint_before_label(painter, shown, content.before_label(), self.font(), x, after,
                                     left=not self._swapped), after)
        self._paint_region(painter, pane, labels)
        # The line spans the image as shown (not the empty margin around a small image).
        paint_divider(painter, QRectF(pane.left(), shown.top(), pane.width(), shown.height()), x,
                      divider_handle_y(shown, QRectF(self.rect())))

    def _paint_side_by_side(self, painter: QPainter, panes: list[QRectF]) -> None:
        content, view, checker = self._content, self._view, self._checker
        before, after = reversed(panes) if self._swapped else panes
        content.paint_before(painter, view, before, before, checker)
        self._paint_region(painter, before, (paint_label(painter, self._shown_rect(before), content.before_label(),
                                                            True, self.font()),))
        if self._after_visible():
            content.paint_after(painter, view, after, after, checker)
            shown = self._shown_rect(after)
            label = paint_label(painter, shown, content.after_label(), True, self.font(), shown.width())
            self._paint_region(painter, after, (label,))
        elif self.has_result():
            content.paint_before(painter, view, after, after, checker)
            label = paint_label(painter, self._shown_rect(after), "Before (original)", True, self.font())
            self._paint_region(painter, after, (label,))
        else:
            painter.setPen(QColor(150, 150, 155))  # on-image colour (text on the dark canvas)
            painter.drawText(after, Qt.AlignmentFlag.AlignCenter, "No result yet")

    def _shown_rect(self, pane: QRectF) -> QRectF:
        """The part of `pane` the image covers (the whole pane when it covers none)."""
        shown = self._view.scene_rect_to_widget(
            self._content.scene_rect(self._view), pane).intersected(pane)
        return pane if shown.isEmpty() else shown

    def _paint_region(self, painter: QPainter, pane: QRectF, labels: tuple[QRectF | None, ...] = ()) -> None:
        """The rubber band being drawn, else the selected region (its size tag clear of the
        corner `labels`: it was drawn under "Before")."""
        if self._band is not None:
            original = self._content.original
            box = snap_box(*self._band, original.width, original.height)
        else:
            box = self._region
        if box is None:
            return
        rect = self._view.scene_rect_to_widget(self._content.region_scene_rect(box), pane)
        paint_region(painter, rect, pane, (box[2], box[3]), self.font(), tuple(r for r in labels if r is not None))
