"""Which files are model files a user adds (``sr-desktop models add``, Models ▸ Add
model…, a drop on the window): PyTorch and safetensors weights and an ncnn ``.param`` or
``.bin`` (the other beside it). Light: no torch, no weights read."""

from __future__ import annotations

import os
from pathlib import Path

#: the suffixes `custom.add_custom_model` takes (an ncnn ``.bin`` alone is any binary file)
MODEL_FILE_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors", ".param")


def is_model_file_name(path: str | os.PathLike) -> bool:
    """Whether `path`'s name is a model file's (by its suffix, any case; no I/O)."""
    return Path(path).suffix.lower() in MODEL_FILE_SUFFIXES


def is_ncnn_weights_of_a_graph(path: str | os.PathLike) -> bool:
    """Whether `path` is an ncnn ``.bin`` with its ``.param`` beside it (any case): the
    pair's weights, which Models ▸ Add model… takes for the pair (a ``.bin`` alone is any
    binary file)."""
    path = Path(path)
    return path.suffix.lower() == ".bin" and any(path.with_suffix(s).is_file() for s in (".param", ".PARAM"))
