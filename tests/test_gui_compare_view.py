"""Compare view widget: what it paints (checked on grabbed pixels) and how it reacts to
the mouse. Offscreen Qt; synthetic images with known colours."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from sr_desktop.gui.compare.image import DisplayImageError
from sr_desktop.gui.compare.view import CompareView

pytestmark = pytest.mark.gui

RED = (220, 30, 30)
BLUE = (30, 40, 210)
GREEN = (20, 200, 60)
LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


def solid(h: int, w: int, rgb, dtype=np.uint8) -> np.ndarray:
    out = np.empty((h, w, 3), dtype)
    out[...] = rgb
    return out


def unique_colours(h: int, w: int) -> np.ndarray:
    """Every pixel a different colour (so a colour tells where it came from)."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([(xx * 4) % 256, (yy * 5) % 256, (xx * 7 + yy * 3) % 256],
                    axis=2).astype(np.uint8)


@pytest.fixture
def view(qtbot):
    widget = CompareView()
    widget.resize(400, 300)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def grab(widget) -> np.ndarray:
    """The widget as painted, H×W×3 uint8 (device pixels)."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    rows = rows.reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def at(pixels: np.ndarray, point: QPointF) -> tuple[int, int, int]:
    return tuple(int(v) for v in pixels[int(point.y()), int(point.x())])


def mouse(widget, kind, pos, button=LEFT, modifiers=NO_MOD):
    pressed = button if kind != QEvent.Type.MouseButtonRelease else Qt.MouseButton.NoButton
    if kind == QEvent.Type.MouseMove:
        button, pressed = Qt.MouseButton.NoButton, pressed
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(local)), button, pressed,
                        modifiers)
    QApplication.sendEvent(widget, event)


def drag(widget, start, end, modifiers=NO_MOD, button=LEFT):
    start, end = QPointF(start), QPointF(end)
    mouse(widget, QEvent.Type.MouseButtonPress, start, button, modifiers)
    for t in (0.25, 0.5, 0.75, 1.0):
        mouse(widget, QEvent.Type.MouseMove, start + (end - start) * t, button, modifiers)
    mouse(widget, QEvent.Type.MouseButtonRelease, end, button, modifiers)


def wheel(widget, pos, notches: float):
    local = QPointF(pos)
    event = QWheelEvent(local, QPointF(widget.mapToGlobal(local)), QPoint(0, 0),
                        QPoint(0, int(120 * notches)), Qt.MouseButton.NoButton, NO_MOD,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_empty_view_shows_the_drop_hint(view):
    pixels = grab(view)
    background = pixels[5, 5]
    middle = pixels[140:160, 100:300]
    text_pixels = np.abs(middle.astype(int) - background.astype(int)).sum(axis=2) > 60
    assert text_pixels.sum() > 50  # the hint text is drawn in the middle
    assert not view.has_image()


def test_split_shows_before_left_and_after_right(view):
    view.set_original(solid(30, 40, RED))
    view.set_result(solid(60, 80, BLUE), 2)
    assert view.mode() == "split"
    assert view.zoom() == pytest.approx(5.0)  # 80×60 fitted into 400×300
    pixels = grab(view)
    assert at(pixels, QPointF(100, 220)) == RED
    assert at(pixels, QPointF(300, 220)) == BLUE
    view.set_split(0.25)
    pixels = grab(view)
    assert at(pixels, QPointF(80, 220)) == RED
    assert at(pixels, QPointF(150, 220)) == BLUE
    assert view.split() == 0.25


def test_the_divider_handle_never_hides_a_tiny_image(view):
    """A 12×8 icon at 100 % sat under the divider's round handle, drawn at the image's middle:
    nothing of it was in sight. The handle goes below an image too short to carry it, and
    the divider still moves by a drag anywhere on its line."""
    view.set_original(solid(8, 12, RED))
    view.set_result(solid(16, 24, BLUE), 2)
    view.set_magnification(1.0)
    pixels = grab(view)
    centre = QPointF(view.width() / 2, view.height() / 2)  # the image is centred
    assert at(pixels, centre - QPointF(3, 0)) == RED and at(pixels, centre + QPointF(3, 0)) == BLUE
    assert at(pixels, centre + QPointF(0, 4 + 14 + 4)) != at(pixels, QPointF(10, 10))  # the handle, below
    # a photo keeps it at its middle
    view.set_original(solid(30, 40, RED))
    view.set_result(solid(60, 80, BLUE), 2)
    pixels = grab(view)
    assert at(pixels, QPointF(view.divider_x() - 8, view.height() / 2)) not in (RED, BLUE)


def test_dragging_the_divider_moves_it(view):
    view.set_original(solid(30, 40, RED))
    view.set_result(solid(60, 80, BLUE), 2)
    mouse(view, QEvent.Type.MouseMove, QPointF(202, 250), Qt.MouseButton.NoButton)
    assert view.cursor().shape() == Qt.CursorShape.SplitHCursor
    mouse(view, QEvent.Type.MouseMove, QPointF(100, 250), Qt.MouseButton.NoButton)
    assert view.cursor().shape() == Qt.CursorShape.OpenHandCursor
    center_before = view.view_center()
    drag(view, QPointF(202, 250), QPointF(320, 250))
    assert view.split() == pytest.approx(0.8)
    assert view.view_center() == center_before  # grabbing the divider did not pan
    pixels = grab(view)
    assert at(pixels, QPointF(280, 220)) == RED
    assert at(pixels, QPointF(340, 220)) == BLUE


def test_wheel_zoom_keeps_the_point_under_the_cursor(view, qtbot):
    view.set_original(unique_colours(300, 400))
    view.zoom_to(2.0)
    cursor = QPointF(130.0, 90.0)
    under_before = view.map_widget_to_image(cursor)
    with qtbot.waitSignal(view.zoomChanged, timeout=1000) as signal:
        wheel(view, cursor, 1)
    assert view.zoom() == pytest.approx(2.0 * 2 ** 0.25)
    assert signal.args == [pytest.approx(view.zoom())]
    # the same point, to within half a screen pixel: the image's origin is kept on a whole
    # screen pixel (`ViewTransform.origin`), else a scaled image is drawn blurred
    half_pixel = 0.5 / view.zoom()
    under_after = view.map_widget_to_image(cursor)
    assert under_after.x() == pytest.approx(under_before.x(), abs=half_pixel)
    assert under_after.y() == pytest.approx(under_before.y(), abs=half_pixel)
    wheel(view, cursor, -2)
    assert view.zoom() == pytest.approx(2.0 / 2 ** 0.25)
    assert view.map_widget_to_image(cursor).x() == pytest.approx(under_before.x(), abs=0.5 / view.zoom())


def test_zoom_presets_and_fit(view):
    view.set_original(unique_colours(800, 1000))  # fit is 0.375
    assert view.is_fit() and view.zoom() == pytest.approx(0.375)
    seen = []
    for _ in range(5):
        view.zoom_in()
        seen.append(view.zoom())
    assert seen == [0.5, 1.0, 2.0, 4.0, 8.0]
    view.zoom_out()
    assert view.zoom() == 4.0
    view.zoom_fit()
    assert view.zoom() == pytest.approx(0.375)
    view.resize(200, 150)  # fit follows the view size
    assert view.zoom() == pytest.approx(0.1875)


def test_zoom_presets_double_click_and_limits_count_the_original_s_pixels(view):
    """After a ×3 result the presets stepped on the result's pixels (100 → 150 → 300 %, and
    100 % out of reach), and a double-click's "100 %" read 400 % after a ×4 one."""
    original = unique_colours(60, 80)
    view.set_original(original)
    view.set_result(np.repeat(np.repeat(original, 3, axis=0), 3, axis=1), 3)
    view.set_magnification(1.0)
    seen = []
    for step in (view.zoom_in, view.zoom_in, view.zoom_out, view.zoom_out, view.zoom_out):
        step()
        seen.append(round(view.magnification(), 6))
    assert seen == [2.0, 4.0, 2.0, 1.0, 0.5]
    for _ in range(20):
        view.zoom_in()
    assert view.zoom() == pytest.approx(32.0)  # 32 screen pixels a result pixel at most
    view.set_result(np.repeat(np.repeat(original, 4, axis=0), 4, axis=1), 4)
    view.zoom_fit()
    left = QPointF(100, 150)  # (away from the divider)
    mouse(view, QEvent.Type.MouseButtonDblClick, left)
    assert view.magnification() == pytest.approx(1.0) and not view.is_fit()
    mouse(view, QEvent.Type.MouseButtonDblClick, left)
    assert view.is_fit()


