"""An ICC profile for a colour space stated by CICP code points (a HEIF's ``nclx`` box).

HEIF and AVIF files may state their colour space with the code points of ITU-T H.273
(colour primaries, transfer characteristics) instead of an ICC profile; Android phones and
encoders do. The app carries colour as an ICC profile (kept in outputs, shown converted to
sRGB), so such a space is turned into one: a matrix/TRC display profile (ICC v2.1, the
colorants adapted to D50 with the Bradford transform, as every such profile is built). A
file in Display P3 stated only by nclx was read as sRGB: its red 60 levels off on screen.
HDR transfers (PQ, HLG) have no such profile: None, and the reader says so. The same kind
of profile is built for Adobe RGB, which a camera JPEG states by its EXIF alone.
"""

from __future__ import annotations

import struct

import numpy as np

#: chromaticities (x, y) of red, green, blue and white, by H.273 colour primaries
PRIMARIES = {
    1: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), (0.3127, 0.3290)),  # BT.709 / sRGB
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), (0.3127, 0.3290)),  # BT.2020
    11: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.314, 0.351)),  # DCI-P3 (SMPTE RP 431-2)
    12: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.3127, 0.3290)),  # Display P3 (SMPTE EG 432-1)
}
PRIMARY_NAMES = {1: "sRGB", 9: "BT.2020", 11: "DCI-P3", 12: "Display P3"}
#: H.273 transfer characteristics: the sRGB curve (and the BT.709 family, 1/6/14/15, taken
#: for it as viewers take it: a camera's OETF is not a display curve), pure powers, linear;
#: HDR ones have no profile
SRGB_TRANSFER = 13
_SRGB_LIKE = {SRGB_TRANSFER, 1, 6, 14, 15}
_GAMMA = {4: 2.2, 5: 2.8, 8: 1.0}
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}

_D50 = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def _xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1.0 - x - y) / y])


def _colorants(primaries: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(the white point's XYZ, the 3×3 matrix whose columns are red, green and blue's XYZ
    adapted to D50) of `primaries`: the (x, y) of red, green, blue and white."""
    red, green, blue, white = primaries
    columns = np.stack([_xyz(*red), _xyz(*green), _xyz(*blue)], axis=1)
    white_xyz = _xyz(*white)
    to_xyz = columns * np.linalg.solve(columns, white_xyz)  # (R = G = B = 1 is the white)
    cone_ratio = (_BRADFORD @ _D50) / (_BRADFORD @ white_xyz)
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(cone_ratio) @ _BRADFORD
    return white_xyz, adapt @ to_xyz


def _s15f16(values) -> bytes:
    return b"".join(struct.pack(">i", round(float(v) * 65536)) for v in values)


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + bytes(4) + _s15f16(xyz)


def _curve_tag(transfer: int | float) -> bytes:
    """The sRGB curve for an sRGB-like H.273 transfer, else a pure power: `_GAMMA`'s for an
    H.273 code, or `transfer` itself given as a float (Adobe RGB's 563/256)."""
    if isinstance(transfer, float):
        return b"curv" + bytes(4) + struct.pack(">IH", 1, round(transfer * 256)) + bytes(2)
    if transfer not in _SRGB_LIKE:  # a pure power: one u8Fixed8 value
        return b"curv" + bytes(4) + struct.pack(">IH", 1, round(_GAMMA[transfer] * 256)) + bytes(2)
    v = np.linspace(0.0, 1.0, 1024)
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
    table = np.round(linear * 65535).astype(">u2").tobytes()
    return b"curv" + bytes(4) + struct.pack(">I", 1024) + table


def _text_tags(name: str) -> tuple[bytes, bytes]:
    ascii_name = name.encode("ascii") + b"\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(ascii_name)) + ascii_name + bytes(4 + 4 + 2 + 1 + 67)
    cprt = b"text" + bytes(4) + b"No copyright, use freely\0"
    return desc, cprt


def _padded(tag: bytes) -> bytes:
    return tag + bytes(-len(tag) % 4)


def icc_from_cicp(primaries: int, transfer: int) -> bytes | None:
    """An ICC profile for the CICP colour primaries and transfer characteristics, or None
    for sRGB itself (nothing to attach) and for what has no matrix/TRC profile (HDR
    transfers, unknown code points)."""
    if primaries not in PRIMARIES or (transfer not in _GAMMA and transfer not in _SRGB_LIKE):
        return None
    if primaries == 1 and transfer in _SRGB_LIKE:
        return None
    curve_name = "sRGB curve" if transfer in _SRGB_LIKE else f"gamma {_GAMMA[transfer]:g}"
    return _matrix_trc_profile(f"{PRIMARY_NAMES[primaries]} ({curve_name}), from CICP {primaries}/{transfer}",
                               PRIMARIES[primaries], _curve_tag(transfer))


#: Adobe RGB (1998): its primaries, D65 white and its gamma, 563/256 (Adobe's specification)
ADOBE_RGB_PRIMARIES = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06), (0.3127, 0.3290))
ADOBE_RGB_GAMMA = 563 / 256


