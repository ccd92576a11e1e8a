"""Reading image files and in-memory image data into an upright :class:`Image`.

Reading gives pixels that are upright (EXIF orientation applied) and uint8 or uint16;
every problem with the file becomes one :class:`ImageReadError` naming the file and the
reason. Pillow decodes; OpenCV is used only for the 16-bit colour layouts Pillow reduces
to 8 bits (16-bit RGB/RGBA/gray+alpha PNG, 16-bit RGB/RGBA TIFF).

Over 500 lines because every decoder's checks (truncation, declared against stored
sizes, sample layouts, metadata limits) must run before pixels are trusted, in one
place; animations, HEIF/AVIF and PNG chunks are modules of their own.
"""

from __future__ import annotations

import errno
import io
import itertools
import logging
import os
import stat
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sr_desktop.engine.core.errors import ImageReadError, SRDesktopError
from sr_desktop.engine.imageio.exif import (
    TAG_ORIENTATION,
    apply_orientation,
    exif_colour_space,
    exif_from_tiff_tags,
    normalize_exif,
    orientation_of,
    patch_exif,
)
from sr_desktop.engine.imageio.formats import READ_FORMAT_NAMES, READ_FORMATS
from sr_desktop.engine.imageio.heif_avif import heif_plugin, plugin_missing, profile_of_cicp
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.iptc import iptc_of
from sr_desktop.engine.imageio.jpeg_scan import missing_units
from sr_desktop.engine.imageio.libtiff_log import route_libtiff_messages_to_log
from sr_desktop.engine.imageio.metadata import ICC_SPACE_CMYK, icc_space, in_srgb, srgb_profile
from sr_desktop.engine.imageio.palette import PALETTE_KEY, palette_of_pillow
from sr_desktop.engine.imageio.png_rows import missing_rows
from sr_desktop.engine.imageio.xmp import upright_xmp

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_MAX_PIXELS = 200_000_000
"""Largest image (width × height) read by default: a decompression-bomb guard."""


#: the reason of an `ImageReadError` when decoding ran out of memory (not the file's fault)
NO_MEMORY_TO_DECODE = "not enough memory to decode the image"


