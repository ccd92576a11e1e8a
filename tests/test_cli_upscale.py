"""`sr-desktop upscale` end to end, as a user runs it (a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

ROOT = Path(__file__).resolve().parents[1]


def sr(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "sr_desktop", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=240)


def _png(path, h=16, w=20, mode="RGB"):
    rng = np.random.default_rng(0)
    c = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arr = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    PILImage.fromarray(arr[:, :, 0] if c == 1 else arr, mode).save(path)
    return path


def test_one_file_to_a_file(tmp_path):
    src = _png(tmp_path / "a.png")
    r = sr("upscale", src, "-o", tmp_path / "a_x3.webp", "--model", "bicubic", "--scale", "3",
           "--quality", "90")
    assert r.returncode == 0, r.stderr
    out = PILImage.open(tmp_path / "a_x3.webp")
    assert out.size == (60, 48) and out.format == "WEBP"
    assert "a_x3.webp" in r.stdout


@pytest.mark.parametrize("fmt", ["jpg", "webp"])
def test_quality_sets_the_encoders_quality(tmp_path, fmt):
    """--quality could have been dropped on the way to the encoder: no test looked at the file."""
    from test_batch_cli import jpeg_tables_of_quality

    from sr_desktop.cli.main import main

    src = _png(tmp_path / "a.png", h=48, w=64)
    sizes = {}
    for quality in (30, 95):
        out = tmp_path / f"a_{quality}.{fmt}"
        assert main(["upscale", str(src), "-o", str(out), "--model", "bicubic", "--scale", "2", "--quality",
                     str(quality), "-q"]) == 0
        sizes[quality] = out.stat().st_size
        if fmt == "jpg":
            assert PILImage.open(out).quantization == jpeg_tables_of_quality(quality)
    assert sizes[30] < 0.75 * sizes[95]


def test_several_files_to_a_folder_with_format_and_a_bad_file(tmp_path):
    a = _png(tmp_path / "a.png")
    b = _png(tmp_path / "b.png", mode="RGBA")
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    r = sr("upscale", a, b, bad, "-o", tmp_path / "out", "--model", "lanczos", "--scale", "2",
           "--format", "tiff")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "notes.png" in errors[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.tif", "b.tif"]
    assert PILImage.open(tmp_path / "out" / "b.tif").mode == "RGBA"


def test_existing_output_needs_overwrite(tmp_path):
    src = _png(tmp_path / "a.png")
    dst = tmp_path / "b.png"
    assert sr("upscale", src, "-o", dst, "--model", "bicubic", "--scale", "2").returncode == 0
    r = sr("upscale", src, "-o", dst, "--model", "bicubic", "--scale", "2")
    assert r.returncode == 1 and "overwrite" in r.stderr
    assert sr("upscale", src, "-o", dst, "--model", "bicubic", "--scale", "2", "--overwrite").returncode == 0
    # a missing input is said as such, not as the output that exists ("use --overwrite")
    r = sr("upscale", tmp_path / "absent.png", "-o", dst, "--model", "bicubic", "--scale", "2")
    assert r.returncode == 1 and "absent.png: file not found" in r.stderr and "overwrite" not in r.stderr


def test_usage_errors_are_one_line_and_exit_2(tmp_path):
    src = _png(tmp_path / "a.png")
    r = sr("upscale", src, "-o", tmp_path / "x.png", "--model", "no-such-model")
    assert r.returncode == 2 and "no-such-model" in r.stderr and "Traceback" not in r.stderr
    r = sr("upscale", src, "-o", tmp_path / "x.png", "--model", "bicubic", "--device", "cuda")
    assert r.returncode == 2 and "CUDA" in r.stderr and "Traceback" not in r.stderr
    r = sr("upscale", src, "-o", tmp_path / "x.png", "--tile", "big")
    assert r.returncode == 2 and "tile" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_an_existing_output_is_refused_before_the_upscale(tmp_path, capsys, monkeypatch):
    from sr_desktop.cli.main import main
    from sr_desktop.engine.pipeline import animation

    def upscaled(*_a, **_k):
        raise AssertionError("upscaled before the output was checked")

    monkeypatch.setattr(animation, "upscale_any", upscaled)
    src = _png(tmp_path / "a.png")
    dst = tmp_path / "b.png"
    dst.write_bytes(b"keep me")
    assert main(["upscale", str(src), "-o", str(dst), "--model", "bicubic", "--scale", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "file exists (use --overwrite)" in err and err.count("error:") == 1 and dst.read_bytes() == b"keep me"
    assert main(["upscale", str(src), "-o", str(tmp_path / "c.txt"), "--model", "bicubic", "--quiet"]) != 0
    assert not (tmp_path / "c.txt").exists()


def test_an_empty_output_or_a_file_for_several_inputs_is_one_error(tmp_path, capsys, monkeypatch):
    from sr_desktop.cli.main import main

    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    monkeypatch.chdir(tmp_path)
    assert main(["upscale", str(a), "-o", "", "--model", "bicubic", "--quiet"]) == 2
    assert "-o/--output is empty" in capsys.readouterr().err
    existing = _png(tmp_path / "c.png")
    before = existing.read_bytes()
    assert main(["upscale", str(a), str(b), "-o", str(existing), "--model", "bicubic", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file; 2 inputs need an output folder" in err
    assert existing.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png", "c.png"]


def test_an_output_folder_that_is_the_inputs_own_is_refused_before_any_upscale(tmp_path, capsys, monkeypatch):
    """`upscale in/a.png in/b.png -o in/` upscaled each file, then refused each write with
    "refusing to overwrite the input file", without saying what to do instead."""
    from sr_desktop.cli.main import main
    from sr_desktop.engine.pipeline import animation

    (tmp_path / "in").mkdir()
    a, b = _png(tmp_path / "in" / "a.png"), _png(tmp_path / "in" / "b.png")
    before = a.read_bytes()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(animation, "upscale_any", lambda *args, **kwargs: pytest.fail("upscaled"))
    assert main(["upscale", "in/a.png", "in/b.png", "-o", "in/", "--model", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert err == ("sr-desktop: error: -o in/: it is a.png's own folder, where upscale would replace it "
                   "(files keep their names in an output folder); choose another folder\n")
    assert main(["upscale", "in/a.png", "-o", "in", "--model", "bicubic"]) == 2
    assert "choose another folder (or name the output file)" in capsys.readouterr().err
    assert a.read_bytes() == before and sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png", "b.png"]
    assert b.exists()


def test_inputs_that_clash_are_named_and_an_input_named_twice_runs_once(tmp_path, capsys, monkeypatch):
    """"several inputs would be written to the same output name" named neither; the same
    file given twice (a.png ./x/../a.png) was such a clash."""
    from sr_desktop.cli.main import main

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _png(tmp_path / "a" / "x.png")
    _png(tmp_path / "b" / "x.png")
    monkeypatch.chdir(tmp_path)
    assert main(["upscale", "a/x.png", "b/x.png", "-o", "out/", "--model", "bicubic", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a/x.png and b/x.png would both be written to out/x.png" in err
    assert main(["upscale", "a/x.png", "./b/../a/x.png", "b/x.png", "-o", "one/", "--model", "bicubic"]) == 2
    assert "a/x.png and b/x.png" in capsys.readouterr().err  # the repeat is not what clashes
    assert main(["upscale", "a/x.png", "./b/../a/x.png", "-o", "out/", "--model", "bicubic"]) == 0
    assert capsys.readouterr().out.count(" -> out/") == 1 and sorted(os.listdir("out")) == ["x.png"]
    os.symlink("x.png", "a/link.png")  # a link is a name of its own: both are written
    assert main(["upscale", "a/x.png", "a/link.png", "-o", "linked/", "--model", "bicubic", "-q"]) == 0
    assert sorted(os.listdir("linked")) == ["link.png", "x.png"]


def test_names_one_file_on_macos_clash_there(tmp_path, capsys, monkeypatch):
    """On macOS (and Windows) Beach.jpg and beach.jpg of two folders are written to one file:
    the second failed as "file exists" or, with --overwrite, replaced the first; a batch of
    Photo.jpg and photo.png into PNG planned both (one skipped as "written meanwhile")."""
    from sr_desktop.cli.main import main
    from sr_desktop.engine.batch.plan import plan_jobs
    from sr_desktop.engine.imageio import protected

    monkeypatch.setattr(protected, "FOLDS_NAMES", True)  # as on macOS
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _png(tmp_path / "a" / "Beach.png")
    _png(tmp_path / "b" / "beach.png")
    _png(tmp_path / "b" / "Cafe\u0301.png")  # (é decomposed, as macOS' Finder names it)
    _png(tmp_path / "a" / "Caf\u00e9.png")
    monkeypatch.chdir(tmp_path)
    assert main(["upscale", "a/Beach.png", "b/beach.png", "-o", "out/", "--model", "bicubic", "-q"]) == 2
    assert "a/Beach.png and b/beach.png would both be written to out/beach.png" in capsys.readouterr().err
    assert main(["upscale", "a/Caf\u00e9.png", "b/Cafe\u0301.png", "-o", "out/", "--model", "bicubic", "-q"]) == 2
    assert "would both be written" in capsys.readouterr().err
    assert not os.path.exists("out")
    jobs = plan_jobs(tmp_path / "b", tmp_path / "o", recursive=False, template="{stem}", fmt="png", scale=2,
                     model="bicubic", variant=None, files=[tmp_path / "a" / "Beach.png", tmp_path / "b" / "beach.png"])
    assert jobs[1].collision_with == tmp_path / "a" / "Beach.png"
    monkeypatch.setattr(protected, "FOLDS_NAMES", False)  # Linux: two files
    assert main(["upscale", "a/Beach.png", "b/beach.png", "-o", "out/", "--model", "bicubic", "-q"]) == 0


def test_an_output_name_and_format_that_disagree_are_refused(tmp_path):
    src = _png(tmp_path / "a.png")
    r = sr("upscale", src, "-o", tmp_path / "x.png", "--format", "jpg", "--model", "bicubic", "--scale", "2")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "-o" in r.stderr and "names a png file but --format is jpg" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]  # neither x.png nor x.jpg
    # a name without an image suffix takes the format's; the same format under another suffix is kept
    assert sr("upscale", src, "-o", tmp_path / "y", "--format", "jpg", "--model", "bicubic").returncode == 0
    assert sr("upscale", src, "-o", tmp_path / "z.jpeg", "--format", "jpg", "--model", "bicubic").returncode == 0
    assert (tmp_path / "y.jpg").is_file() and (tmp_path / "z.jpeg").is_file()


def test_every_format_the_engine_writes_is_a_format_choice(tmp_path, capsys):
    """`-o x.bmp` wrote a BMP while `--format bmp` was refused as an invalid choice."""
    from PIL import Image

    from sr_desktop.cli.main import main
    from sr_desktop.engine.imageio.formats import WRITE_FORMATS

    src = _png(tmp_path / "a.png")
    for fmt in WRITE_FORMATS:
        assert main(["upscale", str(src), "-o", str(tmp_path / f"out_{fmt}"), "--format", fmt, "--model", "bicubic",
                     "--scale", "2", "--quiet"]) == 0, capsys.readouterr().err
        [path] = tmp_path.glob(f"out_{fmt}.*")
        with Image.open(path) as written:
            assert written.format == {"jpg": "JPEG"}.get(fmt, fmt.upper())


def test_an_output_without_a_suffix_is_refused_and_a_trailing_slash_is_a_folder(tmp_path, capsys):
    from sr_desktop.cli.main import main

    src = _png(tmp_path / "a.png")
    # was exit 1 after the upscale ("cannot write …: unknown output suffix (none)")
    assert main(["upscale", str(src), "-o", str(tmp_path / "noext"), "--model", "bicubic", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has no image file suffix" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    # "newdir/" was read as a file named newdir
    assert main(["upscale", str(src), "-o", str(tmp_path / "newdir") + "/", "--model", "bicubic", "--quiet"]) == 0
    assert (tmp_path / "newdir" / "a.png").is_file()


def test_quality_given_for_png_output_gets_a_note(tmp_path):
    src = _png(tmp_path / "a.png")
    r = sr("upscale", src, "-o", tmp_path / "b.png", "--model", "bicubic", "--scale", "2", "--quality", "40")
    assert r.returncode == 0 and "it does not apply to png, so it is ignored" in r.stderr
    r = sr("upscale", src, "-o", tmp_path / "b.webp", "--model", "bicubic", "--scale", "2", "--quality", "40")
    assert r.returncode == 0 and "--quality" not in r.stderr
    # a refusal is the one line said: the note first read as its cause
    r = sr("upscale", src, "-o", tmp_path / "c.png", "--model", "map-sr", "--variant", "nope", "--quality", "40")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no variant 'nope'" in r.stderr


def test_a_temp_file_a_killed_upscale_left_is_removed_by_the_next(tmp_path):
    from sr_desktop.engine.imageio.atomic import temp_path_for

    src = _png(tmp_path / "a.png")
    out = tmp_path / "out.png"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                           text=True, check=True)
    fresh = temp_path_for(out)  # named with this (live) process: another writer of out.png now
    stale = fresh.with_name(fresh.name.replace(f".{os.getpid()}-", f".{int(ended.stdout)}-"))  # killed
    old = out.with_name(".out.png.0badc0de.part")  # named before the writer's pid was in the name
    stale.write_bytes(b"half a PNG")
    fresh.write_bytes(b"another process writing out.png now")
    old.write_bytes(b"half a PNG")
    os.utime(old, (1e9, 1e9))  # untouched for years
    assert sr("upscale", src, "-o", out, "--model", "bicubic", "--scale", "2").returncode == 0
    assert out.is_file() and not stale.exists() and not old.exists() and fresh.exists()


def test_a_per_image_model_with_an_unknown_variant_is_a_usage_error(tmp_path, capsys):
    from sr_desktop.cli.main import main

    src = _png(tmp_path / "a.png")
    np.save(tmp_path / "k.npy", np.ones((5, 5)))
    for model in ("zssr", "map-sr"):
        assert main(["upscale", str(src), "-o", str(tmp_path / "z.png"), "--model", model, "--backend", "openvino",
                     "--kernel", str(tmp_path / "k.npy"), "--scale", "2", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--backend openvino cannot run it" in err
    for model in ("zssr", "map-sr"):  # was exit 1, "1 of 1 file(s) failed" (span: exit 2)
        assert main(["upscale", str(src), "-o", str(tmp_path / "z.png"), "--model", model, "--variant", "foo",
                     "--kernel", str(tmp_path / "k.npy"), "--scale", "2", "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{model} has no variant 'foo'; available: default, " in err
    assert not (tmp_path / "z.png").exists()


def test_opencv_warnings_do_not_reach_the_terminal(tmp_path):
    import cv2

    src = tmp_path / "pages.tif"  # a 16-bit RGBA page: libtiff warns about its extra samples
    cv2.imwritemulti(str(src), [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 4), np.uint16)])
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_LOG_LEVEL"}
    r = subprocess.run([sys.executable, "-m", "sr_desktop", "upscale", str(src), "-o", str(tmp_path / "out.tif"),
                        "--model", "bicubic", "--scale", "2", "-q"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stderr == "", r.stderr  # it printed "[ WARN:0@0.016] … TIFF_Warning …"


def test_a_folder_among_the_inputs_and_an_input_without_a_suffix(tmp_path, capsys):
    from sr_desktop.cli.main import main

    src = _png(tmp_path / "a.png")
    (tmp_path / "shoot").mkdir()
    # was: "cannot write out/shoot: unknown output suffix (none)"; the other input is done
    assert main(["upscale", str(tmp_path / "shoot"), str(src), "-o", str(tmp_path / "out") + "/",
                 "--model", "bicubic", "--quiet"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("cannot read " + str(tmp_path / "shoot") + ": is a folder, not an image file"), err
    assert len(err) == 2 and (tmp_path / "out" / "a.png").is_file()
    bare = tmp_path / "scan"
    bare.write_bytes(src.read_bytes())  # a PNG named without a suffix
    assert main(["upscale", str(bare), "-o", str(tmp_path / "out") + "/", "--model", "bicubic", "--quiet"]) == 0
    assert (tmp_path / "out" / "scan.png").is_file()


def test_the_first_use_notice_reaches_the_terminal(tmp_path, monkeypatch, capsys):
    from sr_desktop.cli import cmd_batch
    from sr_desktop.cli.main import main
    from sr_desktop.engine.core.progress import BACKEND_STAGE, ProgressInfo
    from sr_desktop.engine.pipeline import upscale as pipeline

    notice = ProgressInfo(done=0, total=0, elapsed=0.0, eta=None, stage=BACKEND_STAGE,
                          message="first use of espcn ×3: timing the backends")
    real = pipeline.resolve_model

    def measuring(options, model=None, progress=None, cancel=None):  # as a first use does
        if model is None:
            progress(notice)
        return real(options, model, cancel=cancel)

    monkeypatch.setattr(pipeline, "resolve_model", measuring)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    src = _png(tmp_path / "a.png")
    # the model was loaded without a progress sink: seconds of silence, the notice never shown
    assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "bicubic", "--scale", "2"]) == 0
    assert "sr-desktop: first use of espcn ×3: timing the backends…" in capsys.readouterr().err
    bar = cmd_batch._TerminalProgress(enabled=True)
    bar(notice)  # the batch's bar: the notice, and no bar of 0 files
    assert bar.bar is None and "first use of espcn ×3" in capsys.readouterr().err



def test_a_per_image_models_device_refusal_is_one_line_before_any_file(tmp_path, capsys):
    # said once per file ("2 of 2 file(s) failed", exit 1) for zssr and map-sr
    from sr_desktop.cli.main import main

    inputs = [str(_png(tmp_path / f"{i}.png")) for i in range(2)]
    for option in (["--device", "vulkan"], ["--device", "cpu", "--precision", "fp16"]):
        assert main(["upscale", *inputs, "-o", str(tmp_path / "out"), "--model", "map-sr", "--scale", "2",
                     *option]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("sr-desktop: error: ") and not (tmp_path / "out").exists()


def test_no_metadata_strips_exif_and_the_profile_from_one_file_too(tmp_path, capsys):
    """Only `batch` had --no-metadata: a single photo could not be shared without its GPS."""
    from PIL import Image

    from sr_desktop.cli.main import main

    src = tmp_path / "gps.jpg"
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    Image.new("RGB", (16, 12), (120, 80, 40)).save(src, exif=exif.tobytes(), dpi=(300, 300))
    assert main(["upscale", str(src), "-o", str(tmp_path / "kept.jpg"), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0
    assert main(["upscale", str(src), "-o", str(tmp_path / "bare.jpg"), "--model", "bicubic", "--scale", "2",
                 "--no-metadata", "-q"]) == 0, capsys.readouterr().err
    with Image.open(tmp_path / "kept.jpg") as kept, Image.open(tmp_path / "bare.jpg") as bare:
        assert kept.getexif().get(0x010F) == "Camera maker" and kept.info.get("dpi") == (300, 300)
        assert not bare.getexif() and "icc_profile" not in bare.info and bare.info.get("dpi") in (None, (72, 72))


def test_a_cancelled_upscale_exits_130_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """Ctrl+C (130, as `batch` and the shell say it) must not read as a failed file (1)."""
    from PIL import Image

    from sr_desktop.cli.main import main
    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.pipeline import animation

    src = tmp_path / "a.png"
    Image.new("RGB", (16, 12), (120, 80, 40)).save(src)

    def interrupted(*_args, **_kwargs):
        raise Cancelled()

    monkeypatch.setattr(animation, "upscale_any", interrupted)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic", "--scale", "2"]) == 130
    err = capsys.readouterr().err
    assert "cancelled at" in err and not (tmp_path / "out.png").exists()


def test_ctrl_c_during_a_tile_bar_says_interrupted_on_its_own_line(tmp_path, monkeypatch, capsys):
    """KeyboardInterrupt left the tile bar standing and 'sr-desktop: interrupted' was printed
    at its end ('… 4/32 [00:06<00:47,  1.68s/tile]sr-desktop: interrupted')."""
    from PIL import Image

    from sr_desktop.cli.main import main
    from sr_desktop.engine.core.progress import ProgressInfo
    from sr_desktop.engine.pipeline import animation

    src = tmp_path / "a.png"
    Image.new("RGB", (16, 12), (120, 80, 40)).save(src)

    def ctrl_c_at_tile_4(*_args, progress=None, **_kwargs):
        progress(ProgressInfo(4, 32, 6.0, 47.0, stage="tiles"))
        raise KeyboardInterrupt

    monkeypatch.setattr(animation, "upscale_any", ctrl_c_at_tile_4)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # the bar is drawn
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic", "--scale", "2"]) == 130
    err = capsys.readouterr().err
    assert "4/32" in err  # the bar was on the terminal
    assert err.replace("\r", "\n").splitlines()[-1] == "sr-desktop: interrupted"


@pytest.mark.parametrize("message", ["division by zero", "division by zero\nsecond line\nthird"])
def test_an_unexpected_error_is_one_line_and_exit_3(tmp_path, monkeypatch, capsys, message):
    """A bug (exit 3, as --help says) is one line that asks for -v, not a traceback; a
    multi-line message printed over 3 lines (the hint on the last), and with -v the traceback
    ended the command with Python's status 1."""
    from PIL import Image

    from sr_desktop.cli import cmd_upscale
    from sr_desktop.cli.main import main

    src = tmp_path / "a.png"
    Image.new("RGB", (16, 12), (120, 80, 40)).save(src)

    def bug(_args):
        raise ZeroDivisionError(message)

    monkeypatch.setattr(cmd_upscale, "run", bug)
    logged = []
    monkeypatch.setattr("sr_desktop.cli.log_file.write_to_log_file",
                        lambda level, message, exc_info=None: logged.append((message, sys.exc_info()[0])))
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["sr-desktop: unexpected error: ZeroDivisionError: division by zero "
                   "(run `sr-desktop -v ...` for details)"]
    # its traceback is in the log file too (README: commands write an unexpected error's traceback)
    assert logged == [("unexpected error", ZeroDivisionError)]
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic", "-v"]) == 3
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "Traceback" in err and last == "sr-desktop: unexpected error: ZeroDivisionError: division by zero"


