"""Reading and writing image files: every file the engine touches goes through here.

Reading gives an :class:`~sr_desktop.engine.imageio.image.Image` whose pixels are upright (EXIF
orientation applied) and uint8 or uint16; every problem with the file becomes one
:class:`ImageReadError` naming the file and the reason. Writing is atomic (temporary file
in the same folder, fsync, rename), never replaces the input, and keeps bit depth, alpha,
grayscale, the ICC profile and EXIF wherever the output format can hold them.

Pillow decodes; OpenCV is used only for the 16-bit colour layouts Pillow reduces to 8 bits
(16-bit RGB/RGBA/gray+alpha PNG, 16-bit RGB/RGBA TIFF). PNG and TIFF are encoded by the
engine's own writers (``image_io_png``, ``image_io_tiff``), which handle every depth.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np

from sr_desktop.engine.core.errors import ImageReadError, ImageWriteError, SRDesktopError
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.exif import (
    apply_orientation,
    exif_from_tiff_tags,
    normalize_exif,
    orientation_of,
    patch_exif,
)
from sr_desktop.engine.imageio.png import encode_png
from sr_desktop.engine.imageio.tiff import TiffTooLarge, encode_tiff

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest image (width × height) read by default: a decompression-bomb guard."""

READ_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP")
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".tif", ".tiff", ".bmp", ".dib"}
)
"""File suffixes (lower case, with the dot) of the formats :func:`read_image` reads."""

WRITE_FORMATS = ("png", "jpg", "webp", "tiff", "bmp")
_FORMAT_ALIASES = {
    "png": "png",
    "jpg": "jpg",
    "jpeg": "jpg",
    "webp": "webp",
    "tif": "tiff",
    "tiff": "tiff",
    "bmp": "bmp",
}
_SUFFIX_OF_FORMAT = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tif", "bmp": ".bmp"}
_FORMAT_OF_SUFFIX = {
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".jpe": "jpg",
    ".jfif": "jpg",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".dib": "bmp",
}
ZLIB_LEVEL = 3
"""Deflate level of PNG/TIFF output: on photos ~3× faster than level 6 for ~10 % more bytes."""
_ICC_SPACE_RGB = b"RGB "
_ICC_SPACE_GRAY = b"GRAY"
_ICC_SPACE_CMYK = b"CMYK"


# --------------------------------------------------------------------------- helpers


def is_image_path(path: str | os.PathLike) -> bool:
    """True when the file name has a suffix of a readable image format (no I/O)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _normalize_format(fmt: str, path: str | os.PathLike | None = None) -> str:
    key = fmt.strip().lower().lstrip(".")
    if key not in _FORMAT_ALIASES:
        raise ImageWriteError(
            path, f"unknown format '{fmt}' (supported: {', '.join(WRITE_FORMATS)})"
        )
    return _FORMAT_ALIASES[key]


def suffix_for_format(fmt: str) -> str:
    """The file suffix to give an output of format ``fmt`` ("jpeg" -> ".jpg", "tiff" -> ".tif")."""
    return _SUFFIX_OF_FORMAT[_normalize_format(fmt)]


def format_for_path(path: str | os.PathLike) -> str:
    """The output format ("png", "jpg", "webp", "tiff", "bmp") named by a path's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMAT_OF_SUFFIX:
        shown = suffix or "(none)"
        raise ImageWriteError(
            path,
            f"unknown output suffix {shown} (use .png, .jpg, .webp, .tif or .bmp, or pick a format)",
        )
    return _FORMAT_OF_SUFFIX[suffix]


def _megapixels(pixels: int) -> str:
    if pixels >= 10_000_000:
        return f"{pixels / 1e6:.0f} MP"
    if pixels >= 100_000:
        return f"{pixels / 1e6:.1f} MP"
    return f"{pixels} pixels"


def _icc_space(icc: bytes | None) -> bytes | None:
    return icc[16:20] if icc and len(icc) >= 20 else None


