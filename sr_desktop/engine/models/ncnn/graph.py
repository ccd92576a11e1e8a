"""An ncnn graph as a torch module, and loading it from ``.param``/``.bin`` with a cache.

The converted weights are cached as safetensors under ``cache_dir``, named by the sha256 of
the ``.param`` and ``.bin`` bytes: the first load decodes the ``.bin``; later loads read
the float32 tensors directly.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sr_desktop.engine.core import paths
from sr_desktop.engine.imageio.atomic import atomic_write, remove_stale_temps_of
from sr_desktop.engine.models.ncnn.layers import Layer, build_layer
from sr_desktop.engine.models.ncnn.param import (
    LayerDef,
    NcnnGraphError,
    graph_io,
    parse_param_text,
    source_hash,
    weight_cache_name,
)
from sr_desktop.engine.models.ncnn.weights import BinReader

log = logging.getLogger(__name__)

CACHE_FORMAT = "ncnn-torch-v2"  # v2: with the digest of its tensors


class NcnnGraph(nn.Module):
    """Runs the layers of an ncnn graph in file order on N×C×H×W tensors.

    ``forward(x)`` feeds `x` to the graph's (single) input blob and returns its output blob
    (the last blob that no layer consumes). Intermediate blobs are freed after their last use.
    """

    def __init__(self, layer_defs: list[LayerDef], modules: list[Layer], source: str = ""):
        super().__init__()
        self.source = source
        self.layer_defs = layer_defs
        self.layers = nn.ModuleList(modules)
        self.input_name, self.output_name = graph_io(layer_defs, source)
        #: `source_hash` of the files it was loaded from ("" when built otherwise)
        self.source_key = ""
        consumed = {b: i for i, d in enumerate(layer_defs) for b in d.bottoms}
        # steps: (layer index, bottoms, tops, blobs to free after the step)
        self.steps = []
        for i, d in enumerate(layer_defs):
            if d.type == "Input":
                continue
            dead = [b for b in set(d.bottoms) if consumed.get(b) == i and b != self.output_name]
            self.steps.append((i, list(d.bottoms), list(d.tops), dead))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blobs: dict[str, torch.Tensor] = {self.input_name: x}
        layers = self.layers
        for i, bottoms, tops, dead in self.steps:
            outs = layers[i]([blobs[b] for b in bottoms])
            for name, t in zip(tops, outs, strict=False):  # top counts are not checked against outputs
                blobs[name] = t
            for b in dead:
                del blobs[b]
        return blobs[self.output_name]


def _build(layer_defs: list[LayerDef], fetch_for, source: str) -> NcnnGraph:
    modules = []
    for i, d in enumerate(layer_defs):
        try:
            modules.append(build_layer(d, fetch_for(i)))
        except (ArithmeticError, ValueError, RuntimeError) as exc:
            # sizes no layer has (0 output channels, a kernel of 0, a count of -5): the
            # divisions and reshapes of the layer's set-up fail on them
            raise NcnnGraphError(f"{source}: layer {d.name} ({d.type}) has impossible sizes: {exc}") from None
    return NcnnGraph(layer_defs, modules, source)


def _from_bin(layer_defs: list[LayerDef], bin_bytes: bytes, source: str) -> NcnnGraph:
    reader = BinReader(bin_bytes, source)

    def fetch_for(_index):
        def fetch(_name: str, count: int, tagged: bool) -> np.ndarray:
            return reader.tagged(count) if tagged else reader.raw_float32(count)

        return fetch

    graph = _build(layer_defs, fetch_for, source)
    if reader.remaining() > 0:
        log.warning("%s: %d bytes of weights left unread", source, reader.remaining())
    return graph


def _from_tensors(layer_defs: list[LayerDef], tensors: dict[str, torch.Tensor], source: str) -> NcnnGraph:
    def fetch_for(index):
        def fetch(name: str, count: int, tagged: bool) -> np.ndarray:
            t = tensors[f"layers.{index}.{name}"]
            if name == "weight" and layer_defs[index].type == "Deconvolution":
                t = t.transpose(0, 1)  # back to ncnn's (out, in, kh, kw) order
            if t.numel() != count:
                raise KeyError(name)
            return t.contiguous().numpy().reshape(-1)

        return fetch

    return _build(layer_defs, fetch_for, source)


class _StaleCache(ValueError):
    """A cache entry of an earlier version: replaced, as a damaged one is, but not a fault."""


def _tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors' names and bytes: what a cache entry is checked by on load (a
    changed byte in a weight still loads, and would give wrong pixels)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


def _read_cache(path: Path, key: str) -> dict[str, torch.Tensor]:
    """The tensors of the cache entry `path`; `ValueError` unless it is this model's
    (`key`) and its tensors are those that were written."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata() or {}
    if meta.get("format") != CACHE_FORMAT or meta.get("source_sha256") != key:
        raise _StaleCache("written for another model or by another version")
    tensors = load_file(str(path))
    if meta.get("tensors_sha256") != _tensors_sha256(tensors):
        raise ValueError("its weights differ from those that were written")
    return tensors