@pytest.mark.parametrize("command", ["kernel", "train"])
def test_running_out_of_memory_is_one_line_not_an_internal_error(tmp_path, monkeypatch, capsys, command):
    """`kernel` on a large photo (numpy's MemoryError) and `train` with a large batch
    (torch's allocator: a RuntimeError) ended as "unexpected error", exit 3."""
    from sr_desktop.cli import cmd_kernel, cmd_train
    from sr_desktop.cli.main import main

    src = _png(tmp_path / "a.png")
    failures = {"kernel": MemoryError("Unable to allocate 1.07 GiB for an array with shape (6000, 8000, 3)"),
                "train": RuntimeError("[enforce fail at alloc_cpu.cpp:127] data. DefaultCPUAllocator: "
                                      "can't allocate memory: you tried to allocate 905969664 bytes")}

    def runs_out(_args):
        raise failures[command]

    monkeypatch.setattr(cmd_kernel if command == "kernel" else cmd_train, "run", runs_out)
    args = {"kernel": ["kernel", str(src), "-o", str(tmp_path / "k.npy")],
            "train": ["train", "--arch", "srcnn", "--scale", "2", "--data", str(tmp_path),
                      "--out", str(tmp_path / "r")]}
    assert main(args[command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sr-desktop: error: not enough memory (")


def test_what_the_output_format_cannot_keep_is_a_note(tmp_path, capsys):
    """A half-transparent PNG upscaled into a JPEG was flattened onto white without a word."""
    from sr_desktop.cli.main import main

    rgba = np.zeros((12, 16, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 128
    PILImage.fromarray(rgba).save(tmp_path / "t.png")
    assert main(["upscale", str(tmp_path / "t.png"), "-o", str(tmp_path / "t.jpg"), "--model", "bicubic"]) == 0
    assert "sr-desktop: note: t.jpg: transparency flattened onto white" in capsys.readouterr().err
    assert main(["upscale", str(tmp_path / "t.png"), "-o", str(tmp_path / "t2.png"), "--model", "bicubic"]) == 0
    assert "note" not in capsys.readouterr().err


def test_a_lossless_webp_stays_lossless_unless_a_quality_is_asked_for(tmp_path):
    """Flat-colour art in a lossless WebP came back lossy at quality 95 (colour fringes)."""
    from sr_desktop.cli.main import main
    from sr_desktop.engine.imageio.read import webp_is_lossless

    art = np.zeros((16, 20, 4), np.uint8)
    art[4:12, 5:15] = (200, 30, 60, 255)
    PILImage.fromarray(art, "RGBA").save(tmp_path / "art.webp", lossless=True)
    PILImage.fromarray(art[:, :, :3]).save(tmp_path / "photo.webp", quality=80)
    for source, target, extra in (("art", "a", []), ("photo", "p", []), ("art", "q", ["--quality", "90"])):
        args = ["upscale", str(tmp_path / f"{source}.webp"), "-o", str(tmp_path / f"{target}.webp"), *extra]
        assert main([*args, "--model", "bicubic", "--scale", "2", "-q"]) == 0
    assert webp_is_lossless((tmp_path / "a.webp").read_bytes())
    assert not webp_is_lossless((tmp_path / "p.webp").read_bytes())
    assert not webp_is_lossless((tmp_path / "q.webp").read_bytes())
    assert main(["upscale", str(tmp_path / "art.webp"), "-o", str(tmp_path / "a.png"), "--model", "bicubic",
                 "--scale", "2", "-q"]) == 0
    assert np.array_equal(np.asarray(PILImage.open(tmp_path / "a.webp")), np.asarray(PILImage.open(tmp_path / "a.png")))
    (tmp_path / "in").mkdir()
    (tmp_path / "art.webp").rename(tmp_path / "in" / "art.webp")
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--model", "bicubic", "--scale", "2",
                 "--no-progress"]) == 0
    assert webp_is_lossless((tmp_path / "out" / "art_x2_bicubic.webp").read_bytes())


def test_nearest_enlarges_pixel_art_into_exact_blocks(tmp_path):
    """No model or resampler kept a 16-px icon's pixels: bicubic and the networks blur or
    invent colours. `nearest` repeats each pixel as an s×s block, alpha too, tiled or not."""
    from sr_desktop.cli.main import main

    rng = np.random.default_rng(1)
    icon = rng.integers(0, 256, (16, 16, 4), dtype=np.uint8)
    icon[:, :, 3] = np.where(rng.random((16, 16)) > 0.3, 255, 0)
    PILImage.fromarray(icon, "RGBA").save(tmp_path / "icon.png")
    big = rng.integers(0, 256, (150, 170, 3), dtype=np.uint8)
    PILImage.fromarray(big).save(tmp_path / "big.png")
    for name, pixels, scale, tile in (("icon", icon, 4, "auto"), ("icon", icon, 3, "auto"), ("big", big, 5, "32")):
        out = tmp_path / f"{name}_{scale}.png"
        assert main(["upscale", str(tmp_path / f"{name}.png"), "-o", str(out), "--model", "nearest",
                     "--scale", str(scale), "--tile", tile, "-q"]) == 0
        got = np.asarray(PILImage.open(out))
        blocks = np.repeat(np.repeat(pixels, scale, 0), scale, 1)
        if pixels.shape[2] == 4:  # (the colour under alpha 0 is the nearest visible one's)
            visible = blocks[:, :, 3] > 0
            assert np.array_equal(got[:, :, 3], blocks[:, :, 3]) and np.array_equal(got[visible], blocks[visible])
        else:
            assert np.array_equal(got, blocks)


def test_an_ascii_standard_output_gets_escapes_not_an_internal_error(tmp_path):
    """With an ASCII (or Latin-1) stdout the summary's "×" ended the run with exit 3 after
    the first file; a name that is not UTF-8 did so in a UTF-8 locale."""
    _png(tmp_path / "plain.png")
    _png(tmp_path / "café.png")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONIOENCODING="ascii")
    done = subprocess.run([sys.executable, "-m", "sr_desktop", "upscale", str(tmp_path / "plain.png"),
                           str(tmp_path / "café.png"), "-o", str(tmp_path / "out"), "--model", "bicubic",
                           "--scale", "2"], capture_output=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    assert b"20\\xd716 -> 40\\xd732" in done.stdout and b"caf\\xe9.png" in done.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["café.png", "plain.png"]


def test_the_result_line_says_how_a_scale_the_model_lacks_was_reached(tmp_path, capsys):
    """"span ×3" hid a ×4 pass and a Lanczos downscale to ×3 (bench said so, upscale not)."""
    from PIL import Image

    from sr_desktop.cli.main import main

    src = tmp_path / "a.png"
    Image.new("RGB", (16, 12), (120, 80, 40)).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "x3.png"), "--model", "span", "--scale", "3"]) == 0
    assert "span · ch48 ×3 (×4, then Lanczos to ×3)," in capsys.readouterr().out
    assert main(["upscale", str(src), "-o", str(tmp_path / "x4.png"), "--model", "span", "--scale", "4"]) == 0
    assert "span · ch48 ×4," in capsys.readouterr().out


