"""Small widgets and layout helpers shared by the side panels and dialogs: a label that
wraps without overlapping, a combo box that elides what does not fit, read-only value
labels, compact forms and tight columns, and the yes/cancel question asked before something
is replaced or risked."""

from __future__ import annotations

import html
import re

from PySide6 import QtGui
from PySide6.QtCore import QEvent, QObject, QRect, QSize, Qt
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent, QColor, QFontMetrics, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

#: where Qt may break a line without showing anything (zero-width space)
LINE_BREAK_CHANCE = "\u200b"
#: unbroken runs longer than this (a file name, a path) get break chances
_LONG_RUN = 24
_RUN = re.compile(rf"\S{{{_LONG_RUN + 1},}}")
_TAG = re.compile(r"<[A-Za-z/!]")
_AFTER = re.compile(r"([/\\_.\-,;:)\]])(?=\S)")


def breakable(text: str) -> str:
    """``text`` with line-break chances inside long unbroken runs (after path and name
    separators, else every 24 characters), so a wrapped label never needs the width of a
    whole file name. Rich text is returned as it is (its tags must stay whole)."""
    if not text or _TAG.search(text):
        return text

    def cut(match: re.Match) -> str:
        run = _AFTER.sub(lambda m: m.group(1) + LINE_BREAK_CHANCE, match.group(0))
        pieces = run.split(LINE_BREAK_CHANCE)
        return LINE_BREAK_CHANCE.join(
            LINE_BREAK_CHANCE.join(p[i:i + _LONG_RUN] for i in range(0, len(p), _LONG_RUN)) or p
            for p in pieces)

    return _RUN.sub(cut, text)


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    """A QLabel that shows `text` as it is: Qt's default takes text that looks like HTML for
    HTML, and a file or model name such as ``<font color=red size=7>x.pth`` was drawn big and
    red (or a name lost its ``<i>``)."""
    label = QLabel(text, parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def plain_tooltip(text: str) -> str:
    """`text` as a tooltip that shows it as it is (line breaks kept): Qt takes a tooltip that
    looks like HTML for HTML (`plain_label`)."""
    return QtGui.Qt.convertFromPlainText(text, Qt.WhiteSpaceMode.WhiteSpaceNormal) if text else ""


class WrapLabel(QLabel):
    """A word-wrapped label whose minimum height follows its width, and whose minimum
    width does not grow with a long file name in its text (`breakable`).

    Nested layouts (group boxes in a scroll area) size a plain wrapped QLabel from a
    guessed width and give it too few lines, so text overlaps or is clipped.
    """

    def __init__(self, text: str = "", parent=None) -> None:
        super().__init__(breakable(text), parent)
        # plain: a file or model name with "<font…>" in it was drawn as HTML (`plain_label`)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

    def setText(self, text: str) -> None:
        super().setText(breakable(text))
        self._fit_height()

    def text(self) -> str:
        """The text as it was set (without the line-break chances)."""
        return super().text().replace(LINE_BREAK_CHANCE, "")

    def sizeHint(self) -> QSize:
        # QLabel hints a wrapped text at a narrow guessed width (tall), and the vertical
        # policy takes the hint as the least height: in a wide dialog a two-line model
        # description got a 70-px box. Once laid out, the height its width needs.
        hint = super().sizeHint()
        if self.wordWrap() and self.text() and self.width() > 1:
            return QSize(hint.width(), max(self.minimumHeight(), self.heightForWidth(self.width())))
        return hint

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_height()
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()  # the hint follows the width (`sizeHint`)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # bold text needs more lines
            self._fit_height()

    def _fit_height(self) -> None:
        # Measured here: QLabel.heightForWidth() never returns less than the minimum
        # height already set, so it cannot be used to shrink the label again.
        if not self.text():
            self.setMinimumHeight(0)
            return
        m = self.contentsMargins()
        inner = max(1, self.width() - m.left() - m.right() - 2 * self.margin())
        if self.textFormat() == Qt.TextFormat.RichText:  # (its tags take no room)
            document = QTextDocument()
            document.setDefaultFont(self.font())
            document.setDocumentMargin(0)
            document.setHtml(self.text())
            document.setTextWidth(inner)
            height = int(document.size().height() + 0.999)
        else:
            height = QFontMetrics(self.font()).boundingRect(
                QRect(0, 0, inner, 100000), int(Qt.TextFlag.TextWordWrap), self.text()).height()
        needed = height + m.top() + m.bottom() + 2 * self.margin()
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)


