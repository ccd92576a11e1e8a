"""XMP packets: the XML block photo managers write (rating, keywords, caption, rights).

An upscaled file keeps its source's packet, but the few properties that describe the
pixels must describe the written ones: ``tiff:Orientation`` is 1 (the reader turned the
pixels upright), ``tiff:ImageWidth``/``ImageLength`` and ``exif:PixelXDimension``/
``PixelYDimension`` are the written size, ``xmp:Thumbnails`` (an image in the old size and
orientation) is left out, and after a quarter turn ``tiff:XResolution``/``YResolution``
swap. The packet is edited as text, in place, so that everything else stays byte for byte
(re-serialising XML would rename prefixes and lose the ``xpacket`` wrapper); a packet in
which one of those properties is written in a form this does not edit is dropped rather
than written back contradicting the pixels.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

TIFF_NS = "http://ns.adobe.com/tiff/1.0/"
EXIF_NS = "http://ns.adobe.com/exif/1.0/"
XMP_BASIC_NS = "http://ns.adobe.com/xap/1.0/"

#: JPEG's APP1 segment holds 65533 bytes, less the XMP namespace header (29 bytes); a larger
#: packet needs "extended XMP" (several segments), which this does not write
JPEG_MAX_XMP = 65533 - 29


def _prefixes(text: str, namespace: str) -> list[str]:
    """The prefixes the packet binds to `namespace` (``xmlns:tiff="…/tiff/1.0/"``)."""
    return re.findall(r"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']""" + re.escape(namespace) + """["']""", text)


class _Unsupported(Exception):
    """A property is written in a form that `_set` cannot edit."""


def _set(text: str, namespace: str, name: str, value) -> str:
    """`text` with the property `name` of `namespace` set to `value` where it is present:
    given a callable, `value` maps the old value (a string) to the new one."""
    for prefix in _prefixes(text, namespace):
        qname = re.escape(f"{prefix}:{name}")
        edited = 0

        def put(match: re.Match) -> str:
            nonlocal edited
            edited += 1
            old = match.group("value")
            new = value(old) if callable(value) else str(value)
            return match.group("head") + new + match.group("tail")

        # attribute form: tiff:Orientation="6"
        text = re.sub(r"""(?P<head>[\s]""" + qname + r"""\s*=\s*(?P<q>["']))(?P<value>[^"'<>]*)(?P<tail>(?P=q))""",
                      put, text)
        # element form: <tiff:Orientation>6</tiff:Orientation>
        text = re.sub(r"(?P<head><" + qname + r"\s*>)(?P<value>[^<]*)(?P<tail></" + qname + r"\s*>)", put, text)
        if len(re.findall(r"[\s<]" + qname + r"\b", text)) != edited:
            raise _Unsupported(f"{prefix}:{name}")
    return text


def _drop(text: str, namespace: str, name: str) -> str:
    """`text` without the property `name` of `namespace` (element or attribute form). Each
    element is cut up to its own closing tag, found by one forward search: a lazy regex over
    a hostile packet of unclosed tags took 12 s for 230 KB."""
    for prefix in _prefixes(text, namespace):
        qname = re.escape(f"{prefix}:{name}")
        opening, closing = re.compile(r"<" + qname + r"\b"), re.compile(r"</" + qname + r"\s*>")
        kept, pos = [], 0
        while (start := opening.search(text, pos)) is not None:
            kept.append(text[pos:start.start()])
            tag_end = text.find(">", start.end())
            if tag_end < 0:
                raise _Unsupported(f"{prefix}:{name}")
            if text[tag_end - 1] == "/":  # <xmp:Thumbnails/>
                pos = tag_end + 1
                continue
            close = closing.search(text, tag_end)
            if close is None:
                raise _Unsupported(f"{prefix}:{name}")
            pos = close.end()
        text = "".join(kept) + text[pos:]
        text = re.sub(r"""\s""" + qname + r"""\s*=\s*(["'])[^"']*\1""", "", text)
        if re.search(r"[\s<]" + qname + r"\b", text):
            raise _Unsupported(f"{prefix}:{name}")
    return text


