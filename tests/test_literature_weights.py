"""Literature models trained for this project and shipped in ``models/literature/``
(issue 15): each loads, upscales through the CLI, beats bicubic on a photo, and its file,
metadata and manifest row agree; the registry's handling of a ``trained`` block (scales,
the "training incomplete" tag, a damaged or missing file) on a manifest of its own."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from safetensors import safe_open
from safetensors.torch import save_file

from sr_desktop.cli.main import main
from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.core import paths
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.metrics.evaluate import score_pair
from sr_desktop.engine.models import literature, loader, registry
from sr_desktop.engine.models.archs.srcnn import SRCNN
from sr_desktop.engine.pipeline.model_cache import clear_model_cache

SHIPPED = [(spec.id, scale) for spec in registry.list_literature_models() for scale in
           literature.trained_scales(spec.trained)]


def test_the_classic_models_ship_with_weights():
    assert {"srcnn", "fsrcnn", "espcn"} <= {model_id for model_id, _ in SHIPPED}
    total = sum(literature.weights_file(spec.trained[str(s)]).stat().st_size
                for spec in registry.list_literature_models() for s in literature.trained_scales(spec.trained))
    assert total < 50e6  # the issue: all together well under 50 MB


@pytest.mark.parametrize(("model_id", "scale"), SHIPPED)
def test_file_metadata_and_manifest_agree(model_id, scale):
    spec = registry.get_model_spec(model_id)
    rec = spec.trained[str(scale)]
    path = literature.weights_file(rec)
    # ID_xS, or ID_x2x3x4 for one network shipped at several scales (VDSR; LapSRN x4x2, the ×4
    # pyramid, which served ×2 too until ×2 got a network of its own)
    file_scales = [int(s) for s in path.stem.removeprefix(f"{model_id}_x").split("x")]
    assert path.parent == paths.MODELS_DIR / "literature" and path.suffix == ".safetensors"
    assert path.stem.startswith(f"{model_id}_x") and scale in file_scales
    assert hashlib.sha256(path.read_bytes()).hexdigest() == rec["sha256"]
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    measured, incomplete = json.loads(meta["measured"]), json.loads(meta["incomplete"])
    if len(file_scales) > 1:  # recorded per scale
        measured, incomplete = measured[f"x{scale}"], incomplete[f"x{scale}"]
    assert int(meta["scale"]) == file_scales[0] and int(meta["iterations"]) == rec["iterations"] > 0
    assert json.loads(meta["data"]) == rec["data"] and meta["degradation"] == rec["degradation"] == "bicubic"
    assert measured == rec["measured"]
    set5 = rec["measured"]["Set5"]
    missed = set5.get("psnr_exact", set5["psnr"]) < rec["target"]["psnr"]  # (files shipped before it had 2 decimals)
    assert incomplete == rec["incomplete"] == missed
    # trained at the file's first scale (VDSR: --scale 2 3 4; LapSRN x4x2: --scale 4)
    assert rec["command"].startswith(f"sr-desktop train --arch {model_id} --scale {file_scales[0]}")
    assert spec.installed and scale in spec.scales
    assert (literature.INCOMPLETE_TAG in spec.tags) == literature.is_incomplete(spec.trained)


@pytest.mark.parametrize(("model_id", "scale"), SHIPPED)
def test_each_shipped_model_upscales_through_the_cli_and_beats_bicubic(model_id, scale, tmp_path, capsys):
    """A 96×96 crop of the bundled photo (a Set5-like natural image) degraded by MATLAB
    bicubic, upscaled by `sr-desktop upscale`: higher PSNR-Y than MATLAB bicubic."""
    size = 96 if scale != 8 else 128
    photo = np.asarray(PILImage.open(paths.SAMPLE_IMAGE).convert("RGB"))
    top, left = photo.shape[0] // 3, photo.shape[1] // 3
    hr = np.ascontiguousarray(photo[top:top + size, left:left + size])
    lr = imresize(hr, 1 / scale)
    src, out = tmp_path / "lr.png", tmp_path / "sr.png"
    PILImage.fromarray(lr).save(src)
    assert main(["upscale", str(src), "-o", str(out), "--model", model_id, "--scale", str(scale)]) == 0
    capsys.readouterr()
    sr = np.asarray(PILImage.open(out).convert("RGB"))
    assert sr.shape == hr.shape
    bicubic = np.clip(np.round(imresize(lr, scale)), 0, 255).astype(np.uint8)
    gain = score_pair(sr, hr, scale).psnr_y - score_pair(bicubic, hr, scale).psnr_y
    assert gain > 0.1, f"{model_id} ×{scale}: {gain:+.2f} dB over bicubic"


# -- the registry's handling of a trained block, on a manifest of its own ----------------------


@pytest.fixture
def own_manifest(tmp_path, monkeypatch):
    """A copy of the manifest whose srcnn row ships random-weight ×3 weights, in `tmp_path`."""
    doc = json.loads((paths.MODELS_DIR / "manifest.json").read_text(encoding="utf-8"))
    (tmp_path / "literature").mkdir()
    weights = tmp_path / "literature" / "srcnn_x3.safetensors"
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in SRCNN().state_dict().items()}, str(weights),
              metadata={"scale": "3"})
    row = next(e for e in doc["models"] if e["id"] == "srcnn")
    row["trained"] = {"3": {"file": "literature/srcnn_x3.safetensors",
                            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                            "data": ["T91"], "downscales": [0.9, 0.6], "init": "srcnn-x2", "iterations": 10,
                            "incomplete": True,
                            "target": {"dataset": "Set5", "psnr": 32.3},
                            "measured": {"Set5": {"psnr": 31.0, "ssim": 0.88}, "Set14": {"psnr": 28.0, "ssim": 0.8}}}}
    for other in doc["models"]:
        if other is not row:
            other.pop("trained", None)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setattr(paths, "MODELS_DIR", tmp_path)
    monkeypatch.setattr(registry, "MANIFEST", manifest)
    clear_model_cache()  # an earlier test's srcnn (the shipped file) must not answer for this one
    yield weights
    clear_model_cache()


def test_a_trained_row_runs_at_its_trained_scales_only(own_manifest):
    spec = registry.get_model_spec("srcnn")
    assert spec.installed and spec.status == "installed" and not spec.needs_weights
    assert spec.scales == [3] and literature.INCOMPLETE_TAG in spec.tags
    assert literature.measured_psnr(spec, "Set5", 3) == 31.0 and literature.measured_psnr(spec, "Set5", 2) is None
    model = loader.load_model("srcnn", scale=3)
    assert model.scale == 3 and model.id == "srcnn"
    assert model.run(torch.full((1, 3, 10, 12), 0.5)).shape == (1, 3, 30, 36)
    with pytest.raises(ModelError, match=r"ships weights for ×3, not ×2; for ×2 add a checkpoint"):
        loader.load_model("srcnn", scale=2)
    assert registry.get_model_spec("vdsr").needs_weights  # a row without a trained block


def test_a_damaged_or_missing_weights_file_is_one_clear_line(own_manifest, tmp_path, capsys):
    data = bytearray(own_manifest.read_bytes())
    data[-1] ^= 0xFF
    own_manifest.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"damaged \(checksum\); reinstall sr-desktop"):
        loader.load_model("srcnn", scale=3)
    own_manifest.unlink()
    spec = registry.get_model_spec("srcnn")
    assert not spec.installed and spec.needs_weights
    src = tmp_path / "in.png"
    PILImage.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "o.png"), "--model", "srcnn", "--scale", "3"]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "o.png").exists()


def test_models_table_and_picker_show_published_and_measured_numbers(own_manifest, capsys, qtbot):
    from sr_desktop.gui.main_window.model_picker import ModelPicker

    assert main(["models"]) == 0
    line = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("srcnn "))
    assert "36.66/32.75/30.49" in line and "-/31.00/-" in line and "-/28.00/-" in line
    assert line.endswith("installed ×3, training incomplete (×3)")
    assert main(["models", "--json"]) == 0
    entry = next(e for e in json.loads(capsys.readouterr().out) if e["id"] == "srcnn")
    assert entry["trained"]["3"]["measured"]["Set5"]["psnr"] == 31.0 and entry["scales"] == [3]
    picker = ModelPicker(registry.list_models())
    qtbot.addWidget(picker)
    item = picker.item_for("srcnn")
    assert item.isEnabled() and item.text() == "SRCNN (2014)  — training incomplete (×3)"
    tip = item.toolTip()
    assert "Published PSNR" in tip and "Measured here" in tip and "×3 31.00" in tip and "trained here on T91" in tip
    assert "below the target of 32.30 dB" in tip
    assert "trained here on T91 (+ downscaled to 0.9, 0.6), 10 iterations" in tip and "fine-tuned from srcnn-x2" in tip
    assert picker.set_model_id("srcnn") and picker.model_id() == "srcnn"


def test_perceptual_models_say_why_no_weights_were_trained_here(qtbot):
    from sr_desktop.gui.main_window.model_picker import ModelPicker

    picker = ModelPicker(registry.list_models())
    qtbot.addWidget(picker)
    for model_id in ("spsr", "esrgan", "enhancenet", "srresnet"):
        spec = registry.get_model_spec(model_id)
        assert not spec.trained and "VGG19" in spec.source["own_weights"]
        assert "Bring your own weights" in picker.item_for(model_id).toolTip()