class StatusLine(WrapLabel):
    """A dialog's status line: wrapped plain text that always gets the lines it needs (a
    plain QLabel under a tall form was cut to two of four lines), or an error in bold that
    says "Error:" too (a screen reader does not read bold)."""

    def setText(self, text: str) -> None:
        self.setTextFormat(Qt.TextFormat.PlainText)
        super().setText(text)

    def show_error(self, message: str) -> None:
        """Show "Error: `message`" in bold (`message` is plain text)."""
        self.setTextFormat(Qt.TextFormat.RichText)
        super().setText(f"<b>Error: {html.escape(message)}</b>")


class ElidingComboBox(QComboBox):
    """A combo box whose closed face ends a text too long for it with "…": Qt clips it, so
    "VDSR (2016) — training incomplete (×3, ×4)" read "… training incomple" in a side panel.
    The list shows the whole texts."""

    def paintEvent(self, event) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        width = field.width() - (option.iconSize.width() + 4 if not option.currentIcon.isNull() else 0)
        option.currentText = self.fontMetrics().elidedText(option.currentText, Qt.TextElideMode.ElideRight,
                                                           max(0, width))
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


class ElidingLabel(QLabel):
    """A one-line label that ends a text too long for its room with "…" and shows the whole
    text in its tooltip (Qt clipped a status-line label mid-word: "Last run: 0.1 s
    (Real-ESRGAN anime video v3"). It asks for its whole text's width, takes less."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)  # (names in it are not HTML: `plain_label`)
        self.setMinimumWidth(1)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.updateGeometry()
        self._elide()

    def full_text(self) -> str:
        """The text as set (``text()`` is what fits)."""
        return self._full

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + margins.left() + margins.right() + 2,
                     super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance("…") * 3, super().minimumSizeHint().height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.contentsRect().width()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(0, room))
        super().setText(shown)
        self.setToolTip(plain_tooltip(self._full) if shown != self._full else "")


class GrowthWatch(QObject):
    """Calls `grown()` whenever `widget` gets taller (e.g. a label in it wrapped to more
    lines), after the layout has placed it; the watch lives as long as the widget."""

    def __init__(self, widget: QWidget, grown) -> None:
        super().__init__(widget)
        self._grown = grown
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Resize and event.size().height() > event.oldSize().height() >= 0:
            self._grown()
        return False


class _PaletteFollower(QObject):
    """Runs `apply` again when the application's palette changes: a style sheet, or an icon
    drawn in the palette's colours, keeps the colours of the moment it was set (a desktop
    switching between light and dark while the app ran left "Advanced" white on light grey)."""

    def __init__(self, widget: QWidget, apply) -> None:
        super().__init__(widget)  # (gone with the widget, and the connection with it)
        self._apply = apply
        # the application hears of it; a widget with a style sheet is not passed the new palette
        QApplication.instance().paletteChanged.connect(self._on_palette_changed)

    def _on_palette_changed(self, _palette) -> None:
        self._apply()


def follow_palette(widget: QWidget, apply) -> None:
    """`apply()` now and whenever the application's palette changes (`_PaletteFollower`)."""
    apply()
    _PaletteFollower(widget, apply)


def announce(widget: QWidget, text: str) -> None:
    """Have a screen reader say `text` now (a long job's end: said in a status label without
    the focus, it went unread). Nothing is sent while no assistive technology listens."""
    if QAccessible.isActive() and text:
        send_announcement(QAccessibleAnnouncementEvent(widget, strip_markup(text)))


def send_announcement(event) -> None:
    """Hand `event` to the accessibility layer (a seam: Qt's own call, replaced in tests)."""
    QAccessible.updateAccessibility(event)


def strip_markup(text: str) -> str:
    """`text` without the rich-text tags a status label may hold ("<b>Error: …</b>")."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def show_as_hint(label: QLabel) -> None:
    """Secondary text (a hint, a count, a status) in the palette's disabled text colour, the
    label itself left enabled: a disabled label is read out as "unavailable" by a screen
    reader. Follows the palette (light/dark switches)."""
    def apply() -> None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText,
                         QApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText))
        label.setPalette(palette)

    follow_palette(label, apply)


def muted_colour(palette: QPalette, role: QPalette.ColorRole = QPalette.ColorRole.Text) -> QColor:
    """`role`'s colour at 55 % opacity: frames, axes and reference lines drawn over the
    background, readable on a light palette and a dark one (Mid, a bevel colour, vanished on
    dark ones; PlaceholderText is stale in a palette an app builds by setting its colours)."""
    colour = QColor(palette.color(role))
    colour.setAlphaF(0.55)
    return colour


def set_bold(widget: QWidget, bold: bool = True) -> None:
    """Bold text by the widget's font: a ``font-weight`` style sheet froze its palette, and
    after a light/dark switch of the desktop its text kept the old colour."""
    font = widget.font()
    font.setBold(bold)
    widget.setFont(font)


def value_label(parent: QWidget) -> WrapLabel:
    """A wrapped, mouse-selectable label showing "—" until it has a value."""
    label = WrapLabel("—", parent)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def compact_form(owner: QWidget) -> QFormLayout:
    """A tight label/value form laid out on `owner`; rows never wrap, fields grow."""
    form = QFormLayout(owner)
    form.setContentsMargins(6, 4, 6, 6)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(3)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


def add_form_rows(form: QFormLayout, rows: list[tuple[str, QWidget]]) -> None:
    """Add (label text, field) rows to `form`, top to bottom."""
    for text, field in rows:
        form.addRow(text, field)


def tight_column(owner: QWidget) -> QVBoxLayout:
    """A vertical layout on `owner` (a group box) with the side panels' tight margins."""
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(6, 4, 6, 6)
    layout.setSpacing(4)
    return layout