def _swap(text: str, namespace: str, first: str, second: str) -> str:
    """`text` with the values of two properties of `namespace` exchanged (both present)."""
    values = {}
    for name in (first, second):
        _set(text, namespace, name, lambda old, name=name: values.setdefault(name, old))
    if len(values) != 2:
        return text
    text = _set(text, namespace, first, values[second])
    return _set(text, namespace, second, values[first])


def upright_xmp(packet: bytes | None, turned: int) -> bytes | None:
    """The packet of a file whose pixels the reader turned upright by the EXIF orientation
    `turned` (1 = not turned): orientation 1, no thumbnail after a turn (2–8), resolution
    swapped after a quarter turn (5–8). None when there is none or it cannot be edited."""
    return _edit(packet, turned=turned)


def sized_xmp(packet: bytes | None, size: tuple[int, int]) -> bytes | None:
    """The packet with the pixel dimensions it states set to `size` (width, height)."""
    return _edit(packet, size=size)


def _edit(packet: bytes | None, turned: int = 1, size: tuple[int, int] | None = None) -> bytes | None:
    if not packet:
        return None
    try:
        text = bytes(packet).decode("utf-8")
    except UnicodeDecodeError:  # (UTF-16/32 packets are allowed and all but unseen)
        log.info("XMP packet is not UTF-8; not written")
        return None
    if re.search(r"""xmlns\s*=\s*["'](?:""" + re.escape(TIFF_NS) + "|" + re.escape(EXIF_NS) + """)["']""", text):
        # properties of a default namespace carry no prefix to find them by
        log.info("XMP packet declares the tiff/exif namespace as its default; not written")
        return None
    try:
        text = _set(text, TIFF_NS, "Orientation", 1)
        if 2 <= turned <= 8:
            text = _drop(text, XMP_BASIC_NS, "Thumbnails")
        if 5 <= turned <= 8:
            text = _swap(text, TIFF_NS, "XResolution", "YResolution")
        if size is not None:
            for namespace, width, height in ((TIFF_NS, "ImageWidth", "ImageLength"),
                                             (EXIF_NS, "PixelXDimension", "PixelYDimension")):
                text = _set(text, namespace, width, size[0])
                text = _set(text, namespace, height, size[1])
    except _Unsupported as exc:
        log.info("XMP property %s is in a form not edited here; the XMP packet is not written", exc)
        return None
    return text.encode("utf-8")


def without_gps_xmp(packet: bytes | None) -> bytes | None:
    """The packet without its GPS properties: every property, of any namespace, whose name
    begins with "GPS" (``exif:GPSLatitude``, a drone's ``drone-dji:GpsLongitude``, the
    ``GPSLatitude`` inside ``Iptc4xmpExt:LocationCreated``), in element or attribute form.
    None when there is none, or when a GPS name is still there after (a form not edited
    here, a default namespace): a packet that may hold the position is not written."""
    if not packet:
        return None
    try:
        text = bytes(packet).decode("utf-8")
    except UnicodeDecodeError:
        log.info("XMP packet is not UTF-8; not written")
        return None
    bound = dict(re.findall(r"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']""", text))
    names = {(bound[prefix], name) for prefix, name in re.findall(r"([A-Za-z_][\w.-]*):(gps\w*)", text, re.I)
             if prefix in bound}
    try:
        for namespace, name in sorted(names):
            text = _drop(text, namespace, name)
    except _Unsupported as exc:
        log.info("XMP property %s is in a form not edited here; the XMP packet is not written", exc)
        return None
    # (an element <…:GPS…> or an attribute …:GPS…="…" left; not a namespace named gps, nor words)
    if re.search(r"<(?:[\w.-]+:)?gps\w*[\s>/]|\s(?!xmlns:)[\w.-]+:gps\w*\s*=", text, re.I):
        log.info("XMP packet holds a GPS property in a form not edited here; not written")
        return None
    return text.encode("utf-8")
