"""Atomic file writing: a hidden temporary sibling, fsync'ed, then renamed over the target.

On any failure the temporary file is removed and the target is untouched; a temporary
file is left behind only when the process is killed, and :func:`is_temp_path` spots it.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import secrets
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sr_desktop.engine.core.errors import ReaderGone
from sr_desktop.engine.core.path_kind import missing_folder_reason, nearest_existing_folder_or_file
from sr_desktop.engine.core.progress import CancelToken

#: ``.<name>.<pid>-<8 hex>.part`` (``.<name>.<8 hex>.part`` before the writer's pid was in it)
_TEMP_NAME = re.compile(r"^\..+\.(?:(?P<pid>\d{1,10})-)?[0-9a-f]{8}\.part$")
#: a temp file named without a writer that can be asked is stale once untouched this long
STALE_TEMP_S = 600.0


def temp_path_for(target: Path) -> Path:
    """The hidden sibling ``.<name>.<pid>-<8 hex>.part`` an output is encoded into before its
    rename (the pid tells a live writer's temp from a killed one's)."""
    return target.with_name(f"{_temp_head(target)}.{os.getpid()}-{secrets.token_hex(4)}.part")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # POSIX only: signal 0 asks without sending
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (PermissionError): alive
        return True
    # a killed process its parent has not reaped yet (a Ray worker, until its raylet waits
    # for it) still answers, but will never rename its temp file
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS): as the signal said
        return True


def is_stale_temp(path: Path, unnamed_older_than_s: float = STALE_TEMP_S) -> bool:
    """A temp file (`is_temp_path`) that no running writer will rename: its writer's process
    has ended (killed). One whose name has no writer, or on a system where it cannot be
    asked (Windows), is stale once untouched for `unnamed_older_than_s`. Another batch still
    writing into the same folder keeps its temp files (a second run removed them and the
    first then failed); a writer on another machine of a cluster cannot be asked, and its
    pid is judged on this machine."""
    match = _TEMP_NAME.match(path.name)
    if match is None:
        return False
    pid = match.group("pid")
    if pid is not None and os.name == "posix":
        return int(pid) != os.getpid() and not _process_alive(int(pid))
    try:
        return time.time() - path.stat().st_mtime > unnamed_older_than_s
    except OSError:
        return False


def _temp_head(target: Path) -> str:
    """``.<name>``, the part of `target`'s temp names before their random part."""
    # cut by bytes, not characters: 150 accented letters are 300 bytes, past the 255 a name may
    # have; decoded as the file system's names are (as UTF-8 in a Latin-1 locale, "中文.png"
    # gave a temp name that locale could not write: "PNG encoder failed")
    if os.name != "posix":
        return f".{target.name[:150]}"
    head = os.fsencode(target.name)[:150].decode(sys.getfilesystemencoding(), errors="ignore")
    return f".{head}"


def remove_stale_temps_of(target: Path, older_than_s: float = STALE_TEMP_S) -> int:
    """Delete the temporary siblings of `target` that a killed write left (`is_stale_temp`;
    one without its writer's pid once untouched for `older_than_s`); how many."""
    removed = 0
    try:
        candidates = list(target.parent.glob(glob.escape(_temp_head(target)) + ".*.part"))
    except OSError:
        return 0
    for path in candidates:
        try:
            if is_stale_temp(path, older_than_s):
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def is_temp_path(path: str | os.PathLike) -> bool:
    """True for a temporary file of `write_image` (left behind only if the process was killed)."""
    return bool(_TEMP_NAME.match(Path(path).name))


