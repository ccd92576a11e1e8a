"""Torch implementations of the ncnn layer types used by the model zoo.

Blob layout: ncnn 3-D blobs (c, h, w) are N×C×H×W tensors; 1-D blobs (w) are N×W tensors.
Each layer is built by ``build(layer_def, fetch)`` where ``fetch(name, count, tagged)``
returns the next weight blob as a float32 numpy array (from the ``.bin`` or the cache).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.core.options import MAX_SCALE
from sr_desktop.engine.models.ncnn.activation import ncnn_activation
from sr_desktop.engine.models.ncnn.param import LayerDef, NcnnGraphError

Fetch = Callable[[str, int, bool], np.ndarray]


def _tensor(array: np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).reshape(shape)


def _activation(kind: int, params: list) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """ncnn's fused activation (param 9) as an in-place function."""
    found = ncnn_activation(kind, params)
    return None if found is None else found.apply


class Layer(nn.Module):
    """Base: ``forward(inputs: list[Tensor]) -> list[Tensor]``."""

    def __init__(self, d: LayerDef):
        super().__init__()
        self.layer_name = d.name


class Input(Layer):
    """ncnn ``Input``: a placeholder; the graph feeds its blob directly and never runs it."""
    pass


class Split(Layer):
    """ncnn ``Split``: the one input passed on as every top."""

    def forward(self, xs):
        return [xs[0]] * self.n_out

    def __init__(self, d):
        super().__init__(d)
        self.n_out = len(d.tops)


class MemoryData(Layer):
    """ncnn ``MemoryData``: a constant blob read from the weights; w/h/c are params 0/1/2 (no 2-D)."""

    def __init__(self, d, fetch):
        super().__init__(d)
        w, h, c = int(d.get(0)), int(d.get(1)), int(d.get(2))
        if c:
            shape: tuple[int, ...] = (1, c, h, w)
        elif h:
            raise NcnnGraphError(f"{d.name}: 2-D MemoryData is not supported")
        else:
            shape = (1, w)
        self.register_buffer("data", _tensor(fetch("data", int(np.prod(shape)), False), shape))

    def forward(self, xs):
        return [self.data]


def _kernel_geometry(d):
    """Output channels, kernel size, dilation, stride and (left, top, right, bottom) padding
    of a (de)convolution: ncnn's keys 0/1/11, 2/12, 3/13, 4/14/15/16 (h falls back to w)."""
    out = int(d.get(0))
    kw = int(d.get(1))
    kh = int(d.get(11, kw))
    dilation = (int(d.get(12, d.get(2, 1))), int(d.get(2, 1)))
    stride = (int(d.get(13, d.get(3, 1))), int(d.get(3, 1)))
    pl = int(d.get(4, 0))
    pt = int(d.get(14, pl))
    pr = int(d.get(15, pl))
    pb = int(d.get(16, pt))
    return out, kh, kw, dilation, stride, (pl, pt, pr, pb)


class Convolution(Layer):
    """ncnn ``Convolution`` (`F.conv2d`): geometry per `_kernel_geometry`, weight size 6, bias 5, activation 9/10."""

    def __init__(self, d, fetch):
        super().__init__(d)
        out, kh, kw, self.dilation, self.stride, (pl, pt, pr, pb) = _kernel_geometry(d)
        if min(pl, pt, pr, pb) < 0:
            raise NcnnGraphError(f"{d.name}: 'same' auto-padding is not supported")
        if float(d.get(18, 0.0)) != 0.0:
            raise NcnnGraphError(f"{d.name}: non-zero pad value is not supported")
        if int(d.get(8, 0)) or int(d.get(19, 0)):
            raise NcnnGraphError(f"{d.name}: int8 / dynamic-weight convolution is not supported")
        size = int(d.get(6))
        if size % (out * kh * kw):
            raise NcnnGraphError(f"{d.name}: weight size {size} does not fit the kernel")
        cin = size // (out * kh * kw)
        self.symmetric = pl == pr and pt == pb
        self.padding = (pt, pl) if self.symmetric else (0, 0)
        self.pad4 = (pl, pr, pt, pb)
        self.register_buffer("weight", _tensor(fetch("weight", size, True), (out, cin, kh, kw)))
        if int(d.get(5, 0)):
            self.register_buffer("bias", _tensor(fetch("bias", out, False), (out,)))
        else:
            self.bias = None
        self.act_type = int(d.get(9, 0))
        self.act_params = list(d.get(10, []) or [])
        self.act = _activation(self.act_type, self.act_params)

    def forward(self, xs):
        x = xs[0]
        if not self.symmetric:
            x = F.pad(x, self.pad4)
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        return [self.act(y) if self.act else y]


