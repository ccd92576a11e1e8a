"""The before/after compare view of the main window.

Two modes:

* ``"split"``: one canvas, a vertical divider (drag it; the cursor changes near it) with the
  before on its left and the after on its right;
* ``"side_by_side"``: two panes with the same zoom and centre, before left, after right.

The scene is the result's pixel grid; the before (the original) is drawn stretched over it
so both line up pixel for pixel. Zoom (1.0 = 100 %) counts result pixels per physical screen
pixel. Above 100 % pixels are drawn nearest-neighbour (crisp), at or below 100 % smoothly
(with half-size copies for strong zoom-outs). Arrays are converted to QImages once, when
they are set; painting only draws the visible part.

Setting a very large result converts it on the calling thread (about 0.4 s for 8000×6000 on
a slow CPU); to keep the GUI thread free, build ``compare_image.ImageLayer(pixels)`` in the
worker and pass the layer instead of the array (every ``set_*`` method accepts one).

Mouse: wheel zooms about the cursor; left-drag (or middle-drag) pans; double-click toggles
fit / 100 %. Regions: with Shift held, or with ``set_tool("region")``, a left-drag draws a
rubber band and a drag that starts inside the current region moves it; on release
``regionSelected((x, y, w, h))`` is emitted in original-image pixels (edges snapped to the
original pixel grid). A click (no drag) in region mode outside the region clears it and
emits ``regionCleared``. Signals are emitted for user gestures only, not for the
programmatic ``set_region`` / ``clear_region`` (``zoomChanged`` is emitted for every change).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from sr_desktop.gui.compare.geometry import (
    WHEEL_NOTCH_FACTOR,
    ViewTransform,
    clamp_zoom,
    next_zoom_step,
)
from sr_desktop.gui.compare.image import DisplayImageError, ImageLayer

MODES = ("split", "side_by_side")
TOOLS = ("pan", "region")
EMPTY_HINT = "Drop images here or press Ctrl+O"

_BACKGROUND = QColor(43, 43, 46)
_PANE_GAP = 4.0  # logical pixels between the two side-by-side panes
_DIVIDER_GRAB = 6.0  # how close (logical px) the pointer must be to grab the divider
_HANDLE_RADIUS = 14.0
_LABEL_MARGIN = 8.0


def _as_layer(pixels) -> ImageLayer:
    """Accept a bare array, an engine Image, or an ImageLayer already converted (e.g. in a
    worker thread: building one only uses QImage, which is safe outside the GUI thread)."""
    if isinstance(pixels, ImageLayer):
        return pixels
    return ImageLayer(getattr(pixels, "pixels", pixels))


class CompareView(QWidget):
    """Before/after compare view (see the module docstring for the interaction)."""

    regionSelected = Signal(tuple)  # (x, y, w, h) in original pixels
    regionCleared = Signal()
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._view = ViewTransform()
        self._original: ImageLayer | None = None
        self._result: ImageLayer | None = None
        self._result_scale = 1
        self._patches: list[tuple[tuple[int, int, int, int], ImageLayer, int]] = []
        self._override: ImageLayer | None = None
        self._override_label = "After"
        self._sx = 1.0  # scene pixels per original pixel
        self._sy = 1.0
        self._mode = "split"
        self._split = 0.5
        self._show_original = False
        self._tool = "pan"
        self._region: tuple[int, int, int, int] | None = None
        self._band: tuple[QPointF, QPointF] | None = None  # rubber band being drawn
        self._drag: dict | None = None
        self._fit = True
        self._checker = _checker_brush()

    # ------------------------------------------------------------------ images

    def set_original(self, pixels: np.ndarray) -> None:
        """Show a new original (H×W×C uint8/uint16, C 1..4); clears the result, region
        results, display override and region, and fits the view."""
        layer = _as_layer(pixels)
        self._original = layer
        self._result = None
        self._result_scale = 1
        self._patches = []
        self._override = None
        self._region = None
        self._band = None
        self._drag = None
        self._sx = self._sy = 1.0
        self._view.scene_width = float(layer.width)
        self._view.scene_height = float(layer.height)
        self.zoom_fit()

    def set_result(self, pixels: np.ndarray, scale: int) -> None:
        """Show the upscaled image (about H·scale × W·scale). Replaces region results and
        the display override; the view stays on the same place at the same magnification."""
        original = self._require_original()
        layer = _as_layer(pixels)
        expected_h = original.height * layer.width / original.width
        if abs(layer.height - expected_h) > max(2.0, 0.02 * layer.height):
            raise DisplayImageError(
                f"result of {layer.width}×{layer.height} does not have the aspect ratio of the "
                f"{original.width}×{original.height} original")
        self._result = layer
        self._result_scale = int(scale)
        self._patches = []
        self._override = None
        self._set_scene_scale(layer.width / original.width, layer.height / original.height)

    def set_region_result(self, box: tuple, pixels: np.ndarray, scale: int) -> None:
        """Paste an upscaled region (h·scale × w·scale pixels) in place on the after side.

        The after side becomes the original with the enhanced regions pasted over it: a
        full result shown before is dropped (other areas show the original). Regions
        pasted earlier at the same scale stay; at another scale they are dropped.
        """
        x, y, w, h = self._checked_box(box)
        scale = int(scale)
        if scale < 1:
            raise DisplayImageError(f"scale must be a positive integer, got {scale}")
        layer = _as_layer(pixels)
        if (layer.width, layer.height) != (w * scale, h * scale):
            raise DisplayImageError(
                f"region result is {layer.width}×{layer.height}, expected "
                f"{w * scale}×{h * scale} for a {w}×{h} region at ×{scale}")
        if self._result is not None:
            self._result = None
        if self._patches and self._patches[0][2] != scale:
            self._patches = []
        self._override = None
        self._patches.append(((x, y, w, h), layer, scale))
        self._result_scale = scale
        if (self._sx, self._sy) != (float(scale), float(scale)):
            self._set_scene_scale(float(scale), float(scale))
        else:
            self.update()

    def clear_result(self) -> None:
        """Forget the result, region results and display override; show the original only."""
        if self._original is None:
            return
        self._result = None
        self._patches = []
        self._override = None
        self._set_scene_scale(1.0, 1.0)

    def clear_region_results(self) -> None:
        """Forget the pasted region results (the full result, if any, stays)."""
        self._patches = []
        if self._result is None and self._original is not None:
            self._set_scene_scale(1.0, 1.0)
        self.update()

    def set_display_override(self, pixels: np.ndarray | None, label: str = "Map") -> None:
        """Show another image (a difference/SSIM/gradient map at result size; uint8, uint16
        or float 0..1) on the after side instead of the result; None shows the result again.
        The override is drawn stretched over the whole scene."""
        if pixels is None:
            self._override = None
        else:
            self._require_original()
            self._override = _as_layer(pixels)
            self._override_label = label
        self.update()

    def has_result(self) -> bool:
        """True when the after side has something (a result, region results or a map)."""
        return self._result is not None or bool(self._patches) or self._override is not None

    def has_image(self) -> bool:
        return self._original is not None

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

    def is_fit(self) -> bool:
        return self._fit

    def zoom_fit(self) -> None:
        """Fit the whole image in the view (and keep fitting when the view is resized)."""
        self._fit = True
        self._refresh_view()

    def zoom_to(self, factor: float) -> None:
        """Zoom to ``factor`` (1.0 = 100 %) about the centre of the view."""
        pane = self._pane_rects()[0]
        self._fit = False
        old = self._view.zoom
        self._sync_dpr()
        self._view.zoom_about(clamp_zoom(float(factor)), pane.center(), pane)
        self._after_view_change(old)

    def zoom_in(self) -> None:
        """Next zoom preset (…, fit, 100 %, 200 %, 400 %, 800 %, …)."""
        self.zoom_to(next_zoom_step(self._view.zoom, self._fit_zoom(), up=True))

    def zoom_out(self) -> None:
        """Previous zoom preset."""
        self.zoom_to(next_zoom_step(self._view.zoom, self._fit_zoom(), up=False))

    def view_center(self) -> QPointF:
        """The original-image point at the centre of the view (each pane's centre)."""
        c = self._view.center
        return QPointF(c.x() / self._sx, c.y() / self._sy)

    # ------------------------------------------------------------------ region

    def region(self) -> tuple[int, int, int, int] | None:
        """The selected region (x, y, w, h) in original pixels, or None."""
        return self._region

    def set_region(self, box: tuple | None) -> None:
        """Select a region (original pixels; clipped to the image). None clears it."""
        if box is None:
            self.clear_region()
            return
        self._require_original()
        self._region = self._checked_box(box)
        self.update()

    def clear_region(self) -> None:
        self._region = None
        self._band = None
        self.update()

    # ------------------------------------------------------------------ mapping

    def map_widget_to_image(self, pos: QPointF) -> QPointF:
        """Widget position → original-image coordinates (pixel x covers [x, x+1))."""
        pos = QPointF(pos)
        self._sync_dpr()
        scene = self._view.widget_to_scene(pos, self._pane_at(pos))
        return QPointF(scene.x() / self._sx, scene.y() / self._sy)

    def map_image_to_widget(self, point: QPointF, pane_index: int = 0) -> QPointF:
        """Original-image coordinates → widget position in pane 0 (left) or 1 (right)."""
        self._sync_dpr()
        panes = self._pane_rects()
        pane = panes[min(pane_index, len(panes) - 1)]
        scene = QPointF(point.x() * self._sx, point.y() * self._sy)
        return self._view.scene_to_widget(scene, pane)

    def divider_x(self) -> float:
        """The divider position in widget coordinates (split mode)."""
        return self.width() * self._split

    # ------------------------------------------------------------------ internals

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        return QSize(800, 600)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(160, 120)

    def _require_original(self) -> ImageLayer:
        if self._original is None:
            raise DisplayImageError("no original image is shown yet")
        return self._original

    def _checked_box(self, box) -> tuple[int, int, int, int]:
        original = self._require_original()
        try:
            x, y, w, h = (int(v) for v in box)
        except (TypeError, ValueError):
            raise DisplayImageError(f"a region is (x, y, w, h), got {box!r}") from None
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(original.width, x + w), min(original.height, y + h)
        if x1 <= x0 or y1 <= y0:
            raise DisplayImageError(
                f"region {box!r} is empty or outside the {original.width}×{original.height} image")
        return (x0, y0, x1 - x0, y1 - y0)

    def _set_scene_scale(self, sx: float, sy: float) -> None:
        """Switch the scene grid (original ×1 or the result's grid) keeping the image at the
        same place and on-screen size."""
        original = self._require_original()
        old_zoom = self._view.zoom
        magnification = self._view.zoom * self._sx
        center = self.view_center()
        self._sx, self._sy = sx, sy
        self._view.scene_width = original.width * sx
        self._view.scene_height = original.height * sy
        self._view.center = QPointF(center.x() * sx, center.y() * sy)
        if not self._fit:
            self._view.zoom = clamp_zoom(magnification / sx)
        self._refresh_view(old_zoom)

    def _sync_dpr(self) -> None:
        self._view.dpr = float(self.devicePixelRatioF()) or 1.0

    def _fit_zoom(self) -> float:
        self._sync_dpr()
        return self._view.fit_zoom(self._pane_rects()[0])

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
        return (self._mode == "split" and self._original is not None and self._after_visible()
                and abs(pos.x() - self.divider_x()) <= _DIVIDER_GRAB)

    def _region_scene_rect(self, box) -> QRectF:
        x, y, w, h = box
        return QRectF(x * self._sx, y * self._sy, w * self._sx, h * self._sy)

    def _snap_box(self, a: QPointF, b: QPointF) -> tuple[int, int, int, int] | None:
        original = self._require_original()
        x0 = min(max(round(min(a.x(), b.x())), 0), original.width)
        x1 = min(max(round(max(a.x(), b.x())), 0), original.width)
        y0 = min(max(round(min(a.y(), b.y())), 0), original.height)
        y1 = min(max(round(max(a.y(), b.y())), 0), original.height)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return None
        return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))

    # ------------------------------------------------------------------ events

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._original is not None:
            self._refresh_view()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        dpr_change = getattr(QEvent.Type, "DevicePixelRatioChange", None)
        if dpr_change is not None and event.type() == dpr_change and self._original is not None:
            self._refresh_view()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        if self._original is None:
            event.ignore()
            return
        delta = event.angleDelta().y()
        if delta == 0:
            delta = event.pixelDelta().y()  # touchpads without angle deltas
        if delta == 0:
            event.ignore()
            return
        pos = QPointF(event.position())
        pane = self._pane_at(pos)
        old = self._view.zoom
        self._sync_dpr()
        self._fit = False
        self._view.zoom_about(old * WHEEL_NOTCH_FACTOR ** (delta / 120.0), pos, pane)
        self._after_view_change(old)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._original is None:
            event.ignore()
            return
        pos = QPointF(event.position())
        button = event.button()
        region_gesture = (self._tool == "region"
                          or bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))
        if button == Qt.MouseButton.MiddleButton:
            self._drag = {"kind": "pan", "last": pos}
        elif button != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        elif self._near_divider(pos):
            self._drag = {"kind": "divider"}
        elif region_gesture:
            pane = self._pane_at(pos)
            start = self._image_point(pos, pane)
            if self._region is not None and _box_contains(self._region, start):
                self._drag = {"kind": "move", "pane": pane, "start": start, "box": self._region}
            else:
                self._drag = {"kind": "band", "pane": pane, "start": start, "press": pos,
                              "moved": False}
        else:
            self._drag = {"kind": "pan", "last": pos}
        self._update_cursor(pos, event.modifiers())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = QPointF(event.position())
        drag = self._drag
        if drag is None:
            self._update_cursor(pos, event.modifiers())
            return
        kind = drag["kind"]
        if kind == "pan":
            last = drag["last"]
            self._view.pan_by(pos.x() - last.x(), pos.y() - last.y(), self._pane_rects()[0])
            drag["last"] = pos
            self._fit = False
        elif kind == "divider":
            self.set_split(pos.x() / max(1, self.width()))
        elif kind == "band":
            press = drag["press"]
            if drag["moved"] or abs(pos.x() - press.x()) + abs(pos.y() - press.y()) > 2:
                drag["moved"] = True  # a few pixels of jitter is still a click
                self._band = (drag["start"], self._image_point(pos, drag["pane"]))
        elif kind == "move":
            self._region = self._moved_box(drag, pos)
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        drag = self._drag
        if drag is None:
            event.ignore()
            return
        self._drag = None
        pos = QPointF(event.position())
        kind = drag["kind"]
        if kind == "band":
            self._band = None
            end = self._image_point(pos, drag["pane"])
            box = self._snap_box(drag["start"], end) if drag["moved"] else None
            if box is not None:
                self._region = box
                self.regionSelected.emit(box)
            elif self._region is not None:
                self._region = None
                self.regionCleared.emit()
        elif kind == "move":
            box = self._moved_box(drag, pos)
            self._region = box
            if box != drag["box"]:
                self.regionSelected.emit(box)
        self._update_cursor(pos, event.modifiers())
        self.update()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._original is None or event.button() != Qt.MouseButton.LeftButton \
                or self._near_divider(event.position()):
            return
        if self._fit or abs(self._view.zoom - 1.0) > 1e-9:
            pos = QPointF(event.position())
            pane = self._pane_at(pos)
            old = self._view.zoom
            self._fit = False
            self._sync_dpr()
            self._view.zoom_about(1.0, pos, pane)
            self._after_view_change(old)
        else:
            self.zoom_fit()
        event.accept()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Shift:
            self._update_cursor(None, event.modifiers())
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Shift:
            self._update_cursor(None, event.modifiers())
        super().keyReleaseEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.unsetCursor()
        super().leaveEvent(event)

    def _image_point(self, pos: QPointF, pane: QRectF) -> QPointF:
        self._sync_dpr()
        scene = self._view.widget_to_scene(pos, pane)
        return QPointF(scene.x() / self._sx, scene.y() / self._sy)

    def _moved_box(self, drag: dict, pos: QPointF) -> tuple[int, int, int, int]:
        original = self._require_original()
        current = self._image_point(pos, drag["pane"])
        x, y, w, h = drag["box"]
        dx = round(current.x() - drag["start"].x())
        dy = round(current.y() - drag["start"].y())
        nx = int(min(max(x + dx, 0), original.width - w))
        ny = int(min(max(y + dy, 0), original.height - h))
        return (nx, ny, w, h)

    def _update_cursor(self, pos: QPointF | None, modifiers) -> None:
        if pos is None:
            pos = QPointF(self.mapFromGlobal(self.cursor().pos()))
        if self._original is None:
            self.unsetCursor()
            return
        drag = self._drag["kind"] if self._drag else None
        region_gesture = (self._tool == "region"
                          or bool(modifiers & Qt.KeyboardModifier.ShiftModifier))
        if drag == "divider" or (drag is None and self._near_divider(pos)):
            shape = Qt.CursorShape.SplitHCursor
        elif drag == "pan":
            shape = Qt.CursorShape.ClosedHandCursor
        elif drag == "move":
            shape = Qt.CursorShape.SizeAllCursor
        elif drag == "band":
            shape = Qt.CursorShape.CrossCursor
        elif region_gesture:
            inside = self._region is not None and _box_contains(
                self._region, self._image_point(pos, self._pane_at(pos)))
            shape = Qt.CursorShape.SizeAllCursor if inside else Qt.CursorShape.CrossCursor
        else:
            shape = Qt.CursorShape.OpenHandCursor
        self.setCursor(shape)

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        try:
            painter.fillRect(self.rect(), _BACKGROUND)
            if self._original is None:
                self._paint_empty(painter)
                return
            self._sync_dpr()
            smooth = self._view.zoom <= 1.0 + 1e-9
            panes = self._pane_rects()
            if self._mode == "split":
                self._paint_split(painter, panes[0], smooth)
            else:
                self._paint_side_by_side(painter, panes, smooth)
        finally:
            painter.end()

    def _paint_split(self, painter: QPainter, pane: QRectF, smooth: bool) -> None:
        if not self._after_visible():
            self._paint_before(painter, pane, pane, smooth)
            self._paint_region(painter, pane)
            if self.has_result():  # the original is shown while a key is held
                self._paint_label(painter, pane, "Before (original)", left=True)
            return
        x = self.divider_x()
        left = QRectF(pane.left(), pane.top(), x - pane.left(), pane.height())
        right = QRectF(x, pane.top(), pane.right() - x, pane.height())
        if left.width() > 0:
            self._paint_before(painter, pane, left, smooth)
        if right.width() > 0:
            self._paint_after(painter, pane, right, smooth)
        self._paint_region(painter, pane)
        self._paint_label(painter, pane, "Before", left=True)
        self._paint_label(painter, pane, self._after_label(), left=False)
        self._paint_divider(painter, pane, x)

    def _paint_side_by_side(self, painter: QPainter, panes: list[QRectF], smooth: bool) -> None:
        left, right = panes
        self._paint_before(painter, left, left, smooth)
        self._paint_region(painter, left)
        self._paint_label(painter, left, "Before", left=True)
        if self._after_visible():
            self._paint_after(painter, right, right, smooth)
            self._paint_region(painter, right)
            self._paint_label(painter, right, self._after_label(), left=True)
        elif self.has_result():
            self._paint_before(painter, right, right, smooth)
            self._paint_region(painter, right)
            self._paint_label(painter, right, "Before (original)", left=True)
        else:
            painter.setPen(QColor(150, 150, 155))
            painter.drawText(right, Qt.AlignmentFlag.AlignCenter, "No result yet")

    def _after_label(self) -> str:
        if self._override is not None:
            return self._override_label
        if self._result is None and self._patches:
            return "After (region)"
        return "After"

    def _scene_rect(self) -> QRectF:
        return QRectF(0.0, 0.0, self._view.scene_width, self._view.scene_height)

    def _paint_before(self, painter: QPainter, pane: QRectF, clip: QRectF, smooth: bool) -> None:
        self._paint_layer(painter, self._original, self._scene_rect(), pane, clip, smooth)

    def _paint_after(self, painter: QPainter, pane: QRectF, clip: QRectF, smooth: bool) -> None:
        if self._override is not None:
            self._paint_layer(painter, self._override, self._scene_rect(), pane, clip, smooth)
            return
        base = self._result if self._result is not None else self._original
        self._paint_layer(painter, base, self._scene_rect(), pane, clip, smooth)
        for (x, y, _w, _h), layer, scale in self._patches:
            rect = QRectF(x * scale, y * scale, layer.width, layer.height)
            self._paint_layer(painter, layer, rect, pane, clip, smooth)

    def _paint_layer(self, painter: QPainter, layer: ImageLayer, scene_rect: QRectF,
                     pane: QRectF, clip: QRectF, smooth: bool) -> None:
        """Draw the visible part of ``layer`` (which covers ``scene_rect`` of the scene)
        inside ``clip`` of ``pane``."""
        visible = self._view.widget_rect_to_scene(clip, pane).intersected(scene_rect)
        if visible.isEmpty():
            return
        fx = scene_rect.width() / layer.width  # scene pixels per layer pixel
        fy = scene_rect.height() / layer.height
        # Whole layer pixels, with a margin so smooth sampling has its neighbours.
        margin = 2
        lx0 = max(0, math.floor((visible.left() - scene_rect.left()) / fx) - margin)
        ly0 = max(0, math.floor((visible.top() - scene_rect.top()) / fy) - margin)
        lx1 = min(layer.width, math.ceil((visible.right() - scene_rect.left()) / fx) + margin)
        ly1 = min(layer.height, math.ceil((visible.bottom() - scene_rect.top()) / fy) + margin)
        if lx1 <= lx0 or ly1 <= ly0:
            return
        target = self._view.scene_rect_to_widget(
            QRectF(scene_rect.left() + lx0 * fx, scene_rect.top() + ly0 * fy,
                   (lx1 - lx0) * fx, (ly1 - ly0) * fy), pane)
        if smooth:
            image, rx, ry = layer.level_for(self._view.zoom * min(fx, fy))
        else:
            image, rx, ry = layer.image, 1.0, 1.0
        source = QRectF(lx0 * rx, ly0 * ry, (lx1 - lx0) * rx, (ly1 - ly0) * ry)
        painter.save()
        painter.setClipRect(clip)
        if layer.has_alpha:
            painter.fillRect(target.intersected(clip), self._checker)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        painter.drawImage(target, image, source)
        painter.restore()

    def _paint_region(self, painter: QPainter, pane: QRectF) -> None:
        if self._band is not None:
            a, b = self._band
            box = self._snap_box(a, b)
        else:
            box = self._region
        if box is None:
            return
        rect = self._view.scene_rect_to_widget(self._region_scene_rect(box), pane)
        painter.save()
        painter.setClipRect(pane)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        outline = rect.adjusted(-0.5, -0.5, 0.5, 0.5)
        painter.setPen(QPen(QColor(0, 0, 0, 220), 1.0))
        painter.drawRect(outline.adjusted(-1, -1, 1, 1))
        dashed = QPen(QColor(255, 255, 255), 1.0, Qt.PenStyle.DashLine)
        dashed.setCosmetic(True)
        painter.setPen(dashed)
        painter.drawRect(outline)
        text = f"{box[2]} × {box[3]}"
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        tw, th = metrics.horizontalAdvance(text) + 8, metrics.height() + 2
        ty = rect.top() - th - 3 if rect.top() - th - 3 >= pane.top() else rect.top() + 3
        tag = QRectF(max(pane.left(), rect.left()), ty, tw, th)
        painter.fillRect(tag, QColor(0, 0, 0, 170))
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _paint_label(self, painter: QPainter, pane: QRectF, text: str, left: bool) -> None:
        painter.save()
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        w = metrics.horizontalAdvance(text) + 16
        h = metrics.height() + 6
        # In the corner of the image as shown, not of the widget (the image may be small).
        shown = self._view.scene_rect_to_widget(self._scene_rect(), pane).intersected(pane)
        if shown.isEmpty():
            shown = pane
        x = shown.left() + _LABEL_MARGIN if left else shown.right() - _LABEL_MARGIN - w
        rect = QRectF(x, shown.top() + _LABEL_MARGIN, w, h)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(rect, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()

    def _paint_divider(self, painter: QPainter, pane: QRectF, x: float) -> None:
        # The line spans the image as shown (not the empty margin around a small image).
        shown = self._view.scene_rect_to_widget(self._scene_rect(), pane).intersected(pane)
        if not shown.isEmpty():
            pane = QRectF(pane.left(), shown.top(), pane.width(), shown.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(0, 0, 0, 140), 3.0))
        painter.drawLine(QPointF(x, pane.top()), QPointF(x, pane.bottom()))
        painter.setPen(QPen(QColor(255, 255, 255), 1.0))
        painter.drawLine(QPointF(x, pane.top()), QPointF(x, pane.bottom()))
        centre = QPointF(x, pane.center().y())
        painter.setBrush(QColor(255, 255, 255, 230))
        painter.setPen(QPen(QColor(0, 0, 0, 160), 1.0))
        painter.drawEllipse(centre, _HANDLE_RADIUS, _HANDLE_RADIUS)
        painter.setBrush(QColor(40, 40, 40))
        painter.setPen(Qt.PenStyle.NoPen)
        r = _HANDLE_RADIUS
        left_arrow = QPolygonF([QPointF(x - r * 0.65, centre.y()),
                                QPointF(x - r * 0.2, centre.y() - r * 0.35),
                                QPointF(x - r * 0.2, centre.y() + r * 0.35)])
        right_arrow = QPolygonF([QPointF(x + r * 0.65, centre.y()),
                                 QPointF(x + r * 0.2, centre.y() - r * 0.35),
                                 QPointF(x + r * 0.2, centre.y() + r * 0.35)])
        painter.drawPolygon(left_arrow)
        painter.drawPolygon(right_arrow)
        painter.restore()

    def _paint_empty(self, painter: QPainter) -> None:
        rect = QRectF(self.rect()).adjusted(24, 24, -24, -24)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if rect.width() > 40 and rect.height() > 40:
            pen = QPen(QColor(110, 110, 115), 2.0, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            path = QPainterPath()
            path.addRoundedRect(rect, 12, 12)
            painter.drawPath(path)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        painter.setPen(QColor(170, 170, 175))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         EMPTY_HINT)
        painter.restore()


def _box_contains(box: tuple[int, int, int, int], point: QPointF) -> bool:
    x, y, w, h = box
    return x <= point.x() < x + w and y <= point.y() < y + h


def _checker_brush() -> QBrush:
    """The grey checkerboard shown behind transparent pixels."""
    tile = QPixmap(16, 16)
    tile.fill(QColor(204, 204, 204))
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, QColor(153, 153, 153))
    painter.fillRect(8, 8, 8, 8, QColor(153, 153, 153))
    painter.end()
    return QBrush(tile)
