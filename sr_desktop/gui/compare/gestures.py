"""Pointer gestures of the compare view: pan (left or middle drag), the split divider,
the region rubber band and region move (Shift or the region tool), double-click for fit /
100 %, a click on the empty drop zone to open images, and the cursor that tells which
gesture a press would start.

A mixin of :class:`~sr_desktop.gui.compare.view.CompareView` (its Qt event handlers); it
works through the view's panes, mapping, region and zoom helpers.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent

from sr_desktop.gui.compare.region import box_contains, moved_box, snap_box

#: an arrow key pans by this fraction of the view, showing more on the arrow's side
PAN_STEP = 1 / 8
_PAN_KEYS = {Qt.Key.Key_Left: (1, 0), Qt.Key.Key_Right: (-1, 0), Qt.Key.Key_Up: (0, 1), Qt.Key.Key_Down: (0, -1)}
#: [ and ] move the split divider by a twentieth of the view
_DIVIDER_KEYS = {Qt.Key.Key_BracketLeft: -0.05, Qt.Key.Key_BracketRight: 0.05}


class PointerGestures:
    """Mouse and Shift-key handling of the compare view (see the module docstring)."""

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._content.original is None:
            if event.button() == Qt.MouseButton.LeftButton:  # the drop zone: a click opens, as in
                self.openRequested.emit()  # other upscalers (it did nothing)
                return
            event.ignore()
            return
        pos = QPointF(event.position())
        button = event.button()
        if button == Qt.MouseButton.MiddleButton:
            self._drag = {"kind": "pan", "last": pos}
        elif button != Qt.MouseButton.LeftButton:
            event.ignore()
            return
        elif self._near_divider(pos):
            self._drag = {"kind": "divider"}
        elif self._region_gesture(event.modifiers()):
            pane = self._pane_at(pos)
            start = self._image_point(pos, pane)
            if self._region is not None and box_contains(self._region, start):
                self._drag = {"kind": "move", "pane": pane, "start": start, "box": self._region}
            else:
                self._drag = {"kind": "band", "pane": pane, "start": start, "press": pos,
                              "moved": False}
        else:
            self._drag = {"kind": "pan", "last": pos}
        self._update_cursor(pos, event.modifiers())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = QPointF(event.position())
        drag = self._drag
        if drag is None:
            self._update_cursor(pos, event.modifiers())
            return
        kind = drag["kind"]
        if kind == "pan":
            last = drag["last"]
            self._pan(pos.x() - last.x(), pos.y() - last.y())
            drag["last"] = pos
        elif kind == "divider":
            self.set_split(pos.x() / max(1, self.width()))
        elif kind == "band":
            press = drag["press"]
            if drag["moved"] or abs(pos.x() - press.x()) + abs(pos.y() - press.y()) > 2:
                drag["moved"] = True  # a few pixels of jitter is still a click
                self._band = (drag["start"], self._point_under(pos))
        elif kind == "move":
            self._region = self._moved_region(drag, pos)
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None:
            event.ignore()
            return
        self._drag = None
        pos = QPointF(event.position())
        kind = drag["kind"]
        if kind == "band":
            self._band = None
            end = self._point_under(pos)
            original = self._require_original()
            box = (snap_box(drag["start"], end, original.width, original.height)
                   if drag["moved"] else None)
            if box is not None:
                self._region = box
                self.regionSelected.emit(box)
            elif self._region is not None:
                self._region = None
                self.regionCleared.emit()
        elif kind == "move":
            box = self._moved_region(drag, pos)
            self._region = box
            if box != drag["box"]:
                self.regionSelected.emit(box)
        self._update_cursor(pos, event.modifiers())
        self.update()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._content.original is None or event.button() != Qt.MouseButton.LeftButton \
                or self._near_divider(event.position()):
            return
        if self._fit or abs(self.magnification() - 1.0) > 1e-9:
            # 100 % of the original's pixels, as the label and Ctrl+1 count it (in the
            # result's pixels it read 400 % after a ×4 result)
            pos = QPointF(event.position())
            self._zoom_about(1.0 / self._content.sx, pos, self._pane_at(pos))
        else:
            self.zoom_fit()
        event.accept()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Shift:
            self._update_cursor(None, event.modifiers())
        if self._content.original is not None and not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            # the keyboard's way to what the mouse does: pan the zoomed image, move the divider
            step = _PAN_KEYS.get(event.key())
            if step is not None:
                pane = self._pane_rects()[0]
                self._pan(step[0] * pane.width() * PAN_STEP, step[1] * pane.height() * PAN_STEP)
                self.update()
                event.accept()
                return
            move = _DIVIDER_KEYS.get(event.key())
            if move is not None and self._mode == "split" and self._after_visible():
                self.set_split(self._split + move)
                event.accept()
                return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Shift:
            self._update_cursor(None, event.modifiers())
        super().keyReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self.unsetCursor()
        super().leaveEvent(event)

    def _pan(self, dx: float, dy: float) -> None:
        """Move the image by (dx, dy) logical pixels; fit is left only if it moved (a click
        with a pixel of jitter, or an arrow key at fit, left it and a resize then cropped)."""
        before = QPointF(self._view.center)
        self._view.pan_by(dx, dy, self._pane_rects()[0])
        moved = self._view.center - before
        if abs(moved.x()) + abs(moved.y()) > 1e-6:
            self._fit = False

    def _region_gesture(self, modifiers) -> bool:
        """Whether a left-drag draws or moves the region (region tool, or Shift held)."""
        return self._tool == "region" or bool(modifiers & Qt.KeyboardModifier.ShiftModifier)

    def _point_under(self, pos: QPointF) -> QPointF:
        """The image point under `pos`, in whichever pane it is: side by side, a band let go
        over the other pane was mapped through the place of the one it began in, and the
        region ran to the image's edge (both panes show the same image point at one place)."""
        return self._image_point(pos, self._pane_at(pos))

    def _moved_region(self, drag: dict, pos: QPointF) -> tuple[int, int, int, int]:
        original = self._require_original()
        current = self._point_under(pos)
        return moved_box(drag["box"], drag["start"], current, original.width, original.height)

    def _update_cursor(self, pos: QPointF | None, modifiers) -> None:
        if pos is None:
            pos = QPointF(self.mapFromGlobal(self.cursor().pos()))
        if self._content.original is None:
            self.setCursor(Qt.CursorShape.PointingHandCursor)  # (a click opens images)
            return
        drag = self._drag["kind"] if self._drag else None
        if drag == "divider" or (drag is None and self._near_divider(pos)):
            shape = Qt.CursorShape.SplitHCursor
        elif drag == "pan":
            shape = Qt.CursorShape.ClosedHandCursor
        elif drag == "move":
            shape = Qt.CursorShape.SizeAllCursor
        elif drag == "band":
            shape = Qt.CursorShape.CrossCursor
        elif self._region_gesture(modifiers):
            inside = self._region is not None and box_contains(
                self._region, self._image_point(pos, self._pane_at(pos)))
            shape = Qt.CursorShape.SizeAllCursor if inside else Qt.CursorShape.CrossCursor
        else:
            shape = Qt.CursorShape.OpenHandCursor
        self.setCursor(shape)
