"""HEIF and AVIF files: the plugin that reads each (pillow-heif's, registered on first use;
Pillow's own AVIF), why one is not read when its plugin is missing, and their colour space
stated by CICP code points as an ICC profile (`cicp_profile`)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: the brands of an ISO media file (its ``ftyp`` box) that hold a HEIF image (HEVC-coded:
#: an iPhone's HEIC photo) or an AVIF one
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def heif_plugin() -> bool:
    """Whether Pillow has pillow-heif's HEIF plugin (registered on first use, without the
    thumbnails, depth and auxiliary images it would decode beside the photo)."""
    global _HEIF_READY
    if _HEIF_READY is None:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
            _HEIF_READY = True
        except Exception:  # (not installed, or a build that cannot start: HEIC is then not read)
            log.debug("pillow-heif not usable", exc_info=True)
            _HEIF_READY = False
    return _HEIF_READY


_HEIF_READY: bool | None = None


def profile_of_cicp(im, data: bytes, where) -> bytes | None:
    """The ICC profile of a HEIF's or AVIF's colour space stated by CICP code points alone
    (a HEIF's nclx as pillow-heif gives it, an AVIF's ``colr`` box read from `data`;
    `cicp_profile`); None for other formats, sRGB, and what no profile describes (HDR: read
    as sRGB, said in the log)."""
    from sr_desktop.engine.imageio.cicp_profile import (
        HDR_TRANSFERS,
        describe_cicp,
        icc_from_cicp,
        nclx_in_iso_media,
    )

    codes = None
    if im.format == "HEIF" and isinstance(nclx := im.info.get("nclx_profile"), dict):
        codes = nclx.get("color_primaries"), nclx.get("transfer_characteristics")
    elif im.format == "AVIF":
        codes = nclx_in_iso_media(data)
    if codes is None or not all(isinstance(code, int) for code in codes) or codes[0] in (0, 2):  # (2: unspecified)
        return None
    primaries, transfer = codes
    icc = icc_from_cicp(primaries, transfer)
    if icc is None and (primaries != 1 or transfer in HDR_TRANSFERS):
        log.info("%s: its colour space (%s) has no ICC profile here: read as sRGB, its colours may shift",
                 where, describe_cicp(primaries, transfer))
    return icc


def _iso_media_brands(data: bytes) -> set[bytes]:
    """The brands of an ISO media file (HEIC, AVIF, MP4…): its major brand and those it is
    compatible with, from its ``ftyp`` box; none for other data."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return set()
    end = min(len(data), int.from_bytes(data[:4], "big"))
    return {data[8:12]} | {data[at:at + 4] for at in range(16, end - 3, 4)}


def plugin_missing(data: bytes) -> str | None:
    """Why a HEIC or AVIF file is not read when the plugin that reads it is missing, else None."""
    from PIL import Image as PILImage

    brands = _iso_media_brands(data)
    if brands & _AVIF_BRANDS:
        if "AVIF" not in PILImage.OPEN:
            PILImage.init()
        if "AVIF" not in PILImage.OPEN:
            return "an AVIF image: reading it needs Pillow 11.3 or later built with AVIF (pip install -U pillow)"
    elif brands & _HEIF_BRANDS and not heif_plugin():
        return ("a HEIC/HEIF photo: reading it needs the optional package pillow-heif "
                "(pip install pillow-heif, or sr-desktop[heic])")
    return None