def adobe_rgb_profile() -> bytes:
    """A matrix/TRC profile of Adobe RGB (1998): for a camera JPEG that states it in its EXIF
    only (`exif.exif_colour_space`), as cameras set to Adobe RGB write it, with no profile."""
    return _matrix_trc_profile("Adobe RGB (1998), from the EXIF colour space", ADOBE_RGB_PRIMARIES,
                               _curve_tag(ADOBE_RGB_GAMMA))


def _matrix_trc_profile(name: str, primaries: tuple, curve: bytes) -> bytes:
    white, colorants = _colorants(primaries)
    desc, cprt = _text_tags(name)
    tags = [(b"desc", desc), (b"cprt", cprt), (b"wtpt", _xyz_tag(white / white[1])),
            (b"rXYZ", _xyz_tag(colorants[:, 0])), (b"gXYZ", _xyz_tag(colorants[:, 1])),
            (b"bXYZ", _xyz_tag(colorants[:, 2])), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data, placed = b"", b"", {}
    for signature, body in tags:
        if body in placed:  # (the three curves share one body, as ICC allows)
            at = placed[body]
        else:
            at = offset + len(data)
            placed[body] = at
            data += _padded(body)
        table += signature + struct.pack(">II", at, len(body))
    size = offset + len(data)
    header = (struct.pack(">I", size) + bytes(4) + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + bytes(4 + 4 + 4 + 4 + 8)
              + struct.pack(">I", 0) + _s15f16(_D50) + bytes(4 + 16 + 28))
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def describe_cicp(primaries: int, transfer: int) -> str:
    """Words for code points that get no profile ("BT.2020 with the PQ transfer")."""
    name = PRIMARY_NAMES.get(primaries, f"colour primaries {primaries}")
    curve = HDR_TRANSFERS.get(transfer, f"transfer {transfer}")
    return f"{name} with the {curve} transfer" if transfer in HDR_TRANSFERS else f"{name}, {curve}"


def nclx_in_iso_media(data: bytes) -> tuple[int, int] | None:
    """(colour primaries, transfer characteristics) of the first ``colr`` box of type
    ``nclx`` in an ISO media file's ``meta``/``iprp``/``ipco`` (an AVIF's, which Pillow does
    not give); None when there is none or the boxes cannot be read."""
    try:
        meta = _child(data, 0, len(data), b"meta")
        iprp = meta and _child(data, meta[0] + 4, meta[1], b"iprp")  # (meta is a full box)
        ipco = iprp and _child(data, iprp[0], iprp[1], b"ipco")
        at = ipco[0] if ipco else None
        while ipco and at is not None and at < ipco[1]:
            body, end, kind = _box(data, at, ipco[1])
            if kind == b"colr" and data[body:body + 4] == b"nclx" and end - body >= 11:
                primaries, transfer = struct.unpack_from(">HH", data, body + 4)
                return primaries, transfer
            at = end
    except (struct.error, ValueError):
        return None
    return None


def _box(data: bytes, at: int, limit: int) -> tuple[int, int, bytes]:
    """(where its body starts, where it ends, its type) of the box at `at`."""
    size, kind = struct.unpack_from(">I4s", data, at)
    header = 8
    if size == 1:
        (size,) = struct.unpack_from(">Q", data, at + 8)
        header = 16
    elif size == 0:
        size = limit - at
    if size < header or at + size > limit:
        raise ValueError("a box past its parent")
    return at + header, at + size, kind


def _child(data: bytes, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """(body start, end) of the first box of `kind` between `start` and `end`."""
    at = start
    while at + 8 <= end:
        body, box_end, found = _box(data, at, end)
        if found == kind:
            return body, box_end
        at = box_end
    return None