class Deconvolution(Layer):
    """ncnn ``Deconvolution`` (`F.conv_transpose2d`): params as `Convolution`; no groups, output padding or size."""

    def __init__(self, d, fetch):
        super().__init__(d)
        out, kh, kw, self.dilation, self.stride, (pl, pt, pr, pb) = _kernel_geometry(d)
        if min(pl, pt, pr, pb) < 0 or int(d.get(18, 0)) or int(d.get(19, 0)) or int(d.get(20, 0)) or int(d.get(21, 0)):
            raise NcnnGraphError(f"{d.name}: this deconvolution padding mode is not supported")
        if int(d.get(7, 1)) != 1:
            raise NcnnGraphError(f"{d.name}: grouped deconvolution is not supported")
        size = int(d.get(6))
        cin = size // (out * kh * kw)
        if cin * out * kh * kw != size:
            raise NcnnGraphError(f"{d.name}: weight size {size} does not fit the kernel")
        # ncnn stores (out, in, kh, kw); torch's transposed convolution wants (in, out, kh, kw)
        w = _tensor(fetch("weight", size, True), (out, cin, kh, kw)).transpose(0, 1).contiguous()
        self.register_buffer("weight", w)
        if int(d.get(5, 0)):
            self.register_buffer("bias", _tensor(fetch("bias", out, False), (out,)))
        else:
            self.bias = None
        self.symmetric = pl == pr and pt == pb
        self.padding = (pt, pl) if self.symmetric else (0, 0)
        self.pad4 = (pl, pr, pt, pb)
        self.act = _activation(int(d.get(9, 0)), list(d.get(10, []) or []))

    def forward(self, xs):
        y = F.conv_transpose2d(xs[0], self.weight, self.bias, self.stride, self.padding, 0, 1, self.dilation)
        if not self.symmetric:
            pl, pr, pt, pb = self.pad4
            y = y[:, :, pt : y.shape[2] - pb, pl : y.shape[3] - pr]
        return [self.act(y) if self.act else y]


