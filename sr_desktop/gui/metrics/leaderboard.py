"""The evaluate mode's leaderboard: a sortable table and a PSNR bar chart (QPainter).

Both show :class:`~sr_desktop.app.metrics_jobs.EvalRow` values (only model, PSNR, SSIM,
seconds and error are read) under the models' readable names (``set_model_names``),
elided in the middle with the full name and id as tooltip; clicking a table row or a bar
emits ``modelActivated(model_id)``. Missing values (a model still running, a region score not
yet computed) show as "…", failed ones as "error" with the message as tooltip.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QGuiApplication, QKeySequence, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.app.metrics_jobs import EvalRow
from sr_desktop.gui.metrics.model_list import model_tooltip
from sr_desktop.gui.widgets import WrapLabel, muted_colour, plain_tooltip, read_only_rows

#: the empty chart's words while numbers are to come
NO_VALUES_YET = "No PSNR values yet"
COLUMNS = ("Model", "PSNR", "SSIM", "Time")
#: the widest text each number column shows (its width is fixed to it: the model names
#: get the rest of a narrow dock)
COLUMN_SAMPLES = (None, "00.00", "0.0000", "00.00")
COLUMN_TIPS = (
    "Model (hover for its full name and id)",
    "PSNR of the Y channel (BT.601) in dB, border of 'scale' pixels shaved; higher is better",
    "SSIM of the Y channel (11×11 Gaussian window, σ = 1.5); higher is better",
    "Seconds the model took to upscale the degraded image",
)
SORT_ROLE = Qt.ItemDataRole.UserRole
MODEL_ROLE = Qt.ItemDataRole.UserRole + 1
#: a row's NIQE (None without one): in the name's tooltip and in the copied table
NIQE_ROLE = Qt.ItemDataRole.UserRole + 2


def format_niqe(value: float) -> str:
    """The NIQE line of a result's tooltip."""
    return f"NIQE {value:.2f} (no reference; lower looks more natural)"


def format_psnr(value: float | None) -> str:
    """A PSNR cell: two decimals, "∞" for infinity, "…" while unknown (None)."""
    if value is None:
        return "…"
    return "∞" if math.isinf(value) else f"{value:.2f}"


def sort_key(value) -> float:
    # Unknown values sort below every number (last when sorted best-first).
    if value is None:
        return -math.inf
    return float(value)


class SortItem(QTableWidgetItem):
    """A cell that sorts by the value stored in SORT_ROLE (numbers numerically)."""

    def __init__(self, text: str, key) -> None:
        super().__init__(text)
        self.setData(SORT_ROLE, key)
        self.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if isinstance(a, str) or isinstance(b, str):
            return str(a).lower() < str(b).lower()
        return float(a) < float(b)