def test_a_click_with_jitter_or_an_arrow_key_at_fit_keeps_fitting(view):
    """A pan that moves nothing (the whole image in view) left fit mode, and the next resize
    or side panel then cropped the image instead of fitting it again."""
    view.set_original(unique_colours(100, 160))
    assert view.is_fit()
    drag(view, QPointF(200, 150), QPointF(201, 151))
    QApplication.sendEvent(view, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Left, NO_MOD))
    assert view.is_fit()
    view.resize(200, 150)
    assert view.zoom() == pytest.approx(1.25) and view.visible_box() is None
    view.zoom_to(4.0)
    drag(view, QPointF(100, 75), QPointF(101, 76))  # zoomed in, a pan moves the image
    assert not view.is_fit()


def test_set_result_keeps_place_and_magnification(view):
    view.set_original(unique_colours(150, 200))
    view.zoom_to(2.0)
    drag(view, QPointF(200, 150), QPointF(150, 120))
    center = view.view_center()
    big = np.repeat(np.repeat(unique_colours(150, 200), 4, axis=0), 4, axis=1)
    view.set_result(big, 4)
    assert view.zoom() == pytest.approx(0.5)  # 100 % is now counted in result pixels
    assert view.view_center().x() == pytest.approx(center.x())
    assert view.view_center().y() == pytest.approx(center.y())


