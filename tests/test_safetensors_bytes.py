"""Safetensors written by the app have the same bytes for the same tensors and metadata:
safetensors' own header came out in a random key order at each save, so two seeded
training runs with equal weights wrote files of different sha256."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load

from sr_desktop.engine.core.safetensors_bytes import safetensors_bytes


def tensors_and_metadata():
    generator = torch.Generator().manual_seed(0)
    tensors = {name: torch.randn(shape, generator=generator).to(dtype) for name, shape, dtype in (
        ("body.0.weight", (4, 3, 3, 3), torch.float32), ("body.0.bias", (4,), torch.float16),
        ("tail.weight", (3, 4, 1, 1), torch.float32), ("scale", (1,), torch.float64))}
    metadata = {f"key{i}": f"value {i}" for i in range(12)} | {"note": "ü ✓"}
    return tensors, metadata


def test_the_same_weights_give_the_same_bytes_every_time():
    tensors, metadata = tensors_and_metadata()
    reordered = dict(reversed(list(metadata.items())))
    written = {safetensors_bytes(tensors, metadata if i % 2 else reordered) for i in range(24)}
    assert len(written) == 1


def test_they_read_back_as_written_and_the_header_stays_aligned():
    tensors, metadata = tensors_and_metadata()
    data = safetensors_bytes(tensors, metadata)
    assert int.from_bytes(data[:8], "little") % 8 == 0
    back = load(data)
    assert back.keys() == tensors.keys() and all(torch.equal(back[k], tensors[k]) for k in tensors)
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    assert header["__metadata__"] == metadata
