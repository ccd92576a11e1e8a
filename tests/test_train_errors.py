"""Bad input to `sr-desktop train`: one clear line, exit 2, no checkpoint written, no model
registered — also when the disk fills while checkpointing."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from train_fixtures import make_images

from sr_desktop.cli.main import main
from sr_desktop.engine.models.custom import list_custom_specs
from sr_desktop.engine.training import checkpoint as checkpoint_module

TINY = "SRVGGNetCompact:num_feat=8,num_conv=2"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_images(tmp_path_factory.mktemp("err-data") / "data", 2, 48, seed=3)


def _train(capsys, out, *args, arch=TINY, scale="2", data_dir=None):
    argv = ["train", "--arch", arch, "--scale", scale, "--out", str(out), "--iterations", "20",
            "--batch", "2", "--patch", "16", "--workers", "1", "--threads", "1", "-q"]
    if data_dir is not None:
        argv += ["--data", str(data_dir)]
    code = main(argv + list(args))
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line_error(code, err, expected):
    assert code == 2
    assert err.startswith("sr-desktop: error:") and "\n" not in err, err
    assert expected in err, err


@pytest.mark.parametrize("setup, expected", [
    ("empty", "no images in"),
    ("missing", ": not found"),
    ("a file", ": a file, not a folder"),
    ("unreadable", "cannot read training image"),
    ("small", "no training image is at least 32×32 pixels (the patch 16 × scale 2; the largest has a side of "
              "24): use larger images, or a smaller --patch (at least 8)"),
])
def test_bad_data(tmp_path, capsys, setup, expected):
    folder = tmp_path / "d"
    if setup == "a file":
        folder.write_text("not a folder")
    elif setup != "missing":
        folder.mkdir()
    if setup == "unreadable":
        (folder / "broken.png").write_bytes(b"not a png at all")
    if setup == "small":
        make_images(folder, 2, 24, seed=0)
    code, err = _train(capsys, tmp_path / "out", data_dir=folder)
    _one_line_error(code, err, expected)
    assert not (tmp_path / "out" / "checkpoint").exists()


def test_small_images_get_advice_the_user_can_follow(tmp_path, caplog):
    """"use a smaller --patch" at --patch 8 (the least), and "skipped 1 training images" for a
    --downscale copy of an image that was used."""
    import logging

    from sr_desktop.engine.training.data import PatchSource
    from sr_desktop.engine.training.degradations import parse_degradation
    from sr_desktop.engine.training.errors import TrainingError

    folder = make_images(tmp_path / "d", 1, 24, seed=0)
    with pytest.raises(TrainingError) as refused:
        PatchSource([folder], 4, 8, parse_degradation("bicubic"))
    assert str(refused.value).endswith("(the patch 8 × scale 4; the largest has a side of 24): use larger images")
    with pytest.raises(TrainingError) as refused:  # (16 at ×4 needs 64 px: --patch 8 would need 32, not 24 either)
        PatchSource([folder], 4, 16, parse_degradation("bicubic"))
    assert str(refused.value).endswith("the largest has a side of 24): use larger images")
    with pytest.raises(TrainingError) as refused:
        PatchSource([folder], 2, 16, parse_degradation("bicubic"))  # (--patch 8 at ×2 takes a 24 px image)
    assert str(refused.value).endswith("use larger images, or a smaller --patch (at least 8)")
    with pytest.raises(TrainingError) as refused:  # (a resumed run's --patch is its checkpoint's)
        PatchSource([folder], 2, 16, parse_degradation("bicubic"), patch_fixed=True)
    assert str(refused.value).endswith("the largest has a side of 24): use larger images")
    from sr_desktop.engine.training.data import MixedScaleSource

    with pytest.raises(TrainingError) as refused:  # (it said "the patch 8 × scale 4", a patch never typed)
        MixedScaleSource([folder], [2, 4], 12, parse_degradation("bicubic"))
    assert str(refused.value).startswith("at ×4 of --scale 2 4, --patch 12 is 8 LR pixels: no training image is "
                                         "at least 32×32 pixels (the patch 8 × scale 4")
    make_images(tmp_path / "d2", 1, 40, seed=0)
    with caplog.at_level(logging.WARNING, logger="sr_desktop.engine.training.data"):
        source = PatchSource([tmp_path / "d2"], 2, 16, parse_degradation("bicubic"), downscales=(0.5,))
    assert len(source.entries) == 1 and [r.getMessage() for r in caplog.records] == [
        "left out 1 downscaled copies (--downscale) smaller than 32×32; their images are used"]


def test_a_data_folder_that_cannot_be_listed_is_named(tmp_path, capsys, monkeypatch):
    """An unreadable folder was taken for an empty one ("no images in DIR"), an unreadable
    subfolder's images were left out without a word; a hidden one is not looked into."""
    import os

    data = make_images(tmp_path / "d", 2, 48, seed=1)
    make_images(data / "sub", 1, 48, seed=2)
    (data / ".hidden").mkdir()
    real_scandir = os.scandir

    def scandir(path="."):
        if os.path.basename(os.fspath(path)) in ("sub", ".hidden"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, err = _train(capsys, tmp_path / "out", data_dir=data)
    _one_line_error(code, err, f"cannot list the folder {data / 'sub'}: Permission denied")
    code, err = _train(capsys, tmp_path / "out", data_dir=data / "sub")
    _one_line_error(code, err, f"cannot list the folder {data / 'sub'}: Permission denied")


@pytest.mark.parametrize("setup, expected", [
    ("unreadable", "cannot read validation image"),
    ("small", "no validation image large enough to measure at ×2 in "),
])
def test_bad_validation_data(tmp_path, capsys, data, setup, expected):
    val = tmp_path / "val"
    val.mkdir()
    if setup == "unreadable":
        make_images(val, 1, 48, seed=1)
        (val / "broken.png").write_bytes(b"not a png at all")
    else:  # 10² images: too small to score at ×2 (12² is the least: 2 shaved each side, an SSIM window)
        for name in ("a.png", "b.png"):
            PILImage.fromarray(np.full((10, 10, 3), 128, np.uint8)).save(val / name)
    code, err = _train(capsys, tmp_path / "out", "--val", str(val), data_dir=data)
    _one_line_error(code, err, expected)
    if setup == "small":
        assert err.rstrip().endswith(": a.png (10×10); b.png (10×10)")
    assert not (tmp_path / "out" / "checkpoint").exists()


def test_validation_scores_what_the_bench_measures_and_names_what_it_leaves_out(tmp_path, capsys, data):
    """Images under 8×scale were left out of validation without a word (a 20×20 icon at ×4):
    its numbers differed from `sr-desktop bench` on the same folder (30.80 against 24.86 dB).
    It now scores what the bench measures and names what it cannot."""
    from sr_desktop.engine.metrics.evaluate import evaluate_dataset
    from sr_desktop.engine.training.degradations import parse_degradation
    from sr_desktop.engine.training.validation import ValidationSet

    val = tmp_path / "val"
    make_images(val, 1, 48, seed=1)
    PILImage.fromarray(np.random.default_rng(2).integers(0, 256, (20, 20, 3), np.uint8)).save(val / "icon.png")
    PILImage.fromarray(np.full((16, 16, 3), 99, np.uint8)).save(val / "tiny.png")
    scored = ValidationSet(val, [], 4, parse_degradation("bicubic"))
    assert scored.names == ["icon", "img0"] and scored.left_out_note() == (
        "validation leaves out 1 image(s) too small to measure at ×4: tiny.png (16×16)")
    code, err = _train(capsys, tmp_path / "out", "--val", str(val), "--iterations", "1", "--patch", "8",
                       "--quiet", scale="4", data_dir=data)
    assert code == 0 and err == ("sr-desktop: validation leaves out 1 image(s) too small to measure at ×4: "
                                 "tiny.png (16×16)")
    (val / "tiny.png").unlink()
    bench = evaluate_dataset(val, "bicubic", 4)
    assert scored.bicubic().psnr_y == pytest.approx(bench.psnr_y, abs=0.01)


@pytest.mark.parametrize("arch, scale, extra, expected", [
    ("NoSuchNet", "2", (), "unknown or untrainable architecture"),
    (TINY, "2", ("--loss", "l1:1,sharpness:2"), "unknown loss 'sharpness'"),
    ("LapSRN:depth=1,num_feat=8", "3", (), "LapSRN cannot do ×3"),
    ("MSRResNet:num_feat=8,num_block=1", "8", (), "MSRResNet"),
    ("EDSR:num_feet=8", "2", (), "EDSR has no option num_feet; its options: num_in_ch, num_out_ch, num_feat, "),
    ("RDN:num_feat=8", "2", (), "RDN has no option num_feat; its options: num_in_ch, num_out_ch, g0, "),
    ("EDSR:num_feat=abc", "2", (), "EDSR option num_feat takes a whole number (default 64), got 'abc'"),
    ("EDSR:num_feat=8.0", "2", (), "EDSR option num_feat takes a whole number (default 64), got 8.0"),
    ("EDSR:num_feat=0,num_block=1", "2", (), "has layers without weights"),
    (TINY, "2", ("--degradation", "blurry"), "unknown degradation"),
    (TINY, "2", ("--degradation", "kernel:/no/such/kernel.npy"), "kernel"),
    (TINY, "2", ("--resume",), "nothing to resume"),
    (TINY, "2", ("--lr", "-1"), "--lr"),
    (TINY, "2", ("--ema", "2"), "--ema must be in [0, 1), got 2.0"),
    (TINY, "2", ("--grad-clip", "-1"), "--grad-clip must be 0 (off) or more, got -1.0"),
    (TINY, "2", ("--cache-mb", "-1"), "--cache-mb must be 0 or more, got -1"),
    # the window's progress bar and Iterations box count in 32 bits
    (TINY, "2", ("--iterations", "3000000000"), "--iterations must be at most 1,000,000,000, got 3,000,000,000"),
    (TINY, "2", ("--val", "/no/such/folder"), "--val folder /no/such/folder: not found"),
    # 99999 crashed in OpenBLAS's thread start (exit 139, "interrupted"); 20000: libgomp's one line
    (TINY, "2", ("--threads", "99999"), "--threads must be between 1 and 1024, got 99999"),
    (TINY, "2", ("--threads", "0"), "--threads must be between 1 and 1024, got 0"),
])
def test_bad_options(tmp_path, capsys, data, arch, scale, extra, expected):
    code, err = _train(capsys, tmp_path / "out", *extra, arch=arch, scale=scale, data_dir=data)
    _one_line_error(code, err, expected)
    assert not (tmp_path / "out" / "checkpoint").exists()


def test_an_out_that_is_a_file_and_a_bad_seed_are_one_line(tmp_path, capsys, data):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    code, err = _train(capsys, a_file, data_dir=data)
    _one_line_error(code, err, "is a file; the run's folder must be a folder")
    assert a_file.read_text() == "mine"
    for seed in ("-1", "99999999999999999999", "1.5"):
        with pytest.raises(SystemExit) as exc:  # argparse's usage error
            _train(capsys, tmp_path / "out", "--seed", seed, data_dir=data)
        assert exc.value.code == 2
    assert "a seed is a whole number" in capsys.readouterr().err


def test_no_vgg_weights_for_a_perceptual_loss(tmp_path, capsys, data, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    code, err = _train(capsys, tmp_path / "out", "--loss", "l1:1,perceptual:0.01", data_dir=data)
    _one_line_error(code, err, "VGG19")
    assert "nothing is downloaded" in err


def test_disk_full_while_checkpointing_keeps_the_previous_one(tmp_path, capsys, data, monkeypatch):
    real_write = checkpoint_module.atomic_write
    calls = {"n": 0}

    def filling_disk(target, encode):
        calls["n"] += 1
        if calls["n"] > 3:  # the first checkpoint's three files go through
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(target, encode)

    monkeypatch.setattr(checkpoint_module, "atomic_write", filling_disk)
    before = [s.id for s in list_custom_specs()]
    out = tmp_path / "out"
    code, err = _train(capsys, out, "--checkpoint-every", "5", "--val-every", "20", "--name", "never registered",
                       data_dir=data)
    _one_line_error(code, err, "No space left on device")
    latest = json.loads((out / "checkpoint" / "latest.json").read_text())
    assert latest["iteration"] == 5
    files = sorted(p.name for p in (out / "checkpoint").iterdir())
    assert files == ["latest.json", "state-00000005.pt", "weights-00000005.safetensors"]
    ckpt = checkpoint_module.load_checkpoint(out / "checkpoint")  # still complete and readable
    assert ckpt.iteration == 5 and ckpt.tensors["net"]
    assert not (out / "model.safetensors").exists()
    assert [s.id for s in list_custom_specs()] == before
    # and the run resumes from it once there is room again
    monkeypatch.setattr(checkpoint_module, "atomic_write", real_write)
    code, err = _train(capsys, out, "--checkpoint-every", "5", "--val-every", "20", "--resume", data_dir=data)
    assert code == 0, err
    assert json.loads((out / "checkpoint" / "latest.json").read_text())["iteration"] == 20


def test_a_full_disk_while_logging_names_the_file(tmp_path, capsys, data, monkeypatch):
    from sr_desktop.engine.training import runlog

    real_open = open

    def full_for_the_log(file, mode="r", *args, **kwargs):
        if str(file).endswith("log.jsonl") and "a" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")  # as a write fails: no file name
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(runlog, "open", full_for_the_log, raising=False)
    code, err = _train(capsys, tmp_path / "out", data_dir=data)
    _one_line_error(code, err, "cannot write the run log ")
    assert "log.jsonl: No space left on device" in err


def test_resuming_a_finished_run_keeps_its_registration(tmp_path, capsys, data, monkeypatch):
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    code, err = _train(capsys, out, "--name", "k9", "--val-every", "20", data_dir=data)
    assert code == 0, err
    first = [s.id for s in list_custom_specs()]
    assert first == ["custom-k9"]
    code, err = _train(capsys, out, "--name", "k9", "--val-every", "20", "--resume", data_dir=data)
    assert code == 0, err
    assert [s.id for s in list_custom_specs()] == first  # it registered custom-k9-2 as well


def test_a_trained_fsrcnn_keeps_its_scale_whatever_its_name(tmp_path, capsys, data, monkeypatch):
    """FSRCNN's weights do not hold the scale: `--name "photo x4"` registered a ×2 network
    as ×4 (the scale was read from the first `xN` of the name), and `models add` of the run's
    own model.safetensors was refused; the scale the file records in its metadata counts."""
    from sr_desktop.engine.models.custom import add_custom_model

    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    out = tmp_path / "ref1"
    code, err = _train(capsys, out, "--name", "photo x4", "--val-every", "20", arch="FSRCNN:d=8,s=4,m=1",
                       data_dir=data)
    assert code == 0, err
    (named,) = list_custom_specs()
    assert (named.id, named.scales) == ("custom-photo-x4", [2])
    # (not a deleted temporary copy)
    assert named.description.split("; ")[0].endswith(f"added from {out / 'model.safetensors'}")
    added = add_custom_model(out / "model.safetensors")
    assert (added.id, added.name, added.scales) == ("custom-ref1", "ref1", [2])  # named after its run


def test_train_takes_the_devices_its_help_offers(tmp_path, capsys, data):
    """`--device cuda:0` was refused as not one of auto, cpu, cuda, mps; it now reaches the
    device check (this machine may have no GPU: then that says so)."""
    code, err = _train(capsys, tmp_path / "out", "--device", "cuda:0", data_dir=data)
    assert "--device must be one of" not in err
    if code != 0:
        assert code == 2 and "CUDA" in err and "\n" not in err and not (tmp_path / "out").exists()
    with pytest.raises(SystemExit):  # vulkan runs the zoo's models only: a usage error
        _train(capsys, tmp_path / "out2", "--device", "vulkan", data_dir=data)


def test_resume_refuses_other_images_and_takes_the_same_settings_however_written(tmp_path, capsys, data):
    """A resume with other --data, --val or --ema changed the run without a word; one with
    `--loss l1` (the checkpoint's `l1:1`) or the architecture's options in another order was
    refused. A run folder inside its images folder is refused (its pictures became images)."""
    out = tmp_path / "out"
    arch = "SRVGGNetCompact:num_feat=8,num_conv=2"
    code, err = _train(capsys, out, "--iterations", "4", "--val-every", "20", arch=arch, data_dir=data)
    assert code == 0, err
    other = make_images(tmp_path / "other", 2, 48, seed=9)
    for extra, what in (([], f"--data {data}, not {other}"), (["--ema", "0"], "--ema 0.999, not 0.0")):
        code, err = _train(capsys, out, "--resume", *extra, arch=arch,
                           data_dir=other if "--data" in what else data)
        assert code == 2 and f"cannot resume: the run was made with {what}" in err, err
    code, err = _train(capsys, out, "--resume", "--loss", "l1", arch="srvggnetcompact:num_conv=2,num_feat=8",
                       data_dir=data)
    assert code == 0, err
    code, err = _train(capsys, data / "run", arch=arch, data_dir=data)
    assert code == 2 and "is inside the --data folder" in err and not (data / "run").exists()


def test_resume_takes_the_runs_own_settings_for_the_flags_left_out(tmp_path, capsys, data):
    """`--resume` compared the run with the defaults of the flags left out, one at a time and
    in Python's words: "made with batch=2, not 16", then "patch=16, not 48"."""
    out = tmp_path / "out"
    made = ["--loss", "l1:1,mse:0.5", "--seed", "3", "--ema", "0", "--schedule", "step", "--downscale", "0.9"]
    code, err = _train(capsys, out, "--iterations", "4", "--val-every", "20", *made, data_dir=data)
    assert code == 0, err
    argv = ["train", "--arch", TINY, "--scale", "2", "--data", str(data), "--out", str(out), "--resume",
            "--iterations", "6", "--workers", "1", "--threads", "1", "-q"]
    assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()
    recorded = checkpoint_module.recorded_settings(out / "checkpoint")
    assert (recorded["batch"], recorded["patch"], recorded["seed"], recorded["ema"]) == (2, 16, 3, 0.0)
    assert (recorded["loss"], recorded["schedule"], recorded["downscales"]) == ("l1:1,mse:0.5", "step", [0.9])
    for extra, said in ((["--batch", "4"], "--batch 2, not 4"), (["--downscale", "0.8"], "--downscale 0.9, not 0.8"),
                        (["--seed", "0"], "--seed 3, not 0")):
        assert main([*argv, "--iterations", "8", *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"sr-desktop: error: cannot resume: the run was made with {said}", err


def test_a_run_of_one_iteration_says_one_iteration(tmp_path, capsys, data):
    argv = ["train", "--arch", TINY, "--scale", "2", "--out", str(tmp_path / "out"), "--iterations", "1",
            "--batch", "2", "--patch", "16", "--workers", "1", "--threads", "1", "-q", "--data", str(data)]
    assert main(argv) == 0
    assert "trained SRVGGNetCompact ×2: 1 iteration in " in capsys.readouterr().out  # "1 iterations"


def test_resuming_a_finished_run_says_there_was_nothing_left(tmp_path, capsys, data):
    """It printed '20 iterations in 0.0 s (0.00 it/s)'."""
    out = tmp_path / "out"
    assert _train(capsys, out, "--val-every", "20", data_dir=data)[0] == 0
    argv = ["train", "--arch", TINY, "--scale", "2", "--out", str(out), "--iterations", "20", "--batch", "2",
            "--patch", "16", "--workers", "1", "--threads", "1", "-q", "--data", str(data), "--resume"]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "20 iterations (the checkpoint was at the last one: nothing left to train)" in said
    assert "it/s" not in said


def test_a_val_or_data_folder_where_the_run_writes_is_refused(tmp_path, capsys, data):
    """--out proj with --val proj/val: the run wrote its previews (sr-*, lr-*, hr-*) among the
    user's validation images, and the next run validated on them (bicubic 33.92 -> 22.85 dB)."""
    import shutil

    proj = tmp_path / "proj"
    shutil.copytree(data, proj / "val")
    before = sorted(p.name for p in (proj / "val").iterdir())
    code, err = _train(capsys, proj, "--val", str(proj / "val"), data_dir=data)
    _one_line_error(code, err, f"--val {proj / 'val'} is the run's folder val/ of --out {proj}")
    assert sorted(p.name for p in (proj / "val").iterdir()) == before
    code, err = _train(capsys, proj, data_dir=proj / "val")
    _one_line_error(code, err, "--data")


def test_running_out_of_memory_is_one_line(tmp_path, capsys, data, monkeypatch):
    # an "unexpected error: MemoryError …" with exit 3 before
    from sr_desktop.engine.training import loop

    def no_memory(self, *args, **kwargs):
        raise MemoryError("Unable to allocate 768. MiB")

    monkeypatch.setattr(loop.Trainer, "run", no_memory)
    code, err = _train(capsys, tmp_path / "out", data_dir=data)
    _one_line_error(code, err, "not enough memory for batches of 2 patches of 16 px")


def test_a_second_run_in_a_run_folder_is_refused_and_a_killed_runs_lock_is_gone(tmp_path, capsys, data):
    """Two runs in one --out deleted each other's checkpoint files: latest.json could name a
    file that was gone, and the run was lost ("no checkpoint to resume")."""
    from sr_desktop.engine.training.run_lock import LOCK_NAME, run_folder_lock

    out = tmp_path / "out"
    out.mkdir()
    with run_folder_lock(out):  # a run of this process, as a second window's would be
        code, err = _train(capsys, out, data_dir=data)
        _one_line_error(code, err, f"{out} is being trained by process {os.getpid()}")
        assert not (out / "checkpoint").exists()
    # another process that holds it, then is killed: the system drops its lock with it
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from sr_desktop.engine.training.run_lock import run_folder_lock\n"
        "with run_folder_lock(Path(sys.argv[1])):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"), str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, err = _train(capsys, out, data_dir=data)
        _one_line_error(code, err, f"{out} is being trained by process {holder.pid}")
    finally:
        holder.kill()
        holder.wait()
    (out / LOCK_NAME).write_text("1")  # a pid in use now: not a lock (a reused pid locked the folder for good)
    code, err = _train(capsys, out, "--iterations", "2", data_dir=data)
    assert code == 0, err
    assert (out / "model.safetensors").is_file()
    # a refused --resume that changes the schedule says the refusal alone: it said "resumed
    # with another learning-rate schedule: --iterations 2 → 4" first, of a run never resumed
    with run_folder_lock(out):
        code, err = _train(capsys, out, "--resume", "--iterations", "4", data_dir=data)
        _one_line_error(code, err, f"{out} is being trained by process {os.getpid()}")


def test_a_resumed_runs_eta_counts_only_the_iterations_since_the_resume(monkeypatch):
    """Resumed at 2138 of 20000, the window said "34.65 it/s · ETA 25.0 s" for about 8.5
    minutes of training: the checkpoint's iterations counted as done since the resume."""
    from sr_desktop.engine.core import progress as progress_module

    clock = iter([100.0, 110.0])
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    heard = []
    tracker = progress_module.ProgressTracker(20000, heard.append, stage="training", first=2000)
    tracker.update(2100)  # 100 iterations in 10 s since the resume
    assert heard[0].eta == pytest.approx(10.0 / 100 * (20000 - 2100))


def test_a_pause_is_left_out_of_the_eta_and_the_reported_speed(tmp_path, data):
    """Paused for a coffee, the run came back with an ETA and an it/s that counted the pause
    as training time."""
    import threading
    import time

    from sr_desktop.engine.core.progress import TRAINING_SETUP_STAGE
    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    pause, heard = threading.Event(), []

    def progress(info):
        if info.stage == TRAINING_SETUP_STAGE:  # (the steps before the first iteration)
            return
        heard.append(info)
        if info.done == 3:  # the dialog's Pause, then Continue 1.5 s later
            pause.set()
            threading.Timer(1.5, pause.clear).start()

    options = TrainOptions(arch=TINY, scale=2, data=(str(data),), out=str(tmp_path / "out"), iterations=8,
                           batch=2, patch=16, workers=1, val_every=100)
    began = time.perf_counter()
    result = train(options, progress, pause=pause)
    wall = time.perf_counter() - began
    assert result.seconds < wall - 1.4, (result.seconds, wall)
    after = heard[3]  # iteration 4, the first after the pause
    assert after.done == 4 and after.elapsed < heard[2].elapsed + 1.0, (heard[2].elapsed, after.elapsed)
    assert after.eta < heard[2].elapsed + 1.0  # 4 iterations to go at the speed of the first 4


def test_cancel_stops_the_reading_of_the_training_images(tmp_path, data, monkeypatch):
    """Cancel while the dialog said "Reading the images…" waited for the whole folder (14 s
    for forty 1000² photos), then said a checkpoint was saved when none was."""
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken
    from sr_desktop.engine.training import data as data_module
    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    cancel, read = CancelToken(), []
    real = data_module.read_rgb8_noting_grey

    def reading(path, *args):
        read.append(path)
        cancel.cancel()  # the user presses Cancel during the first image
        return real(path, *args)

    monkeypatch.setattr(data_module, "read_rgb8_noting_grey", reading)
    options = TrainOptions(arch=TINY, scale=2, data=(str(data),), out=str(tmp_path / "out"), iterations=5,
                           batch=2, patch=16, workers=1)
    with pytest.raises(Cancelled):
        train(options, cancel=cancel)
    assert len(read) == 1 and not (tmp_path / "out" / "checkpoint").exists()


def _garbage_after(reads: int, real):
    """`read_rgb8` whose images become unreadable after `reads` reads (overwritten mid-run)."""
    from sr_desktop.engine.core.errors import ImageReadError

    done = []

    def read(path):
        done.append(path)
        if len(done) > reads:
            raise ImageReadError(path, "not an image file")
        return real(path)

    return read


def test_an_image_that_becomes_unreadable_mid_run_saves_the_run_first(tmp_path, data, monkeypatch):
    """With images read again for each batch (more than the cache holds), one overwritten
    with garbage stopped the run with "cannot read …" and the iterations since the last
    checkpoint (all of them: none was written yet) were lost, with no word of --resume."""
    from sr_desktop.engine.training import data as data_module
    from sr_desktop.engine.training.checkpoint import load_checkpoint
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.loop import train
    from sr_desktop.engine.training.options import TrainOptions

    real = data_module.read_rgb8
    monkeypatch.setattr(data_module, "read_rgb8", _garbage_after(12, real))
    options = TrainOptions(arch=TINY, scale=2, data=(str(data),), out=str(tmp_path / "out"), iterations=40,
                           batch=2, patch=16, workers=1, cache_mb=0, val_every=100)
    with pytest.raises(TrainingError) as stopped:
        train(options)
    message = str(stopped.value)
    assert "not an image file" in message and "--resume" in message and "\n" not in message
    checkpoint = load_checkpoint(tmp_path / "out" / "checkpoint")
    assert 0 < checkpoint.iteration < 40 and f"iteration {checkpoint.iteration}, its checkpoint saved" in message
    monkeypatch.setattr(data_module, "read_rgb8", real)  # the image mended
    assert train(replace(options, resume=True)).iterations == 40


def test_a_loss_become_nan_keeps_the_last_good_checkpoint(tmp_path, data, monkeypatch):
    """The state itself gone wrong is not saved over the last good checkpoint (the first
    version of the save-on-error wrote iteration 21's ruined weights over 20's)."""
    from sr_desktop.engine.training import loop
    from sr_desktop.engine.training.checkpoint import load_checkpoint
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.options import TrainOptions

    real_step = loop.Trainer.step

    def diverging(self, lr, hr):
        if self.iteration == 14:
            raise TrainingError("the loss became nan at iteration 15; lower --lr")
        return real_step(self, lr, hr)

    monkeypatch.setattr(loop.Trainer, "step", diverging)
    options = TrainOptions(arch=TINY, scale=2, data=(str(data),), out=str(tmp_path / "out"), iterations=40,
                           batch=2, patch=16, workers=1, val_every=100, checkpoint_every=10)
    with pytest.raises(TrainingError, match="became nan"):
        loop.train(options)
    assert load_checkpoint(tmp_path / "out" / "checkpoint").iteration == 10


def test_resume_takes_the_starting_model_however_its_path_is_written(tmp_path, capsys, data, monkeypatch):
    # "cannot resume: the checkpoint was made with init='runs/n1/model.safetensors', not
    # './runs/n1/model.safetensors'"
    monkeypatch.chdir(tmp_path)
    code, err = _train(capsys, "first", "--iterations", "2", data_dir=data)
    assert code == 0, err
    code, err = _train(capsys, "tuned", "--iterations", "2", "--init", "first/model.safetensors", data_dir=data)
    assert code == 0, err
    code, err = _train(capsys, "tuned", "--iterations", "4", "--resume", "--init", "./first//model.safetensors",
                       data_dir=data)
    assert code == 0, err


def test_init_with_other_sizes_than_arch_asks_for_is_one_line(tmp_path, capsys, data, monkeypatch):
    """`--arch EDSR:num_feat=32 --init` of a 16-feature model trained and exported the
    16-feature network while its checkpoint recorded 32."""
    monkeypatch.chdir(tmp_path)
    code, err = _train(capsys, "first", "--iterations", "2", data_dir=data)
    assert code == 0, err
    code, err = _train(capsys, "wide", "--iterations", "2", "--init", "first/model.safetensors", data_dir=data,
                       arch="SRVGGNetCompact:num_feat=16,num_conv=2")
    _one_line_error(code, err, "has num_feat=8, not what --arch")
    assert not (tmp_path / "wide" / "checkpoint").exists()
    code, err = _train(capsys, "same", "--iterations", "2", "--init", "first/model.safetensors", data_dir=data,
                       arch="SRVGGNetCompact")  # no sizes asked: the model's own
    assert code == 0, err
    # an alias's preset sizes are not asked for either (train --help's own example: --arch Compact
    # --init an added Compact of other sizes was refused, "has num_conv=…, not what --arch Compact asks")
    code, err = _train(capsys, "alias", "--iterations", "2", "--init", "first/model.safetensors", data_dir=data,
                       arch="Compact")
    assert code == 0, err
    assert "its own sizes are fine-tuned (num_feat=8, num_conv=2), not Compact's (num_feat=64, num_conv=16)" in err


def test_a_taken_name_is_said_as_registered(tmp_path, capsys, data, monkeypatch):
    # the model was registered as "twin (2)" but the line said only "registered as custom-twin-2"
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    for run in ("a", "b"):
        assert main(["train", "--arch", TINY, "--scale", "2", "--out", str(tmp_path / run), "--iterations", "2",
                     "--batch", "2", "--patch", "16", "--workers", "1", "--threads", "1", "-q", "--data", str(data),
                     "--name", "twin"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "registered as custom-twin-2: twin (2)"


def test_curves_that_cannot_be_written_do_not_stop_the_run(tmp_path, capsys, data, monkeypatch, caplog):
    """A full disk while writing curves.png stopped the run with "No space left on device",
    naming no file, and without a checkpoint."""
    import logging

    from sr_desktop.engine.training import loop

    def disk_full(path, *args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(loop, "write_curves", disk_full)
    with caplog.at_level(logging.WARNING, logger=loop.__name__):
        code, err = _train(capsys, tmp_path / "out", "--iterations", "4", "--val-every", "2", data_dir=data)
    assert code == 0, err
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert any("curves.png: No space left on device; training goes on" in r.message for r in caplog.records)


def test_an_earlier_runs_model_is_never_replaced_by_a_new_run(tmp_path, capsys, data):
    # a folder whose checkpoint/ was removed: the new run wrote over its model.safetensors
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"the earlier model")
    code, err = _train(capsys, out, data_dir=data)
    _one_line_error(code, err, "holds an earlier run's model.safetensors")
    assert (out / "model.safetensors").read_bytes() == b"the earlier model"


def test_a_run_stopped_before_any_checkpoint_does_not_say_one_is_kept(tmp_path, data, monkeypatch):
    """A full disk at the first checkpoint: "the checkpoint of iteration 0 is kept: continue
    with --resume", and --resume then found none."""
    from sr_desktop.engine.training import data as data_module
    from sr_desktop.engine.training import loop
    from sr_desktop.engine.training.errors import TrainingError
    from sr_desktop.engine.training.options import TrainOptions

    def disk_full(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data_module, "read_rgb8", _garbage_after(12, data_module.read_rgb8))
    monkeypatch.setattr(loop.Trainer, "save_checkpoint", disk_full)
    options = TrainOptions(arch=TINY, scale=2, data=(str(data),), out=str(tmp_path / "out"), iterations=40,
                           batch=2, patch=16, workers=1, cache_mb=0, val_every=100)
    with pytest.raises(TrainingError) as stopped:
        loop.train(options)
    assert str(stopped.value).endswith("(stopped before any checkpoint was saved: start the run again)")


def test_cancel_during_a_validation_stops_it_and_keeps_the_iterations(tmp_path, data, monkeypatch):
    """Ctrl+C while a validation ran waited for all of it (25 s of Set14 for EDSR-baseline);
    it stops at the next image now, and the iterations before it are checkpointed."""
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.core.progress import CancelToken
    from sr_desktop.engine.training import loop
    from sr_desktop.engine.training.checkpoint import load_checkpoint
    from sr_desktop.engine.training.options import TrainOptions

    cancel = CancelToken()
    real = loop.Trainer.evaluated_net

    def pressed_as_it_starts(self):
        if self.iteration == 6:
            cancel.cancel()
        return real(self)

    monkeypatch.setattr(loop.Trainer, "evaluated_net", pressed_as_it_starts)
    options = TrainOptions(arch=TINY, scale=2, data=(str(data),), out=str(tmp_path / "out"), iterations=40,
                           batch=2, patch=16, workers=1, val_every=3, checkpoint_every=100)
    with pytest.raises(Cancelled):
        loop.train(options, cancel=cancel)
    assert load_checkpoint(tmp_path / "out" / "checkpoint").iteration == 6
    log = (tmp_path / "out" / "log.jsonl").read_text()
    assert '"kind": "val", "it": 3,' in log and '"kind": "val", "it": 6,' not in log


def test_a_kernel_whose_size_says_another_scale_is_noted(tmp_path, capsys, monkeypatch):
    """A ×2 estimate (the kernel command's default) made a ×4 run's pairs without a word."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    data = make_images(tmp_path / "data", 2, 48, seed=1)
    np.save(tmp_path / "k2.npy", np.outer([1, 2, 1], [1, 2, 1]) / 16.0)
    assert main(["train", "--arch", "SRCNN:n1=8,n2=4", "--scale", "4", "--data", str(data), "--degradation",
                 f"kernel:{tmp_path / 'k2.npy'}", "--iterations", "1", "--batch", "2", "--patch", "12",
                 "--device", "cpu", "--out", str(tmp_path / "run"), "-q"]) == 0
    assert ("sr-desktop: note: k2.npy is 3×3, the size of a ×2 kernel; at ×4 the training images are blurred "
            "with it as given") in capsys.readouterr().err


def test_a_run_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch):
    """A run folder the system refuses was an "unexpected error" (the window) or a bare
    "sr_run: No such file or directory" (the command line) after the images were read; it is
    refused with the options, and a folder that fails later still names the run folder."""
    from sr_desktop.engine.imageio import atomic
    from sr_desktop.engine.training import Trainer, TrainOptions
    from sr_desktop.engine.training.errors import TrainingError

    data = make_images(tmp_path / "data", 2, 48, seed=1)

    def refused(folder):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(atomic, "probe_writable", refused)
        with pytest.raises(TrainingError, match=rf"^--out {tmp_path / 'run'}: cannot write in {tmp_path}: "
                                                 "Permission denied$"):
            TrainOptions(arch="SRCNN:n1=8,n2=4", scale=2, data=(str(data),), out=str(tmp_path / "run"))
    trainer = Trainer(TrainOptions(arch="SRCNN:n1=8,n2=4", scale=2, data=(str(data),), out=str(tmp_path / "run"),
                                   iterations=1, batch=2, patch=12, device="cpu"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "val").write_text("a file where the run's folder goes")
    with pytest.raises(TrainingError, match=rf"^cannot create the run folder {tmp_path / 'run'}: "):
        trainer.run()


def test_vgg_weights_for_a_loss_without_a_vgg_term_are_noted(tmp_path, capsys, monkeypatch):
    """`--vgg-weights missing.pth` with the L1 loss went unused without a word."""
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    data = make_images(tmp_path / "data", 2, 48, seed=1)
    assert main(["train", "--arch", "SRCNN:n1=8,n2=4", "--scale", "2", "--data", str(data), "--vgg-weights",
                 str(tmp_path / "missing.pth"), "--iterations", "1", "--batch", "2", "--patch", "12",
                 "--device", "cpu", "--out", str(tmp_path / "run"), "-q"]) == 0
    assert ("sr-desktop: note: --vgg-weights is for the perceptual and texture losses; --loss l1:1 has neither, "
            "so it is not used\n") in capsys.readouterr().err


def test_a_data_folder_s_hidden_folders_are_not_training_data(tmp_path):
    """A dataset copied with its ``.ipynb_checkpoints``/``.thumbnails`` trained on them too."""
    from sr_desktop.engine.training.data import list_images

    for name in ("a.png", ".thumbnails/t.png", "sub/b.png", ".c.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        PILImage.new("RGB", (8, 8)).save(tmp_path / name)
    assert [p.relative_to(tmp_path).as_posix() for p in list_images([tmp_path])] == ["a.png", "sub/b.png"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_data_folder_s_linked_folders_are_walked_and_a_link_to_nothing_is_named(tmp_path):
    """The images of a linked sub-folder, and a link to nothing, were left out without a word
    (a run never says how many images it used); a link back up must not loop."""
    from sr_desktop.engine.training.data import list_images

    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    for name in (data / "a.png", elsewhere / "b.png"):
        name.parent.mkdir(parents=True, exist_ok=True)
        PILImage.new("RGB", (8, 8)).save(name)
    (data / "linked").symlink_to(elsewhere)
    (elsewhere / "up").symlink_to(data)  # (data/linked/up is data again)
    assert [p.relative_to(data).as_posix() for p in list_images([data])] == ["a.png", "linked/b.png"]
    (data / "broken.png").symlink_to(tmp_path / "nowhere.png")
    assert data / "broken.png" in list_images([data])  # (the run then stops naming it, as for a bad file)


def test_the_run_log_keeps_small_numbers(tmp_path):
    """log.jsonl rounded to 6 decimals: a learning rate of 1.5e-8 was written 0.0 and a good
    model's MSE kept 1-3 significant digits."""
    from sr_desktop.engine.training.runlog import RunLog

    log = RunLog(tmp_path / "log.jsonl")
    log.add("train", 5, lr=1.5e-8, loss=0.000123456789, psnr=36.123456789)
    record = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])
    assert (record["lr"], record["loss"], record["psnr"]) == (1.5e-8, 0.000123457, 36.123457)


def test_scale_and_downscale_given_twice_add_up():
    """`--scale 2 --scale 3` trained ×3 alone and `--downscale 0.9 --downscale 0.8` used 0.8
    alone, without a word (--data and bench's --model add up too)."""
    from sr_desktop.cli.main import build_parser

    args = build_parser().parse_args(["train", "--arch", "srcnn", "--scale", "2", "--scale", "3", "--data", "a",
                                      "--data", "b", "--downscale", "0.9", "--downscale", "0.8", "--out", "x"])
    assert (args.scale, args.data, args.downscale) == ([2, 3], ["a", "b"], [0.9, 0.8])


def test_every_unreadable_training_image_is_named_not_the_first_alone(tmp_path, capsys):
    """One broken file refused the folder naming it alone, after decoding every image before it."""
    data = make_images(tmp_path / "data", 3, 48, seed=0)
    for i in range(4):
        (data / f"broken{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    assert main(["train", "--arch", "srcnn", "--scale", "2", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--iterations", "2", "--batch", "2", "--patch", "8", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "cannot read 4 training images: " in err and "broken0.png" in err and err.rstrip().endswith("(and 1 more)")


def test_12_bit_data_in_16_bit_files_is_said(tmp_path, caplog):
    """Microscope data of 12 bits stored in 16-bit PNGs trained as nearly black 16-level
    images without a word (the upscale keeps its 16 bits: the network saw another range)."""
    import logging

    import cv2

    from sr_desktop.engine.training.data import PatchSource
    from sr_desktop.engine.training.degradations import parse_degradation

    folder = tmp_path / "d"
    folder.mkdir()
    values = np.random.default_rng(0).integers(0, 4096, (48, 48)).astype(np.uint16)
    cv2.imwrite(str(folder / "m1.png"), values)
    with caplog.at_level(logging.WARNING, logger="sr_desktop.engine.training.data"):
        PatchSource([folder], 2, 8, parse_degradation("bicubic"))
    assert [r.getMessage() for r in caplog.records] == [
        "1 16-bit training image(s) hold values below 4096 only (12-bit data?), e.g. m1.png: trained as 8-bit "
        "images of 16 levels or fewer; scale their values to the whole 16 bits first"]
    caplog.clear()
    cv2.imwrite(str(folder / "m1.png"), values * 16)  # (the whole 16 bits: nothing to say)
    with caplog.at_level(logging.WARNING, logger="sr_desktop.engine.training.data"):
        PatchSource([folder], 2, 8, parse_degradation("bicubic"))
    assert caplog.records == []


def test_init_of_a_missing_ckpt_or_a_folder_says_what_it_is(tmp_path, capsys, data, monkeypatch):
    """`--init missing.ckpt` was told to `sr-desktop models add missing.ckpt` (.ckpt was not
    taken for a file name), `--init data/` to `models add data/`."""
    monkeypatch.chdir(tmp_path)
    code, err = _train(capsys, "a", "--init", "missing.ckpt", data_dir=data)
    _one_line_error(code, err, "missing.ckpt: not found")
    assert "models add" not in err
    code, err = _train(capsys, "b", "--init", str(data), data_dir=data)
    _one_line_error(code, err, "a folder, not a model id or file")


def test_init_of_a_file_that_is_no_model_names_it_once(tmp_path, capsys, data, monkeypatch):
    """`--init weird.pth` said "--init /…/weird.pth: unsupported model file /…/weird.pth: not
    an …": the file named twice in one line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weird.pth").write_bytes(b"junk")
    code, err = _train(capsys, "a", "--init", "weird.pth", data_dir=data)
    _one_line_error(code, err, "weird.pth: not an RRDBNet (ESRGAN)")
    assert err.count("weird.pth") == 1 and err.rstrip().endswith("(not a readable PyTorch file)")


def test_a_batch_that_cannot_fit_in_memory_is_refused_before_the_images_are_read(tmp_path, capsys, data,
                                                                                 monkeypatch):
    """`--batch 1000000` (a mistyped 100) swapped for minutes until the system killed the
    process, or failed with a memory error after the images were read; it is one line now,
    the layers' outputs counted on one patch, nothing made."""
    from sr_desktop.engine.training import loop, memory_check
    from sr_desktop.engine.training.networks import build_network

    monkeypatch.setattr(loop, "PatchSource", lambda *a, **k: pytest.fail("images read before refusing"))
    code, err = _train(capsys, tmp_path / "run", "--batch", "1000000", data_dir=data)
    _one_line_error(code, err, "--batch 1000000 of --patch 16 needs at least ")
    assert err.rstrip().endswith("GiB free: lower --batch or --patch") and not (tmp_path / "run").exists()
    # the count: SRCNN 9-5-5 of 8-4 filters on a 16-px ×2 patch (32² after its bicubic): its
    # three layers output 8 + 4 + 1 values a pixel (its ReLUs are functions, not counted)
    net = build_network("SRCNN:n1=8,n2=4", 2)
    assert memory_check.activation_elements(net, 16, 2) == 13 * 32 * 32
    assert memory_check.activation_elements(net, 48, 2) == 13 * 96 * 96  # (counted at 16 px, scaled)


def test_settings_without_a_flag_are_named_as_fields(tmp_path):
    """`TrainOptions(val_max_side=0)` said "--val-max-side must be …", `previews=-1` "--previews
    must be >= 0": flags `sr-desktop train` does not have (a review of stale names)."""
    from sr_desktop.engine.training import TrainOptions
    from sr_desktop.engine.training.errors import TrainingError

    for field, value, said in (("val_max_side", 0, "TrainOptions.val_max_side must be a positive integer, got 0"),
                               ("previews", -1, "TrainOptions.previews must be >= 0"),
                               ("val_every", -1, "--val-every must be >= 0")):
        with pytest.raises(TrainingError) as refused:
            TrainOptions(arch="SRCNN", scale=2, data=(str(tmp_path),), out=str(tmp_path / "run"), **{field: value})
        assert str(refused.value) == said
