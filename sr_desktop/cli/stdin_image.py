"""``-`` as an input file: what is piped into standard input (the image of ``curl … | sr-desktop
upscale - -o x.png``, the file list of ``find … | sr-desktop batch IN OUT --files-from -``)."""

from __future__ import annotations

import sys
from pathlib import Path

from sr_desktop.engine.core.errors import SRDesktopError

#: the input that stands for standard input: the argument ``-`` as typed (told apart by
#: identity: ``./-``, a file of that name, is another Path equal to it)
STDIN = Path("-")
#: how messages name standard input
STDIN_NAME = "standard input"


def is_stdin(path: Path) -> bool:
    """Whether an input is standard input (the argument ``-``, as in most tools; a file of that
    name is ``./-``)."""
    return path is STDIN


#: what the upscale's ``-`` takes, and an example of piping it
IMAGE = ("an image", "cat photo.jpg | sr-desktop upscale - -o out.png")


def read_stdin_bytes(what: tuple[str, str] = IMAGE) -> bytes:
    """Everything piped into standard input; `SRDesktopError` when there is nothing to read (a
    terminal, whose reading would wait for typing; closed; empty). `what`: what is read there
    and an example command piping it, for the messages."""
    thing, example = what
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise SRDesktopError(f"- names standard input, which this process does not have: name a file of {thing}")
    try:
        if stream.isatty():
            raise SRDesktopError(f"- names standard input, which is a terminal: pipe {thing} into it ({example})")
        data = stream.read()
    except MemoryError:
        raise SRDesktopError(f"not enough memory to read {thing} from standard input") from None
    except (OSError, ValueError) as exc:  # (ValueError: a closed stream)
        raise SRDesktopError(f"cannot read standard input: {getattr(exc, 'strerror', None) or exc}") from None
    if not data:
        raise SRDesktopError(f"standard input is empty: pipe {thing} into it ({example})")
    return data
