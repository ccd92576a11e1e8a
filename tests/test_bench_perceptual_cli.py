"""`sr-desktop bench --lpips/--dists/--vgg16/--pi` end to end on a tiny generated dataset,
with random weight files in the layouts of the real ones."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.metrics.perceptual import load_perceptual
from tests import test_bench_cli
from tests.perceptual_weights import random_dists_state, random_lpips_state, random_vgg16_state

#: the two-image folder of the bench tests (a pytest fixture)
dataset = test_bench_cli.dataset


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    files = {"vgg16": folder / "vgg16-397923af.pth", "lpips": folder / "vgg.pth", "dists": folder / "weights.pt"}
    torch.save(random_vgg16_state(), files["vgg16"])
    torch.save(random_lpips_state(), files["lpips"])
    torch.save(random_dists_state(), files["dists"])
    return files


def perceptual_args(weights):
    return ["--lpips", str(weights["lpips"]), "--dists", str(weights["dists"]), "--vgg16", str(weights["vgg16"])]


def test_bench_scores_lpips_and_dists_per_image_and_per_model(dataset, weights, tmp_path, capsys):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--device", "cpu", "--quiet",
               "--json", str(out_json), "--csv", str(out_csv), *perceptual_args(weights)])
    assert rc == 0
    table = capsys.readouterr().out
    assert "LPIPS" in table and "DISTS" in table

    data = json.loads(out_json.read_text())
    assert set(data["protocol"]["perceptual"]) == {"lpips", "dists"}
    model = data["models"][0]
    for name in ("lpips", "dists"):
        per_image = [item[name] for item in model["images"]]
        assert all(0 < v < 1 for v in per_image), per_image
        assert model[name] == pytest.approx(np.mean(per_image))

    # the grey image, recomputed by hand: MATLAB bicubic down and up, compared as three equal channels
    hr = np.asarray(PILImage.open(dataset / "b_gray.png"))[:, :, None]
    sr = imresize(imresize(hr, 0.5), 2)
    lpips_metric, dists_metric = load_perceptual(weights["lpips"], weights["dists"], weights["vgg16"])
    assert model["images"][1]["lpips"] == pytest.approx(lpips_metric.distance(sr, hr), abs=1e-9)
    assert model["images"][1]["dists"] == pytest.approx(dists_metric.distance(sr, hr), abs=1e-9)

    rows = list(csv.DictReader(out_csv.open()))
    assert list(rows[0])[-4:] == ["niqe", "lpips", "dists", "scale_route"]
    assert [r["image"] for r in rows] == ["a_rgb", "b_gray", "MEAN"]
    assert float(rows[2]["lpips"]) == pytest.approx(model["lpips"], abs=1e-6)


def test_without_the_flags_nothing_changes(dataset, tmp_path, capsys):
    out_json, out_csv = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--quiet", "--no-niqe",
                 "--json", str(out_json), "--csv", str(out_csv)]) == 0
    assert "LPIPS" not in capsys.readouterr().out
    data = json.loads(out_json.read_text())
    assert "perceptual" not in data["protocol"]
    assert not {"lpips", "dists"} & (set(data["models"][0]) | set(data["models"][0]["images"][0]))
    header = out_csv.read_text().splitlines()[0]
    assert header == "dataset,scale,degradation,model,image,psnr_y,ssim_y,psnr_rgb,seconds,niqe,scale_route"


def run_failing(argv, capsys):
    rc = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


def test_a_wrong_or_missing_file_stops_before_any_model_runs(dataset, weights, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    base = ["bench", "--dataset", str(dataset), "--scale", "2", "--json", str(out_json)]  # no --quiet
    line = run_failing([*base, "--lpips", str(tmp_path / "missing.pth"), "--vgg16", str(weights["vgg16"])], capsys)
    assert line == f"sr-desktop: error: LPIPS weights not found: {tmp_path / 'missing.pth'}"

    # the DISTS file given for LPIPS
    line = run_failing([*base, "--lpips", str(weights["dists"]), "--vgg16", str(weights["vgg16"])], capsys)
    assert "weights.pt is not the lpips package's weights/v0.1/vgg.pth" in line

    # the LPIPS file given for VGG16
    line = run_failing([*base, "--dists", str(weights["dists"]), "--vgg16", str(weights["lpips"])], capsys)
    assert "vgg.pth is not torchvision's ImageNet VGG16" in line

    line = run_failing([*base, "--vgg16", str(weights["vgg16"])], capsys)
    assert "only used by LPIPS and DISTS" in line
    assert not out_json.exists()  # and no progress line: no model ran (run_failing: one stderr line)


def test_pi_is_refused_with_the_reason(dataset, capsys):
    line = run_failing(["bench", "--dataset", str(dataset), "--scale", "2", "--pi"], capsys)
    assert "PI" in line and "Ma et al." in line and "NIQE" in line
