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
    """What is written next to the pixels: ICC profile, EXIF block, resolution (dpi), XMP
    packet, IPTC-IIM records, and a PNG's colour chunks without a profile (gAMA's gamma,
    cHRM's white point and primaries: x, y pairs)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None
    xmp: bytes | None = None
    gamma: float | None = None
    chromaticity: tuple[float, ...] | None = None
    iptc: bytes | None = None


NO_METADATA = FileMetadata()


def in_srgb(im, icc: bytes):
    """The Pillow image `im`, whose colours the profile `icc` describes, converted to sRGB
    (RGB; an alpha band is not part of the conversion: the caller keeps it); None when the
    profile cannot be used (damaged, or of another colour space than the pixels)."""
    import io
    import logging

    from PIL import ImageCms

    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
        return ImageCms.profileToProfile(im, source, srgb, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        logging.getLogger(__name__).info("colour profile unusable; colours kept as stored", exc_info=True)
        return None


def srgb_profile() -> bytes:
    """An sRGB ICC profile (littleCMS's), for pixels `in_srgb` converted."""
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
