"""Does a JPEG's scan data hold every block its header declares?

libjpeg fills what a scan lacks with uniform grey and reports it only as a warning, which
Pillow does not pass on: a JPEG whose SOF header is patched to declare 4× the rows of its
scan decodes to the real picture over grey. This walks the Huffman-coded data of each scan
(symbols and their extra bits, no dequantisation, no IDCT) and counts the units (MCUs, or
blocks in a one-component scan) it holds, to compare them with what the header declares.

It is pure Python, so :mod:`.read` runs it only when the decoded picture ends in libjpeg's
grey fill. Arithmetic-coded, lossless and hierarchical JPEGs, and progressive AC
refinement scans (which need the state of earlier scans), are not checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

_SOF_HUFFMAN = {0xC0: "sequential", 0xC1: "sequential", 0xC2: "progressive"}
_SOF_OTHER = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_RST = range(0xD0, 0xD8)
_PEEK = 16


@dataclass
class _Frame:
    kind: str
    width: int
    height: int
    components: dict[int, tuple[int, int]]  # id -> (h, v) sampling factors
    tables: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # (class, id) -> lookup
    restart: int = 0


def missing_units(data: bytes) -> tuple[int, int] | None:
    """(units found, units declared) for the first scan that holds fewer units than the
    header declares; None when every checked scan is complete or the file is not one this
    module can check (Pillow's own checks then decide)."""
    try:
        return _walk(data)
    except (IndexError, struct.error, ValueError):
        return None  # a structure this walk cannot follow: Pillow's own errors decide


def _walk(data: bytes) -> tuple[int, int] | None:
    if data[:2] != b"\xff\xd8":
        return None
    frame: _Frame | None = None
    pending: dict[tuple[int, int], list[int]] = {}
    restart = 0
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return None
        if marker in _RST or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        body = data[pos + 4 : pos + 2 + length]
        pos += 2 + length
        if marker in _SOF_OTHER:
            return None
        if marker in _SOF_HUFFMAN:
            frame = _read_sof(body, _SOF_HUFFMAN[marker])
            if frame is None:
                return None
        elif marker == 0xC4:
            pending.update(_read_dht(body))
        elif marker == 0xDD:
            (restart,) = struct.unpack(">H", body[:2])
        elif marker == 0xDA:
            if frame is None:
                return None
            frame.tables.update(pending)
            frame.restart = restart
            end = _scan_end(data, pos)
            short = _check_scan(frame, body, data[pos:end])
            if short is not None:
                return short
            pos = end
    return None


def _read_sof(body: bytes, kind: str) -> _Frame | None:
    precision, height, width, count = struct.unpack(">BHHB", body[:6])
    if precision != 8 or height == 0 or width == 0:  # (height 0: set later by a DNL marker)
        return None
    components = {}
    for index in range(count):
        cid, sampling = body[6 + 3 * index], body[7 + 3 * index]
        components[cid] = (sampling >> 4, sampling & 15)
    return _Frame(kind, width, height, components)


def _read_dht(body: bytes) -> dict[tuple[int, int], list[int]]:
    """Huffman tables as 16-bit lookups: entry = code length << 8 | symbol (0 = no code)."""
    tables = {}
    pos = 0
    while pos + 17 <= len(body):
        klass, ident = body[pos] >> 4, body[pos] & 15
        counts = body[pos + 1 : pos + 17]
        symbols = body[pos + 17 : pos + 17 + sum(counts)]
        pos += 17 + sum(counts)
        lookup = [0] * (1 << _PEEK)
        code, index = 0, 0
        for length, count in enumerate(counts, start=1):
            for _ in range(count):
                shift = _PEEK - length
                if (code + 1) << shift > len(lookup):
                    raise ValueError("bad Huffman table")
                lookup[code << shift : (code + 1) << shift] = [length << 8 | symbols[index]] * (1 << shift)
                code += 1
                index += 1
            code <<= 1
        tables[(klass, ident)] = lookup
    return tables


def _scan_end(data: bytes, pos: int) -> int:
    """Offset of the marker that ends the entropy-coded data starting at ``pos``."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return len(data)
        nxt = data[pos + 1]
        if nxt != 0x00 and nxt not in _RST and nxt != 0xFF:
            return pos
        pos += 2 if nxt != 0xFF else 1


def _check_scan(frame: _Frame, header: bytes, coded: bytes) -> tuple[int, int] | None:
    count = header[0]
    members = [(header[1 + 2 * i], header[2 + 2 * i]) for i in range(count)]
    ss, se, ahal = header[1 + 2 * count], header[2 + 2 * count], header[3 + 2 * count]
    ah = ahal >> 4
    hmax = max(h for h, _ in frame.components.values())
    vmax = max(v for _, v in frame.components.values())
    blocks: list[tuple[list[int] | None, list[int] | None]] = []
    if count == 1:  # a one-component scan counts that component's blocks
        h, v = frame.components[members[0][0]]
        units = _ceil_div(_ceil_div(frame.width * h, hmax), 8) * _ceil_div(_ceil_div(frame.height * v, vmax), 8)
        tables = members[0][1]
        blocks.append((frame.tables.get((0, tables >> 4)), frame.tables.get((1, tables & 15))))
    else:
        units = _ceil_div(frame.width, 8 * hmax) * _ceil_div(frame.height, 8 * vmax)
        for cid, tables in members:
            h, v = frame.components[cid]
            blocks += [(frame.tables.get((0, tables >> 4)), frame.tables.get((1, tables & 15)))] * (h * v)
    if frame.kind == "sequential":
        mode = "dc+ac"
    elif ss == 0:
        mode = "dc" if ah == 0 else "dc-refine"
    elif ah == 0:
        mode = "ac"
    else:
        return None  # AC refinement needs the coefficients of the earlier scans
    needs_dc = mode in ("dc+ac", "dc")
    needs_ac = mode in ("dc+ac", "ac")
    if any((needs_dc and dc is None) or (needs_ac and ac is None) for dc, ac in blocks):
        return None
    segments = _split_restarts(coded)
    per_segment = frame.restart or units
    found = 0
    for index, segment in enumerate(segments):
        want = min(per_segment, units - index * per_segment)
        if want <= 0:
            break
        got = _count_units(segment, want, blocks, mode, ss, se)
        found += got
        if got < want:
            break
    return None if found >= units else (found, units)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _split_restarts(coded: bytes) -> list[bytes]:
    """The restart intervals of a scan's coded data, with byte stuffing removed."""
    segments, start, pos = [], 0, 0
    while True:
        pos = coded.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(coded):
            break
        if coded[pos + 1] in _RST:
            segments.append(coded[start:pos])
            start = pos + 2
        pos += 2
    segments.append(coded[start:])
    return [s.replace(b"\xff\x00", b"\xff") for s in segments]


def _count_units(segment: bytes, want: int, blocks: list, mode: str, ss: int, se: int) -> int:
    """How many whole units the Huffman-coded ``segment`` holds (at most ``want``)."""
    nbits = len(segment) * 8
    if mode == "dc-refine":  # one bit per block
        return min(want, nbits // len(blocks))
    buf = segment + b"\x00\x00\x00"

    def peek(p: int) -> int:
        i = p >> 3
        return (((buf[i] << 16) | (buf[i + 1] << 8) | buf[i + 2]) >> (8 - (p & 7))) & 0xFFFF

    p, units, eobrun = 0, 0, 0
    while units < want and (p < nbits or eobrun):
        for dc, ac in blocks:
            if p > nbits:
                return units
            if mode != "ac":
                entry = dc[peek(p)]
                if not entry:
                    return units
                p += (entry >> 8) + (entry & 15)
                if mode == "dc":
                    continue
            k = 1 if mode == "dc+ac" else ss
            last = 63 if mode == "dc+ac" else se
            if eobrun:
                eobrun -= 1
                continue
            while k <= last:
                if p > nbits:
                    return units
                entry = ac[peek(p)]
                if not entry:
                    return units
                p += entry >> 8
                run, size = (entry >> 4) & 15, entry & 15
                if size:
                    p += size
                    k += run + 1
                elif run == 15:
                    k += 16
                elif mode == "ac":  # an end-of-band run: this block and 2**run - 1 more
                    eobrun = (1 << run) - 1 + ((peek(p) >> (_PEEK - run)) if run else 0)
                    p += run
                    break
                else:
                    break
            if k > last + 1:
                return units  # a run past the end of the block: corrupt data
        if p > nbits:
            return units
        units += 1
    return units
