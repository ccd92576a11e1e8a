"""Writing an :class:`Image` to a file, or encoding it in memory, in any output format.

Writing is atomic (see :mod:`.atomic`), never replaces the input or a protected path,
and keeps bit depth, alpha, grayscale, the ICC profile and EXIF wherever the output
format can hold them. PNG and TIFF are encoded by the engine's own writers (:mod:`.png`,
:mod:`.tiff`), which handle every depth; JPEG, WebP and BMP by Pillow.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from sr_desktop.engine.core.errors import ImageWriteError, OptionError, SRDesktopError
from sr_desktop.engine.core.file_names import NAME_MAX, NAME_UNIT, name_length
from sr_desktop.engine.core.output_size import OutputSize
from sr_desktop.engine.core.path_kind import file_in_the_way, nearest_existing_folder_or_file
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback
from sr_desktop.engine.imageio.atomic import atomic_write, is_stream, probe_writable
from sr_desktop.engine.imageio.convert import to_uint8
from sr_desktop.engine.imageio.exif import patch_exif, without_gps
from sr_desktop.engine.imageio.formats import (
    DEFAULT_QUALITY,
    check_quality,
    format_for_path,
    normalize_format,
    size_refusal,
)
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.iptc import jpeg_app13
from sr_desktop.engine.imageio.metadata import (
    ICC_SPACE_GRAY,
    ICC_SPACE_RGB,
    NO_METADATA,
    FileMetadata,
    icc_space,
    in_srgb,
)
from sr_desktop.engine.imageio.palette import (
    PALETTE_KEY,
    PALETTE_NOT_KEPT,
    gif_palette_image,
    palette_array,
    palette_indices,
)
from sr_desktop.engine.imageio.png import encode_png
from sr_desktop.engine.imageio.protected import ProtectedPaths, same_file
from sr_desktop.engine.imageio.tiff import TiffTooLarge, encode_tiff
from sr_desktop.engine.imageio.write_watch import WriteWatch
from sr_desktop.engine.imageio.xmp import JPEG_MAX_XMP, sized_xmp, without_gps_xmp

log = logging.getLogger(__name__)

ZLIB_LEVEL = 3
"""Deflate level of PNG/TIFF output: on photos ~3× faster than level 6 for ~10 % more bytes."""


@dataclass(frozen=True)
class SaveOptions:
    """How :func:`write_image` encodes.

    ``format``: "png", "jpg"/"jpeg", "webp", "tiff"/"tif", "bmp", "gif", or None to take it
    from the output suffix. ``quality`` (1..100) is used by JPEG and WebP (WebP 100 = lossless).
    ``keep_metadata``: write the ICC profile, EXIF, XMP, IPTC, resolution and a PNG's gamma
    and chromaticity back where the format has a place for them (`FileMetadata`).
    ``keep_lossless``: an image read from a lossless WebP is written as one (WebP output),
    whatever `quality` says — for a front end whose user gave no quality.
    ``lossless``: WebP output is lossless whatever `quality` says (the Save As dialog's box).
    ``size``: the box the image is resized to fit first, by `pipeline.animation.write_any`
    (`write_image` refuses it: it writes pixels as they are).
    ``drop_gps``: the kept metadata without the GPS position (EXIF's GPS directory erased,
    every XMP property named ``GPS…`` left out: `exif.without_gps`, `xmp.without_gps_xmp`):
    a photo published keeps its date, camera and rights, not where it was taken.
    """

    format: str | None = None
    quality: int = DEFAULT_QUALITY
    keep_metadata: bool = True
    keep_lossless: bool = False
    lossless: bool = False
    size: OutputSize | None = None
    drop_gps: bool = False

    def writes_lossless_webp(self, info: dict) -> bool:
        """Whether a WebP of an image with `info` (``Image.info``) is written lossless."""
        return self.lossless or self.quality >= 100 or (self.keep_lossless and bool(info.get("webp_lossless")))

    def __post_init__(self) -> None:
        check_quality(self.quality)  # once, here: it was checked at each write
        if self.size is not None and not isinstance(self.size, OutputSize):
            raise OptionError(f"size must be an OutputSize, got {type(self.size).__name__}")


def check_sized(width: int, height: int, options: SaveOptions) -> None:
    """`OptionError` unless an image of `width`×`height` has the size `options.size` asks
    for: the writers write pixels as they are (`pipeline.animation.write_any` resizes)."""
    if options.size is not None and options.size.fitted(width, height) != (width, height):
        raise OptionError(f"SaveOptions.size ({options.size.describe()}) is applied by "
                          "sr_desktop.engine.pipeline.animation.write_any, which resizes before it writes")


def write_image(
    image: Image,
    path: str | os.PathLike,
    options: SaveOptions | None = None,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike] | ProtectedPaths = (),
    encoded: EncodedImage | None = None,
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
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
    - GIF: 8-bit, at most 256 colours, alpha as one transparent colour, no ICC/EXIF.

    The ICC profile (when its colour space matches the written pixels), EXIF (orientation
    set to 1, pixel dimensions updated), XMP (its sizes updated), IPTC and resolution are
    written for PNG, JPEG, WebP and TIFF where each has a place for them (docs/formats.md)
    unless ``options.keep_metadata`` is False.

    Refuses (:class:`ImageWriteError`) to write over ``image.path`` or any path in
    ``protect``, or over an existing file unless ``overwrite`` is True.

    ``encoded`` (from :func:`encode_image` for the same image, path and options) skips
    the encoding: only the checks and the atomic write of those bytes are done here.

    ``progress`` gets the encoding's progress (`WriteWatch`); ``cancel`` stops it at its
    next row block or write, and up to the file's rename (`CancelToken.commit`): then
    `Cancelled` is raised and nothing is written.
    """
    options = options or SaveOptions()
    target = Path(path)
    if not isinstance(image, Image):  # (an array failed on a missing attribute)
        raise ImageWriteError(target, f"write_image takes an engine Image (sr_desktop.engine.imageio.Image(pixels)), "
                                      f"got {type(image).__name__}")
    fmt = checked_format(options, target)
    check_sized(image.width, image.height, options)
    if (too_large := size_refusal(fmt, image.width, image.height)) is not None:
        raise ImageWriteError(target, too_large)  # before the encoder, which prints its own line
    _prepare_target(target, image.path, protect, overwrite)
    if encoded is not None and encoded.format != fmt:
        raise ImageWriteError(target, f"encoded as {encoded.format.upper()}, not {fmt.upper()}")
    watch = WriteWatch(image.height, cancel, progress) if cancel is not None or progress is not None else None

    def encode(fh: BinaryIO) -> None:
        if encoded is not None:
            fh.write(encoded.data)
        elif watch is None:  # (Pillow's encoders then write straight to the file's descriptor)
            _encode(fh, image, fmt, options)
        else:
            _encode(watch.stream(fh), image, fmt, options, watch.rows_done)

    with _encoder_errors(target, fmt):
        atomic_write(target, encode, replace=overwrite, cancel=cancel)
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
    fmt = checked_format(options, target)
    if (too_large := size_refusal(fmt, image.width, image.height)) is not None:
        raise ImageWriteError(target, too_large)
    buffer = io.BytesIO()
    with _encoder_errors(target, fmt):
        _encode(buffer, image, fmt, options)
    return EncodedImage(fmt, buffer.getvalue())


def checked_format(options: SaveOptions, target: Path) -> str:
    """The output format: the options', else the suffix's (`ImageWriteError` for neither)."""
    if not isinstance(options, SaveOptions):  # ("webp" given for the options failed on an attribute)
        raise SRDesktopError(f"save options must be a SaveOptions (SaveOptions(format='webp')), "
                             f"got {type(options).__name__}")
    return normalize_format(options.format, target) if options.format else format_for_path(target)


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
        raise ImageWriteError(target, exc.strerror or str(exc), exc.errno) from None
    except Exception as exc:  # encoders raise ValueError, TypeError...
        log.debug("encoding %s failed", target, exc_info=True)
        raise ImageWriteError(target, f"{fmt.upper()} encoder failed ({exc})") from exc


def check_output_path(path: str | os.PathLike, source: str | os.PathLike | None = None,
                      options: SaveOptions | None = None, protect=(), overwrite: bool = False) -> Path:
    """`path` if `write_image` would accept it for an image read from `source` (format,
    folder, never the input or a protected path, an existing file only with `overwrite`),
    else the `ImageWriteError` it would raise; nothing is created. For checking before a
    long upscale: the write itself checks again."""
    target = Path(path)
    checked_format(options or SaveOptions(), target)
    _check_target(target, Path(source) if source is not None else None, protect, overwrite)
    folder = nearest_existing_folder_or_file(target)
    if folder is not None and folder.is_dir() and not is_stream(target):
        try:  # a folder that takes no files is found now, not after minutes of upscaling
            probe_writable(folder)
        except OSError as exc:
            raise ImageWriteError(target, exc.strerror or str(exc), exc.errno) from None
    return target


def _prepare_target(target: Path, source: Path | None, protect, overwrite: bool) -> None:
    """The checks of `_check_target`, then the target's folder, created if missing."""
    _check_target(target, source, protect, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = file_in_the_way(target)
        raise ImageWriteError(target, f"{blocker} is a file, not a folder" if blocker is not None
                              else f"cannot create the folder ({exc.strerror})") from None


def _check_target(target: Path, source: Path | None, protect, overwrite: bool) -> None:
    """Refuse a target that is a folder, the input, a protected path, or (unless
    ``overwrite``) an existing file; a name the file system refuses (too long, ...) is
    refused here too, as one `ImageWriteError`."""
    try:
        _check_target_name(target, source, protect, overwrite)
    except OSError as exc:  # Path.is_dir()/exists() raise for a name too long
        raise ImageWriteError(target, exc.strerror or str(exc), exc.errno) from None


def _check_target_name(target: Path, source: Path | None, protect, overwrite: bool) -> None:
    too_long = next((part for part in reversed(target.parts) if name_length(part) > NAME_MAX), None)
    if too_long is not None:  # refused before its folders are made (they were left behind, empty)
        which = "" if too_long == target.name else "a folder's name in it: "
        raise ImageWriteError(target, f"File name too long ({which}{name_length(too_long)} {NAME_UNIT}; file systems "
                                      f"take {NAME_MAX})", errno.ENAMETOOLONG)
    if target.is_dir():
        raise ImageWriteError(target, "is a folder")
    if source is not None and same_file(target, Path(source)):
        raise ImageWriteError(target, "refusing to overwrite the input file")
    if not isinstance(protect, ProtectedPaths):
        protect = ProtectedPaths(protect)
    if target in protect:
        raise ImageWriteError(target, "refusing to overwrite an input file")
    if not overwrite and (target.exists() or target.is_symlink()) and not is_stream(target):
        if not target.exists():  # (a link whose file is missing was said to be an existing file)
            raise ImageWriteError(target, f"it is a link to {os.readlink(target)}, which does not exist "
                                          "(use --overwrite to write the image there)")
        raise ImageWriteError(target, "file exists (use --overwrite)")


#: what `lossy_changes` says of a grey image written as WebP (no pixel value is lost)
GREY_AS_RGB = "grey stored as RGB"
#: the formats written without an ICC profile, EXIF or XMP
NO_METADATA_FORMATS = ("bmp", "gif")


def lossy_changes(pixels, fmt: str) -> list[str]:
    """What writing H×W×C ``pixels`` (or an Image, or an Animation: its frames share a mode)
    as ``fmt`` ("jpg", "gif", …) changes beyond its compression, as short phrases ("16 bits →
    8", "transparency flattened onto white"): the rules of `write_image`, said where they
    apply (they happened without a word)."""
    info = {}
    planes = [pixels]
    held: list[str] = []  # the metadata it has: ICC profile, EXIF, XMP
    if not isinstance(pixels, np.ndarray):
        frames = getattr(pixels, "frames", [pixels])
        # every frame's alpha: a fade-out whose first frame is opaque lost its fade unsaid
        planes, info = [frame.pixels for frame in frames], frames[0].info
        held = [name for name, attr in (("ICC profile", "icc_profile"), ("EXIF", "exif"), ("XMP", "xmp"))
                if getattr(frames[0], attr, None) or getattr(pixels, attr, None)]
        pixels = planes[0]
    fmt = normalize_format(fmt)
    changes = []
    if any(p.dtype == np.uint16 for p in planes) and fmt in ("jpg", "webp", "bmp", "gif"):
        changes.append("16 bits → 8")
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    # each frame's or page's own alpha (a TIFF's pages have modes of their own)
    alphas = [(p[:, :, -1], np.iinfo(p.dtype).max) for p in planes if p.ndim == 3 and p.shape[2] in (2, 4)]
    if fmt in ("jpg", "bmp") and any(int(alpha.min()) < top for alpha, top in alphas):
        changes.append("transparency flattened onto white")
    elif fmt == "gif" and any(bool(((alpha > 0) & (alpha < top)).any()) for alpha, top in alphas):
        changes.append("partial transparency made all or nothing")
    if channels <= 2 and fmt == "webp":
        changes.append(GREY_AS_RGB)
    palette = info.get(PALETTE_KEY)
    if fmt == "png" and palette and palette_indices(pixels, palette) is None:
        changes.append(PALETTE_NOT_KEPT)
    if fmt in NO_METADATA_FORMATS and held:  # (a camera photo's colour profile went unsaid)
        names = held[0] if len(held) == 1 else f"{', '.join(held[:-1])} and {held[-1]}"
        changes.append(f"{names} not kept ({fmt.upper()} holds none)")
    return changes


def _flatten_on_white(pixels8: np.ndarray) -> np.ndarray:
    """Composite 8-bit LA/RGBA onto white: colour·a + 255·(1 − a), rounded."""
    color = pixels8[:, :, :-1].astype(np.uint16)
    alpha = pixels8[:, :, -1:].astype(np.uint16)
    return ((color * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def _metadata(image: Image, pixels: np.ndarray, options: SaveOptions) -> FileMetadata:
    """The ICC profile, EXIF, XMP, IPTC, resolution and PNG colour chunks to write with
    ``pixels`` (none when not kept)."""
    if not options.keep_metadata:
        return NO_METADATA
    icc = image.icc_profile
    wanted = ICC_SPACE_GRAY if pixels.shape[2] <= 2 else ICC_SPACE_RGB
    if icc and icc_space(icc) != wanted:
        log.info("not writing an ICC profile of colour space %r with %s pixels",
                 icc_space(icc), "gray" if wanted == ICC_SPACE_GRAY else "RGB")
        icc = None
    size = (pixels.shape[1], pixels.shape[0])
    exif = patch_exif(image.exif, size=size) if image.exif else None
    xmp = sized_xmp(image.xmp, size)
    if options.drop_gps:
        exif, xmp = without_gps(exif), without_gps_xmp(xmp)
    # a PNG's gamma and chromaticity describe its values as a profile would (none beside one)
    colour = {} if image.icc_profile else {k: image.info[k] for k in ("gamma", "chromaticity") if k in image.info}
    return FileMetadata(icc, exif, image.info.get("dpi"), xmp, iptc=image.info.get("iptc"), **colour)


def tiff_page(image: Image, options: SaveOptions) -> tuple[np.ndarray, FileMetadata]:
    """The pixels and metadata a TIFF page of ``image`` is written with (depth kept;
    16-bit gray+alpha as RGBA)."""
    pixels = image.pixels
    if pixels.dtype == np.uint16 and pixels.shape[2] == 2:
        pixels = pixels[:, :, [0, 0, 0, 1]]
    return pixels, _metadata(image, pixels, options)


def _encode_gif(fh: BinaryIO, pixels8: np.ndarray) -> None:
    """GIF: 256 colours per image (Pillow's adaptive palette); alpha becomes one
    transparent colour (alpha < 128); no ICC/EXIF (GIF has no place for them)."""
    from PIL import Image as PILImage

    if pixels8.shape[2] == 2:
        pixels8 = pixels8[:, :, [0, 0, 0, 1]]
    if pixels8.shape[2] == 1:
        PILImage.fromarray(np.ascontiguousarray(pixels8[:, :, 0])).save(fh, "GIF")
        return
    gif_palette_image(gif_alpha(pixels8)).save(fh, "GIF")


def gif_alpha(rgba8: np.ndarray) -> np.ndarray:
    """RGBA for GIF's one transparent colour: alpha < 128 transparent, the rest opaque
    (Pillow made only alpha 0 transparent: a half-transparent area became opaque)."""
    if rgba8.shape[2] != 4:
        return rgba8
    out = rgba8.copy()
    out[:, :, 3] = np.where(rgba8[:, :, 3] < 128, 0, 255).astype(np.uint8)
    return out


def holds_profile(fmt: str, icc: bytes) -> bool:
    """Whether a `fmt` file carries the ICC profile `icc` with the pixels written."""
    return fmt not in ("gif", "bmp") and not (fmt == "webp" and icc_space(icc) == ICC_SPACE_GRAY)


def srgb_pixels(pixels8: np.ndarray, icc: bytes) -> np.ndarray:
    """8-bit grey or RGB pixels (alpha kept as it is) in the colours `icc` describes ->
    sRGB RGB; unchanged when the profile cannot be used."""
    from PIL import Image as PILImage

    channels = pixels8.shape[2]
    colour = pixels8[:, :, 0] if channels <= 2 else pixels8[:, :, :3]
    converted = in_srgb(PILImage.fromarray(np.ascontiguousarray(colour)), icc)
    if converted is None:
        return pixels8
    rgb = np.asarray(converted)
    return np.concatenate([rgb, pixels8[:, :, -1:]], axis=2) if channels in (2, 4) else rgb


def _encode(fh: BinaryIO, image: Image, fmt: str, options: SaveOptions, rows_done=None) -> None:
    from PIL import Image as PILImage

    pixels = image.pixels
    if fmt == "tiff":
        encode_tiff(fh, *tiff_page(image, options), ZLIB_LEVEL, rows_done)
        return
    if fmt == "png":
        palette = image.info.get(PALETTE_KEY)
        indices = palette_indices(pixels, palette) if palette else None
        if indices is not None:  # (a palette image's result in its own colours: written as one)
            encode_png(fh, indices, _metadata(image, pixels, options), ZLIB_LEVEL, rows_done,
                       palette=palette_array(palette))
            return
        encode_png(fh, pixels, _metadata(image, pixels, options), ZLIB_LEVEL, rows_done)
        return

    pixels = to_uint8(pixels)
    if options.keep_metadata and image.icc_profile and not holds_profile(fmt, image.icc_profile):
        # GIF and BMP take no profile, WebP no grey one: the colours it describes are
        # converted to sRGB, what a viewer assumes of an untagged file (an Adobe RGB green
        # was shown 139 levels off)
        pixels = srgb_pixels(pixels, image.icc_profile)
        image = replace(image, icc_profile=None)
    if fmt == "gif":
        _encode_gif(fh, pixels)
        return
    if fmt in ("jpg", "bmp"):
        if pixels.shape[2] in (2, 4):
            pixels = _flatten_on_white(pixels)
    elif pixels.shape[2] == 1:  # WebP has no gray
        pixels = pixels[:, :, [0, 0, 0]]
    elif pixels.shape[2] == 2:
        pixels = pixels[:, :, [0, 0, 0, 1]]
    metadata = _metadata(image, pixels, options)
    icc, exif, dpi = metadata.icc_profile, metadata.exif, metadata.dpi
    plane = pixels[:, :, 0] if pixels.shape[2] == 1 else pixels
    pil = PILImage.fromarray(np.ascontiguousarray(plane))
    params: dict = {}
    if icc and fmt != "bmp":
        params["icc_profile"] = icc
    if exif and fmt != "bmp":
        params["exif"] = exif
    if metadata.xmp and fmt != "bmp":
        params["xmp"] = metadata.xmp
    if dpi and fmt != "webp":
        params["dpi"] = tuple(float(v) for v in dpi)
    if fmt == "jpg":
        if exif and len(exif) > 65533:
            log.info("EXIF block too large for JPEG (%d bytes); not written", len(exif))
            params.pop("exif")
        if metadata.xmp and len(metadata.xmp) > JPEG_MAX_XMP:
            log.info("XMP packet too large for one JPEG segment (%d bytes); not written", len(metadata.xmp))
            params.pop("xmp")
        if metadata.iptc:
            if (segment := jpeg_app13(metadata.iptc)) is not None:
                params["extra"] = segment
            else:
                log.info("IPTC records too large for one JPEG segment (%d bytes); not written", len(metadata.iptc))
        subsampling = "4:4:4" if options.quality >= 90 else "4:2:0"
        # a progressive source stays progressive (it came back baseline: a web export's
        # photo lost its coarse-to-fine loading)
        pil.save(fh, "JPEG", quality=int(options.quality), subsampling=subsampling,
                 progressive=bool(image.info.get("jpeg_progressive")), **params)
    elif fmt == "webp":
        lossless = options.writes_lossless_webp(image.info)
        pil.save(fh, "WEBP", quality=int(options.quality), lossless=lossless, exact=lossless,
                 method=4, **params)
    else:
        pil.save(fh, "BMP", **params)
