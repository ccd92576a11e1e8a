"""The in-memory image the whole engine passes around."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np


@dataclass
class Image:
    """Pixels plus the metadata that must survive a round trip.

    ``pixels`` is H×W×C, C ∈ {1 (L), 2 (LA), 3 (RGB), 4 (RGBA)}, dtype uint8 (8-bit
    sources) or uint16 (16-bit sources). Palette, CMYK, 1-bit etc. are converted to one of
    these on reading. EXIF orientation is already applied to the pixels; ``exif`` holds
    the raw EXIF block with orientation reset to 1 (normal), ``xmp`` the XMP packet with
    its orientation reset too (`imageio.xmp`).
    """

    pixels: np.ndarray
    icc_profile: bytes | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    source_format: str | None = None  # "PNG", "JPEG", "WEBP", "TIFF", "BMP", ...
    path: Path | None = None
    info: dict = field(default_factory=dict)  # e.g. {"dpi": (300, 300)}

    def __post_init__(self) -> None:
        if not isinstance(self.pixels, np.ndarray):  # (a PIL image failed later on a missing attribute)
            kind = type(self.pixels).__name__
            raise TypeError(f"pixels must be a numpy array (np.asarray of a PIL image), got {kind}")
        if self.pixels.ndim == 2:
            self.pixels = self.pixels[:, :, None]
        if self.pixels.ndim != 3 or self.pixels.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f"pixels must be H×W×C with C in 1..4, got {self.pixels.shape}")
        if self.pixels.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"pixels must be uint8 or uint16, got {self.pixels.dtype}")
        if not self.pixels.shape[0] or not self.pixels.shape[1]:  # (numpy.pad failed on it deep in an upscale)
            raise ValueError(f"pixels must hold at least one pixel, got {self.pixels.shape}")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        return int(self.pixels.shape[2])

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def max_value(self) -> int:
        return 65535 if self.bit_depth == 16 else 255

    @property
    def has_alpha(self) -> bool:
        return self.channels in (2, 4)

    @property
    def is_gray(self) -> bool:
        return self.channels in (1, 2)

    @property
    def mode(self) -> str:
        return {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[self.channels]

    def with_pixels(self, pixels: np.ndarray) -> Image:
        """A copy carrying the same metadata with new pixels (e.g. the upscaled result)."""
        return replace(self, pixels=pixels, info=dict(self.info))
