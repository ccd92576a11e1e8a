"""`batch --files-from LIST`: the files a list names, one per line or NUL-separated, from a file
or standard input."""

from __future__ import annotations

import os
from pathlib import Path

from sr_desktop.engine.batch.plan import BatchError
from sr_desktop.engine.imageio.protected import name_key


def read_file_list(list_file: Path, input_dir: Path, data: bytes | None = None) -> list[Path]:
    """Paths listed one per line in `list_file` (or in `data`, read from it already: standard
    input), or separated by NUL bytes (``find -print0``: names with a newline); relative
    paths are taken relative to `input_dir`. A line is a name as it is when a file has it;
    else blank lines and ``#`` comments are left out and the spaces around a name dropped (a
    file named ``#1.png`` was left out without a word). A file listed twice (relative and
    absolute, or through a linked folder) is taken once: it failed as two inputs sharing an
    output name."""
    if data is None:
        try:
            data = list_file.read_bytes()
        except OSError as exc:
            raise BatchError(f"cannot read the file list {list_file}: {exc.strerror or exc}") from None
    data = _utf16_as_bytes(data)  # (PowerShell 5's `>` writes UTF-16: its NULs read as separators)
    null_separated = b"\0" in data
    if any(byte < 0x20 and byte not in b"\0\t\n\r" for byte in data):  # (an image given by mistake)
        raise BatchError(f"the file list {list_file} is not a text file (one path per line)")
    paths = []
    seen: set[str] = set()
    # each name as the file system has it (`ls > list` of a Latin-1 name refused the whole
    # list as not UTF-8); Notepad's BOM went into the first name
    data = data.removeprefix(b"\xef\xbb\xbf")
    entries = data.split(b"\0") if null_separated else data.splitlines()
    for entry in entries:
        line = os.fsdecode(entry)
        if not null_separated and not (line and os.path.lexists(_listed_path(line, input_dir))):
            line = line.strip()  # (not a file's name as it is)
            if line.startswith("#"):
                continue
        if not line:
            continue
        path = _listed_path(line, input_dir)
        # the same entry of the same folder (``a.png`` and ``IN/a.png``), not what it points
        # to: a link listed beside its target is an input of its own with its own output
        key = name_key(os.path.join(os.path.realpath(path.parent), path.name), resolve=False)
        if key not in seen:
            seen.add(key)
            paths.append(path)
    return paths


def _utf16_as_bytes(data: bytes) -> bytes:
    """A UTF-16 file list (a byte-order mark, or a NUL after every ASCII byte) as the file
    system's bytes; other data as it is."""
    has_mark = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    if not has_mark and not (len(data) >= 4 and data[1::2].count(0) == len(data) // 2 and data[0::2].count(0) == 0):
        return data
    try:
        return os.fsencode(data.decode("utf-16" if has_mark else "utf-16-le"))
    except UnicodeDecodeError:
        return data  # (refused as not a text file)


def _listed_path(name: str, input_dir: Path) -> Path:
    """The file a list's `name` means: an absolute path as it is; a relative one inside
    `input_dir`, or, when only there, the current folder's inside `input_dir`, named as the
    folder's others are (`find IN -name '*.jpg' | batch IN OUT --files-from -` lists IN/a.jpg)."""
    path = Path(name).expanduser()
    if path.is_absolute():
        return path
    inside = input_dir / path
    if not os.path.lexists(inside) and os.path.lexists(path) \
            and Path(os.path.abspath(path)).is_relative_to(os.path.abspath(input_dir)):
        return input_dir / os.path.relpath(os.path.abspath(path), os.path.abspath(input_dir))
    return inside
