"""A larger desktop font (11 pt is GNOME's default; low-vision users set 14-16 pt): what was
sized in fixed pixels cut its text — the controls' column, the Batch dialog's options, the
training plots' axis labels, the Evaluate bar's "100%", the Images strip's names."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui


@pytest.fixture
def large_font(qapp):
    original = QApplication.font()
    font = QApplication.font()
    font.setPointSize(16)
    QApplication.setFont(font)
    yield QFontMetrics(font)
    QApplication.setFont(original)


def test_the_controls_column_grows_with_the_font(qtbot, large_font):
    from sr_desktop.engine.models import registry
    from sr_desktop.gui.main_window.controls import CONTROLS_WIDTH, ControlsPanel

    controls = ControlsPanel(registry.list_models())
    qtbot.addWidget(controls)
    # measured: 290 px at 9 pt; at 16 pt the Region box's two buttons side by side need more
    needed = max(box.minimumSizeHint().width() for box in (controls.region_box, controls.progress_box))
    needed += controls.layout().contentsMargins().left() + controls.layout().contentsMargins().right()
    assert needed > CONTROLS_WIDTH and controls.width() >= needed


def test_the_batch_dialog_opens_as_wide_as_its_options(qtbot, large_font):
    from sr_desktop.gui.batch.dialog import BatchDialog
    from sr_desktop.gui.widgets import FRAME_ALLOWANCE

    dialog = BatchDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    needed = dialog.options_scroll.widget().minimumSizeHint().width()
    room = dialog.screen().availableGeometry().width() - FRAME_ALLOWANCE.width()
    if needed < room:  # (the screen is wider than the options: they show whole)
        assert dialog.options_scroll.viewport().width() >= needed
    else:  # a narrow screen: they scroll sideways rather than being cut
        assert dialog.options_scroll.horizontalScrollBar().maximum() > 0


def test_plot_labels_fit_their_margin(qtbot, large_font):
    """The left margin was 52 px: "32.04" lost its leading digit at 16 pt."""
    from sr_desktop.gui.train.plots import CurvePlot

    plot = CurvePlot("validation PSNR-Y (dB)", "#1f77b4")
    qtbot.addWidget(plot)
    plot.resize(420, 200)
    for i in range(10):
        plot.add_point(i * 100, 30.2 + i * 0.2)
    left, top, _right, bottom = plot.margins()
    widest = max(large_font.horizontalAdvance(label) for label in ("30.33", "31.21", "32.09"))
    assert left >= widest + 4 and top >= large_font.height() and bottom >= large_font.height()
    plot.grab()  # (drawn with them)


def test_the_evaluate_bar_and_the_images_strip_hold_their_text(qtbot, large_font):
    from sr_desktop.gui.main_window.filmstrip import Filmstrip
    from sr_desktop.gui.metrics.evaluate_section import EvaluateSection

    section = EvaluateSection()
    strip = Filmstrip()
    for widget in (section, strip):
        qtbot.addWidget(widget)
    assert section.progress.maximumHeight() >= large_font.height()  # (14 px cut "100%" through)
    assert strip.gridSize().width() >= large_font.horizontalAdvance("butterfly.png")  # ("bu…ng")
    assert strip.gridSize().height() >= 56 + large_font.height()
