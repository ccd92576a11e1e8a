"""Animated and multi-page images: read every frame, write them all back.

An :class:`Animation` holds full-canvas frames (each an :class:`Image`, composited the way
a viewer shows it), the duration of each frame, how many times it plays, and each frame's
disposal. Because every frame is a full canvas, writing it back with its original disposal
shows the same picture, in GIF, APNG or animated WebP alike. A multi-page TIFF is an
animation without timing (its pages keep their own size and mode).

A format that cannot hold several frames (JPEG, BMP) is refused with one clear error rather
than dropping frames; so is a timed animation written as TIFF (TIFF pages have no timing),
and a multi-page TIFF written as GIF/PNG/WebP (its pages are not frames of one canvas).

Over 500 lines because reading GIF, APNG, animated WebP and multi-page TIFF frames as full
canvases and writing them back with their timing, loops and disposal is one round trip
that must give back the frames read; GIF's canvas and TIFF's pages are written by
`gif_canvas` and `tiff`.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from sr_desktop.engine.core.errors import ImageReadError, ImageWriteError
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback
from sr_desktop.engine.imageio.convert import to_uint8
from sr_desktop.engine.imageio.exif import apply_orientation, orientation_of
from sr_desktop.engine.imageio.formats import size_refusal
from sr_desktop.engine.imageio.gif_canvas import gif_frames_as_shown
from sr_desktop.engine.imageio.heif_avif import profile_of_cicp
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.imageio.metadata import ICC_SPACE_GRAY, icc_space
from sr_desktop.engine.imageio.palette import gif_palette_image
from sr_desktop.engine.imageio.png_rows import short_apng_frame
from sr_desktop.engine.imageio.protected import ProtectedPaths
from sr_desktop.engine.imageio.read import (
    DEFAULT_MAX_PIXELS,
    _megapixels,
    _open_header,
    _pixels_from_pillow,
    _stored_size,
    check_coverage,
    decode_with,
    deep_layout,
    deep_pixels,
    file_metadata,
    read_file_bytes,
    read_image,
    read_image_bytes,
    webp_is_lossless,
)
from sr_desktop.engine.imageio.tiff import encode_tiff_pages
from sr_desktop.engine.imageio.write import (
    ZLIB_LEVEL,
    SaveOptions,
    _encoder_errors,
    _metadata,
    _prepare_target,
    check_sized,
    checked_format,
    gif_alpha,
    srgb_pixels,
    tiff_page,
)
from sr_desktop.engine.imageio.write_watch import WriteWatch

#: Output formats that hold a timed animation, and the one that holds pages.
ANIMATION_FORMATS = ("gif", "png", "webp")
PAGE_FORMATS = ("tiff",)

# Disposal, in the words of the formats: GIF codes 0..3, APNG codes 0..2.
_DISPOSAL_OF_GIF = {0: "none", 1: "none", 2: "background", 3: "previous"}
log = logging.getLogger(__name__)

_GIF_OF_DISPOSAL = {"none": 1, "background": 2, "previous": 3}
#: the longest frame a GIF holds: 65535 hundredths of a second
GIF_MAX_DURATION_MS = 655_350
_DISPOSAL_OF_APNG = {0: "none", 1: "background", 2: "previous"}
_APNG_OF_DISPOSAL = {"none": 0, "background": 1, "previous": 2}


@dataclass
class Animation:
    """Frames of one animated (or multi-page) file and how they play.

    ``durations`` in milliseconds (empty for TIFF pages); ``plays``: how many times the
    animation plays, 0 = forever (GIF's "loop N" is N + 1 plays; no loop block is 1);
    ``disposals``: "none", "background" or "previous" per frame.
    """

    frames: list[Image]
    durations: list[int] = field(default_factory=list)
    plays: int = 0
    disposals: list[str] = field(default_factory=list)
    source_format: str | None = None
    path: Path | None = None

    @property
    def is_timed(self) -> bool:
        """True for an animation (GIF/APNG/WebP), False for the pages of a TIFF."""
        return self.source_format != "TIFF"

    @property
    def width(self) -> int:
        return self.frames[0].width

    @property
    def height(self) -> int:
        return self.frames[0].height

    def with_frames(self, frames: list[Image]) -> Animation:
        """The same timing with new frames (e.g. upscaled)."""
        return replace(self, frames=list(frames), durations=list(self.durations),
                       disposals=list(self.disposals))


def read_image_or_animation(
    path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> Image | Animation:
    """:func:`read_image` for a file of one frame, :func:`read_animation` for several (an
    APNG of a default image and one frame is that frame, a still: as a one-frame animation
    the window offered Play on "animation of 1 frames")."""
    image = read_image(path, max_pixels)
    if image.info.get("frames", 1) <= 1:
        return image
    animation = read_animation(path, max_pixels)
    return animation.frames[0] if len(animation.frames) == 1 else animation


def read_image_or_animation_bytes(data: bytes, name: str,
                                  max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image | Animation:
    """`read_image_or_animation` of an image held in memory (standard input); `name` is
    used in error messages, and the result has ``path=None``."""
    image = read_image_bytes(data, name, max_pixels)
    if image.info.get("frames", 1) <= 1:
        return image
    animation = decode_with(_decode_frames, bytes(data), Path(name), max_pixels)
    for frame in animation.frames:  # (no file: nothing to protect from being written over)
        frame.path = None
    animation.path = None
    return animation.frames[0] if len(animation.frames) == 1 else animation


def read_animation(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Animation:
    """Every frame of an animated GIF / PNG / WebP, or every page of a TIFF.

    ``max_pixels`` bounds the pixels of all frames together (a bomb can hide in the frame
    count as well as in the frame size). Raises :class:`ImageReadError`.
    """
    where = Path(path)
    return decode_with(_decode_frames, read_file_bytes(where), where, max_pixels)


def _decode_frames(data: bytes, where: Path, max_pixels: int | None) -> Animation:
    im = _open_header(io.BytesIO(data), where)
    if im is None:
        raise ImageReadError(where, "not an image file")
    with im:
        fmt = im.format
        count = int(getattr(im, "n_frames", 1))
        width, height = im.size
        if fmt != "TIFF" and max_pixels is not None and width * height * count > max_pixels:
            raise ImageReadError(
                where, f"animation is {count} frames of {width}×{height} = "
                f"{_megapixels(width * height * count)}, above the {_megapixels(max_pixels)} limit",
            )
        icc = im.info.get("icc_profile") or profile_of_cicp(im, data, where)
        frames: list[Image] = []
        durations: list[int] = []
        disposals: list[str] = []
        if fmt == "PNG" and (short := short_apng_frame(data)) is not None:
            raise ImageReadError(
                where, f"image data is truncated or corrupt (frame {short[0]}: {short[1]} of {short[2]} "
                "bytes of pixel data)")
        pages = _TiffPages(data, where, max_pixels)
        # an APNG may hold a default image (its IDAT) that is not a frame of the animation:
        # what viewers without APNG support show; Pillow gives it as frame 0
        first = 1 if fmt == "PNG" and im.info.get("default_image") and count > 1 else 0
        canvas = _ApngCanvas(width, height, _png_bit_depth(data)) if fmt == "PNG" else None
        if fmt == "WEBP":
            _keep_webp_canvas_alpha(im)
        partial_first = False  # a GIF whose first frame leaves part of the screen uncovered
        for index in range(first, count):
            im.seek(index)
            if fmt == "GIF" and index == 0 and im.tile:
                partial_first = tuple(im.tile[0].extents) != (0, 0, width, height)
            if fmt == "TIFF":
                frames.append(pages.page(im, index))
                continue
            if canvas is not None:
                rgba = canvas.paint(im)
            else:
                im.load()
                rgba = np.array(im.convert("RGBA"))
            if rgba.shape[:2] != (height, width):
                # a GIF frame reaching past the declared screen: Pillow grows the canvas for
                # it, and frames of two sizes broke every output (a PNG the app then refused
                # as truncated); cut to the screen, as browsers show it
                fitted = np.zeros((height, width, 4), np.uint8)
                h, w = min(height, rgba.shape[0]), min(width, rgba.shape[1])
                fitted[:h, :w] = rgba[:h, :w]
                rgba = fitted
            frames.append(Image(rgba, icc_profile=icc, source_format=fmt, path=where))
            durations.append(max(0, int(im.info.get("duration") or 0)))  # (0 kept: viewers choose)
            disposals.append(_disposal_of(im, fmt))
        if fmt == "GIF" and ("background" in disposals or "previous" in disposals or partial_first):
            # Pillow fills a rectangle disposed to background with the palette's background
            # colour when nothing is transparent, starts an opaque file on black around a first
            # frame smaller than the screen and keeps a first frame disposed to previous;
            # viewers clear all three (see gif_canvas). Only then: it decodes every frame again
            shown = gif_frames_as_shown(data)
            if shown is not None and len(shown) == len(frames):
                frames = [f.with_pixels(rgba) for f, rgba in zip(frames, shown, strict=True)]
        plays = _plays_of(im.info, fmt)
        if fmt != "TIFF":  # the file's EXIF and resolution, read once its chunks are all seen
            # (turned upright as a still image is: the frames came as stored, the tag reset
            # to 1 made an APNG or WebP of a portrait shot lie on its side)
            orientation = orientation_of(im.getexif())
            exif, xmp, info = file_metadata(im, orientation)
            if fmt == "WEBP" and webp_is_lossless(data):  # (written back lossless, as a still is)
                info["webp_lossless"] = True
            frames = [replace(f.with_pixels(np.ascontiguousarray(apply_orientation(f.pixels, orientation))),
                              exif=exif, xmp=xmp, info=dict(info)) for f in frames]
    if durations and all(int(f.pixels[:, :, 3].min()) == 255 for f in frames):
        frames = [f.with_pixels(np.ascontiguousarray(f.pixels[:, :, :3])) for f in frames]
    return Animation(frames, durations, plays, disposals, fmt, where)


def _keep_webp_canvas_alpha(im) -> None:
    """libwebp's animation decoder composes every frame on an RGBA canvas that starts
    transparent, but Pillow drops that alpha when the file's header has no alpha flag — which
    libwebp's own encoder leaves out when the frames it stores are opaque sub-rectangles of a
    partly transparent canvas (a first frame with transparent margins came back opaque black
    there). Frames are taken with the canvas's alpha; an animation opaque throughout is made
    RGB again by the caller."""
    if getattr(im, "rawmode", None) == "RGBX" and getattr(im, "_mode", None) == "RGB":
        im.rawmode = "RGBA"
        im._mode = "RGBA"


class _ApngCanvas:
    """An APNG's output buffer, composed as the APNG specification says: each play starts on
    a fully transparent black canvas; a frame replaces its rectangle (blend source) or is
    drawn over it with the PNG specification's OVER (blend over); after it shows, its
    rectangle is left as is, cleared to transparent black, or restored to what it was before
    the frame (disposal none, background, previous).

    Pillow composes the frames itself, but its OVER pastes the frame with its own alpha as
    the mask, which scales alpha as well as colour (a half-transparent frame on a clear
    canvas came out with colour and alpha halved, on an opaque one no longer opaque), and its
    cleared pixels are colour 0 of the file's mode (opaque black in RGB and grey files). So
    Pillow is told to replace, and only each frame's own rectangle is taken from it."""

    def __init__(self, width: int, height: int, depth: int) -> None:
        self.pixels = np.zeros((height, width, 4), dtype=np.uint8)
        self.depth = depth  # the file's bits per sample
        self._pending = None  # the shown frame's (disposal, rectangle, its pixels before it)

    def paint(self, im) -> np.ndarray:
        """The canvas once the frame `im` has been seeked to is drawn on it (a copy)."""
        from PIL import PngImagePlugin

        self._dispose()
        x0, y0, x1, y1 = tuple(im.info.get("bbox") or (0, 0, *im.size))
        blend = im.info.get("blend")
        im.blend_op = PngImagePlugin.Blend.OP_SOURCE
        im.load()
        frame = _rgba8(im.crop((x0, y0, x1, y1)), self.depth)
        region = self.pixels[y0:y1, x0:x1]
        self._pending = (im.info.get("disposal"), (x0, y0, x1, y1), region.copy())
        if blend == PngImagePlugin.Blend.OP_OVER:
            region[...] = _over(frame, region)
        else:
            region[...] = frame
        return self.pixels.copy()

    def _dispose(self) -> None:
        from PIL import PngImagePlugin

        if self._pending is None:
            return
        op, (x0, y0, x1, y1), before = self._pending
        if op == PngImagePlugin.Disposal.OP_BACKGROUND:
            self.pixels[y0:y1, x0:x1] = 0
        elif op == PngImagePlugin.Disposal.OP_PREVIOUS:
            self.pixels[y0:y1, x0:x1] = before


def _png_bit_depth(data: bytes) -> int:
    """The bits per sample a PNG's header declares (IHDR is the first chunk: byte 24)."""
    return data[24] if len(data) > 24 else 8


def _rgba8(frame, depth: int) -> np.ndarray:
    """An APNG frame's pixels as 8-bit RGBA. Pillow's RGBA conversion clips a 16-bit grey
    frame ("I;16") to 0..255 (a frame of 40000 came out white); it is rounded to 8 bits
    instead, its tRNS grey made transparent. A 16-bit RGB frame comes from Pillow already
    reduced to the high byte of each sample while its tRNS colour stays 16-bit, so nothing
    matched it and the key colour showed opaque: it is matched on the high bytes, the only
    ones there are (a colour differing from the key below them turns transparent too)."""
    if frame.mode == "RGB" and depth == 16 and isinstance(frame.info.get("transparency"), tuple):
        rgb = np.array(frame)
        key = np.array(frame.info["transparency"][:3], np.uint16) >> 8
        alpha = np.where(np.all(rgb == key.astype(np.uint8), axis=-1), 0, 255).astype(np.uint8)
        return np.dstack([rgb, alpha])
    if not frame.mode.startswith("I"):
        return np.array(frame.convert("RGBA"))
    grey = np.clip(np.array(frame), 0, 65535).astype(np.uint16)
    alpha = np.full(grey.shape, 255, np.uint8)
    if isinstance(frame.info.get("transparency"), int):
        alpha[grey == frame.info["transparency"]] = 0
    grey8 = to_uint8(grey)
    return np.stack([grey8, grey8, grey8, alpha], axis=-1)


def _over(top: np.ndarray, below: np.ndarray) -> np.ndarray:
    """Straight-alpha 8-bit RGBA `top` OVER `below` (PNG specification, "Alpha channel
    processing"), rounded to 8 bits."""
    ta = top[..., 3:].astype(np.float32) / 255.0
    ba = below[..., 3:].astype(np.float32) / 255.0 * (1.0 - ta)
    alpha = ta + ba
    colour = top[..., :3] * ta + below[..., :3] * ba
    colour = np.divide(colour, alpha, out=np.zeros_like(colour), where=alpha > 0)
    out = np.concatenate([colour, alpha * 255.0], axis=-1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class _TiffPages:
    """Decodes the pages of a TIFF one by one: each page's own size counts towards the pixel
    limit, its strips must cover it, and a 16-bit colour page (which Pillow reduces to 8
    bits) is taken from OpenCV's decoding of all pages, checked against Pillow's."""

    def __init__(self, data: bytes, where: Path, max_pixels: int | None) -> None:
        self.data, self.where, self.max_pixels = data, where, max_pixels
        self.pixels_so_far = 0
        self._deep: list[np.ndarray] | None = None

    def page(self, im, index: int) -> Image:
        width, height = im.size
        self.pixels_so_far += width * height
        if self.max_pixels is not None and self.pixels_so_far > self.max_pixels:
            raise ImageReadError(
                self.where, f"the pages up to page {index + 1} hold {_megapixels(self.pixels_so_far)}, "
                f"above the {_megapixels(self.max_pixels)} limit",
            )
        orientation = orientation_of(im.getexif())
        tiles = list(getattr(im, "tile", None) or ())
        im.load()
        check_coverage(tiles, *_stored_size(tiles, width, height, "TIFF", orientation), self.where)
        pixels, icc = _pixels_from_pillow(im, im.info.get("icc_profile") or None, self.where)
        exif, xmp, info = file_metadata(im, orientation)
        layout = deep_layout(im, self.data)
        if layout is not None:
            pixels = deep_pixels(self._opencv_page(index), layout, pixels, orientation, self.where)
        return Image(np.ascontiguousarray(pixels), icc_profile=icc, exif=exif, xmp=xmp, source_format="TIFF",
                     path=self.where, info=info)

    def _opencv_page(self, index: int) -> np.ndarray | None:
        """Page `index` as OpenCV decodes it (16 bits kept): that page alone, after the pixel
        limit passed it (all pages at once, a 8-MB file of 100 deflated 16-bit pages took 4.8 GB
        and 12 s before the limit refused it)."""
        import cv2

        buffer = np.frombuffer(self.data, dtype=np.uint8)
        try:
            ok, mats = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED, None, (index, index + 1))
        except (TypeError, cv2.error):  # an OpenCV without page ranges: all pages, once
            if self._deep is None:
                ok, mats = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
                self._deep = list(mats) if ok else []
            return self._deep[index] if index < len(self._deep) else None
        return mats[0] if ok and len(mats) else None


def _disposal_of(im, fmt: str) -> str:
    if fmt == "GIF":
        return _DISPOSAL_OF_GIF.get(int(getattr(im, "disposal_method", 0) or 0), "none")
    if fmt == "PNG":
        return _DISPOSAL_OF_APNG.get(int(im.info.get("disposal", 0) or 0), "none")
    return "none"


def _plays_of(info: dict, fmt: str) -> int:
    loop = info.get("loop")
    if fmt == "GIF":
        return 1 if loop is None else (0 if int(loop) == 0 else int(loop) + 1)
    return 0 if loop is None else int(loop)


# -- writing ------------------------------------------------------------------------------


def check_animation_format(animation: Animation, path: str | os.PathLike, options: SaveOptions | None) -> str:
    """The output format for ``animation`` at ``path``, or :class:`ImageWriteError` when that
    format cannot hold all its frames (checked before any upscaling is spent on it)."""
    target = Path(path)
    fmt = checked_format(options or SaveOptions(), target)
    count = len(animation.frames)
    if animation.is_timed and fmt not in ANIMATION_FORMATS:
        raise ImageWriteError(
            target, f"{fmt.upper()} cannot hold the {count} frames of this animation "
            "(use png, webp or gif)",
        )
    if not animation.is_timed and fmt not in PAGE_FORMATS:
        raise ImageWriteError(
            target, f"{fmt.upper()} cannot hold the {count} pages of this TIFF (use tiff)"
        )
    return fmt


def write_animation(
    animation: Animation,
    path: str | os.PathLike,
    options: SaveOptions | None = None,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike] | ProtectedPaths = (),
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write every frame atomically (same guarantees and refusals as ``write_image``, and
    its ``cancel`` and ``progress``: bytes written, and the frames encoded, or a TIFF's rows
    of all its pages)."""
    from sr_desktop.engine.imageio.atomic import atomic_write

    options = options or SaveOptions()
    target = Path(path)
    fmt = check_animation_format(animation, target, options)
    for frame in animation.frames:  # (a TIFF's pages, each of its own size)
        check_sized(frame.width, frame.height, options)
    first = animation.frames[0].pixels
    if (too_large := size_refusal(fmt, first.shape[1], first.shape[0])) is not None:
        raise ImageWriteError(target, too_large)
    _prepare_target(target, animation.path, protect, overwrite)
    steps = sum(page.pixels.shape[0] for page in animation.frames) if fmt == "tiff" else len(animation.frames)
    watch = WriteWatch(steps, cancel, progress) if cancel is not None or progress is not None else None
    with _encoder_errors(target, fmt):
        atomic_write(target, lambda fh: _encode_frames(watch.stream(fh) if watch else fh, animation, fmt, options,
                                                       watch), replace=overwrite, cancel=cancel)
    if watch is not None and fmt != "tiff":  # (the last frame's end: its seek said only its start)
        watch.frames_done(len(animation.frames))
    return target


def _pil_frames(animation: Animation, fmt: str, options: SaveOptions) -> list:
    """8-bit colour Pillow frames (animations have no gray or 16-bit frames), their colours
    converted to sRGB where the file cannot hold their profile (a GIF; a grey profile, the
    frames being written in colour), as still images are."""
    from PIL import Image as PILImage

    icc = animation.frames[0].icc_profile
    convert = bool(options.keep_metadata and icc and (fmt == "gif" or icc_space(icc) == ICC_SPACE_GRAY))
    frames = []
    for frame in animation.frames:
        pixels = to_uint8(frame.pixels)
        if convert:
            pixels = srgb_pixels(pixels, icc)
        if pixels.shape[2] in (1, 2):
            pixels = pixels[:, :, [0, 0, 0, 1] if pixels.shape[2] == 2 else [0, 0, 0]]
        if fmt == "gif":
            frames.append(gif_palette_image(gif_alpha(pixels) if pixels.shape[2] == 4 else pixels))
            continue
        frames.append(PILImage.fromarray(np.ascontiguousarray(pixels)))
    return frames


def _said_when_seeked(frame, index: int, watch: WriteWatch) -> None:
    """Pillow's GIF, APNG and WebP encoders seek each frame they take (``seek(0)`` of a
    one-frame image): that call of `frame` tells `watch` the encoder has come to frame
    `index`, and raises `Cancelled` there once cancelled."""
    own_seek = frame.seek

    def seek(position: int) -> None:
        watch.frame_started(index)
        own_seek(position)

    frame.seek = seek


def _per_frame(values: list):
    """Per-frame values for Pillow: one value for a one-frame animation (an APNG's one frame
    after its default image), whose GIF encoder fails on a list."""
    return values[0] if len(values) == 1 else values


def _gif_duration(ms: int) -> int:
    """`ms` in the hundredths of a second GIF counts, rounded half up (Pillow cuts them down: a
    60 fps APNG's 17 ms frames became 10 ms, which browsers and the window show for 100 ms);
    a frame over 10 ms never becomes 10, one of 1-10 ms stays 10, 0 stays 0."""
    if ms <= 0:
        return ms
    if ms <= 10:
        return 10
    return max(20, 10 * int(ms / 10 + 0.5))


def _encode_frames(fh: BinaryIO, animation: Animation, fmt: str, options: SaveOptions,
                   watch: WriteWatch | None = None) -> None:
    if fmt == "tiff":  # every page at its own depth (16-bit colour too: our encoder, not Pillow's)
        encode_tiff_pages(fh, [tiff_page(page, options) for page in animation.frames], ZLIB_LEVEL,
                          rows_done=watch.rows_done if watch is not None else None)
        return
    frames = _pil_frames(animation, fmt, options)
    if watch is not None and fmt != "png":  # (Pillow's APNG seeks every frame in a first pass, then encodes)
        for index, frame in enumerate(frames):
            _said_when_seeked(frame, index, watch)
    first, *rest = frames
    common: dict = {"save_all": True, "append_images": rest}
    # (a GIF's frames are palette images: the profile is chosen for their colours, of a copy:
    # converting the frame itself realised its palette, and Pillow's GIF writer then failed
    # on it, "invalid palette size")
    metadata = _metadata(animation.frames[0], np.asarray(first.copy().convert("RGBA") if first.mode == "P" else first),
                         options)
    icc = metadata.icc_profile
    if metadata.exif and fmt != "gif":
        common["exif"] = metadata.exif
    if metadata.xmp and fmt == "webp":
        common["xmp"] = metadata.xmp
    elif metadata.xmp and fmt == "png":
        from PIL import PngImagePlugin

        chunks = PngImagePlugin.PngInfo()
        chunks.add_itxt("XML:com.adobe.xmp", metadata.xmp.decode("utf-8"))
        common["pnginfo"] = chunks
    if metadata.dpi and fmt == "png":
        common["dpi"] = tuple(float(v) for v in metadata.dpi)
    durations = list(animation.durations)
    if fmt == "gif":
        durations = [_gif_duration(d) for d in durations]
    if fmt == "gif" and max(durations, default=0) > GIF_MAX_DURATION_MS:
        # GIF counts a frame's time in hundredths of a second on 16 bits: a longer frame
        # failed the write ("int too big to convert") after the whole upscale
        log.info("GIF holds frames of at most %.2f s; longer ones are shortened to it", GIF_MAX_DURATION_MS / 1000)
        durations = [min(d, GIF_MAX_DURATION_MS) for d in durations]
    common["duration"] = _per_frame(durations)
    plays = animation.plays
    if fmt == "gif":
        if plays != 1:
            common["loop"] = 0 if plays == 0 else plays - 1
        # every frame is a full canvas, drawn over the last as it is (the source's disposals
        # describe its own frames, not these: Pillow crops each frame to what changed from
        # the last one shown, and a "previous" then lost a sprite the source kept); over
        # transparency a frame kept the earlier frames' pixels (a moving square left a trail):
        # frames with alpha clear the canvas first
        transparent = any("transparency" in frame.info for frame in frames)
        disposals = ["background" if transparent else "none"] * len(animation.frames)
        disposal = _per_frame([_GIF_OF_DISPOSAL[d] for d in disposals])
        encoded = io.BytesIO()
        try:
            first.save(encoded, "GIF", disposal=disposal, optimize=False, **common)
        except TypeError as exc:
            # Pillow merges frames that are identical once quantised, and when every frame
            # merged into one it fails on the list of durations ("int() argument … not
            # 'list'", Pillow 13): that one frame, shown for as long as all of them
            if not rest or "list" not in str(exc):
                raise
            encoded = io.BytesIO()
            common.update(append_images=[], duration=min(sum(durations), GIF_MAX_DURATION_MS))
            first.save(encoded, "GIF", disposal=_GIF_OF_DISPOSAL[disposals[0]], optimize=False, **common)
        fh.write(encoded.getvalue())
    elif fmt == "png":
        # full canvases drawn over nothing (blend "source": a transparent pixel replaces the
        # last frame's): each frame is exact whatever the source's disposals were. With them,
        # Pillow compared a frame to the wrong canvas: a frame as empty as the cleared one was
        # merged into the last (a blinking icon became a still), a "previous" lost a sprite
        disposal = _APNG_OF_DISPOSAL["none"]
        first.save(fh, "PNG", loop=plays, disposal=disposal, blend=0, default_image=False,
                   compress_level=3, **({"icc_profile": icc} if icc else {}), **common)
    else:
        lossless = options.writes_lossless_webp(animation.frames[0].info)
        first.save(fh, "WEBP", loop=plays, quality=int(options.quality), lossless=lossless, method=4,
                   **({"icc_profile": icc} if icc else {}), **common)
