"""The window's settings file as users meet it: hand-edited or another version's values, a file
that cannot be written, two windows on one file, long and odd recent-file lists."""

from __future__ import annotations

import os
import sys
import time

import pytest

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def _window(qtbot, settings):
    from sr_desktop.gui.app import create_application
    from sr_desktop.gui.main_window.window import MainWindow

    create_application()
    window = MainWindow(settings=settings, confirm_discard=lambda _q: "discard")
    qtbot.addWidget(window)
    window.show()
    return window


@pytest.mark.parametrize("key", ["scale", "tile"])
def test_a_number_beyond_qts_range_in_the_file_opens_the_window_with_the_default(qtbot, tmp_path, key):
    """scale=4294967296 or tile=4294967296 stopped the app at every start (OverflowError)."""
    from sr_desktop.gui.settings import GuiSettings

    (tmp_path / "gui.ini").write_text(f"[General]\nmodel=bicubic\n{key}=4294967296\n")
    window = _window(qtbot, GuiSettings(tmp_path / "gui.ini"))
    assert window.picker.scale() == 4
    assert window.picker.tile() == "auto"


def test_a_stored_tile_larger_than_the_box_offers_shows_auto(qtbot, tmp_path):
    from sr_desktop.gui.settings import GuiSettings

    (tmp_path / "gui.ini").write_text("[General]\nmodel=bicubic\ntile=5000\n")
    window = _window(qtbot, GuiSettings(tmp_path / "gui.ini"))
    assert window.picker.tile() == "auto"


@pytest.mark.parametrize("case", ["folder", "gone"])
def test_settings_that_cannot_be_saved_are_named_at_start(qtbot, tmp_path, case):
    """Every choice was forgotten at each close, without a word, when gui.ini was read-only, a
    folder, or a link into a folder that is gone (a synced folder not mounted)."""
    from sr_desktop.gui.settings import GuiSettings

    ini = tmp_path / "gui.ini"
    if case == "folder":
        ini.mkdir()
        reason = "it is a folder"
    else:
        ini.symlink_to(tmp_path / "unmounted" / "gui.ini")
        reason = "folder"  # (the system's words for the missing folder follow)
    settings = GuiSettings(ini)
    assert reason in (settings.unsaved_reason() or "")
    window = _window(qtbot, settings)
    qtbot.waitUntil(lambda: window.message_bar.text() != "", timeout=5000)
    assert window.message_bar.text().startswith(f"Settings cannot be saved in {ini} (")
    assert "will be forgotten when the window closes" in window.message_bar.text()


def test_writable_settings_say_nothing(qtbot, tmp_path):
    from sr_desktop.gui.settings import GuiSettings

    settings = GuiSettings(tmp_path / "config" / "gui.ini")
    assert settings.unsaved_reason() is None
    settings.set("scale", 2)
    settings.sync()
    assert settings.unsaved_reason() is None


def test_a_choice_this_window_cannot_show_stays_in_the_file(qtbot, tmp_path):
    """device=cuda:1 and precision=fp16 from another machine became auto/auto by opening and
    closing the window."""
    from sr_desktop.gui.settings import GuiSettings

    ini = tmp_path / "gui.ini"
    ini.write_text("[General]\nmodel=bicubic\ndevice=cuda:1\nprecision=fp16\nbackend=tensorrt\n")
    window = _window(qtbot, GuiSettings(ini))
    assert window.picker.device() != "cuda:1"
    window.close()
    kept = GuiSettings(ini)
    assert (kept.get("device"), kept.get("precision"), kept.get("backend")) == ("cuda:1", "fp16", "tensorrt")


def test_a_window_that_changed_nothing_keeps_what_another_stored(qtbot, tmp_path):
    """Two windows: B chose ×2 and the CPU and closed; A, untouched, closed later and wrote its
    own device (auto) back, a mix of both."""
    from sr_desktop.gui.main_window.model_picker import ModelPicker
    from sr_desktop.gui.settings import GuiSettings

    ini = tmp_path / "gui.ini"
    ini.write_text("[General]\nmodel=bicubic\nscale=4\ndevice=auto\n")
    first, second = ModelPicker(), ModelPicker()
    for picker in (first, second):
        qtbot.addWidget(picker)
        picker.load_settings(GuiSettings(ini))
    assert second.set_scale(2) and second.set_device("cpu")
    second.save_settings(GuiSettings(ini))
    first.save_settings(GuiSettings(ini))
    stored = GuiSettings(ini)
    assert (stored.get("scale"), stored.get("device")) == (2, "cpu")


def test_a_choice_changed_and_changed_back_is_stored_as_shown(qtbot, tmp_path):
    from sr_desktop.gui.main_window.model_picker import ModelPicker
    from sr_desktop.gui.settings import GuiSettings

    ini = tmp_path / "gui.ini"
    ini.write_text("[General]\nmodel=bicubic\nscale=4\ntile=auto\n")
    picker = ModelPicker()
    qtbot.addWidget(picker)
    picker.load_settings(GuiSettings(ini))
    for scale, tile in ((2, 256), (4, "auto")):
        picker.set_scale(scale)
        picker.set_tile(tile)
        picker.save_settings(GuiSettings(ini))
    stored = GuiSettings(ini)
    assert (stored.get("scale"), stored.get("tile")) == (4, "auto")


def test_a_long_recent_list_is_read_quickly(qtbot, tmp_path):
    """1,000 entries took 14 s to read (every entry compared with every kept one, resolved
    each time), at start and at each open."""
    from sr_desktop.gui.settings import MAX_RECENT_FILES, GuiSettings

    files = []
    for i in range(1000):
        files.append(tmp_path / f"img{i}.png")
        files[-1].write_bytes(b"")
    settings = GuiSettings(tmp_path / "gui.ini")
    settings._qs.setValue("recent_files", [str(f) for f in files])
    started = time.perf_counter()
    recent = settings.recent_files()
    assert time.perf_counter() - started < 2.0
    assert recent == files[:MAX_RECENT_FILES]


@pytest.mark.skipif(sys.platform != "linux", reason="a file name that is not UTF-8 (Linux file systems)")
def test_a_recent_file_whose_name_is_not_utf8_comes_back(qtbot, tmp_path):
    """b'caf\\xe9.png' was stored as 'caf\\ufffd.png', a file that does not exist."""
    from sr_desktop.gui.settings import GuiSettings

    path = tmp_path / os.fsdecode(b"caf\xe9.png")
    try:
        path.write_bytes(b"")
    except (OSError, UnicodeError):
        pytest.skip("this file system refuses the name")
    GuiSettings(tmp_path / "gui.ini").add_recent_file(path)
    assert GuiSettings(tmp_path / "gui.ini").recent_files() == [path]


def test_a_settings_file_that_cannot_be_saved_is_logged_once(qtbot, tmp_path, caplog):
    import logging

    from sr_desktop.gui.settings import GuiSettings

    ini = tmp_path / "gui.ini"
    ini.mkdir()
    settings = GuiSettings(ini)
    with caplog.at_level(logging.WARNING, logger="sr_desktop"):
        for scale in (2, 3, 4):
            settings.set("scale", scale)
            settings.sync()
    assert [r.getMessage() for r in caplog.records] == [
        f"the settings could not be saved in {ini}: it is a folder"]
