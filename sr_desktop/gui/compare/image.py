"""Display layers of the compare view: numpy pixels converted once to a paint-ready QImage,
plus lazily built half-size copies for drawing strongly zoomed-out views without aliasing;
a layer paints only its visible part."""

from __future__ import annotations

import math
import sys

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QImage, QPainter, QTransform

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.imageio.convert import to_uint8
from sr_desktop.gui.compare.geometry import ViewTransform
from sr_desktop.gui.qimage import qimage_in_srgb


class DisplayImageError(SRDesktopError):
    """An array handed to the compare view cannot be shown (bad shape, type or size)."""


def display_uint8(pixels: np.ndarray) -> np.ndarray:
    """H×W×C (or H×W) pixels → contiguous H×W×C uint8 for display.

    uint16 is rounded to 8 bits; float arrays (maps) are read as 0..1 and clipped.
    Raises DisplayImageError for anything else.
    """
    if not isinstance(pixels, np.ndarray):
        raise DisplayImageError(f"expected a numpy array of pixels, got {type(pixels).__name__}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise DisplayImageError(f"expected H×W×C pixels with C in 1..4, got shape {pixels.shape}")
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise DisplayImageError(f"empty image of shape {pixels.shape}")
    if pixels.dtype in (np.uint8, np.uint16):
        out = to_uint8(pixels)
    elif pixels.dtype in (np.float32, np.float64, np.float16):
        out = (np.clip(np.nan_to_num(pixels.astype(np.float32)), 0.0, 1.0) * 255.0 + 0.5)
        out = out.astype(np.uint8)
    else:
        raise DisplayImageError(f"expected uint8, uint16 or float pixels, got {pixels.dtype}")
    return np.ascontiguousarray(out)


def to_display_qimage(pixels: np.ndarray) -> QImage:
    """Pixels → a QImage in the raster engine's fast formats (RGB32, or ARGB32 premultiplied
    when there is alpha) that owns its data. Gray is shown as gray RGB."""
    data = display_uint8(pixels)
    height, width, channels = data.shape
    if channels in (1, 3) and sys.byteorder == "little":
        return _opaque_rgb32(data)
    if channels == 2:  # gray + alpha: no Qt format for it, expand to RGBA
        gray, alpha = data[:, :, :1], data[:, :, 1:]
        data = np.ascontiguousarray(np.concatenate([gray, gray, gray, alpha], axis=2))
        channels = 4
    source_format = {
        1: QImage.Format.Format_Grayscale8,
        3: QImage.Format.Format_RGB888,
        4: QImage.Format.Format_RGBA8888,
    }[channels]
    wrapped = QImage(data.data, width, height, data.strides[0], source_format)
    target = (QImage.Format.Format_ARGB32_Premultiplied if channels == 4
              else QImage.Format.Format_RGB32)
    image = wrapped.convertToFormat(target)  # a new image: no longer refers to `data`
    if image.isNull():
        raise DisplayImageError(f"image of {width}×{height} is too large to display")
    return image


def _opaque_rgb32(data: np.ndarray) -> QImage:
    """Gray or RGB uint8 → RGB32, converted by OpenCV straight into the QImage's own buffer.
    OpenCV lets go of Python's lock while it converts, Qt's conversion did not: a large result's
    layer, made in a worker, stopped the window for 0.4 s at 96 megapixels."""
    import cv2

    height, width, channels = data.shape
    # RGB32 is 0xffRRGGBB in a native-endian 32-bit word: B, G, R, 255 in memory (little-endian)
    code = cv2.COLOR_GRAY2BGRA if channels == 1 else cv2.COLOR_RGB2BGRA
    plane = data[:, :, 0] if channels == 1 else data
    return _made_by_opencv(width, height, QImage.Format.Format_RGB32,
                           lambda target: cv2.cvtColor(plane, code, dst=target))


#: formats whose four bytes per pixel are averaged as they are (premultiplied alpha, or none)
_AVERAGED_BY_OPENCV = (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32_Premultiplied)


def block_averaged(image: QImage, n: int) -> QImage:
    """`image` at 1/`n` of its size, each pixel the average of an n×n block; its sides are
    rounded up, a last row or column of partial blocks the average of what they hold, so that
    its pixel i lies over the image's pixels n·i to n·i + n − 1 whatever the size (rounded
    down and stretched, a 101-pixel side became 50 pixels of 2.02 each: drawn at 1/2 or 1/6,
    the view was up to a pixel off and soft). The display formats by OpenCV's area averaging
    (whole-number ratios: exact block means; it lets go of Python's lock and uses every
    core); others by Qt's smooth scaling to the rounded-down size."""
    import cv2

    width, height = -(-image.width() // n), -(-image.height() // n)
    if image.format() not in _AVERAGED_BY_OPENCV or image.isNull():
        return image.scaled(max(1, image.width() // n), max(1, image.height() // n),
                            Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
    source = _pixels_of(image)
    whole_x, whole_y = image.width() // n * n, image.height() // n * n

    def average(target: np.ndarray) -> np.ndarray:
        for rows, out_rows in ((slice(0, whole_y), slice(0, whole_y // n)), (slice(whole_y, None), slice(-1, None))):
            for cols, out_cols in ((slice(0, whole_x), slice(0, whole_x // n)),
                                   (slice(whole_x, None), slice(-1, None))):
                block, out = source[rows, cols], target[out_rows, out_cols]
                if block.size and out.size:  # (a part of whole blocks, the partial column, row, corner)
                    written = cv2.resize(block, (out.shape[1], out.shape[0]), dst=out, interpolation=cv2.INTER_AREA)
                    if not np.shares_memory(written, out):
                        out[...] = written
        return target

    return _made_by_opencv(width, height, image.format(), average)


def _made_by_opencv(width: int, height: int, fmt: QImage.Format, make) -> QImage:
    """A new 32-bit `fmt` QImage whose pixels ``make(target)`` writes (an OpenCV call with
    ``dst=target``, the image's own H×W×4 bytes; what it returns is copied in if it wrote
    elsewhere)."""
    image = QImage(width, height, fmt)
    if image.isNull():
        raise DisplayImageError(f"image of {width}×{height} is too large to display")
    target = _pixels_of(image, writable=True)
    written = make(target)
    if not np.shares_memory(written, target):
        target[...] = written
    return image


def _pixels_of(image: QImage, writable: bool = False) -> np.ndarray:
    """The H×W×4 bytes of a 32-bit `image`, without a copy."""
    rows = np.frombuffer(image.bits() if writable else image.constBits(), np.uint8).reshape(
        image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 4].reshape(image.height(), image.width(), 4)


class ImageLayer:
    """One image of the compare view, ready to paint.

    ``level_for(device_scale)`` returns the copy to draw when one layer pixel covers
    ``device_scale`` device pixels: the full image, or for scales below 1/2 a smooth
    half/quarter/... copy (built on first use, then cached) so that Qt's bilinear
    sampling does not skip pixels.
    """

    def __init__(self, pixels: np.ndarray, icc: bytes | None = None):
        self.image = qimage_in_srgb(to_display_qimage(pixels), icc)
        self.width = self.image.width()
        self.height = self.image.height()
        self.has_alpha = self.image.hasAlphaChannel()
        #: shown at 1/`reduced_by` of the image's size (`display_runner.display_layer`)
        self.reduced_by = 1
        self._levels: dict[int, QImage] = {0: self.image}
        self._averaged: dict[int, QImage] = {}  # n -> the n×n block average (`level_for`)

    def level_for(self, device_scale: float) -> tuple[QImage, float, float]:
        """(image, x ratio, y ratio): the image to draw and its size relative to the layer.
        At 1/n for a whole n other than a power of two (a ×3 result at 100 %), its n×n
        average (`block_averaged`): the half-size copy rescaled by 2/3 mixed neighbouring
        pixels (a ×3 result equal to its original was shown 66 % of pixels off)."""
        factor = round(1.0 / max(device_scale, 1e-6))
        if factor >= 3 and factor & (factor - 1) and abs(device_scale * factor - 1.0) < 1e-6:
            if factor not in self._averaged:
                self._averaged[factor] = block_averaged(self.image, factor)
            return self._averaged[factor], *self._ratios(self._averaged[factor], factor)
        level = 0
        if device_scale < 0.5 + 1e-9:  # (at 50 % too: Qt's smooth scaling by 2 is bilinear, off by up to 3 levels)
            level = int(math.floor(math.log2(1.0 / max(device_scale, 1e-6)) + 1e-9))
        image = self._level(level)
        return image, *self._ratios(image, 1 << level)

    def _ratios(self, image: QImage, n: int) -> tuple[float, float]:
        """The size of `image`, the layer's reduced `n` times, relative to the layer: 1/n
        for a copy of n×n blocks, with sides rounded up (`block_averaged`); its own for one
        Qt scaled to the sides rounded down."""
        if image.width() == -(-self.width // n) and image.height() == -(-self.height // n):
            return 1.0 / n, 1.0 / n
        return image.width() / self.width, image.height() / self.height

    def _level(self, level: int) -> QImage:
        # made from the image itself: halving the half-size copy weighed a last partial row
        # twice (at 25 % a 151-row image's last row was 0.25·r148 + 0.25·r149 + 0.5·r150)
        level = min(level, max(self.width, self.height).bit_length())  # (past 1×1 nothing changes)
        if level not in self._levels:
            self._levels[level] = block_averaged(self.image, 1 << level)
        return self._levels[level]

    def build_levels(self, smallest_side: int = 1024) -> None:
        """Make the half-size copies down to one whose longer side is at most `smallest_side`
        now (in the worker that made the layer) rather than in the first paint of a
        zoomed-out view, on the GUI thread."""
        level = 0
        while max(self.width, self.height) >> level > smallest_side:
            level += 1
            self._level(level)

    def paint(self, painter: QPainter, view: ViewTransform, scene_rect: QRectF, pane: QRectF,
              clip: QRectF, checker: QBrush) -> None:
        """Draw the visible part of the layer, which covers ``scene_rect`` of the scene,
        inside ``clip`` of ``pane``: smooth where one layer pixel covers at most one view
        pixel (from a reduced copy when zoomed far out), else as sharp blocks; transparent
        pixels over ``checker``. Decided per layer: the original under a ×4 result is
        magnified 4× more than the result (it was drawn smoothed, beside a sharp result)."""
        visible = view.widget_rect_to_scene(clip, pane).intersected(scene_rect)
        if visible.isEmpty():
            return
        fx = scene_rect.width() / self.width  # scene pixels per layer pixel
        fy = scene_rect.height() / self.height
        magnification = view.zoom * min(fx, fy)  # view pixels per layer pixel
        smooth = magnification <= 1.0 + 1e-9
        if smooth:
            # Whole layer pixels, with a margin so smooth sampling has its neighbours.
            margin = 2
            lx0 = max(0, math.floor((visible.left() - scene_rect.left()) / fx) - margin)
            ly0 = max(0, math.floor((visible.top() - scene_rect.top()) / fy) - margin)
            lx1 = min(self.width, math.ceil((visible.right() - scene_rect.left()) / fx) + margin)
            ly1 = min(self.height, math.ceil((visible.bottom() - scene_rect.top()) / fy) + margin)
            if lx1 <= lx0 or ly1 <= ly0:
                return
            target = view.scene_rect_to_widget(
                QRectF(scene_rect.left() + lx0 * fx, scene_rect.top() + ly0 * fy,
                       (lx1 - lx0) * fx, (ly1 - ly0) * fy), pane)
            image, rx, ry = self.level_for(magnification)
            source = QRectF(lx0 * rx, ly0 * ry, (lx1 - lx0) * rx, (ly1 - ly0) * ry)
        else:
            # the whole layer through its own transform, clipped (the raster engine visits the
            # clip's pixels only: a 1200×800 view of a 6000×4000 result at 430 % paints in 1.3
            # ms, 1.2 before; at a device pixel ratio of 2, 4.6 ms (3.7), and 16-22 ms for a
            # transparent one (13-15), on 2 CPU cores). Drawn as a part into a rectangle, Qt
            # rounded each block's edges from where that part started: the same pixel went to
            # other screen columns as the divider moved (a ×2 result at its fit zoom of 430 %
            # in a 1000×700 window: 8 % of the after side changed though its content did not),
            # and a region's result drew unlike the result around it
            target = view.scene_rect_to_widget(scene_rect, pane)
            image = self.image
            source = None
        painter.save()
        painter.setClipRect(clip)
        if self.has_alpha:
            # the squares on the image's grid, not the widget's: side by side, the two panes'
            # squares lay differently under the same pixels (up to 26 levels apart)
            painter.setBrushOrigin(view.origin(pane))
            painter.fillRect(target.intersected(clip), checker)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        if source is not None:
            painter.drawImage(target, image, source)
        else:
            # (the 1e-9 shear, a billionth of a pixel, keeps Qt off its scaled-rectangle path,
            # which rounds the layer's own origin: every screen pixel is then mapped back to
            # the layer pixel under its centre, the same from every layer and every pane)
            painter.setTransform(QTransform(target.width() / self.width, 1e-9, 1e-9,
                                            target.height() / self.height, target.left(), target.top()), True)
            painter.drawImage(QPointF(0, 0), image)
        painter.restore()
