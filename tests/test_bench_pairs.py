"""`sr-desktop bench --lr-dataset DIR`: a dataset's own LR images (real pairs), paired by name,
upscaled in place of a degradation's; what cannot pair is one line before any model runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sr_desktop.cli.main import main


def make_nearest_pairs(root, sizes, tag: str = "x2"):
    """HR images that are exactly the nearest-neighbour ×2 of random LR images (saved as
    NAME{tag}.png), some HR one pixel wider or taller than that: the given LR, upscaled by
    `nearest`, reproduces each HR exactly."""
    rng = np.random.default_rng(0)
    (root / "HR").mkdir(parents=True)
    (root / "LR").mkdir()
    for i, (w, h, extra) in enumerate(sizes):
        lr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        hr = np.repeat(np.repeat(lr, 2, axis=0), 2, axis=1)
        hr = np.pad(hr, ((0, extra), (0, extra), (0, 0)), mode="edge")
        Image.fromarray(hr).save(root / "HR" / f"img{i}.png")
        Image.fromarray(lr).save(root / "LR" / f"img{i}{tag}.png")
    return root / "HR", root / "LR"


def test_the_given_lr_images_are_upscaled_and_scored_against_their_hr(tmp_path, capsys):
    hr, lr = make_nearest_pairs(tmp_path, [(24, 20, 0), (20, 24, 1)])
    report = tmp_path / "r.json"
    assert main(["bench", "--dataset", str(hr), "--lr-dataset", str(lr), "--scale", "2", "--model", "nearest",
                 "bicubic", "--json", str(report), "-q", "--no-niqe"]) == 0
    data = json.loads(report.read_text())
    assert data["degradation"] == f"paired:{lr}"
    nearest, bicubic = data["models"]
    # nearest of the given LR is each HR exactly (the odd one cropped to 40×48): no PSNR to average
    assert [image["psnr_y"] for image in nearest["images"]] == [None, None]
    assert [image["hr_size"] for image in nearest["images"]] == [[48, 40], [40, 48]]
    assert all(image["ssim_y"] == pytest.approx(1.0) for image in nearest["images"])
    assert bicubic["psnr_y"] is not None and bicubic["psnr_y"] < 40
    assert f"degradation paired:{lr}" in capsys.readouterr().out
    # the same HR images with the bicubic degradation: nearest is not exact there
    assert main(["bench", "--dataset", str(hr), "--scale", "2", "--model", "nearest", "--json", str(report),
                 "--overwrite", "-q", "--no-niqe"]) == 0
    assert all(image["psnr_y"] is not None for image in json.loads(report.read_text())["models"][0]["images"])


@pytest.mark.parametrize(("tag", "scale"), [("_LR2", 2), ("", 2)])
def test_realsr_names_and_plain_names_pair(tmp_path, capsys, tag, scale):
    hr, lr = make_nearest_pairs(tmp_path, [(16, 16, 0)], tag=tag)
    assert main(["bench", "--dataset", str(hr), "--lr-dataset", str(lr), "--scale", str(scale), "--model",
                 "nearest", "-q", "--no-niqe"]) == 0


def test_what_cannot_pair_is_one_line_before_any_model_runs(tmp_path, capsys, monkeypatch):
    import sr_desktop.engine.metrics.evaluate as evaluate

    hr, lr = make_nearest_pairs(tmp_path, [(16, 16, 0), (16, 16, 0)])
    monkeypatch.setattr(evaluate, "evaluate_dataset", lambda *a, **k: pytest.fail("a model ran"))
    args = ["bench", "--dataset", str(hr), "--scale", "2", "--model", "nearest", "-q"]
    assert main([*args, "--lr-dataset", str(lr), "--degradation", "kernel:k.npy"]) == 2
    assert "--lr-dataset gives the LR images: --degradation kernel:k.npy would make others" in capsys.readouterr().err
    assert main([*args, "--lr-dataset", str(hr)]) == 2
    assert "is the --dataset folder itself" in capsys.readouterr().err
    Image.new("RGB", (32, 32)).save(lr / "img1x2.png")  # upscaled back to the HR's size
    assert main([*args, "--lr-dataset", str(lr)]) == 2
    err = capsys.readouterr().err  # (both files named once: "img1.png: img1.png is" repeated one)
    assert err.startswith("sr-desktop: error: img1.png is 32×32; its LR image img1x2.png is 32×32, not 1/2 of it but "
                          "as large")
    (lr / "img1x2.png").unlink()
    assert main([*args, "--lr-dataset", str(lr)]) == 2
    assert "1 HR image(s) of" in capsys.readouterr().err


def test_a_broken_lr_image_or_folder_is_named_as_the_lr_images(tmp_path, capsys):
    hr, lr = make_nearest_pairs(tmp_path, [(16, 16, 0), (16, 16, 0)])
    (lr / "img1x2.png").write_bytes(b"not an image")
    args = ["bench", "--dataset", str(hr), "--scale", "2", "--model", "nearest", "-q"]
    assert main([*args, "--lr-dataset", str(lr)]) == 2
    assert "img1x2.png in the LR images: not an image file" in capsys.readouterr().err  # (it named img1.png)
    assert main([*args, "--lr-dataset", str(tmp_path / "missing")]) == 2
    assert f"--lr-dataset folder {tmp_path / 'missing'}: not found" in capsys.readouterr().err


def test_one_folder_of_tagged_pairs_is_benchmarked(tmp_path, capsys):
    hr, lr = make_nearest_pairs(tmp_path, [(16, 16, 0)], tag="_LR2")
    (lr / "img0_LR2.png").rename(hr / "img0_LR2.png")
    (hr / "img0.png").rename(hr / "img0_HR.png")
    report = tmp_path / "r.json"
    assert main(["bench", "--dataset", str(hr), "--lr-dataset", str(hr), "--scale", "2", "--model", "nearest",
                 "--json", str(report), "-q", "--no-niqe"]) == 0
    images = json.loads(report.read_text())["models"][0]["images"]
    assert [(image["name"], image["psnr_y"]) for image in images] == [("img0_HR", None)]  # exact


def test_pairing_is_said_once_and_an_lr_image_among_several_errors_is_called_one(tmp_path, caplog):
    import logging

    hr, lr = make_nearest_pairs(tmp_path, [(16, 16, 0), (16, 16, 0), (16, 16, 0)])
    Image.new("RGB", (8, 8)).save(lr / "stray.png")
    with caplog.at_level(logging.WARNING):
        assert main(["bench", "--dataset", str(hr), "--lr-dataset", str(lr), "--scale", "2", "--model", "nearest",
                     "-q", "--no-niqe"]) == 0
    assert sum("have no HR image of the same name" in r.getMessage() for r in caplog.records) == 1
    (lr / "img1x2.png").write_bytes(b"not an image")
    Image.new("RGB", (5, 5)).save(lr / "img2x2.png")
    from sr_desktop.engine.metrics.errors import EvaluationError
    from sr_desktop.engine.metrics.evaluate import evaluate_models

    with pytest.raises(EvaluationError, match=r"2 images of the dataset cannot be measured: img1x2\.png \(an LR "
                                              r"image\): not an image file; img2\.png is 32×32; its LR image"):
        evaluate_models(hr, ["nearest"], 2, lr_dataset=lr)
