"""Send libtiff's error and warning messages to the log instead of the terminal.

libtiff (inside Pillow) prints its complaints about a damaged TIFF ("TIFFFillStrip:
Invalid strip byte count 0, strip 1.") straight to file descriptor 2, past Python. The
engine already turns the failure into one `ImageReadError`; these extra lines would break
the "one line per failed file" rule of the CLI. libtiff lets a program replace its global
handlers, which this module does once, through ctypes, on the copy of libtiff Pillow loaded.
Where that copy cannot be found (another platform, a Pillow without libtiff) nothing changes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
import threading

log = logging.getLogger(__name__)

_HANDLER_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_installed: list = []  # the callbacks, kept alive for as long as libtiff may call them
_lock = threading.Lock()


def _loaded_libtiff_path() -> str | None:
    """The file of the libtiff this process has mapped (Linux), after Pillow's C core loads."""
    from PIL import Image as PILImage  # noqa: F401 - loads PIL._imaging and its libtiff

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if "/libtiff" in path and ".so" in path:
                    return path
    except OSError:
        return None
    return None


def _formatter():
    """A function (fmt, va_list) -> text, or None where a va_list cannot be passed on safely."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None  # (on x86-64 a va_list argument is a pointer; elsewhere it may be a struct)
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    vsnprintf = ctypes.CDLL(libc_name).vsnprintf
    vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_void_p]

    def format_message(fmt: bytes, args: int) -> str:
        buffer = ctypes.create_string_buffer(512)
        vsnprintf(buffer, len(buffer), fmt, args)
        return buffer.value.decode("utf-8", "replace")

    return format_message


def route_libtiff_messages_to_log() -> bool:
    """Install logging handlers for libtiff's errors and warnings (once); True when done."""
    with _lock:
        if _installed:
            return True
        path = _loaded_libtiff_path()
        if path is None:
            return False
        try:
            lib = ctypes.CDLL(path)
            set_error, set_warning = lib.TIFFSetErrorHandler, lib.TIFFSetWarningHandler
        except (OSError, AttributeError):
            return False
        format_message = _formatter()

        def make(level: int):
            def handler(module: bytes | None, fmt: bytes | None, args: int) -> None:
                try:
                    text = format_message(fmt, args) if (format_message and fmt) else (fmt or b"").decode(
                        "utf-8", "replace")
                    where = (module or b"libtiff").decode("utf-8", "replace")
                    log.log(level, "libtiff %s: %s", where, text)
                except Exception:  # noqa: BLE001 - never raise into C
                    pass

            return _HANDLER_TYPE(handler)

        error_handler, warning_handler = make(logging.INFO), make(logging.DEBUG)
        for setter in (set_error, set_warning):
            setter.argtypes = [_HANDLER_TYPE]
            setter.restype = ctypes.c_void_p
        set_error(error_handler)
        set_warning(warning_handler)
        _installed.extend([error_handler, warning_handler])
        return True
