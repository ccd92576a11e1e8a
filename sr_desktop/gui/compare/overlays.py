"""What the compare view paints over the images: the region outline with its size, the
"Before"/"After" corner labels, the split divider with its handle, the empty-view hint,
and the checkerboard behind transparent pixels."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
    QRegion,
)

from sr_desktop.gui.key_text import with_native_keys

EMPTY_HINT = "Drop images here, or click to choose them (Ctrl+O)"

HANDLE_RADIUS = 14.0
LABEL_MARGIN = 8.0


def paint_region(painter: QPainter, rect: QRectF, pane: QRectF, size: tuple[int, int],
                 font: QFont, avoid: tuple[QRectF, ...] = ()) -> None:
    """Outline the region at widget `rect` (dashed, on a dark line) inside `pane`, with a
    "w × h" tag above it, else inside it at the top, below it or inside at the bottom:
    the first place in the pane that covers none of `avoid` (the corner labels)."""
    painter.save()
    # the outline passes under the corner labels (drawn across them, they read struck through)
    clip = QRegion(pane.toAlignedRect())
    for label in avoid:
        clip -= QRegion(label.toAlignedRect())
    painter.setClipRegion(clip)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    outline = rect.adjusted(-0.5, -0.5, 0.5, 0.5)
    painter.setPen(QPen(QColor(0, 0, 0, 220), 1.0))  # on-image colour
    painter.drawRect(outline.adjusted(-1, -1, 1, 1))
    dashed = QPen(QColor(255, 255, 255), 1.0, Qt.PenStyle.DashLine)  # on-image colour
    dashed.setCosmetic(True)
    painter.setPen(dashed)
    painter.drawRect(outline)
    painter.setClipRect(pane)
    text = f"{size[0]} × {size[1]}"
    font = QFont(font)
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    tw, th = metrics.horizontalAdvance(text) + 8, metrics.height() + 2
    left = max(pane.left(), rect.left())
    places = [QRectF(left, y, tw, th) for y in (rect.top() - th - 3, rect.top() + 3, rect.bottom() + 3,
                                                rect.bottom() - th - 3)]
    inside = [p for p in places if pane.contains(p)] or places[1:2]
    tag = next((p for p in inside if not any(p.intersects(a) for a in avoid)), inside[0])
    painter.fillRect(tag, QColor(0, 0, 0, 170))  # on-image colour
    painter.setPen(QColor(255, 255, 255))  # on-image colour
    # width × height in a right-to-left layout too (its digits were reordered: "40 × 120" for 120 × 40)
    painter.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
    painter.drawText(tag, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()


#: the after side's caption note when the result is not what the picker shows now
STALE_CAPTION = " (not the picked settings)"


def elided_label(text: str, metrics: QFontMetricsF, width: float) -> str:
    """`text` elided to `width`; a closing note in parentheses ("… ×4 (not the picked
    settings)") is kept whole while the text before it is shortened, since it is what the
    label warns about (plain right elision cut it first)."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    head, sep, note = text.rpartition(" (")
    if sep and text.endswith(")") and head:
        note = sep + note
        room = width - metrics.horizontalAdvance(note)
        shortened = metrics.elidedText(head, Qt.TextElideMode.ElideRight, room) if room > 0 else ""
        if shortened:
            return shortened + note
        if note == STALE_CAPTION:  # no room for both (a large font): the warning alone (it went first)
            return metrics.elidedText(note.strip(), Qt.TextElideMode.ElideRight, width)
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


def paint_label(painter: QPainter, shown: QRectF, text: str, left: bool, font: QFont,
                room: float | None = None) -> QRectF | None:
    """A bold rounded tag in the top-left (or top-right) corner of `shown`, the image as
    shown in its pane (not the widget: the image may be small). ``room``: the width it
    may take from that corner (e.g. up to the split divider); longer text is elided.
    Returns where it was drawn (None when there was no room)."""
    painter.save()
    font = QFont(font)
    font.setBold(True)
    painter.setFont(font)
    metrics = QFontMetricsF(font)
    if room is not None:
        text = elided_label(text, metrics, max(0.0, room - 2 * LABEL_MARGIN - 16))
        if not text:
            painter.restore()
            return None
    w = metrics.horizontalAdvance(text) + 16
    h = metrics.height() + 6
    x = shown.left() + LABEL_MARGIN if left else shown.right() - LABEL_MARGIN - w
    rect = QRectF(x, shown.top() + LABEL_MARGIN, w, h)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 150))  # on-image colour
    painter.drawRoundedRect(rect, 4, 4)
    painter.setPen(QColor(255, 255, 255))  # on-image colour
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
    painter.restore()
    return rect


