"""Regression tests for the failures of issue 18, one test (or a few) per failure.

1 symlink loop, 2 declared size vs data, 3 out of memory per file and at start-up,
4 batch output folder = input folder, 5 every entry in the batch report, 6 one stderr line
per failure (warnings to the log, names escaped), 7 exit code 3 documented and unexpected
errors per file, 9 name templates refuse conversions and format specs.
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.cli.main import main
from sr_desktop.engine.batch.plan import BatchError, check_template
from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.imageio import read_image

ROOT = Path(__file__).resolve().parents[1]
PIXELS = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def _png(path: Path, pixels=PIXELS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(pixels).save(path)
    return path


def _sr(*args, limit_mib: int | None = None, cwd=None) -> subprocess.CompletedProcess:
    """`sr-desktop ARGS` in a subprocess, optionally under an address-space limit (prlimit)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def limit():
        if limit_mib is not None:
            size = limit_mib * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return subprocess.run([sys.executable, "-m", "sr_desktop", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=240, preexec_fn=limit)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


# -- 1: a symlink loop is one failed file --------------------------------------------------


def test_symlink_loop_fails_alone_and_the_other_file_is_done(tmp_path, capsys):
    good = _png(tmp_path / "good.png")
    (tmp_path / "loop1.png").symlink_to("loop2.png")
    (tmp_path / "loop2.png").symlink_to("loop1.png")
    code = main(["upscale", str(tmp_path / "loop1.png"), str(good), "-o", str(tmp_path / "out"),
                 "--model", "bicubic", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot read {tmp_path / 'loop1.png'}: symlink loop" in err
    assert (tmp_path / "out" / "good.png").is_file()
    with pytest.raises(ImageReadError, match="symlink loop"):
        read_image(tmp_path / "loop2.png")


def test_dangling_symlink_says_so(tmp_path):
    (tmp_path / "gone.png").symlink_to("nowhere.png")
    with pytest.raises(ImageReadError, match="symlink to a missing file"):
        read_image(tmp_path / "gone.png")


# -- 2: a header that declares more pixels than the data hold -------------------------------


def _tiff_declaring(rows: int) -> bytes:
    """An uncompressed 64×48 TIFF whose header is patched to say 1×``rows``."""
    buffer = io.BytesIO()
    PILImage.fromarray(PIXELS).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        tag = struct.unpack("<H", data[entry : entry + 2])[0]
        if tag == 256:
            data[entry : entry + 12] = struct.pack("<HHII", 256, 4, 1, 1)
        elif tag == 257:
            data[entry : entry + 12] = struct.pack("<HHII", 257, 4, 1, rows)
    return bytes(data)


def _png_declaring(rows: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(PIXELS).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[20:24] = struct.pack(">I", rows)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _bmp_declaring(rows: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(PIXELS).save(buffer, "BMP")
    data = bytearray(buffer.getvalue())
    data[22:26] = struct.pack("<i", rows)
    return bytes(data)


def _webp_declaring(rows: int) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(PIXELS).save(buffer, "WEBP", quality=80)
    data = bytearray(buffer.getvalue())
    start = data.index(b"\x9d\x01\x2a")  # VP8 key frame start code, then width and height
    data[start + 5 : start + 7] = struct.pack("<H", rows)
    return bytes(data)


@pytest.mark.parametrize("make,suffix", [(_tiff_declaring, ".tif"), (_png_declaring, ".png"),
                                         (_bmp_declaring, ".bmp"), (_webp_declaring, ".webp")])
def test_more_declared_pixels_than_data_is_refused(tmp_path, capsys, make, suffix):
    src = tmp_path / f"tall{suffix}"
    src.write_bytes(make(1_000_000 if suffix == ".tif" else 480))
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(src)
    code = main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "truncated or corrupt" in err
    assert not (tmp_path / "out.png").exists()


def test_libtiff_complaints_stay_off_stderr(tmp_path):
    src = tmp_path / "tall.tif"
    buffer = io.BytesIO()
    PILImage.fromarray(PIXELS).save(buffer, "TIFF", compression="tiff_deflate")
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 257:
            data[entry : entry + 12] = struct.pack("<HHII", 257, 4, 1, 1_000_000)
    src.write_bytes(bytes(data))
    r = _sr("upscale", src, "-o", tmp_path / "o.png", "--model", "bicubic", "-q")
    assert r.returncode == 1
    lines = _error_lines(r.stderr)
    # one line for the file and the summary; libtiff's "TIFFFillStrip: ..." goes to the log
    assert len(lines) == 2 and "tall.tif" in lines[0] and "TIFF" not in r.stderr.replace("tall.tif", ""), r.stderr


# -- 3: out of memory -----------------------------------------------------------------------


def test_out_of_memory_on_one_file_names_it_and_the_run_goes_on(tmp_path):
    big = _png(tmp_path / "a_big.png", np.zeros((2000, 2000, 3), np.uint8))  # ×16: 3 GB output
    small = _png(tmp_path / "b_small.png", PIXELS[:20, :20])
    r = _sr("upscale", big, small, "-o", tmp_path / "mo", "--model", "bicubic", "--scale", "16", "-q",
            limit_mib=1000)
    assert r.returncode == 1, r.stderr
    lines = _error_lines(r.stderr)
    assert "Traceback" not in r.stderr and len(lines) == 2, r.stderr
    assert "out of memory upscaling a_big.png (needs about 2.9 GiB)" in lines[0]
    assert "--tile" in lines[0]
    assert [p.name for p in (tmp_path / "mo").iterdir()] == ["b_small.png"]


def test_out_of_memory_beyond_the_free_memory_names_the_scale_not_the_tile(tmp_path, monkeypatch):
    """The result alone (tile-independent) needs more than the machine has free: the message
    said "try a smaller --tile", which changes nothing; it names the scale and the free memory."""
    from sr_desktop.engine.compute import devices
    from sr_desktop.engine.core.options import UpscaleOptions
    from sr_desktop.engine.imageio.image import Image
    from sr_desktop.engine.pipeline import upscale
    from sr_desktop.engine.pipeline.memory import UpscaleMemoryError

    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 3.07 GiB for an array")

    monkeypatch.setattr(upscale, "_upscale_image", no_memory)
    monkeypatch.setattr(devices, "available_host_bytes", lambda: 2 * 10**9)
    image = Image(np.zeros((2000, 2000, 3), np.uint8), path=tmp_path / "a_big.png")
    with pytest.raises(UpscaleMemoryError) as caught:
        upscale.upscale_image(image, UpscaleOptions(model="bicubic", scale=16))
    assert str(caught.value) == ("out of memory upscaling a_big.png (the result needs about 2.9 GiB, 1.9 GiB free); "
                                 "try a smaller scale, or close other programs")


def test_out_of_memory_in_a_batch_is_one_failed_file(tmp_path):
    src = tmp_path / "in"
    _png(src / "a_big.png", np.zeros((2000, 2000, 3), np.uint8))
    _png(src / "b_small.png", PIXELS[:20, :20])
    r = _sr("batch", src, tmp_path / "out", "--model", "bicubic", "--scale", "16", "--no-progress",
            "--report", tmp_path / "r.json", limit_mib=1000)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    by_name = {Path(f["input"]).name: f for f in report["files"]}
    assert by_name["b_small.png"]["status"] == "ok"
    assert by_name["a_big.png"]["status"] == "failed"
    assert by_name["a_big.png"]["error"].startswith("out of memory upscaling a_big.png")


def test_too_little_memory_to_start_is_one_line(tmp_path):
    src = _png(tmp_path / "a.png")
    # a network model: it needs torch, which cannot load in 400 MiB (bicubic runs without it)
    r = _sr("upscale", src, "-o", tmp_path / "o.png", "--model", "realesr-animevideov3", "--scale", "2",
            limit_mib=400)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = _error_lines(r.stderr)
    assert len(lines) == 1 and "cannot start" in lines[0] and "not enough memory" in lines[0], r.stderr


def test_a_network_model_under_the_issues_memory_limit_never_dies_without_a_word(tmp_path):
    """Issue 18's limit with span on torch: OpenCV, started by the PNG writer after torch in
    the nearly full address space, killed the process (status 139, not a word). Under an
    address-space limit the PNG is written without OpenCV; a file that does not fit is said
    in a line of its own."""
    small = _png(tmp_path / "b_small.png", PIXELS[:20, :20])
    out = tmp_path / "out.png"
    r = _sr("upscale", small, "-o", out, "--model", "span", "--backend", "torch", "-q", limit_mib=1000)
    assert r.returncode in (0, 1, 2), (r.returncode, r.stderr)
    lines = _error_lines(r.stderr)
    assert "Traceback" not in r.stderr and all(line.startswith("sr-desktop: ") for line in lines), r.stderr
    if r.returncode == 0:
        assert PILImage.open(out).size == (80, 80)
    else:  # the machine had less room: said as memory
        assert "memory" in lines[0], lines


PNG_UNDER_A_LIMIT = """
import resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, (64 << 30, 64 << 30))
from sr_desktop.engine.imageio import Image, SaveOptions, read_image, write_image
pixels = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
write_image(Image(pixels), sys.argv[1], SaveOptions(format="png"))
print("cv2" in sys.modules, bool((read_image(sys.argv[1]).pixels == pixels).all()))
"""


def test_under_an_address_space_limit_a_png_is_written_without_opencv(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", PNG_UNDER_A_LIMIT, str(tmp_path / "a.png")], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_an_error_while_torch_is_still_being_imported_is_not_taken_for_a_bug(monkeypatch):
    """The window imports torch in the background as it starts: an Esc then (Cancelled) was
    asked whether it was out of memory, torch, in sys.modules with no OutOfMemoryError yet,
    raised AttributeError, and the window said 'unexpected error' instead of 'Cancelled'."""
    import types

    from sr_desktop.engine.core.errors import Cancelled
    from sr_desktop.engine.pipeline.memory import is_allocation_failure

    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))  # half imported
    assert not is_allocation_failure(Cancelled("cancelled"))
    assert is_allocation_failure(MemoryError())


def test_openvinos_allocation_failure_is_out_of_memory():
    """OpenVINO's CPU plugin said "[CPU] Reorder node … can't alloc": the file's line was
    "RuntimeError: Exception from src/inference/src/cpp/infer_request.cpp:224:"."""
    from sr_desktop.engine.pipeline.memory import is_allocation_failure

    exc = RuntimeError("Exception from src/inference/src/cpp/infer_request.cpp:224:\n"
                       "Exception from src/plugins/intel_cpu/src/node.cpp:823:\n"
                       "[CPU] Reorder node with name 'Multiply_6324' can't alloc\n")
    assert is_allocation_failure(exc)


# -- 4: output folder = input folder ----------------------------------------------------------


def test_batch_into_its_input_folder_refuses_to_overwrite_inputs(tmp_path, capsys):
    src = tmp_path / "in"
    for i in range(3):
        _png(src / f"p{i}.png", PIXELS + i)
    code = main(["batch", str(src), str(src), "--allow-inside-input", "--name", "{stem}", "--model", "bicubic",
                 "--no-progress", "--report", str(tmp_path / "r.json")])
    capsys.readouterr()
    assert code == 1
    files = json.loads((tmp_path / "r.json").read_text())["files"]
    assert [f["status"] for f in files] == ["failed"] * 3
    assert all("would overwrite the input" in f["error"] for f in files)
    assert all(np.array_equal(np.array(PILImage.open(src / f"p{i}.png")), PIXELS + i) for i in range(3))


def test_batch_never_takes_its_own_outputs_as_inputs(tmp_path, capsys):
    src = tmp_path / "in"
    _png(src / "a.png")
    args = ["batch", str(src), str(src), "--allow-inside-input", "--model", "bicubic", "--scale", "2",
            "--no-progress", "--report", str(tmp_path / "r.json")]
    assert main(args) == 0
    assert main(args) == 0
    capsys.readouterr()
    assert sorted(p.name for p in src.iterdir()) == ["a.png", "a_x2_bicubic.png"]
    files = {Path(f["input"]).name: f for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert files["a.png"]["note"] == "output exists"
    assert files["a_x2_bicubic.png"]["status"] == "skipped"
    assert files["a_x2_bicubic.png"]["note"].startswith("an output of this batch")


def test_batch_never_takes_its_renamed_outputs_as_inputs(tmp_path, capsys):
    """With ``--existing rename`` each run writes ``a_x2_bicubic_N.png``; later runs see those
    as outputs of the batch too (they once took ``a_x2_bicubic_1.png`` as a new input)."""
    src = tmp_path / "in"
    _png(src / "a.png")
    _png(src / "b_7.png")  # an input whose name only looks renamed: b.png is nobody's output
    args = ["batch", str(src), str(src), "--allow-inside-input", "--existing", "rename", "--model", "bicubic",
            "--scale", "2", "--no-progress", "--report", str(tmp_path / "r.json")]
    for _ in range(3):
        assert main(args) == 0
    capsys.readouterr()
    assert sorted(p.name for p in src.iterdir()) == [
        "a.png", "a_x2_bicubic.png", "a_x2_bicubic_1.png", "a_x2_bicubic_2.png",
        "b_7.png", "b_7_x2_bicubic.png", "b_7_x2_bicubic_1.png", "b_7_x2_bicubic_2.png"]
    files = {Path(f["input"]).name: f for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert files["a.png"]["status"] == files["b_7.png"]["status"] == "ok"
    for name in ("a_x2_bicubic.png", "a_x2_bicubic_1.png", "b_7_x2_bicubic_1.png"):
        assert files[name]["status"] == "skipped" and files[name]["note"].startswith("an output of this batch")


# -- 5: every entry of the input tree is in the report -----------------------------------------


def test_report_lists_fifos_links_loops_and_folders_named_like_images(tmp_path, capsys):
    src = tmp_path / "in"
    _png(src / "good.png")
    os.mkfifo(src / "pipe.png")
    (src / "dangling.png").symlink_to("missing.png")
    (src / "loop1.png").symlink_to("loop2.png")
    (src / "loop2.png").symlink_to("loop1.png")
    (src / "x.png").mkdir()
    (src / "notes.txt").write_text("hello")
    code = main(["batch", str(src), str(tmp_path / "out"), "--model", "bicubic", "--no-progress",
                 "--report", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1
    files = {Path(f["input"]).name: f for f in json.loads((tmp_path / "r.json").read_text())["files"]}
    assert set(files) == {"good.png", "pipe.png", "dangling.png", "loop1.png", "loop2.png", "x.png", "notes.txt"}
    assert files["good.png"]["status"] == "ok"
    assert files["notes.txt"]["status"] == "skipped"
    expected = {"pipe.png": "not a regular file", "dangling.png": "symlink to a missing file",
                "loop1.png": "symlink loop", "loop2.png": "symlink loop", "x.png": "is a folder"}
    for name, reason in expected.items():
        assert files[name]["status"] == "failed" and reason in files[name]["error"], files[name]
        assert name in err
    # recursive: the same entries are found one level down
    deep = tmp_path / "deep"
    deep.mkdir()
    src.rename(deep / "sub")
    code = main(["batch", str(deep), str(tmp_path / "out2"), "-r", "--model", "bicubic", "--no-progress",
                 "--report", str(tmp_path / "r2.json")])
    capsys.readouterr()
    names = {Path(f["input"]).name for f in json.loads((tmp_path / "r2.json").read_text())["files"]}
    assert names == {"good.png", "pipe.png", "dangling.png", "loop1.png", "loop2.png", "notes.txt"}


def test_a_sub_folder_that_cannot_be_listed_is_an_entry_not_the_end(tmp_path, monkeypatch):
    from sr_desktop.engine.batch import plan
    from sr_desktop.engine.batch.runner import BatchOptions, UpscaleOptions, run_batch

    src = tmp_path / "in"
    _png(src / "a.png")
    _png(src / "locked" / "b.png")
    real = plan._entries

    def entries(folder):
        if folder.name == "locked":  # (chmod 000 does not stop root, who runs some CI)
            raise PermissionError(13, "Permission denied")
        return real(folder)

    monkeypatch.setattr(plan, "_entries", entries)
    options = BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2), recursive=True)
    result = run_batch(src, tmp_path / "out", options, write_report_file=False)
    by_name = {Path(r.input).name: r for r in result.records}
    assert by_name["a.png"].status == "ok"
    assert by_name["locked"].status == "failed" and by_name["locked"].output is None
    assert by_name["locked"].error == "cannot list this folder: Permission denied"
    assert result.exit_code == 1


# -- 6: one line per failure on stderr ------------------------------------------------------------


def _tiff_with_bad_tag() -> bytes:
    """A good TIFF whose ImageDescription entry claims far more bytes than the file has:
    Pillow warns ("Tag data larger than file") and still decodes the pixels."""
    buffer = io.BytesIO()
    PILImage.fromarray(PIXELS).save(buffer, "TIFF", description="x" * 40)
    data = bytearray(buffer.getvalue())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 270:
            data[entry + 4 : entry + 8] = struct.pack("<I", 1 << 20)
    return bytes(data)


def test_warnings_go_to_the_log_and_names_are_escaped(tmp_path):
    warned = tmp_path / "warned.tif"
    warned.write_bytes(_tiff_with_bad_tag())
    odd = tmp_path / "two\nlines.png"
    odd.write_text("not an image")
    home = tmp_path / "home"
    env_home = dict(SR_DESKTOP_HOME=str(home))
    r = subprocess.run([sys.executable, "-m", "sr_desktop", "upscale", str(warned), str(odd), "-o",
                        str(tmp_path / "out"), "--model", "bicubic", "-q"], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), **env_home), timeout=240)
    assert r.returncode == 1
    lines = _error_lines(r.stderr)
    assert len(lines) == 2, r.stderr  # the failed file, the summary; no warning lines
    assert "two\\nlines.png: not an image file" in lines[0]
    assert (tmp_path / "out" / "warned.tif").is_file()
    logs = "".join(p.read_text() for p in home.rglob("sr-desktop.log"))
    assert "Tag data larger than file" in logs


def test_the_windows_warnings_go_to_the_log_once_each_not_to_its_terminal(tmp_path):
    """`sr-desktop --screenshot s.png warned.tif` printed 18 lines on stderr: Pillow's raw
    warning and eight "WARNING sr_desktop.gui.worker: …" copies (each in the log too)."""
    warned = tmp_path / "warned.tif"
    warned.write_bytes(_tiff_with_bad_tag())
    home = tmp_path / "home"
    r = subprocess.run([sys.executable, "-m", "sr_desktop", "--screenshot", str(tmp_path / "s.png"), str(warned)],
                       capture_output=True, text=True, timeout=240, cwd=tmp_path,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), SR_DESKTOP_HOME=str(home),
                                QT_QPA_PLATFORM="offscreen"))
    assert r.returncode == 0, r.stderr
    assert "Tag data larger than file" not in r.stderr, r.stderr
    logs = "".join(p.read_text() for p in home.rglob("sr-desktop.log"))
    records = [line.split(" ", 2)[2] for line in logs.splitlines()  # (without the time)
               if line[:1].isdigit() and "Tag data larger than file" in line]
    assert records and len(records) == len(set(records)), records  # once per job
    assert any(line.startswith("INFO sr_desktop.gui.worker: job ") and "(warned.tif)" in line for line in records)


# -- 7: exit code 3 documented; an unexpected error is one file's failure -------------------------


@pytest.mark.parametrize("command", [[], ["upscale"], ["batch"]])
def test_help_documents_exit_code_3(capsys, command):
    try:
        main([*command, "--help"])  # (without a command, main prints the help and returns)
    except SystemExit:
        pass
    text = " ".join(capsys.readouterr().out.split())
    assert "3 unexpected internal error" in text


def test_an_unexpected_error_on_one_file_is_that_file_failing(tmp_path, capsys, monkeypatch):
    from sr_desktop.engine.pipeline import upscale as pipeline

    real = pipeline.upscale_image

    def flaky(image, *args, **kwargs):
        if image.path is not None and image.path.name == "a.png":
            raise ZeroDivisionError("a bug")
        return real(image, *args, **kwargs)

    monkeypatch.setattr(pipeline, "upscale_image", flaky)
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    monkeypatch.setenv("SR_DESKTOP_HOME", str(tmp_path / "home"))
    code = main(["upscale", str(a), str(b), "-o", str(tmp_path / "out"), "--model", "bicubic", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    # a bug, not a bad input: it says so, and where its traceback went (it went nowhere without -v);
    # the log file is the window's when one was opened in this process (the suite's), else the home's
    said = f"sr-desktop: error: {a}: ZeroDivisionError: a bug (an unexpected error: its traceback is in "
    line = next(line for line in err.splitlines() if line.startswith(said))
    log = Path(line.removeprefix(said).removesuffix(")"))
    assert (tmp_path / "out" / "b.png").is_file() and not (tmp_path / "out" / "a.png").exists()
    assert "Traceback" not in err and f"upscaling {a} failed" in log.read_text(encoding="utf-8")
    code = main(["batch", str(tmp_path), str(tmp_path / "batch_out"), "--allow-inside-input", "--model", "bicubic",
                 "-q"])
    err = capsys.readouterr().err
    assert code == 1 and err == (f"sr-desktop: failed: {a}: ZeroDivisionError: a bug (an unexpected error: its "
                                 f"traceback is in {log})\n")
    assert f"{a} failed\nTraceback" in log.read_text(encoding="utf-8")


# -- 9: name templates -------------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["{stem!r}", "{stem!s}_x", "{stem:>20}", "{stem}_{scale:03d}"])
def test_templates_refuse_conversions_and_format_specs(template):
    with pytest.raises(BatchError, match="not allowed"):
        check_template(template)


def test_batch_cli_refuses_a_conversion_in_the_template(tmp_path, capsys):
    _png(tmp_path / "in" / "a.png")
    code = main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "--name", "{stem!r}", "--model", "bicubic"])
    assert code == 2 and "not allowed" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_main_help_shows_the_apps_own_options(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "--screenshot OUT.png" in text and "--window-size WxH" in text and "--offscreen" in text
    assert "app --help" not in text  # there is no `app` command to ask


def test_what_the_file_system_refuses_is_one_line_not_an_internal_error(tmp_path, capsys, monkeypatch):
    src = tmp_path / "a.png"
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(src)
    too_long = tmp_path / ("a" * 300 + ".png")
    assert main(["upscale", str(src), "-o", str(too_long), "--model", "bicubic", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "File name too long" in err and err.count("\n") == 1 and "unexpected" not in err

    files = tmp_path / "list.bin"
    files.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert main(["batch", str(tmp_path), str(tmp_path / "out"), "--model", "bicubic", "--files-from", str(files),
                 "--no-progress"]) == 2
    assert "is not a text file (one path per line)" in capsys.readouterr().err

    class FullDisk(io.StringIO):
        def write(self, _text):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert main(["--help"]) == 2  # `sr-desktop --help > /dev/full`: a line, not a traceback
    assert capsys.readouterr().err.strip() == "sr-desktop: error: No space left on device"


def test_usage_errors_are_one_line_and_verbose_goes_after_the_command_too(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["upscale", "x.png", "--tile", "big"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert err.startswith("sr-desktop upscale: error: argument --tile:") and "`sr-desktop upscale --help`" in err
    from sr_desktop.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["upscale", "x.png", "-o", "y.png", "-v"]).verbose is True
    assert parser.parse_args(["-v", "upscale", "x.png", "-o", "y.png"]).verbose is True
    assert parser.parse_args(["upscale", "x.png", "-o", "y.png"]).verbose is False


@pytest.mark.parametrize(("command", "flag", "value", "rule"), [
    ("upscale", "--scale", "0", "scale must be between 1 and 16, got 0"),
    ("upscale", "--quality", "200", "quality must be 1..100, got 200"),
    ("upscale", "--width", "-5", "the output width must be a whole number of pixels"),
    ("batch", "--height", "abc", "the output height must be a whole number of pixels"),
    ("batch", "--quality", "0", "quality must be 1..100, got 0"),
])
def test_a_value_out_of_range_names_its_flag(capsys, command, flag, value, rule):
    # (the refusal said "quality must be 1..100" without the flag: which of a long line's
    # numbers was wrong was left to guess)
    paths = ["in.png", "-o", "out.png"] if command == "upscale" else ["in", "out"]
    with pytest.raises(SystemExit) as exc:
        main([command, *paths, "--model", "bicubic", flag, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sr-desktop {command}: error: argument {flag}: {rule}") and err.count("\n") == 1


def test_a_mistyped_command_is_named_as_one(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["upscal", "photo.png"]) == 2
    assert capsys.readouterr().err.strip() == "sr-desktop: error: unknown command 'upscal' (did you mean upscale?)"
    assert main(["--offscreen", "a" * 300 + ".png"]) == 2  # a name too long is the image's error, one line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown command" not in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["batch", "{tmp}/in", ""], ["batch", " ", "{tmp}/out"], ["batch", "{tmp}/in", "{tmp}/out", "--report", ""],
    ["bench", "--dataset", "", "--scale", "2"], ["kernel", "", "-o", "{tmp}/k.npy"],
    ["kernel", "{tmp}/in/a.png", "-o", ""], ["train", "--arch", "SRCNN", "--scale", "2", "--data", "{tmp}/in",
                                            "--out", ""],
    ["models", "add", ""], ["upscale", "", "-o", "{tmp}/x.png"], [""], ["--screenshot", "", "{tmp}/in/a.png"],
])
def test_an_empty_path_is_a_usage_error_not_the_current_folder(tmp_path, monkeypatch, capsys, argv):
    """`batch IN ""` wrote its outputs and report into the current folder, `train --out ""`
    its run, `bench --dataset ""` measured whatever images were there."""
    (tmp_path / "in").mkdir()
    PILImage.new("RGB", (8, 8)).save(tmp_path / "in" / "a.png")
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    with pytest.raises(SystemExit) as exited:
        main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and "is empty (an empty path would mean the current folder)" in err
    assert "\n" not in err and list(work.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["upscale", "{tmp}/in/a.png", "-o", "{tmp}/b.png", "--device="], ["upscale", "{tmp}/in/a.png", "-o", "{tmp}/b.png",
                                                                     "--tile="],
    ["batch", "{tmp}/in", "{tmp}/out", "--variant="], ["kernel", "{tmp}/in/a.png", "-o", "{tmp}/k.npy", "--seed= "],
    ["bench", "--dataset", "{tmp}/in", "--scale", "2", "--degradation="],
    ["train", "--arch", "SRCNN", "--scale", "2", "--data", "{tmp}/in", "--out", "{tmp}/run", "--init="],
    ["train", "--arch=", "--scale", "2", "--data", "{tmp}/in", "--out", "{tmp}/run"],
])
def test_an_empty_option_value_is_a_usage_error_not_its_default(tmp_path, capsys, argv):
    """`--device ''` ran on auto, `--tile ''` auto, `--variant ''` the default variant,
    `train --init ''` from scratch, `bench --degradation ''` bicubic: each without a word."""
    (tmp_path / "in").mkdir()
    PILImage.new("RGB", (8, 8)).save(tmp_path / "in" / "a.png")
    empty = next(a for a in argv if a.endswith(("=", "= "))).split("=")[0]
    with pytest.raises(SystemExit) as exited:
        main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and f"argument {empty}: is empty: give a value" in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


@pytest.mark.parametrize("argv", [
    ["batch", "{tmp}/in", "{tmp}/out", "--report", "{tmp}/reports/"],
    ["bench", "--dataset", "{tmp}/in", "--scale", "2", "--json", "{tmp}/results/"],
    ["bench", "--dataset", "{tmp}/in", "--scale", "2", "--csv", "{tmp}/results/"],
])
def test_a_report_named_as_a_folder_is_a_usage_error_not_a_file_of_that_name(tmp_path, capsys, argv):
    """`--report reports/` and `bench --json results/` wrote a file named ``reports`` or
    ``results`` (the slash was lost on the way); a name ending in / names a folder."""
    (tmp_path / "in").mkdir()
    PILImage.new("RGB", (8, 8)).save(tmp_path / "in" / "a.png")
    with pytest.raises(SystemExit) as exited:
        main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2 and f"{argv[-1].format(tmp=tmp_path)} names a folder (it ends in /)" in err
    assert "\n" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_ctrl_c_while_the_parser_imports_the_commands_is_one_line(monkeypatch, capsys):
    """Ctrl+C in the first tenth of a second (while `build_parser` imports every command)
    printed a 40-80 line traceback; at any moment it is `interrupted`, status 130."""
    from sr_desktop.cli import main as cli_main

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "build_parser", interrupted)
    assert cli_main.main(["upscale", "a.png", "-o", "b.png"]) == 130
    assert capsys.readouterr().err.strip() == "sr-desktop: interrupted"


class _FullStream:
    """A stream behind which the disk is full (stdout redirected to /dev/full)."""

    def write(self, _text):
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self):
        pass

    def isatty(self):
        return False


def test_a_full_stdout_does_not_stop_the_files(tmp_path, monkeypatch, capsys):
    """`upscale a b c > /dev/full` stopped after the first file's line could not be printed;
    every file is done, then status 2 says the messages were lost."""
    sources = []
    for name in ("a", "b", "c"):
        PILImage.new("RGB", (8, 6), (10, 20, 30)).save(tmp_path / f"{name}.png")
        sources.append(str(tmp_path / f"{name}.png"))
    monkeypatch.setattr(sys, "stdout", _FullStream())
    code = main(["upscale", *sources, "-o", str(tmp_path / "out"), "--model", "bicubic", "--scale", "2"])
    assert code == 2 and sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png", "c.png"]
    assert "the messages could not be written (No space left on device); the files are done" in capsys.readouterr().err


def test_a_full_stderr_does_not_stop_a_bench_or_a_training(tmp_path, monkeypatch):
    """`bench … 2> /dev/full` and `train … 2> /dev/full` stopped at their first progress
    line (status 1, nothing measured or trained); the work is done, then status 2 says the
    messages were lost. A command that had nothing to say on stderr ends 0."""
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        PILImage.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(tmp_path / "in" / f"{name}.png")
    monkeypatch.setattr(sys, "stderr", _FullStream())
    assert main(["bench", "--dataset", str(tmp_path / "in"), "--scale", "2", "--model", "bicubic",
                 "--json", str(tmp_path / "bench.json")]) == 2
    assert [m["model"] for m in json.loads((tmp_path / "bench.json").read_text())["models"]] == ["bicubic"]
    assert main(["train", "--arch", "SRCNN", "--scale", "2", "--data", str(tmp_path / "in"), "--out",
                 str(tmp_path / "run"), "--iterations", "2", "--patch", "8", "--batch", "2"]) == 2
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert main(["upscale", str(tmp_path / "in" / "a.png"), "-o", str(tmp_path / "a2.png"), "--model", "bicubic",
                 "--scale", "2"]) == 0
    assert isinstance(sys.stderr, _FullStream)  # given back as it was


def test_a_file_where_a_folder_must_be_made_is_named(tmp_path, capsys):
    """`-o a.png/x.png` said "cannot create the folder (File exists)"."""
    src = tmp_path / "a.png"
    PILImage.new("RGB", (8, 6)).save(src)
    assert main(["upscale", str(src), "-o", str(src / "x.png"), "--model", "bicubic", "--scale", "2"]) == 1
    assert f"{src} is a file, not a folder" in capsys.readouterr().err
    (tmp_path / "in").mkdir()
    PILImage.new("RGB", (8, 6)).save(tmp_path / "in" / "b.png")
    assert main(["batch", str(tmp_path / "in"), str(src / "out"), "--model", "bicubic", "--no-progress"]) == 2
    assert f"{src} is a file, not a folder" in capsys.readouterr().err


def test_upscale_writes_into_stdout_and_never_beside_it(tmp_path):
    """`-o /dev/stdout --format png` appended the format's suffix and wrote a regular file
    /dev/stdout.png (root may write in /dev); redirected to a file it was refused as
    existing. The image goes to the stream; without --format one line asks for it."""
    src = tmp_path / "a.png"
    PILImage.new("RGB", (8, 6), (10, 20, 30)).save(src)
    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "sr_desktop", "upscale", str(src), "-o", "/dev/stdout", "--model", "bicubic",
            "--scale", "2", "-q"]
    piped = subprocess.run([*argv, "--format", "png"], capture_output=True, env=env)
    assert piped.returncode == 0 and piped.stdout.startswith(b"\x89PNG"), piped.stderr
    with open(tmp_path / "redirected.png", "wb") as fh:
        redirected = subprocess.run([*argv, "--format", "png"], stdout=fh, stderr=subprocess.PIPE, env=env)
    assert redirected.returncode == 0, redirected.stderr
    assert PILImage.open(tmp_path / "redirected.png").size == (16, 12)
    unnamed = subprocess.run(argv, capture_output=True, env=env, text=True)
    assert unnamed.returncode == 2 and "say what to write into it with --format" in unnamed.stderr
    assert not os.path.exists("/dev/stdout.png")


def test_an_image_written_into_stdout_keeps_the_summary_out_of_it(tmp_path):
    """Without -q the summary line went to stdout too: redirected to a file it wrote over the
    PNG signature (the file opened anew at byte 0), through a pipe it followed IEND; and a
    `>>` file was cut. The summary goes to stderr, the image to the process's own stdout."""
    src = tmp_path / "a.png"
    PILImage.new("RGB", (8, 6), (10, 20, 30)).save(src)
    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "sr_desktop", "upscale", str(src), "-o", "/dev/stdout", "--model", "bicubic",
            "--scale", "2", "--format", "png"]
    with open(tmp_path / "redirected.png", "wb") as fh:
        redirected = subprocess.run(argv, stdout=fh, stderr=subprocess.PIPE, env=env, text=True)
    assert redirected.returncode == 0 and "-> /dev/stdout" in redirected.stderr
    with PILImage.open(tmp_path / "redirected.png") as im:
        assert im.size == (16, 12)
    piped = subprocess.run(argv, capture_output=True, env=env)
    assert piped.stdout.endswith(b"IEND\xaeB`\x82") and b"-> /dev/stdout" in piped.stderr
    (tmp_path / "appended.bin").write_bytes(b"head\n")
    with open(tmp_path / "appended.bin", "ab") as fh:
        assert subprocess.run(argv, stdout=fh, stderr=subprocess.PIPE, env=env).returncode == 0
    data = (tmp_path / "appended.bin").read_bytes()
    assert data.startswith(b"head\n\x89PNG") and data.endswith(b"IEND\xaeB`\x82")
    into_stderr = [*argv[:6], "/dev/stderr", *argv[7:]]  # (the summary stays on stdout then)
    done = subprocess.run(into_stderr, capture_output=True, env=env)
    assert done.stderr.endswith(b"IEND\xaeB`\x82") and b"-> /dev/stderr" in done.stdout
    dash = [*argv[:6], "-", *argv[7:]]  # `-o -` is stdout too (it wrote a file named "-.png")
    assert dash[5:7] == ["-o", "-"]
    piped = subprocess.run(dash, capture_output=True, env=env, cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout.startswith(b"\x89PNG") and not list(tmp_path.glob("-*"))
    unnamed = subprocess.run(dash[:-2], capture_output=True, env=env, cwd=tmp_path, text=True)  # no --format
    assert unnamed.returncode == 2 and "-o - (standard output) takes the image in the format --format" in unnamed.stderr


def test_an_output_folder_that_takes_no_files_is_found_before_any_upscale(tmp_path, monkeypatch, capsys):
    """A read-only output folder was found after the whole upscale (12 s for one photo here)
    or, in a batch, once per file after each upscale."""
    import errno

    from sr_desktop.engine.imageio import atomic, write
    from sr_desktop.engine.pipeline import animation

    def refused(folder):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(write, "probe_writable", refused)
    monkeypatch.setattr(atomic, "probe_writable", refused)
    monkeypatch.setattr(animation, "upscale_any", lambda *a, **k: pytest.fail("upscaled before refusing"))
    src = tmp_path / "in" / "a.png"
    src.parent.mkdir()
    PILImage.new("RGB", (8, 6)).save(src)
    (tmp_path / "ro").mkdir()
    assert main(["upscale", str(src), "-o", str(tmp_path / "ro" / "a.png"), "--model", "bicubic"]) == 1
    assert "Permission denied" in capsys.readouterr().err
    assert main(["batch", str(src.parent), str(tmp_path / "ro"), "--model", "bicubic", "--no-progress"]) == 2
    assert f"cannot write into the output folder {tmp_path / 'ro'}: Permission denied" in capsys.readouterr().err


def test_a_home_that_cannot_be_made_costs_the_cache_not_the_models(tmp_path, monkeypatch, capsys, caplog):
    """SR_DESKTOP_HOME inside a folder that takes no files (or under a file): every model but
    bicubic failed with the file system's error, and `models` too. Now one warning (it was
    four on every run: the cache, the logs, the weight cache, the conversion) and no cache;
    adding a model says why it cannot (it named its lock file)."""
    import logging

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the home's parent would be")
    monkeypatch.setenv("SR_DESKTOP_HOME", str(blocker / "home"))
    src = tmp_path / "a.png"
    PILImage.new("RGB", (12, 10), (30, 60, 90)).save(src)
    with caplog.at_level(logging.WARNING, logger="sr_desktop"):
        assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", "realesr-animevideov3",
                     "--scale", "2", "--backend", "openvino", "-q"]) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"cannot write in SR_DESKTOP_HOME={blocker / 'home'} (Not a directory): working without its cache, logs "
        "and added models"]
    assert PILImage.open(tmp_path / "b.png").size == (24, 20)
    assert main(["models"]) == 0 and "realesr-animevideov3" in capsys.readouterr().out
    import torch

    from sr_desktop.engine.models.archs.srvgg import SRVGGNetCompact

    net_file = tmp_path / "net.pth"
    torch.save(SRVGGNetCompact(num_feat=8, num_conv=2, upscale=2).state_dict(), net_file)
    assert main(["models", "add", str(net_file)]) == 2
    assert ("error: cannot keep added models in " f"{blocker / 'home' / 'data' / 'custom_models'} (Not a directory)"
            in capsys.readouterr().err)


