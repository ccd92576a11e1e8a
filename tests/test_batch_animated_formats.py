"""`sr-desktop batch --format gif|png|webp|tiff|bmp|jpg` with animated and multi-page inputs:
frame by frame like `upscale`, timing kept, and a per-file refusal where the output format
cannot hold the frames (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.imageio import read_image
from sr_desktop.engine.imageio.animation import read_animation

DURATIONS = [40, 60, 80, 120]


def _frames(n=4, size=(32, 24)):
    """Flat colours and a moving square: exact in a GIF palette."""
    frames = []
    for i in range(n):
        pixels = np.full((size[1], size[0], 3), (40 * i, 200 - 30 * i, 90), np.uint8)
        pixels[4:12, 3 + 5 * i : 11 + 5 * i] = (250, 250, 10)
        frames.append(PILImage.fromarray(pixels))
    return frames


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    src = tmp_path / "in"
    src.mkdir()
    first, *rest = _frames()
    first.save(src / "a.gif", save_all=True, append_images=rest, duration=DURATIONS, loop=2, disposal=2)
    first.save(src / "b.png", save_all=True, append_images=rest, duration=DURATIONS, loop=3)
    first.save(src / "c.webp", save_all=True, append_images=rest, duration=DURATIONS, loop=0, lossless=True)
    first.save(src / "d.tif", save_all=True, append_images=rest[:2])
    _frames(1)[0].save(src / "e.png")
    return src


def _batch(src: Path, out: Path, fmt: str) -> tuple[int, dict[str, dict]]:
    report = out.parent / f"{out.name}.json"
    code = main(["batch", str(src), str(out), "--model", "bicubic", "--scale", "2", "--format", fmt,
                 "--no-progress", "--report", str(report)])
    files = json.loads(report.read_text())["files"]
    return code, {Path(f["input"]).name: f for f in files}


def test_batch_to_gif_keeps_every_frame_and_its_timing(inputs, tmp_path, capsys):
    code, files = _batch(inputs, tmp_path / "gif", "gif")
    err = capsys.readouterr().err
    assert code == 1
    assert {name: f["status"] for name, f in files.items()} == {
        "a.gif": "ok", "b.png": "ok", "c.webp": "ok", "d.tif": "failed", "e.png": "ok"}
    assert "cannot hold the 3 pages" in files["d.tif"]["error"]
    lines = [line for line in err.splitlines() if "d.tif" in line]
    assert len(lines) == 1 and "cannot hold the 3 pages" in lines[0]
    assert not (tmp_path / "gif" / "d_x2_bicubic.gif").exists()
    a = read_animation(tmp_path / "gif" / "a_x2_bicubic.gif")
    assert (len(a.frames), a.width, a.height) == (4, 64, 48)
    # (full canvases, each drawn over the last: the source's disposals described its own frames)
    assert a.durations == DURATIONS and a.plays == 3 and a.disposals == ["none"] * 4
    b = read_animation(tmp_path / "gif" / "b_x2_bicubic.gif")
    assert len(b.frames) == 4 and b.durations == DURATIONS and b.plays == 3
    c = read_animation(tmp_path / "gif" / "c_x2_bicubic.gif")
    assert len(c.frames) == 4 and c.durations == DURATIONS and c.plays == 0
    still = read_image(tmp_path / "gif" / "e_x2_bicubic.gif")
    assert still.pixels.shape[:2] == (48, 64) and still.info.get("frames", 1) == 1


@pytest.mark.parametrize("fmt", ["jpg", "bmp"])
def test_formats_without_frames_refuse_each_animated_file(inputs, tmp_path, capsys, fmt):
    code, files = _batch(inputs, tmp_path / fmt, fmt)
    capsys.readouterr()
    assert code == 1
    for name, count, what in (("a.gif", 4, "frames"), ("b.png", 4, "frames"), ("c.webp", 4, "frames"),
                              ("d.tif", 3, "pages")):
        assert files[name]["status"] == "failed" and f"cannot hold the {count} {what}" in files[name]["error"]
    assert files["e.png"]["status"] == "ok"
    assert sorted(p.name for p in (tmp_path / fmt).iterdir() if not p.name.endswith(".json")) == [
        f"e_x2_bicubic.{fmt}"]


def test_batch_to_tiff_keeps_pages_and_refuses_timed_animations(inputs, tmp_path, capsys):
    code, files = _batch(inputs, tmp_path / "tif", "tiff")
    capsys.readouterr()
    assert code == 1
    assert files["d.tif"]["status"] == "ok"
    pages = read_animation(tmp_path / "tif" / "d_x2_bicubic.tif")
    assert len(pages.frames) == 3 and pages.frames[2].pixels.shape == (48, 64, 3)
    assert all(files[n]["status"] == "failed" for n in ("a.gif", "b.png", "c.webp"))
    assert "cannot hold the 4 frames" in files["a.gif"]["error"]