class InnerProduct(Layer):
    """ncnn ``InnerProduct`` (`F.linear` of the flattened input): outputs 0, bias 1, weight size 2, activation 9/10."""

    def __init__(self, d, fetch):
        super().__init__(d)
        out = int(d.get(0))
        size = int(d.get(2))
        if int(d.get(8, 0)):
            raise NcnnGraphError(f"{d.name}: int8 inner product is not supported")
        self.register_buffer("weight", _tensor(fetch("weight", size, True), (out, size // out)))
        if int(d.get(1, 0)):
            self.register_buffer("bias", _tensor(fetch("bias", out, False), (out,)))
        else:
            self.bias = None
        self.act = _activation(int(d.get(9, 0)), list(d.get(10, []) or []))

    def forward(self, xs):
        x = xs[0].flatten(1)
        y = F.linear(x, self.weight, self.bias)
        return [self.act(y) if self.act else y]


class PReLU(Layer):
    """ncnn ``PReLU`` (`F.prelu`): param 0 slopes (1: one shared slope)."""

    def __init__(self, d, fetch):
        super().__init__(d)
        n = int(d.get(0, 1))
        self.register_buffer("slope", _tensor(fetch("slope", n, False), (n,)))

    def forward(self, xs):
        return [F.prelu(xs[0], self.slope)]


class Sigmoid(Layer):
    """ncnn ``Sigmoid``."""

    def forward(self, xs):
        return [torch.sigmoid(xs[0])]


class Swish(Layer):
    """ncnn ``Swish``: x·sigmoid(x) (`F.silu`)."""

    def forward(self, xs):
        return [F.silu(xs[0])]


class PixelShuffle(Layer):
    """ncnn ``PixelShuffle`` (`F.pixel_shuffle`): factor param 0; mode param 1 must be 0."""

    def __init__(self, d):
        super().__init__(d)
        self.factor = int(d.get(0, 1))
        if int(d.get(1, 0)) != 0:
            raise NcnnGraphError(f"{d.name}: PixelShuffle mode {d.get(1)} is not supported")

    def forward(self, xs):
        return [F.pixel_shuffle(xs[0], self.factor)]


#: the largest side an ``Interp`` layer may resize to by a fixed size (the zoo's graphs resize
#: by factors; a fixed size belongs to a small branch, never to a whole image)
INTERP_MAX_SIDE = 4096


class Interp(Layer):
    """ncnn ``Interp`` (`F.interpolate`): type 0 (1 nearest, 2 bilinear, 3 bicubic), scales 1/2 or size 3/4."""

    MODES = {1: "nearest", 2: "bilinear", 3: "bicubic"}

    def __init__(self, d):
        super().__init__(d)
        kind = int(d.get(0, 0))
        if kind not in self.MODES or int(d.get(5, 0)) or int(d.get(6, 0)):
            raise NcnnGraphError(f"{d.name}: this Interp mode is not supported")
        self.mode = self.MODES[kind]
        self.hscale = np.float32(d.get(1, 1.0))
        self.wscale = np.float32(d.get(2, 1.0))
        self.outh = int(d.get(3, 0))
        self.outw = int(d.get(4, 0))
        # checked before any run: a 100-byte .param asking for 12000×12000 took 1.9 GB while
        # its graph was measured (and a size near the machine's memory would have taken all)
        if not (0 < self.hscale <= MAX_SCALE and 0 < self.wscale <= MAX_SCALE):
            raise NcnnGraphError(f"{d.name}: Interp by {self.hscale:g}×{self.wscale:g}: beyond ×{MAX_SCALE}")
        if not (0 <= self.outh <= INTERP_MAX_SIDE and 0 <= self.outw <= INTERP_MAX_SIDE):
            raise NcnnGraphError(f"{d.name}: Interp to {self.outw}×{self.outh}: sides up to {INTERP_MAX_SIDE}")

    def forward(self, xs):
        x = xs[0]
        h, w = x.shape[-2:]
        factor = float(self.hscale)
        if not (self.outh or self.outw) and self.hscale == self.wscale and (int(h) * factor).is_integer() \
                and (int(w) * factor).is_integer():
            # where the factor maps the size exactly, the factor alone gives the pixels of the
            # size rule below, and a backend that traces the graph keeps sizes dynamic
            if self.mode == "nearest":
                return [F.interpolate(x, scale_factor=factor, mode="nearest")]
            return [F.interpolate(x, scale_factor=factor, mode=self.mode, align_corners=False)]
        # ncnn: outw = (int)(w * width_scale) in float32, and source step = w / outw
        oh = self.outh or int(np.float32(h) * self.hscale)
        ow = self.outw or int(np.float32(w) * self.wscale)
        if self.mode == "nearest":
            return [F.interpolate(x, size=(oh, ow), mode="nearest")]
        return [F.interpolate(x, size=(oh, ow), mode=self.mode, align_corners=False)]


def _as_broadcastable(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # a 1-D blob (N×C) meets a 3-D blob (N×C×H×W): ncnn applies it per channel
    if a.dim() == 4 and b.dim() == 2:
        b = b[:, :, None, None]
    elif a.dim() == 2 and b.dim() == 4:
        a = a[:, :, None, None]
    return a, b


_BINARY = {
    0: torch.add,
    1: torch.sub,
    2: torch.mul,
    3: torch.div,
    4: torch.maximum,
    5: torch.minimum,
    6: torch.pow,
    7: lambda a, b: torch.sub(b, a),
    8: lambda a, b: torch.div(b, a),
    9: lambda a, b: torch.pow(b, a),
}


class BinaryOp(Layer):
    """ncnn ``BinaryOp``: op type 0 (see `_BINARY`), with_scalar 1, scalar 2; a 1-D blob applies per channel."""

    def __init__(self, d):
        super().__init__(d)
        op = int(d.get(0, 0))
        if op not in _BINARY:
            raise NcnnGraphError(f"{d.name}: BinaryOp type {op} is not supported")
        self.op = _BINARY[op]
        self.with_scalar = int(d.get(1, 0)) == 1
        self.scalar = float(d.get(2, 0.0))

    def forward(self, xs):
        if self.with_scalar:
            b = torch.tensor(self.scalar, dtype=xs[0].dtype, device=xs[0].device)
            return [self.op(xs[0], b)]
        a, b = _as_broadcastable(xs[0], xs[1])
        return [self.op(a, b)]


class Eltwise(Layer):
    """ncnn ``Eltwise``: op 0 product, 1 sum (weighted by the coefficients 1 when given), 2 max."""

    def __init__(self, d):
        super().__init__(d)
        self.op = int(d.get(0, 1))
        if self.op not in (0, 1, 2):
            raise NcnnGraphError(f"{d.name}: Eltwise type {self.op} is not supported")
        self.coeffs = [float(c) for c in (d.get(1, []) or [])]

    def forward(self, xs):
        if self.op == 0:
            out = xs[0]
            for x in xs[1:]:
                out = out * x
        elif self.op == 2:
            out = xs[0]
            for x in xs[1:]:
                out = torch.maximum(out, x)
        elif self.coeffs:
            out = xs[0] * self.coeffs[0]
            for c, x in zip(self.coeffs[1:], xs[1:], strict=False):
                out = out + x * c if c != 1.0 else out + x
        else:
            out = xs[0]
            for x in xs[1:]:
                out = out + x
        return [out]


class Scale(Layer):
    """ncnn ``Scale``: per-channel factors (param 0 of them; -233: the second input), bias if param 1."""

    def __init__(self, d, fetch):
        super().__init__(d)
        n = int(d.get(0, 0))
        self.from_blob = n == -233
        if not self.from_blob:
            self.register_buffer("scale", _tensor(fetch("scale", n, False), (n,)))
        if int(d.get(1, 0)):
            count = n if n > 0 else 0
            if count == 0:
                raise NcnnGraphError(f"{d.name}: bias with a blob scale is not supported")
            self.register_buffer("bias", _tensor(fetch("bias", count, False), (count,)))
        else:
            self.bias = None

    def forward(self, xs):
        x = xs[0]
        s = xs[1].reshape(x.shape[0], -1) if self.from_blob else self.scale[None]
        view = (x.shape[0], x.shape[1]) + (1,) * (x.dim() - 2)
        y = x * s.reshape(view)
        if self.bias is not None:
            y = y + self.bias.reshape((1, -1) + (1,) * (x.dim() - 2))
        return [y]


class Concat(Layer):
    """ncnn ``Concat`` along axis param 0 (ncnn's axes: the batch dimension is not counted)."""

    def __init__(self, d):
        super().__init__(d)
        self.axis = int(d.get(0, 0))

    def forward(self, xs):
        ncnn_dims = xs[0].dim() - 1
        axis = self.axis + ncnn_dims if self.axis < 0 else self.axis
        return [torch.cat(xs, dim=axis + 1)]


class Pooling(Layer):
    """ncnn ``Pooling``, global only (param 4): type 0 max or 1 average, N×C×H×W -> N×C."""

    def __init__(self, d):
        super().__init__(d)
        self.kind = int(d.get(0, 0))
        if not int(d.get(4, 0)) or self.kind not in (0, 1):
            raise NcnnGraphError(f"{d.name}: only global max/average pooling is supported")

    def forward(self, xs):
        x = xs[0]
        if self.kind == 1:
            return [x.mean(dim=(2, 3))]
        return [x.amax(dim=(2, 3))]


class Crop(Layer):
    """ncnn ``Crop`` (4-D): starts/ends/axes 9/10/11, else offsets 0-2 and size 3-5, end offsets 6-8 or a 2nd input."""

    def __init__(self, d):
        super().__init__(d)
        self.starts = list(d.get(9, []) or [])
        self.ends = list(d.get(10, []) or [])
        self.axes = list(d.get(11, []) or [])
        self.woff, self.hoff, self.coff = int(d.get(0, 0)), int(d.get(1, 0)), int(d.get(2, 0))
        self.outw, self.outh, self.outc = int(d.get(3, 0)), int(d.get(4, 0)), int(d.get(5, 0))
        self.woff2, self.hoff2, self.coff2 = int(d.get(6, 0)), int(d.get(7, 0)), int(d.get(8, 0))

    def forward(self, xs):
        x = xs[0]
        if x.dim() != 4:
            raise NcnnGraphError(f"{self.layer_name}: Crop of a non-image blob is not supported")
        _, c, h, w = x.shape
        if self.starts:
            axes = self.axes or list(range(len(self.starts)))
            index = [slice(None)] * 4
            for start, end, axis in zip(self.starts, self.ends, axes, strict=False):
                axis = axis + 3 if axis < 0 else axis
                size = x.shape[axis + 1]
                start = start + size if start < 0 else min(start, size)
                end = end + size if end < 0 else min(end, size)
                index[axis + 1] = slice(start, end)
            return [x[tuple(index)]]
        if len(xs) > 1:
            ref = xs[1]
            oh, ow = ref.shape[-2:]
            oc = ref.shape[1] if ref.dim() == 4 else c - self.coff
        else:
            ow = self.outw if self.outw > 0 else w - self.woff - self.woff2
            oh = self.outh if self.outh > 0 else h - self.hoff - self.hoff2
            oc = self.outc if self.outc > 0 else c - self.coff - self.coff2
        return [x[:, self.coff : self.coff + oc, self.hoff : self.hoff + oh, self.woff : self.woff + ow]]


WEIGHTED = {
    "Convolution": Convolution,
    "Deconvolution": Deconvolution,
    "InnerProduct": InnerProduct,
    "PReLU": PReLU,
    "Scale": Scale,
    "MemoryData": MemoryData,
}
PLAIN = {
    "Input": Input,
    "Split": Split,
    "Sigmoid": Sigmoid,
    "Swish": Swish,
    "PixelShuffle": PixelShuffle,
    "Interp": Interp,
    "BinaryOp": BinaryOp,
    "Eltwise": Eltwise,
    "Concat": Concat,
    "Pooling": Pooling,
    "Crop": Crop,
}
SUPPORTED_TYPES = sorted(set(WEIGHTED) | set(PLAIN))


def build_layer(d: LayerDef, fetch: Fetch) -> Layer:
    """Build the torch module of one ncnn layer, reading its weights through `fetch`."""
    if d.type in WEIGHTED:
        return WEIGHTED[d.type](d, fetch)
    if d.type in PLAIN:
        return PLAIN[d.type](d)
    raise NcnnGraphError(
        f"layer type {d.type!r} ({d.name}) is not supported; supported: {', '.join(SUPPORTED_TYPES)}"
    )
