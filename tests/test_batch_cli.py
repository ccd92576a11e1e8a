"""`sr-desktop batch`: exit codes, report, guards, file lists, Ctrl+C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.core.kernel_file import kernel_digest

REPO = Path(__file__).resolve().parent.parent


def save_image(path: Path, size=(24, 16), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_help_documents_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["batch", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for line in ("0 ", "1 ", "2 ", "130"):
        assert f"\n  {line}" in text
    for option in ("--recursive", "--model", "--scale", "--format", "--quality", "--name", "--existing",
                   "--report", "--device", "--tile", "--precision", "--variant", "--files-from",
                   "--allow-inside-input"):
        assert option in text
    for placeholder in ("{stem}", "{ext}", "{scale}", "{model}", "{variant}"):
        assert placeholder in text


def test_cli_batch_with_a_bad_file_exits_1_and_writes_the_report(tmp_path: Path, capsys):
    src = tmp_path / "in"
    save_image(src / "a.png")
    save_image(src / "sub" / "b.png", seed=1)
    (src / "sub" / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (src / "list.txt").write_text("hello")
    report = tmp_path / "report.json"
    code = main(["batch", str(src), str(tmp_path / "out"), "--recursive", "--model", "bicubic", "--scale", "3",
                 "--format", "webp", "--quality", "80", "--name", "{stem}-{scale}x", "--report", str(report),
                 "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert "2 upscaled, 1 skipped (1 not an image), 1 failed" in captured.out  # (it said "1 not images")
    assert "cut.jpg" in captured.err
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.webp")) == [
        "a-3x.webp", "sub/b-3x.webp"]
    data = json.loads(report.read_text())
    assert data["options"]["scale"] == 3 and data["totals"]["failed"] == 1
    # the backend asked for and what ran (bicubic has no network: Pillow resamples it)
    assert data["options"]["backend"] == "auto" and data["options"]["backend_used"] == "pillow"
    assert data["options"]["device_used"] == "CPU"  # Pillow on the host
    assert {Path(f["input"]).name: f["status"] for f in data["files"]} == {
        "a.png": "ok", "b.png": "ok", "cut.jpg": "failed", "list.txt": "skipped"}

    # Re-running resumes: the two outputs exist, the bad file fails again.
    code = main(["batch", str(src), str(tmp_path / "out"), "-r", "--model", "bicubic", "--scale", "3",
                 "--format", "webp", "--name", "{stem}-{scale}x", "--report", str(report), "--no-progress"])
    assert code == 1
    assert json.loads(report.read_text())["totals"]["skipped"] == 3


def test_cli_all_ok_exits_0(tmp_path: Path, capsys):
    src = tmp_path / "in"
    save_image(src / "a.png")
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2",
                 "--no-progress"]) == 0
    assert (tmp_path / "out" / "a_x2_bicubic.png").is_file()
    assert "report: " in capsys.readouterr().out


def test_quiet_says_only_the_failed_files(tmp_path: Path, capsys):
    """`batch -q` was refused ("unrecognized arguments: -q") where upscale, kernel and train
    take it; bench took --quiet only, and `models add FILE -v` refused -v."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    (src / "cut.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "-q"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "failed: " in err and "cut.jpg" in err
    assert (tmp_path / "out" / "a_x2_bicubic.png").is_file()
    assert main(["models", "remove", "custom-nothing", "-v"]) == 2  # -v taken, the id refused
    assert "unrecognized arguments" not in capsys.readouterr().err
    from sr_desktop.cli.main import build_parser

    assert build_parser().parse_args(["bench", "--dataset", "x", "--scale", "2", "-q"]).quiet


def test_cli_fatal_errors_exit_2_with_one_line(tmp_path: Path, capsys):
    src = tmp_path / "in"
    save_image(src / "a.png")
    assert main(["batch", str(src), str(src / "out"), "--model", "bicubic", "--scale", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sr-desktop: error: ") and "--allow-inside-input" in err and "\n" not in err
    assert not (src / "out").exists()

    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "no-such-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sr-desktop: error: ") and "\n" not in err

    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--name", "{stem}{oops}"]) == 2
    assert "unknown placeholder {oops}" in capsys.readouterr().err

    for bad in (["--tile", "big"], ["--format", "heic"], ["--existing", "ask"]):
        with pytest.raises(SystemExit) as exc:
            main(["batch", str(src), str(tmp_path / "out"), *bad])
        assert exc.value.code == 2
        assert bad[0] in capsys.readouterr().err


@pytest.mark.parametrize("report, message", [
    ("in/a.png", "is an image file name; a report is .json (or .csv)"),
    ("in/notes.json", None),  # a report name beside the inputs is fine: nothing of the batch's is there
    # refused before any work (they were refused after the whole batch, exit 2 for work done)
    ("out", "is a folder the batch writes its images into"),
    ("out/sub", "is a folder the batch writes its images into"),  # a mirrored sub-folder
    ("in/a.png/r.json", "in/a.png is a file, not a folder"),
    ("out/r.json", None),  # in the output folder the run makes: fine
])
def test_the_report_is_never_written_over_an_input(tmp_path: Path, capsys, report, message):
    src = tmp_path / "in"
    image = save_image(src / "a.png")
    save_image(src / "sub" / "b.png")
    before = image.read_bytes()
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2",
                 "--report", str(tmp_path / report), "--no-progress", "-r"])
    err = capsys.readouterr().err.strip()
    assert image.read_bytes() == before
    if message is None:
        assert code == 0 and [f["status"] for f in json.loads((tmp_path / report).read_text())["files"]] == ["ok"] * 2
    else:
        assert code == 2 and message in err and "\n" not in err and not (tmp_path / "out").exists()


