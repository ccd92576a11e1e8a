"""The log file (``<log dir>/sr-desktop.log``), which must never disturb the work.

Python's `logging.FileHandler` opens its file on the first record outside its own error
handling, and reports a failed write with a traceback on stderr: a home whose log folder
could not be made turned every image that raised a Python warning (an odd EXIF tag) into a
"corrupt" file, and a full disk printed a traceback per record. Here the first failure is
said once and the file is left alone for the rest of the run.
"""

from __future__ import annotations

import logging
import logging.handlers

from sr_desktop.engine.core.paths import log_dir, unwritable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)

#: log files that could not be written in this run (said once for all their handlers)
_FAILED: set[str] = set()


#: the log file is renamed sr-desktop.log.1 (the one before that .2) at this size: it grew
#: without bound, 34 lines for one opening of a TIFF with a bad tag
MAX_LOG_BYTES, KEPT_LOGS = 5_000_000, 2


class LogFileHandler(logging.handlers.RotatingFileHandler):
    """A `logging.FileHandler` (opened on its first record; rotated at `MAX_LOG_BYTES`) that
    turns itself off at the first error opening or writing the file, with one warning."""

    def __init__(self, path) -> None:
        super().__init__(path, maxBytes=MAX_LOG_BYTES, backupCount=KEPT_LOGS, encoding="utf-8", delay=True)
        self.setFormatter(logging.Formatter(FORMAT))
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.failed or self.baseFilename in _FAILED:  # (another handler of the same file failed)
            self.failed = True
            return
        try:
            super().emit(record)
        except Exception:  # noqa: BLE001 - the open (outside FileHandler's own handling)
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        import sys

        reason = sys.exc_info()[1]
        if not isinstance(reason, OSError):  # a bad log call (its format), not the file: logging's own report
            super().handleError(record)
            return
        if self.failed:
            return
        self.failed = True
        _FAILED.add(self.baseFilename)
        try:
            self.close()
        except Exception:  # noqa: BLE001 - a stream that cannot flush cannot be closed cleanly either
            pass
        detail = getattr(reason, "strerror", None) or reason or "unknown error"
        log.warning("cannot write the log file %s (%s): not logging to it in this run", self.baseFilename, detail)


def log_file_handler() -> logging.Handler:
    """A handler for the log file, or a `logging.NullHandler` when its folder could not be
    made (that was said once already)."""
    folder = log_dir()
    if unwritable(folder):
        return logging.NullHandler()
    return LogFileHandler(folder / "sr-desktop.log")


def write_to_log_file(level: int, message: str, exc_info=None) -> str | None:
    """One record to the log file alone, never to the terminal (a bug's traceback, whose one
    line the terminal already shows), through the root logger's log-file handler when there is
    one (the window's), else a handler of its own. Returns the file's path (None: no log file
    can be written)."""
    import sys

    handlers = [h for h in logging.getLogger().handlers if isinstance(h, LogFileHandler)]
    own = None
    if not handlers:
        own = log_file_handler()
        if not isinstance(own, LogFileHandler):
            return None
        handlers = [own]
    logger = logging.getLogger("sr_desktop")
    record = logger.makeRecord(logger.name, level, __file__, 0, message, (),
                               sys.exc_info() if exc_info is True else exc_info)
    try:
        for handler in handlers:
            if record.levelno >= handler.level:
                handler.handle(record)
    finally:
        if own is not None:
            own.close()
    written = [h for h in handlers if not h.failed]
    return written[0].baseFilename if written else None
