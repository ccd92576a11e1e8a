"""The command line in scripts and pipelines: a closed pipe stops quietly (141), data never goes
onto a terminal, file lists take any name and standard input, logs hear a long batch, a
missing home or working folder is one line."""

from __future__ import annotations

import json
import logging
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sr_desktop.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _image(path: Path, size=(40, 32), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _closed_reader(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run sr-desktop with its standard output a pipe whose reader has closed it already."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "sr_desktop", *args], stdout=write, stderr=subprocess.PIPE,
                              cwd=cwd, env=ENV, timeout=240, text=True)
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [
    ["upscale", "in/a.png", "-o", "-", "--format", "png", "--model", "bicubic"],
    ["bench", "--dataset", "in", "--model", "bicubic", "--scale", "2", "--csv", "-", "--no-niqe", "-q"],
    ["batch", "in", "out", "--model", "bicubic", "--scale", "2", "--report", "-", "-q"],
], ids=["upscale", "bench", "batch"])
def test_a_closed_pipe_on_the_data_stops_quietly_with_141(tmp_path, args):
    """It was "error: a.png: cannot write /dev/stdout: Broken pipe" (1 of 1 file failed, exit
    1) or an error line with exit 2; `models | head` already stopped so."""
    _image(tmp_path / "in" / "a.png", (64, 64))
    run = _closed_reader(args, tmp_path)
    assert run.returncode == 141, run.stderr
    assert "Broken pipe" not in run.stderr and "Traceback" not in run.stderr and "failed" not in run.stderr


def test_an_image_is_not_written_onto_a_terminal(tmp_path):
    _image(tmp_path / "a.png")
    leader, follower = pty.openpty()
    try:
        run = subprocess.run([sys.executable, "-m", "sr_desktop", "upscale", "a.png", "-o", "-", "--format", "png",
                              "--model", "bicubic"], stdout=follower, stderr=subprocess.PIPE, cwd=tmp_path, env=ENV,
                             timeout=240, text=True)
    finally:
        os.close(follower)
        os.close(leader)
    assert run.returncode == 2
    assert run.stderr.strip() == ("sr-desktop: error: -o - writes the image into standard output, which is a "
                                  "terminal: redirect it (> out.png), pipe it, or name a file")


def test_a_device_named_without_a_format_takes_the_inputs(tmp_path, capsys):
    """`-o /dev/null`, the usual way to discard a result, asked for --format."""
    src = _image(tmp_path / "a.png")
    assert main(["upscale", str(src), "-o", os.devnull, "--model", "bicubic", "--scale", "2"]) == 0
    assert f"-> {os.devnull}" in capsys.readouterr().out


def test_a_quiet_bench_into_standard_output_says_nothing_else(tmp_path):
    _image(tmp_path / "in" / "a.png", (64, 64))
    run = subprocess.run([sys.executable, "-m", "sr_desktop", "bench", "--dataset", "in", "--model", "bicubic",
                          "--scale", "2", "--json", "-", "-q", "--no-niqe"], capture_output=True, cwd=tmp_path,
                         env=ENV, timeout=240, text=True)
    assert run.returncode == 0 and run.stderr == ""
    assert json.loads(run.stdout)["models"][0]["model"] == "bicubic"


def test_a_file_list_takes_any_name_nul_separated_lists_and_standard_input(tmp_path, monkeypatch):
    """`ls > list` of '#1.png', ' lead.png' and 'trail.png ': '#1.png' was left out without a word
    (the batch exit 0), the others "no such file"; `--files-from -` was "cannot read the file list -"."""
    src = tmp_path / "in"
    names = ["#1.png", " lead.png", "ok.png", "new\nline.png"]
    for i, name in enumerate(names):
        _image(src / name, seed=i)
    listing = tmp_path / "list.txt"
    listing.write_text("#1.png\n lead.png\n# a comment\n  ok.png  \n\n")
    out = tmp_path / "out"
    assert main(["batch", str(src), str(out), "--files-from", str(listing), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [" lead_x2_bicubic.png", "#1_x2_bicubic.png",
                                                         "ok_x2_bicubic.png"]
    # find -print0 | … --files-from -: names with a newline too
    import io

    listed = b"\0".join(os.fsencode(name) for name in names) + b"\0"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(listed)))
    out2 = tmp_path / "out2"
    assert main(["batch", str(src), str(out2), "--files-from", "-", "--model", "bicubic", "--scale", "2", "-q"]) == 0
    assert len(list(out2.glob("*.png"))) == 4 and (out2 / "new\nline_x2_bicubic.png").exists()


