"""What the compare view's two sides show, and how it is drawn.

Before: the original. After: a display override (a map) if set; otherwise the result, or
the original with upscaled regions pasted over it. The scene is the result's pixel grid
(``sx``, ``sy`` scene pixels per original pixel); the original and maps are drawn
stretched over it so everything lines up pixel for pixel.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QPainter

from sr_desktop.gui.compare.geometry import ViewTransform
from sr_desktop.gui.compare.image import DisplayImageError, ImageLayer
from sr_desktop.gui.compare.region import Box

#: result pixels of pasted regions the after side keeps, newest first (about 130 MB as 8-bit
#: RGBA): a region's own result is never dropped
KEPT_REGION_PIXELS = 32_000_000


def _contains(outer: Box, inner: Box) -> bool:
    """Whether box `outer` covers all of box `inner`."""
    ox, oy, ow, oh = outer
    ix, iy, iw, ih = inner
    return ox <= ix and oy <= iy and ix + iw <= ox + ow and iy + ih <= oy + oh


def as_layer(pixels, icc: bytes | None = None) -> ImageLayer:
    """Accept a bare array (its colours described by the ICC profile `icc`, if any), an
    engine Image (its own profile), or an ImageLayer already converted (e.g. in a worker
    thread: building one only uses QImage, which is safe outside the GUI thread)."""
    if isinstance(pixels, ImageLayer):
        return pixels
    return ImageLayer(getattr(pixels, "pixels", pixels), getattr(pixels, "icc_profile", icc))


class CompareContent:
    """The layers of both sides and the scene grid they are drawn on."""

    def __init__(self) -> None:
        self.original: ImageLayer | None = None
        self.result: ImageLayer | None = None
        self.result_scale = 1
        self.patches: list[tuple[Box, ImageLayer, int]] = []
        #: what the patches lie on when it is not the original shown on the before side (an
        #: animation playing there: the regions were enhanced on its first frame)
        self.patch_base: ImageLayer | None = None
        self.override: ImageLayer | None = None
        self.override_label = "After"
        #: the before side's label while the override shows (an evaluated model's: "Ground truth")
        self.override_before = "Before"
        #: the ICC profile of the original's colours (and so of its results and regions);
        #: None: sRGB
        self.icc: bytes | None = None
        self.after_caption = ""  # what made the result ("SPAN ×4"), set by the window
        self.sx = 1.0  # scene pixels per original pixel
        self.sy = 1.0

    def set_original(self, layer: ImageLayer) -> None:
        """A new original: everything of the after side is dropped, the grid is ×1."""
        self.original = layer
        self.result = None
        self.after_caption = ""
        self.result_scale = 1
        self.patches = []
        self.patch_base = None
        self.override = None
        self.sx = self.sy = 1.0

    def require_original(self) -> ImageLayer:
        if self.original is None:
            raise DisplayImageError("no original image is shown yet")
        return self.original

    def set_result(self, layer: ImageLayer, scale: int) -> tuple[float, float]:
        """The whole upscaled image (same aspect ratio as the original); drops pasted
        regions and the override. Returns the scene scale (sx, sy) it needs."""
        original = self.require_original()
        expected_h = original.height * layer.width / original.width
        if abs(layer.height - expected_h) > max(2.0, 0.02 * layer.height):
            raise DisplayImageError(
                f"result of {layer.width}×{layer.height} does not have the aspect ratio of the "
                f"{original.width}×{original.height} original")
        self.result = layer
        self.result_scale = int(scale)
        self.patches = []
        self.override = None
        return layer.width / original.width, layer.height / original.height

    def paste_region(self, box: Box, pixels, scale: int) -> None:
        """Paste an upscaled region (`box` already clipped to the original; pixels as for
        :func:`as_layer`) over the original; a full result is dropped, and so are regions
        pasted at another scale."""
        x, y, w, h = box
        scale = int(scale)
        if scale < 1:
            raise DisplayImageError(f"scale must be a positive integer, got {scale}")
        layer = as_layer(pixels, self.icc)
        if (layer.width, layer.height) != (w * scale, h * scale):
            raise DisplayImageError(
                f"region result is {layer.width}×{layer.height}, expected "
                f"{w * scale}×{h * scale} for a {w}×{h} region at ×{scale}")
        self.result = None
        if self.patches and self.patches[0][2] != scale:
            self.patches = []
        self.override = None
        # A region moved and run again added a layer each time, all kept (+5 MB a move of a
        # 300×200 region at ×4, repaints 10× slower after 200): those the new one hides are
        # dropped, and the oldest beyond KEPT_REGION_PIXELS
        kept = [patch for patch in self.patches if not _contains(box, patch[0])]
        kept.append(((x, y, w, h), layer, scale))
        total = sum(patch[1].width * patch[1].height for patch in kept)
        while len(kept) > 1 and total > KEPT_REGION_PIXELS:
            dropped = kept.pop(0)
            total -= dropped[1].width * dropped[1].height
        self.patches = kept
        self.result_scale = scale

    def drop_regions(self) -> None:
        """Forget the pasted regions (the after side is empty unless a result is set)."""
        self.patches = []
        self.patch_base = None

    def has_result(self) -> bool:
        """True when the after side has something (a result, region results or a map)."""
        return self.result is not None or bool(self.patches) or self.override is not None

    def before_label(self) -> str:
        """"Before", or the override's before label ("Ground truth" beside an evaluated model)."""
        return self.override_before if self.override is not None else "Before"

    def after_label(self) -> str:
        """"After · SPAN ×4", "After (region) · …", or the override's label (a map)."""
        if self.override is not None:
            return self.override_label
        label = "After (region)" if self.result is None and self.patches else "After"
        return f"{label} · {self.after_caption}" if self.after_caption else label

    def scene_rect(self, view: ViewTransform) -> QRectF:
        return QRectF(0.0, 0.0, view.scene_width, view.scene_height)

    def override_rect(self, view: ViewTransform) -> QRectF:
        """Where the override lies on the scene: over the whole image when it is the image's
        size times a whole factor (a map of the result), else from the top-left corner at
        that factor (an evaluation's image, cut to a multiple of its scale: stretched over
        the image it sat up to 3 pixels off the original beside it)."""
        layer, original = self.override, self.original
        per_pixel = max(1, round(layer.width / original.width))
        if layer.width == original.width * per_pixel and layer.height == original.height * per_pixel:
            return self.scene_rect(view)
        return QRectF(0.0, 0.0, layer.width / per_pixel * self.sx, layer.height / per_pixel * self.sy)

    def region_scene_rect(self, box: Box) -> QRectF:
        """A box of original pixels on the scene grid."""
        x, y, w, h = box
        return QRectF(x * self.sx, y * self.sy, w * self.sx, h * self.sy)

    def paint_before(self, painter: QPainter, view: ViewTransform, pane: QRectF, clip: QRectF,
                     checker: QBrush) -> None:
        self.original.paint(painter, view, self.scene_rect(view), pane, clip, checker)

    def paint_after(self, painter: QPainter, view: ViewTransform, pane: QRectF, clip: QRectF,
                    checker: QBrush) -> None:
        scene = self.scene_rect(view)
        if self.override is not None:
            self.override.paint(painter, view, self.override_rect(view), pane, clip, checker)
            return
        base = self.result if self.result is not None else (self.patch_base or self.original)
        base.paint(painter, view, scene, pane, clip, checker)
        for (x, y, _w, _h), layer, scale in self.patches:
            rect = QRectF(x * scale, y * scale, layer.width, layer.height)
            layer.paint(painter, view, rect, pane, clip, checker)
