"""Text fit for one terminal line: file names may hold newlines and other control characters."""

from __future__ import annotations

import math
import os

from sr_desktop.engine.core.errors import SRDesktopError, message_of, one_line, shortened

# Control characters (C0, DEL, C1) and the Unicode line/paragraph separators.
_CONTROL = {c: None for c in (*range(0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029)}


def printable(text: str | os.PathLike) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``...): one line.

    A file name is the only part of a message a user does not choose the wording of; a
    newline in it would split one error line into two, an escape sequence could rewrite
    the terminal.
    """
    text = os.fspath(text)
    if not has_control_characters(text):
        return text
    return "".join(
        (ch.encode("unicode_escape").decode("ascii") if ord(ch) in _CONTROL else ch) for ch in text
    )


def error_line(exc: BaseException) -> str:
    """One line for an error, its file names escaped (see :func:`printable`).

    An `SRDesktopError` is one line by design, so a line break in it comes from a name it
    quotes: the whole message is kept, escaped. Any other exception is `one_line`'s.
    """
    if isinstance(exc, SRDesktopError):
        return shortened(printable(message_of(exc).strip())) or type(exc).__name__
    return shortened(printable(one_line(exc)))


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control character (see :func:`printable`)."""
    return any(ord(ch) in _CONTROL for ch in text)


def without_control_characters(text: str) -> str:
    """`text` with its control characters left out."""
    return text.translate(_CONTROL)


def terminal_width(text: str) -> int:
    """The columns `text` takes in a terminal: East Asian wide and full-width characters take
    two, combining marks none (a model named 中文模型 pushed its row's columns 4 cells right)."""
    import unicodedata

    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def counted(count: int, noun: str) -> str:
    """``"1 image"``, ``"3 images"``: `count` and `noun`, plural (+s) unless it is one."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def human_bytes(n: int | None) -> str:
    """A byte count as "512 B", "1.5 MiB", …; "—" for none."""
    if not n:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def human_seconds(seconds: float | None) -> str:
    """1.5 → "1.5 s", 75 → "1:15", 3700 → "1:01:40"; None → "…"."""
    if seconds is None:
        return "…"
    if round(seconds, 1) < 60:  # (59.96 said "60.0 s", and 60.0 "1:00")
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def result_seconds(seconds: float) -> str:
    """How long a result took, said the same in the window's status bar, Result line and
    Metrics panel and in `upscale`'s line: 0.25 → "0.25 s", 75 → "1:15" (`human_seconds`
    from a minute). They said "0.2 s", "0.25 s" and "75.00 s" of one run."""
    return f"{seconds:.2f} s" if round(seconds, 2) < 60 else human_seconds(seconds)


def with_variant(name: str, variant: str | None) -> str:
    """A model's name with the variant that ran, as results say it ("SPAN · ch52"; none for
    "default")."""
    return f"{name} · {variant}" if variant and variant != "default" else name


def rate_text(per_second: float) -> str:
    """A speed to read at a glance, small ones kept to three digits, never as an exponent:
    12.345 → "12.35", 0.114 → "0.11", 0.0567 → "0.0567", 3.41e-05 → "0.0000341" (a slow
    model's speed read "0.00 MP/s")."""
    if per_second >= 0.1 or per_second <= 0 or not math.isfinite(per_second):
        return f"{per_second:.2f}"
    return f"{per_second:.{2 - math.floor(math.log10(per_second))}f}"


def first_failures(lines: list[str], most: int = 3) -> str:
    """The first `most` of several failures' lines joined ("a.png: …; b.png: …; c.png: …
    (and 49 more)"): a folder refused for one bad file named only the first of 52, one
    attempt each to find them."""
    shown = "; ".join(lines[:most])
    return shown + (f" (and {len(lines) - most} more)" if len(lines) > most else "")
