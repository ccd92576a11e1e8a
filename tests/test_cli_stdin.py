"""`sr-desktop upscale - -o OUT`: the image piped into standard input, upscaled as its file
would be (pixels, metadata, frames); what cannot be read from there is one line."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_desktop.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


class _Stdin(io.TextIOWrapper):
    """Standard input holding `data` (or a terminal, with `tty`)."""

    def __init__(self, data: bytes, tty: bool = False):
        super().__init__(io.BytesIO(data))
        self.tty = tty
        self.buffer.isatty = lambda: self.tty  # type: ignore[method-assign]


def _photo(path: Path) -> Path:
    rng = np.random.default_rng(1)
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"  # Make
    exif[0x0112] = 6  # orientation: rotated, applied to the pixels
    Image.fromarray(rng.integers(0, 256, (18, 24, 3), dtype=np.uint8)).save(path, exif=exif, quality=92)
    return path


def test_a_piped_image_is_upscaled_as_its_file_is(tmp_path, monkeypatch, capsys):
    photo = _photo(tmp_path / "photo.jpg")
    assert main(["upscale", str(photo), "-o", str(tmp_path / "from_file.jpg"), "--model", "bicubic"]) == 0
    monkeypatch.setattr(sys, "stdin", _Stdin(photo.read_bytes()))
    assert main(["upscale", "-", "-o", str(tmp_path / "from_pipe.jpg"), "--model", "bicubic"]) == 0
    assert (tmp_path / "from_pipe.jpg").read_bytes() == (tmp_path / "from_file.jpg").read_bytes()
    with Image.open(tmp_path / "from_pipe.jpg") as out:
        assert out.size == (72, 96) and out.getexif()[0x010F] == "Camera Maker"  # upright, EXIF kept
    assert f"standard input -> {tmp_path / 'from_pipe.jpg'}  (18×24 -> 72×96" in capsys.readouterr().out


def test_a_piped_animation_keeps_its_frames_and_a_region_takes_a_still(tmp_path, monkeypatch):
    frames = [Image.new("RGB", (10, 8), colour) for colour in ("red", "green", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=[50, 60, 70], loop=0)
    monkeypatch.setattr(sys, "stdin", _Stdin(buffer.getvalue()))
    assert main(["upscale", "-", "-o", str(tmp_path / "anim.gif"), "--model", "bicubic", "--scale", "2", "-q"]) == 0
    with Image.open(tmp_path / "anim.gif") as out:
        assert (out.n_frames, out.size) == (3, (20, 16))
    still = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(still, "PNG")
    monkeypatch.setattr(sys, "stdin", _Stdin(still.getvalue()))
    assert main(["upscale", "-", "-o", str(tmp_path / "region.png"), "--model", "bicubic", "--scale", "2",
                 "--region", "2,2,6,4", "-q"]) == 0
    assert Image.open(tmp_path / "region.png").size == (12, 8)


def test_standard_input_to_standard_output_in_a_pipeline(tmp_path):
    photo = _photo(tmp_path / "photo.jpg")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "sr_desktop", "upscale", "-", "-o", "-", "--format", "png",
                          "--model", "bicubic", "--scale", "2"], input=photo.read_bytes(), capture_output=True,
                         env=env, timeout=240)
    assert run.returncode == 0, run.stderr
    with Image.open(io.BytesIO(run.stdout)) as out:
        assert out.format == "PNG" and out.size == (36, 48)
    assert b"standard input -> /dev/stdout" in run.stderr


@pytest.mark.parametrize(("data", "tty", "args", "status", "message"), [
    (b"", False, [], 2, "standard input is empty: pipe an image into it"),
    (b"", True, [], 2, "- names standard input, which is a terminal: pipe an image into it"),
    (b"not an image", False, [], 1, "cannot read standard input: not an image file"),
    (b"x", False, ["other.png"], 2, "- (standard input) is one image: give it as the only INPUT"),
])
def test_what_cannot_be_read_from_standard_input_is_one_line(tmp_path, monkeypatch, capsys, data, tty, args,
                                                             status, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", _Stdin(data, tty))
    assert main(["upscale", "-", *args, "-o", "out.png", "--model", "bicubic", "-q"]) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out.png").exists()


def test_a_folder_is_no_output_for_standard_input(tmp_path, monkeypatch, capsys):
    """It has no name to keep there: "-.png" was written."""
    monkeypatch.setattr(sys, "stdin", _Stdin(b"x"))
    assert main(["upscale", "-", "-o", str(tmp_path), "--model", "bicubic"]) == 2
    assert "no name to keep there: name the output file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