class LeaderboardTable(QTableWidget):
    """Model / PSNR / SSIM / time, sortable by clicking any header."""

    modelActivated = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        for col, tip in enumerate(COLUMN_TIPS):
            self.horizontalHeaderItem(col).setToolTip(tip)
        # a first click on a score's header puts the best first (Qt's default, ascending, put
        # the worst PSNR on top); a click on the time's the fastest
        for col in (COLUMNS.index("PSNR"), COLUMNS.index("SSIM")):
            self.horizontalHeaderItem(col).setData(Qt.ItemDataRole.InitialSortOrderRole, Qt.SortOrder.DescendingOrder)
        read_only_rows(self)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.verticalHeader().hide()
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setWordWrap(False)  # a wrapped name would be cut after its first line
        self.setAccessibleName("Leaderboard")
        #: model id -> readable name
        self.names: dict[str, str] = {}
        #: what the numbers are of (the leaderboard's note: ground truth, scale, degradation,
        #: whole image or region), the first line of what Ctrl+C copies
        self.context = ""
        self._routes: dict[str, str] = {}
        self.verticalHeader().setDefaultSectionSize(QFontMetrics(self.font()).height() + 6)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        fm = QFontMetrics(self.font())
        arrow = self.style().pixelMetric(self.style().PixelMetric.PM_HeaderMarkSize)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            text = max(fm.horizontalAdvance(COLUMN_SAMPLES[col]), fm.horizontalAdvance(COLUMNS[col]) + arrow)
            header.resizeSection(col, text + 12)
        header.setHighlightSections(False)
        self.setSortingEnabled(True)
        self.sortItems(1, Qt.SortOrder.DescendingOrder)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.clicked.connect(self._on_clicked)
        self.activated.connect(self._on_clicked)

    def set_rows(self, rows: list[EvalRow], selected: str | None = None) -> None:
        """Replace the content (the current sort column and order are kept)."""
        self._routes = {row.model: row.scale_route for row in rows if row.scale_route}
        self.setSortingEnabled(False)  # Qt: fill first, sort once
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            shown = self.names.get(row.model, row.model)
            if row.variant and row.variant != "default":  # as the window's result line says it
                shown += f" · {row.variant}"
            tip = model_tooltip(row.model, shown)
            if row.scale_route:  # as `bench` marks it: not the protocol of the published tables
                tip += f"\n* not a scale of its own: {row.scale_route} (not the published tables' protocol)"
                shown += " *"
            name = SortItem(shown, shown)
            name.setData(MODEL_ROLE, row.model)
            name.setData(NIQE_ROLE, None if row.error else row.niqe)
            name.setToolTip(plain_tooltip(tip))
            cells = [name]
            if row.error:
                for _ in range(2):
                    item = SortItem("error", sort_key(None))
                    item.setToolTip(plain_tooltip(row.error))
                    cells.append(item)
                # a region that cannot be scored leaves the model's time (of the whole image) true
                timed = row.seconds is not None
                item = SortItem(f"{row.seconds:.2f}" if timed else "error", sort_key(row.seconds))
                item.setToolTip("" if timed else plain_tooltip(row.error))
                cells.append(item)
                name.setToolTip(plain_tooltip(f"{tip}\n{row.error}"))
            else:
                if row.niqe is not None:
                    # in the tooltip, not a column: a fifth column leaves the names 36 of 268 px
                    # in a laptop-sized dock
                    name.setToolTip(plain_tooltip(f"{tip}\n{format_niqe(row.niqe)}"))
                cells.append(SortItem(format_psnr(row.psnr_y), sort_key(row.psnr_y)))
                cells.append(SortItem("…" if row.ssim_y is None else f"{row.ssim_y:.4f}",
                                       sort_key(row.ssim_y)))
                time_item = SortItem("…" if row.seconds is None else f"{row.seconds:.2f}", sort_key(row.seconds))
                if row.ran_on:
                    time_item.setToolTip(plain_tooltip(f"on {row.ran_on}"))
                cells.append(time_item)
            for c, item in enumerate(cells):
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(r, c, item)
        self.setSortingEnabled(True)
        self.select_model(selected)
        # a scroll area lays its content out at the minimum sizes: ask for the rows
        self.setMinimumHeight(self.sizeHint().height())

    def as_text(self) -> str:
        """The table as shown (sorted), tab-separated with its header, and each row's NIQE
        (the names' tooltip; no room for a column in a laptop-sized dock): what Ctrl+C
        copies, to paste into a spreadsheet or a note. Its first line says what the numbers
        are of (`context`), and a line after the table what a "*" means (a paste said neither:
        not the image, the scale, a region's numbers, nor why a model was starred)."""
        lines = [self.context] if self.context else []
        lines.append("\t".join((*COLUMNS, "NIQE")))
        for r in range(self.rowCount()):
            cells = [self.item(r, c).text() if self.item(r, c) else "" for c in range(len(COLUMNS))]
            niqe = self.item(r, 0).data(NIQE_ROLE) if self.item(r, 0) else None
            lines.append("\t".join((*cells, "" if niqe is None else f"{niqe:.2f}")))
        lines += [f"* {self.names.get(model, model)}: not a scale of its own, {route} (not the published tables' "
                  "protocol)" for model, route in self._routes.items()]
        return "\n".join(lines)

    def keyPressEvent(self, event) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):  # the whole table: one cell was of little use
            QGuiApplication.clipboard().setText(self.as_text())
            event.accept()
            return
        super().keyPressEvent(event)

    def models_in_order(self) -> list[str]:
        """Model ids from top to bottom as displayed (after sorting)."""
        return [self.item(r, 0).data(MODEL_ROLE) for r in range(self.rowCount())]

    def row_of(self, model: str) -> int:
        for r in range(self.rowCount()):
            if self.item(r, 0).data(MODEL_ROLE) == model:
                return r
        return -1

    def select_model(self, model: str | None) -> None:
        """Highlight `model`'s row (None clears); emits nothing."""
        self.blockSignals(True)
        self.clearSelection()
        r = self.row_of(model) if model else -1
        if r >= 0:
            self.selectRow(r)
        self.blockSignals(False)

    def sizeHint(self) -> QSize:
        rows = max(3, min(self.rowCount(), 8))
        height = self.horizontalHeader().sizeHint().height() + rows * self.verticalHeader().defaultSectionSize()
        return QSize(260, height + 2 * self.frameWidth())

    def _on_clicked(self, index) -> None:
        item = self.item(index.row(), 0)
        if item is not None:
            self.modelActivated.emit(item.data(MODEL_ROLE))


