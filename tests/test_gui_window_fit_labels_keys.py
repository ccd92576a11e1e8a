"""The main window as a photographer uses it (issue 19): it fits a 1366×768 laptop, opens
the good files of a mixed drop, labels every result with what made it (never stale), keeps
one zoom definition, works from the keyboard with every focusable widget named, and opens
at the first start with the image area alone."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QScrollArea, QWidget

from sr_desktop.engine.pipeline import upscale
from sr_desktop.gui.accessible_names import accessible_name, takes_focus
from sr_desktop.gui.app import create_application
from sr_desktop.gui.main_window.controls import NO_RESULT
from sr_desktop.gui.main_window.window import MainWindow
from sr_desktop.gui.settings import GuiSettings
from tests.test_gui_main_window import drop, open_and_wait, pick_bicubic, slow_runner, wait_idle, write_png

pytestmark = [
    pytest.mark.gui,
    pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning"),
]

#: a 1366×768 screen less a task bar; and the same screen at 150 % display scaling
LAPTOP = (1366, 720)
LAPTOP_150 = (int(1366 / 1.5), int(720 / 1.5))


@pytest.fixture
def window(qtbot, tmp_path):
    create_application()
    made = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(made)
    made.resize(*LAPTOP)
    made.show()
    qtbot.waitExposed(made)
    yield made
    made.queue.shutdown(2.0)


def three_images(tmp_path):
    return [write_png(tmp_path / f"photo{i}.png", 48, 32, i) for i in range(3)]


# ------------------------------------------------------------------ 1. fits a laptop
def test_the_window_fits_a_1366x768_laptop_with_the_strip_and_the_panels(window, tmp_path, qtbot):
    open_and_wait(qtbot, window, three_images(tmp_path))
    assert window.filmstrip_dock.isVisible()
    for dock in window.side_panels.values():
        dock.show()
    qtbot.wait(50)
    hint = window.minimumSizeHint()
    # measured: 601×340 with the strip and both panels (the old window needed 808 px)
    assert hint.width() <= LAPTOP_150[0] and hint.height() <= LAPTOP_150[1]
    for size in (LAPTOP, LAPTOP_150, (800, 600)):
        window.resize(*size)
        qtbot.waitUntil(lambda s=size: window.size().toTuple() == s, timeout=2000)
        for title, dock in window.side_panels.items():  # a panel's whole column is in sight
            dock.raise_()
            qtbot.wait(20)
            scroll = dock.widget().findChild(QScrollArea)
            # (the kernel panel's right edge, its Cancel, was cut off at 800 px)
            assert scroll.viewport().width() >= scroll.widget().minimumSizeHint().width(), (title, size)
    # the two panels side by side still fit a 1024 px screen: a column narrower than its
    # content scrolls sideways, nothing is cut off (a minimum width made it 1074 px)
    window.splitDockWidget(*window.side_panels.values(), Qt.Orientation.Horizontal)
    window.resize(1024, 600)
    qtbot.waitUntil(lambda: window.size().toTuple() == (1024, 600), timeout=2000)
    for title, dock in window.side_panels.items():
        scroll = dock.widget().findChild(QScrollArea)
        cut = scroll.widget().minimumSizeHint().width() - scroll.viewport().width()
        assert cut <= scroll.horizontalScrollBar().maximum(), title
    # the left column scrolls instead of squeezing: the model description stays above
    # the Variant row, the region hint keeps all its lines
    picker = window.picker
    description = picker.description
    assert description.geometry().bottom() < picker.variant_combo.geometry().top()
    assert description.height() >= description.minimumHeight() > 0
    assert window.region_label.height() >= window.region_label.sizeHint().height() - 1
    scroll = window.findChild(QWidget, "controlsScroll")
    assert scroll.verticalScrollBar().maximum() > 0  # at 911×480 the column scrolls



def test_a_panel_shown_alone_keeps_its_whole_column_in_sight(window, tmp_path, qtbot):
    """The Blur kernel panel opened alone (Ctrl+K) at 1366×720 got a dock as wide as its
    column, the vertical scroll bar then covering 14 px of its right edge (Cancel cut in
    half); a kernel's "Fast upscale ×2 with this kernel (map-sr)" widened it 12 px more."""
    import numpy as np

    open_and_wait(qtbot, window, three_images(tmp_path)[:1])
    kernel = np.outer(np.hanning(13), np.hanning(13))
    for title, dock in window.side_panels.items():
        for other in window.side_panels.values():
            other.setVisible(other is dock)
        if title == "Blur kernel":
            window.kernel_panel.set_kernel(kernel / kernel.sum(), "test", scale=2)
        qtbot.wait(50)
        scroll = dock.widget().findChild(QScrollArea)
        assert scroll.verticalScrollBar().isVisible(), title  # the short window's case
        assert scroll.horizontalScrollBar().maximum() == 0, title
        assert scroll.viewport().width() >= scroll.widget().minimumSizeHint().width(), title

def test_a_long_file_name_in_a_message_does_not_widen_the_window(window, tmp_path, qtbot):
    broken = tmp_path / ("IMG_" + "very_long_holiday_photo_name_" * 7 + ".png")
    broken.write_bytes(b"not a png at all")
    for dock in window.side_panels.values():
        dock.show()
    drop(window, [broken])
    qtbot.waitUntil(lambda: broken.name in window.message_bar.text(), timeout=5000)
    hint = window.minimumSizeHint()
    # measured before: 1797 px wide (the name did not wrap), the window grew past the screen
    assert hint.width() <= LAPTOP_150[0], hint
    window.resize(*LAPTOP_150)
    qtbot.waitUntil(lambda: window.size().toTuple() == LAPTOP_150, timeout=2000)


def test_a_long_evaluate_summary_does_not_widen_the_metrics_panel(window, tmp_path, qtbot):
    """The Evaluate fold's summary ("0 models, ×4, Estimated kernel of <image> 17×17, ×2")
    was shown whole: the metrics panel grew wider than its dock and scrolled sideways,
    cutting its View buttons. It is cut with "…" to the room it has, whole in its tooltip."""
    import numpy as np

    panel = window.metrics_panel
    window.side_panels["Metrics"].show()
    toggle = panel.evaluate_section.inputs_toggle
    name = "IMG_" + "very_long_holiday_photo_name_" * 4 + ".png"
    panel.set_kernel(np.full((5, 5), 1 / 25), 2, True, origin=name)
    qtbot.waitUntil(lambda: toggle.text() != toggle.summary(), timeout=2000)
    assert name in toggle.summary() and toggle.text().endswith("…") and name in toggle.toolTip()
    scroll = next(w for w in panel.findChildren(QScrollArea))
    assert not scroll.horizontalScrollBar().isVisible()
    assert toggle.minimumSizeHint().width() < toggle.width()