def atomic_write(target: Path, encode: Callable[[BinaryIO], object], replace: bool = True,
                 cancel: CancelToken | None = None) -> None:
    """Run ``encode(binary_file)`` into a temporary sibling of ``target``, then rename it.
    ``replace`` False: an existing ``target`` is never replaced, also one another process
    made meanwhile (`FileExistsError`). ``cancel`` set before the rename (`CancelToken.commit`):
    `Cancelled`, the temporary file removed.

    A link is followed: the file it names gets the new contents and the link stays. What is
    not a file — a device, a pipe, a terminal, a name of one of the process's own streams
    (``--json /dev/stdout``, ``/dev/null``: `is_stream`) — is written into, never replaced
    (run as root, the rename made /dev/null a regular file)."""
    target = Path(target)
    kind = special_target(target)
    if kind == "folder":
        raise IsADirectoryError(errno.EISDIR, "is a folder", str(target))
    if kind is not None or is_stream(target):  # (/dev/stdout pointed at a file by the shell too)
        own = own_stream_fd(target)
        if own is not None:
            # the process's own descriptor, not the name opened anew: that started a file the
            # shell had pointed it at over from byte 0 (and cut a `>>` one), and what the
            # process printed to it afterwards wrote over the image
            try:
                for stream in (sys.stdout, sys.stderr):
                    if stream is not None and _fileno(stream) == own:
                        stream.flush()
                with os.fdopen(os.dup(own), "wb") as fh:
                    encode(fh)
            except BrokenPipeError:
                raise ReaderGone() from None
            return
        with open(target, "wb") as fh:
            encode(fh)
        return
    if os.path.islink(target):
        target = Path(os.path.realpath(target))
    temp = temp_path_for(target)
    # os.open with 0o666 (not mkstemp's 0o600) so the result gets the user's usual umask.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            encode(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if cancel is not None:
            cancel.commit()
        if replace:
            with contextlib.suppress(OSError):  # (a file replaced keeps its permissions: a
                os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))  # private 0600 came out 0644)
            os.replace(temp, target)
        else:
            _link_new(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_folder(target.parent)


def special_target(target: str | os.PathLike) -> str | None:
    """What an existing ``target`` is when it is not a regular file (followed through links):
    ``"folder"`` or ``"device"`` (a character or block device, a pipe, a socket); None for a
    regular file or nothing there."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return None
    if stat.S_ISDIR(mode):
        return "folder"
    return None if stat.S_ISREG(mode) else "device"


def own_stream_fd(target: str | os.PathLike) -> int | None:
    """The descriptor of this process that `target` names (``/dev/stdout``, ``/dev/fd/3``,
    ``/proc/self/fd/1``, through links), or None."""
    path = os.fspath(target)
    for _ in range(8):  # the links' chain, not their final target
        for prefix in ("/proc/self/fd/", "/dev/fd/"):
            if path.startswith(prefix) and path[len(prefix):].isdigit():
                return int(path[len(prefix):])
        try:
            path = os.path.join(os.path.dirname(path), os.readlink(path))
        except OSError:
            return None
    return None


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def is_stream(target: str | os.PathLike) -> bool:
    """Whether writing to `target` writes into a stream rather than replacing a file: a
    device, a pipe, a terminal, or a name for one of the process's own streams
    (``/dev/stdout`` → ``/proc/self/fd/1``, even when the shell pointed it at a file). Such a
    target "exists" but is no file of the user's to protect."""
    return special_target(target) == "device" or own_stream_fd(target) is not None


def into_stdout(target: str | os.PathLike) -> bool:
    """Whether writing to `target` writes into this process's standard output (its messages
    then go to stderr: they went into the image or the JSON)."""
    return own_stream_fd(target) == 1


def _link_new(temp: Path, target: Path) -> None:
    """Give ``temp`` the name ``target`` unless that exists: a hard link fails on an existing
    name in one step (two runs writing the same new output both "won" with a rename)."""
    taken = FileExistsError(errno.EEXIST, "file exists (use --overwrite)", str(target))
    try:
        os.link(temp, target)
    except FileExistsError:
        raise taken from None
    except OSError:  # no hard links on this file system (FAT, some shares): check, then rename
        if os.path.lexists(target):
            raise taken from None
        os.replace(temp, target)
    else:
        os.unlink(temp)


def new_staging_folder(parent: Path, prefix: str) -> Path:
    """A new, uniquely named folder ``<prefix><pid>-<8 hex>`` in `parent` with the user's
    usual permissions (mkdtemp's 0700 made a shared cache's conversions and the added models
    unreadable to the other users of the same home)."""
    while True:
        path = Path(parent) / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir(mode=0o777)  # less the umask, as every file the app writes
            return path
        except FileExistsError:
            continue


def probe_writable(folder: Path) -> None:
    """Create and remove a temporary file in `folder`: the `OSError` a later write there
    would meet (read-only, no permission, a pseudo file system), raised before long work
    rather than after it."""
    probe = temp_path_for(Path(folder) / "probe")
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.unlink(probe)


def file_target_refusal(path: str | os.PathLike, make_folders: bool = False) -> str | None:
    """Why one file cannot be written at `path`, found before long work, nothing created: a
    folder of that name, a folder that does not exist (`missing_folder_reason`; with
    `make_folders`, the writer makes it: then a file in its way, or an existing ancestor that
    takes no files), a folder that takes no files (`probe_writable`, the system's words);
    None when it can, and for a device or a pipe, which is written into. Whether an existing
    file may be replaced is the caller's question."""
    path = Path(path)
    kind = special_target(path)
    if kind is not None:
        return "it is a folder" if kind == "folder" else None
    if not path.parent.is_dir():
        base = nearest_existing_folder_or_file(path) if make_folders else None
        return unwritable_reason(base) if base is not None and base.is_dir() else missing_folder_reason(path.parent)
    return unwritable_reason(path.parent)


def unwritable_reason(folder: str | os.PathLike) -> str | None:
    """Why files cannot be written in the existing `folder`, in the system's words
    (`probe_writable`: read-only, no permission, a pseudo file system); None when they can."""
    try:
        probe_writable(Path(folder))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); best effort, not possible on every platform."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

