"""Thumbnails of image files, decoded in a worker thread (a `JobQueue` job).

`decode_thumbnail` asks Qt's reader for a whole JPEG (it scales while decoding, so a big
photo is cheap, and it turns it as its EXIF says) and the engine's reader for the rest:
Qt's turned no PNG or WebP by its EXIF and showed a cut JPEG filled with grey, which the
window then refused. A file the engine cannot read gives its one-line reason instead of
a picture; a FIFO or a folder is never opened (Qt's reader waited on a FIFO for ever,
holding the interpreter's lock: the whole window froze). `run_thumbnail_job` decodes a job's paths one
by one and reports each through the job's progress (``extra["thumbnail"]``), so they
appear as they come; QImage may be made in any thread, the GUI turns it into a pixmap.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QImageReader

from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.progress import ProgressTracker
from sr_desktop.gui.qimage import array_to_qimage, converted_to_srgb, qimage_in_srgb

log = logging.getLogger(__name__)

#: the largest image (its header's size) the engine decodes for a thumbnail: a larger one gets
#: none rather than a second full decode beside the one that opens it
THUMBNAIL_MAX_MEGAPIXELS = 60

#: the longest side of a thumbnail, in pixels
THUMB = 56  # the strip stays under 100 px tall: room for the image on a laptop at 150 %


@dataclass(frozen=True)
class Thumbnail:
    """One file's thumbnail (``image``), or why there is none: the file cannot be read
    (``error``), or it can and is too large to make a picture of beside its opening (``note``)."""

    path: Path
    image: QImage | None = None
    error: str = ""
    note: str = ""


def decode_thumbnail(path: Path, size: int = THUMB) -> Thumbnail:
    """The picture of ``path`` scaled to fit ``size``×``size``, or the reason it has none."""
    from sr_desktop.engine.imageio import check_input_file

    try:
        check_input_file(path)
        whole_jpeg = _is_whole_jpeg(path)
    except (SRDesktopError, OSError) as exc:
        return Thumbnail(path, error=one_line(exc))
    if not whole_jpeg:
        return _engine_thumbnail(path, size)
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    scaled = reader.size()
    if scaled.isValid() and scaled.width() > 0 and scaled.height() > 0:
        scaled.scale(size, size, Qt.AspectRatioMode.KeepAspectRatio)
        reader.setScaledSize(scaled)
    image = reader.read()
    if not image.isNull():
        # in sRGB as the compare view shows it (an Adobe RGB or P3 photo's thumbnail was up to
        # 64 levels off the picture beside it)
        return Thumbnail(path, converted_to_srgb(image, image.colorSpace()))
    return _engine_thumbnail(path, size)


def _is_whole_jpeg(path: Path) -> bool:
    """A JPEG file (by its first bytes) that ends with its end-of-image marker."""
    with open(path, "rb") as fh:
        if fh.read(3) != b"\xff\xd8\xff":
            return False
        fh.seek(-2, 2)
        return fh.read(2) == b"\xff\xd9"


def _engine_thumbnail(path: Path, size: int) -> Thumbnail:
    # formats or files Qt's plugins do not read (16-bit TIFF, CMYK, …); the engine's
    # reader also gives the reason a broken file is broken, in the words the window uses
    from PIL import Image as PILImage

    from sr_desktop.engine.core.errors import ImageReadError
    from sr_desktop.engine.imageio import read, read_image

    try:  # (the header's size: a 196 MP PNG was decoded a second time, beside its opening)
        with PILImage.open(path) as header:
            megapixels = header.width * header.height / 1e6
    except PILImage.DecompressionBombError:  # Pillow's own limit, ~179 MP: past any thumbnail's
        megapixels = math.inf
    except Exception:  # noqa: BLE001 - the engine's reader below says what is wrong
        megapixels = 0.0
    if megapixels > THUMBNAIL_MAX_MEGAPIXELS:
        size = f"of {megapixels:.0f} MP" if math.isfinite(megapixels) else "this large"
        return Thumbnail(path, note=f"no thumbnail for an image {size}")
    try:
        image = read_image(path)
    except ImageReadError as exc:
        if exc.reason == read.NO_MEMORY_TO_DECODE:  # not the file's fault: it said "Cannot open" of the image shown
            return Thumbnail(path, note="no thumbnail: not enough memory for one")
        return Thumbnail(path, error=one_line(exc))
    except (SRDesktopError, OSError) as exc:
        return Thumbnail(path, error=one_line(exc))
    picture = array_to_qimage(image.pixels).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return Thumbnail(path, qimage_in_srgb(picture, image.icc_profile))


def run_thumbnail_job(job, progress, cancel, size: int = THUMB) -> int:
    """Runner for a `JobQueue` whose job's ``options`` are the paths: one progress report
    per file with its `Thumbnail` (at most `size` pixels a side) in ``extra["thumbnail"]``;
    returns how many were done."""
    paths = list(job.options)
    tracker = ProgressTracker(len(paths), progress, stage="thumbnails")
    for path in paths:
        cancel.raise_if_cancelled()
        try:
            thumbnail = decode_thumbnail(Path(path), size)
        except Exception as exc:  # a bug on one file: that file's badge, not the strip's end
            # (it ended the job: no later file got a thumbnail, and each new job retried it first)
            log.exception("thumbnail of %s failed", path)
            thumbnail = Thumbnail(Path(path), error=f"unexpected error: {one_line(exc)}")
        tracker.step(message=str(path), thumbnail=thumbnail)
    return len(paths)