# --------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file (PNG, JPEG, WebP, TIFF, BMP) into an upright :class:`Image`.

    8-bit sources give uint8 pixels, 16-bit PNG/TIFF give uint16. Modes map to L, LA, RGB
    or RGBA: palette -> RGB (RGBA when it has transparency), 1-bit -> L (0/255), CMYK ->
    RGB, 8-bit L/RGB with a transparent colour (PNG tRNS) -> LA/RGBA. The EXIF orientation is applied to the pixels and ``exif`` keeps the block with
    orientation 1; the ICC profile is kept as is, except for CMYK sources: with an
    embedded CMYK profile the pixels are converted through it to sRGB and the sRGB profile
    is attached; without one the plain conversion is used and no profile is kept (a CMYK
    profile would be wrong for RGB pixels). Multi-frame files give their first frame.

    ``max_pixels`` (None = no limit) is checked on the header, before any decoding.
    Raises :class:`ImageReadError` (path + short reason) for every unreadable file.
    """
    where = Path(path)
    try:
        info = os.stat(where)
    except FileNotFoundError:
        raise ImageReadError(where, "file not found") from None
    except OSError as exc:
        raise ImageReadError(where, exc.strerror or "cannot access the file") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(where, "is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(where, "not a regular file")
    if info.st_size == 0:
        raise ImageReadError(where, "file is empty")
    try:
        data = where.read_bytes()
    except MemoryError:
        raise ImageReadError(where, "not enough memory to read the file") from None
    except OSError as exc:
        raise ImageReadError(where, exc.strerror or "cannot read the file") from None
    image = _decode(data, where, max_pixels)
    image.path = where
    return image


def read_image_bytes(
    data: bytes, name: str = "<clipboard>", max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> Image:
    """Decode an image held in memory (e.g. pasted); ``name`` is used in error messages.

    Same conversions and errors as :func:`read_image`; the result has ``path=None``.
    """
    return _decode(bytes(data), name, max_pixels)


def _decode(data: bytes, where: str | Path, max_pixels: int | None) -> Image:
    from PIL import Image as PILImage

    if not data:
        raise ImageReadError(where, "file is empty")
    try:
        return _decode_checked(data, where, max_pixels)
    except SRDesktopError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ImageReadError(where, "image is too large (decompression bomb guard)") from None
    except MemoryError:
        raise ImageReadError(where, "not enough memory to decode the image") from None
    except Exception as exc:  # noqa: BLE001
        # Decoders report damaged data with many exception types (OSError, SyntaxError,
        # ValueError, EOFError, zlib.error, struct.error, IndexError...); all mean the same.
        log.debug("decoding %s failed", where, exc_info=True)
        raise ImageReadError(where, "image data is truncated or corrupt") from exc


def _open_header(fp: io.BytesIO, where: str | Path):
    """Open (header only) with the Pillow plugin of one of READ_FORMATS, or None.

    Plugins are called directly rather than through ``PIL.Image.open`` so that Pillow's
    global decompression-bomb limit does not apply: ours (``max_pixels``) is checked next.
    """
    from PIL import Image as PILImage

    prefix = fp.read(16)
    for fmt in READ_FORMATS:
        if fmt not in PILImage.OPEN:
            PILImage.init()
        entry = PILImage.OPEN.get(fmt)
        if entry is None:
            continue
        factory, accept = entry
        accepted = accept(prefix) if accept else True
        if accepted is not True:
            continue
        fp.seek(0)
        try:
            return factory(fp, "")
        except (SyntaxError, IndexError, TypeError, ValueError, struct.error, OSError):
            log.debug("%s header of %s rejected", fmt, where, exc_info=True)
            raise ImageReadError(
                where, f"image data is truncated or corrupt (or an unsupported {fmt} variant)"
            ) from None
    return None


def _not_an_image_reason(data: bytes) -> str:
    """Explain a file none of READ_FORMATS accepted: another image format, or not an image."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as other:
            kind = other.format
    except Exception:  # noqa: BLE001 - any failure here just means "not an image"
        return "not an image file"
    return f"unsupported image format {kind} (supported: PNG, JPEG, WebP, TIFF, BMP)"