def _slow_window_at_150(qtbot, tmp_path, job_runner=slow_runner) -> MainWindow:
    """A window on a 1366×768 laptop at 150 % scaling whose upscales take a while."""
    create_application()
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), job_runner=job_runner,
                        confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.resize(*LAPTOP_150)
    window.show()
    return window


def test_on_a_short_screen_a_starting_job_brings_the_progress_into_sight(qtbot, tmp_path):
    window = _slow_window_at_150(qtbot, tmp_path)
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 96, 64)])
    scroll = window.controls_scroll
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum())  # scrolled down
    window.start_upscale()
    qtbot.waitUntil(lambda: window.queue.is_busy(), timeout=5000)
    box = window.progress_box
    top = box.mapTo(scroll.viewport(), box.rect().topLeft()).y()
    assert 0 <= top and top + box.height() <= scroll.viewport().height()
    window.cancel_jobs()
    wait_idle(qtbot, window)
    window.queue.shutdown(2.0)


def test_on_a_short_screen_a_queued_job_keeps_cancel_in_sight(qtbot, tmp_path):
    window = _slow_window_at_150(qtbot, tmp_path)
    for dock in window.side_panels.values():  # with the strip and the panels the column is short
        dock.show()
    window.picker.set_model_id("realesr-animevideov3")
    window.picker.set_scale(4)
    open_and_wait(qtbot, window, [*three_images(tmp_path), write_png(tmp_path / "big.png", 128, 128)])
    assert window.open_image(tmp_path / "big.png")
    wait_idle(qtbot, window)
    scroll = window.controls_scroll
    window.start_upscale()
    qtbot.waitUntil(lambda: window.queue.is_busy(), timeout=5000)
    qtbot.wait(50)
    window.picker.set_scale(2)  # (the same job again is not queued twice)
    window.start_upscale()  # queued: its line grows the progress box (Cancel was scrolled out)

    def cancel_in_sight() -> bool:
        button = window.cancel_button
        y = button.mapTo(scroll.viewport(), button.rect().topLeft()).y()
        return window.queue.pending is not None and 0 <= y and y + button.height() <= scroll.viewport().height()

    qtbot.waitUntil(cancel_in_sight, timeout=3000)
    window.cancel_jobs()
    wait_idle(qtbot, window)
    window.queue.shutdown(2.0)


def test_on_a_short_screen_a_progress_line_that_wraps_keeps_cancel_in_sight(qtbot, tmp_path):
    """A first use's progress line ("converting it to OpenVINO and timing it…") wrapped to
    three lines and pushed Cancel out of the column's view for its seconds."""
    import time

    from sr_desktop.engine.core.progress import BACKEND_STAGE, ProgressInfo

    go_on = []

    def first_use(job, progress, cancel):  # a short line for a while, then the long one
        for line in ["first use", "first use of span's ×4 network: converting it to OpenVINO and timing "
                     "it against torch on a small tile (once per model, version and precision)"]:
            progress(ProgressInfo(0, 0, 0.1, None, stage=BACKEND_STAGE, message=line))
            while not go_on and not cancel.cancelled:
                time.sleep(0.01)
            go_on.clear()
        while True:
            cancel.raise_if_cancelled()
            time.sleep(0.01)

    window = _slow_window_at_150(qtbot, tmp_path, first_use)
    for dock in window.side_panels.values():
        dock.show()
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 96, 64)])
    scroll = window.controls_scroll

    def cancel_in_sight() -> bool:
        button = window.cancel_button
        y = button.mapTo(scroll.viewport(), button.rect().topLeft()).y()
        return 0 <= y and y + button.height() <= scroll.viewport().height()

    window.start_upscale()
    qtbot.waitUntil(lambda: window.queue.running is not None and cancel_in_sight(), timeout=5000)
    lines = window.progress_text.height()
    go_on.append(True)  # the long line
    qtbot.waitUntil(lambda: window.progress_text.height() > lines, timeout=3000)
    qtbot.waitUntil(cancel_in_sight, timeout=3000)
    window.cancel_jobs()
    wait_idle(qtbot, window)
    window.queue.shutdown(2.0)


# ------------------------------------------------------------------ 2. mixed drop
def test_a_mixed_drop_opens_the_good_file_and_sums_up_the_rest(window, tmp_path, qtbot):
    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"not a jpeg at all")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    photo = write_png(tmp_path / "photo.png", 20, 14)
    drop(window, [fake, notes, photo])
    qtbot.waitUntil(lambda: window.image is not None and window.is_idle(), timeout=20000)
    assert window.image.path == photo
    text = window.message_bar.text()
    assert text.startswith("2 of 3 files could not be opened: ")
    assert "notes.txt (not a supported image type)" in text and "fake.jpg" in text
    assert window.message_bar.action_text() == "Details…"
    box = window.opener.show_failure_details()
    assert "fake.jpg: " in box.detailedText() and "notes.txt: " in box.detailedText()
    box.close()
    assert fake in window.filmstrip.paths() and photo in window.filmstrip.paths()


def test_a_dropped_folder_sums_up_the_broken_files_after_the_good_one(window, tmp_path, qtbot):
    folder = tmp_path / "shoot"
    folder.mkdir()
    photo = write_png(folder / "a_good.png", 20, 14)
    (folder / "b_empty.png").write_bytes(b"")
    for name in ("c_fake.jpg", "d_fake.png", "e_fake.webp"):
        (folder / name).write_bytes(b"not an image at all")
    drop(window, [folder])
    qtbot.waitUntil(lambda: window.image is not None and window.is_idle(), timeout=20000)
    assert window.image.path == photo
    # the reading stops at the good file; the thumbnails find the four broken ones
    qtbot.waitUntil(lambda: window.message_bar.text().startswith("4 of 5 files could not be opened: "),
                    timeout=20000)
    box = window.opener.show_failure_details()
    assert all(f"{n}: " in box.detailedText() for n in ("b_empty.png", "c_fake.jpg", "d_fake.png", "e_fake.webp"))
    box.close()


