"""`sr-desktop metrics RESULT [--input LR] [--reference HR] [--maps DIR]`: the Metrics panel's
numbers and maps of an upscale, as the panel and the bench compute them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sr_desktop.app.metrics_jobs import no_reference_numbers
from sr_desktop.cli.main import main


def _textured(path, size, seed=0):
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(xx / 3.0 + seed) * np.cos(yy / 5.0)
    pixels = np.clip(base[..., None] + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_the_numbers_are_the_panels_and_the_benchs(tmp_path, capsys):
    hr = _textured(tmp_path / "hr.png", (96, 120))
    dataset = tmp_path / "set"
    dataset.mkdir()
    (dataset / "hr.png").write_bytes(hr.read_bytes())
    saved = tmp_path / "sr"
    assert main(["bench", "--dataset", str(dataset), "--model", "fsrcnn", "--scale", "2", "--save-sr", str(saved),
                 "--json", str(tmp_path / "b.json"), "-q", "--no-niqe"]) == 0
    bench = json.loads((tmp_path / "b.json").read_text())["models"][0]["images"][0]
    sr = saved / "fsrcnn" / "hr.png"
    lr = tmp_path / "lr.png"
    Image.open(hr).resize((60, 48), Image.BICUBIC).save(lr)
    capsys.readouterr()
    assert main(["metrics", str(sr), "--input", str(lr), "--reference", str(hr), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    # against the ground truth: the bench's own numbers for the same SR image (2 px shaved)
    assert record["reference_scores"]["psnr_y"] == pytest.approx(bench["psnr_y"], abs=1e-9)
    assert record["reference_scores"]["ssim_y"] == pytest.approx(bench["ssim_y"], abs=1e-9)
    assert record["reference_scores"]["shave"] == 2 and record["scale"] == 2
    # no reference: the panel's numbers
    panel = no_reference_numbers(np.asarray(Image.open(lr)), np.asarray(Image.open(sr)), 2)
    assert record["consistency"] == panel.consistency.to_json()
    assert record["sharpness"] == panel.result_sharpness.to_json() and record["niqe"] is None
    assert record["input_sharpness"] == panel.input_sharpness.to_json()


def test_the_maps_are_written_and_kept_unless_overwrite(tmp_path, capsys):
    lr = _textured(tmp_path / "lr.png", (40, 48))
    sr = tmp_path / "sr.png"
    assert main(["upscale", str(lr), "-o", str(sr), "--model", "bicubic", "--scale", "2", "-q"]) == 0
    maps = tmp_path / "maps"
    assert main(["metrics", str(sr), "--input", str(lr), "--maps", str(maps)]) == 0
    out = capsys.readouterr().out
    assert "consistency with the input (×2" in out and "maps: " in out
    assert sorted(p.name for p in maps.iterdir()) == ["difference.png", "gradient.png", "ssim.png"]
    assert Image.open(maps / "ssim.png").size == (96, 80)
    assert main(["metrics", str(sr), "--maps", str(maps)]) == 2
    assert "difference.png exists (use --overwrite to replace the maps)" in capsys.readouterr().err
    assert main(["metrics", str(sr), "--maps", str(maps), "--overwrite"]) == 0
    only = tmp_path / "only"
    assert main(["metrics", str(sr), "--maps", str(only)]) == 0  # no reference, no input: the gradient alone
    assert [p.name for p in only.iterdir()] == ["gradient.png"]


@pytest.mark.parametrize(("extra", "message"), [
    (["--input", "odd.png"], "is not a whole multiple of the input (30×25): give --scale"),
    (["--input", "sr.png"], "is the input's size: not an upscale of it"),
    (["--reference", "odd.png"], "the reference (30×25) is not the result's size (80×96)"),
    (["--input", "missing.png"], "cannot read missing.png: file not found"),
])
def test_what_cannot_be_measured_is_one_line(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    _textured(tmp_path / "sr.png", (96, 80))
    _textured(tmp_path / "odd.png", (25, 30))
    assert main(["metrics", "sr.png", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_region_is_measured_as_the_windows_region_tool_measures_it(tmp_path, capsys):
    from sr_desktop.engine.metrics.evaluate import score_pair

    hr = _textured(tmp_path / "hr.png", (96, 128))
    lr = tmp_path / "lr.png"
    Image.open(hr).resize((64, 48), Image.BICUBIC).save(lr)
    sr = tmp_path / "sr.png"
    assert main(["upscale", str(lr), "-o", str(sr), "--model", "bicubic", "--scale", "2", "-q"]) == 0
    capsys.readouterr()
    assert main(["metrics", str(sr), "--input", str(lr), "--reference", str(hr), "--region", "8,4,40,30",
                 "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    lr_px, sr_px, hr_px = (np.asarray(Image.open(p)) for p in (lr, sr, hr))
    panel = no_reference_numbers(lr_px, sr_px, 2, (8, 4, 40, 30))
    assert record["region"] == [8, 4, 40, 30] and record["consistency"] == panel.consistency.to_json()
    expected = score_pair(sr_px[8:68, 16:96], hr_px[8:68, 16:96], 2)
    assert record["reference_scores"]["psnr_y"] == pytest.approx(expected.psnr_y, abs=1e-9)
    assert main(["metrics", str(sr), "--input", str(lr), "--region", "70,0,10,10"]) == 2
    assert "region 10×10 at (70, 0) is outside the 64×48 image" in capsys.readouterr().err
    assert main(["metrics", str(sr), "--reference", str(lr), "--region", "0,0,10,10"]) == 2
    assert "the reference (64×48) is not the result's size (128×96)" in capsys.readouterr().err


def test_the_maps_never_replace_an_image_measured_and_the_scale_is_checked(tmp_path, capsys):
    sr = _textured(tmp_path / "gradient.png", (64, 64))
    before = sr.read_bytes()
    assert main(["metrics", str(sr), "--maps", str(tmp_path), "--overwrite"]) == 2
    assert "gradient.png there is an image this command measures" in capsys.readouterr().err
    assert sr.read_bytes() == before
    for bad in ("0", "-2"):
        with pytest.raises(SystemExit):
            main(["metrics", str(sr), "--scale", bad])
        assert "--scale" in capsys.readouterr().err
    other = _textured(tmp_path / "other.png", (64, 60))
    assert main(["metrics", str(sr), "--reference", str(other)]) == 2
    assert "the reference (60×64) is not the result's size (64×64)" in capsys.readouterr().err
