"""The engine words its errors for the command line (`--out … is a file`, `use --resume`); a
dialog shows them with the names of its own fields and buttons instead."""

from __future__ import annotations

import re


def in_dialog_words(message: str, fields: dict[str, str]) -> str:
    """`message` with each command-line flag of `fields` replaced by the quoted name of the
    dialog's field (or button) for it; other text is kept as it is."""
    for flag in sorted(fields, key=len, reverse=True):  # "-r/--recursive" before "--recursive"
        message = re.sub(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", f"“{fields[flag]}”", message)
    return message