def _decode_checked(data: bytes, where: str | Path, max_pixels: int | None) -> Image:
    im = _open_header(io.BytesIO(data), where)
    if im is None:
        raise ImageReadError(where, _not_an_image_reason(data))
    with im:
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageReadError(where, "image has no pixels")
        if max_pixels is not None and width * height > max_pixels:
            raise ImageReadError(
                where,
                f"image is {width}×{height} = {_megapixels(width * height)}, "
                f"above the {_megapixels(max_pixels)} limit",
            )
        fmt = im.format
        orientation = orientation_of(im.getexif())
        im.load()  # full decode now: truncated or corrupt data raises here
        # Pillow turns TIFFs upright while loading and then drops their orientation tag,
        # so what is left in the EXIF is what remains to be applied to its pixels.
        exif_obj = im.getexif()
        pending = orientation_of(exif_obj)
        if fmt == "TIFF":
            exif = exif_from_tiff_tags(exif_obj)
        else:
            exif = normalize_exif(im.info.get("exif"))
        exif = patch_exif(exif) if exif else None
        icc = im.info.get("icc_profile") or None
        info: dict = {}
        dpi = im.info.get("dpi")
        if dpi and len(dpi) == 2 and all(float(v) > 0 for v in dpi):
            info["dpi"] = tuple(round(float(v), 1) for v in dpi)
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            info["frames"] = frames

        deep = _deep_layout(im, data)
        if deep is None:
            pixels, icc = _pixels_from_pillow(im, icc, where)
            pixels = apply_orientation(pixels, pending)
        else:
            reduced = apply_orientation(np.array(im), pending)
    if deep is not None:
        pixels = _decode_deep(data, deep, reduced, orientation, where)

    if orientation >= 5 and "dpi" in info:
        info["dpi"] = info["dpi"][::-1]
    if icc and pixels.shape[2] >= 3 and _icc_space(icc) == _ICC_SPACE_CMYK:
        icc = None
    return Image(
        pixels=np.ascontiguousarray(pixels),
        icc_profile=icc,
        exif=exif,
        source_format=fmt,
        path=None,
        info=info,
    )


def _deep_layout(im, data: bytes) -> str | None:
    """"LA", "RGB" or "RGBA" when the file stores 16-bit samples in a layout that Pillow
    would reduce to 8 bits (it has no 16-bit colour modes); None otherwise."""
    if im.format == "PNG" and data[12:16] == b"IHDR" and data[24] == 16:
        return {4: "LA", 2: "RGB", 6: "RGBA"}.get(data[25])
    if im.format == "TIFF":
        tags = im.tag_v2
        bits = tags.get(258) or ()
        bits = bits if isinstance(bits, tuple) else (bits,)
        samples = int(tags.get(277, 1))
        if samples >= 3 and bits and all(b == 16 for b in bits) and tags.get(262) == 2:
            return "RGBA" if samples >= 4 else "RGB"
    return None


def _decode_deep(
    data: bytes, layout: str, reduced: np.ndarray, orientation: int, where
) -> np.ndarray:
    """Decode a 16-bit colour PNG/TIFF with OpenCV into upright RGB(A)/LA order.

    ``reduced`` is Pillow's upright 8-bit decoding of the same file (the high bytes of the
    samples). It is the reference that tells whether OpenCV already applied the
    orientation (it does for TIFF) and guards against any other disagreement.
    """
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        raise ImageReadError(where, "image data is truncated or corrupt")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    channels = arr.shape[2]
    if layout == "LA":
        arr = arr[:, :, [0, 3]] if channels == 4 else arr[:, :, :2]
        if reduced.ndim == 3 and reduced.shape[2] == 4:
            reduced = reduced[:, :, [0, 3]]
    else:
        if channels == 1:
            arr = np.repeat(arr, 3, axis=2)
        order = [2, 1, 0, 3] if layout == "RGBA" and channels == 4 else [2, 1, 0]
        arr = arr[:, :, order]
    for candidate in (arr, apply_orientation(arr, orientation)):
        if candidate.shape == reduced.shape and np.array_equal(candidate >> 8, reduced):
            return candidate
    raise ImageReadError(where, "16-bit decoders disagree on this file (corrupt?)")


