"""`sr-desktop models | head -1`: a reader that goes away early must not cause a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_closed_output_pipe_ends_quietly(tmp_path):
    env = dict(os.environ, SR_DESKTOP_HOME=str(tmp_path),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "sr_desktop", "-v", "models"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # before the interpreter has started: its first write finds no reader
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err.decode()[-2000:]
    assert b"Traceback" not in err and b"Exception ignored" not in err, err.decode()[-2000:]


def test_a_closed_terminal_is_an_interrupt_not_a_failed_file(tmp_path):
    """Closing the terminal window (SIGHUP, then EIO on every write to it): the message of
    the stop raised EIO inside the file being upscaled, which a batch recorded as failed
    ("Input/output error"), and the command ended with status 1 instead of 130."""
    import pty
    import select
    import time

    import numpy as np
    from PIL import Image

    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8)).save(src / f"im{i}.png")
    report = tmp_path / "r.json"
    env = dict(os.environ, SR_DESKTOP_HOME=str(tmp_path / "home"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    pid, fd = pty.fork()
    if pid == 0:  # the command, on a terminal of its own
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "sr_desktop", "batch", str(src), str(tmp_path / "out"),
                                   "--model", "fsrcnn", "--scale", "4", "--tile", "16", "--backend", "torch",
                                   "--report", str(report)], env)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # (tqdm draws nothing in 0 columns)
    seen, start = b"", time.monotonic()
    while b"|" not in seen and time.monotonic() - start < 120:  # its progress bar is up
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # (it ended: what it said is in `seen`)
                break
    os.close(fd)  # the terminal goes away
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130, seen.decode(errors="replace")[-500:]
    import json

    files = json.loads(report.read_text())["files"]
    assert not [f for f in files if f["status"] == "failed"], files