class PsnrBarChart(QWidget):
    """Horizontal bars of PSNR per model, best first, drawn with QPainter.

    Bars start at a baseline 1 dB below the lowest whole dB of the values (PSNRs of
    one image differ by a few dB; bars from 0 dB would all look the same); the baseline
    is written under the chart.
    """

    modelActivated = Signal(str)

    ROW = 18
    GAP = 4

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._values: list[tuple[str, float]] = []
        #: what the empty chart says (why there is nothing, when every row failed)
        self.empty_text = NO_VALUES_YET
        self._selected: str | None = None
        #: model id -> readable name
        self.names: dict[str, str] = {}
        self.setAccessibleName("PSNR bar chart")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self._height_for(1))

    def set_values(self, values: list[tuple[str, float | None]]) -> None:
        """(model, PSNR) pairs; None values are left out (their room is kept, so the chart
        does not grow while an evaluation runs). Sorted best first."""
        known = [(m, float(v)) for m, v in values if v is not None and not math.isnan(v)]
        self._values = sorted(known, key=lambda mv: -mv[1])
        self.setFixedHeight(self._height_for(len(values)))
        self.update()

    def set_selected(self, model: str | None) -> None:
        self._selected = model
        self.update()

    def values(self) -> list[tuple[str, float]]:
        return list(self._values)

    def baseline(self) -> float:
        """The dB value where bars start."""
        finite = [v for _, v in self._values if math.isfinite(v)]
        if not finite:
            return 0.0
        return max(0.0, math.floor(min(finite)) - 1.0)

    def top(self) -> float:
        finite = [v for _, v in self._values if math.isfinite(v)]
        if not finite:
            return 1.0
        return max(math.ceil(max(finite)), self.baseline() + 1.0)

    def _height_for(self, n: int) -> int:
        caption = QFontMetrics(self.font()).height() + 6
        return max(1, n) * (self.ROW + self.GAP) + self.GAP + caption

    def sizeHint(self) -> QSize:
        return QSize(260, self._height_for(len(self._values)))

    def _layout(self) -> tuple[int, int, int]:
        """(label width, bar start x, bar full width) for the current size."""
        fm = QFontMetrics(self.font())
        widest = max([fm.horizontalAdvance(self._label(m)) for m, _ in self._values] or [40])
        label_w = min(int(self.width() * 0.38), widest + 6)
        value_w = fm.horizontalAdvance("00.00 ") + 4
        bar_x = label_w + 4
        return label_w, bar_x, max(10, self.width() - bar_x - value_w)

    def _row_at(self, y: float) -> int:
        i = int((y - self.GAP) // (self.ROW + self.GAP))
        return i if 0 <= i < len(self._values) else -1

    def _label(self, model: str) -> str:
        return self.names.get(model, model)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            i = self._row_at(event.pos().y())
            if i >= 0:
                model, value = self._values[i]
                QToolTip.showText(event.globalPos(), plain_tooltip(
                    f"{model_tooltip(model, self._label(model))}\nPSNR-Y {format_psnr(value)} dB"), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def mousePressEvent(self, event) -> None:
        i = self._row_at(event.position().y())
        if i >= 0 and event.button() == Qt.MouseButton.LeftButton:
            self.modelActivated.emit(self._values[i][0])
        super().mousePressEvent(event)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        # the bars grow left to right in a right-to-left layout too, their numbers beside
        # them (the alignments flipped and the numbers sat at the far side)
        painter.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        pal = self.palette()
        fm = QFontMetrics(self.font())
        text_color = pal.color(QPalette.ColorRole.WindowText)
        if not self._values:
            painter.setPen(pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText))
            painter.drawText(self.rect().adjusted(6, 0, -6, 0),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            return
        label_w, bar_x, bar_w = self._layout()
        lo, hi = self.baseline(), self.top()
        highlight = pal.color(QPalette.ColorRole.Highlight)
        normal = QColor(highlight)
        normal.setAlpha(120)  # the selected bar stands out in full highlight
        for i, (model, value) in enumerate(self._values):
            y = self.GAP + i * (self.ROW + self.GAP)
            label = fm.elidedText(self._label(model), Qt.TextElideMode.ElideMiddle, label_w)
            painter.setPen(text_color)
            painter.drawText(QRectF(0, y, label_w, self.ROW),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            frac = 1.0 if math.isinf(value) else (value - lo) / (hi - lo)
            length = max(2.0, min(1.0, frac) * bar_w)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(highlight if model == self._selected else normal)
            painter.drawRoundedRect(QRectF(bar_x, y + 2, length, self.ROW - 4), 2, 2)
            painter.setPen(text_color)
            painter.drawText(QRectF(bar_x + length + 4, y, self.width() - bar_x - length - 4, self.ROW),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             format_psnr(value))
        axis_y = self.GAP + len(self._values) * (self.ROW + self.GAP)
        painter.setPen(QPen(muted_colour(pal, QPalette.ColorRole.WindowText), 1))  # (Mid vanished on dark)
        painter.drawLine(bar_x, 2, bar_x, axis_y)
        painter.setPen(pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText))
        painter.drawText(QRectF(0, axis_y, self.width(), fm.height() + 6),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"PSNR-Y, bars from {lo:g} to {hi:g} dB")


class Leaderboard(QWidget):
    """A note line, the table and the bar chart; ``modelActivated`` from either."""

    modelActivated = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.note = WrapLabel("", self)
        self.note.setObjectName("leaderboardNote")
        self.table = LeaderboardTable(self)
        self.chart = PsnrBarChart(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.note)
        layout.addWidget(self.table)
        layout.addWidget(self.chart)
        self.table.modelActivated.connect(self._activate)
        self.chart.modelActivated.connect(self._activate)
        self._rows: list[EvalRow] = []
        self._selected: str | None = None

    def set_model_names(self, names: dict[str, str]) -> None:
        """Model id -> readable name, for the table and the chart (ids without one show as
        themselves)."""
        self.table.names = dict(names)
        self.chart.names = dict(names)
        self.set_rows(self._rows)

    def set_rows(self, rows: list[EvalRow]) -> None:
        self._rows = list(rows)
        self.table.set_rows(self._rows, self._selected)
        errors = {r.error for r in self._rows}
        if self._rows and "" not in errors:  # every row failed: "yet" promised numbers to come
            self.chart.empty_text = ("No PSNR: " + errors.pop() if len(errors) == 1
                                     else "No PSNR: every model failed (each row's tooltip says why)")
        else:
            self.chart.empty_text = NO_VALUES_YET
        self.chart.set_values([(r.model, None if r.error else r.psnr_y) for r in self._rows])

    def rows(self) -> list[EvalRow]:
        return list(self._rows)

    def set_selected(self, model: str | None) -> None:
        self._selected = model
        self.table.select_model(model)
        self.chart.set_selected(model)

    def selected(self) -> str | None:
        return self._selected

    def set_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(bool(text))
        self.table.context = text

    def clear(self) -> None:
        self._selected = None
        self.set_rows([])

    def _activate(self, model: str) -> None:
        self.set_selected(model)
        self.modelActivated.emit(model)
