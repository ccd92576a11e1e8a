"""``-`` as an input file: the image piped into standard input (``curl … | sr-desktop upscale - -o x.png``)."""

from __future__ import annotations

import sys
from pathlib import Path

from sr_desktop.engine.core.errors import SRDesktopError

#: how messages name standard input
STDIN_NAME = "standard input"


def is_stdin(path: Path) -> bool:
    """Whether an input argument is ``-``, which names standard input as in most tools (a file
    of that name is ``./-``)."""
    return str(path) == "-"


def read_stdin_bytes() -> bytes:
    """Everything piped into standard input; `SRDesktopError` when there is nothing to read (a
    terminal, whose reading would wait for typing; closed; empty)."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise SRDesktopError("- names standard input, which this process does not have: name the image file")
    try:
        if stream.isatty():
            raise SRDesktopError("- names standard input, which is a terminal: pipe an image into it "
                                 "(cat photo.jpg | sr-desktop upscale - -o out.png)")
        data = stream.read()
    except MemoryError:
        raise SRDesktopError("not enough memory to read the image from standard input") from None
    except (OSError, ValueError) as exc:  # (ValueError: a closed stream)
        raise SRDesktopError(f"cannot read standard input: {getattr(exc, 'strerror', None) or exc}") from None
    if not data:
        raise SRDesktopError("standard input is empty: pipe an image into it (cat photo.jpg | sr-desktop "
                             "upscale - -o out.png)")
    return data
