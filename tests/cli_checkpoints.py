"""A checkpoint's life through the CLI, shared by the architecture tests: `models add`,
`upscale` of a small random image, `bench` on one image of smooth colour waves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from sr_desktop.cli.main import main


def add_checkpoint(path: Path, name: str, capsys) -> dict:
    """`sr-desktop models add PATH --name NAME --json`: the added entry."""
    assert main(["models", "add", str(path), "--name", name, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def upscale_random(model_id: str, folder: Path, size: tuple[int, int], seed: int, scale: int | None = None) -> tuple:
    """`sr-desktop upscale` of a random RGB image of `size` (h, w): the output's shape."""
    src = folder / "in.png"
    PILImage.fromarray(np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)).save(src)
    out = folder / f"out{scale or ''}.png"
    args = ["upscale", str(src), "-o", str(out), "--model", model_id, "-q"]
    assert main(args + (["--scale", str(scale)] if scale else [])) == 0
    return np.asarray(PILImage.open(out)).shape


def bench_waves(model_id: str, folder: Path, scale: int, size: tuple[int, int]) -> dict:
    """`sr-desktop bench` of `model_id` on one HR image of smooth colour waves of `size`:
    the model's JSON result (one image)."""
    data = folder / "set"
    data.mkdir()
    y, x = np.mgrid[0:size[0], 0:size[1]]
    hr = np.stack([128 + 80 * np.sin(x / 4.0), 128 + 80 * np.cos(y / 5.0), 100 + 50 * np.sin((x - y) / 6.0)], 2)
    PILImage.fromarray(np.clip(hr, 0, 255).astype(np.uint8)).save(data / "a.png")
    report = folder / "bench.json"
    assert main(["bench", "--dataset", str(data), "--model", model_id, "--scale", str(scale), "--device", "cpu",
                 "--json", str(report), "--quiet"]) == 0
    result = json.loads(report.read_text())["models"][0]
    assert result["model"] == model_id and len(result["images"]) == 1
    return result