def test_a_dismissed_summary_is_not_shown_again_by_late_thumbnails(window, tmp_path, qtbot):
    folder = tmp_path / "shoot"
    folder.mkdir()
    (folder / "a_fake.png").write_bytes(b"not an image at all")
    write_png(folder / "b_good.png", 20, 14)
    for i in range(6):
        (folder / f"c_fake{i}.png").write_bytes(b"not an image at all")
    drop(window, [folder])
    qtbot.waitUntil(lambda: "could not be opened" in window.message_bar.text(), timeout=20000)
    window.message_bar.close_button.click()
    qtbot.waitUntil(lambda: not window.filmstrip.thumbnails_pending(), timeout=20000)
    qtbot.wait(50)
    assert window.message_bar.text() == ""
    assert len(window.opener.batch.failures) == 7
    assert all(not reason.startswith("cannot read") for _name, reason in window.opener.batch.failures)


def test_a_dismissed_summary_is_not_shown_again_by_the_first_file_failing_late(window, tmp_path, qtbot):
    # The first file's read ends after the thumbnails found the other broken ones and the
    # user dismissed their summary: its failure is counted, the summary is not put back
    # (the full run's load made this order, and the dismissed summary reappeared).
    import threading

    folder = tmp_path / "shoot"
    folder.mkdir()
    first = folder / "a_fake.png"
    first.write_bytes(b"not an image at all")
    for i in range(3):
        (folder / f"c_fake{i}.png").write_bytes(b"not an image at all")
    release = threading.Event()
    reader = window.loader.runner

    def read_first_file_late(job, progress, cancel):
        if job.options == first:
            release.wait(20)
        return reader(job, progress, cancel)

    window.loader.runner = read_first_file_late
    try:
        drop(window, [folder])
        qtbot.waitUntil(lambda: window.message_bar.text().startswith("3 of 4 files could not be opened"),
                        timeout=20000)
        window.message_bar.close_button.click()
    finally:
        release.set()
    qtbot.waitUntil(lambda: len(window.opener.batch.failures) == 4 and window.is_idle(), timeout=20000)
    qtbot.wait(50)
    assert window.message_bar.text() == ""
    box = window.opener.show_failure_details()  # (the Details still list it)
    assert "a_fake.png: " in box.detailedText()
    box.close()


def test_a_closed_metrics_panel_measures_nothing_until_it_is_opened(window, tmp_path, qtbot):
    panel, dock = window.metrics_panel, window.side_panels["Metrics"]
    assert not dock.isVisible()  # the first start shows the image area alone
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 48, 32)])
    pick_bicubic(window, 2)
    window.start_upscale()
    wait_idle(qtbot, window)
    qtbot.wait(100)
    # NIQE of a large result takes seconds the next upscale needs, and could not be stopped
    assert not panel.is_measuring() and panel.no_reference_numbers() is None
    dock.show()
    qtbot.waitUntil(lambda: panel.no_reference_numbers() is not None, timeout=20000)


# ------------------------------------------------------------------ 3. labels
def test_labels_name_the_result_follow_the_image_and_mark_a_stale_result(window, tmp_path, qtbot):
    from sr_desktop.gui.main_window.result_info import NO_IMAGE

    first, second, _ = three_images(tmp_path)
    # no image: "pick a model and press Upscale" (disabled) was what it said
    assert window.image is None and window.result_label.text() == NO_IMAGE
    open_and_wait(qtbot, window, [first])
    pick_bicubic(window, 2)
    assert window.size_label.text() == "48×32 · ×2 gives 96×64"  # planned, and said so
    assert window.result_label.text() == NO_RESULT
    window.start_upscale()
    wait_idle(qtbot, window)
    assert window.size_label.text() == "48×32 → 96×64"  # the displayed result's size
    assert window.result_label.text().startswith("Result: Bicubic ×2 · ")
    assert window.compare.after_label() == "After · Bicubic ×2"
    assert "(Bicubic ×2, 1 tile)" in window.time_label.full_text()

    window.picker.set_scale(4)  # the result no longer matches the picker
    assert "Not what the picker is set to now (scale changed): press Upscale" in window.result_label.text()
    assert window.result_label.font().bold()
    assert window.compare.after_label() == "After · Bicubic ×2 (not the picked settings)"
    assert window.size_label.text() == "48×32 → 96×64"

    window.open_paths([second])  # switching image clears everything of the first
    qtbot.waitUntil(lambda: window.image is not None and window.image.path == second, timeout=20000)
    assert window.time_label.full_text() == "No run yet"
    assert window.result_label.text() == NO_RESULT
    assert window.compare.after_label() == "After"
    assert window.size_label.text() == "48×32 · ×4 gives 192×128"


def fake_zssr_runner(job, progress, cancel):
    """A ZSSR job's result without the training: a bicubic upscale that says it is ZSSR."""
    options = dataclasses.replace(job.options, model="bicubic", kernel=None)
    return dataclasses.replace(upscale.upscale_image(job.image, options, progress, cancel), model="zssr")


def test_after_zssr_with_a_kernel_the_labels_say_zssr(qtbot, tmp_path):
    create_application()
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), job_runner=fake_zssr_runner,
                        confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.show()
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 16)])
    pick_bicubic(window, 2)
    kernel = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert window.upscale_with_kernel(kernel, 2) is not None
    wait_idle(qtbot, window)
    assert window.result.model == "zssr"
    assert window.compare.after_label().startswith("After · ZSSR")
    assert "(with a blur kernel) ×2" in window.result_label.text()
    # the picker says Bicubic, but the result is the kernel panel's, not a stale pick (the
    # note offered Upscale "to apply the new settings", which throws the ZSSR run away)
    assert "Made from the Blur kernel panel" in window.result_label.text()
    assert "changed" not in window.result_label.text()
    assert "not the picked settings" not in window.compare.after_label()
    assert "ZSSR" in window.time_label.full_text()
    window.queue.shutdown(2.0)