def test_side_by_side_panes_show_the_same_place_after_a_pan(view):
    original = unique_colours(45, 60)
    view.set_original(original)
    view.set_result(np.repeat(np.repeat(original, 2, axis=0), 2, axis=1), 2)
    view.set_mode("side_by_side")
    view.zoom_to(4.0)
    center = view.view_center()
    drag(view, QPointF(100, 150), QPointF(60, 110))
    assert view.view_center() != center
    pixels = grab(view)
    checked = 0
    c = view.view_center()
    for dx, dy in [(-8, -10), (0, 0), (6, 8), (-3, 12)]:
        ix, iy = int(c.x()) + dx, int(c.y()) + dy
        point = QPointF(ix + 0.5, iy + 0.5)
        left = view.map_image_to_widget(point, 0)
        right = view.map_image_to_widget(point, 1)
        if not (0 <= left.x() < 198 and 0 <= left.y() < 300):
            continue
        assert right.x() - left.x() == pytest.approx(202.0)  # same spot of each pane
        expected = tuple(int(v) for v in original[iy, ix])
        assert at(pixels, left) == expected
        assert at(pixels, right) == expected
        checked += 1
    assert checked == 4


def test_nearest_neighbour_above_100_percent(view):
    checker = np.array([[[0, 0, 0], [255, 255, 255]], [[255, 255, 255], [0, 0, 0]]], np.uint8)
    view.set_original(checker)
    view.zoom_to(8.0)
    pixels = grab(view)
    origin = view.map_image_to_widget(QPointF(0, 0))
    x0, y0 = round(origin.x()), round(origin.y())
    block = pixels[y0:y0 + 16, x0:x0 + 16]
    assert set(map(tuple, block.reshape(-1, 3))) <= {(0, 0, 0), (255, 255, 255)}
    for by in range(2):
        for bx in range(2):
            cell = block[by * 8:(by + 1) * 8, bx * 8:(bx + 1) * 8]
            assert (cell == checker[by, bx]).all(), (by, bx)


def test_smooth_below_100_percent(view):
    checker = ((np.indices((200, 200)).sum(axis=0) % 2) * 255).astype(np.uint8)
    view.set_original(checker)  # grayscale, 1-pixel checker
    view.zoom_to(0.5)
    pixels = grab(view)
    origin = view.map_image_to_widget(QPointF(0, 0))
    x0, y0 = round(origin.x()), round(origin.y())
    inner = pixels[y0 + 10:y0 + 90, x0 + 10:x0 + 90].astype(int)
    assert np.abs(inner - 127.5).max() < 2.5  # averaged to grey, not black/white (measured 1.5)


def test_the_original_under_a_larger_result_is_drawn_sharp_where_it_is_magnified(view):
    """At 50 % of a ×4 result each original pixel covers 2×2 view pixels: it is drawn as a
    block, as without a result (it was smoothed, a blurred before beside a sharp after)."""
    checker = ((np.indices((60, 80)).sum(axis=0) % 2) * 255).astype(np.uint8)
    view.set_original(checker)
    view.set_result(np.zeros((240, 320), np.uint8), 4)
    view.zoom_to(0.5)
    view.set_split(1.0)  # the before side fills the view
    pixels = grab(view)
    origin = view.map_image_to_widget(QPointF(0, 0))
    x0, y0 = round(origin.x()), round(origin.y())
    block = pixels[y0 + 50:y0 + 90, x0 + 60:x0 + 100, 0]  # (clear of the corner labels)
    assert set(np.unique(block)) == {0, 255}
    for y in range(0, 40, 2):
        for x in range(0, 40, 2):
            assert (block[y:y + 2, x:x + 2] == block[y, x]).all(), (y, x)


def _region_setup(view):
    view.set_original(unique_colours(80, 100))
    view.set_result(np.repeat(np.repeat(unique_colours(80, 100), 2, axis=0), 2, axis=1), 2)
    view.zoom_to(3.0)  # one original pixel = 6 screen pixels


def test_region_mode_drag_emits_the_exact_original_box(view, qtbot):
    _region_setup(view)
    view.set_tool("region")
    start = view.map_image_to_widget(QPointF(30, 20)) + QPointF(0.6, -0.7)
    end = view.map_image_to_widget(QPointF(55, 41)) + QPointF(-1.2, 1.1)
    with qtbot.waitSignal(view.regionSelected, timeout=1000) as signal:
        drag(view, start, end)
    assert signal.args == [(30, 20, 25, 21)]
    assert view.region() == (30, 20, 25, 21)
    # Dragged the other way round it gives the same box.
    with qtbot.waitSignal(view.regionSelected, timeout=1000) as signal:
        drag(view, end, start)
    assert signal.args == [(30, 20, 25, 21)]


def test_region_can_be_moved_and_cleared(view, qtbot):
    _region_setup(view)
    view.set_tool("region")
    view.set_region((30, 20, 10, 8))
    inside = view.map_image_to_widget(QPointF(34.5, 23.5))
    with qtbot.waitSignal(view.regionSelected, timeout=1000) as signal:
        drag(view, inside, inside + QPointF(5 * 6, -3 * 6))
    assert signal.args == [(35, 17, 10, 8)]
    outside = view.map_image_to_widget(QPointF(5.5, 60.5))
    with qtbot.waitSignal(view.regionCleared, timeout=1000):
        drag(view, outside, outside)  # a click outside the region
    assert view.region() is None


