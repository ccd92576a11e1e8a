"""`sr-desktop train --amp auto|on|off`: which precision a training step computes in, on a
CPU bf16 where asked (or where AMX makes it pay), float32 otherwise; the log names it at
each (re)start; a float32 checkpoint resumes in bf16; validation stays float32."""

from __future__ import annotations

import json

import pytest
import torch
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.training import Trainer, TrainOptions, precision
from sr_desktop.engine.training.errors import TrainingError

CPU = torch.device("cpu")


def test_cpu_precision_follows_the_setting_and_the_hardware(monkeypatch):
    assert precision.autocast_dtype(CPU, "off") is None
    assert precision.autocast_dtype(CPU, "on") is torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_bf16_matrix_units", lambda: True)
    assert precision.autocast_dtype(CPU, "auto") is torch.bfloat16
    monkeypatch.setattr(precision, "cpu_has_bf16_matrix_units", lambda: False)
    assert precision.autocast_dtype(CPU, "auto") is None
    assert precision.autocast_dtype(torch.device("meta"), "on") is None  # MPS and others: float32
    assert [precision.precision_name(d) for d in (None, torch.bfloat16, torch.float16)] == ["fp32", "bf16", "fp16"]


def test_a_bad_setting_is_refused_by_the_options_and_the_cli(tmp_path, capsys):
    with pytest.raises(TrainingError, match="--amp must be one of auto, on, off"):
        TrainOptions(arch="fsrcnn", scale=2, data=(str(tmp_path),), out=str(tmp_path / "run"), amp="fp8")
    with pytest.raises(SystemExit):
        main(["train", "--arch", "fsrcnn", "--scale", "2", "--data", str(tmp_path), "--out", str(tmp_path / "r"),
              "--amp", "fp8"])
    assert "--amp" in capsys.readouterr().err


def test_a_bf16_step_runs_in_bf16_and_leaves_float32_weights(tmp_path):
    data = make_images(tmp_path / "data", 2, 48, seed=2)
    options = TrainOptions(arch="EDSR:num_feat=8,num_block=1", scale=2, data=(str(data),), out=str(tmp_path / "run"),
                           batch=2, patch=8, amp="on", iterations=1)
    trainer = Trainer(options)
    trainer.prepare()
    seen = []
    first = next(m for m in trainer.net.modules() if isinstance(m, torch.nn.Conv2d))
    first.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    lr, hr = trainer.data.batch(0, 0, 2)
    before = first.weight.detach().clone()
    loss, _ = trainer.step(lr, hr)
    assert seen == [torch.bfloat16] and torch.isfinite(torch.tensor(loss))
    assert first.weight.dtype == torch.float32 and not torch.equal(first.weight.detach(), before)


def test_a_float32_checkpoint_resumes_in_bf16_and_the_log_names_each_start(tmp_path, capsys):
    data = make_images(tmp_path / "data", 2, 48, seed=3)
    run = tmp_path / "run"
    base = ["train", "--arch", "fsrcnn", "--scale", "2", "--data", str(data), "--out", str(run), "--batch", "2",
            "--patch", "8", "--threads", "1", "-q"]
    assert main([*base, "--iterations", "4", "--amp", "off"]) == 0
    assert main([*base, "--iterations", "8", "--amp", "on", "--resume"]) == 0
    capsys.readouterr()
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [(x["it"], x["precision"]) for x in lines if x["kind"] == "precision"] == [(0, "fp32"), (4, "bf16")]
    train = [x for x in lines if x["kind"] == "train"]
    assert train[-1]["it"] == 8 and all(x["loss"] == x["loss"] for x in train)  # no NaN
    val = {x["it"]: x["psnr_y"] for x in lines if x["kind"] == "val"}
    assert val[8] > val[4]  # the bf16 steps go on improving what the float32 ones began


def test_under_bf16_the_network_s_input_and_the_targets_stay_float32():
    """The Y conversion and VDSR's bicubic upsampling ran inside autocast: in bf16 the HR's Y
    target was up to 0.7/255 off and the network's bicubic input up to 1.5/255."""
    from sr_desktop.engine.models.arch_conventions import matlab_bicubic
    from sr_desktop.engine.training.networks import build_network

    net = build_network("VDSR:num_layers=3,num_feat=8", 2)
    seen = []
    net.module.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    lr = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        net(lr)
    expected = matlab_bicubic(net.to_space(lr), 2) * net.input_range
    assert seen[0].dtype == torch.float32 and torch.equal(seen[0], expected)
