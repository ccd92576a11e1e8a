"""A network that blows up (SPAN on line art reached −304..257 for an image in 0..1) is said
so: clipping turned its output into coloured noise, written and reported as a success."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.pipeline.blown_output import HIGH, LOW, blown_up_note
from sr_desktop.engine.pipeline.upscale import upscale_image


class Amplifier(SRModel):
    """Nearest ×2, then each value v mapped to `gain`·(v − 0.5) + 0.5: a gain of 3.5 overshoots
    as a sharpening network does at hard edges (−1.25..2.25), one of 2000 blows up."""

    def __init__(self, gain: float):
        super().__init__()
        self.id, self.scale, self.context, self.gain = f"amp{gain:g}", 2, 2, gain

    def run(self, x):
        y = torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        return (y - 0.5) * self.gain + 0.5


class HostAmplifier(Amplifier):
    """`Amplifier` on numpy patches (the OpenVINO and ncnn path, `upscale_patch`)."""

    def upscale_patch(self, patch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)))[None]
        return self.run(x)[0].numpy().transpose(1, 2, 0)


def half_flat_half_checker(height: int = 48, width: int = 64) -> Image:
    """Mid grey on the left three quarters (stays in range whatever the gain), a black/white
    checker on the right quarter."""
    pixels = np.full((height, width, 3), 128, np.uint8)
    yy, xx = np.mgrid[0:height, 0 : width // 4]
    pixels[:, 3 * width // 4 :] = (((yy + xx) % 2) * 255)[..., None]
    return Image(pixels)


@pytest.mark.parametrize("model_type", [Amplifier, HostAmplifier])
@pytest.mark.parametrize("tile", [0, 16])
def test_the_share_of_blown_up_pixels_is_measured_tile_by_tile(model_type, tile):
    image = half_flat_half_checker()
    blown = upscale_image(image, UpscaleOptions(tile=tile), model=model_type(2000.0))
    assert blown.blown_fraction == pytest.approx(0.25)
    (note,) = blown.warnings
    assert note.startswith("amp2000 blew up on 25 % of the result's pixels")
    assert note.endswith("try realesrgan-x4plus-anime, realesr-animevideov3 or nearest")
    # an overshoot that clipping only sharpens is no blow-up (the PSNR models' −2.2..3.6)
    sharp = upscale_image(image, UpscaleOptions(tile=tile), model=model_type(3.5))
    assert sharp.blown_fraction == 0.0 and sharp.warnings == []


def test_the_bounds_and_the_threshold():
    assert LOW < -2.2 and HIGH > 3.6  # above every well-behaved model measured (blown_output's docstring)
    assert blown_up_note("span", 0.00009) is None
    assert "under 1 %" in blown_up_note("span", 0.0001)
    names = {"span": "SPAN", "nearest": "Nearest neighbour"}
    assert blown_up_note("nearest", 0.5, name_of=lambda m: names.get(m, m)).endswith(
        "try realesrgan-x4plus-anime or realesr-animevideov3")  # (not itself)
    assert blown_up_note("span", 0.5, name_of=lambda m: names.get(m, m)).startswith("SPAN blew up on 50 %")


def checker_png(path, side: int = 16):
    yy, xx = np.mgrid[0:side, 0:side]
    PILImage.fromarray((((yy + xx) % 2) * 255).astype(np.uint8)[..., None].repeat(3, axis=2)).save(path)
    return path


def test_upscale_and_batch_say_that_span_blew_up_on_pixel_art(tmp_path, capsys):
    """The artist's case: the default model on a pixel-art checker (measured: every pixel
    of SPAN ×2 out of range, up to ±3,466)."""
    from sr_desktop.cli.main import main

    src = tmp_path / "in"
    src.mkdir()
    checker_png(src / "checker.png")
    rc = main(["upscale", str(src / "checker.png"), "-o", str(tmp_path / "one.png"), "--model", "span",
               "--scale", "2", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0 and "sr-desktop: warning: checker.png: span blew up on 100 % of the result's pixels" in err
    rc = main(["batch", str(src), str(tmp_path / "out"), "--model", "span", "--scale", "2",
               "--report", str(tmp_path / "report.json"), "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 0 and "sr-desktop: warning: checker.png: span blew up on 100 %" in err  # (by its input, as upscale)
    (record,) = json.loads((tmp_path / "report.json").read_text())["files"]
    assert record["status"] == "ok" and record["warning"].startswith("span blew up on 100 %")
    # a photo-like image: nothing said
    rc = main(["upscale", str(src / "checker.png"), "-o", str(tmp_path / "near.png"), "--model", "nearest",
               "--scale", "2"])
    assert rc == 0 and "warning" not in capsys.readouterr().err
