"""Safetensors files with the same bytes for the same tensors and metadata.

safetensors writes its JSON header from a hash map: the metadata's keys (and the tensors'
entries) came out in another order at each save, so two seeded training runs with equal
weights wrote files of different sha256, and `bench` recorded two digests for one network.
The header is written again here with its keys sorted; the tensor data is untouched (its
layout is already fixed: by dtype, then name).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: the header's length prefix: a little-endian unsigned 64-bit integer
_PREFIX = 8
#: the header is padded with spaces to a multiple of this (as safetensors pads it)
_ALIGN = 8


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """`tensors` (contiguous) and `metadata` as a safetensors file's bytes, its header's keys
    in sorted order."""
    from safetensors.torch import save

    return canonical_header(save(tensors, metadata=metadata))


def canonical_header(data: bytes) -> bytes:
    """A safetensors file's bytes with its JSON header's keys sorted, compact, padded with
    spaces to the alignment; the data after it as it was."""
    length = int.from_bytes(data[:_PREFIX], "little")
    header = json.loads(data[_PREFIX:_PREFIX + length])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % _ALIGN)
    return len(text).to_bytes(_PREFIX, "little") + text + data[_PREFIX + length:]