def test_the_result_line_names_the_variant_and_the_iterations_given(tmp_path, capsys):
    """`--variant ch52` and `--variant ch48` printed the same line ("span ×2"), as did
    map-sr's runs of any length."""
    from PIL import Image

    from sr_desktop.cli.main import main

    src = tmp_path / "a.png"
    Image.new("RGB", (16, 12), (120, 80, 40)).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.png.out.png"), "--model", "span", "--scale", "2",
                 "--variant", "ch52"]) == 0
    assert ", span · ch52 ×2, " in capsys.readouterr().out
    assert main(["upscale", str(src), "-o", str(tmp_path / "m.png"), "--model", "map-sr", "--scale", "2",
                 "--iterations", "3", "--device", "cpu"]) == 0
    assert ", map-sr ×2, iterations 3, " in capsys.readouterr().out


def test_a_terminal_shows_the_rows_of_a_large_png_being_saved(tmp_path, monkeypatch, capsys):
    """A 192-megapixel PNG takes half a minute after the upscale's bar ends: nothing moved."""
    from sr_desktop.cli.main import main
    from sr_desktop.cli.progress_bar import TerminalProgress
    from sr_desktop.engine.core.progress import SAVE_STAGE, ProgressInfo
    from sr_desktop.engine.imageio import png

    monkeypatch.setattr(png, "CV2_MAX_BYTES", 0)  # the engine's own encoder, as for a large image
    monkeypatch.setattr(png, "_BLOCK_BYTES", 40 * 3 * 8)  # 8 rows a block
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    src = _png(tmp_path / "a.png")
    assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "bicubic", "--scale", "2"]) == 0
    assert "b.png (saving)" in capsys.readouterr().err
    bar = TerminalProgress("b.webp (saving)", enabled=True)
    bar(ProgressInfo(done=0, total=32, elapsed=0.1, eta=None, stage=SAVE_STAGE, extra={"bytes": 100, "rows": False}))
    assert bar._bar is None  # bytes of a size not known: no bar stuck at 0 %
    bar(ProgressInfo(done=8, total=32, elapsed=0.1, eta=None, stage=SAVE_STAGE, extra={"bytes": 100, "rows": True}))
    assert (bar._bar.n, bar._bar.total, bar._bar.unit) == (8, 32, "row")
    bar.close()
    capsys.readouterr()