def beside(*widgets: QWidget) -> QWidget:
    """`widgets` in one row, left-aligned (one form row for two boxes: a dialog's height)."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    layout.addStretch(1)
    return row


def add_browse_row(form: QFormLayout, label: str, edit: QLineEdit, slot) -> None:
    """A form row: `label`, then `edit` with a "Browse…" button on its right that calls
    `slot`. The label names the line edit, not the row around it (a screen reader read the
    field as an unnamed text box)."""
    name = label.replace("&", "")
    form.addRow(label, with_browse_button(edit, slot, name))
    if not edit.accessibleName():
        edit.setAccessibleName(name)


def with_browse_button(edit: QLineEdit, slot, field: str = "") -> QWidget:
    """`edit` with a "Browse…" button on its right that calls `slot` (a form row's field,
    named `field`: a screen reader read four buttons alike, "Browse…")."""
    row = QWidget()
    box = QHBoxLayout(row)
    box.setContentsMargins(0, 0, 0, 0)
    box.addWidget(edit, 1)
    button = QPushButton("Browse…")
    if field:
        button.setAccessibleName(f"Browse for {field}")
    button.setAutoDefault(False)  # Enter in a dialog's field is for its default button, not a picker
    button.clicked.connect(slot)
    box.addWidget(button)
    return row


def confirm(parent: QWidget, title: str, text: str, yes_text: str, object_name: str,
            warning: bool = False, no_text: str = "") -> bool:
    """Ask a modal yes/cancel question whose yes button says what it does (``yes_text``);
    Cancel (or `no_text`, where "Cancel" could be read as the yes) is the default, so Enter
    never replaces or risks anything. True for yes."""
    icon = QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Question
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)  # (file names in it as they are, never HTML)
    box.setObjectName(object_name)
    box.button(QMessageBox.StandardButton.Yes).setText(yes_text)
    if no_text:
        box.button(QMessageBox.StandardButton.Cancel).setText(no_text)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Yes


class ContentsHighScrollArea(QScrollArea):
    """A frameless scroll area around `inner` that asks for its contents' whole height
    (QScrollArea caps its size hint at 24 lines of text) and width: a form shows whole where
    there is room and scrolls, down to `min_height`, on a short screen (sideways only where
    the screen is narrower than the form: with a large font it was cut, Browse… beyond the
    dialog's edge)."""

    def __init__(self, inner: QWidget, min_height: int, parent=None) -> None:
        super().__init__(parent)
        self.setWidget(inner)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setMinimumHeight(min_height)
        # Tab goes to the fields (the area scrolls to the focused one): a dialog opened with
        # the focus on the area itself, where keys did nothing visible
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        inner = self.widget()
        if inner is not None:
            hint.setHeight(inner.sizeHint().height() + 2 * self.frameWidth())
            scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
            hint.setWidth(max(hint.width(), inner.sizeHint().width() + 2 * self.frameWidth() + scroll_bar))
        return hint


#: room a window frame and a title bar take beyond a window's own size (the offscreen and
#: some X11 platforms report screens without a taskbar: the frame is what is left to keep)
FRAME_ALLOWANCE = QSize(16, 48)


def resize_within_screen(window: QWidget, width: int, height: int) -> None:
    """Resize `window` to `width`×`height`, or to what fits the available area of its screen
    (the parent's, else the primary) with its frame — a 700-px-high dialog on a 1280×720
    screen put its buttons under the bottom edge."""
    from PySide6.QtGui import QGuiApplication

    parent = window.parentWidget()
    screen = (parent.screen() if parent is not None else None) or window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry().size() - FRAME_ALLOWANCE
        width, height = min(width, room.width()), min(height, room.height())
    window.resize(max(1, width), max(1, height))


def read_only_rows(table: QTableWidget) -> None:
    """A table of rows to read and pick, not to edit, that Tab leaves: Qt's tables move Tab
    between their cells, so a keyboard user could not get past one (the Close button beyond
    it, the rest of the window) without a mouse."""
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setTabKeyNavigation(False)
