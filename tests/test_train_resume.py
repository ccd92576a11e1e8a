"""`kill -9` during training, then `--resume`: the run continues from its checkpoint and ends
with exactly the weights of a run that was never interrupted."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.training.checkpoint import latest_iteration

pytestmark = pytest.mark.usefixtures("module_home")  # (the models it registers stay here)

ROOT = Path(__file__).resolve().parents[1]
ITERATIONS = 80


def _command(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sr_desktop", "train", "--arch", "SRVGGNetCompact:num_feat=8,num_conv=2",
            "--scale", "2", "--data", str(data), "--out", str(out), "--iterations", str(ITERATIONS),
            "--batch", "4", "--patch", "16", "--lr", "1e-3", "--checkpoint-every", "10", "--val-every",
            str(ITERATIONS), "--workers", "1", "--threads", "1", "-q", *extra]


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), SR_DESKTOP_HOME=str(home), OMP_NUM_THREADS="1")
    env.pop("PYTHONSTARTUP", None)
    return env


def _checkpoint_iteration(out: Path) -> int:
    return latest_iteration(out / "checkpoint") or 0


def test_kill_9_then_resume_continues_exactly(tmp_path, capsys):
    data = make_images(tmp_path / "data", 2, 48, seed=5)
    env = _env(tmp_path / "home")
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = subprocess.Popen(_command(data, killed), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _checkpoint_iteration(killed) < 20 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stopped = _checkpoint_iteration(killed)
    assert 20 <= stopped < ITERATIONS
    assert not (killed / "model.safetensors").exists()

    # without --resume the folder is refused; with it the run goes on from the checkpoint
    assert main(_command(data, killed)[3:]) == 2
    assert "--resume" in capsys.readouterr().err
    resumed = subprocess.run(_command(data, killed, "--resume"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    records = [json.loads(line) for line in (killed / "log.jsonl").read_text().splitlines()]
    its = [r["it"] for r in records if r["kind"] == "train"]
    assert its == sorted(set(its)) and its[-1] == ITERATIONS  # no line twice, none missing at the end

    assert main(_command(data, clean)[3:]) == 0  # --threads 1, as the subprocesses: the same arithmetic
    a, b = load_file(killed / "model.safetensors"), load_file(clean / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "the resumed run differs from an uninterrupted one"


def test_ctrl_c_says_whether_there_is_anything_to_resume(tmp_path, capsys, monkeypatch):
    """Ctrl+C saves a checkpoint and says how to resume; before the first step there is none,
    and the line says so instead of pointing at a --resume that would fail."""
    from sr_desktop.engine.training.loop import Trainer

    data = make_images(tmp_path / "data", 2, 48, seed=5)
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    prepare = Trainer.prepare
    monkeypatch.setattr(Trainer, "prepare", lambda self: (prepare(self), signal.raise_signal(signal.SIGINT)))
    early = tmp_path / "early"
    assert main(_command(data, early)[3:]) == 130
    assert "interrupted at iteration 0, before anything was saved; start the run again" in capsys.readouterr().err
    assert not (early / "checkpoint" / "latest.json").exists()

    monkeypatch.setattr(Trainer, "prepare", prepare)
    step = Trainer.step

    def step_then_ctrl_c(self, *batch):
        result = step(self, *batch)
        if self.iteration == 2:  # the third step
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(Trainer, "step", step_then_ctrl_c)
    later = tmp_path / "later"
    assert main(_command(data, later)[3:]) == 130
    assert ("interrupted at iteration 3; checkpoint saved: the same command with --resume continues it "
            "(with --iterations 3 too it exports the model as it stands)") in capsys.readouterr().err
    assert _checkpoint_iteration(later) == 3
    # the checkpoint of a run stopped part-way is a model too (it was "unsupported model file")
    weights = next((later / "checkpoint").glob("weights-*.safetensors"))
    assert main(["models", "add", str(weights), "--name", "stopped run"]) == 0, capsys.readouterr().err


def test_resume_below_the_checkpoint_is_refused_and_at_it_exports(tmp_path, capsys):
    data = make_images(tmp_path / "data", 2, 48, seed=5)
    out = tmp_path / "run"
    command = _command(data, out)[3:]
    command[command.index("--iterations") + 1] = "20"
    assert main(command) == 0
    assert _checkpoint_iteration(out) == 20
    capsys.readouterr()
    fewer = [*command, "--resume"]
    fewer[fewer.index("--iterations") + 1] = "10"
    assert main(fewer) == 2
    err = capsys.readouterr().err
    assert "checkpoint is at iteration 20, past --iterations 10" in err and err.count("\n") == 1
    (out / "model.safetensors").unlink()
    assert main([*command, "--resume"]) == 0  # as many: the checkpoint exported as it is
    printed = capsys.readouterr().out
    # the validation logged at iteration 20 is of the same weights: reported, not "not validated"
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    last_val = [r for r in logged if r["kind"] == "val" and r["it"] == 20][-1]
    assert (out / "model.safetensors").is_file() and "nan" not in printed
    assert f"validation PSNR-Y {last_val['psnr_y']:.2f} dB" in printed


def _run_then_resume_command(capsys, data: Path, out: Path, first: int, then: int) -> list[str]:
    """Train `first` iterations in `out`; the command line that resumes it to `then`."""
    command = _command(data, out)[3:]
    command[command.index("--iterations") + 1] = str(first)
    assert main(command) == 0
    capsys.readouterr()
    longer = [*command, "--resume"]
    longer[longer.index("--iterations") + 1] = str(then)
    return longer


def test_a_resume_that_changes_the_schedule_says_so(tmp_path, capsys):
    """A longer run or another --lr moves the rate at the iteration a resume continues from
    (a cosine ended at 0 restarts half-way up): allowed, as before, but no longer silent."""
    data = make_images(tmp_path / "data", 2, 48, seed=5)
    out = tmp_path / "run"
    longer = _run_then_resume_command(capsys, data, out, 20, 40)
    assert main(longer) == 0
    err = capsys.readouterr().err
    assert ("resumed with another learning-rate schedule: --iterations 20 → 40; iteration 21 trains at "
            "lr 0.0005 (under the checkpoint's schedule: 0)") in err
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [(r["it"], r["iterations"]) for r in logged if r["kind"] == "schedule"] == [(20, 40)]
    same = [*longer]
    same[same.index("--iterations") + 1] = "50"
    same[same.index("--lr") + 1] = "1e-3"
    assert main(same) == 0 and "--iterations 40 → 50" in capsys.readouterr().err


def test_a_resume_with_the_schedule_of_its_checkpoint_says_nothing_of_it(tmp_path, capsys, monkeypatch):
    from sr_desktop.engine.training.loop import Trainer

    data = make_images(tmp_path / "data", 2, 48, seed=5)
    out = tmp_path / "run"
    step = Trainer.step

    def step_then_ctrl_c(self, *batch):
        result = step(self, *batch)
        if self.iteration == 4:  # stopped mid-way: the resume trains the rest
            signal.raise_signal(signal.SIGINT)
        return result

    monkeypatch.setattr(Trainer, "step", step_then_ctrl_c)
    assert main(_command(data, out)[3:]) == 130
    monkeypatch.setattr(Trainer, "step", step)
    capsys.readouterr()
    assert main([*_command(data, out)[3:], "--resume"]) == 0
    assert "schedule" not in capsys.readouterr().err
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert not [r for r in logged if r["kind"] == "schedule"]


def test_a_checkpoint_the_disk_refuses_says_what_is_kept(tmp_path, monkeypatch):
    """On a full disk at the first checkpoint it said "the previous checkpoint is kept" when
    there was none; later it names the iteration kept."""
    import errno

    from sr_desktop.engine.training import checkpoint as ck
    from sr_desktop.engine.training.errors import TrainingError

    def ckpt(n):
        return ck.Checkpoint(n, {"net": {"w": torch.zeros(2)}}, {"step": n}, {"arch": "x"})

    real_write = ck._write

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck, "_write", full)
    with pytest.raises(TrainingError, match="No space left on device; there is no earlier checkpoint$"):
        ck.save_checkpoint(tmp_path, ckpt(10))
    monkeypatch.setattr(ck, "_write", real_write)
    ck.save_checkpoint(tmp_path, ckpt(20))
    monkeypatch.setattr(ck, "_write", full)
    with pytest.raises(TrainingError, match="the checkpoint of iteration 20 is kept$"):
        ck.save_checkpoint(tmp_path, ckpt(30))
    assert ck.latest_iteration(tmp_path) == 20


@pytest.mark.parametrize("name, why", [("x" * 65, "is 65 characters long; at most 64"),
                                       ("a\nb", "has control characters")])
def test_a_name_models_add_would_refuse_is_refused_before_training(tmp_path, capsys, name, why):
    """It trained every iteration, then failed to register the model under that name."""
    data = make_images(tmp_path / "data", 2, 48, seed=3)
    code = main(["train", "--arch", "SRCNN", "--scale", "2", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--iterations", "3", "--name", name, "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "--name: the model name" in err and why in err and not (tmp_path / "run").exists()


def test_extending_a_finished_run_updates_the_model_it_registered(tmp_path, capsys):
    """`train … --name mynet`, then the same with `--resume --iterations N`: it registered a
    copy, "mynet (2)", and `--model custom-mynet` went on running the first weights."""
    from sr_desktop.engine.core.digest import file_sha256
    from sr_desktop.engine.models.custom import list_custom_specs

    data = make_images(tmp_path / "data", 2, 48, seed=7)
    out = tmp_path / "run"
    command = _command(data, out, "--name", "mynet")[3:]
    assert main(command) == 0
    first = [s for s in list_custom_specs() if s.name == "mynet"]
    assert len(first) == 1
    assert main([*command, "--resume", "--iterations", str(ITERATIONS + 20)]) == 0
    now = [s for s in list_custom_specs() if s.name.startswith("mynet")]
    assert [s.id for s in now] == [first[0].id]  # in its place, not beside it
    assert file_sha256(Path(now[0].source["file"])) == file_sha256(out / "model.safetensors")
    assert file_sha256(Path(now[0].source["file"])) != first[0].source["sha256"]
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"registered as {first[0].id}: mynet"
    # --name left out: the model it registered kept the weights of its first finish
    without_name = [a for a in command if a not in ("--name", "mynet")]
    assert main([*without_name, "--resume", "--iterations", str(ITERATIONS + 30)]) == 0
    now = [s for s in list_custom_specs() if s.name.startswith("mynet")]
    assert [s.id for s in now] == [first[0].id]
    assert file_sha256(Path(now[0].source["file"])) == file_sha256(out / "model.safetensors")
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"registered as {first[0].id}: mynet"


def test_a_damaged_recorded_setting_is_one_training_error(tmp_path):
    """The Train dialog takes the settings it has no field for from the run's checkpoint
    record; an edited or damaged record is one line, not a ValueError out of a button."""
    from sr_desktop.engine.training import TrainOptions
    from sr_desktop.engine.training.errors import TrainingError

    (tmp_path / "data").mkdir()
    options = TrainOptions(arch="SRCNN", scale=2, data=(str(tmp_path / "data"),), out=str(tmp_path / "run"))
    assert options.with_recorded({"seed": 3, "ema": 0.0, "lr": 5e-4}).seed == 3
    with pytest.raises(TrainingError, match="the checkpoint's settings cannot be read"):
        options.with_recorded({"mixed_scales": ["two"]})


def test_a_checkpoint_of_a_newer_version_is_refused_not_rewritten(tmp_path):
    """It was resumed and its latest.json written back as format 1, a newer version's records
    dropped without a word."""
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    data = make_images(tmp_path / "data", 2, 32, seed=5)
    options = TrainOptions(arch="SRCNN:n1=8,n2=4", scale=2, data=(str(data),), out=str(tmp_path / "run"),
                           iterations=2, batch=2, patch=12, device="cpu", val_every=2)
    train(options)
    latest = tmp_path / "run" / "checkpoint" / "latest.json"
    record = json.loads(latest.read_text())
    record.update(version=2, future_field={"kept": True})
    latest.write_text(json.dumps(record))
    with pytest.raises(TrainingError, match="written by a newer version of SR Desktop"):
        train(dataclasses.replace(options, iterations=4, resume=True))
    assert json.loads(latest.read_text())["future_field"] == {"kept": True}


def test_a_checkpoint_state_holding_python_objects_is_refused_in_the_apps_words(tmp_path):
    """A state file with a pickled Python global (code could run): refused, but the line was
    torch's, advising "Re-running torch.load with weights_only set to False"."""
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    data = make_images(tmp_path / "data", 2, 32, seed=5)
    options = TrainOptions(arch="SRCNN:n1=8,n2=4", scale=2, data=(str(data),), out=str(tmp_path / "run"),
                           iterations=2, batch=2, patch=12, device="cpu", val_every=2)
    train(options)
    folder = tmp_path / "run" / "checkpoint"
    state = folder / json.loads((folder / "latest.json").read_text())["state"]
    torch.save({"opt": Path("somewhere")}, state)  # a Path: a Python global in the pickle
    with pytest.raises(TrainingError, match="holds Python objects other than tensors, which could run code") as caught:
        train(dataclasses.replace(options, iterations=4, resume=True))
    assert "weights_only" not in str(caught.value)


