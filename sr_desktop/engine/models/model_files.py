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


def sibling_file(path: Path, suffix: str) -> Path:
    """The file beside `path` with its stem and `suffix` in any case (W.PARAM's weights are
    W.BIN: they were called missing); `suffix` in lower case when there is none."""
    for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    try:
        for entry in path.parent.iterdir():
            if entry.stem == path.stem and entry.suffix.lower() == suffix and entry.is_file():
                return entry
    except OSError:
        pass
    return path.with_suffix(suffix)


def is_ncnn_weights_of_a_graph(path: str | os.PathLike) -> bool:
    """Whether `path` is an ncnn ``.bin`` with its ``.param`` beside it (any case): the
    pair's weights, which Models ▸ Add model… takes for the pair (a ``.bin`` alone is any
    binary file)."""
    path = Path(path)
    return path.suffix.lower() == ".bin" and sibling_file(path, ".param").is_file()