def test_a_report_named_like_an_input_listed_by_files_from_is_refused(tmp_path: Path, capsys):
    src = tmp_path / "in"
    save_image(src / "a.png")
    listed = tmp_path / "elsewhere" / "b.json"  # a .json path the list names as an input
    listed.parent.mkdir()
    listed.write_text("{}")
    files = tmp_path / "list.txt"
    files.write_text(f"{src / 'a.png'}\n{listed}\n")
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--files-from", str(files),
                 "--report", str(listed), "--no-progress"])
    assert code == 2 and "refusing to write the report over an input" in capsys.readouterr().err
    assert listed.read_text() == "{}"


def test_cli_files_from(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png")
    save_image(src / "b.png", seed=1)
    save_image(src / "sub" / "c.png", seed=2)
    listing = tmp_path / "files.txt"
    listing.write_text(f"# selected\nb.png\n\n{src / 'sub' / 'c.png'}\n")
    out = tmp_path / "out"
    assert main(["batch", str(src), str(out), "--files-from", str(listing), "--model", "bicubic", "--scale", "2",
                 "--no-progress"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "b_x2_bicubic.png", "sub/c_x2_bicubic.png"]
    # as Notepad saves it: a byte-order mark and CRLF (the mark went into the first name)
    listing.write_bytes(b"\xef\xbb\xbfa.png\r\nb.png\r\n")
    assert main(["batch", str(src), str(tmp_path / "out2"), "--files-from", str(listing), "--model", "bicubic",
                 "--scale", "2", "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "out2").glob("*.png")) == ["a_x2_bicubic.png", "b_x2_bicubic.png"]
    # `ls > list` of a folder holding a Latin-1 name: the whole list was refused as not UTF-8
    odd = Path(os.fsdecode(os.fsencode(str(src)) + b"/caf\xe9.png"))
    (src / "a.png").rename(odd)
    listing.write_bytes(b"caf\xe9.png\nb.png\n")
    assert main(["batch", str(src), str(tmp_path / "out3"), "--files-from", str(listing), "--model", "bicubic",
                 "--scale", "2", "--no-progress"]) == 0
    assert sorted(os.fsencode(p.name) for p in (tmp_path / "out3").glob("*.png")) == [
        b"b_x2_bicubic.png", b"caf\xe9_x2_bicubic.png"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_cancels_and_exits_130(tmp_path: Path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(40):
        save_image(src / f"img{i:02d}.png", size=(192, 192), seed=i)
    report = tmp_path / "report.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    proc = subprocess.Popen(
        [sys.executable, "-m", "sr_desktop", "batch", str(src), str(out), "--model", "bicubic", "--scale", "2",
         "--tile", "16",
         "--report", str(report), "--no-progress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not list(out.glob("img*.png")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()[-2000:]
    data = json.loads(report.read_text())
    assert data["totals"]["cancelled"] is True
    done = list(out.glob("img*.png"))
    assert 1 <= len(done) < 40
    assert data["totals"]["ok"] == len(done)
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    for path in done:
        with PILImage.open(path) as im:
            im.load()
    assert b"cancelled" in stdout
    # no progress bar to end: no empty line before "cancelling" (it printed one)
    assert stderr.decode().startswith("sr-desktop: cancelling"), stderr.decode()[-2000:]


def test_runs_in_the_same_second_keep_their_own_reports(tmp_path: Path):
    from datetime import datetime

    from sr_desktop.engine.batch.runner import default_report_path

    when = datetime(2026, 12, 5, 1, 2, 3)
    first = default_report_path(tmp_path, when)
    assert first.name == "sr-desktop-batch-20261205-010203.json"
    first.write_text("{}")
    second = default_report_path(tmp_path, when)
    assert second.name == "sr-desktop-batch-20261205-010203-2.json"


def test_a_folder_without_images_is_one_line_and_no_output(tmp_path: Path, capsys):
    """A mistyped folder or the wrong list says so (exit 2) rather than "0 upscaled"."""
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    save_image(empty / "sub" / "a.png")
    out = tmp_path / "out"
    assert main(["batch", str(empty), str(out), "--model", "bicubic", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no images in" in err and "(only 1 file that is not an image)" in err and "--recursive" in err
    assert "\n" not in err and not out.exists()

    listing = tmp_path / "list.txt"
    listing.write_text("notes.txt\n")
    assert main(["batch", str(empty), str(out), "--files-from", str(listing), "--model", "bicubic"]) == 2
    assert "the file list names no image" in capsys.readouterr().err and not out.exists()

    # with -r the sub-folder's image is found
    assert main(["batch", str(empty), str(out), "-r", "--model", "bicubic", "--scale", "2", "--no-progress"]) == 0
    assert (out / "sub" / "a_x2_bicubic.png").is_file()


def test_quality_for_lossless_output_is_said_to_be_ignored(tmp_path: Path, capsys):
    src = tmp_path / "in"
    save_image(src / "a.png")
    common = ["--model", "bicubic", "--scale", "2", "--no-progress"]
    assert main(["batch", str(src), str(tmp_path / "png"), "--format", "png", "--quality", "50", *common]) == 0
    assert "--quality is for jpg and webp output; it does not apply to png" in capsys.readouterr().err
    assert main(["batch", str(src), str(tmp_path / "jpg"), "--format", "jpg", "--quality", "50", *common]) == 0
    assert "--quality" not in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["batch", str(src), str(tmp_path / "bad"), "--quality", "0", *common])
    assert "argument --quality: quality must be 1..100, got 0" in capsys.readouterr().err
    # a refusal is the one line said: the note first read as its cause
    assert main(["batch", str(src), str(tmp_path / "x"), "--format", "png", "--quality", "50", "--model",
                 "span", "--variant", "nope", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no variant 'nope'" in err
    # -q: no notes
    assert main(["batch", str(src), str(tmp_path / "q"), "--format", "png", "--quality", "50", *common, "-q"]) == 0
    assert capsys.readouterr().err == ""


def jpeg_tables_of_quality(quality: int) -> dict:
    """The quantisation tables Pillow's JPEG encoder uses at `quality` (they depend on it alone)."""
    import io

    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(buffer, "JPEG", quality=quality)
    return PILImage.open(buffer).quantization


@pytest.mark.parametrize("fmt", ["jpg", "webp"])
def test_quality_sets_the_encoders_quality(tmp_path: Path, capsys, fmt):
    """--quality could have been dropped on the way to the encoder: only its messages were tested."""
    src = tmp_path / "in"
    save_image(src / "a.png", size=(64, 48))
    sizes = {}
    for quality in (30, 95):
        out = tmp_path / f"q{quality}"
        assert main(["batch", str(src), str(out), "--format", fmt, "--quality", str(quality), "--model", "bicubic",
                     "--scale", "2", "--no-progress", "-q"]) == 0
        written = out / f"a_x2_bicubic.{fmt}"
        sizes[quality] = written.stat().st_size
        if fmt == "jpg":
            assert PILImage.open(written).quantization == jpeg_tables_of_quality(quality)
    assert sizes[30] < 0.75 * sizes[95]


def test_resume_counts_only_files_with_something_in_them_as_done(tmp_path: Path, capsys):
    """`--existing skip` took a folder, or an empty file, at an output's name for a finished
    output: nothing written, exit 0. They are failures, with why; a real output is skipped."""
    src = tmp_path / "in"
    for name in ("a", "b", "c"):
        save_image(src / f"{name}.png")
    out = tmp_path / "out"
    (out / "a_x2_bicubic.png").mkdir(parents=True)
    (out / "b_x2_bicubic.png").write_bytes(b"")
    save_image(out / "c_x2_bicubic.png")
    code = main(["batch", str(src), str(out), "--model", "bicubic", "--scale", "2", "--no-progress",
                 "--report", str(tmp_path / "r.json")])
    files = {Path(f["input"]).name: f for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert code == 1
    assert files["a.png"]["status"] == "failed" and "a folder has the output's name" in files["a.png"]["error"]
    assert files["b.png"]["status"] == "failed" and "an empty file has the output's name" in files["b.png"]["error"]
    assert files["c.png"]["status"] == "skipped" and files["c.png"]["note"] == "output exists"
    assert (out / "b_x2_bicubic.png").read_bytes() == b""  # left as it was


def test_a_file_listed_twice_is_upscaled_once(tmp_path: Path, capsys):
    """Listed twice (once relative, once absolute) it failed as 'same output name as a.png;
    add {ext} to the name template' — advice that does not help."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    files = tmp_path / "list.txt"
    files.write_text(f"a.png\n{src / 'a.png'}\n")
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "--no-progress",
                 "--files-from", str(files), "--report", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert code == 0 and [f["status"] for f in report["files"]] == ["ok"]


def test_listed_files_of_one_name_from_other_folders_are_told_what_helps(tmp_path: Path):
    """Three good1.png from three folders, listed: two failed with 'add {ext} to the name
    template', which changes nothing for files of one suffix."""
    src = tmp_path / "in"
    save_image(src / "good1.png")
    for other in ("in2", "in7"):
        save_image(tmp_path / other / "good1.png")
    files = tmp_path / "list.txt"
    files.write_text(f"good1.png\n{tmp_path / 'in2' / 'good1.png'}\n{tmp_path / 'in7' / 'good1.png'}\n")
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "--no-progress",
                 "--files-from", str(files), "--report", str(tmp_path / "r.json")])
    report = json.loads((tmp_path / "r.json").read_text())
    failed = [f["error"] for f in report["files"] if f["status"] == "failed"]
    assert code == 1 and len(failed) == 2
    assert all("{ext}" not in error and "from outside the input folder all go to the output root" in error
               for error in failed)


def test_a_link_listed_beside_its_target_is_an_input_of_its_own(tmp_path: Path):
    src = tmp_path / "in"
    save_image(src / "a.png")
    (src / "b.png").symlink_to(src / "a.png")
    files = tmp_path / "list.txt"
    files.write_text("a.png\nb.png\n")
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "--no-progress",
                 "--files-from", str(files)])
    assert code == 0 and sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a_x2_bicubic.png",
                                                                                       "b_x2_bicubic.png"]


def test_sigterm_stops_a_batch_as_ctrl_c_does(tmp_path: Path):
    """`kill` (SIGTERM: `timeout`, `docker stop`, a scheduler's end of time) killed the batch
    outright: no report, a `.part` beside an output. It now cancels after the current tile,
    writes the report and exits 130, as a first Ctrl+C."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "in"
    for i in range(8):
        save_image(src / f"{i}.png", size=(160, 160))
    out = tmp_path / "out"
    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen([sys.executable, "-m", "sr_desktop", "batch", str(src), str(out), "--model",
                             "realesr-animevideov3", "--scale", "4", "--tile", "32", "--backend", "torch",
                             "--no-progress", "--report", str(tmp_path / "r.json")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*.png")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)
    report = json.loads((tmp_path / "r.json").read_text())
    assert proc.returncode == 130, err
    assert report["totals"]["ok"] >= 1 and report["totals"]["ok"] < 8
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("existing", ["skip", "rename"])
def test_an_output_another_run_writes_meanwhile_is_no_failure(tmp_path: Path, monkeypatch, existing):
    """Two batches on the same folders: a name free when checked was written by the other run
    before this one's write, and the file failed with 'file exists (use --overwrite)'. With
    skip it is a finished output; with rename the next name is taken."""
    from sr_desktop.engine import imageio

    real = imageio.write_image

    def other_run_first(image, path, *args, **kwargs):
        if not Path(path).exists() and not Path(path).stem.endswith("_1"):
            real(image, path, *args, **kwargs)  # the other process's output, just before ours
        return real(image, path, *args, **kwargs)

    monkeypatch.setattr(imageio, "write_image", other_run_first)
    src = tmp_path / "in"
    save_image(src / "a.png")
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "--no-progress",
                 "--existing", existing, "--report", str(tmp_path / "r.json")])
    (record,) = json.loads((tmp_path / "r.json").read_text())["files"]
    assert code == 0
    if existing == "skip":
        assert record["status"] == "skipped" and "written meanwhile by another run" in record["note"]
    else:
        assert record["status"] == "ok" and record["output"].endswith("a_x2_bicubic_1.png")


def test_a_report_the_disk_refuses_after_the_work_keeps_the_summary(tmp_path: Path, monkeypatch, capsys):
    """Every output written, then the report refused (a full disk): only the report's error
    was printed — no summary — with exit 2."""
    import errno

    from sr_desktop.engine.batch import report as report_module

    def full(path, encode, replace=True):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_module, "atomic_write", full)
    src = tmp_path / "in"
    save_image(src / "a.png")
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "--no-progress",
                 "--report", str(tmp_path / "r.json")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out.startswith("1 upscaled, 0 skipped")
    assert "cannot write the report" in captured.err and "No space left on device" in captured.err
    assert (tmp_path / "out" / "a_x2_bicubic.png").is_file()


def test_a_report_to_stdout_keeps_stdout_json(tmp_path: Path):
    """`--report /dev/stdout | jq`: the summary lines followed the JSON on stdout."""
    import os
    import subprocess
    import sys

    src = tmp_path / "in"
    save_image(src / "a.png")
    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "sr_desktop", "batch", str(src), str(tmp_path / "out"), "--model",
                           "bicubic", "--scale", "2", "--no-progress", "--report", "/dev/stdout"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["ok"] == 1
    assert proc.stderr.startswith("1 upscaled, 0 skipped")
    # into stderr: the summary stays on stdout (it went into the JSON on stderr)
    proc = subprocess.run([sys.executable, "-m", "sr_desktop", "batch", str(src), str(tmp_path / "out2"), "--model",
                           "bicubic", "--scale", "2", "--no-progress", "--report", "/dev/stderr"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and json.loads(proc.stderr)["totals"]["ok"] == 1
    assert proc.stdout.startswith("1 upscaled, 0 skipped")


def test_a_file_list_of_missing_images_reports_each_as_failed(tmp_path: Path, capsys):
    """Listed images that are gone (moved since the list was made) are failures the report
    names one by one (exit 1), not "the file list names no image" (exit 2, no report)."""
    src = tmp_path / "in"
    src.mkdir()
    listing = tmp_path / "list.txt"
    listing.write_text("gone1.png\ngone2.jpg\n")
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    assert main(["batch", str(src), str(out), "--files-from", str(listing), "--model", "bicubic", "--scale", "2",
                 "--report", str(report), "--no-progress"]) == 1
    files = json.loads(report.read_text())["files"]
    assert [(Path(f["input"]).name, f["status"]) for f in files] == [("gone1.png", "failed"), ("gone2.jpg", "failed")]
    capsys.readouterr()


def test_batch_takes_the_transparency_choice_of_upscale(tmp_path: Path, capsys):
    """`--alpha resample` was `upscale`'s only: a folder of sprites went through the model's
    alpha. Both give the same file; the report records the choice."""
    rng = np.random.default_rng(3)
    rgba = rng.integers(0, 256, (16, 24, 4), dtype=np.uint8)
    rgba[:, :, 3] = np.where(rng.random((16, 24)) > 0.5, 255, 0)
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(rgba, "RGBA").save(src / "sprite.png")
    # (a network: a resampling model's alpha is resized by its own method either way)
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "espcn", "--scale", "2",
                 "--alpha", "resample", "--no-progress", "--report", str(tmp_path / "r.json")]) == 0
    assert main(["upscale", str(src / "sprite.png"), "-o", str(tmp_path / "one.png"), "--model", "espcn",
                 "--scale", "2", "--alpha", "resample", "-q"]) == 0
    assert main(["upscale", str(src / "sprite.png"), "-o", str(tmp_path / "model.png"), "--model", "espcn",
                 "--scale", "2", "-q"]) == 0
    batch = np.asarray(PILImage.open(tmp_path / "out" / "sprite_x2_espcn.png"))
    assert np.array_equal(batch, np.asarray(PILImage.open(tmp_path / "one.png")))
    assert not np.array_equal(batch[:, :, 3], np.asarray(PILImage.open(tmp_path / "model.png"))[:, :, 3])
    assert json.loads((tmp_path / "r.json").read_text())["options"]["alpha"] == "resample"


def test_runs_with_other_variants_write_files_of_their_own(tmp_path: Path, capsys):
    """The default names left out the variant: a run with another denoise level into the
    same folder found the first run's files and skipped every one, exit 0, nothing written."""
    src = tmp_path / "in"
    save_image(src / "a.png", size=(16, 16))
    out = tmp_path / "out"
    for variant in ("denoise2", "denoise0", "default"):
        assert main(["batch", str(src), str(out), "--model", "waifu2x-anime", "--variant", variant,
                     "--device", "cpu", "--no-progress"]) == 0
        assert "1 upscaled" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.png")) == [
        "a_x2_waifu2x-anime.png", "a_x2_waifu2x-anime_denoise0.png", "a_x2_waifu2x-anime_denoise2.png"]
    # a template of the user's is used as it is
    assert any(json.loads(p.read_text())["options"]["name_template"] == "{stem}_x{scale}_{model}_{variant}"
               for p in out.glob("sr-desktop-batch-*.json"))  # the names it wrote, not the option's default
    assert main(["batch", str(src), str(tmp_path / "mine"), "--model", "waifu2x-anime", "--variant", "denoise1",
                 "--name", "{stem}_{model}", "--no-progress"]) == 0
    assert [p.name for p in (tmp_path / "mine").glob("*.png")] == ["a_waifu2x-anime.png"]


def test_a_report_into_standard_output_redirected_to_a_file(tmp_path: Path):
    """`--report - >> log`: the check that protects files of the user's took the redirected
    standard output for one and refused the batch."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    log = tmp_path / "log.txt"
    log.write_text("earlier lines of a cron log\n")
    with open(log, "a") as out:
        done = subprocess.run([sys.executable, "-m", "sr_desktop", "batch", str(src), str(tmp_path / "out"),
                               "--model", "bicubic", "--scale", "2", "--report", "-"],
                              stdout=out, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=240)
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert text.startswith("earlier lines of a cron log\n{") and '"tool": "sr-desktop batch"' in text


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_report_into_a_full_standard_output_says_so_beside_the_summary(tmp_path: Path):
    """`--report - > /dev/full`: the summary went to the refused stdout too, and the only line
    left was "error: No space left on device", naming nothing (a review of the outputs)."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "sr_desktop", "batch", str(src), str(tmp_path / "out"),
                               "--model", "bicubic", "--scale", "2", "--report", "-", "--no-progress"],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=240)
    assert done.returncode == 2
    assert done.stderr.startswith("1 upscaled, 0 skipped (0 not images), 0 failed in ")
    assert done.stderr.rstrip().endswith("error: cannot write the report /dev/stdout: No space left on device")
    assert (tmp_path / "out" / "a_x2_bicubic.png").is_file()


def test_batch_takes_a_kernel_for_the_per_image_models(tmp_path: Path, capsys):
    """batch had no --kernel: ZSSR and map-sr ran with the bicubic kernel whatever the user had."""
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8)).save(src / "a.png")
    kernel = np.zeros((9, 9))
    kernel[2:7, 3:6] = 1 / 15
    np.save(tmp_path / "k.npy", kernel)
    common = ["--model", "map-sr", "--scale", "2", "--no-progress", "--device", "cpu"]
    assert main(["batch", str(src), str(tmp_path / "with"), *common, "--kernel", str(tmp_path / "k.npy"),
                 "--report", str(tmp_path / "r.json")]) == 0
    assert main(["batch", str(src), str(tmp_path / "without"), *common]) == 0
    assert main(["upscale", str(src / "a.png"), "-o", str(tmp_path / "one.png"), "--model", "map-sr", "--scale", "2",
                 "--device", "cpu", "--kernel", str(tmp_path / "k.npy"), "-q"]) == 0
    with_kernel = np.asarray(PILImage.open(tmp_path / "with" / "a_x2_map-sr.png"))
    assert np.array_equal(with_kernel, np.asarray(PILImage.open(tmp_path / "one.png")))
    assert not np.array_equal(with_kernel, np.asarray(PILImage.open(tmp_path / "without" / "a_x2_map-sr.png")))
    recorded = json.loads((tmp_path / "r.json").read_text())["options"]
    assert recorded["kernel"] == str(tmp_path / "k.npy") and recorded["kernel_sha256"] == kernel_digest(kernel)
    # another kernel in that file since: the outputs a re-run kept were made with other settings
    assert main(["batch", str(src), str(tmp_path / "again"), *common, "--kernel", str(tmp_path / "k.npy")]) == 0
    np.save(tmp_path / "k.npy", np.pad(np.full((3, 3), 1 / 9), 3))
    capsys.readouterr()
    assert main(["batch", str(src), str(tmp_path / "again"), *common, "--kernel", str(tmp_path / "k.npy")]) == 0
    assert f"(kernel_sha256 {kernel_digest(kernel)[:12]}… → " in capsys.readouterr().out
    capsys.readouterr()
    refused = ["batch", str(src), str(tmp_path / "no"), "--model", "bicubic", "--kernel", str(tmp_path / "k.npy")]
    assert main(refused) == 2
    assert "--kernel only applies to --model zssr or map-sr" in capsys.readouterr().err


def test_batch_and_upscale_take_the_iterations_of_the_per_image_models(tmp_path: Path, capsys):
    """ZSSR trained 1000 iterations a file on a CPU and map-sr solved 300, whatever the user
    wanted: --iterations sets them (the report records it, a re-run with another number says
    its kept outputs were made otherwise); another model refuses it before any file."""
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8)).save(src / "a.png")
    common = ["--model", "map-sr", "--scale", "2", "--no-progress", "--device", "cpu"]
    assert main(["batch", str(src), str(tmp_path / "few"), *common, "--iterations", "2"]) == 0
    assert main(["batch", str(src), str(tmp_path / "default"), *common]) == 0
    assert main(["upscale", str(src / "a.png"), "-o", str(tmp_path / "one.png"), "--model", "map-sr", "--scale", "2",
                 "--device", "cpu", "--iterations", "2", "-q"]) == 0
    few = np.asarray(PILImage.open(tmp_path / "few" / "a_x2_map-sr.png"))
    assert np.array_equal(few, np.asarray(PILImage.open(tmp_path / "one.png")))
    assert not np.array_equal(few, np.asarray(PILImage.open(tmp_path / "default" / "a_x2_map-sr.png")))
    report, = (tmp_path / "few").glob("*.json")
    assert json.loads(report.read_text())["options"]["iterations"] == 2
    capsys.readouterr()
    assert main(["batch", str(src), str(tmp_path / "few"), *common, "--iterations", "5"]) == 0
    assert "(iterations 2 → 5): --existing overwrite redoes them" in capsys.readouterr().out
    for command in (["batch", str(src), str(tmp_path / "no")], ["upscale", str(src / "a.png"), "-o",
                                                                str(tmp_path / "no.png")]):
        assert main([*command, "--model", "bicubic", "--iterations", "4"]) == 2
        assert capsys.readouterr().err == ("sr-desktop: error: --iterations only applies to --model zssr or map-sr "
                                           "(they train or solve on each image)\n")
    assert not (tmp_path / "no").exists() and not (tmp_path / "no.png").exists()