def _pixels_from_pillow(im, icc: bytes | None, where) -> tuple[np.ndarray, bytes | None]:
    """H×W×C uint8/uint16 pixels of a loaded Pillow image, and the ICC profile to keep."""
    mode = im.mode
    if mode in ("L", "RGB") and "transparency" in im.info:  # PNG tRNS: one transparent colour
        rgba = np.array(im.convert("RGBA"))
        return (rgba[:, :, [0, 3]] if mode == "L" else rgba), icc
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.array(im), icc
    if mode.startswith("I;16"):
        return np.array(im).astype(np.uint16), icc
    if mode == "I":
        return np.clip(np.array(im), 0, 65535).astype(np.uint16), icc
    if mode == "1":
        return np.array(im.convert("L")), icc
    if mode == "P":
        has_alpha = "transparency" in im.info
        return np.array(im.convert("RGBA" if has_alpha else "RGB")), icc
    if mode in ("PA", "RGBa"):
        return np.array(im.convert("RGBA")), icc
    if mode == "La":
        return np.array(im.convert("LA")), icc
    if mode in ("RGBX", "YCbCr", "HSV"):
        return np.array(im.convert("RGB")), icc
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    raise ImageReadError(where, f"unsupported pixel format {mode}")


def _cmyk_to_rgb(im, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """CMYK -> sRGB through the embedded CMYK profile when there is one, else Pillow's
    plain conversion (and no profile: a CMYK profile does not describe RGB pixels)."""
    if _icc_space(icc) == _ICC_SPACE_CMYK:
        from PIL import ImageCms

        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            rgb = ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
            return np.array(rgb), srgb.tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            log.info("CMYK profile unusable; using the plain CMYK conversion", exc_info=True)
    return np.array(im.convert("RGB")), None


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class SaveOptions:
    """How :func:`write_image` encodes.

    ``format``: "png", "jpg"/"jpeg", "webp", "tiff"/"tif", "bmp", or None to take it from
    the output suffix. ``quality`` (1..100) is used by JPEG and WebP (WebP 100 = lossless).
    ``keep_metadata``: write the ICC profile, EXIF and resolution back where possible.
    """

    format: str | None = None
    quality: int = 95
    keep_metadata: bool = True


def write_image(
    image: Image,
    path: str | os.PathLike,
    options: SaveOptions | None = None,
    overwrite: bool = False,
    protect: "Iterable[str | os.PathLike] | ProtectedPaths" = (),
    encoded: "EncodedImage | None" = None,
) -> Path:
    """Write ``image`` to ``path`` atomically and return the path.

    Data go to a temporary file in the same folder, are fsync'ed, then renamed over
    ``path``; on any failure the temporary file is removed and ``path`` is untouched.
    The parent folder is created if missing. Format rules:

    - PNG, TIFF: 8- and 16-bit kept exactly, gray/gray+alpha/RGB/RGBA kept (a 16-bit
      gray+alpha TIFF is written as 16-bit RGBA: few readers handle that layout).
    - JPEG: 8-bit (16-bit rounded to the nearest 8-bit value); alpha is flattened onto white; gray stays gray.
    - WebP: 8-bit, alpha kept, gray written as RGB (WebP has no gray); quality 100 = lossless.
    - BMP: 8-bit, gray stays gray, alpha flattened onto white (BMP alpha is not read back
      reliably, Pillow included), no ICC/EXIF.

    The ICC profile (when its colour space matches the written pixels), EXIF (orientation
    set to 1, pixel dimensions updated) and resolution are written for PNG, JPEG, WebP
    and TIFF unless ``options.keep_metadata`` is False.

    Refuses (:class:`ImageWriteError`) to write over ``image.path`` or any path in
    ``protect``, or over an existing file unless ``overwrite`` is True.

    ``encoded`` (from :func:`encode_image` for the same image, path and options) skips
    the encoding: only the checks and the atomic write of those bytes are done here.
    """
    options = options or SaveOptions()
    target = Path(path)
    fmt = _checked_format(options, target)
    _check_target(target, image.path, protect, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(target, f"cannot create the folder ({exc.strerror})") from None
    if encoded is not None and encoded.format != fmt:
        raise ImageWriteError(target, f"encoded as {encoded.format.upper()}, not {fmt.upper()}")
    with _encoder_errors(target, fmt):
        if encoded is not None:
            _atomic_write(target, lambda fh: fh.write(encoded.data))
        else:
            _atomic_write(target, lambda fh: _encode(fh, image, fmt, options))
    return target


@dataclass(frozen=True)
class EncodedImage:
    """An image encoded in memory by :func:`encode_image`, ready for ``write_image``."""

    format: str
    data: bytes


def encode_image(image: Image, path: str | os.PathLike, options: SaveOptions | None = None) -> EncodedImage:
    """Encode ``image`` exactly as ``write_image(image, path, options)`` would, in memory.

    Lets a caller do the CPU part of saving in one thread and the file I/O in another.
    Raises :class:`ImageWriteError` naming ``path`` when the encoder fails.
    """
    options = options or SaveOptions()
    target = Path(path)
    fmt = _checked_format(options, target)
    buffer = io.BytesIO()
    with _encoder_errors(target, fmt):
        _encode(buffer, image, fmt, options)
    return EncodedImage(fmt, buffer.getvalue())


def _checked_format(options: SaveOptions, target: Path) -> str:
    """The output format (from the options, else the suffix), after checking the quality."""
    fmt = _normalize_format(options.format, target) if options.format else format_for_path(target)
    if not 1 <= int(options.quality) <= 100:
        raise ImageWriteError(target, f"quality must be 1..100, got {options.quality}")
    return fmt


@contextlib.contextmanager
def _encoder_errors(target: Path, fmt: str):
    """Turn what encoders and the file system raise into one `ImageWriteError`."""
    try:
        yield
    except SRDesktopError:
        raise
    except TiffTooLarge as exc:
        raise ImageWriteError(target, str(exc)) from None
    except MemoryError:
        raise ImageWriteError(target, "not enough memory to encode the image") from None
    except OSError as exc:
        raise ImageWriteError(target, exc.strerror or str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - encoders raise ValueError, TypeError...
        log.debug("encoding %s failed", target, exc_info=True)
        raise ImageWriteError(target, f"{fmt.upper()} encoder failed ({exc})") from exc


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: compare the names
        return os.path.normcase(a.resolve()) == os.path.normcase(Path(b).resolve())


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _name_key(path: Path) -> str:
    return os.path.normcase(str(Path(path).resolve()))


class ProtectedPaths:
    """Files that must never be written over (a batch's inputs), indexed once.

    ``write_image(protect=...)`` compares its target with every protected path; with a
    plain list that is one ``samefile`` / ``resolve`` per input for every output, i.e.
    quadratic over a batch. This keeps the resolved names and the (device, inode) of
    the files that exist, so each check is two set lookups.
    """

    def __init__(self, paths: Iterable[str | os.PathLike] = ()):
        self._names: set[str] = set()
        self._ids: set[tuple[int, int]] = set()
        for p in paths:
            self.add(p)

    def add(self, path: str | os.PathLike) -> None:
        """Protect one more path (it may not exist yet)."""
        path = Path(path)
        self._names.add(_name_key(path))
        file_id = _file_id(path)
        if file_id is not None:
            self._ids.add(file_id)

    def __contains__(self, path: object) -> bool:
        target = Path(path)  # type: ignore[arg-type]
        file_id = _file_id(target)
        if file_id is not None and file_id in self._ids:
            return True  # the same file under another name (hard link, case, symlink)
        return _name_key(target) in self._names

    def __len__(self) -> int:
        return len(self._names)


def _check_target(target: Path, source: Path | None, protect, overwrite: bool) -> None:
    if target.is_dir():
        raise ImageWriteError(target, "is a folder")
    if source is not None and _same_file(target, Path(source)):
        raise ImageWriteError(target, "refusing to overwrite the input file")
    if not isinstance(protect, ProtectedPaths):
        protect = ProtectedPaths(protect)
    if target in protect:
        raise ImageWriteError(target, "refusing to overwrite an input file")
    if not overwrite and (target.exists() or target.is_symlink()):
        raise ImageWriteError(target, "file exists (use --overwrite)")


_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")


def temp_path_for(target: Path) -> Path:
    """The hidden sibling ``.<name>.<8 hex>.part`` an output is encoded into before its rename."""
    return target.with_name(f".{target.name[:150]}.{secrets.token_hex(4)}.part")


def is_temp_path(path: str | os.PathLike) -> bool:
    """True for a temporary file of `write_image` (left behind only if the process was killed)."""
    return bool(_TEMP_NAME.match(Path(path).name))


def _atomic_write(target: Path, encode) -> None:
    """Run ``encode(binary_file)`` into a temporary sibling of ``target``, then rename it."""
    temp = temp_path_for(target)
    # os.open with 0o666 (not mkstemp's 0o600) so the result gets the user's usual umask.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            encode(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_folder(target.parent)


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


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _flatten_on_white(pixels8: np.ndarray) -> np.ndarray:
    """Composite 8-bit LA/RGBA onto white: colour·a + 255·(1 − a), rounded."""
    color = pixels8[:, :, :-1].astype(np.uint16)
    alpha = pixels8[:, :, -1:].astype(np.uint16)
    return ((color * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _metadata(image: Image, pixels: np.ndarray, options: SaveOptions):
    """(icc, exif, dpi) to write with ``pixels``, or Nones when metadata are not kept."""
    if not options.keep_metadata:
        return None, None, None
    icc = image.icc_profile
    wanted = _ICC_SPACE_GRAY if pixels.shape[2] <= 2 else _ICC_SPACE_RGB
    if icc and _icc_space(icc) != wanted:
        log.info("not writing an ICC profile of colour space %r with %s pixels",
                 _icc_space(icc), "gray" if wanted == _ICC_SPACE_GRAY else "RGB")
        icc = None
    exif = patch_exif(image.exif, size=(pixels.shape[1], pixels.shape[0])) if image.exif else None
    dpi = image.info.get("dpi")
    return icc, exif, dpi


def _encode(fh: BinaryIO, image: Image, fmt: str, options: SaveOptions) -> None:
    from PIL import Image as PILImage

    pixels = image.pixels
    if fmt in ("png", "tiff"):
        if fmt == "tiff" and pixels.dtype == np.uint16 and pixels.shape[2] == 2:
            pixels = pixels[:, :, [0, 0, 0, 1]]
        icc, exif, dpi = _metadata(image, pixels, options)
        (encode_png if fmt == "png" else encode_tiff)(fh, pixels, icc, exif, dpi, ZLIB_LEVEL)
        return

    pixels = _to_uint8(pixels)
    if fmt in ("jpg", "bmp"):
        if pixels.shape[2] in (2, 4):
            pixels = _flatten_on_white(pixels)
    elif pixels.shape[2] == 1:  # WebP has no gray
        pixels = pixels[:, :, [0, 0, 0]]
    elif pixels.shape[2] == 2:
        pixels = pixels[:, :, [0, 0, 0, 1]]
    icc, exif, dpi = _metadata(image, pixels, options)
    plane = pixels[:, :, 0] if pixels.shape[2] == 1 else pixels
    pil = PILImage.fromarray(np.ascontiguousarray(plane))
    params: dict = {}
    if icc and fmt != "bmp":
        params["icc_profile"] = icc
    if exif and fmt != "bmp":
        params["exif"] = exif
    if dpi and fmt != "webp":
        params["dpi"] = tuple(float(v) for v in dpi)
    if fmt == "jpg":
        if exif and len(exif) > 65533:
            log.info("EXIF block too large for JPEG (%d bytes); not written", len(exif))
            params.pop("exif")
        subsampling = "4:4:4" if options.quality >= 90 else "4:2:0"
        pil.save(fh, "JPEG", quality=int(options.quality), subsampling=subsampling, **params)
    elif fmt == "webp":
        lossless = options.quality >= 100
        pil.save(fh, "WEBP", quality=int(options.quality), lossless=lossless, exact=lossless,
                 method=4, **params)
    else:
        pil.save(fh, "BMP", **params)
