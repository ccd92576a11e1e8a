"""Resume after a crash: a batch process killed with SIGKILL (between files, and in the
middle of writing an output) leaves no partial output under a final name, and the
re-run skips what is done and completes the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from sr_desktop.engine.batch.report import EXIT_OK
from sr_desktop.engine.batch.runner import BatchOptions, UpscaleOptions, run_batch

REPO = Path(__file__).resolve().parent.parent
N_FILES = 6

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")


def make_inputs(src: Path, n: int = N_FILES) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        path = src / f"img{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        PILImage.fromarray(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def expected_outputs(out: Path, n: int = N_FILES, suffix: str = ".png") -> set[str]:
    return {f"img{i:02d}_x2_bicubic{suffix}" for i in range(n)}


def run_child(script: str, tmp_path: Path) -> subprocess.Popen:
    path = tmp_path / "child.py"
    path.write_text(textwrap.dedent(script))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.Popen([sys.executable, str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(predicate, timeout: float, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"child exited early ({proc.returncode}): {err.decode()[-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("timed out waiting for the child batch")


def check_outputs_are_complete(out: Path) -> None:
    for path in list(out.glob("*.png")) + list(out.glob("*.jpg")):
        with PILImage.open(path) as im:
            im.load()  # raises on a truncated file
            assert im.size == (56, 40)


def test_killed_between_files_then_resumed(tmp_path: Path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src)
    # The child sleeps after each finished file so the kill lands between files.
    proc = run_child(
        f"""
        import time
        from sr_desktop.engine.batch.runner import BatchOptions, UpscaleOptions, run_batch
        def slow(info):
            if info.extra.get("event") == "file":
                time.sleep(0.5)
        run_batch({str(src)!r}, {str(out)!r}, BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2)),
                  progress=slow)
        """,
        tmp_path,
    )
    wait_for(lambda: out.is_dir() and len(list(out.glob("img*.png"))) >= 2, 60, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    done_before = {p.name for p in out.glob("img*.png")}
    assert 2 <= len(done_before) < N_FILES
    check_outputs_are_complete(out)

    result = run_batch(
        src, out, BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2)), write_report_file=False
    )
    assert result.exit_code == EXIT_OK
    skipped = {Path(r.output).name for r in result.records if r.status == "skipped"}
    upscaled = {Path(r.output).name for r in result.records if r.status == "ok"}
    assert skipped == done_before
    assert skipped | upscaled == expected_outputs(out)
    assert {p.name for p in out.glob("img*")} == expected_outputs(out)
    check_outputs_are_complete(out)


def test_killed_during_a_write_leaves_no_partial_output(tmp_path: Path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src)
    # In the child, the third JPEG encode writes half of its bytes and the process is
    # killed right there, like a power cut in the middle of a write.
    proc = run_child(
        f"""
        import io, os, signal
        from PIL import Image
        from sr_desktop.engine.batch.runner import BatchOptions, UpscaleOptions, run_batch
        original_save = Image.Image.save
        calls = []
        def crashing_save(self, fp, format=None, **params):
            calls.append(fp)
            if len(calls) < 3:
                return original_save(self, fp, format, **params)
            buffer = io.BytesIO()
            original_save(self, buffer, format or "PNG", **params)
            data = buffer.getvalue()
            if hasattr(fp, "write"):
                fp.write(data[: len(data) // 2]); fp.flush()
            else:
                with open(fp, "wb") as fh:
                    fh.write(data[: len(data) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        Image.Image.save = crashing_save
        # One writer thread: with two, the second file may still be encoding when the
        # third encode kills the process, and which files are final would be a race.
        run_batch({str(src)!r}, {str(out)!r},
                  BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2), format="jpg", writer_threads=1))
        """,
        tmp_path,
    )
    proc.wait(120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    finals = {p.name for p in out.glob("img*_x2_bicubic.jpg")}
    assert finals == {"img00_x2_bicubic.jpg", "img01_x2_bicubic.jpg"}
    check_outputs_are_complete(out)
    leftovers = [p for p in out.iterdir() if p.name not in finals]
    assert leftovers, "the simulated crash should leave a temp file behind"

    result = run_batch(
        src, out, BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2), format="jpg"), write_report_file=False
    )
    assert result.exit_code == EXIT_OK
    assert result.totals.removed_temp_files == len(leftovers)
    assert [r.status for r in result.records] == ["skipped", "skipped"] + ["ok"] * (N_FILES - 2)
    assert {p.name for p in out.iterdir()} == expected_outputs(out, suffix=".jpg")
    check_outputs_are_complete(out)


def test_a_full_or_read_only_output_folder_stops_the_batch_and_a_rerun_finishes_it(tmp_path: Path, monkeypatch):
    """Each remaining file was upscaled in full and then failed to be written, one by one:
    hours of a real model's work thrown away on a full disk. The batch stops at the first
    such refusal, keeps what is written, and the next run (space freed) does the rest."""
    import errno

    from sr_desktop.engine.batch import stages
    from sr_desktop.engine.core.errors import ImageWriteError
    from sr_desktop.engine.pipeline import upscale

    src, out = tmp_path / "in", tmp_path / "out"
    make_inputs(src, 8)
    real_write, real_upscale = stages.imageio.write_image, upscale.upscale_image
    writes, upscales = [], []

    def full_after_two(image, target, *args, **kwargs):
        writes.append(target)
        if len(writes) > 2:
            raise ImageWriteError(target, "No space left on device", errno.ENOSPC)
        return real_write(image, target, *args, **kwargs)

    def counted(*args, **kwargs):
        upscales.append(1)
        return real_upscale(*args, **kwargs)

    monkeypatch.setattr(stages.imageio, "write_image", full_after_two)
    monkeypatch.setattr(upscale, "upscale_image", counted)
    options = BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2), read_queue_size=1, write_queue_size=1)
    result = run_batch(src, out, options)
    assert result.halted and "No space left on device" in result.halted
    assert result.summary().startswith("stopped, the output folder takes no more files")
    assert result.exit_code == 1 and not result.cancelled
    assert result.totals.ok == 2 and result.totals.failed >= 1
    assert len(upscales) <= 5, "the batch went on upscaling files it could not write"  # (the queues' own)
    assert result.totals.extra["not_started"] == 8 - len(result.records) >= 3
    assert result.totals.extra["stopped"] == result.halted

    monkeypatch.setattr(stages.imageio, "write_image", real_write)  # space freed
    again = run_batch(src, out, options)
    assert again.exit_code == EXIT_OK and again.totals.ok == 8 - 2 and again.totals.skipped == 2

    # under "rename" a rerun would write the finished files again beside themselves: the
    # advice says how to skip them
    writes.clear()
    monkeypatch.setattr(stages.imageio, "write_image", full_after_two)
    renaming = BatchOptions(upscale=UpscaleOptions(model="bicubic", scale=2), existing="rename",
                            read_queue_size=1, write_queue_size=1)
    halted = run_batch(src, tmp_path / "out2", renaming)
    assert halted.summary().endswith("run again with --existing skip: finished files are then skipped")
