"""The command line starts without importing torch (issue 16: CLI start-up under 0.8 s):
parsing and every subcommand's --help stay free of torch, numpy and Pillow; they come with
the work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import sys
from sr_desktop.cli.main import main
for args in (["--help"], *([cmd, "--help"] for cmd in {commands})):
    try:
        main(list(args))
    except SystemExit:
        pass
print(sorted(m for m in ("torch", "cv2", "openvino", "ray", "PySide6", "numpy", "PIL") if m in sys.modules))
"""


def test_help_of_every_subcommand_imports_no_torch():
    commands = ["upscale", "batch", "bench", "models", "kernel", "train", "devices"]
    out = subprocess.run([sys.executable, "-c", PROBE.format(commands=commands)], capture_output=True,
                         text=True, check=True).stdout
    # `sr-desktop --help` took 2.2 s on a quiet machine when parsing imported torch; 0.5-0.6 s
    # then (with 4 busy processes on the 2 cores). numpy and Pillow too: the flags' formats
    # and limits imported them through `engine.imageio` (0.25 against 0.12 s for `--help`)
    assert out.strip().splitlines()[-1] == "[]"


RESAMPLE_PROBE = """
import sys
from sr_desktop.cli.main import main
codes = [main(["upscale", {src!r}, "-o", {dst!r}, "--model", "lanczos", "--scale", "3"]),
         main(["batch", {folder!r}, {out!r}, "--model", "bicubic", "--scale", "2", "--no-progress"])]
print(codes, "torch" in sys.modules)
"""


def test_upscale_and_batch_with_a_resampler_never_import_torch(tmp_path):
    """Pillow's resamplers run on the host: `upscale`/`batch` with bicubic or lanczos start
    and finish without loading torch (1.6 s of a 32² bicubic upscale before; 0.33 s now)."""
    from PIL import Image

    folder = tmp_path / "in"
    folder.mkdir()
    rng = __import__("numpy").random.default_rng(0)
    for name, mode in (("rgb.png", "RGB"), ("gray.png", "L"), ("alpha.png", "RGBA")):
        channels = {"RGB": 3, "L": 1, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, (20, 24, channels), dtype="uint8")
        Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode).save(folder / name)
    probe = RESAMPLE_PROBE.format(src=str(folder / "rgb.png"), dst=str(tmp_path / "x3.png"),
                                  folder=str(folder), out=str(tmp_path / "out"))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[0, 0] False"
    assert Image.open(tmp_path / "x3.png").size == (72, 60)
    assert len(list((tmp_path / "out").glob("*_x2_bicubic.png"))) == 3


def test_models_add_help_names_the_architectures_a_file_may_hold(capsys):
    """docs/gui.md sends users to `models add --help` for the architectures: it named none
    (only the error for an unsupported file did)."""
    from sr_desktop.cli.main import main
    from sr_desktop.engine.models.custom import supported_families

    try:
        main(["models", "add", "--help"])
    except SystemExit as done:
        assert done.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert supported_families() in shown and "EDSR" in shown and "RCAN" in shown and ".ckpt" in shown


def test_help_into_a_closed_pipe_and_output_into_a_closed_stdout():
    """`sr-desktop --help | :` said "error: Broken pipe" with status 2 (other commands stop
    quietly with 141); `sr-desktop models >&-` printed nothing and ended with status 0."""
    import os

    reader, writer = os.pipe()
    os.close(reader)
    helped = subprocess.run([sys.executable, "-m", "sr_desktop", "--help"], stdout=writer, stderr=subprocess.PIPE,
                            text=True)
    os.close(writer)
    assert helped.returncode == 141 and helped.stderr == ""
    closed = subprocess.run(f"{sys.executable} -m sr_desktop models >&-", shell=True, stderr=subprocess.PIPE,
                            text=True)
    assert closed.returncode == 2 and closed.stderr.strip() == "sr-desktop: error: standard output is closed"


def test_a_command_with_standard_error_closed_does_its_work(tmp_path):
    """`upscale … 2>&-` (and a command started by pythonw on Windows, which has no stderr)
    ended with "unexpected error: AttributeError: 'NoneType' object has no attribute
    'isatty'" and wrote nothing; so did batch, kernel and train."""
    import numpy as np
    from PIL import Image as PILImage

    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "in.png")
    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    command = f"{sys.executable} -m sr_desktop upscale in.png -o out.png --model bicubic --scale 2 2>&-"
    done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    assert done.returncode == 0 and "in.png -> out.png" in done.stdout
    assert PILImage.open(tmp_path / "out.png").size == (16, 16)
    (tmp_path / "folder").mkdir()
    PILImage.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "folder" / "a.png")
    command = f"{sys.executable} -m sr_desktop batch folder out --model bicubic --scale 2 2>&-"
    done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    assert done.returncode == 0 and (tmp_path / "out" / "a_x2_bicubic.png").is_file()


def test_a_mistyped_option_names_the_command_s_help_and_a_guess(capsys):
    """`upscale … --qualty 5` said "(see `sr-desktop --help`)", the top-level help, which
    does not list upscale's options, and guessed nothing."""
    import pytest

    from sr_desktop.cli.main import main

    with pytest.raises(SystemExit) as done:
        main(["upscale", "a.png", "-o", "b.png", "--qualty", "5"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1
    assert "--qualty 5 (did you mean --quality?) (see `sr-desktop upscale --help`)" in err
    # an action's own options (`models`' options were looked at: "--json (did you mean --json?)"
    # of `models remove x --json`, before remove had one) and its help is the one to see
    for argv, said in ((["models", "remove", "x", "--force"], "--force (see `sr-desktop models remove --help`)"),
                       (["models", "add", "x.pth", "--jsn"], "--jsn (did you mean --json?) (see `sr-desktop models add "
                                                            "--help`)")):
        with pytest.raises(SystemExit) as done:
            main(argv)
        err = capsys.readouterr().err
        assert done.value.code == 2 and err == f"sr-desktop: error: unrecognized arguments: {said}\n"


def test_help_as_a_command_is_the_help(capsys, tmp_path, monkeypatch):
    """`sr-desktop help` said "cannot read help: file not found" (the word taken for an image)."""
    from sr_desktop.cli.main import main

    monkeypatch.chdir(tmp_path)
    assert main(["help"]) == 0
    assert capsys.readouterr().out.startswith("usage: sr-desktop ")
    with pytest.raises(SystemExit) as exited:
        main(["help", "upscale"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("usage: sr-desktop upscale ")
    assert main(["help", "upscal"]) == 2  # (the general help, exit 0)
    assert capsys.readouterr().err == "sr-desktop: error: unknown command 'upscal' (did you mean upscale?)\n"


def test_verbose_shows_the_apps_debug_lines_not_every_librarys(tmp_path):
    """`-v`, whose output users are asked to send, was 232 lines of matplotlib's font search
    and Pillow's PNG chunks in a bench of one image: the root logger was set to DEBUG."""
    probe = ("import logging\n"
             "from sr_desktop.cli.main import main\n"
             "main(['-v', 'devices'])\n"
             "print([logging.getLogger(name).isEnabledFor(logging.DEBUG)\n"
             "       for name in ('sr_desktop.engine', 'matplotlib.font_manager', 'PIL.PngImagePlugin')],\n"
             "      logging.getLogger('PIL').isEnabledFor(logging.INFO))\n")
    env = {**os.environ, "SR_DESKTOP_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[True, False, False] True"