def test_an_output_named_with_a_format_read_but_not_written_says_so(tmp_path, capsys):
    """`-o x.heic` said "has no image file suffix: name the file (e.g. x.heic.heic)", and
    following it, x.heic.heic.heic; with --format it wrote x.heic.png."""
    from sr_desktop.cli.main import main

    src = _png(tmp_path / "a.png")
    for extra, advice in (([], "x.png (or .jpg, .webp, .tif)"), (["--format", "webp"], "x.webp")):
        assert main(["upscale", str(src), "-o", str(tmp_path / "x.heic"), "--model", "bicubic", *extra]) == 2
        assert capsys.readouterr().err == (f"sr-desktop: error: -o {tmp_path / 'x.heic'}: HEIC is read, not written; "
                                           f"name the output {advice}\n")
    heic_named = tmp_path / "photo.heic"
    heic_named.write_bytes(src.read_bytes())  # (read by its content)
    assert main(["upscale", str(heic_named), "-o", str(tmp_path / "noext"), "--model", "bicubic"]) == 2
    assert "(e.g. noext.png)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "photo.heic"]


def test_the_closing_counts_are_in_words(tmp_path, capsys):
    """"1 of 2 file(s) failed" and a batch's "(1 not images)": the counts read as sentences."""
    from PIL import Image

    from sr_desktop.cli.main import main

    Image.new("RGB", (8, 6)).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert main(["upscale", str(tmp_path / "good.png"), str(tmp_path / "bad.png"), "-o", str(tmp_path / "out"),
                 "--model", "bicubic", "--scale", "2"]) == 1
    assert capsys.readouterr().err.endswith("sr-desktop: 1 of 2 files failed\n")