def test_a_per_image_model_s_iterations_are_named_and_a_change_marks_its_result_stale(window, tmp_path, qtbot):
    """The picker's Iterations row (ZSSR, map-sr) reaches the run, from Upscale and from the
    Blur kernel panel's button for the same model; the result says how many, and another
    number marks it as not what the picker is set to."""
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 16)])
    assert window.picker.set_model_id("map-sr") and window.picker.set_scale(2)
    window.picker.iterations_spin.setValue(3)
    window.start_upscale()
    wait_idle(qtbot, window)
    assert window.session.result_run.iterations == 3
    assert window.result_label.text().startswith("Result: MAP-SR (reconstruction with a kernel, per image) ×2 · "
                                                 "iterations 3 · CPU")
    assert "changed" not in window.result_label.text()
    window.picker.iterations_spin.setValue(4)
    assert "(iterations changed)" in window.result_label.text()
    kernel = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert window.kernel_tools.upscale_with_kernel(kernel, 2, model="map-sr") is not None
    wait_idle(qtbot, window)
    assert window.session.result_run.iterations == 4
    zssr = window.kernel_tools.upscale_with_kernel(kernel, 2, model="zssr")  # (not the picker's model)
    assert zssr.options.model == "zssr" and zssr.options.iterations is None
    window.cancel_jobs()
    wait_idle(qtbot, window)


# ------------------------------------------------------------------ 6. one zoom
def test_the_zoom_label_keeps_its_meaning_across_an_upscale(window, tmp_path, qtbot):
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 16)])
    pick_bicubic(window, 4)
    window.zoom_actions[1].trigger()  # "Zoom 200 %"
    assert window.compare.magnification() == pytest.approx(2.0)
    assert window.zoom_label.text() == "Zoom 200 %"
    window.start_upscale()
    wait_idle(qtbot, window)
    assert window.compare.has_result()
    assert window.compare.magnification() == pytest.approx(2.0)  # same size on screen …
    assert window.zoom_label.text() == "Zoom 200 %"  # … same number (it read 50 % before)
    window.zoom_actions[0].trigger()
    assert window.zoom_label.text() == "Zoom 100 %"
    assert window.compare.zoom() == pytest.approx(0.25)  # result pixels: 4 per screen pixel


# ------------------------------------------------------------------ 7. keyboard
def test_the_view_is_in_the_tab_order_and_space_there_shows_the_original(window, tmp_path, qtbot):
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 16)])
    pick_bicubic(window, 2)
    qtbot.mouseClick(window.upscale_button, Qt.MouseButton.LeftButton)  # a click…
    wait_idle(qtbot, window)
    assert window.focusWidget() is window.compare  # …leaves the focus on the image
    jobs = []
    window.queue.jobStarted.connect(jobs.append)
    qtbot.keyPress(window.compare, Qt.Key.Key_Space)
    assert window.compare.show_original()
    qtbot.keyRelease(window.compare, Qt.Key.Key_Space)
    assert not window.compare.show_original()
    qtbot.wait(50)
    assert jobs == []  # Space pressed no button

    window.upscale_button.setFocus()  # Tab from the Upscale button reaches the view
    for _ in range(40):
        if window.focusWidget() is window.compare:
            break
        window.focusNextChild()
    assert window.focusWidget() is window.compare


def test_shortcuts_exist_and_the_help_sheet_lists_them(window):
    def keys(action):
        return [k.toString() for k in action.shortcuts()]

    assert "Ctrl+Q" in keys(window.quit_action)
    assert keys(window.batch_action) == ["Ctrl+B"]
    assert keys(window.add_model_action) == ["Ctrl+Shift+M"]
    assert keys(window.split_action) == ["Ctrl+Alt+S"]
    assert keys(window.side_action) == ["Ctrl+Alt+B"]
    assert keys(window.swap_action) == ["Ctrl+Alt+X"]
    every = [k for a in window.actions() for k in set(keys(a))]
    assert len(every) == len(set(every)), "a key is bound to two actions"
    sheet = window.show_shortcuts()
    rows = dict(sheet.rows())
    native = QKeySequence("Ctrl+Alt+B").toString(QKeySequence.SequenceFormat.NativeText)
    assert rows["Side by side"] == native and "Quit" in rows and "Batch export" in rows
    assert rows["Show the original while held (image focused)"] == "Space"
    sheet.close()


def test_swap_sides_is_in_the_view_menu_and_remembered(window, tmp_path, qtbot):
    """View ▸ Swap sides puts the result on the left (in either mode); the next window opens
    with the sides as they were left."""
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.swap_action in view_menu.actions() and window.swap_action.isCheckable()
    assert not window.compare.swapped()
    window.swap_action.trigger()
    assert window.compare.swapped() and window.swap_action.isChecked()
    assert window.settings.get("compare_swapped") is True
    again = MainWindow(settings=GuiSettings(window.settings.path), confirm_discard=lambda _q: "discard")
    qtbot.addWidget(again)
    assert again.compare.swapped() and again.swap_action.isChecked()
    again.swap_action.trigger()
    assert not again.compare.swapped() and again.settings.get("compare_swapped") is False
    again.queue.shutdown(2.0)


def test_every_focusable_widget_has_an_accessible_name(window, tmp_path, qtbot):
    open_and_wait(qtbot, window, three_images(tmp_path))
    window.show_error("a message with an action")
    window.message_bar.set_action("Details…", lambda: None)
    window.picker.advanced.expand(animate=False)
    for title, dock in window.side_panels.items():
        dock.show()
        dock.raise_()
        qtbot.wait(20)
        walked = [w for w in window.findChildren(QWidget)
                  if takes_focus(w) and w.window() is window and w.isVisibleTo(window)]
        unnamed = [f"{type(w).__name__} {w.objectName()!r}" for w in walked if not accessible_name(w)]
        assert len(walked) > 25, title  # measured: 39 with the metrics panel shown
        assert unnamed == [], title
    # the Cancel buttons of the three kinds of job each say which they stop (read alike before)
    from PySide6.QtWidgets import QPushButton

    cancels = sorted(accessible_name(b) for b in window.findChildren(QPushButton) if b.text() == "Cancel")
    assert cancels == ["Cancel the evaluation", "Cancel the kernel estimation", "Cancel the running job"]


def test_a_model_name_too_long_for_the_picker_ends_with_an_ellipsis(window, qtbot):
    """The closed model combo paints a long entry ("VDSR (2016) — training incomplete (×3,
    ×4)") cut with "…", exactly as a plain combo paints the elided text (it was clipped
    mid-letter); the list keeps the whole text."""
    from PySide6.QtWidgets import QComboBox

    from sr_desktop.gui.widgets import ElidingComboBox

    long_text = "VDSR (2016)  — training incomplete (×3, ×4)"
    eliding, plain = ElidingComboBox(), QComboBox()
    for combo in (eliding, plain):
        qtbot.addWidget(combo)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(10)
        combo.resize(180, combo.sizeHint().height())
        combo.show()
    eliding.addItem(long_text)
    qtbot.waitExposed(eliding)
    from PySide6.QtWidgets import QStyle, QStyleOptionComboBox

    option = QStyleOptionComboBox()
    eliding.initStyleOption(option)
    field = eliding.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                           QStyle.SubControl.SC_ComboBoxEditField, eliding)
    shown = eliding.fontMetrics().elidedText(long_text, Qt.TextElideMode.ElideRight, field.width())
    assert shown.endswith("…") and len(shown) < len(long_text)
    plain.addItem(shown)
    qtbot.waitExposed(plain)
    assert eliding.grab().toImage() == plain.grab().toImage()
    assert eliding.itemText(0) == long_text
    assert isinstance(window.picker.model_combo, ElidingComboBox)