def test_shift_drag_draws_a_region_and_plain_drag_pans(view, qtbot):
    _region_setup(view)
    assert view.tool() == "pan"
    center = view.view_center()
    with qtbot.assertNotEmitted(view.regionSelected):
        drag(view, QPointF(100, 100), QPointF(140, 130))
    assert view.region() is None
    assert view.view_center().x() == pytest.approx(center.x() - 40 / 6)
    assert view.view_center().y() == pytest.approx(center.y() - 30 / 6)
    start = view.map_image_to_widget(QPointF(10, 12))
    end = view.map_image_to_widget(QPointF(18, 19))
    with qtbot.waitSignal(view.regionSelected, timeout=1000) as signal:
        drag(view, start, end, modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert signal.args == [(10, 12, 8, 7)]


def test_side_by_side_a_band_let_go_over_the_other_pane_ends_where_it_points(view, qtbot):
    """A band begun on the before pane and let go over the after pane was mapped through the
    before pane's place: (40, 80) there became a point far right, and the region ran to the
    image's right edge. It ends at the image point under the pointer, in either pane."""
    original = unique_colours(45, 60)
    view.set_original(original)
    view.set_result(np.repeat(np.repeat(original, 2, axis=0), 2, axis=1), 2)
    view.set_mode("side_by_side")
    view.zoom_to(4.0)
    start = view.map_image_to_widget(QPointF(view.view_center().x() - 4, 10), 0)
    end = view.map_image_to_widget(QPointF(view.view_center().x() - 6, 20), 1)  # (left of start, in pane 1)
    with qtbot.waitSignal(view.regionSelected, timeout=1000) as signal:
        drag(view, start, end, modifiers=Qt.KeyboardModifier.ShiftModifier)
    left = int(view.view_center().x() - 6)
    assert signal.args == [(left, 10, 2, 10)]


def test_region_result_is_pasted_in_place(view):
    view.set_original(solid(30, 40, (128, 128, 128)))
    patch = np.empty((12, 16, 3), np.uint8)  # an 8×6 region at ×2
    patch[:, :8] = GREEN
    patch[:, 8:] = BLUE
    view.set_region_result((10, 5, 8, 6), patch, 2)
    assert view.zoom() == pytest.approx(5.0)  # 80×60 scene fitted into 400×300
    view.set_split(0.0)  # all "after"
    pixels = grab(view)
    assert at(pixels, view.map_image_to_widget(QPointF(11.5, 7.5))) == GREEN
    assert at(pixels, view.map_image_to_widget(QPointF(16.5, 9.5))) == BLUE
    assert at(pixels, view.map_image_to_widget(QPointF(9.5, 7.5))) == (128, 128, 128)
    assert at(pixels, view.map_image_to_widget(QPointF(30.5, 20.5))) == (128, 128, 128)
    view.set_split(1.0)  # all "before"
    pixels = grab(view)
    assert at(pixels, view.map_image_to_widget(QPointF(11.5, 7.5))) == (128, 128, 128)
    with pytest.raises(DisplayImageError, match="expected 16×12"):
        view.set_region_result((10, 5, 8, 6), patch[:, :15], 2)


def test_display_override_and_show_original(view):
    view.set_original(solid(30, 40, RED))
    view.set_result(solid(60, 80, BLUE), 2)
    view.set_display_override(solid(60, 80, GREEN), label="Difference")
    pixels = grab(view)
    assert at(pixels, QPointF(300, 220)) == GREEN
    assert at(pixels, QPointF(100, 220)) == RED
    view.set_display_override(None)
    assert at(grab(view), QPointF(300, 220)) == BLUE
    view.set_show_original(True)
    assert at(grab(view), QPointF(300, 220)) == RED
    view.set_show_original(False)
    view.set_mode("side_by_side")
    pixels = grab(view)
    assert at(pixels, QPointF(100, 220)) == RED
    assert at(pixels, QPointF(300, 220)) == BLUE


def test_gray_uint16_and_transparent_images(view):
    gray16 = np.full((30, 40, 1), 32896, np.uint16)  # 128.5 / 255 in 16 bits
    view.set_original(gray16)
    assert at(grab(view), QPointF(200, 150)) == (128, 128, 128)
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[:, 20:] = (*GREEN, 255)  # right half opaque green, left half transparent
    view.set_original(rgba)
    pixels = grab(view)
    assert at(pixels, QPointF(300, 220)) == GREEN
    checker = {tuple(p) for p in pixels[150:200, 50:150].reshape(-1, 3)}
    assert checker == {(153, 153, 153), (204, 204, 204)}  # the checkerboard shows through
    gray_alpha = np.zeros((30, 40, 2), np.uint8)
    gray_alpha[..., 0] = 200
    gray_alpha[..., 1] = 255
    view.set_original(gray_alpha)
    assert at(grab(view), QPointF(200, 220)) == (200, 200, 200)


def test_bad_input_gives_clear_errors(view):
    with pytest.raises(DisplayImageError, match="no original"):
        view.set_result(solid(60, 80, BLUE), 2)
    with pytest.raises(DisplayImageError, match="C in 1..4"):
        view.set_original(np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(DisplayImageError, match="uint8, uint16"):
        view.set_original(np.zeros((10, 10, 3), np.int32))
    view.set_original(solid(30, 40, RED))
    with pytest.raises(DisplayImageError, match="aspect ratio"):
        view.set_result(solid(60, 160, BLUE), 2)
    with pytest.raises(DisplayImageError, match="outside"):
        view.set_region((50, 50, 10, 10))
    with pytest.raises(ValueError):
        view.set_mode("diagonal")


_HIDPI_SCRIPT = textwrap.dedent("""
    import numpy as np
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from sr_desktop.gui.compare.view import CompareView
    view = CompareView()
    view.resize(200, 150)
    view.show()
    checker = ((np.indices((8, 8)).sum(axis=0) % 2) * 255).astype(np.uint8)
    view.set_original(checker)
    view.zoom_to(1.0)
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    values = [image.pixelColor(x, y).red() for y in range(image.height())
              for x in range(image.width())]
    pure = sum(1 for v in values if v in (0, 255))
    print(view.devicePixelRatioF(), image.width(), image.height(), pure)
""")


def test_100_percent_is_one_image_pixel_per_device_pixel_on_high_dpi():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2",
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    env.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    out = subprocess.run([sys.executable, "-c", _HIDPI_SCRIPT], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    dpr, width, height, pure = out.stdout.split()
    assert float(dpr) == 2.0
    assert (int(width), int(height)) == (400, 300)  # device pixels
    assert int(pure) == 64  # the 8×8 image covers exactly 8×8 device pixels


def test_strong_zoom_out_averages_instead_of_skipping_pixels(view):
    lines = np.zeros((400, 400), np.uint8)
    lines[:, ::4] = 255  # a one-pixel white line every 4 pixels: mean 63.75
    view.set_original(lines)
    view.zoom_to(0.25)
    pixels = grab(view)
    origin = view.map_image_to_widget(QPointF(0, 0))
    x0, y0 = round(origin.x()), round(origin.y())
    inner = pixels[y0 + 5:y0 + 95, x0 + 5:x0 + 95].astype(int)
    assert np.abs(inner - 63.75).max() < 1.5  # the lines are averaged, not lost or doubled (measured 0.75)


def test_layers_built_in_a_worker_thread_can_be_shown(view):
    import threading

    from sr_desktop.gui.compare.image import ImageLayer

    built = {}
    worker = threading.Thread(target=lambda: built.update(
        layer=ImageLayer(solid(60, 80, BLUE, np.uint16) * 257)))
    worker.start()
    worker.join(10)
    view.set_original(solid(30, 40, RED))
    view.set_result(built["layer"], 2)
    assert at(grab(view), QPointF(300, 220)) == BLUE


def test_a_label_too_long_for_its_room_keeps_its_closing_warning(qtbot):
    """At 1280×720 with the metrics panel open, "After · Real-ESRGAN anime video v3 ×4 (not
    the picked settings)" was cut to "After · Real-ESRGAN anime video v3 ×4…": the warning
    went first. The text before it is shortened instead."""
    from PySide6.QtGui import QFont, QFontMetricsF

    from sr_desktop.gui.compare.overlays import elided_label

    QApplication.instance() or QApplication([])
    metrics = QFontMetricsF(QFont())
    text = "After · Real-ESRGAN anime video v3 ×4 (not the picked settings)"
    note = " (not the picked settings)"
    width = metrics.horizontalAdvance(text) * 0.75
    shown = elided_label(text, metrics, width)
    assert shown.endswith("…" + note) and metrics.horizontalAdvance(shown) <= width
    assert elided_label(text, metrics, metrics.horizontalAdvance(text) + 1) == text
    tiny = elided_label(text, metrics, metrics.horizontalAdvance(note) * 0.5)  # no room for the note
    assert metrics.horizontalAdvance(tiny) <= metrics.horizontalAdvance(note) * 0.5
    # the note alone, shortened (at 16 pt the label read "After · Bicubic ×2…", the warning gone)
    assert tiny.startswith("(not the") and tiny.endswith("…")
    # another closing parenthesis (a map's explanation) is no warning: its name stays first
    assert elided_label("SSIM (bright = 1, dark = structure lost)", metrics, 60).startswith("SSIM")
    assert elided_label("After (region) · Bicubic ×4", metrics, 60).endswith("…")


def test_an_override_cut_to_a_multiple_of_the_scale_lies_on_the_original_s_pixels(view):
    """An evaluation's image of a 131×97 original at ×4 is 128×96 (cut to a multiple of the
    scale): stretched over the whole image it sat up to 3 pixels off the original beside it."""
    original = unique_colours(97, 131)
    view.set_original(original)
    view.set_display_override(original[:96, :128].copy(), "evaluated")
    view.zoom_to(2.0)
    view.set_split(0.0)  # the after side fills the view
    pixels = grab(view)
    for x, y in ((120, 40), (60, 90), (127, 95)):
        centre = view.map_image_to_widget(QPointF(x + 0.5, y + 0.5))
        assert at(pixels, centre) == tuple(int(v) for v in original[y, x]), (x, y)


def test_a_tiny_image_fits_at_the_same_size_before_and_after_its_upscale(view):
    """The fit is capped at 32 screen pixels per original pixel; capped on the result's
    pixels, a 6×6 image in a 400×300 view grew from 192 to 300 px (the pane) when its ×4
    result arrived."""
    view.set_original(unique_colours(6, 6))
    assert view.is_fit() and view.magnification() == pytest.approx(32.0)
    view.set_result(unique_colours(24, 24), 4)
    assert view.is_fit() and view.magnification() == pytest.approx(32.0)
    assert view.zoom() == pytest.approx(8.0)  # result pixels
    view.zoom_to(32.0)  # zoomed in by hand, the result's pixels still go to 32×
    assert view.zoom() == pytest.approx(32.0)


def test_an_image_with_a_colour_profile_is_shown_in_srgb_with_its_results(view):
    """An Adobe RGB photo was shown with its stored values as if they were sRGB (up to 34
    levels off on red), before and after: the view converts by the image's profile, as the
    engine converts for a format that cannot hold it."""
    from icc_profiles import srgb_icc, swapped_primaries_icc

    from sr_desktop.engine.imageio.write import srgb_pixels

    swapped = swapped_primaries_icc()
    stored = np.zeros((30, 40, 3), np.uint8)
    stored[:, :20] = (200, 60, 30)
    stored[:, 20:] = (40, 90, 180)
    engine = srgb_pixels(stored, swapped)  # what Save as BMP writes
    assert np.abs(engine.astype(int) - stored).max() > 60  # (a shift no rounding hides)
    view.set_original(stored, swapped)
    view.set_result(np.repeat(np.repeat(stored, 2, 0), 2, 1), 2)
    # the image fills the 400-px view: its left half (x < 200) one colour, its right half the other
    for split, before_x, after_x in ((0.9, (60, 300), ()), (0.1, (), (100, 300))):
        view.set_split(split)
        pixels = grab(view)
        for x in before_x + after_x:
            expected = engine[0, 0 if x < 200 else 39]
            assert np.abs(np.array(at(pixels, QPointF(x, 150))) - expected).max() <= 3, (split, x)
    view.set_region_result((20, 0, 20, 30), np.repeat(np.repeat(stored[:, 20:], 2, 0), 2, 1), 2)
    view.set_split(0.1)
    assert np.abs(np.array(at(grab(view), QPointF(300, 150))) - engine[0, 39]).max() <= 3  # a region too
    view.set_original(stored, srgb_icc())  # sRGB: the stored values
    assert at(grab(view), QPointF(60, 150)) == (200, 60, 30)


def test_a_region_enhanced_left_of_the_divider_is_brought_into_the_after_side(view):
    """In split view a region drawn left of the divider ran, was labelled, and nothing of it
    showed (only its outline): the after side starts right of the divider."""
    view.set_original(solid(30, 40, RED))
    view.set_split(0.9)
    view.set_region_result((4, 5, 10, 10), solid(20, 20, BLUE), 2)
    left = view.map_image_to_widget(QPointF(4, 5)).x()
    assert view.divider_x() <= left + 1
    centre = view.map_image_to_widget(QPointF(9, 10))
    assert at(grab(view), centre) == BLUE
    view.set_split(0.05)  # a region already on the after side leaves the divider where it is
    view.set_region_result((20, 5, 10, 10), solid(20, 20, GREEN), 2)
    assert view.split() == 0.05


def test_regions_hidden_by_a_newer_one_or_beyond_the_budget_are_dropped(view, monkeypatch):
    """A region moved and run again added a layer each time, all kept for the image's
    session (+5 MB a move, repaints slower and slower). What a newer region covers is
    dropped; beyond `KEPT_REGION_PIXELS` the oldest go; what shows stays the same."""
    from sr_desktop.gui.compare import content

    view.set_original(solid(30, 40, RED))
    view.set_split(0.0)
    for x in (4, 5, 6, 6):  # the same place twice, and regions that grow over the earlier ones
        view.set_region_result((4, 5, x + 6 - 4, 10), solid(20, 2 * (x + 2), BLUE), 2)
    view.set_region_result((20, 5, 10, 10), solid(20, 20, GREEN), 2)
    patches = view._content.patches
    assert [p[0] for p in patches] == [(4, 5, 8, 10), (20, 5, 10, 10)]
    assert at(grab(view), view.map_image_to_widget(QPointF(5, 6))) == BLUE
    monkeypatch.setattr(content, "KEPT_REGION_PIXELS", 20 * 20 + 10 * 10)
    view.set_region_result((0, 20, 5, 5), solid(10, 10, BLUE), 2)
    assert [p[0] for p in view._content.patches] == [(20, 5, 10, 10), (0, 20, 5, 5)]
    monkeypatch.setattr(content, "KEPT_REGION_PIXELS", 1)
    view.set_region_result((0, 0, 30, 20), solid(40, 60, GREEN), 2)  # its own result always stays
    assert [p[0] for p in view._content.patches] == [(0, 0, 30, 20)]


def _shown_beside_its_nearest_upscale(qtbot, size, scale, magnification, seed):
    """(view, original, x, y): a 201×151 random original beside its nearest-neighbour ×`scale`
    in a view of `size` at `magnification`, its top-left corner at (x, y), on the pixel grid."""
    view = CompareView()
    view.resize(*size)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    original = np.random.default_rng(seed).integers(0, 256, (151, 201, 3), dtype=np.uint8)
    view.set_original(original)
    view.set_result(original.repeat(scale, axis=0).repeat(scale, axis=1), scale)
    view.set_magnification(magnification)
    corner = view.map_image_to_widget(QPointF(0, 0))
    x, y = round(corner.x()), round(corner.y())
    assert (corner.x(), corner.y()) == (x, y)  # on the pixel grid
    return view, original, x, y


@pytest.mark.parametrize("size", [(400, 300), (401, 301)])
@pytest.mark.parametrize("scale", [2, 3])
def test_a_result_equal_to_its_original_is_drawn_equal_at_100_percent(qtbot, size, scale):
    """An odd-sized image (or view) put the image half a screen pixel off the pixel grid:
    the after side, drawn reduced, was resampled across pixels (all pixels off, up to 187
    levels); a ×3 result was blurred at 100 % even on the grid (a 2:1 copy rescaled)."""
    view, original, x, y = _shown_beside_its_nearest_upscale(qtbot, size, scale, 1.0, seed=9)
    sides = []
    for split in (1.0, 0.0):  # all before, all after
        view.set_split(split)
        sides.append(grab(view)[y + 40 : y + 151, x : x + 201])  # (below the side's label)
    assert np.array_equal(sides[0], original[40:]) and np.array_equal(sides[1], sides[0])


def test_side_by_side_the_checkerboard_lies_alike_under_both_panes(qtbot):
    """The squares behind transparent pixels were laid on the widget's grid: the same
    half-transparent pixel lay on a light square in one pane and a dark one in the other."""
    view = CompareView()
    view.resize(1000, 400)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    rgba = np.zeros((150, 200, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 128
    view.set_original(rgba)
    view.set_result(rgba.repeat(2, axis=0).repeat(2, axis=1), 2)
    view.set_mode("side_by_side")
    view.set_magnification(1.0)
    shown = grab(view).astype(int)
    panes = []
    for index in (0, 1):
        corner = view.map_image_to_widget(QPointF(0, 0), index)
        x, y = round(corner.x()), round(corner.y())
        panes.append(shown[y + 45 : y + 150, x + 5 : x + 195])  # (below the side's label)
    assert np.array_equal(panes[0], panes[1])
    assert len(np.unique(panes[0].reshape(-1, 3), axis=0)) == 2  # (a checkerboard under it)


@pytest.mark.parametrize("scale", [2, 3])
def test_an_odd_sized_image_at_50_percent_is_drawn_from_exact_block_averages(qtbot, scale):
    """At 50 % a 201×151 original was drawn from a half-size copy of 100×75 pixels stretched
    to 100.5×75.5, and its ×3 result (1/6) from that copy rescaled: up to a pixel off at the
    far side, soft everywhere. Both sides now show each 2×2 block's average where it lies."""
    view, original, x, y = _shown_beside_its_nearest_upscale(qtbot, (400, 300), scale, 0.5, seed=3)
    blocks = original[:150, :200].reshape(75, 2, 100, 2, 3).mean(axis=(1, 3))
    for split in (1.0, 0.0):  # all before, all after
        view.set_split(split)
        shown = grab(view)[y + 30 : y + 75, x : x + 100].astype(float)  # (below the side's label)
        assert np.abs(shown - blocks[30:]).max() <= 1.0, split


def test_at_25_percent_a_last_partial_row_is_the_average_of_its_rows(qtbot):
    """The quarter-size copy was made by halving the half-size one: a 151-row image's last
    row came out 0.25·r148 + 0.25·r149 + 0.5·r150, up to 8 levels off the mean of rows
    148-150."""
    view, original, x, y = _shown_beside_its_nearest_upscale(qtbot, (400, 300), 1, 0.25, seed=4)
    view.set_split(1.0)  # all before
    shown = grab(view)[y + 37, x + 20 : x + 45].astype(float)  # (the last, partial, row of blocks)
    expected = original[148:151, 80:180].reshape(3, 25, 4, 3).mean(axis=(0, 2))
    assert np.abs(shown - expected).max() <= 1.0


@pytest.mark.parametrize("magnification", [3.3, 4.3, 4.7, 5.3, 6.1, 7.125, 2.7])
def test_at_any_zoom_a_pixel_stays_on_its_screen_columns_whatever_is_drawn_around_it(view, magnification):
    """At the fit zoom (and any wheel zoom) Qt rounded each block's edges from where the part
    drawn started: moving the divider changed 8 % of the after side's screen pixels though
    its content did not, and a region's result (the same pixels as the whole result there)
    drew unlike the result around it, in a one-pixel grid. Where a pixel lands depends on the
    zoom and the pan only."""
    original = unique_colours(30, 40)
    result = np.repeat(np.repeat(unique_colours(30, 40), 2, 0), 2, 1)[::-1].copy()
    view.set_original(original)
    view.set_result(result, 2)
    view.set_magnification(magnification)
    view.set_split(0.3)
    at_30 = grab(view)
    view.set_split(0.6)
    at_60 = grab(view)
    after_cols = slice(int(0.6 * view.width()) + 30, view.width() - 4)  # (clear of the divider's handle)
    before_cols = slice(4, int(0.3 * view.width()) - 30)
    rows = slice(110, view.height() - 40)  # (below the side labels)
    assert np.array_equal(at_30[rows, after_cols], at_60[rows, after_cols])
    assert np.array_equal(at_30[rows, before_cols], at_60[rows, before_cols])

    view.set_split(0.0)
    whole = grab(view)
    box = (13, 15, 9, 11)  # (odd places: its edges fall between screen pixels; below the labels)
    view.set_region_result(box, result[2 * box[1]:2 * (box[1] + box[3]), 2 * box[0]:2 * (box[0] + box[2])], 2)
    view.set_split(0.0)
    view.clear_region()  # (its outline and size tag: the pasted pixels only)
    pasted = grab(view)
    top_left = view.map_image_to_widget(QPointF(box[0], box[1]))
    bottom_right = view.map_image_to_widget(QPointF(box[0] + box[2], box[1] + box[3]))
    inside = (slice(max(40, int(top_left.y()) + 2), min(view.height() - 40, int(bottom_right.y()) - 1)),
              slice(max(4, int(top_left.x()) + 2), min(view.width() - 4, int(bottom_right.x()) - 1)))
    assert whole[inside].size > 0 and np.array_equal(whole[inside], pasted[inside])


def test_a_before_strip_too_narrow_for_its_label_has_it_beside_the_divider(qtbot):
    """A region drawn near the image's left edge moved the divider there: the before label was
    shortened to nothing and the before side had none. Where its first word does not fit,
    it is drawn just right of the divider, "◀ Before"; with room, in the before side's corner."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QFont, QPainter

    from sr_desktop.gui.compare.overlays import paint_before_label

    canvas = QImage(400, 300, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(canvas)
    try:
        shown = QRectF(50, 20, 300, 260)
        wide = paint_before_label(painter, shown, "Before", QFont(), 250)
        narrow = paint_before_label(painter, shown, "Before", QFont(), 70)
        hidden = paint_before_label(painter, shown, "Before", QFont(), 50)
        # beside an after label, in the room it leaves only (it was drawn under it in a narrow view)
        after = QRectF(160, 24, 186, 20)
        beside = paint_before_label(painter, shown, "Before", QFont(), 70, after)
        crowded = paint_before_label(painter, shown, "Before", QFont(), 70, QRectF(90, 24, 256, 20))
    finally:
        painter.end()
    assert wide is not None and wide.left() < 70 and wide.right() < 250
    assert narrow is not None and narrow.left() >= 70  # beside the divider, on the after side
    assert narrow.width() > wide.width()  # ("◀ " added)
    assert hidden is None  # (no before side in sight)
    assert beside is not None and beside.left() >= 70 and beside.right() <= after.left()
    assert crowded is None or crowded.right() <= 90


def test_swapped_sides_put_the_result_on_the_left_in_both_modes(view):
    """View ▸ Swap sides: after on the left and before on the right, split and side by side;
    a region enhanced on the before side (now right of the divider) is brought into sight by
    moving the divider to its right edge."""
    view.set_original(solid(30, 40, RED))
    view.set_result(solid(60, 80, BLUE), 2)
    view.set_swapped(True)
    assert view.swapped()
    pixels = grab(view)
    assert at(pixels, QPointF(100, 220)) == BLUE and at(pixels, QPointF(300, 220)) == RED
    view.set_mode("side_by_side")
    pixels = grab(view)
    assert at(pixels, QPointF(100, 150)) == BLUE and at(pixels, QPointF(300, 150)) == RED
    view.set_mode("split")
    view.set_split(0.1)
    view.set_region_result((30, 5, 6, 10), solid(20, 12, GREEN), 2)
    right = view.map_image_to_widget(QPointF(36, 5)).x()
    assert view.divider_x() >= right - 1
    assert at(grab(view), view.map_image_to_widget(QPointF(33, 10))) == GREEN
    view.set_swapped(False)
    assert at(grab(view), QPointF(5, 220)) == RED  # (the left of the divider is the before side again)


def test_a_swapped_before_strip_too_narrow_for_its_label_has_it_beside_the_divider(qtbot):
    """Mirrored: the before side on the right, its label in its top-right corner, else
    "Before ▶" just left of the divider in the room the after label leaves."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QFont, QPainter

    from sr_desktop.gui.compare.overlays import paint_before_label

    canvas = QImage(400, 300, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(canvas)
    try:
        shown = QRectF(50, 20, 300, 260)
        wide = paint_before_label(painter, shown, "Before", QFont(), 150, left=False)
        narrow = paint_before_label(painter, shown, "Before", QFont(), 330, left=False)
        hidden = paint_before_label(painter, shown, "Before", QFont(), 350, left=False)
        after = QRectF(54, 24, 150, 20)
        beside = paint_before_label(painter, shown, "Before", QFont(), 330, after, left=False)
    finally:
        painter.end()
    assert wide is not None and wide.left() > 150 and wide.right() <= 350
    assert narrow is not None and narrow.right() <= 330 and narrow.width() > wide.width()  # (" ▶" added)
    assert hidden is None
    assert beside is not None and beside.left() >= after.right() and beside.right() <= 330
