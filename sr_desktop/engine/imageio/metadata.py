"""The metadata an image file carries besides its pixels, as the encoders take it."""

from __future__ import annotations

from dataclasses import dataclass

ICC_SPACE_RGB = b"RGB "
ICC_SPACE_GRAY = b"GRAY"
ICC_SPACE_CMYK = b"CMYK"


def icc_space(icc: bytes | None) -> bytes | None:
    """The colour space signature (header bytes 16..20) of an ICC profile, or None."""
    return icc[16:20] if icc and len(icc) >= 20 else None


@dataclass(frozen=True)
class FileMetadata:
    """What is written next to the pixels: ICC profile, EXIF block, resolution (dpi)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None


NO_METADATA = FileMetadata()
