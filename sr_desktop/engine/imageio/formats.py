"""Which image formats the engine reads and writes, and how file suffixes name them."""

from __future__ import annotations

import os
from pathlib import Path

from sr_desktop.engine.core.errors import ImageWriteError, OptionError

READ_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF", "AVIF", "HEIF")
"""Pillow plugins :func:`~sr_desktop.engine.imageio.read.read_image` decodes with: AVIF where
Pillow was built with it (its wheels from 11.3), HEIF (an iPhone's HEIC photos) where the
optional package pillow-heif is installed (``sr-desktop[heic]``)."""

#: the formats read, as a message names them
READ_FORMAT_NAMES = "PNG, JPEG, WebP, TIFF, BMP, GIF, AVIF, HEIC"

IMAGE_SUFFIXES = frozenset(
    {".png", ".apng", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".tif", ".tiff", ".bmp", ".dib", ".gif", ".avif",
     ".heic", ".heif", ".hif"}
)
"""File suffixes (lower case, with the dot) of the formats :func:`read_image` reads."""

WRITE_FORMATS = ("png", "jpg", "webp", "tiff", "bmp", "gif")
#: the formats whose encoders take a quality (WebP 100: lossless)
LOSSY_FORMATS = ("jpg", "webp")
DEFAULT_QUALITY = 95


def check_quality(value: object) -> int:
    """A JPEG/WebP quality 1..100; `OptionError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        raise OptionError(f"quality must be 1..100, got {value}")
    return value

_FORMAT_ALIASES = {
    "png": "png",
    "jpg": "jpg",
    "jpeg": "jpg",
    "webp": "webp",
    "tif": "tiff",
    "tiff": "tiff",
    "bmp": "bmp",
    "gif": "gif",
}
_SUFFIX_OF_FORMAT = {
    "png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif",
}
_FORMAT_OF_SUFFIX = {
    ".png": "png",
    ".apng": "png",  # an animated PNG named as such (batch skipped it as "not an image")
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".jpe": "jpg",
    ".jfif": "jpg",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".dib": "bmp",
    ".gif": "gif",
}


#: the largest side each format's encoder writes (libjpeg: 65500; WebP: 16383; GIF and BMP
#: headers hold 16- and 32-bit sizes)
MAX_SIDE = {"jpg": 65500, "webp": 16383, "gif": 65535, "bmp": 2**31 - 1, "png": 2**31 - 1, "tiff": 2**32 - 1}


def size_refusal(fmt: str, width: int, height: int) -> str | None:
    """Why a `width`×`height` image cannot be written as `fmt` (None: it can)."""
    limit = MAX_SIDE.get(fmt)
    if limit is None or max(width, height) <= limit:
        return None
    return (f"{fmt.upper()} holds at most {limit} pixels a side, the result is {width}×{height}; "
            "save it as PNG or TIFF (--format png)")


def is_image_path(path: str | os.PathLike) -> bool:
    """True when the file name has a suffix of a readable image format (no I/O) and is not
    a macOS AppleDouble companion (``._photo.png``: the Finder's metadata of ``photo.png``
    on a copied disk, no pixels), which stopped a training run or a bench on a dataset
    folder copied from a Mac."""
    name = Path(path).name
    return Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith("._")


def normalize_format(fmt: str, path: str | os.PathLike | None = None) -> str:
    """One of WRITE_FORMATS for a format name or alias ("JPEG", ".tif"...).

    Raises :class:`ImageWriteError` naming ``path`` for an unknown format.
    """
    key = fmt.strip().lower().lstrip(".")
    if key not in _FORMAT_ALIASES:
        raise ImageWriteError(
            path, f"unknown format '{fmt}' (supported: {', '.join(WRITE_FORMATS)})"
        )
    return _FORMAT_ALIASES[key]


def suffix_for_format(fmt: str) -> str:
    """The file suffix to give an output of format ``fmt`` ("jpeg" -> ".jpg", "tiff" -> ".tif")."""
    return _SUFFIX_OF_FORMAT[normalize_format(fmt)]


def format_named_by(path: str | os.PathLike) -> str | None:
    """The output format a path's suffix names, or None when it names none (no suffix, or
    not an image suffix): what a front end checks a name against a chosen format with."""
    return _FORMAT_OF_SUFFIX.get(Path(path).suffix.lower())


def suffixes_of_format(fmt: str) -> list[str]:
    """Every suffix that names the output format `fmt` (".tif" and ".tiff"), its own first."""
    own = suffix_for_format(fmt)
    return [own] + [suffix for suffix, named in _FORMAT_OF_SUFFIX.items() if named == fmt and suffix != own]


def format_for_path(path: str | os.PathLike) -> str:
    """The output format ("png", "jpg", "webp", "tiff", "bmp", "gif") named by a path's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMAT_OF_SUFFIX:
        shown = suffix or "(none)"
        raise ImageWriteError(
            path,
            f"unknown output suffix {shown} (use .png, .jpg, .webp, .tif, .bmp or .gif, or pick a format)",
        )
    return _FORMAT_OF_SUFFIX[suffix]