def test_every_picker_combo_is_labelled_for_screen_readers(window):
    from PySide6.QtGui import QAccessible
    from PySide6.QtWidgets import QComboBox

    picker = window.picker
    picker.advanced.expand(animate=False)
    for combo in picker.findChildren(QComboBox):
        if not combo.isVisibleTo(window):
            continue
        relations = QAccessible.queryAccessibleInterface(combo).relations(QAccessible.RelationFlag.Label)
        # the variant combo was announced by its value alone ("ch48")
        assert relations, combo.accessibleName()



def test_folded_advanced_controls_take_no_keyboard_focus(window, qtbot):
    """Folded, Tab went on through the invisible Device, Precision, Backend and Tile, and two
    Up presses changed the Tile from auto to 128 px (saved to the settings)."""
    from PySide6.QtCore import Qt

    picker = window.picker
    hidden = (picker.device_combo, picker.precision_combo, picker.backend_combo, picker.tile_spin)
    picker.advanced.collapse(animate=False)
    assert all(w.focusPolicy() == Qt.FocusPolicy.NoFocus for w in hidden)
    picker.advanced.expand(animate=False)
    assert all(w.focusPolicy() != Qt.FocusPolicy.NoFocus for w in hidden)
    picker.tile_spin.setFocus()
    picker.advanced.collapse(animate=False)
    assert not picker.tile_spin.hasFocus()


def test_a_tile_below_the_smallest_becomes_the_smallest(window, qtbot):
    """The box took 1..15 px, and Upscale then failed with "tile must be 0 (whole image) or
    at least 16 px": a 0 the box shows as auto."""
    from PySide6.QtCore import Qt

    picker = window.picker
    picker.advanced.expand(animate=False)
    picker.tile_spin.setFocus()
    picker.tile_spin.lineEdit().selectAll()
    qtbot.keyClicks(picker.tile_spin, "5")
    assert picker.tile() == 16 and picker.options().tile.size == 16
    qtbot.keyClick(picker.tile_spin, Qt.Key.Key_Return)
    assert picker.tile_spin.value() == 16

def test_fp16_is_offered_only_for_a_device_that_runs_it(window):
    picker = window.picker
    fp16 = picker.precision_combo.model().item(picker.precision_combo.findData("fp16"))
    assert picker.set_device("cpu")
    # the engine refuses fp16 on the CPU ("fp16 needs a GPU … use --precision fp32")
    assert not fp16.isEnabled() and "needs a GPU" in fp16.toolTip()
    assert not picker.set_precision("fp16") and picker.precision() != "fp16"
    gpus = [d for d in ("cuda", "mps", "vulkan")
            if picker.device_combo.model().item(picker.device_combo.findData(d)).isEnabled()]
    if gpus:
        assert picker.set_device(gpus[0]) and fp16.isEnabled() and picker.set_precision("fp16")
        assert picker.set_device("cpu") and picker.precision() == "auto"  # not left on fp16


# ------------------------------------------------------------------ 11. first start
def test_first_start_shows_the_image_area_and_remembers_the_panels(qtbot, tmp_path):
    create_application()
    settings_path = tmp_path / "gui.ini"
    first = MainWindow(settings=GuiSettings(settings_path))
    qtbot.addWidget(first)
    first.show()
    assert first.side_panels and not any(d.isVisible() for d in first.side_panels.values())
    toggle = first.side_panels["Metrics"].toggleViewAction()
    assert toggle in first.toolbar.actions()  # one click away
    toggle.trigger()
    assert first.side_panels["Metrics"].isVisible()
    again = MainWindow(settings=GuiSettings(settings_path))  # remembered at once (a crash keeps it)
    qtbot.addWidget(again)
    again.show()
    assert again.side_panels["Metrics"].isVisible()
    first.close()
    again.close()


# ------------------------------------------------------------------ proof: --screenshot
def test_screenshot_command_takes_a_window_size_and_several_images(qtbot, tmp_path, capsys):
    from sr_desktop.cli.main import main
    from sr_desktop.engine.imageio import read_image

    create_application()
    images = [str(p) for p in three_images(tmp_path)]
    out = tmp_path / "laptop.png"
    assert main(["--screenshot", str(out), "--window-size", "1366x768", *images]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    shot = read_image(out)
    assert (shot.width, shot.height) == (1366, 768)  # the strip fits: the window kept its size
    with pytest.raises(SystemExit) as usage:  # argparse's usage error: exit status 2
        main(["--screenshot", str(tmp_path / "bad.png"), "--window-size", "wide", images[0]])
    assert usage.value.code == 2 and "WIDTHxHEIGHT" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()


# ------------------------------------------------------------------ animations (issue 18)
def test_a_multipage_tiff_says_only_its_first_page_is_used(window, tmp_path, qtbot):
    # (an animated GIF/PNG/WebP plays with every frame: tests/test_gui_animation.py)
    from PIL import Image as PILImage

    pages = [PILImage.new("RGB", (40, 30), (40 * i, 80, 120)) for i in range(3)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    open_and_wait(qtbot, window, [path])
    text = window.message_bar.text()
    assert "pages.tif has 3 pages" in text and "first one only" in text
    assert window.upscaler.player.frame_count == 0


# ------------------------------------------------------------------ backend (issue 16)
def test_the_advanced_backend_choice_reaches_the_engine_and_is_remembered(window, tmp_path):
    picker = window.picker
    assert picker.backend() == "auto"
    assert picker.set_backend("openvino")
    assert picker.options(fallback_model="bicubic").backend == "openvino"
    settings = GuiSettings(tmp_path / "saved.ini")
    picker.save_settings(settings)
    assert picker.set_backend("torch")
    picker.load_settings(settings)
    assert picker.backend() == "openvino"
    assert not picker.set_backend("tensorrt")


def test_a_network_openvino_refused_is_no_longer_offered(window, tmp_path, qtbot, monkeypatch):
    """After OpenVINO refused the picked network, OpenVINO stayed picked and offered: every
    Upscale converted it again, for seconds, to the same error. It is greyed out, with the
    refusal, the next Upscale runs (auto), and another scale's network is still offered."""
    ov = pytest.importorskip("openvino")

    def refuses(*_args, **_kwargs):
        raise RuntimeError("unsupported operation aten::frobnicate")

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(ov, "convert_model", refuses)
    picker = window.picker
    items = picker.backend_combo.model()
    openvino = items.item(picker.backend_combo.findData("openvino"))
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 20)])
    assert picker.set_model_id("fsrcnn") and picker.set_scale(3) and picker.set_device("cpu")
    assert picker.set_backend("openvino") and openvino.isEnabled()
    window.start_upscale()
    wait_idle(qtbot, window)
    assert "aten::frobnicate" in window.message_bar.text() and window.result is None
    assert picker.backend() == "auto" and not openvino.isEnabled()
    assert openvino.toolTip().startswith("OpenVINO refused FSRCNN ×3 here: OpenVINO cannot convert fsrcnn")
    assert "--" not in openvino.toolTip()  # (the window's words, not the command line's)
    window.start_upscale()
    wait_idle(qtbot, window)
    assert window.result is not None and window.result.backend == "torch" and window.result.scale == 3
    assert picker.set_scale(2) and openvino.isEnabled()
    assert picker.set_scale(3) and not openvino.isEnabled()


