"""An animated image in the window (issue 18, point 8): it plays in the compare view, the
upscale covers every frame, before and after advance in sync, and Save writes every frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import features
from PySide6.QtCore import QPointF

from sr_desktop.app.animation_jobs import AnimatedResult
from sr_desktop.app.upscale_jobs import progress_text
from sr_desktop.engine.core.progress import ProgressInfo
from sr_desktop.engine.imageio import SaveOptions
from sr_desktop.engine.imageio.animation import read_animation
from sr_desktop.gui.app import create_application
from sr_desktop.gui.compare.animation import frame_ms
from sr_desktop.gui.main_window.window import MainWindow
from sr_desktop.gui.settings import GuiSettings

pytestmark = pytest.mark.gui

DURATIONS = [60, 90, 120]
COLOURS = [(220, 40, 40), (40, 200, 60), (50, 70, 230)]


def _gif(path: Path) -> Path:
    """Three 40×30 frames of one flat colour each (exact in a GIF palette)."""
    frames = [PILImage.fromarray(np.full((30, 40, 3), c, np.uint8)) for c in COLOURS]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=DURATIONS, loop=0)
    return path


@pytest.fixture
def window(qtbot, tmp_path):
    create_application()
    win = MainWindow(settings=GuiSettings(tmp_path / "gui.ini"), confirm_discard=lambda q: "discard",
                     ask_save_target=lambda s, o: None)
    qtbot.addWidget(win)
    win.resize(900, 640)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.queue.shutdown(2.0)


def _colour(layer) -> tuple[int, int, int]:
    """The colour at the centre of a displayed layer."""
    image = layer.level_for(1.0)[0]
    colour = image.pixelColor(image.width() // 2, image.height() // 2)
    return colour.red(), colour.green(), colour.blue()


def test_animation_plays_in_sync_and_saves_every_frame(qtbot, window, tmp_path):
    src = _gif(tmp_path / "anim.gif")
    assert window.open_paths([src])
    qtbot.waitUntil(window.is_idle, timeout=20000)
    player = window.upscaler.player
    qtbot.waitUntil(lambda: player.frame_count == 3, timeout=5000)
    assert player.is_playing() and player.bar.isVisible()
    assert player.durations == DURATIONS

    assert window.picker.set_model_id("bicubic") and window.picker.set_scale(2)
    reports: list[ProgressInfo] = []
    window.queue.jobProgress.connect(lambda _job, info: reports.append(info))
    assert window.start_upscale() is not None
    qtbot.waitUntil(lambda: isinstance(window.session.result, AnimatedResult), timeout=30000)
    result = window.session.result
    scale = 2
    assert result.frames == 3 and result.image.width == 80
    assert {info.extra.get("frame") for info in reports} == {1, 2, 3}  # progress per frame
    assert player.is_synced()

    # both sides show the same frame at every tick, across a whole loop
    content = window.compare._content
    seen = []
    for _ in range(4):
        index = player.index
        qtbot.waitUntil(lambda i=index: player.index != i, timeout=2000)
        assert content.original is player.before[player.index]
        assert content.result is player.after[player.index]
        before, after = _colour(content.original), _colour(content.result)
        assert before == COLOURS[player.index] and after == COLOURS[player.index]
        seen.append(player.index)
    assert len(set(seen)) == 3  # every frame came round

    player.toggle()
    assert not player.is_playing()
    paused_at = player.index
    qtbot.wait(300)
    assert player.index == paused_at
    assert window.play_action.shortcut().toString() == "K"  # View ▸ Play / pause animation
    assert window.play_action.isEnabled()
    window.play_action.trigger()
    assert player.is_playing()
    window.play_action.trigger()
    assert not player.is_playing()

    out = tmp_path / "out.gif"
    assert window.save_result(out, SaveOptions(format="gif")) == out
    saved = read_animation(out)
    assert len(saved.frames) == 3 and (saved.width, saved.height) == (40 * scale, 30 * scale)
    assert saved.durations == DURATIONS
    assert [tuple(int(v) for v in f.pixels[5, 5, :3]) for f in saved.frames] == COLOURS
    # a format without frames is refused in the message bar, nothing written
    assert window.save_result(tmp_path / "out.jpg", SaveOptions(format="jpg")) is None
    assert "cannot hold the 3 frames" in window.last_error and not (tmp_path / "out.jpg").exists()
    # a save that works next clears that message (it stayed beside "Saved …")
    assert window.save_result(tmp_path / "out.png", SaveOptions(format="png")) == tmp_path / "out.png"
    assert "cannot hold" not in window.message_bar.text()


def test_opening_a_still_image_stops_and_hides_the_player(qtbot, window, tmp_path):
    assert window.open_paths([_gif(tmp_path / "anim.gif")])
    qtbot.waitUntil(lambda: window.upscaler.player.frame_count == 3, timeout=20000)
    still = tmp_path / "still.png"
    PILImage.fromarray(np.zeros((20, 30, 3), np.uint8)).save(still)
    assert window.open_paths([still])
    qtbot.waitUntil(lambda: window.session.image is not None and window.session.image.width == 30, timeout=20000)
    player = window.upscaler.player
    assert player.frame_count == 0 and not player.is_playing() and not player.bar.isVisible()
    assert not window.play_action.isEnabled()  # the menu does not offer it for a still
    window.play_action.trigger()  # K on a still image does nothing
    assert not player.is_playing()


def test_a_region_of_an_animation_keeps_the_after_side_on_its_first_frame(qtbot, window, tmp_path):
    """The region is enhanced on frame 1; playing on, the after side showed the playing frame
    around the region and frame 1 in it (two moments at once). It stays frame 1 there while
    the before side plays, and follows the frames again once the region is gone."""
    assert window.open_paths([_gif(tmp_path / "anim.gif")])
    player = window.upscaler.player
    qtbot.waitUntil(lambda: player.frame_count == 3 and window.is_idle(), timeout=20000)
    assert window.picker.set_model_id("bicubic") and window.picker.set_scale(2)
    window.enhance_region((10, 5, 12, 10))
    qtbot.waitUntil(lambda: window.session.region_result is not None and window.is_idle(), timeout=30000)
    content = window.compare._content
    window.play_action.trigger()
    qtbot.waitUntil(lambda: player.index == 2, timeout=3000)
    assert _colour(content.original) == COLOURS[2]
    assert content.patch_base is player.before[0] and _colour(content.patch_base) == COLOURS[0]
    window.compare.set_split(0.0)  # the after side over the whole view
    image = window.compare.grab().toImage()
    for x, y in ((3.5, 3.5), (15.5, 9.5)):  # outside the region, inside it
        point = window.compare.map_image_to_widget(QPointF(x, y))
        colour = image.pixelColor(int(point.x() * image.devicePixelRatio()),
                                  int(point.y() * image.devicePixelRatio()))
        assert (colour.red(), colour.green(), colour.blue()) == COLOURS[0]
    window.compare.drop_region_results()
    assert content.patch_base is None


def test_frame_timing_and_progress_text():
    # 10 ms or less as browsers show it (a 10 ms frame was shown for 20 ms)
    assert [frame_ms(d) for d in (0, 5, 10, 11, 17, 70)] == [100, 100, 100, 20, 20, 70]
    info = ProgressInfo(done=1500, total=3000, elapsed=1.0, eta=1.0, stage="upscale",
                        extra={"frame": 2, "frames": 3})
    assert progress_text(info, 1.0).startswith("frame 2/3 · ")


def test_the_animation_job_cancels_and_runs_per_image_models_on_every_frame(tmp_path):
    from sr_desktop.app.animation_jobs import AnimationJob, run_animation_job
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.options import UpscaleOptions
    from sr_desktop.engine.core.progress import CancelToken

    anim = read_animation(_gif(tmp_path / "a.gif"))
    token = CancelToken()
    seen = []

    def cancel_in_frame_2(info):
        seen.append(info.extra["frame"])
        if info.extra["frame"] == 2:
            token.cancel()

    job = AnimationJob(anim.frames[0], UpscaleOptions(model="bicubic", scale=2), animation=anim)
    with pytest.raises(Cancelled):
        run_animation_job(job, cancel_in_frame_2, token)
    assert max(seen) == 2
    # a per-image model works on each frame in turn, as `sr-desktop upscale` does (the window
    # refused it: "map-sr trains on one image … not the 3 frames of an animation")
    map_sr = AnimationJob(anim.frames[0], UpscaleOptions(model="map-sr", scale=2), animation=anim)
    result = run_animation_job(map_sr, lambda info: None, CancelToken())
    assert [frame.pixels.shape for frame in result.animation.frames] == [(60, 80, 3)] * 3


def test_a_kernel_upscale_of_an_animation_runs_every_frame_not_the_first_alone(qtbot, window, tmp_path):
    """The Blur kernel panel's ZSSR / MAP-SR actions on an animation: every frame, with the
    panel's kernel (they were refused; before that, the first frame alone was upscaled)."""
    assert window.open_paths([_gif(tmp_path / "anim.gif")])
    qtbot.waitUntil(lambda: window.upscaler.player.frame_count == 3, timeout=20000)
    kernel = np.zeros((13, 13), np.float32)
    kernel[6, 6] = 1.0
    assert window.kernel_tools.upscale_with_kernel(kernel, 2, model="map-sr") is not None
    qtbot.waitUntil(lambda: isinstance(window.session.result, AnimatedResult), timeout=60000)
    frames = window.session.result.animation.frames
    assert len(frames) == 3 and frames[0].pixels.shape == (60, 80, 3)


