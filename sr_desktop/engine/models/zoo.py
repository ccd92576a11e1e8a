"""A zoo model: a raw ncnn graph run by torch (or a backend's runner) inside its family's
conventions (`zoo_conventions`), so that the raw graphs give the outputs their authors intended.
"""

from __future__ import annotations

import threading

import torch

from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.zoo_conventions import (  # noqa: F401 - re-exported: the zoo's conventions
    SRMD_BICUBIC_PCA,
    Convention,
    adopt_convention,
    convention,
    graph_input,
    graph_output,
    pad_border,
)


class ZooModel(SRModel):
    """A zoo model: a raw ncnn graph (`module`) plus its family's conventions."""

    def __init__(
        self,
        model_id: str,
        family: str,
        module: torch.nn.Module,
        scale: int,
        variant: str | None = None,
        noise_level: int | None = None,
        recommended_tile: int = 256,
        channels_last: bool = True,
        fast: bool = True,
    ):
        super().__init__()
        self.id = model_id
        self.module = module
        self.variant = variant
        adopt_convention(self, family, scale)
        self.recommended_tile = recommended_tile
        self.noise_level = noise_level
        self.channels_last = channels_last
        #: run the fused, prepacked plan (`ncnn.fast.FastGraph`) where oneDNN is usable
        self.fast = fast
        self._fast_graph = None
        self._fast_lock = threading.Lock()
        if channels_last:
            module.to(memory_format=torch.channels_last)

    def to(self, device, dtype=torch.float32):
        super().to(device, dtype)
        if self.channels_last:
            self.module.to(memory_format=torch.channels_last)
        with self._fast_lock:
            self._fast_graph = None  # its folded / prepacked weights belong to the old tensors
        return self

    def executor(self):
        """The callable that runs the raw graph: a backend's runner when one is attached, else
        the fused CPU plan when it applies, else the torch graph."""
        from sr_desktop.engine.models.ncnn.fast import FastGraph, onednn_usable

        if self.runner is not None:
            return self.runner
        if not (self.fast and onednn_usable(self.device, self.dtype)):
            return self.module
        with self._fast_lock:
            if self._fast_graph is None:
                self._fast_graph = FastGraph(self.module)
            return self._fast_graph

    def prepare_input(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Padded / extended graph input and the left/top pad (input pixels)."""
        return graph_input(self.conv, x, self.noise_level)

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×H×W (0..1) -> N×3×(s·H)×(s·W), unclamped."""
        x = x.to(device=self.device, dtype=self.dtype)
        inp, pad = self.prepare_input(x)
        if self.channels_last:
            inp = inp.contiguous(memory_format=torch.channels_last)
        y = graph_output(self.conv, self.executor()(inp), x, self.scale, pad, self.id)
        return y.contiguous()


def peak_activation_bytes(model: ZooModel, height: int, width: int, dtype=torch.float32) -> int:
    """Largest total size of live blobs when `model` runs on one height×width image.

    Computed on the meta device (no memory is allocated): the memory bound of whole-image
    inference for non-tileable families.
    """
    graph = model.module
    meta_inputs, _ = model.prepare_input(torch.zeros(1, 3, height, width, dtype=dtype))
    x = torch.empty(meta_inputs.shape, dtype=dtype, device="meta")
    blobs = {graph.input_name: x}
    peak = live = x.numel() * x.element_size()
    for i, bottoms, tops, dead in graph.steps:
        layer = graph.layers[i]
        meta_layer = _meta_copy(layer)
        outs = meta_layer([blobs[b] for b in bottoms])
        for name, t in zip(tops, outs, strict=False):
            if name not in blobs or blobs[name] is not t:
                live += t.numel() * t.element_size() if not any(t is o for o in blobs.values()) else 0
            blobs[name] = t
        peak = max(peak, live)
        for b in dead:
            t = blobs.pop(b)
            if not any(t is o for o in blobs.values()):
                live -= t.numel() * t.element_size()
    return peak


def _meta_copy(layer: torch.nn.Module) -> torch.nn.Module:
    import copy

    clone = copy.copy(layer)
    clone._buffers = {k: (v.to("meta") if v is not None else None) for k, v in layer._buffers.items()}
    return clone
