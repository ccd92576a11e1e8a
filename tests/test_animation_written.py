"""Animations as written back and as counted: the frames a viewer shows of the written file
are the frames read (whatever the source's disposals), durations, the lossless WebP, the
notes, the .apng name and the batch report (the animated-images review's findings)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.imageio import Image, SaveOptions, lossy_changes
from sr_desktop.engine.imageio.animation import Animation, read_animation, write_animation
from sr_desktop.engine.imageio.read import webp_is_lossless

BLUE, MAGENTA, YELLOW = (20, 40, 200), (230, 20, 210), (250, 240, 10)


def _sprite_and_bar(n: int = 4) -> list[np.ndarray]:
    """An opaque canvas with a sprite that stays and a bar that moves."""
    frames = []
    for i in range(n):
        pixels = np.full((12, 16, 3), BLUE, np.uint8)
        pixels[2:5, 2:5] = MAGENTA
        pixels[8:10, 2 * i % 14:2 * i % 14 + 2] = YELLOW  # (every frame unlike the last)
        frames.append(pixels)
    return frames


@pytest.mark.parametrize("suffix", [".gif", ".png", ".webp"])
def test_frames_disposed_to_previous_are_written_as_they_are_shown(tmp_path, suffix):
    """A GIF redrawing a sprite with "restore to previous": written back with that disposal,
    the sprite was gone from frames 2-4 of the GIF (3-4 of the APNG) in every viewer."""
    pixels = _sprite_and_bar()
    animation = Animation([Image(p) for p in pixels], [80] * 4, 0, ["previous"] * 4, "GIF")
    written = read_animation(write_animation(animation, tmp_path / f"out{suffix}", SaveOptions(quality=100)))
    assert len(written.frames) == 4
    for k, (frame, expected) in enumerate(zip(written.frames, pixels, strict=True)):
        assert np.array_equal(frame.pixels[:, :, :3], expected), f"frame {k}"


@pytest.mark.parametrize("suffix", [".gif", ".png"])
def test_a_frame_turning_transparent_stays_a_frame(tmp_path, suffix):
    """An icon for 300 ms, then nothing for 300 ms, disposed to background: the APNG writer
    merged the empty frame into the icon's (a blinking icon became a still PNG)."""
    icon = np.zeros((10, 10, 4), np.uint8)
    icon[3:7, 3:7] = (*MAGENTA, 255)
    blank = np.zeros((10, 10, 4), np.uint8)
    animation = Animation([Image(icon), Image(blank)], [300, 300], 0, ["background"] * 2, "GIF")
    written = read_animation(write_animation(animation, tmp_path / f"blink{suffix}"))
    assert written.durations == [300, 300]
    assert np.array_equal(written.frames[0].pixels, icon)
    assert (written.frames[1].pixels[:, :, 3] == 0).all()


def _gif_without_its_first_frame(path: Path) -> Path:
    """A GIF whose first frame covers only the top-left quarter of its screen, and whose next
    covers the bottom-right one, nothing transparent: three frames saved by Pillow (the later
    two cut to what changed), the first cut out of the file."""
    palette = [*BLUE, *MAGENTA, *YELLOW] + [0] * 759
    indices = np.zeros((8, 8), np.uint8)
    frames = []
    for corner in (None, (slice(0, 4), slice(0, 4)), (slice(4, 8), slice(4, 8))):
        if corner is not None:
            indices[corner] = len(frames)
        frame = PILImage.fromarray(indices.copy(), "P")
        frame.putpalette(palette)
        frames.append(frame)
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=100, disposal=1, optimize=False)
    data = path.read_bytes()
    first = data.index(b"\x21\xf9\x04")
    second = data.index(b"\x21\xf9\x04", first + 1)
    path.write_bytes(data[:first] + data[second:])
    return path


def test_a_gif_starts_on_a_clear_canvas_as_viewers_show_it(tmp_path):
    """A first frame smaller than the screen, nothing transparent: the rest of the screen was
    read as opaque black, where viewers show it clear."""
    src = _gif_without_its_first_frame(tmp_path / "corner.gif")
    with PILImage.open(src) as im:  # the file is as described
        assert im.n_frames == 2 and im.tile[0].extents == (0, 0, 4, 4)
    first, second = (f.pixels for f in read_animation(src).frames)
    assert first.shape == (8, 8, 4)
    assert (first[:4, :4] == (*MAGENTA, 255)).all() and (first[4:, :, 3] == 0).all() and (first[:, 4:, 3] == 0).all()
    assert (second[:4, :4] == (*MAGENTA, 255)).all() and (second[4:, 4:] == (*YELLOW, 255)).all()
    assert (second[:4, 4:, 3] == 0).all() and (second[4:, :4, 3] == 0).all()


def test_gif_durations_are_rounded_to_its_hundredths_not_cut_down(tmp_path):
    """A 60 fps APNG's 17 ms frames became 10 ms in a GIF (shown for 100 ms by browsers)."""
    durations = [17, 33, 4, 0, 45, 11, 14, 10]
    pixels = _sprite_and_bar(len(durations))
    animation = Animation([Image(p) for p in pixels], durations, 0, ["none"] * len(durations), "PNG")
    written = read_animation(write_animation(animation, tmp_path / "fast.gif"))
    # (over 10 ms never 10: browsers, and the window, show 10 ms for 100)
    assert written.durations == [20, 30, 10, 0, 50, 20, 20, 10]