def test_a_utf16_list_and_finds_own_paths(tmp_path, monkeypatch):
    """PowerShell 5's `>` writes UTF-16 (its NULs were read as separators: "bin/g: no such file"
    for each letter); `find IN | batch IN OUT --files-from -` lists IN/a.png (taken as IN/IN/a.png)."""
    import io

    monkeypatch.chdir(tmp_path)
    for name in ("a.png", "b.png"):
        _image(tmp_path / "in" / name)
    (tmp_path / "list.txt").write_bytes("a.png\r\nb.png\r\n".encode("utf-16"))
    assert main(["batch", "in", "o1", "--files-from", "list.txt", "--model", "bicubic", "--scale", "2", "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "o1").glob("*.png")) == ["a_x2_bicubic.png", "b_x2_bicubic.png"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"in/a.png\n")))
    assert main(["batch", "in", "o2", "--files-from", "-", "--model", "bicubic", "--scale", "2", "-q"]) == 0
    assert [p.name for p in (tmp_path / "o2").glob("*.png")] == ["a_x2_bicubic.png"]


def test_a_file_named_dash_is_a_file_as_dot_slash_dash(tmp_path, monkeypatch, capsys):
    import io

    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_bytes(_image(tmp_path / "a.png").read_bytes())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))  # (it read this: "standard input is empty")
    assert main(["upscale", "./-", "-o", "d.png", "--model", "bicubic", "--scale", "2"]) == 0
    assert Image.open(tmp_path / "d.png").size == (80, 64)


def test_a_batch_logged_to_a_file_says_how_far_it_is(tmp_path, monkeypatch, capsys):
    import sr_desktop.cli.cmd_batch as cmd_batch

    for i in range(3):
        _image(tmp_path / "in" / f"{i}.png", seed=i)
    monkeypatch.setattr(cmd_batch, "PLAIN_PROGRESS_S", 0.0)
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] and lines[0].startswith("sr-desktop: 1 of 3 files done, 0 failed")
    assert not any("3 of 3" in line for line in lines)  # (the summary says the end)
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out3"), "--model", "bicubic", "--scale", "2",
                 "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


def test_without_a_home_the_app_works_without_its_folders_in_one_line(tmp_path, monkeypatch, caplog):
    """`env -i` in a container run as a user without a passwd entry: every command ended in
    two tracebacks (platformdirs' RuntimeError, then the last-resort handler's own)."""
    import platformdirs

    from sr_desktop.engine.core import paths

    def no_home(*_args, **_kwargs):
        raise RuntimeError("could not determine the home directory")

    monkeypatch.delenv("SR_DESKTOP_HOME")
    monkeypatch.setattr(paths, "_SAID", [])
    for name in ("user_cache_dir", "user_data_dir", "user_state_dir", "user_config_dir", "user_log_dir"):
        monkeypatch.setattr(platformdirs, name, no_home)
    src = _image(tmp_path / "a.png")
    with caplog.at_level(logging.WARNING, logger="sr_desktop"):
        assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "espcn", "--scale", "2",
                     "-q"]) == 0
        assert paths.unwritable(paths.cache_dir() / "x")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["no home folder (could not determine the home directory): working without the app's "
                        "cache, logs and added models; set SR_DESKTOP_HOME to a folder it can write"]


def test_a_home_that_takes_no_folders_is_one_line_a_run(tmp_path, monkeypatch, caplog):
    """HOME a file (or Docker's read-only HOME=/): a warning for the cache and one for the
    logs on every run, naming neither the fix."""
    from sr_desktop.engine.core import paths

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.delenv("SR_DESKTOP_HOME")
    monkeypatch.setenv("HOME", str(blocker))
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(blocker / ".local" / "state"))
    monkeypatch.setattr(paths, "_SAID", [])
    with caplog.at_level(logging.WARNING, logger="sr_desktop"):
        paths.cache_dir()
        paths.log_dir()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "(Not a directory)" in warnings[0] and "set SR_DESKTOP_HOME" in warnings[0]


@pytest.mark.parametrize("args", ['upscale rel.png -o "{out}"', 'upscale "{src}" -o "{out}" --model fsrcnn'],
                         ids=["relative", "absolute-torch"])
def test_a_deleted_working_folder_is_said(tmp_path, args):
    """It said "No such file or directory" (a relative path), or oneMKL died loading torch."""
    folder = tmp_path / "gone"
    folder.mkdir()
    command = args.format(out=tmp_path / "x.png", src=_image(tmp_path / "a.png"))
    run = subprocess.run(["sh", "-c", f'cd "{folder}" && rmdir "{folder}" && exec "{sys.executable}" -m sr_desktop '
                          f'{command}'], capture_output=True, env=ENV, timeout=240, text=True)
    assert run.returncode == 2
    assert run.stderr.strip() == "sr-desktop: error: the current folder no longer exists: cd into one"


def test_models_json_before_or_after_the_action(tmp_path, capsys):
    """`models --json add F` printed text (the action's own --json default undid the parent's)."""
    import torch

    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

    net = tmp_path / "net.pth"
    torch.save(SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict(), net)
    assert main(["models", "--json", "add", str(net), "--name", "piped"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert main(["models", "--json", "remove", added["id"]]) == 0
    assert json.loads(capsys.readouterr().out) == {"removed": added["id"]}
    assert main(["models", "--json", "clear-cache"]) == 0
    assert "freed_bytes" in json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("command", ["kernel", "train", "models", "devices", "upscale", "batch", "bench", "metrics"])
def test_every_command_says_its_exit_statuses(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    said = capsys.readouterr().out
    assert "xit status" in said and "141" in said