def test_a_home_that_is_a_link_to_nothing_says_so(tmp_path, monkeypatch, caplog):
    """A home linked to a drive not mounted said "(File exists)"."""
    import logging

    home = tmp_path / "home"
    home.symlink_to(tmp_path / "unmounted" / "home")
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    from sr_desktop.engine.core import paths

    with caplog.at_level(logging.WARNING, logger="sr_desktop"):
        paths.cache_dir()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"cannot write in SR_DESKTOP_HOME={home} (a link to {tmp_path / 'unmounted' / 'home'}, which is not there): "
        "working without its cache, logs and added models"]


def test_one_folder_of_the_home_that_cannot_be_made_is_named_alone(tmp_path, monkeypatch, caplog):
    """A file where the cache folder belongs: the warning said the whole home could not be
    written, and the data folder's own failures went to the log only."""
    import logging

    from sr_desktop.engine.core import paths

    home = tmp_path / "home"
    home.mkdir()
    (home / "cache").write_text("a file in the way")
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    with caplog.at_level(logging.WARNING, logger="sr_desktop"):
        paths.cache_dir()
        paths.data_dir()
    assert [r.getMessage() for r in caplog.records] == [
        f"cannot create {home / 'cache'} (File exists): working without it"]
    assert paths.unwritable(home / "cache" / "models") and not paths.unwritable(home / "data" / "x")


def test_cache_and_model_folders_take_the_users_usual_permissions(tmp_path):
    """mkdtemp's 0700 made a shared home's conversions and added models unreadable to its
    other users (a conversion they could not read stopped every upscale with its model)."""
    from sr_desktop.engine.imageio.atomic import new_staging_folder

    umask = os.umask(0o022)
    try:
        folder = new_staging_folder(tmp_path, ".x.")
    finally:
        os.umask(umask)
    assert folder.name.startswith(".x.") and (folder.stat().st_mode & 0o777) == 0o755
