"""What the training options do to a step, measured on the step itself: the rate the
optimiser is given (the schedule's tests only called `learning_rate`: a step that ignored it
trained at one rate, and every training test passed), the optimiser, the gradient clip and
the EMA of the weights; and the command line's flags for them reaching a run."""

from __future__ import annotations

import json

import pytest
import torch
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.training.checkpoint import load_checkpoint
from sr_desktop.engine.training.loop import Trainer, _Ema, learning_rate
from sr_desktop.engine.training.options import TrainOptions

TINY = "SRCNN:n1=8,n2=4"


def _trainer(tmp_path, **kwargs) -> Trainer:
    data = make_images(tmp_path / "data", 2, 48, seed=5)
    options = TrainOptions(arch=TINY, scale=2, data=(str(data),), out=str(tmp_path / "run"), batch=2, patch=16,
                           device="cpu", **kwargs)
    trainer = Trainer(options)
    trainer.prepare()
    return trainer


def _weights(trainer: Trainer) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in trainer.net.module.parameters()])


def test_each_step_moves_the_weights_by_the_schedules_rate(tmp_path):
    """Adam's first update of a weight is the rate times the sign of its gradient (its moments
    are one gradient): the largest change is the rate the step really used."""
    trainer = _trainer(tmp_path, lr=1e-3, iterations=8, warmup=4, schedule="step")
    expected = [1e-3 * (i + 1) / 4 for i in range(4)] + [1e-3, 1e-3, 5e-4, 2.5e-4]
    assert [learning_rate(trainer.options, i) for i in range(8)] == pytest.approx(expected)
    before = _weights(trainer)
    trainer.step(*trainer.data.batch(0, 0, 2))
    assert (_weights(trainer) - before).abs().max().item() == pytest.approx(expected[0], rel=1e-3)
    for i in range(1, 8):
        trainer.iteration = i
        trainer.step(*trainer.data.batch(i, 0, 2))
        assert trainer.opt.param_groups[0]["lr"] == pytest.approx(expected[i])


def test_adamw_is_the_optimiser_asked_for_and_decays_the_weights(tmp_path):
    trainer = _trainer(tmp_path, lr=1e-3, iterations=4, optimizer="adamw", schedule="constant")
    assert type(trainer.opt) is torch.optim.AdamW
    assert type(_trainer(tmp_path / "adam", lr=1e-3, iterations=4).opt) is torch.optim.Adam


def test_a_gradient_clip_bounds_the_gradients_norm(tmp_path):
    def norm_after_a_step(trainer: Trainer) -> float:
        trainer.step(*trainer.data.batch(0, 0, 2))
        return torch.cat([p.grad.flatten() for p in trainer.net.module.parameters()]).norm().item()

    free = norm_after_a_step(_trainer(tmp_path / "free", iterations=4))
    clipped = norm_after_a_step(_trainer(tmp_path / "clipped", iterations=4, grad_clip=free / 10))
    assert free > 0 and clipped == pytest.approx(free / 10, rel=1e-4)


def test_the_ema_follows_the_weights_with_its_warm_up_decay():
    """The decay is min(ema, (1+n)/(10+n)) at update n: 2/11 at the first, 3/12 at the second."""
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema = _Ema(net, 0.999)
    with torch.no_grad():
        net.weight.fill_(12.0)
    ema.update(net)
    assert ema.module.weight.item() == pytest.approx(2 / 11 * 1.0 + 9 / 11 * 12.0)
    first = ema.module.weight.item()
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema.update(net)
    assert ema.module.weight.item() == pytest.approx(3 / 12 * first)
    late = _Ema(net, 0.5)  # past the warm-up the decay is the one asked for
    late.updates = 100
    with torch.no_grad():
        net.weight.fill_(4.0)
    late.update(net)
    assert late.module.weight.item() == pytest.approx(0.5 * 0.0 + 0.5 * 4.0)


def test_the_commands_flags_reach_the_run(tmp_path, capsys):
    data = make_images(tmp_path / "data", 2, 48, seed=6)
    run = tmp_path / "run"
    assert main(["train", "--arch", TINY, "--scale", "2", "--data", str(data), "--out", str(run), "--batch", "2",
                 "--patch", "16", "--iterations", "6", "--lr", "1e-3", "--warmup", "2", "--optimizer", "adamw",
                 "--grad-clip", "0.5", "--log-every", "2", "--threads", "1", "-q"]) == 0
    capsys.readouterr()
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    train = [x for x in lines if x["kind"] == "train"]
    # every second iteration logged, each with the rate its last step used: warm-up, then the cosine
    assert [x["it"] for x in train] == [2, 4, 6]
    half = 0.5 ** 0.5  # cos(π/4)
    # (the log keeps 6 significant digits)
    assert [x["lr"] for x in train] == pytest.approx([1e-3, 1e-3 * 0.5 * (1 + half), 1e-3 * 0.5 * (1 - half)], rel=1e-5)
    meta = load_checkpoint(run / "checkpoint").meta
    recorded = (meta["options"]["optimizer"], meta["schedule"]["warmup"], meta["schedule"]["grad_clip"])
    assert recorded == ("adamw", 2, 0.5)


def test_a_resume_keeps_the_runs_gradient_clip_unless_one_is_given(tmp_path, capsys):
    """The clip was not recorded: a run resumed without --grad-clip went on unclipped."""
    data = make_images(tmp_path / "data", 2, 48, seed=7)
    run = tmp_path / "run"
    base = ["train", "--arch", TINY, "--scale", "2", "--data", str(data), "--out", str(run), "--batch", "2",
            "--patch", "16", "--threads", "1", "-q"]
    assert main([*base, "--iterations", "2", "--grad-clip", "0.5"]) == 0
    assert main([*base, "--iterations", "4", "--resume"]) == 0
    assert load_checkpoint(run / "checkpoint").meta["schedule"]["grad_clip"] == 0.5
    assert main([*base, "--iterations", "6", "--resume", "--grad-clip", "0"]) == 0
    assert load_checkpoint(run / "checkpoint").meta["schedule"]["grad_clip"] == 0
    # (the lines on the learning rate's schedule name the longer runs only, not the clip)
    said = [line for line in capsys.readouterr().err.splitlines() if "learning-rate schedule" in line]
    assert len(said) == 2 and all("--iterations" in line and "grad" not in line for line in said)
