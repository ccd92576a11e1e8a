"""The main window's left column: model picker, Upscale, what made the result, progress,
region and view boxes — in a vertical scroll area, so a short screen scrolls the column
instead of clipping it.

Widgets only; the window connects them (see ``MainWindow._build_central``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from sr_desktop.gui.key_text import with_native_keys
from sr_desktop.gui.main_window.model_picker import ModelPicker
from sr_desktop.gui.widgets import WrapLabel, plain_label, set_bold

VIEW_HINT = ("Hold Space to see the original.\nWheel: zoom · drag: pan.\n"
             "Split view, Side by side: the toolbar or the View menu.")
REGION_HINT = "Shift+drag on the image (or drag with the Region tool, R) to enhance just a region."
CONTROLS_WIDTH = 290  # at the default 9-pt font, whose lines are
_DEFAULT_LINE_HEIGHT = 14  # px high


def controls_width(font) -> int:
    """The column's width for `font`: `CONTROLS_WIDTH`, grown with the font's line height
    (fixed at 290 px, an 11-pt font — GNOME's default — cut "Model" to "Mode")."""
    from PySide6.QtGui import QFontMetrics

    return max(CONTROLS_WIDTH, round(CONTROLS_WIDTH * QFontMetrics(font).height() / _DEFAULT_LINE_HEIGHT))
NO_RESULT = "No result yet: pick a model and press Upscale."


class ControlsPanel(QWidget):
    """Fixed-width column of the window's controls (attributes are the widgets)."""

    def __init__(self, models=None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("controls")
        self.setFixedWidth(controls_width(self.font()))
        self.picker = ModelPicker(models)
        self.upscale_button = QPushButton("Upscale")
        self.upscale_button.setObjectName("upscaleButton")
        self.upscale_button.setToolTip(with_native_keys("Upscale the whole image (Ctrl+Return)"))
        self.upscale_button.setMinimumHeight(32)
        set_bold(self.upscale_button)
        self.result_label = WrapLabel(NO_RESULT)
        self.result_label.setObjectName("resultInfo")
        self.result_label.setAccessibleName("What made the result")
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.picker)
        layout.addWidget(self.upscale_button)
        layout.addWidget(self.result_label)
        # progress right under the action, so it is in sight without scrolling
        layout.addWidget(self._build_progress_box())
        layout.addWidget(self._build_region_box())
        layout.addWidget(self._build_view_box())
        layout.addStretch(1)
        for button in self.findChildren(QAbstractButton):
            # Tab reaches them, a click does not take the focus from the image: Space on
            # the view keeps showing the original instead of pressing the last button clicked
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)

    def in_scroll_area(self) -> QScrollArea:
        """This column in a frameless vertical scroll area as wide as the column and its
        scroll bar (the window's left side)."""
        scroll = QScrollArea()
        scroll.setObjectName("controlsScroll")
        scroll.setAccessibleName("Controls")
        scroll.setWidget(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # its buttons take the focus, not it
        bar = scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        scroll.setFixedWidth(self.width() + bar)
        return scroll

    def show_result_info(self, text: str, stale: bool = False) -> None:
        """What made the result shown (``NO_RESULT`` without one); ``stale``: the picker no
        longer matches it, said in the text and in bold."""
        font = self.result_label.font()
        font.setBold(stale)
        self.result_label.setFont(font)
        self.result_label.setText(text)

    def _build_region_box(self) -> QGroupBox:
        self.region_box = QGroupBox("Region")
        self.region_label = QLabel(REGION_HINT)
        self.region_label.setWordWrap(True)
        self.region_rerun_button = QPushButton("Enhance region")
        self.region_rerun_button.setToolTip("Upscale only the region drawn; with none, zoomed in: the part in view")
        self.apply_whole_button = QPushButton("Apply to whole image")
        self.apply_whole_button.setToolTip("Upscale the whole image with the model picked, as Upscale does")
        self.region_clear_button = QPushButton("Clear")
        self.region_clear_button.setToolTip("Remove the region and its result from the view")
        buttons = QHBoxLayout()
        buttons.addWidget(self.region_rerun_button)
        buttons.addWidget(self.region_clear_button)
        layout = QVBoxLayout(self.region_box)
        layout.addWidget(self.region_label)
        layout.addLayout(buttons)
        layout.addWidget(self.apply_whole_button)
        return self.region_box

    def _build_progress_box(self) -> QGroupBox:
        self.progress_box = QGroupBox("Progress")
        self.job_label = plain_label("Idle")
        self.job_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("progressBar")
        self.progress_bar.setAccessibleName("Progress of the running job")
        self.progress_text = plain_label("")
        self.progress_text.setObjectName("progressText")
        self.progress_text.setWordWrap(True)
        self.queue_label = plain_label("")
        self.queue_label.setObjectName("queueLabel")
        self.queue_label.setWordWrap(True)
        self.queue_label.setForegroundRole(QPalette.ColorRole.Highlight)  # a palette role: dark mode too
        bold = self.queue_label.font()
        bold.setBold(True)
        self.queue_label.setFont(bold)
        self.queue_label.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Cancel the running job (Esc)")
        # three "Cancel" buttons while an upscale, an estimation and an evaluation run: a screen
        # reader read them alike
        self.cancel_button.setAccessibleName("Cancel the running job")
        layout = QVBoxLayout(self.progress_box)
        layout.addWidget(self.job_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress_text)
        layout.addWidget(self.queue_label)
        layout.addWidget(self.cancel_button)
        self.show_idle()
        return self.progress_box

    def _build_view_box(self) -> QGroupBox:
        # how to look, not switches: Split view, Side by side and the Region tool are the
        # toolbar's and the View menu's (a combo and a check box here repeated them)
        self.view_box = QGroupBox("View")
        hint = WrapLabel(VIEW_HINT)
        hint.setObjectName("viewHint")
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QVBoxLayout(self.view_box)
        layout.addWidget(hint)
        return self.view_box

    def show_idle(self) -> None:
        """Progress box back to "Idle": one line; the bar, its text, the queue line and Cancel
        hidden (an empty bar and a greyed Cancel took a third of the column while nothing ran)."""
        self.job_label.setText("Idle")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setTextVisible(False)
        self.progress_text.setText("")
        self.queue_label.hide()
        for widget in (self.progress_bar, self.progress_text, self.cancel_button):
            widget.hide()

    def show_started(self, what: str) -> None:
        """A job started: its description and a busy bar until the engine reports counts."""
        self.job_label.setText(what)
        for widget in (self.progress_bar, self.progress_text, self.cancel_button):
            widget.show()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setTextVisible(True)
        self.progress_text.setText("starting…")