def _write_cache(graph: NcnnGraph, path: Path, key: str) -> None:
    from sr_desktop.engine.core.safetensors_bytes import safetensors_bytes

    tensors = {k: v.detach().contiguous().clone() for k, v in graph.state_dict().items()}
    data = safetensors_bytes(tensors, metadata={"format": CACHE_FORMAT, "source_sha256": key,
                                   "tensors_sha256": _tensors_sha256(tensors)})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps_of(path)  # (a killed write's .part, up to 67 MB, stayed for good)
        atomic_write(path, lambda fh: fh.write(data))
    except OSError as exc:
        (log.info if paths.unwritable(path) else log.warning)("could not write the weight cache %s: %s", path, exc)


def load_ncnn_graph(
    param_path: str | Path,
    bin_path: str | Path,
    cache_dir: str | Path | None = "default",
) -> NcnnGraph:
    """Load an ncnn ``.param``/``.bin`` pair as a torch module (raw graph, float32, CPU).

    ``cache_dir``: where converted weights are cached (default: ``paths.cache_dir()/models``;
    None disables the cache). Raises `NcnnGraphError` for a broken or unsupported model.
    """
    param_path, bin_path = Path(param_path), Path(bin_path)
    try:
        param_bytes = param_path.read_bytes()
        bin_bytes = bin_path.read_bytes()
    except OSError as exc:
        raise NcnnGraphError(f"cannot read model file {exc.filename}: {exc.strerror}") from None
    try:
        text = param_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise NcnnGraphError(f"{param_path.name}: not a text .param file") from None
    layer_defs = parse_param_text(text, source=param_path.name)
    source = param_path.name
    if cache_dir == "default":
        try:
            cache_dir = paths.cache_dir() / "models"
        except OSError as exc:  # a file where the cache folder belongs: convert without it
            log.warning("no weight cache (%s): converting %s each time", exc, param_path.name)
            cache_dir = None
    key = source_hash(param_bytes, bin_bytes)
    if cache_dir is None:
        return _keyed(_from_bin(layer_defs, bin_bytes, source).eval(), key)
    cache_file = Path(cache_dir) / weight_cache_name(key)
    if os.path.exists(cache_file):
        try:
            return _keyed(_from_tensors(layer_defs, _read_cache(cache_file, key), source).eval(), key)
        except _StaleCache as exc:
            log.info("replacing the weight cache %s: %s", cache_file, exc)
        except Exception as exc:  # noqa: BLE001 - a damaged cache entry is re-created, never used
            log.warning("ignoring damaged weight cache %s: %s", cache_file, exc)
    graph = _from_bin(layer_defs, bin_bytes, source).eval()
    _write_cache(graph, cache_file, key)
    return _keyed(graph, key)


def _keyed(graph: NcnnGraph, key: str) -> NcnnGraph:
    graph.source_key = key
    return graph
