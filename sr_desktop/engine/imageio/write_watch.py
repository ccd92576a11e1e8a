"""How far the encoding of one image has come, and Cancel while it runs.

Saving a large result is a long job of its own (on the 2-core machine a 48-megapixel
upscale took 8 s as PNG and 27 s as WebP; four times that at 192 megapixels). The encoders
that work row by row (the engine's PNG and TIFF writers) say how many rows are done; every
encoder's writes go through `WatchedFile`, which counts the bytes and stops the encoding at
its next write once cancelled.
"""

from __future__ import annotations

import io
from typing import BinaryIO

from sr_desktop.engine.core.progress import SAVE_STAGE, CancelToken, ProgressCallback, ProgressTracker, check_cancel


class WriteWatch:
    """Progress reports (`ProgressInfo`: ``done`` rows encoded of ``total`` image rows, or
    frames of an animation's frames, as ``extra["unit"]`` says; ``extra["bytes"]`` written so
    far, ``extra["rows"]`` True once an encoder counts rows or frames)
    and the cancel check of one image being written. Cancelled, the next row block or write
    raises `Cancelled`; `atomic_write` then removes its temporary file."""

    def __init__(self, rows: int, cancel: CancelToken | None = None, progress: ProgressCallback | None = None):
        self.cancel = cancel
        self.bytes = 0
        self.counts_rows = False
        self._frames = 0
        self._tracker = ProgressTracker(rows, progress, stage=SAVE_STAGE) if progress is not None else None

    def rows_done(self, done: int) -> None:
        """An encoder that works in row blocks has finished `done` rows."""
        check_cancel(self.cancel)
        self.counts_rows = True
        if self._tracker is not None:
            self._tracker.update(done, bytes=self.bytes, rows=True, unit="row")

    def frame_started(self, index: int) -> None:
        """An encoder that takes an animation's frames one by one (Pillow's GIF, APNG, WebP) has
        come to frame `index`, the frames before it done (``total``: the frames; ``extra["unit"]``
        "frame"). It said only the bytes written: an APNG or WebP of many large frames had
        Cancel but no percentage, and its Cancel waited for the end."""
        check_cancel(self.cancel)
        self._count_frames(index)

    def frames_done(self, count: int) -> None:
        """All `count` frames are written (no cancel check: the file is in place by now)."""
        self._count_frames(count)

    def _count_frames(self, done: int) -> None:
        if done <= self._frames:  # (Pillow seeks a frame again when it is done with it)
            return
        self._frames = done
        self.counts_rows = True
        if self._tracker is not None:
            self._tracker.update(done, bytes=self.bytes, rows=True, unit="frame")

    def wrote(self, count: int) -> None:
        """`count` more bytes are about to be written."""
        check_cancel(self.cancel)
        self.bytes += count
        if self._tracker is not None:
            self._tracker.update(bytes=self.bytes, rows=self.counts_rows, unit="frame" if self._frames else "row")

    def stream(self, fh: BinaryIO) -> BinaryIO:
        """`fh` with each write counted and checked (`WatchedFile`)."""
        return WatchedFile(fh, self)  # type: ignore[return-value]


class WatchedFile:
    """A binary file whose writes go through `WriteWatch.wrote`. It has no ``fileno``, so
    Pillow's encoders write through it in blocks (with a descriptor they write to it
    directly, past any check)."""

    def __init__(self, fh: BinaryIO, watch: WriteWatch):
        self._fh = fh
        self._watch = watch

    def write(self, data) -> int:
        self._watch.wrote(memoryview(data).nbytes)
        return self._fh.write(data)

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")

    def flush(self) -> None:
        self._fh.flush()

    def tell(self) -> int:
        return self._fh.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fh.seek(offset, whence)
