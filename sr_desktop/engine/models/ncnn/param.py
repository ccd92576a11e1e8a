"""Parser of ncnn ``.param`` text files (the graph half of an ncnn model).

Format: a magic line ``7767517``, a line ``LAYER_COUNT BLOB_COUNT``, then one line per
layer: ``Type Name n_in n_out in_blobs... out_blobs... key=value...``. A value is an int, a
float (has ``.``/``e``) or, for keys written as ``-233XX``, an array ``n,v1,...,vn`` stored
under key ``XX``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sr_desktop.engine.core.errors import ModelError

MAGIC = 7767517


class NcnnGraphError(ModelError):
    """An ncnn model file is broken or uses something this interpreter does not support."""


ParamValue = int | float | list


@dataclass
class LayerDef:
    """One layer line of a ``.param`` file."""

    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, ParamValue] = field(default_factory=dict)

    def get(self, key: int, default: ParamValue = 0) -> ParamValue:
        return self.params.get(key, default)


def _parse_number(text: str) -> int | float:
    if any(ch in text for ch in ".eE") and not text.lower().startswith("0x"):
        return float(text)
    return int(text)


def _parse_value(key: int, text: str) -> tuple[int, ParamValue]:
    if key <= -23300:
        items = text.split(",")
        count = int(items[0])
        values = [_parse_number(v) for v in items[1 : 1 + count]]
        if len(values) != count:
            raise ValueError(f"array of {count} values has {len(values)}")
        return -key - 23300, values
    return key, _parse_number(text)


def parse_param_text(text: str, source: str = "<param>") -> list[LayerDef]:
    """Parse the text of a ``.param`` file into its layers, in file order."""
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines or lines[0] != str(MAGIC):
        raise NcnnGraphError(f"{source}: not an ncnn .param file (bad magic number)")
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        raise NcnnGraphError(f"{source}: bad layer/blob count line") from None
    layers: list[LayerDef] = []
    for lineno, line in enumerate(lines[2:], start=3):
        parts = line.split()
        try:
            ltype, name = parts[0], parts[1]
            n_in, n_out = int(parts[2]), int(parts[3])
            bottoms = parts[4 : 4 + n_in]
            tops = parts[4 + n_in : 4 + n_in + n_out]
            if len(bottoms) != n_in or len(tops) != n_out:
                raise ValueError("blob list too short")
            params: dict[int, ParamValue] = {}
            for item in parts[4 + n_in + n_out :]:
                key_text, value_text = item.split("=", 1)
                key, value = _parse_value(int(key_text), value_text)
                params[key] = value
        except (IndexError, ValueError) as exc:
            raise NcnnGraphError(f"{source}: line {lineno} is malformed ({exc})") from None
        layers.append(LayerDef(ltype, name, bottoms, tops, params))
    if len(layers) != layer_count:
        raise NcnnGraphError(
            f"{source}: header says {layer_count} layers but the file has {len(layers)}"
        )
    return layers


def parse_param_file(path: str | Path) -> list[LayerDef]:
    """Read and parse a ``.param`` file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise NcnnGraphError(f"{path.name}: not a text .param file (binary .param.bin is not supported)") from None
    except OSError as exc:
        raise NcnnGraphError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_param_text(text, source=path.name)


def graph_io(layer_defs: list[LayerDef], source: str = "<param>") -> tuple[str, str]:
    """The graph's input blob (its one ``Input`` layer) and output blob (the last blob that
    no layer consumes); `NcnnGraphError` when a layer reads a blob before it exists."""
    inputs = [d.tops[0] for d in layer_defs if d.type == "Input"]
    if len(inputs) != 1:
        raise NcnnGraphError(f"{source}: graph has {len(inputs)} inputs; exactly 1 is supported")
    produced: list[str] = []
    consumed: set[str] = set()
    for d in layer_defs:
        for b in d.bottoms:
            if b not in produced:
                raise NcnnGraphError(f"{source}: layer {d.name} reads blob {b!r} before it exists")
            consumed.add(b)
        produced.extend(d.tops)
    outputs = [b for b in produced if b not in consumed]
    if not outputs:
        raise NcnnGraphError(f"{source}: graph has no output blob")
    return inputs[0], outputs[-1]


def weight_cache_name(key: str) -> str:
    """The file name of the converted weights of the graph whose `source_hash` is `key`
    (under ``paths.cache_dir()/models``)."""
    return f"ncnn-{key[:40]}.safetensors"


def source_hash(param_bytes: bytes, bin_bytes: bytes) -> str:
    """sha256 of a model's ``.param`` + ``.bin`` bytes: what identifies its graph and weights."""
    h = hashlib.sha256()
    h.update(param_bytes)
    h.update(b"\0ncnn-bin\0")
    h.update(bin_bytes)
    return h.hexdigest()