def test_the_report_names_the_variant_that_ran_and_a_null_one_is_the_default(tmp_path: Path, capsys):
    """A batch without --variant recorded "variant": null; a re-run naming the default (or the
    window's batch, which always names it) then said its outputs were "kept from an earlier
    run with other settings (variant auto → ch48)" of the same weights."""
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8)).save(src / "a.png")
    out = tmp_path / "out"
    assert main(["batch", str(src), str(out), "--model", "span", "--scale", "2", "-q"]) == 0
    report, = out.glob("*.json")
    data = json.loads(report.read_text())
    assert data["options"]["variant"] == "ch48"
    data["options"]["variant"] = None  # (as the versions before wrote it)
    report.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["batch", str(src), str(out), "--model", "span", "--scale", "2", "--variant", "ch48"]) == 0
    assert "other settings" not in capsys.readouterr().out
    data["options"]["variant"] = "ch52"  # (another variant's outputs are named apart; this one was not)
    report.write_text(json.dumps(data))
    for newer in set(out.glob("*.json")) - {report}:
        newer.unlink()
    assert main(["batch", str(src), str(out), "--model", "span", "--scale", "2"]) == 0
    assert "(variant ch52 → ch48): --existing overwrite redoes them" in capsys.readouterr().out


def test_the_variant_placeholder_names_the_weights_that_run(tmp_path: Path):
    """`--name '{stem}_{variant}'` wrote "a_default.png" for SPAN (its default is ch48, as the
    report said), and the same run naming --variant ch48 wrote every file again as a_ch48.png."""
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), np.uint8)).save(src / "a.png")
    common = [str(src), str(tmp_path / "out"), "--model", "span", "--scale", "2", "--name", "{stem}_{variant}", "-q"]
    assert main(["batch", *common]) == 0
    assert main(["batch", *common, "--variant", "ch48"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a_ch48.png"]
    # a "default" that is another variant: waifu2x CUNet ×1 runs denoise0 for it
    cunet = [str(src), str(tmp_path / "cunet"), "--model", "waifu2x-cunet", "--scale", "1", "--name",
             "{stem}_{variant}", "-q"]
    assert main(["batch", *cunet]) == 0
    assert main(["batch", *cunet, "--variant", "default"]) == 0
    assert sorted(p.name for p in (tmp_path / "cunet").glob("*.png")) == ["a_denoise0.png"]


def test_the_bar_shows_the_engine_s_rate_and_time_left(monkeypatch):
    """tqdm's own rate and ETA counted the files a resumed batch skips at once: 1 000 done +
    80 to do showed "1232 file/s, <00:00" for the whole run (3 files/s, 27 s left)."""
    from sr_desktop.cli import cmd_batch
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    opened = {}

    class Bar:
        n = 0
        start_t = 100.0

        def update(self, step):
            self.n += step

        def set_postfix_str(self, text, refresh=True):
            opened["postfix"] = text

        def set_description_str(self, text, refresh=True):
            pass

    monkeypatch.setattr(cmd_batch, "open_bar", lambda **kwargs: opened.update(kwargs) or Bar())
    bar = cmd_batch._TerminalProgress(enabled=True)
    record = FileRecord("in/z1.png", "out/z1.png", "ok")
    bar(ProgressInfo(1001, 1080, 40.0, 27.0, "batch", "in/z1.png",
                     extra={"event": "file", "record": record, "files_per_second": 2.96, "megapixels_per_second": 0.5}))
    assert "{rate" not in opened["bar_format"] and "{remaining" not in opened["bar_format"]
    assert opened["postfix"] == "2.96 file/s, 27.0 s left, 0.50 MP/s, failed 0"


def test_the_bar_names_files_also_when_they_are_said_only_as_they_end(monkeypatch):
    """A Ray batch sends no 'start' events: its bar had no file name for the whole run. It
    names the last file done there; a local batch's bar names the file starting."""
    from sr_desktop.cli import cmd_batch
    from sr_desktop.engine.batch.report import FileRecord
    from sr_desktop.engine.core.progress import ProgressInfo

    class Bar:
        n = 0
        description = ""
        start_t = 100.0
        drawn: list[str] = []

        def update(self, step):  # (what the bar draws: the name and the counts as they are now)
            self.n += step
            self.drawn.append(self.description)

        def write(self, line, file=None):  # (a line said above the bar)
            self.drawn.append(line)

        def set_postfix_str(self, text, refresh=True):
            pass

        def set_description_str(self, text, refresh=True):
            self.description = text

    shown = Bar()
    monkeypatch.setattr(cmd_batch, "open_bar", lambda **kwargs: shown)

    def file_done(bar, name):
        record = FileRecord(name, None, "ok")
        bar(ProgressInfo(1, 3, 1.0, 2.0, "batch", name, extra={"event": "file", "record": record}))

    ray = cmd_batch._TerminalProgress(enabled=True)
    file_done(ray, "in/a.png")
    assert shown.description == "a.png"
    assert shown.drawn == ["a.png"]  # drawn with its own name (it drew the file done before's)
    assert shown.start_t == 99.0  # its clock from the batch's start (1.0 s in): a 7.9 s batch read 00:02
    # a notice once the bar is open (a resumed Ray batch's skipped files opened it) is said above it:
    # printed, it stuck to the bar's line
    ray(ProgressInfo(1, 3, 1.0, None, "cluster", "starting local Ray's workers for 2 files"))
    assert shown.drawn[-1] == "sr-desktop: starting local Ray's workers for 2 files…"
    local = cmd_batch._TerminalProgress(enabled=True)
    local(ProgressInfo(0, 3, 0.0, None, "batch", "in/b.png", extra={"event": "start", "index": 1}))
    file_done(local, "in/a.png")
    assert shown.description == "b.png"  # (the file upscaled now, not the last done)


def test_batch_says_what_the_format_changed_of_each_file_as_upscale_does(tmp_path: Path, capsys):
    """`upscale` printed "note: … transparency flattened onto white"; `batch` left it in the
    report alone."""
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 100
    src = tmp_path / "in"
    src.mkdir()
    PILImage.fromarray(rgba, "RGBA").save(src / "sprite.png")
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "nearest", "--scale", "2", "--format", "jpg",
                 "--no-progress"]) == 0
    assert "sr-desktop: note: sprite_x2_nearest.jpg: transparency flattened onto white" in capsys.readouterr().err
    assert main(["batch", str(src), str(tmp_path / "out2"), "--model", "nearest", "--scale", "2", "--format", "jpg",
                 "--no-progress", "-q"]) == 0
    assert "note" not in capsys.readouterr().err  # (--quiet: notes are not said)


