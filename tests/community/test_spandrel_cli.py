"""The CLI with spandrel checkpoints: `models add` in a fresh process (spandrel imported
lazily there), then `upscale` and `bench` with the added models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from tests.community.community_nets import NETS, import_spandrel, run_cli, save, spandrel_descriptor

import_spandrel()

from sr_desktop.cli.main import main  # noqa: E402


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """Every tiny network added with `sr-desktop models add --json` in its own process (all
    started together, each with its own home: adds into one home would race on its index),
    then into one shared home in-process: ({name: (file, the printed entry)}, that home)."""
    folder = tmp_path_factory.mktemp("community-cli")
    files = {name: save(name, folder, "safetensors" if name == "omnisr" else "pth") for name in NETS}
    procs = {n: run_cli("models", "add", str(files[n]), "--json", home=folder / f"home-{n}", wait=False)
             for n in NETS}
    entries = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert err.strip() == ""  # no library warnings on the terminal
        entries[name] = (files[name], json.loads(out))
    home = folder / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SR_DESKTOP_HOME", str(home))
        for name, file in files.items():
            assert main(["models", "add", str(file), "--name", name]) == 0
    return entries, home


def test_models_add_records_the_spandrel_family(added):
    entries, _home = added
    for name, (_file, entry) in entries.items():
        _build, scale, arch, purpose, _tiled, grey = NETS[name]
        assert entry["arch"] == arch and entry["scales"] == [scale] and entry["custom"]
        assert entry["source"]["family"] == f"spandrel:{arch}"
        assert entry["source"]["params"]["purpose"] == purpose
        assert entry["license"] == ""  # spandrel's own architectures: permissive


def test_models_lists_them_and_upscale_writes_spandrels_pixels(added, tmp_path, monkeypatch, capsys):
    entries, home = added
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    capsys.readouterr()
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out) if m["custom"]}
    assert sorted(listed) == sorted(NETS)
    for name, (_file, entry) in entries.items():
        assert listed[name]["source"]["family"] == entry["source"]["family"]

    rng = np.random.default_rng(5)
    pixels = rng.integers(40, 215, size=(18, 22, 3), dtype=np.uint8)
    src = tmp_path / "in.png"
    PILImage.fromarray(pixels).save(src)
    file = entries["hat"][0]
    out = tmp_path / "out.png"
    assert main(["upscale", str(src), "-o", str(out), "--model", "custom-hat", "--scale", "2", "--tile", "0"]) == 0
    got = np.asarray(PILImage.open(out)).astype(np.int16)
    x = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None]
    ref = spandrel_descriptor(file)(x)[0].permute(1, 2, 0).numpy()
    assert got.shape == ref.shape
    assert np.abs(got - np.round(ref * 255)).max() <= 1  # one 8-bit step: rounding at .5


def test_bench_runs_every_added_model(added, tmp_path, monkeypatch):
    entries, home = added
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    dataset = tmp_path / "set"
    dataset.mkdir()
    yy, xx = np.mgrid[0:32, 0:36]
    hr = np.stack([128 + 80 * np.sin(xx / 4.0), 128 + 80 * np.cos(yy / 5.0), 100 + 50 * np.sin((xx - yy) / 6.0)], 2)
    PILImage.fromarray(hr.astype(np.uint8)).save(dataset / "a.png")
    report = tmp_path / "bench.json"
    ids = [f"custom-{name}" for name in entries]
    assert main(["bench", "--dataset", str(dataset), "--scale", "2", "--model", *ids,
                 "--json", str(report), "--quiet"]) == 0
    results = {m["model"]: m for m in json.loads(report.read_text())["models"]}
    assert sorted(results) == sorted(ids)
    for m in results.values():
        assert np.isfinite(m["psnr_y"]) and m["psnr_y"] > 5  # random weights: any finite score


def test_batch_runs_a_1x_restoration_model_in_the_chain(added, tmp_path, monkeypatch):
    """The grey 1× DnCNN as the ×1 step of a ×2 batch: one pass, then resampled to ×2."""
    _entries, home = added
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    src, dst = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    rng = np.random.default_rng(7)
    for name in ("a", "b"):
        PILImage.fromarray(rng.integers(0, 255, size=(14, 17, 3), dtype=np.uint8)).save(src / f"{name}.png")
    assert main(["batch", str(src), str(dst), "--model", "custom-dncnn-grey", "--scale", "2", "--no-progress"]) == 0
    for name in ("a", "b"):
        assert PILImage.open(dst / f"{name}_x2_custom-dncnn-grey.png").size == (34, 28)