def test_windows_and_dialogs_open_within_the_screen(qtbot, tmp_path, monkeypatch):
    """Their first sizes (window 1280×700, batch 820×700, training 1100×660, shortcuts
    520×680) are cut to the screen's available area less a frame: on a 1280×720 screen the
    batch dialog's buttons were under the bottom edge."""
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtGui import QScreen

    from sr_desktop.gui.batch.dialog import BatchDialog
    from sr_desktop.gui.main_window.shortcuts_sheet import ShortcutsSheet
    from sr_desktop.gui.train.dialog import TrainDialog
    from sr_desktop.gui.widgets import FRAME_ALLOWANCE

    create_application()
    monkeypatch.setattr(QScreen, "availableGeometry", lambda self: QRect(0, 0, 1280, 690))
    room = QSize(1280, 690) - FRAME_ALLOWANCE
    window = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"))
    qtbot.addWidget(window)
    made = [window, BatchDialog(window), TrainDialog(window), ShortcutsSheet([], window)]
    for widget in made[1:]:
        qtbot.addWidget(widget)
    for widget in made:
        size = widget.size()
        assert size.width() <= room.width() and size.height() <= room.height(), (type(widget).__name__, size)
    assert made[1].size() == QSize(820, room.height())  # the width it asks for still fits


def test_a_wrapped_label_in_a_wide_form_is_as_high_as_its_text(qtbot):
    """QLabel hints wrapped text at a narrow guessed width, and the label's vertical policy
    takes the hint as its least height: the batch dialog gave a two-line model description a
    70-px box (28 px of text)."""
    from PySide6.QtWidgets import QFormLayout

    from sr_desktop.gui.widgets import WrapLabel

    create_application()
    host = QWidget()
    form = QFormLayout(host)
    label = WrapLabel()
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setText("Bicubic resampling (any integer scale 1..16): the baseline every model should beat."
                  "<br><i>fast</i>")
    form.addRow("", label)
    qtbot.addWidget(host)
    host.resize(800, 300)
    host.show()
    qtbot.waitExposed(host)
    qtbot.waitUntil(lambda: label.height() == label.heightForWidth(label.width()), timeout=2000)
    assert label.height() < 2.5 * label.fontMetrics().height()  # two lines, not five
    host.resize(260, 300)  # narrow: it grows again, nothing clipped
    qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()), timeout=2000)
    assert label.height() > 2.5 * label.fontMetrics().height()


def test_arrow_keys_pan_the_zoomed_image_and_brackets_move_the_divider(window, tmp_path, qtbot):
    """A keyboard user could zoom but only ever see the middle, nor move the divider."""
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 200, 150)])
    pick_bicubic(window, 2)
    window.start_upscale()
    wait_idle(qtbot, window)
    view = window.compare
    view.set_magnification(8.0)  # (the 1600×1200 original is larger than the view)
    view.setFocus()
    before = view.view_center()
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    after = view.view_center()
    assert after.x() > before.x() and after.y() > before.y()  # more of the right and the bottom
    split = view.split()
    qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    assert view.split() == pytest.approx(split - 0.05)
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    assert view.split() == pytest.approx(split)
    rows = dict(window.show_shortcuts().rows())
    assert rows["Pan the zoomed image (image focused)"] == "Arrow keys"
    assert rows["Move the split divider (image focused)"] == "[ / ]"