def test_a_resume_after_the_images_changed_says_so_and_logs_a_new_baseline(tmp_path, capsys):
    """Images added to the data folder (and so other validation images: the first two) went
    on without a word, the log's one baseline and the points before the resume over other
    images than those after it."""
    data = make_images(tmp_path / "data", 2, 48, seed=5)
    out = tmp_path / "run"
    longer = _run_then_resume_command(capsys, data, out, 10, 20)
    make_images(tmp_path / "more", 1, 48, seed=9)
    os.replace(tmp_path / "more" / "img0.png", data / "a_first.png")  # (sorted first: a validation image)
    assert main(longer) == 0
    err = capsys.readouterr().err
    assert "the training images changed since the checkpoint (2 then, 3 now): the run goes on with them" in err
    assert "the validation images changed since the checkpoint (2 then, 2 now): the validation curve goes on " \
           "from a new bicubic baseline, " in err
    logged = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    baselines = [(r["it"], r["psnr_y"]) for r in logged if r["kind"] == "baseline"]
    assert [it for it, _ in baselines] == [0, 10] and baselines[0][1] != baselines[1][1]
    assert [r["it"] for r in logged if r["kind"] == "data"] == [10, 10]
    longer[longer.index("--iterations") + 1] = "30"
    assert main(longer) == 0 and "changed" not in capsys.readouterr().err  # (the same images again)
