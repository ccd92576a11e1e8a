"""One network for several scales (`sr-desktop train --scale 2 3 4`, VDSR's multi-scale
training): batches cycle through the scales at one HR patch size, the run exports one
model that serves every scale, and the option is refused where it cannot work."""

from __future__ import annotations

import json

import pytest
import torch
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.core.options import MAX_SCALE, UpscaleOptions
from sr_desktop.engine.pipeline.upscale import upscale_float
from sr_desktop.engine.training.data import MixedScaleSource
from sr_desktop.engine.training.degradations import parse_degradation
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.options import TrainOptions


def test_batches_cycle_through_the_scales_at_one_hr_patch_size(tmp_path):
    data = make_images(tmp_path / "data", 2, 64, seed=1)
    source = MixedScaleSource([data], (2, 3, 4), 16, parse_degradation("bicubic"))
    shapes = []
    for index in range(6):
        lr, hr = source.batch(seed=0, index=index, size=2)
        shapes.append((hr.shape[-1] // lr.shape[-1], lr.shape[-1], hr.shape[-1]))
    # ×2: 16 → 32; ×3: round(32/3) = 11 → 33; ×4: 8 → 32; then again
    assert shapes == [(2, 16, 32), (3, 11, 33), (4, 8, 32)] * 2
    lr_a, hr_a = source.batch(seed=0, index=4, size=2)
    lr_b, hr_b = source.batch(seed=0, index=4, size=2)
    assert torch.equal(lr_a, lr_b) and torch.equal(hr_a, hr_b)  # seeded per batch, like one scale


@pytest.mark.parametrize("arch, scales, message", [
    ("edsr-baseline", (3,), "EDSR trains one scale per run"),
    ("vdsr", (2,), "distinct integers"),
    ("vdsr", (MAX_SCALE + 1,), f"distinct integers 2..{MAX_SCALE}"),
])
def test_mixed_scales_are_refused_where_they_cannot_work(tmp_path, arch, scales, message):
    with pytest.raises(TrainingError, match=message):
        TrainOptions(arch=arch, scale=2, mixed_scales=scales, data=(str(tmp_path),), out=str(tmp_path / "o"))


def test_cli_trains_one_vdsr_for_three_scales_and_it_serves_each(tmp_path):
    from sr_desktop.engine.models.custom import load_model_file

    data = make_images(tmp_path / "data", 2, 64, seed=2)
    out = tmp_path / "run"
    args = ["train", "--arch", "vdsr:num_layers=4,num_feat=8", "--scale", "2", "3", "4", "--data", str(data),
            "--out", str(out), "--iterations", "6", "--batch", "2", "--patch", "12", "--val-every", "6",
            "--workers", "1", "--threads", "1", "-q"]
    assert main(args) == 0
    meta = json.loads((out / "checkpoint" / "latest.json").read_text())
    assert meta["options"]["mixed_scales"] == [3, 4] and meta["scale"] == 2
    for scale in (2, 3, 4):
        model = load_model_file(out / "model.safetensors", scale=scale)
        assert model.scale == scale
        sr = upscale_float(torch.rand(10, 12, 3).numpy(), UpscaleOptions(scale=scale), model=model)
        assert sr.shape == (10 * scale, 12 * scale, 3)
    # a resumed run must keep its scales
    assert main([*args[:4], "2", "3", *args[7:], "--resume", "--iterations", "8"]) == 2


def test_checkpoints_from_before_mixed_scales_still_resume(tmp_path):
    from sr_desktop.engine.training.checkpoint import Checkpoint
    from sr_desktop.engine.training.loop import _check_resume

    (tmp_path / "data").mkdir()
    one = TrainOptions(arch="vdsr", scale=2, data=(str(tmp_path / "data"),), out=str(tmp_path / "o"))
    older = {k: v for k, v in one.fingerprint().items() if k != "mixed_scales"}  # written before the option
    _check_resume(one, Checkpoint(iteration=10, tensors={}, state={}, meta={"options": older}))
    mixed = TrainOptions(arch="vdsr", scale=2, mixed_scales=(3, 4), data=(str(tmp_path / "data"),),
                         out=str(tmp_path / "o"))
    with pytest.raises(TrainingError, match="the run was made with --scale 2, not 2 3 4"):
        _check_resume(mixed, Checkpoint(iteration=10, tensors={}, state={}, meta={"options": older}))
