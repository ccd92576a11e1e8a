"""The log file never disturbs the work: a log folder that cannot be made or written turned
images whose decoding raised a Python warning into "corrupt" files, and a full disk printed
a traceback per record."""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image

from sr_desktop.cli.log_file import LogFileHandler
from sr_desktop.cli.main import main


def _jpeg_that_makes_pillow_warn(path):
    exif = Image.Exif()
    exif[0x010E] = "x" * 200
    encoded = io.BytesIO()
    pixels = (np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(encoded, "JPEG", exif=exif.tobytes()[:60])  # a cut EXIF block
    path.write_bytes(encoded.getvalue())
    return path


def test_an_image_that_raises_a_warning_is_upscaled_when_the_log_folder_cannot_be_made(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    (home / "logs").write_text("a file where the log folder belongs")
    monkeypatch.setenv("SR_DESKTOP_HOME", str(home))
    src = _jpeg_that_makes_pillow_warn(tmp_path / "odd-exif.jpg")
    assert main(["upscale", str(src), "-o", str(tmp_path / "out.png"), "--model", "bicubic", "--scale", "2",
                 "-q"]) == 0, capsys.readouterr().err
    assert (tmp_path / "out.png").is_file()


def test_a_log_file_that_cannot_be_written_is_said_once_and_then_left_alone(tmp_path, caplog, capsys):
    first = LogFileHandler(tmp_path / "gone" / "sr-desktop.log")  # its folder does not exist
    second = LogFileHandler(tmp_path / "gone" / "sr-desktop.log")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a detail", None, None)
    with caplog.at_level(logging.WARNING, logger="sr_desktop.cli.log_file"):
        for _ in range(3):
            first.handle(record)
            second.handle(record)
    notes = [r.getMessage() for r in caplog.records if "cannot write the log file" in r.getMessage()]
    assert len(notes) == 1 and "No such file or directory" in notes[0]
    assert "Traceback" not in capsys.readouterr().err


def test_a_malformed_log_call_does_not_turn_the_log_file_off(tmp_path, monkeypatch):
    """A record whose format fails is logging's own error to report; the file stays on."""
    monkeypatch.setattr(logging, "raiseExceptions", False)  # (its report would go to stderr)
    handler = LogFileHandler(tmp_path / "sr-desktop.log")
    bad = logging.LogRecord("x", logging.INFO, __file__, 1, "bad %d", ("x",), None)
    good = logging.LogRecord("x", logging.INFO, __file__, 1, "a detail", None, None)
    handler.handle(bad)
    handler.handle(good)
    handler.close()
    assert not handler.failed and "a detail" in (tmp_path / "sr-desktop.log").read_text()


def test_the_log_file_is_rotated_at_its_size_limit(tmp_path, monkeypatch):
    """It grew without bound (each opening of a TIFF with a bad tag added 34 lines)."""
    from sr_desktop.cli import log_file

    monkeypatch.setattr(log_file, "MAX_LOG_BYTES", 2000)
    handler = LogFileHandler(tmp_path / "sr-desktop.log")
    logger = logging.getLogger("sr_desktop.test_rotation")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for i in range(200):
            logger.warning("line %03d %s", i, "x" * 60)
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.propagate = True
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["sr-desktop.log", "sr-desktop.log.1", "sr-desktop.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
    assert "line 199" in (tmp_path / "sr-desktop.log").read_text(encoding="utf-8")


def test_the_windows_warnings_share_its_log_files_handler(tmp_path, monkeypatch):
    """A second handler of the same rotated file (for Python's warnings) renamed it in turn
    with the window's: records went out with the old files (25 of 60 kept where 41 fit)."""
    from sr_desktop.cli.common import send_warnings_to_log

    warnings_logger = logging.getLogger("py.warnings")
    monkeypatch.setattr(warnings_logger, "handlers", [])
    monkeypatch.setattr(warnings_logger, "propagate", warnings_logger.propagate)
    window = LogFileHandler(tmp_path / "sr-desktop.log")
    root = logging.getLogger()
    # the window's handler alone on the root (an earlier test of the run may have left the app's)
    monkeypatch.setattr(root, "handlers", [h for h in root.handlers if not isinstance(h, LogFileHandler)])
    root.addHandler(window)
    try:
        send_warnings_to_log(False)
        assert warnings_logger.handlers == [window]
        # with -v they propagate to the root, which holds that handler: added too, each warning
        # was written twice
        monkeypatch.setattr(warnings_logger, "handlers", [])
        send_warnings_to_log(True)
        assert warnings_logger.handlers == [] and warnings_logger.propagate
    finally:
        root.removeHandler(window)
        window.close()
        logging.captureWarnings(False)