def _megapixels(pixels: int) -> str:
    if pixels >= 10_000_000:
        return f"{pixels / 1e6:.0f} MP"
    if pixels >= 100_000:
        return f"{pixels / 1e6:.1f} MP"
    return f"{pixels} pixels"


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Read an image file (PNG, JPEG, WebP, TIFF, BMP, GIF, AVIF, HEIC) into an upright :class:`Image`.

    8-bit sources give uint8 pixels, 16-bit PNG/TIFF give uint16. Modes map to L, LA, RGB
    or RGBA: palette -> RGB (RGBA when it has transparency), 1-bit -> L (0/255), CMYK ->
    RGB, 8-bit L/RGB with a transparent colour (PNG tRNS) -> LA/RGBA. The EXIF orientation
    is applied to the pixels and ``exif`` keeps the block with orientation 1; the ICC
    profile is kept as is, except for CMYK sources: with an embedded CMYK profile the
    pixels are converted through it to sRGB and the sRGB profile is attached; without one
    the plain conversion is used and no profile is kept (a CMYK profile would be wrong for
    RGB pixels). Multi-frame files give their first frame, and ``info["frames"]`` says how
    many there are (:func:`~sr_desktop.engine.imageio.animation.read_image_or_animation` reads them all).

    ``max_pixels`` (None = no limit) is checked on the header, before any decoding.
    Raises :class:`ImageReadError` (path + short reason) for every unreadable file.
    """
    where = Path(path)
    image = _decode(read_file_bytes(where), where, max_pixels)
    image.path = where
    return image


def check_input_file(where: Path) -> None:
    """`ImageReadError` with the reason when `where` is not a non-empty regular file (a
    folder, a FIFO, whose opening waits for a writer for ever, a broken link…); opens nothing."""
    info = _stat(where)
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(where, "is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageReadError(where, "not a regular file")
    if info.st_size == 0:
        raise ImageReadError(where, "file is empty")


def read_file_bytes(where: Path) -> bytes:
    """The bytes of an input file, or an `ImageReadError` saying why there are none."""
    check_input_file(where)
    try:
        return where.read_bytes()
    except MemoryError:
        raise ImageReadError(where, "not enough memory to read the file") from None
    except OSError as exc:
        raise ImageReadError(where, exc.strerror or "cannot read the file") from None


def _stat(where: Path) -> os.stat_result:
    """``os.stat`` of an input, with one clear reason for each way it can fail."""
    try:
        return os.stat(where)
    except FileNotFoundError:
        reason = "symlink to a missing file" if os.path.islink(where) else "file not found"
        raise ImageReadError(where, reason) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageReadError(where, "symlink loop") from None
        raise ImageReadError(where, exc.strerror or "cannot access the file") from None


def read_image_bytes(
    data: bytes, name: str = "<memory>", max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> Image:
    """Decode an image held in memory (a download, a database blob; the window's paste goes
    through a QImage); ``name`` is used in error messages.

    Same conversions and errors as :func:`read_image`; the result has ``path=None``.
    """
    return _decode(bytes(data), name, max_pixels)


def _decode(data: bytes, where: str | Path, max_pixels: int | None) -> Image:
    return decode_with(_decode_checked, data, where, max_pixels)


def decode_with(decoder: Callable[[bytes, Any, int | None], T], data: bytes, where: str | Path,
                max_pixels: int | None) -> T:
    """``decoder(data, where, max_pixels)`` with every decoder failure as one `ImageReadError`."""
    from PIL import Image as PILImage

    if not data:
        raise ImageReadError(where, "file is empty")
    route_libtiff_messages_to_log()
    try:
        return decoder(data, where, max_pixels)
    except SRDesktopError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ImageReadError(where, "image is too large (decompression bomb guard)") from None
    except MemoryError:
        raise ImageReadError(where, NO_MEMORY_TO_DECODE) from None
    except Exception as exc:
        # Decoders report damaged data with many exception types (OSError, SyntaxError,
        # ValueError, EOFError, zlib.error, struct.error, IndexError...); all mean the same.
        log.debug("decoding %s failed", where, exc_info=True)
        raise ImageReadError(where, "image data is truncated or corrupt") from exc


#: the most a PNG text or profile chunk may decompress to (Pillow's 1 MB refused a valid PNG
#: with a large embedded text, such as an image generator's workflow, as "corrupt")
MAX_METADATA_CHUNK = 16 << 20


def _allow_large_metadata_chunks() -> None:
    from PIL import PngImagePlugin

    PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, MAX_METADATA_CHUNK)


def _open_header(fp: io.BytesIO, where: str | Path):
    """Open (header only) with the Pillow plugin of one of READ_FORMATS, or None.

    Plugins are called directly rather than through ``PIL.Image.open`` so that Pillow's
    global decompression-bomb limit does not apply: ours (``max_pixels``) is checked next.
    """
    from PIL import Image as PILImage

    _allow_large_metadata_chunks()
    prefix = fp.read(16)
    refused = None  # a plugin that took the file and failed: the next one that takes it may read it
    for fmt in READ_FORMATS:
        if fmt == "HEIF" and not heif_plugin():
            continue
        if fmt not in PILImage.OPEN:
            PILImage.init()
        entry = PILImage.OPEN.get(fmt)
        if entry is None:
            continue
        factory, accept = entry
        if fmt == "JPEG":
            # the plain JPEG: Pillow's factory makes a JPEG with a second image in an MPF segment
            # (a camera's large preview, a phone's HDR gain map) an MPO of two frames, and it was
            # opened as a 2-frame animation: `upscale` to .jpg refused it, to .png wrote an APNG
            from PIL.JpegImagePlugin import JpegImageFile as factory
        accepted = accept(prefix) if accept else True
        if accepted is not True:
            continue
        fp.seek(0)
        try:
            return factory(fp, "")
        except (SyntaxError, IndexError, TypeError, ValueError, struct.error, OSError) as exc:
            log.debug("%s header of %s rejected", fmt, where, exc_info=True)
            if "MAX_TEXT_CHUNK" in str(exc):  # (it was "truncated or corrupt": the pixels may be fine)
                raise ImageReadError(where, f"a metadata chunk (text or colour profile) decompresses to more than "
                                            f"{MAX_METADATA_CHUNK >> 20} MB: not read (a decompression bomb guard)"
                                     ) from None
            kind = _tiff_sample_kind(fp) if fmt == "TIFF" else None
            if kind is not None:  # a whole file of a kind not read (a float RGB TIFF was "corrupt")
                raise ImageReadError(where, _unsupported_samples(kind)) from None
            # (AVIF's plugin takes the brands mif1/msf1 of any HEIF: a HEIC photo so branded was
            # "an unsupported AVIF variant", pillow-heif never tried)
            refused = refused or ImageReadError(
                where, f"image data is truncated or corrupt, or an unsupported {fmt} variant")
    if refused is not None:
        fp.seek(0)
        if (why := plugin_missing(fp.read(64))) is not None:
            raise ImageReadError(where, why)
        raise refused
    return None


def _tiff_sample_kind(fp: io.BytesIO) -> str | None:
    """"32-bit floating-point" (or signed integer, …) when the first page of a TIFF stores
    samples other than unsigned integers, read from its tags alone; None otherwise or when
    the tags cannot be read."""
    from PIL import TiffImagePlugin

    from sr_desktop.engine.core.quiet_warnings import warnings_ignored

    try:
        with warnings_ignored():  # (Pillow warns of tags it cannot read: said below)
            fp.seek(0)
            tags = TiffImagePlugin.ImageFileDirectory_v2(fp.read(8))
            fp.seek(tags.next)
            tags.load(fp)
            formats = tags.get(339) or (1,)
            bits = tags.get(258) or (0,)
            photometric = tags.get(262)
    except Exception:  # noqa: BLE001 - tags that cannot be read say nothing more
        return None
    if photometric in _LOG_LUMINANCE:  # (its samples are tagged 16-bit signed: it was named so)
        return "LogLuv high-dynamic-range (floating-point)"
    return _sample_kind(formats, bits)


#: TIFF's PhotometricInterpretation of SGILog encodings (HDR): LogL, LogLuv
_LOG_LUMINANCE = (32844, 32845)


def _sample_kind(formats, bits) -> str | None:
    """"32-bit floating-point" for TIFF tags SampleFormat (339) and BitsPerSample (258)
    of samples other than unsigned integers; None for those."""
    formats = formats if isinstance(formats, tuple) else (formats,)
    bits = bits if isinstance(bits, tuple) else (bits,)
    try:
        kind = {2: "signed integer", 3: "floating-point", 6: "complex floating-point"}.get(int(formats[0]))
    except (TypeError, ValueError, IndexError):
        return None
    return f"{bits[0]}-bit {kind}" if kind is not None else None


def _unsupported_samples(kind: str) -> str:
    return f"unsupported pixel format: {kind} samples; 8- and 16-bit unsigned integer images are read"


def _not_an_image_reason(data: bytes) -> str:
    """Explain a file none of READ_FORMATS accepted: another image format, or not an image."""
    from PIL import Image as PILImage

    if (why := plugin_missing(data)) is not None:
        return why
    try:
        with PILImage.open(io.BytesIO(data)) as other:
            kind = other.format
    except Exception:  # noqa: BLE001 - any failure here just means "not an image"
        return "not an image file"
    return f"unsupported image format {kind} (supported: {READ_FORMAT_NAMES})"


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
        if fmt == "TIFF" and (kind := _sample_kind(im.tag_v2.get(339, (1,)), im.tag_v2.get(258, (0,)))):
            # (one Pillow opens: a signed grey's negative samples were clipped to 0 without a word)
            raise ImageReadError(where, _unsupported_samples(kind))
        orientation = orientation_of(im.getexif())
        if fmt == "HEIF":  # libheif turned the pixels upright and pillow-heif reset the tag: the turn
            # made is what the EXIF's thumbnail and resolution must follow (they stayed as stored)
            orientation = orientation_of({TAG_ORIENTATION: im.info.get("original_orientation", 1)})
        tiles = list(getattr(im, "tile", None) or ())
        im.load()  # full decode now: truncated or corrupt data raises here
        if fmt != "GIF":  # a GIF frame may cover part of its canvas (the rest is background)
            check_coverage(tiles, *_stored_size(tiles, width, height, fmt, orientation), where)
        if fmt == "PNG" and _may_miss_rows(im, data) and (short := missing_rows(data)) is not None:
            raise ImageReadError(
                where, f"image data is truncated or corrupt ({short[0]} of {short[1]} bytes of pixel data)"
            )
        if fmt == "JPEG" and _ends_in_grey_fill(im) and (short := missing_units(data)) is not None:
            raise ImageReadError(
                where, f"image data is truncated or corrupt (scan data for {short[0]} of {short[1]} blocks)"
            )
        # Pillow turns TIFFs upright while loading and then drops their orientation tag,
        # so what is left in the EXIF is what remains to be applied to its pixels.
        pending = orientation_of(im.getexif())
        exif, xmp, info = file_metadata(im, orientation)
        icc = im.info.get("icc_profile") or profile_of_cicp(im, data, where) or _exif_profile(im)
        # (a HEIF's several images are a burst or an edit's stages, not frames: its primary one)
        frames = getattr(im, "n_frames", 1) if fmt != "HEIF" else 1
        if frames > 1:
            info["frames"] = frames
        if fmt == "WEBP" and webp_is_lossless(data):
            info["webp_lossless"] = True
        if fmt == "JPEG" and im.info.get("progressive"):  # (written back progressive: a web export's)
            info["jpeg_progressive"] = True
        if (palette := palette_of_pillow(im)) is not None:  # (written back as one where it fits)
            info[PALETTE_KEY] = palette

        deep = deep_layout(im, data)
        if deep is None:
            pixels, icc = _pixels_from_pillow(im, icc, where)
            pixels = apply_orientation(pixels, pending)
        else:
            reduced = apply_orientation(np.array(im), pending)
    if deep is not None:
        pixels = _decode_deep(data, deep, reduced, orientation, where)

    if icc and pixels.ndim == 3 and pixels.shape[2] >= 3 and icc_space(icc) == ICC_SPACE_CMYK:
        icc = None
    return Image(
        pixels=np.ascontiguousarray(pixels),
        icc_profile=icc,
        exif=exif,
        xmp=xmp,
        source_format=fmt,
        path=None,
        info=info,
    )


def webp_is_lossless(data: bytes) -> bool:
    """Whether a WebP file's image is coded losslessly (a ``VP8L`` chunk, not ``VP8``), an
    animation's every frame (its ``ANMF`` chunks: they were not looked into, and a lossless
    animation was saved lossy): a lossless WebP written back lossy at quality 95 got colour
    fringes on flat-colour art."""
    coded = _webp_codings(data, 12, len(data))  # after "RIFF", the size and "WEBP"
    return bool(coded) and all(fourcc == b"VP8L" for fourcc in coded)


#: an ANMF chunk's frame header before its image chunks: offsets, size, duration, flags
_ANMF_HEADER = 16


def _webp_codings(data: bytes, at: int, end: int) -> list[bytes]:
    """The image chunks' codes (``VP8L`` or ``VP8 ``) between `at` and `end`: the one of a
    still, or one per frame of an animation."""
    found = []
    while at + 8 <= end:
        fourcc, size = data[at:at + 4], int.from_bytes(data[at + 4:at + 8], "little")
        if fourcc in (b"VP8L", b"VP8 "):
            found.append(fourcc)
        elif fourcc == b"ANMF":
            found += _webp_codings(data, at + 8 + _ANMF_HEADER, min(end, at + 8 + size))
        at += 8 + size + (size & 1)
    return found


def _exif_profile(im) -> bytes | None:
    """An Adobe RGB profile for an RGB image whose EXIF states Adobe RGB and that holds no
    profile (a camera set to Adobe RGB writes none): it was shown, and converted, as sRGB,
    its colours dulled."""
    from sr_desktop.engine.imageio.cicp_profile import adobe_rgb_profile

    if im.mode not in ("RGB", "RGBA") or exif_colour_space(im.getexif()) != "adobe-rgb":
        return None
    return adobe_rgb_profile()


def file_metadata(im, orientation: int) -> tuple[bytes | None, bytes | None, dict]:
    """The EXIF block, the XMP packet and the info (``dpi``) of a loaded Pillow image — the
    current page of a TIFF —, the resolution swapped for an image turned a quarter upright
    (`orientation` 5–8, the one the file stated before Pillow turned it)."""
    if im.format == "TIFF":
        exif = exif_from_tiff_tags(im.getexif())
    else:
        exif = normalize_exif(im.info.get("exif"))
    info: dict = {}
    dpi = im.info.get("dpi")
    if im.format == "TIFF" and 282 not in getattr(im, "tag_v2", {}):
        dpi = None  # Pillow says (1, 1) for a TIFF without resolution: written out, 1 dpi
    if im.format == "JPEG" and im.info.get("jfif_unit") not in (1, 2) and not _exif_resolution(im):
        dpi = None  # Pillow says 72 dpi for a JPEG whose EXIF states no resolution
    if dpi and len(dpi) == 2 and all(float(v) > 0 for v in dpi):
        info["dpi"] = tuple(round(float(v), 1) for v in dpi)
        if orientation >= 5:
            info["dpi"] = info["dpi"][::-1]
    xmp = upright_xmp(im.info.get("xmp"), orientation) if isinstance(im.info.get("xmp"), bytes) else None
    info.update(png_colour_chunks(im))
    if (iptc := iptc_of(im)) is not None:
        info["iptc"] = iptc
    # (a HEIC's tag reset by pillow-heif: the turn libheif made, `_decode_checked`)
    turned = orientation if im.format == "HEIF" else 1
    return (patch_exif(exif, turned=turned) if exif else None), xmp, info


def png_colour_chunks(im) -> dict:
    """A PNG's gamma (gAMA) and chromaticity (cHRM) when they, and not a profile or the sRGB
    chunk, say how its values are seen: ``{"gamma": 1.0, "chromaticity": (8 floats)}``. A
    PNG of gamma 1.0 (linear values) written without it was shown far darker."""
    import math

    if im.format != "PNG" or im.info.get("icc_profile") or "srgb" in im.info:
        return {}
    out: dict = {}
    gamma = im.info.get("gamma")
    if isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma > 0:
        out["gamma"] = float(gamma)
    chroma = im.info.get("chromaticity")
    if (isinstance(chroma, tuple) and len(chroma) == 8
            and all(isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v < 42949 for v in chroma)):
        out["chromaticity"] = tuple(float(v) for v in chroma)
    return out


def _exif_resolution(im) -> bool:
    """Whether the EXIF of a JPEG states its resolution: a unit and a positive, finite X
    resolution (Pillow says 72 dpi for any other)."""
    import math

    try:
        exif = im.getexif()
        return 0x0128 in exif and math.isfinite(value := float(exif[0x011A])) and value > 0
    except Exception:  # noqa: BLE001 - unreadable EXIF (or a resolution of 0/0) states nothing
        return False


def _stored_size(tiles: list, width: int, height: int, fmt: str | None, orientation: int) -> tuple[int, int]:
    """(width, height) the tiles are laid out in: Pillow reports a TIFF stored on its side
    (orientation 5–8) upright while its strips stay as stored (a valid file was refused as
    truncated)."""
    if fmt == "TIFF" and orientation >= 5 and tiles:
        extent = (max(t[1][2] for t in tiles), max(t[1][3] for t in tiles))
        if extent == (height, width):
            return height, width
    return width, height


def check_coverage(tiles: list, width: int, height: int, where) -> None:
    """Refuse a file whose data cover fewer pixels than its header declares.

    Pillow decodes a file as a list of tiles (strips, blocks); a header can claim a larger
    image than its tiles cover (a TIFF patched to 1×1,000,000 with one 48-row strip), and
    the uncovered pixels would silently stay black. Each row must be covered by tiles at
    least as wide as the image: a sweep over the tiles' top and bottom edges sums the
    widths of the tiles over each band of rows.
    """
    if not tiles or any(tile[0] == "libtiff" for tile in tiles):
        return  # (libtiff checks its strips itself, in the file's stored orientation)
    edges: dict[int, int] = {0: 0, height: 0}
    for tile in tiles:
        x0, y0, x1, y1 = tile[1]
        x0, x1 = max(0, x0), min(width, x1)
        y0, y1 = max(0, y0), min(height, y1)
        if x1 > x0 and y1 > y0:
            edges[y0] = edges.get(y0, 0) + (x1 - x0)
            edges[y1] = edges.get(y1, 0) - (x1 - x0)
    covered_rows, across = 0, 0
    ys = sorted(edges)
    for top, bottom in itertools.pairwise(ys):
        across += edges[top]
        if across >= width:
            covered_rows += bottom - top
    if covered_rows < height:
        raise ImageReadError(
            where, f"image data is truncated or corrupt (data for {covered_rows} of {height} rows)"
        )


def _may_miss_rows(im, data: bytes) -> bool:
    """Whether a decoded PNG may lack data (Pillow leaves what is missing 0): an interlaced
    one (its passes spread over every row), or one whose last pixel is 0 (a cut anywhere, even
    inside the last row, leaves it 0). Only then is its image data inflated a second time to
    count it (every PNG was: 23-28 % of its reading)."""
    if len(data) < 29 or data[28]:  # (no plain header, or Adam7 interlacing)
        return True
    last = np.asarray(im.crop((im.width - 1, im.height - 1, im.width, im.height)))
    return not last.any()


def _ends_in_grey_fill(im) -> bool:
    """Whether a decoded JPEG may end in the uniform grey libjpeg puts where scan data is
    missing (its last pixel is mid-grey): only then is the slower scan check worth running."""
    if im.mode not in ("L", "RGB"):
        return True  # (CMYK/YCCK fill is not one value; those files are rare)
    corner = im.getpixel((im.width - 1, im.height - 1))
    return all(value == 128 for value in (corner if isinstance(corner, tuple) else (corner,)))


def deep_layout(im, data: bytes) -> str | None:
    """"LA", "RGB", "RGBA" or "RGBa" (a TIFF's associated, i.e. premultiplied, alpha) when
    the file stores 16-bit samples in a layout that Pillow would reduce to 8 bits (it has no
    16-bit colour modes); None otherwise."""
    if im.format == "PNG" and data[12:16] == b"IHDR" and data[24] == 16:
        return {4: "LA", 2: "RGB", 6: "RGBA"}.get(data[25])
    if im.format == "TIFF":
        tags = im.tag_v2
        bits = tags.get(258) or ()
        bits = bits if isinstance(bits, tuple) else (bits,)
        samples = int(tags.get(277, 1))
        if samples >= 3 and bits and all(b == 16 for b in bits) and tags.get(262) == 2:
            if samples < 4:
                return "RGB"
            extra = tags.get(338) or ()
            return "RGBa" if (extra if isinstance(extra, tuple) else (extra,))[:1] == (1,) else "RGBA"
    return None


def _decode_deep(
    data: bytes, layout: str, reduced: np.ndarray, orientation: int, where
) -> np.ndarray:
    """Decode a 16-bit colour PNG/TIFF with OpenCV into upright RGB(A)/LA order."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    return deep_pixels(arr, layout, reduced, orientation, where)


def deep_pixels(arr: np.ndarray | None, layout: str, reduced: np.ndarray, orientation: int, where) -> np.ndarray:
    """OpenCV's 16-bit decoding ``arr`` (BGR order) of a picture as upright RGB(A)/LA.

    ``reduced`` is Pillow's upright 8-bit decoding of the same picture (the high bytes of
    the samples). It is the reference that tells whether OpenCV already applied the
    orientation (it does for TIFF) and guards against any other disagreement.
    """
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
        # an RGB PNG with a tRNS colour: OpenCV gives its alpha, Pillow's 8-bit RGB has none
        order = [2, 1, 0, 3] if channels == 4 else [2, 1, 0]
        arr = arr[:, :, order]
    checked = reduced.shape[2] if layout == "RGB" and reduced.ndim == 3 else arr.shape[2]
    for candidate in (arr, apply_orientation(arr, orientation)):
        if layout == "RGBa":
            if _agrees_premultiplied(candidate, reduced):
                return _unpremultiplied(candidate)
            continue
        colour = candidate[:, :, :checked]
        if colour.shape == reduced.shape and np.array_equal(colour >> 8, reduced):
            return candidate
    raise ImageReadError(where, "16-bit decoders disagree on this file (corrupt?)")


def _agrees_premultiplied(deep: np.ndarray, reduced: np.ndarray) -> bool:
    """Whether premultiplied 16-bit RGBA ``deep`` is the picture of Pillow's ``reduced``:
    Pillow takes the high bytes and divides by alpha at 8 bits, so its colours are compared
    multiplied back by alpha, within the rounding that leaves (the alpha exactly)."""
    if deep.shape != reduced.shape or deep.shape[2] != 4:
        return False
    alpha = reduced[:, :, 3:].astype(np.float32)
    if not np.array_equal(deep[:, :, 3:] >> 8, reduced[:, :, 3:]):
        return False
    again = np.rint(reduced[:, :, :3] * alpha / 255.0)
    return bool(np.abs((deep[:, :, :3] >> 8).astype(np.float32) - again).max(initial=0) <= 2)


def _unpremultiplied(rgba: np.ndarray) -> np.ndarray:
    """16-bit RGBA with associated alpha (colour already multiplied by it) as straight alpha,
    which is what every image in the app holds; fully transparent pixels are black."""
    alpha = rgba[:, :, 3:].astype(np.float64)
    colour = np.divide(rgba[:, :, :3] * 65535.0, alpha, out=np.zeros(rgba.shape[:2] + (3,)), where=alpha > 0)
    return np.concatenate([np.clip(np.rint(colour), 0, 65535).astype(np.uint16), rgba[:, :, 3:]], axis=2)


def _pixels_from_pillow(im, icc: bytes | None, where) -> tuple[np.ndarray, bytes | None]:
    """H×W×C uint8/uint16 pixels of a loaded Pillow image, and the ICC profile to keep."""
    mode = im.mode
    if mode in ("1", "L", "RGB") and "transparency" in im.info:  # PNG tRNS: one transparent colour
        rgba = np.array(im.convert("RGBA"))
        return (rgba if mode == "RGB" else rgba[:, :, [0, 3]]), icc
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.array(im), icc
    if mode.startswith("I"):  # 16-bit grey ("I;16", or "I" from some files)
        grey = np.clip(np.array(im), 0, 65535).astype(np.uint16)
        if isinstance(im.info.get("transparency"), int):  # PNG tRNS: one transparent grey
            alpha = np.where(grey == im.info["transparency"], 0, 65535).astype(np.uint16)
            return np.stack([grey, alpha], axis=-1), icc
        return grey, icc
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
    if icc_space(icc) == ICC_SPACE_CMYK and (rgb := in_srgb(im, icc)) is not None:
        return np.array(rgb), srgb_profile()
    return np.array(im.convert("RGB")), None  # (an unusable profile: the plain conversion)

