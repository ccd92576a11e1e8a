"""`CurvePlot`: a small live line plot drawn with QPainter (the training loss, the
validation PSNR), with an optional dashed reference line (the bicubic baseline)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from sr_desktop.gui.widgets import muted_colour

MARGINS = (52, 20, 10, 22)  # left, top, right, bottom
#: points kept per series: past it the series keeps every other point, and from then on one
#: point in two (four, …) of those added (a point an iteration copied the whole list and drew
#: every point: at 100,000 iterations the dialog lagged 4 s behind the run and slowed it)
MAX_POINTS = 4000


class CurvePlot(QWidget):
    """(x, y) points as a line; ``log_y`` plots log10(y) with the labels in y."""

    def __init__(self, title: str, color: str, log_y: bool = False, parent=None):
        super().__init__(parent)
        self.title = title
        self.color = QColor(color)
        self.log_y = log_y
        self.points: list[tuple[float, float]] = []
        self._stride, self._added = 1, 0  # `add_point` keeps one point in `_stride`
        self.reference: float | None = None
        self.reference_label = ""
        self.setMinimumSize(240, 100)  # fits a 1024×600 screen beside the form
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(360, 180)

    def set_points(self, points: list[tuple[float, float]]) -> None:
        """Replace the series and redraw."""
        self.points = [(x, y) for x, y in points if math.isfinite(y) and (y > 0 or not self.log_y)]
        self._stride, self._added = 1, len(self.points)
        self.update()

    def add_point(self, x: float, y: float) -> None:
        """Append one point (a later x replaces any point at or after it: a resumed run);
        evenly thinned to at most `MAX_POINTS`."""
        if not (math.isfinite(y) and (y > 0 or not self.log_y)):
            return
        if self.points and x <= self.points[-1][0]:
            self.points = [p for p in self.points if p[0] < x]
            self._added = 0  # the resumed run's first point is kept
        elif self._added % self._stride:
            self._added += 1
            return
        self._added += 1
        self.points.append((x, y))
        if len(self.points) > MAX_POINTS:
            self.points = self.points[::2]
            self._stride *= 2
        self.update()

    def set_reference(self, value: float | None, label: str = "") -> None:
        """A dashed horizontal line at `value` (None: none)."""
        self.reference, self.reference_label = value, label
        self.update()

    def _y(self, value: float) -> float:
        return math.log10(value) if self.log_y else value

    def _y_range(self) -> tuple[float, float]:
        """The plotted range of y (of log10 y with `log_y`): the points and the reference, padded."""
        ys = [self._y(y) for _, y in self.points]
        if self.reference is not None and (self.reference > 0 or not self.log_y):
            ys.append(self._y(self.reference))
        y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
        pad = (y1 - y0) * 0.08 or 0.5
        return y0 - pad, y1 + pad

    def _ticks(self) -> tuple[list[float], list[str]]:
        """Three y values across the range and their labels."""
        y0, y1 = self._y_range()
        ticks = [y0 + (y1 - y0) * (k + 0.5) / 3 for k in range(3)]
        return ticks, [f"{10 ** gy:.3g}" if self.log_y else f"{gy:.2f}" for gy in ticks]

    def margins(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) around the plot: room for the labels in the widget's font
        (fixed at 52 px, a 16-pt font cut "32.04" to "2.04")."""
        fm = self.fontMetrics()
        left = max(MARGINS[0], max(fm.horizontalAdvance(label) for label in self._ticks()[1]) + 8)
        return left, max(MARGINS[1], fm.height() + 2), MARGINS[2], max(MARGINS[3], fm.height() + 4)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        text = self.palette().text().color()
        muted = muted_colour(self.palette())  # frame and reference line (`muted_colour`)
        # the plot runs left to right in a right-to-left layout too (the iteration labels were
        # swapped there, "9900" under the curve's start), its labels read so
        p.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        absolute = Qt.AlignmentFlag.AlignAbsolute
        line_height = self.fontMetrics().height()
        ys = [self._y(y) for _, y in self.points]
        with_reference = self.reference is not None and (self.reference > 0 or not self.log_y)
        y0, y1 = self._y_range()
        ticks, labels = self._ticks()
        left, top, right, bottom = self.margins()
        plot = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        p.setPen(text)
        p.drawText(QRectF(left, 0, plot.width(), top), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
                   | absolute, self.title)
        p.setPen(QPen(muted))
        p.drawRect(plot.adjusted(0.5, 0.5, -0.5, -0.5))  # on the pixels: crisp, not two half-lit lines
        if not self.points:
            p.setPen(text)
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no data yet")
            return
        xs = [x for x, _ in self.points]
        x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

        def at(x: float, y: float) -> QPointF:
            return QPointF(plot.left() + (x - x0) / (x1 - x0) * plot.width(),
                           plot.bottom() - (y - y0) / (y1 - y0) * plot.height())

        p.setPen(text)
        for gy, label in zip(ticks, labels, strict=True):
            p.drawText(QRectF(0, at(x0, gy).y() - line_height / 2, left - 4, line_height),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter | absolute, label)
        under = QRectF(plot.left(), plot.bottom() + 2, plot.width(), bottom - 2)
        p.drawText(under, Qt.AlignmentFlag.AlignLeft | absolute, f"{x0:g}")
        p.drawText(under, Qt.AlignmentFlag.AlignRight | absolute, f"{x1:g} it")
        if with_reference:
            ry = at(x0, self._y(self.reference)).y()
            p.setPen(QPen(muted, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(plot.left(), ry), QPointF(plot.right(), ry))
            # above its line, or below it when the line is at the top (it crossed the frame)
            above = ry - line_height - 2
            p.drawText(QRectF(plot.left() + 4, above if above >= plot.top() else ry + 2, plot.width() - 8,
                              line_height), Qt.AlignmentFlag.AlignRight | absolute, self.reference_label)
        p.setPen(QPen(self.color, 2))
        line = QPolygonF([at(x, y) for x, y in zip(xs, ys, strict=True)])
        if len(line) > 1:
            p.drawPolyline(line)
        p.setBrush(self.color)
        p.drawEllipse(line[len(line) - 1], 3, 3)