def test_a_letter_on_the_model_list_searches_it_and_ctrl_c_copies_selected_text(window, tmp_path, qtbot):
    """R toggled the region tool instead of jumping to "Real-ESRGAN…", and Ctrl+C on a
    selected error line copied the upscaled image."""
    from PySide6.QtGui import QGuiApplication

    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 16)])
    pick_bicubic(window, 2)
    window.start_upscale()
    wait_idle(qtbot, window)
    combo = window.picker.model_combo
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_R)
    assert not window.region_tool_action.isChecked()
    assert combo.currentText().lower().startswith("r")
    window.show_error("the model file is damaged")
    label = window.message_bar._label
    label.setSelection(4, 5)
    label.setFocus()
    QGuiApplication.clipboard().setText("")
    qtbot.keyClick(label, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().text() == "model"
    window.filmstrip.setFocus()  # the strip's current item is a file, not text: Copy result
    QGuiApplication.clipboard().setText("")
    qtbot.keyClick(window.filmstrip, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert not QGuiApplication.clipboard().image().isNull() and QGuiApplication.clipboard().text() == ""
    window.compare.setFocus()  # elsewhere R is still the region tool and Ctrl+C copies the result
    qtbot.keyClick(window.compare, Qt.Key.Key_R)
    assert window.region_tool_action.isChecked()


def test_no_menu_has_two_entries_on_one_alt_letter(window):
    """View had "&Play / pause animation" and "&Panels" both on P."""
    import re

    def letters(menu):
        found = [re.search(r"&([^&])", a.text().replace("&&", "")) for a in menu.actions()
                 if not a.isSeparator() and a.isVisible()]
        return [m.group(1).lower() for m in found if m]

    menus = [window.menuBar()] + [a.menu() for a in window.menuBar().actions() if a.menu()]
    menus += [a.menu() for m in menus[1:] for a in m.actions() if a.menu()]
    for menu in menus:
        keys = letters(menu)
        assert len(keys) == len(set(keys)), (menu.title(), keys)


def test_tab_passes_over_the_panel_behind_the_other_s_tab_and_off_screen_tab_bars(window, tmp_path, qtbot):
    """Qt keeps a tabbed panel that is not the current tab "visible", off the window: Tab went
    through the Blur kernel panel's ten controls, and at the first start (panels hidden) to
    an empty tab bar off screen."""
    from PySide6.QtWidgets import QApplication, QDockWidget, QTabBar

    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 24, 16)])

    def walk():
        window.picker.model_combo.setFocus()
        reached = []
        for _ in range(60):
            window.focusNextChild()
            widget = QApplication.focusWidget()
            if widget is window.picker.model_combo:
                break
            reached.append(widget)
        return reached

    def dock_of(widget):
        while widget is not None and not isinstance(widget, QDockWidget):
            widget = widget.parentWidget()
        return widget

    first_start = walk()
    assert not any(isinstance(w, QTabBar) and w.visibleRegion().isEmpty() for w in first_start)
    for dock in window.side_panels.values():
        dock.show()
    metrics, kernel = window.side_panels.values()
    metrics.raise_()
    qtbot.wait(50)
    reached = walk()
    assert any(dock_of(w) is metrics for w in reached)
    assert not any(dock_of(w) is kernel for w in reached)
    kernel.raise_()
    qtbot.wait(50)
    reached = walk()
    assert any(dock_of(w) is kernel for w in reached) and not any(dock_of(w) is metrics for w in reached)


