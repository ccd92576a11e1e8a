"""``file:`` URLs and the paths they name, byte for byte.

A file name that is not UTF-8 (Latin-1 from an old archive or camera card: ``caf\\xe9.png``)
travels in a URL percent-encoded (``caf%E9.png``). `QUrl.toLocalFile` decodes that as UTF-8
into a name that does not exist ("file not found" on a drop), and `QUrl.fromLocalFile`
drops the lone surrogate Python holds for the byte (a summary link to another folder).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes

from PySide6.QtCore import QUrl


def local_path(url: QUrl) -> Path:
    """The file a local ``file:`` URL names (its bytes as the file system has them)."""
    if os.name != "posix" or url.host() not in ("", "localhost"):
        return Path(url.toLocalFile())  # (drive letters, UNC hosts: Qt's own reading)
    encoded = url.path(QUrl.ComponentFormattingOption.FullyEncoded)
    return Path(os.fsdecode(unquote_to_bytes(encoded)))


def file_url(path: str | os.PathLike) -> QUrl:
    """The ``file:`` URL of `path`, whatever bytes its name holds."""
    if os.name != "posix":
        return QUrl.fromLocalFile(os.fspath(path))
    absolute = os.path.abspath(os.fspath(path))
    return QUrl.fromEncoded(b"file://" + quote_from_bytes(os.fsencode(absolute), safe="/").encode("ascii"))


def file_link(path: str | os.PathLike, text: str | None = None) -> str:
    """An HTML link to `path` (shown as `text`, else the path) that opens it with the desktop's
    default application, whatever bytes its name holds (`file_url`)."""
    url = file_url(path).toString(QUrl.ComponentFormattingOption.FullyEncoded)
    shown = os.path.abspath(os.fspath(path)) if text is None else text
    return f'<a href="{html.escape(url, quote=True)}">{html.escape(shown)}</a>'
