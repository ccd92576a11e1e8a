"""Reader of ncnn ``.bin`` weight files.

The ``.bin`` is the concatenation of every layer's weight blobs, in layer order. Blobs that
ncnn loads with "type 0" (convolution / inner-product weights) start with a 4-byte tag that
says how they are stored; "type 1" blobs (biases, slopes, constants) are raw float32.
"""

from __future__ import annotations

import struct

import numpy as np

from sr_desktop.engine.models.ncnn.param import NcnnGraphError

TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_EXTRA = 0x0002C056


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


class BinReader:
    """Sequential reader of weight blobs from the bytes of a ``.bin`` file."""

    def __init__(self, data: bytes, source: str = "<bin>"):
        self.data = memoryview(data)
        self.pos = 0
        self.source = source

    def _take(self, nbytes: int) -> memoryview:
        if self.pos + nbytes > len(self.data):
            raise NcnnGraphError(
                f"{self.source}: weight file too short (needs {self.pos + nbytes} bytes, "
                f"has {len(self.data)}): cut short (an incomplete download?), or not this .param's .bin"
            )
        chunk = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def raw_float32(self, count: int) -> np.ndarray:
        """A "type 1" blob: `count` plain float32 values."""
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)

    def tagged(self, count: int) -> np.ndarray:
        """A "type 0" blob: a storage tag then `count` values (fp16, int8, quantised, fp32)."""
        tag_bytes = bytes(self._take(4))
        (tag,) = struct.unpack("<I", tag_bytes)
        if tag == TAG_FP16:
            values = np.frombuffer(self._take(2 * count), dtype="<f2").astype(np.float32)
            self._take(_align4(2 * count) - 2 * count)
            return values
        if tag == TAG_INT8:
            raise NcnnGraphError(f"{self.source}: int8-quantised weights are not supported")
        if tag == TAG_FP32_EXTRA:
            return self.raw_float32(count)
        if sum(tag_bytes) != 0:
            # 8-bit indices into a 256-entry float32 codebook
            table = np.frombuffer(self._take(256 * 4), dtype="<f4")
            index = np.frombuffer(self._take(count), dtype=np.uint8)
            self._take(_align4(count) - count)
            return table[index].astype(np.float32)
        return self.raw_float32(count)

    def remaining(self) -> int:
        return len(self.data) - self.pos