@pytest.mark.parametrize("flags, said", [([], True), (["-r"], False)])
def test_images_in_sub_folders_left_out_without_r_are_said(tmp_path: Path, capsys, flags, said):
    """The summary counts the top folder's files only: "1 upscaled" read as the whole tree (the
    window's batch includes sub-folders by default)."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    save_image(src / "sub" / "deeper" / "b.png", seed=1)
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "nearest", "--scale", "2", "--no-progress",
                 *flags]) == 0
    note = "sub-folders of the input folder hold images too: they are upscaled only with -r/--recursive"
    assert (note in capsys.readouterr().err) is said


def test_sub_folders_without_images_are_not_noted(tmp_path: Path, capsys):
    src = tmp_path / "in"
    save_image(src / "a.png")
    (src / "notes").mkdir()
    (src / "notes" / "readme.txt").write_text("no image here")
    assert main(["batch", str(src), str(tmp_path / "out"), "--model", "nearest", "--scale", "2", "--no-progress"]) == 0
    assert "sub-folders" not in capsys.readouterr().err


def test_the_output_folder_inside_the_input_is_no_sub_folder_of_images(tmp_path: Path, capsys):
    """A second run into in/up said "sub-folders … hold images too: add -r": they were the
    first run's outputs, which a batch never takes."""
    src = tmp_path / "in"
    save_image(src / "a.png")
    for _run in range(2):
        assert main(["batch", str(src), str(src / "up"), "--model", "nearest", "--scale", "2", "--no-progress",
                     "--allow-inside-input"]) == 0
    assert (src / "up" / "a_x2_nearest.png").is_file()
    assert "sub-folders" not in capsys.readouterr().err