def test_the_gif_note_looks_at_every_frame_not_the_first_only():
    opaque = np.full((6, 6, 4), 255, np.uint8)
    fading = opaque.copy()
    fading[:, :, 3] = 128
    animation = Animation([Image(opaque), Image(fading)], [100, 100], 0, ["none"] * 2, "PNG")
    assert lossy_changes(animation, "gif") == ["partial transparency made all or nothing"]
    assert lossy_changes(animation, "png") == []
    assert lossy_changes(Animation([Image(opaque), Image(opaque)], [100, 100], 0, ["none"] * 2, "PNG"), "gif") == []


def _webp(path: Path, lossless: bool) -> Path:
    first, *rest = (PILImage.fromarray(p) for p in _sprite_and_bar())
    first.save(path, "WEBP", save_all=True, append_images=rest, duration=80, lossless=lossless, quality=80)
    return path


def test_a_lossless_animated_webp_is_written_back_lossless(tmp_path):
    """Its frames' chunks were not looked into: it was read as lossy, and written lossy
    (the window's Lossless box unticked)."""
    lossless, lossy = _webp(tmp_path / "lossless.webp", True), _webp(tmp_path / "lossy.webp", False)
    assert webp_is_lossless(lossless.read_bytes()) and not webp_is_lossless(lossy.read_bytes())
    animation = read_animation(lossless)
    assert all(frame.info.get("webp_lossless") for frame in animation.frames)
    assert not read_animation(lossy).frames[0].info.get("webp_lossless")
    assert main(["upscale", str(lossless), "-o", str(tmp_path / "x2.webp"), "--model", "nearest", "--scale", "2",
                 "-q"]) == 0
    assert webp_is_lossless((tmp_path / "x2.webp").read_bytes())
    upscaled = read_animation(tmp_path / "x2.webp")
    assert np.array_equal(upscaled.frames[2].pixels, np.repeat(np.repeat(_sprite_and_bar()[2], 2, 0), 2, 1))


def test_apng_files_are_images_to_batch_and_upscale_and_the_report_counts_frames(tmp_path, capsys):
    """batch skipped clip.apng as "not an image", `upscale -o x.apng` was refused, and the
    report counted an animation's first frame only in its megapixels."""
    src = tmp_path / "in"
    src.mkdir()
    first, *rest = (PILImage.fromarray(p) for p in _sprite_and_bar(3))
    first.save(src / "clip.apng", "PNG", save_all=True, append_images=rest, duration=80)
    PILImage.fromarray(_sprite_and_bar(1)[0]).save(src / "still.png")
    report = tmp_path / "report.json"
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "nearest", "--scale", "2", "--report",
                 str(report), "--no-progress"]) == 0
    assert "2 upscaled" in capsys.readouterr().out
    data = json.loads(report.read_text())
    entries = {Path(entry["input"]).name: entry for entry in data["files"]}
    assert entries["clip.apng"]["status"] == "ok" and entries["clip.apng"]["frames"] == 3
    assert "frames" not in entries["still.png"]
    assert data["totals"]["input_megapixels"] == pytest.approx(16 * 12 * 4 / 1e6, abs=1e-4)
    assert len(read_animation(entries["clip.apng"]["output"]).frames) == 3
    assert main(["batch", str(src), str(tmp_path / "out2"), "--model", "nearest", "--scale", "2", "--report",
                 str(tmp_path / "report.csv"), "--no-progress"]) == 0
    rows = {Path(row["input"]).name: row for row in csv.DictReader((tmp_path / "report.csv").open())}
    assert rows["clip.apng"]["frames"] == "3" and rows["still.png"]["frames"] == ""

    assert main(["upscale", str(src / "clip.apng"), "-o", str(tmp_path / "big.apng"), "--model", "nearest",
                 "--scale", "2", "-q"]) == 0
    assert len(read_animation(tmp_path / "big.apng").frames) == 3


def test_opaque_black_along_a_frames_edge_stays_opaque_in_a_gif(tmp_path):
    """After a frame with transparency, Pillow crops the next to where it differs from the
    transparent entry's colour drawn opaque: black, so a later frame's black rows along its
    edge were cut off and came out transparent."""
    first = np.zeros((12, 12, 4), np.uint8)
    first[4:8, 4:8] = (*MAGENTA, 255)
    second = np.zeros((12, 12, 4), np.uint8)
    second[0:3, :] = (0, 0, 0, 255)
    second[5:9, 5:9] = (*MAGENTA, 255)
    animation = Animation([Image(first), Image(second)], [100, 100], 0, ["none"] * 2, "PNG")
    written = read_animation(write_animation(animation, tmp_path / "edge.gif"))
    for frame, expected in zip(written.frames, (first, second), strict=True):
        shown = expected[:, :, 3] > 0
        assert np.array_equal(frame.pixels[:, :, 3], expected[:, :, 3])
        assert np.array_equal(frame.pixels[shown], expected[shown])


def test_the_notes_read_each_tiff_page_in_its_own_mode():
    """Pages RGB, RGBA and grey: the first page's channel count was applied to every page, an
    RGB page's blue read as alpha ("transparency flattened onto white" for none)."""
    rgb = np.full((6, 6, 3), (10, 200, 30), np.uint8)
    grey = np.full((6, 6, 1), 90, np.uint8)
    pages = Animation([Image(rgb), Image(grey)], [], 0, [], "TIFF")
    assert lossy_changes(pages, "jpg") == [] and lossy_changes(pages, "gif") == []
    clear = np.zeros((6, 6, 4), np.uint8)
    with_alpha = Animation([Image(rgb), Image(clear), Image(grey)], [], 0, [], "TIFF")
    assert lossy_changes(with_alpha, "jpg") == ["transparency flattened onto white"]
