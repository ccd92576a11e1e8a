"""Warnings silenced for a block of code leave the process's warnings as they were, also
when jobs of several threads silence them at once (warnings.catch_warnings left an
"ignore everything" behind: the user's own warnings, and the app's log of them, went
silent for good)."""

from __future__ import annotations

import threading
import warnings

import pytest
import torch

from sr_desktop.engine.core.quiet_warnings import warnings_ignored
from sr_desktop.engine.core.weight_file import read_weight_file


def test_a_block_ignores_its_categories_and_ends_as_it_began():
    before = list(warnings.filters)
    with warnings_ignored(UserWarning):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", DeprecationWarning)
            warnings.warn("ignored", UserWarning, stacklevel=1)
            warnings.warn("shown", DeprecationWarning, stacklevel=1)
    assert [str(w.message) for w in seen] == ["shown"]
    assert warnings.filters == before
    with pytest.warns(UserWarning, match="after the block"):
        warnings.warn("after the block", UserWarning, stacklevel=1)


def test_blocks_of_two_threads_that_overlap_leave_no_filter_behind():
    # A enters, B enters, A leaves, B leaves: catch_warnings put back A's list at B's end,
    # which still held A's "ignore"
    before = list(warnings.filters)
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with warnings_ignored():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with warnings_ignored():
            b_in.set()
            a_out.wait(10)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert a_out.is_set() and warnings.filters == before


def test_weight_files_read_by_four_threads_at_once_leave_the_warnings_as_they_were(tmp_path):
    path = tmp_path / "w.pth"
    torch.save({"conv.weight": torch.zeros(4, 3, 3, 3), "conv.bias": torch.zeros(4)}, path)
    before = list(warnings.filters)
    errors: list[BaseException] = []

    def load():
        try:
            for _ in range(15):
                assert set(read_weight_file(path)) == {"conv.weight", "conv.bias"}
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and warnings.filters == before