@pytest.mark.parametrize("model, mode", [("bicubic", "RGB"), ("srcnn", "RGB"), ("srcnn", "RGBA")])
def test_region_is_those_pixels_of_the_whole_result(tmp_path, model, mode):
    """--region as the window's region tool: the region alone, equal to the whole result there
    (within one level: a network's sums run in another order on a crop)."""
    src = _png(tmp_path / "a.png", h=40, w=48, mode=mode)
    whole, part = tmp_path / "whole.png", tmp_path / "part.png"
    assert sr("upscale", src, "-o", whole, "--model", model, "--scale", "2").returncode == 0
    r = sr("upscale", src, "-o", part, "--model", model, "--scale", "2", "--region", "5,7,20,12")
    assert r.returncode == 0, r.stderr
    assert "(region 20×12 at (5, 7) of 48×40 -> 40×24, " in r.stdout
    expected = np.asarray(PILImage.open(whole))[14:38, 10:50].astype(int)
    got = np.asarray(PILImage.open(part)).astype(int)
    assert got.shape == expected.shape and np.abs(got - expected).max() <= 1


@pytest.mark.parametrize("region, code, words", [
    ("40,0,20,10", 1, "a.png: region 20×10 at (40, 0) is not inside the 48×40 image"),
    ("1,2,3", 2, "a region is X,Y,W,H in pixels"),
    ("0,0,0,5", 2, "a region's width and height are at least 1, got 0×5"),
])
def test_a_region_off_the_image_is_one_line(tmp_path, region, code, words):
    src = _png(tmp_path / "a.png", h=40, w=48)
    r = sr("upscale", src, "-o", tmp_path / "out.png", "--model", "bicubic", "--scale", "2", f"--region={region}")
    assert r.returncode == code and words in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.png").exists()


def test_region_refuses_an_animation(tmp_path):
    frames = [PILImage.fromarray(np.full((12, 16, 3), v, np.uint8)) for v in (0, 255)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    r = sr("upscale", tmp_path / "anim.gif", "-o", tmp_path / "out.gif", "--model", "nearest", "--scale", "2",
           "--region", "0,0,4,4")
    assert r.returncode == 1 and "--region takes still images; this one has 2 frames" in r.stderr
