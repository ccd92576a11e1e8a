"""Warnings kept off the terminal for one block of code, safe beside other threads doing the
same (a job reading a weight file while another opens an image).

``warnings.catch_warnings`` saves the process's whole filter list and puts it back at the
block's end. Two threads' blocks that overlap put back each other's lists (before Python
3.14): one thread's "ignore" stayed for good, and every later warning of the process,
the user's own included, was silent. Here a block adds its own filter entries and takes
exactly those away at its end.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_LOCK = threading.Lock()


@contextmanager
def warnings_ignored(*categories: type[Warning]) -> Iterator[None]:
    """Ignore warnings of `categories` (all warnings when none is given) while the block
    runs, in every thread (the filters are the process's), and leave the filters as they
    were when it ends."""
    entries = [("ignore", None, category, None, 0) for category in categories or (Warning,)]
    with _LOCK:
        for entry in entries:
            warnings.filters.insert(0, entry)
        _filters_changed()
    try:
        yield
    finally:
        with _LOCK:
            for entry in entries:
                # (an equal entry of another block is as good as ours: the count is what matters)
                try:
                    warnings.filters.remove(entry)
                except ValueError:  # another library's catch_warnings put back a list without it
                    pass
            _filters_changed()


def _filters_changed() -> None:
    # the warnings module caches which warnings it has shown per filter-list version; what
    # warnings.filterwarnings calls after changing the list (private, hence looked up)
    changed = getattr(warnings, "_filters_mutated", None)
    if changed is not None:
        changed()