def paint_before_label(painter: QPainter, shown: QRectF, text: str, font: QFont, x: float,
                       after: QRectF | None = None, left: bool = True) -> QRectF | None:
    """The split view's before label, left of the divider at `x` (right of it with `left`
    False: the sides swapped); where that strip cannot hold its first word, an arrow to it
    and the label just beyond the divider, in the room the after label (`after`, where it
    was drawn) leaves (a region drawn near the image's edge moved the divider there, and the
    before side lost its label). None when the before side is not in sight or there is no
    room."""
    room = x - shown.left() if left else shown.right() - x
    if room <= 0:
        return None
    bold = QFont(font)
    bold.setBold(True)
    first_word = text.split(" ")[0]
    if QFontMetricsF(bold).horizontalAdvance(first_word) + 2 * LABEL_MARGIN + 16 <= room:
        return paint_label(painter, shown, text, left, font, room)
    if left:
        right = after.left() - LABEL_MARGIN if after is not None else shown.right()
        beyond = QRectF(x, shown.top(), max(0.0, right - x), shown.height())
        return paint_label(painter, beyond, f"◀ {text}", True, font, beyond.width())
    start = after.right() + LABEL_MARGIN if after is not None else shown.left()
    beyond = QRectF(start, shown.top(), max(0.0, x - start), shown.height())
    return paint_label(painter, beyond, f"{text} ▶", False, font, beyond.width())


def divider_handle_y(shown: QRectF, widget: QRectF) -> float:
    """Where the divider's handle is centred for the image `shown` in `widget`: the image's
    middle, or beside an image too short to carry it (below, else above), which it hid
    whole (a 12×8 icon at 100 %)."""
    if shown.height() >= 4 * HANDLE_RADIUS:
        return shown.center().y()
    below = shown.bottom() + HANDLE_RADIUS + 4
    if below + HANDLE_RADIUS <= widget.bottom():
        return below
    return max(widget.top() + HANDLE_RADIUS, shown.top() - HANDLE_RADIUS - 4)


def paint_divider(painter: QPainter, pane: QRectF, x: float, handle_y: float | None = None) -> None:
    """The split divider at `x` over the height of `pane`, with a round two-arrow handle
    centred at `handle_y` (None: the middle of `pane`)."""
    # the 1-px line (`ratio` device pixels) on whole device pixels: centred on a pixel edge,
    # it was smeared over two pixels at half brightness
    ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
    x = (round(x * ratio - ratio / 2) + ratio / 2) / ratio
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(QColor(0, 0, 0, 140), 3.0))  # on-image colour
    painter.drawLine(QPointF(x, pane.top()), QPointF(x, pane.bottom()))
    painter.setPen(QPen(QColor(255, 255, 255), 1.0))  # on-image colour
    painter.drawLine(QPointF(x, pane.top()), QPointF(x, pane.bottom()))
    centre = QPointF(x, pane.center().y() if handle_y is None else handle_y)
    painter.setBrush(QColor(255, 255, 255, 230))  # on-image colour
    painter.setPen(QPen(QColor(0, 0, 0, 160), 1.0))  # on-image colour
    painter.drawEllipse(centre, HANDLE_RADIUS, HANDLE_RADIUS)
    painter.setBrush(QColor(40, 40, 40))  # on-image colour
    painter.setPen(Qt.PenStyle.NoPen)
    r = HANDLE_RADIUS
    left_arrow = QPolygonF([QPointF(x - r * 0.65, centre.y()),
                            QPointF(x - r * 0.2, centre.y() - r * 0.35),
                            QPointF(x - r * 0.2, centre.y() + r * 0.35)])
    right_arrow = QPolygonF([QPointF(x + r * 0.65, centre.y()),
                             QPointF(x + r * 0.2, centre.y() - r * 0.35),
                             QPointF(x + r * 0.2, centre.y() + r * 0.35)])
    painter.drawPolygon(left_arrow)
    painter.drawPolygon(right_arrow)
    painter.restore()


def paint_empty_hint(painter: QPainter, widget_rect: QRectF, font: QFont) -> None:
    """A dashed drop zone with the "drop images here" hint, for a view without image."""
    rect = QRectF(widget_rect).adjusted(24, 24, -24, -24)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if rect.width() > 40 and rect.height() > 40:
        pen = QPen(QColor(110, 110, 115), 2.0, Qt.PenStyle.DashLine)  # on-image colour
        painter.setPen(pen)
        path = QPainterPath()
        path.addRoundedRect(rect, 12, 12)
        painter.drawPath(path)
    font = QFont(font)
    font.setPointSizeF(font.pointSizeF() * 1.3)
    painter.setFont(font)
    painter.setPen(QColor(170, 170, 175))  # on-image colour
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, with_native_keys(EMPTY_HINT))
    painter.restore()


def checker_brush() -> QBrush:
    """The grey checkerboard shown behind transparent pixels."""
    tile = QPixmap(16, 16)
    tile.fill(QColor(204, 204, 204))  # on-image colour
    painter = QPainter(tile)
    painter.fillRect(0, 0, 8, 8, QColor(153, 153, 153))  # on-image colour
    painter.fillRect(8, 8, 8, 8, QColor(153, 153, 153))  # on-image colour
    painter.end()
    return QBrush(tile)
