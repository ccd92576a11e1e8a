"""The event loop's ticks while a job runs in a worker: what the responsiveness tests measure
(a GUI thread starved by the job's Python work shows as a long gap between ticks)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from PySide6.QtCore import QTimer


@contextlib.contextmanager
def ticks_every(interval_ms: int) -> Iterator[list[float]]:
    """A list that gets `time.perf_counter()` at each tick of an `interval_ms` timer of the
    event loop while the block runs."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    try:
        yield ticks
    finally:
        timer.stop()
