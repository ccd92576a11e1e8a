"""`sr-desktop train --backend auto|torch|openvino`: what runs the network at validation
(issue 16). OpenVINO validates the weights of the moment, converted in memory, and agrees
with torch; auto times both once and keeps the faster; failures are one line or a fallback."""

from __future__ import annotations

import json
import logging

import pytest
import torch
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.models.backends import openvino_runner
from sr_desktop.engine.models.backends.openvino_runner import BackendError
from sr_desktop.engine.training import val_backend, validation
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.options import TrainOptions
from sr_desktop.engine.training.val_backend import ValidationBackend

pytest.importorskip("openvino")


def _train(tmp_path, name: str, backend: str, *extra: str) -> tuple[int, list[dict]]:
    data = tmp_path / "data"
    if not data.exists():
        make_images(data, 2, 64, seed=7)
    out = tmp_path / name
    code = main(["train", "--arch", "fsrcnn", "--scale", "2", "--data", str(data), "--out", str(out),
                 "--iterations", "4", "--val-every", "2", "--batch", "2", "--patch", "8", "--threads", "1",
                 "-q", "--backend", backend, *extra])
    log = out / "log.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return code, [r for r in rows if r["kind"] == "val"]


def test_openvino_validation_runs_the_current_weights_and_agrees_with_torch(tmp_path):
    cache_before = sorted(openvino_runner.cache_root().rglob("*")) if openvino_runner.cache_root().exists() else []
    code_ov, val_ov = _train(tmp_path, "ov", "openvino")
    code_pt, val_pt = _train(tmp_path, "pt", "torch")
    assert code_ov == code_pt == 0
    assert [v["backend"] for v in val_ov] == ["openvino"] * 2 and [v["backend"] for v in val_pt] == ["torch"] * 2
    # the same seed trains the same weights: the two backends measure the same network
    for a, b in zip(val_ov, val_pt, strict=True):
        assert a["it"] == b["it"] and abs(a["psnr_y"] - b["psnr_y"]) < 1e-3 and abs(a["l1"] - b["l1"]) < 1e-5
    assert val_ov[0]["psnr_y"] != val_ov[1]["psnr_y"]  # each validation converted the weights of its moment
    after = sorted(openvino_runner.cache_root().rglob("*")) if openvino_runner.cache_root().exists() else []
    assert after == cache_before  # nothing cached for weights that change


def test_auto_times_both_once_and_keeps_the_faster(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv("SR_DESKTOP_BACKEND", raising=False)
    calls = []
    real = validation.build_openvino_runner
    monkeypatch.setattr(validation, "build_openvino_runner", lambda m, **kw: calls.append(1) or real(m, **kw))
    with caplog.at_level(logging.INFO, logger="sr_desktop.engine.training.val_backend"):
        code, val = _train(tmp_path, "auto", "auto")
    assert code == 0
    decided = [r.getMessage() for r in caplog.records if "validation backend:" in r.getMessage()]
    assert len(decided) == 1 and "torch" in decided[0] and "OpenVINO" in decided[0]
    chosen = decided[0].split("validation backend: ")[1].split(" ")[0]
    assert {v["backend"] for v in val} == {chosen}
    # OpenVINO converted once to be timed, then at every validation only if it won
    assert len(calls) == (1 + (len(val) - 1) * (chosen == "openvino"))


def test_auto_follows_the_process_setting_and_never_converts_under_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_BACKEND", "torch")
    monkeypatch.setattr(validation, "build_openvino_runner", lambda *a, **k: pytest.fail("converted"))
    code, val = _train(tmp_path, "auto-torch", "auto")
    assert code == 0 and {v["backend"] for v in val} == {"torch"}


def test_a_failing_conversion_is_one_line_when_asked_for_and_a_fallback_under_auto(tmp_path, monkeypatch, capsys):
    def refuse(model, **_):
        raise BackendError("OpenVINO cannot convert training: unsupported operation")

    monkeypatch.setattr(validation, "build_openvino_runner", refuse)
    monkeypatch.setattr(val_backend, "build_openvino_runner", refuse)
    code, _ = _train(tmp_path, "explicit", "openvino")
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "--backend openvino: OpenVINO cannot convert training" in err[0]
    assert not (tmp_path / "explicit").exists()  # refused before the run wrote anything
    monkeypatch.delenv("SR_DESKTOP_BACKEND", raising=False)
    code, val = _train(tmp_path, "fallback", "auto")
    assert code == 0 and {v["backend"] for v in val} == {"torch"}


def test_backends_validation_cannot_use_are_refused_before_any_file_is_written(tmp_path):
    with pytest.raises(TrainingError, match="ncnn runtime runs the model zoo's own files"):
        TrainOptions(arch="fsrcnn", scale=2, data=(str(tmp_path),), out=str(tmp_path / "r"), backend="ncnn")
    with pytest.raises(TrainingError, match="validates on the CPU in fp32; this run trains on cuda"):
        ValidationBackend("openvino", torch.device("cuda"))
    assert ValidationBackend("auto", torch.device("cuda")).chosen == "torch"
    assert not (tmp_path / "r").exists()


def test_validation_scores_what_the_bench_scores(tmp_path, capsys):
    """Validation scored the unrounded output, ~0.01 dB above `sr-desktop bench` (36.8147
    against 36.8028 dB for the shipped FSRCNN ×2 on Set5): it now rounds to 8 bits first."""
    import json

    import torch
    from train_fixtures import make_images

    from sr_desktop.cli.main import main
    from sr_desktop.engine.training.degradations import parse_degradation
    from sr_desktop.engine.training.networks import network_from_model
    from sr_desktop.engine.training.validation import ValidationSet

    folder = make_images(tmp_path / "val", 2, 64, seed=11)
    scores = ValidationSet(str(folder), [], 2, parse_degradation("bicubic")).evaluate(
        network_from_model("fsrcnn", 2), torch.device("cpu"))
    assert main(["bench", "--dataset", str(folder), "--model", "fsrcnn", "--scale", "2", "--device", "cpu",
                 "--backend", "torch", "--json", str(tmp_path / "bench.json")]) == 0
    bench = json.loads((tmp_path / "bench.json").read_text())
    row = next(r for r in bench["models"] if r["model"] == "fsrcnn")
    assert scores.psnr_y == pytest.approx(row["psnr_y"], abs=1e-3)