def test_enhance_region_without_a_region_takes_the_part_in_view(window, tmp_path, qtbot):
    """The keyboard's way to a region: zoom in, pan with the arrows, Ctrl+R enhances what is
    in view (it only said "Draw a region on the image first"; then Ctrl+R did nothing at all,
    its action disabled while no region was drawn)."""
    open_and_wait(qtbot, window, [write_png(tmp_path / "a.png", 200, 150)])
    pick_bicubic(window, 2)
    view = window.compare
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # whole image in view: the hint
    assert "zoom in" in window.message_bar.text()
    view.set_magnification(8.0)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    box = view.visible_box()
    x, y, w, h = box
    assert 0 < w < 200 and 0 < h < 150 and x > 0
    qtbot.keyClick(view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert view.region() == box and window.session.region == box
    if window.metrics_panel is not None:  # its numbers are the region's, as for a drawn one
        assert window.metrics_panel.region() == box
    wait_idle(qtbot, window)
    assert window.session.region_result is not None and window.session.region_result[0] == box
    # the hint went with the action that followed it (it stayed beside the region's result)
    assert not window.message_bar.isVisible(), window.message_bar.text()


def test_the_chosen_variant_is_remembered(window, tmp_path):
    """docs/gui.md: every choice is remembered; the variant was not (a restart went back to
    the model's default, e.g. waifu2x's denoise level)."""
    picker = window.picker
    assert picker.set_model_id("waifu2x-photo") and picker.set_scale(2)
    assert picker.set_variant("denoise2")
    settings = GuiSettings(tmp_path / "saved.ini")
    picker.save_settings(settings)
    assert picker.set_model_id("span") and picker.set_model_id("waifu2x-photo")
    assert picker.variant() != "denoise2"  # (choosing the model again gives its default)
    picker.load_settings(settings)
    assert (picker.model_id(), picker.scale(), picker.variant()) == ("waifu2x-photo", 2, "denoise2")
    # a stored variant the model does not have leaves its default
    settings.set("variant", "no-such-variant")
    assert picker.set_model_id("span") and picker.set_model_id("waifu2x-photo")
    picker.load_settings(settings)
    assert picker.variant() == window.picker.spec().default_variant


def _shown_window(qtbot, settings: GuiSettings, width: int, height: int) -> MainWindow:
    """A window of `settings` at width×height, shown."""
    create_application()
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_panels_restored_without_their_window_size_leave_the_image_room(qtbot, tmp_path):
    """Qt refuses a geometry saved on another screen, and the window opens at the first-start
    size, but the panels kept their widths: a 700-px Metrics panel saved on a 1920-px screen
    left the image 262 px on a laptop (160 px for a 1200-px one)."""
    from sr_desktop.gui.main_window.window import METRICS_PANEL_TITLE

    settings = GuiSettings(tmp_path / "gui.ini")
    first = _shown_window(qtbot, settings, 1600, 700)
    dock = first.side_panels[METRICS_PANEL_TITLE]
    dock.show()
    first.resizeDocks([dock], [1000], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: dock.width() >= 900)
    settings.save_window(QByteArray(), first.saveState())  # the state without a geometry it can restore
    settings.sync()
    again = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    panel = again.side_panels[METRICS_PANEL_TITLE]
    qtbot.waitUntil(lambda: panel.isVisible() and again.compare.width() >= panel.width() - 16, timeout=5000)


def test_a_cut_short_window_geometry_gives_the_first_start_size(qtbot, tmp_path):
    """Qt restores a truncated saveGeometry blob as a 1-px window and says it did: the
    window opened at its minimum, 472×198. A whole one is restored."""
    settings = GuiSettings(tmp_path / "gui.ini")
    first = _shown_window(qtbot, settings, 600, 450)
    first.remember_layout()
    whole = bytes(settings.geometry().data())
    restored = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"))
    qtbot.addWidget(restored)
    assert restored.size() == first.size()
    for cut in (8, 46, 65):
        settings.save_window(QByteArray(whole[:cut]), first.saveState())
        settings.sync()
        again = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"))
        qtbot.addWidget(again)
        # the first-start size (1280×700) fitted to the 800×800 offscreen screen
        assert again.width() >= 750 and again.height() >= 600, (cut, again.size())


def test_a_status_line_label_too_long_for_its_room_ends_in_an_ellipsis(qtbot):
    """Qt clipped "Last run: 0.1 s (Real-ESRGAN anime video v3 ×4, 6 tiles)" mid-word on a
    narrow window, the closing bracket and the tiles lost without a sign."""
    from sr_desktop.gui.widgets import ElidingLabel

    create_application()
    whole = "Last run: 0.1 s (Real-ESRGAN anime video v3 ×4, 6 tiles)"
    label = ElidingLabel(whole)
    qtbot.addWidget(label)
    label.show()
    label.resize(120, 20)
    from PySide6.QtGui import QTextDocumentFragment

    # the tooltip shows the whole text as it is (escaped rich text: a name like HTML is not drawn as HTML)
    shown = QTextDocumentFragment.fromHtml(label.toolTip()).toPlainText()
    assert label.text().endswith("…") and label.text() != whole and shown == whole
    assert label.full_text() == whole
    label.resize(label.sizeHint().width() + 10, 20)
    assert label.text() == whole and label.toolTip() == ""


def test_help_about_with_a_relative_home(monkeypatch, tmp_path):
    """A portable install's relative SR_DESKTOP_HOME: the box did not open (as_uri refused
    the relative path)."""
    from sr_desktop.gui.main_window.about import about_text

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SR_DESKTOP_HOME", "home")
    assert str(tmp_path / "home") in about_text()
    import html
    import platform

    # which system a report came from, not "on Linux" alone
    assert f"on {platform.system()} {html.escape(platform.release())}." in about_text()
    # and what models run on here (a report did not say whether a GPU was used)
    from sr_desktop.engine.models.backends.inventory import compute_devices

    cpu = compute_devices()[0]
    assert f"Devices: cpu ({html.escape(cpu.name)})" in about_text()


def test_help_about_names_the_version_the_folders_and_the_licences(window, qtbot):
    """There was no About: the version was only in `--version`, the licences of what the app
    ships nowhere in the window."""
    from sr_desktop import __version__
    from sr_desktop.engine.core import paths

    assert window.about_action in window.menuBar().actions()[-1].menu().actions()
    from sr_desktop.gui.main_window.about import LOOKING_UP

    box = window.show_about()
    qtbot.addWidget(box)
    qtbot.waitUntil(lambda: LOOKING_UP not in box.text(), timeout=10000)  # (the text names Qt before)
    text = box.text()
    assert f"SR Desktop {__version__}" in text and "LICENSES.md" in text
    assert str(paths.config_dir()) in text and str(paths.log_dir()) in text
    # the libraries a problem report needs, and where a model's licence really is (the plain
    # `sr-desktop models` table has no licence column)
    import torch
    from PySide6.QtCore import qVersion

    assert f"Qt {qVersion()}" in text and f"torch {torch.__version__}" in text and "OpenVINO" in text
    assert "<code>sr-desktop models --json</code>" in text


def test_help_names_qts_licence_and_offers_its_own_notice(window):
    """Qt's LGPL was named nowhere: a program that shows notices shows the library's."""
    from sr_desktop.gui.main_window.about import about_text

    assert window.about_qt_action in window.menuBar().actions()[-1].menu().actions()
    assert "GNU LGPL v3 (Help ▸ About Qt)" in about_text("Libraries and devices: …")


def test_help_about_opens_at_once_and_fills_in_the_libraries_when_looked_up(window, qtbot, monkeypatch):
    """The first open loaded OpenVINO and the ncnn runtime on the main thread to read their
    versions and devices: the window froze 60-240 ms. The box now opens at once and a thread
    of its own looks them up; one that fails says so in the box."""
    import threading

    from sr_desktop.gui.main_window import about

    release = threading.Event()
    monkeypatch.setattr(about, "runtime_lines", lambda: release.wait(10) and "Qt 9.9 (looked up)\nDevices: cpu (test)")
    box = window.show_about()
    qtbot.addWidget(box)
    assert box.isVisible() and about.LOOKING_UP in box.text() and "Qt 9.9" not in box.text()
    release.set()
    qtbot.waitUntil(lambda: "Qt 9.9 (looked up)<br>Devices: cpu (test)" in box.text(), timeout=5000)
    assert about.LOOKING_UP not in box.text()

    def broken():
        raise OSError("no such library")

    monkeypatch.setattr(about, "runtime_lines", broken)
    second = about.show_about(window)
    qtbot.addWidget(second)
    qtbot.waitUntil(lambda: "could not be read (no such library)" in second.text(), timeout=5000)


def test_help_documentation_reads_the_guides_in_the_app(window, qtbot, monkeypatch):
    """The Help menu had no way to the guides (only a folder link inside About); then it opened
    their folder: file names, each opened in whatever program took ".md"."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices

    from sr_desktop.engine.core import paths

    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    assert window.documentation_action in window.menuBar().actions()[-1].menu().actions()
    window.documentation_action.trigger()
    viewer = window.guide_viewer
    assert viewer.isVisible() and opened == []  # (read here, not handed to another program)
    # the window's guide first, rendered (a heading, not "# The SR Desktop window")
    assert viewer.shown_guide() == "gui.md"
    assert viewer.guide_list.currentItem().text() == "The SR Desktop window"
    assert viewer.browser.toPlainText().startswith("The SR Desktop window")
    titles = [viewer.guide_list.item(i).text() for i in range(viewer.guide_list.count())]
    assert len(titles) == len(list(paths.DOCS_DIR.glob("*.md"))) and "Training and fine-tuning" in titles
    # a guide picked in the list is shown; a link to another guide opens it in place and the list follows
    viewer.guide_list.setCurrentRow(titles.index("Training and fine-tuning"))
    assert viewer.shown_guide() == "training.md" and "fine-tun" in viewer.browser.toPlainText()
    # what a click on a link does (QTextBrowser resolves it against the guide, then hands it on)
    here = viewer.browser.source()
    viewer.browser.anchorClicked.emit(here.resolved(QUrl("models.md")))
    assert viewer.shown_guide() == "models.md" and viewer.guide_list.currentItem().text() == "Models"
    # a screenshot's link opens in the system's viewer (it was shown here as the PNG's bytes), as a web page does
    picture = viewer.browser.source().resolved(QUrl("screenshots/kernel_real_photo.png"))
    viewer.browser.anchorClicked.emit(picture)
    viewer.browser.anchorClicked.emit(QUrl("https://example.org/paper"))
    assert viewer.shown_guide() == "models.md" and opened == [picture.toString(), "https://example.org/paper"]
    window.documentation_action.trigger()  # one viewer, raised again
    assert window.guide_viewer is viewer
    monkeypatch.setattr(paths, "DOCS_DIR", paths.DOCS_DIR / "absent")
    assert window.open_documentation() is False and "no guides folder" in window.message_bar.text()