def test_save_as_suggests_the_animation_s_own_format_until_another_is_chosen(qtbot, window, tmp_path):
    """PNG, the stills' default, was suggested for an animated GIF: an APNG, which many
    programs show as a still. The source's format until an animation is saved in another."""
    window.settings.set("still_format", "png")  # a still was saved as PNG before
    src = _gif(tmp_path / "anim.gif")
    assert window.open_paths([src])
    qtbot.waitUntil(window.is_idle, timeout=20000)
    assert window.picker.set_model_id("bicubic") and window.picker.set_scale(2)
    assert window.start_upscale() is not None
    qtbot.waitUntil(lambda: isinstance(window.session.result, AnimatedResult), timeout=30000)
    assert window.saver.suggested_result_path().suffix == ".gif"
    assert window.saver.save_result(tmp_path / "out.webp", SaveOptions(format="webp", quality=100)) is not None
    assert window.saver.suggested_result_path().suffix == ".webp"  # an animation saved as WebP
    assert window.settings.get("still_format") == "png"  # the stills' choice untouched


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF")
def test_save_as_suggests_webp_for_an_animated_avif(qtbot, window, tmp_path):
    """AVIF is read, not written: an animated one's suggestion was a GIF, 256 dithered colours."""
    frames = [PILImage.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)) for i in range(3)]
    frames[0].save(tmp_path / "anim.avif", save_all=True, append_images=frames[1:], duration=100)
    assert window.open_paths([tmp_path / "anim.avif"])
    qtbot.waitUntil(window.is_idle, timeout=20000)
    assert window.picker.set_model_id("bicubic") and window.picker.set_scale(2)
    assert window.start_upscale() is not None
    qtbot.waitUntil(lambda: isinstance(window.session.result, AnimatedResult), timeout=30000)
    assert window.saver.suggested_result_path().suffix == ".webp"
