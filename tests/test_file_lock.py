"""OS file locks (engine/core/file_lock.py)."""

from __future__ import annotations

import errno
import sys
import types

import pytest

from sr_desktop.engine.core import file_lock


def test_a_lock_is_exclusive_until_released(tmp_path):
    path = tmp_path / "lock"
    with file_lock.held_lock(path) as fd:
        assert fd is not None
        with file_lock.held_lock(path, wait=False) as other:  # (flock: another open file description)
            assert other is None
    with file_lock.held_lock(path, wait=False) as again:
        assert again is not None


class FakeMsvcrt(types.SimpleNamespace):
    """msvcrt.locking as Windows has it: the byte is held by another process for `busy` tries."""

    LK_UNLCK, LK_LOCK, LK_NBLCK = 0, 1, 2

    def __init__(self, busy: int) -> None:
        super().__init__(busy=busy, calls=[])

    def locking(self, fd, mode, size):
        self.calls.append(mode)
        if mode == self.LK_LOCK:  # (its own wait gives up after 10 s: EDEADLOCK)
            raise OSError(errno.EDEADLK, "Resource deadlock avoided")
        if mode == self.LK_NBLCK and self.busy > 0:
            self.busy -= 1
            raise OSError(errno.EACCES, "Permission denied")


def test_a_windows_lock_waits_as_long_as_it_takes(tmp_path, monkeypatch):
    """msvcrt's waiting lock gives up after 10 tries a second apart: a second `models add`
    waiting for one copying a large model failed ("Resource deadlock avoided; set
    SR_DESKTOP_HOME to a folder you can write")."""
    fake = FakeMsvcrt(busy=25)
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr(file_lock.sys, "platform", "win32")
    monkeypatch.setattr(file_lock, "WINDOWS_RETRY_SECONDS", 0.001)
    with file_lock.held_lock(tmp_path / "lock") as fd:
        assert fd is not None
    assert fake.calls == [fake.LK_NBLCK] * 26 + [fake.LK_UNLCK]

    fake = FakeMsvcrt(busy=1)  # without waiting: at once None
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    with file_lock.held_lock(tmp_path / "lock", wait=False) as fd:
        assert fd is None
    assert fake.calls == [fake.LK_NBLCK]


def test_a_windows_lock_error_other_than_busy_is_raised(tmp_path, monkeypatch):
    fake = FakeMsvcrt(busy=0)
    fake.locking = lambda fd, mode, size: (_ for _ in ()).throw(OSError(errno.EBADF, "Bad file descriptor"))
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr(file_lock.sys, "platform", "win32")
    with pytest.raises(OSError, match="Bad file descriptor"), file_lock.held_lock(tmp_path / "lock"):
        pass
