"""Error types of the engine. Every error a user can cause is an `SRDesktopError`
whose message is one clear line, fit to show in a dialog or print on a terminal."""

from __future__ import annotations

import os
from pathlib import Path


class SRDesktopError(Exception):
    """Base class of all user-facing engine errors."""


#: how the window and its jobs begin the one line of a bug, and how they end it
UNEXPECTED_ERROR, DETAILS_IN_LOG = "unexpected error: ", " (details in the log)"


class ReportedBug(Exception):
    """A bug caught where it happened and logged there with its traceback (a job of the
    window), raised again so that a command ends with a bug's status (3); its message is the
    one line the user was shown."""


class ImageReadError(SRDesktopError):
    """A file could not be read as an image (missing, not an image, truncated, too large...)."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = Path(path) if path is not None else None
        self.reason = reason
        where = str(self.path) if self.path is not None else "<image>"
        super().__init__(f"cannot read {where}: {reason}")


class ImageWriteError(SRDesktopError):
    """An image could not be written (bad format, refusing to overwrite, disk error...)."""

    def __init__(self, path: str | Path | None, reason: str, errno: int | None = None):
        self.path = Path(path) if path is not None else None
        self.reason = reason
        #: the system's error number when the system refused (ENOSPC: the disk is full)
        self.errno = errno
        where = str(self.path) if self.path is not None else "<image>"
        super().__init__(f"cannot write {where}: {reason}")


class ModelError(SRDesktopError):
    """Unknown model id, model not installed, unsupported model file, bad option."""


class UnsupportedModelFile(ModelError):
    """A file that is no model this app reads; `reason` says why without naming the file
    (for a line that names it already: a drop's summary, ``--init FILE: …``)."""

    def __init__(self, path: str | Path, reason: str, lead: str = "unsupported model file"):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{lead} {self.path}: {reason}")


class OptionError(ModelError):
    """An upscale option outside its allowed values (tile, device, precision, alpha, scale).

    A `ModelError` so that code catching bad model options keeps catching these."""


class KernelError(SRDesktopError):
    """Bad input for kernel estimation / ZSSR (image too small, bad kernel file or option)."""


class DeviceError(SRDesktopError):
    """A requested device or precision is not available."""


class ReaderGone(BaseException):
    """The reader of this process's standard output closed it (``-o - | head -c 100``) while
    an image or a report was written there: the command stops at once, quietly, as Unix
    tools do (exit 141). Not an `Exception`, so that no handler of a file's failure takes it
    for one (it was "error: a.png: cannot write /dev/stdout: Broken pipe", 1 of 1 file failed)."""


class Cancelled(SRDesktopError):
    """The job was cancelled by the user. Nothing was written."""

    def __init__(self, message: str = "cancelled"):
        super().__init__(message)


#: the longest error line shown or written: a library's message can run to pages (a torch
#: state-dict mismatch lists every key), which made the window's message bar 900 px tall
MAX_ERROR_CHARS = 500


def shortened(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` cut to `limit` characters, "…" marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def message_of(exc: BaseException) -> str:
    """``str(exc)``, or "" when that itself fails (a library's broken ``__str__``: the
    handler reporting the error raised a second one)."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - any failure of a foreign __str__
        return ""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, fit for a status line or a report
    (at most `MAX_ERROR_CHARS`).

    An `SRDesktopError` is already worded for the user, so its text stands alone; any other
    exception is prefixed with its type (``"MemoryError: …"``), because its message alone
    ("cannot allocate") would not say what went wrong; what the operating system refused is
    the file's name and the system's reason (``"x.png: File name too long"``). An empty
    message gives the type name.
    """
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, SRDesktopError):
        # what the system refused, with the file's name ("x.png: File name too long"), not
        # "OSError: [Errno 36] …" with the whole path
        name = os.path.basename(os.fsdecode(exc.filename)) if isinstance(exc.filename, (str, bytes)) else ""
        return shortened(f"{name}: {exc.strerror}" if name else exc.strerror)
    lines = message_of(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, SRDesktopError) or not text:
        return shortened(text or type(exc).__name__)
    return shortened(f"{type(exc).__name__}: {text}")
