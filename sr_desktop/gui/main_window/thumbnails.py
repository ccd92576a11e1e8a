"""Thumbnails of image files, decoded in a worker thread (a `JobQueue` job).

`decode_thumbnail` asks Qt's reader first (it scales while decoding, so a big photo is
cheap) and the engine's reader for what Qt cannot read; a file neither can read gives
its one-line reason instead of a picture. `run_thumbnail_job` decodes a job's paths one
by one and reports each through the job's progress (``extra["thumbnail"]``), so they
appear as they come; QImage may be made in any thread, the GUI turns it into a pixmap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader

from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.progress import ProgressTracker

#: the longest side of a thumbnail, in pixels
THUMB = 56  # the strip stays under 100 px tall: room for the image on a laptop at 150 %


@dataclass(frozen=True)
class Thumbnail:
    """One file's thumbnail (``image``), or why there is none (``error``)."""

    path: Path
    image: QImage | None = None
    error: str = ""


def decode_thumbnail(path: Path, size: int = THUMB) -> Thumbnail:
    """The picture of ``path`` scaled to fit ``size``×``size``, or the reason it has none."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    scaled = reader.size()
    if scaled.isValid() and scaled.width() > 0 and scaled.height() > 0:
        scaled.scale(size, size, Qt.AspectRatioMode.KeepAspectRatio)
        reader.setScaledSize(scaled)
    image = reader.read()
    if not image.isNull():
        return Thumbnail(path, image)
    return _engine_thumbnail(path, size)


def _engine_thumbnail(path: Path, size: int) -> Thumbnail:
    # formats or files Qt's plugins do not read (16-bit TIFF, CMYK, …); the engine's
    # reader also gives the reason a broken file is broken, in the words the window uses
    from sr_desktop.engine.imageio import read_image
    from sr_desktop.gui.qimage import array_to_qimage

    try:
        image = read_image(path)
    except (SRDesktopError, OSError) as exc:
        return Thumbnail(path, error=one_line(exc))
    picture = array_to_qimage(image.pixels).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return Thumbnail(path, picture)


def run_thumbnail_job(job, progress, cancel, size: int = THUMB) -> int:
    """Runner for a `JobQueue` whose job's ``options`` are the paths: one progress report
    per file with its `Thumbnail` (at most `size` pixels a side) in ``extra["thumbnail"]``;
    returns how many were done."""
    paths = list(job.options)
    tracker = ProgressTracker(len(paths), progress, stage="thumbnails")
    for path in paths:
        cancel.raise_if_cancelled()
        tracker.step(message=str(path), thumbnail=decode_thumbnail(Path(path), size))
    return len(paths)
