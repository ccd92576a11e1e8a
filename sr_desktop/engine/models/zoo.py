"""Family conventions of the ncnn model zoo, applied around the raw graph.

The original ncnn tools do some work outside the graph; `ZooModel.run` does the same so
that the raw graphs give the outputs their authors intended:

* border pre-padding (`prepad` pixels, `border` mode) and, for the unpadded U-Nets of
  waifu2x CUNet / Real-CUGAN, extra bottom/right padding to a size multiple of `align`;
  the output is then cropped back to exactly s·H × s·W from the top-left;
* SRMD / SRMDNF: 3 RGB planes + 15 constant kernel-PCA planes of the bicubic degradation
  (+ one noise plane = level/255 for SRMD); no pre-pad (the graph's own zero padding, as
  the authors evaluated it);
* Real-CUGAN ×4: the nearest-upscaled input is added to the network output.

`context` (input pixels of real neighbouring context per tile side) was chosen from
measured tiled-vs-whole PSNR (see docs/models.md and tests/test_zoo_tiling.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sr_desktop.engine.models.base import SRModel

# Kernel-PCA code of the bicubic degradation fed to SRMD (the 15 values the SRMD tools use).
SRMD_BICUBIC_PCA = (
    -1.12360956e-08, -1.36899159e-08, 1.85637958e-02, 2.86066886e-08, 3.35292965e-02,
    8.37272935e-08, -2.54424009e-07, -3.16234976e-02, -1.35169253e-02, -1.10466090e-08,
    3.84753793e-02, 3.79465739e-08, -2.44916752e-01, -8.02213490e-01, -5.40549755e-01,
)


@dataclass(frozen=True)
class Convention:
    """Pre/post-processing of one family at one scale."""

    border: str = "reflect"  # reflect | replicate | none
    prepad: int = 0
    align: int = 1  # padded input size must be a multiple of this
    min_size: int = 1  # padded input size at least this
    add_nearest: bool = False  # Real-CUGAN ×4
    srmd_planes: bool = False
    #: the graph's convolutions are unpadded (waifu2x, Real-CUGAN): the pre-pad is consumed
    #: by the graph; otherwise the output keeps s·prepad pixels of padding per side
    unpadded: bool = False
    context: int = 16
    tileable: bool = True
    supports_fp16: bool = True


def convention(family: str, scale: int) -> Convention:
    """The conventions of `family` (manifest ``family`` field) at `scale`."""
    if family == "rrdbnet":  # Real-ESRGAN x4plus, RealSR (23 blocks)
        return Convention("reflect", prepad=10, context=56)
    if family == "rrdbnet-6b":  # Real-ESRGAN x4plus-anime (6 blocks)
        return Convention("reflect", prepad=10, context=32)
    if family == "srvgg":  # realesr-animevideov3
        return Convention("reflect", prepad=10, context=16)
    if family == "span":
        return Convention("reflect", prepad=10, context=16)
    if family == "waifu2x-upconv7":
        return Convention("replicate", prepad=7, unpadded=True, context=8)
    if family == "waifu2x-cunet":
        # CUNet's SE blocks pool over the whole input: tiles are not exactly independent
        prepad = 28 if scale == 1 else 18
        return Convention(
            "replicate", prepad=prepad, unpadded=True, align=4 if scale == 1 else 2,
            min_size=60 if scale == 1 else 40, context=64, tileable=False,
        )
    if family == "realcugan":
        prepad = {2: 18, 3: 14, 4: 19}[scale]
        align = {2: 2, 3: 4, 4: 2}[scale]
        return Convention(
            "reflect", prepad=prepad, unpadded=True, align=align, min_size=40, add_nearest=scale == 4,
            context=64, tileable=False,
        )
    if family in ("srmd", "srmdnf"):
        return Convention("none", srmd_planes=True, context=12)
    raise ValueError(f"unknown model family {family!r}")


def pad_border(x: torch.Tensor, left: int, right: int, top: int, bottom: int, mode: str) -> torch.Tensor:
    """Pad H×W with `mode` (reflect without repeating the edge, or replicate).

    Reflect pads larger than the image are done in several mirror steps; a 1-pixel-wide
    side falls back to replicate (there is nothing to mirror).
    """
    if not (left or right or top or bottom):
        return x
    if mode == "replicate":
        return F.pad(x, (left, right, top, bottom), mode="replicate")
    while left or right or top or bottom:
        h, w = x.shape[-2:]
        sl, sr = min(left, w - 1), min(right, w - 1)
        st, sb = min(top, h - 1), min(bottom, h - 1)
        if w == 1 or h == 1:
            return F.pad(x, (left, right, top, bottom), mode="replicate")
        x = F.pad(x, (sl, sr, st, sb), mode="reflect")
        left, right, top, bottom = left - sl, right - sr, top - st, bottom - sb
    return x


def _aligned(size: int, align: int, min_size: int) -> int:
    return max(min_size, (size + align - 1) // align * align)


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
        self.family = family
        self.module = module
        self.scale = scale
        self.variant = variant
        self.conv = convention(family, scale)
        self.context = self.conv.context
        self.tileable = self.conv.tileable
        self.supports_fp16 = self.conv.supports_fp16
        self.recommended_tile = recommended_tile
        self.align = self.conv.align
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
        c = self.conv
        h, w = x.shape[-2:]
        if c.srmd_planes:
            planes = [x]
            pca = torch.tensor(SRMD_BICUBIC_PCA, dtype=x.dtype, device=x.device)
            planes.append(pca[None, :, None, None].expand(x.shape[0], -1, h, w))
            if self.noise_level is not None:
                planes.append(
                    torch.full((x.shape[0], 1, h, w), self.noise_level / 255.0, dtype=x.dtype, device=x.device)
                )
            return torch.cat(planes, dim=1), 0
        p = c.prepad
        ph = _aligned(h + 2 * p, c.align, c.min_size)
        pw = _aligned(w + 2 * p, c.align, c.min_size)
        x = pad_border(x, p, pw - w - p, p, ph - h - p, c.border)
        return x, p

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """N×3×H×W (0..1) -> N×3×(s·H)×(s·W), unclamped."""
        s = self.scale
        h, w = x.shape[-2:]
        x = x.to(device=self.device, dtype=self.dtype)
        inp, pad = self.prepare_input(x)
        if self.channels_last:
            inp = inp.contiguous(memory_format=torch.channels_last)
        y = self.executor()(inp)
        # unpadded graphs consume the pre-pad exactly; padded ones keep it, scaled
        o = 0 if self.conv.unpadded else s * pad
        y = y[:, :, o : o + s * h, o : o + s * w]
        if y.shape[-2] != s * h or y.shape[-1] != s * w:
            raise RuntimeError(f"{self.id}: graph output {tuple(y.shape)} is smaller than ×{s} of {h}×{w}")
        if self.conv.add_nearest:
            y = y + F.interpolate(x, scale_factor=s, mode="nearest")
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
