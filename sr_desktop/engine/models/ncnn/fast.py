"""A faster executor of an `NcnnGraph`: fused steps and prepacked oneDNN convolutions.

`FastGraph(graph)` runs the same computation as ``graph(x)`` with fewer, cheaper steps:

* Split layers vanish (their outputs are aliases of the input blob);
* a convolution's own activation (ncnn param 9), or a Swish/Sigmoid layer that is the only
  consumer of a convolution's output, runs inside the convolution (oneDNN post-op);
* ``Eltwise`` sum ``c·conv(x) + y`` and ``BinaryOp`` add ``conv(x) + y`` become one
  convolution with a fused add; ``c`` is folded into the convolution's weight and bias;
* on the CPU in float32, convolution and deconvolution weights are reordered once into
  oneDNN's blocked layout (``torch.ops.mkldnn._reorder_convolution_weight``) instead of at
  every call, and activations stay channels-last from layer to layer.

Every other layer runs its `layers.Layer` module unchanged. Results equal the raw graph
to float32 rounding (folding a scale into the weights reorders a few roundings).
On other devices/dtypes the same fused plan runs with ``F.conv2d`` (no prepacking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sr_desktop.engine.models.ncnn.activation import Activation, ncnn_activation
from sr_desktop.engine.models.ncnn.graph import NcnnGraph
from sr_desktop.engine.models.ncnn.layers import (
    BinaryOp,
    Concat,
    Convolution,
    Deconvolution,
    Eltwise,
    Sigmoid,
    Split,
    Swish,
)

SWISH = Activation("swish", (), lambda t: F.silu(t, inplace=True))
SIGMOID = Activation("sigmoid", (), torch.sigmoid_)


#: NNPACK (Winograd F(6×6, 3×3)) is used for 3×3 convolutions with at least this many
#: input and output channels; narrower ones run faster in oneDNN (measured on this CPU)
NNPACK_MIN_CHANNELS = 32


def nnpack_pays() -> bool:
    """Whether NNPACK's Winograd kernels beat oneDNN on this CPU. NNPACK has AVX2 kernels and
    no AVX-512 ones: on the AMD EPYC of earlier measurements (its instruction set was not
    recorded) it ran the plain 3×3 stacks 1.3–2× faster than torch's channels-last oneDNN path
    (docs/models.md, earlier table), on an AVX-512 Intel Xeon 1.3–2.5× slower (SPAN ×4
    174 against 64 ms, realesr-animevideov3 ×2 179 against 95 ms at 128², 2 threads)."""
    return torch._nnpack_available() and not torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def onednn_usable(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether prepacked oneDNN convolutions can run on `device` in `dtype`."""
    return (
        device.type == "cpu"
        and dtype == torch.float32
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
    )


def to_nchw(t: torch.Tensor) -> torch.Tensor:
    """`t` as a contiguous NCHW tensor.

    From channels-last this goes through a batched 2-D transpose, which is ~5× faster than
    ``t.contiguous()`` here (1.6 ms vs 8.9 ms for 64×150×150, one thread).
    """
    if t.dim() != 4 or t.is_contiguous() or not t.is_contiguous(memory_format=torch.channels_last):
        return t.contiguous()
    n, c, h, w = t.shape
    return t.permute(0, 2, 3, 1).reshape(n, h * w, c).transpose(1, 2).contiguous().view(n, c, h, w)


class ConvStep:
    """A convolution or deconvolution with an optional fused activation and residual add.

    ``inputs``: ``[x]`` or, with ``add``, ``[x, residual]``; returns ``[act(conv(x)·scale
    + residual)]`` where the scale was folded into the weights.
    """

    def __init__(
        self, layer: Convolution | Deconvolution, act: Activation | None, scale: float = 1.0, add: bool = False
    ):
        self.transposed = isinstance(layer, Deconvolution)
        self.layer = layer
        self.act = act
        self.scale = scale
        self.add = add
        self.packed: torch.Tensor | None = None
        self.nnpack = False
        #: return NCHW blobs (the plan of a graph that runs NNPACK convolutions)
        self.nchw_out = False
        self.weight = layer.weight
        self.bias = layer.bias

    def nnpack_eligible(self) -> bool:
        """A 3×3 stride-1 convolution wide enough for NNPACK's Winograd kernels to pay."""
        layer = self.layer
        if self.transposed or not layer.symmetric or not torch._nnpack_available():
            return False
        cout, cin, kh, kw = layer.weight.shape
        return (
            (kh, kw) == (3, 3) and tuple(layer.stride) == (1, 1) and tuple(layer.dilation) == (1, 1)
            and max(layer.padding) < 3 and min(cin, cout) >= NNPACK_MIN_CHANNELS
        )

    def prepare(self, use_onednn: bool, use_nnpack: bool = False) -> None:
        """Fold the scale and pick the kernel: NNPACK, prepacked oneDNN or ``F.conv2d``."""
        layer = self.layer
        weight, bias = layer.weight, layer.bias
        if self.scale != 1.0:
            weight = weight * self.scale
            bias = bias * self.scale if bias is not None else None
        self.weight, self.bias = weight, bias
        self.packed = None
        self.nnpack = use_nnpack and self.nnpack_eligible()
        if self.nnpack:
            self.weight = weight.contiguous()
            return
        if not use_onednn:
            return
        mk = torch.ops.mkldnn
        pad = list(layer.padding)
        if self.transposed:
            self.packed = mk._reorder_convolution_transpose_weight(
                weight, pad, [0, 0], list(layer.stride), list(layer.dilation), 1, None
            )
        else:
            self.packed = mk._reorder_convolution_weight(weight, pad, list(layer.stride), list(layer.dilation), 1, None)

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        layer = self.layer
        kh, kw = layer.weight.shape[-2:]
        (ph, pw), (sh, sw), (dh, dw) = layer.padding, layer.stride, layer.dilation
        return (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1

    def __call__(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        y = self._run(inputs)
        return [to_nchw(y[0])] if self.nchw_out else y

    def _run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        layer = self.layer
        x = inputs[0]
        if self.transposed:
            return [self._deconv(x)]
        if not layer.symmetric:
            x = F.pad(x, layer.pad4)
        act = self.act
        residual = inputs[1] if self.add else None
        if residual is not None and residual.dim() == 2:  # an ncnn 1-D blob adds per channel
            residual = residual[:, :, None, None]
        if self.nnpack:
            pad = list(layer.padding)
            y = torch._nnpack_spatial_convolution(to_nchw(x), self.weight, self.bias, pad, [1, 1])
            if residual is not None:
                y += residual
            return [act.apply(y) if act is not None else y]
        if self.packed is not None:
            mk = torch.ops.mkldnn
            pad, stride, dil = list(layer.padding), list(layer.stride), list(layer.dilation)
            fusable_add = (
                residual is not None
                and residual.dim() == 4
                and residual.shape[:2] == (x.shape[0], self.weight.shape[0])
                and tuple(residual.shape[2:]) == self._out_hw(x.shape[2], x.shape[3])
                and (act is None or act.attr is not None)
            )
            if fusable_add:
                return [
                    mk._convolution_pointwise.binary(
                        x, residual, self.packed, self.bias, pad, stride, dil, 1, "add", None,
                        act.attr if act else None, list(act.scalars) if act else [], None,
                    )
                ]
            attr = act.attr if act is not None and act.attr is not None and residual is None else "none"
            y = mk._convolution_pointwise(
                x, self.packed, self.bias, pad, stride, dil, 1, attr, list(act.scalars) if attr != "none" else [], ""
            )
            if residual is not None:
                y = y + residual
                if act is not None:
                    y = act.apply(y)
            elif act is not None and act.attr is None:
                y = act.apply(y)
            return [y]
        y = F.conv2d(x, self.weight, self.bias, layer.stride, layer.padding, layer.dilation)
        if residual is not None:
            y = y + residual
        return [act.apply(y) if act is not None else y]

    def _deconv(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        act = self.act
        if self.packed is not None:
            attr = act.attr if act is not None and act.attr is not None else "none"
            y = torch.ops.mkldnn._convolution_transpose_pointwise(
                x, self.packed, self.bias, list(layer.padding), [0, 0], list(layer.stride), list(layer.dilation), 1,
                attr, list(act.scalars) if attr != "none" else [], "",
            )
            post = act if act is not None and act.attr is None else None
        else:
            y = F.conv_transpose2d(x, self.weight, self.bias, layer.stride, layer.padding, 0, 1, layer.dilation)
            post = act
        if not layer.symmetric:  # (an activation fused before this crop is element-wise: same result)
            pl, pr, pt, pb = layer.pad4
            y = y[:, :, pt : y.shape[2] - pb, pl : y.shape[3] - pr]
        return post.apply(y) if post is not None else y


class ChannelConcat:
    """ncnn Concat along channels of image blobs, done as a concatenation of NHWC rows.

    For channels-last tensors this is one sequential copy, where ``torch.cat(dim=1)`` takes a
    strided parallel path (measured 1 ms vs 16-68 ms for 160×148×148 on the shared CPU).
    """

    def __init__(self, layer: Concat):
        self.layer = layer

    def __call__(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        if all(t.dim() == 4 and t.is_contiguous() for t in inputs):
            return [torch.cat(inputs, dim=1)]
        if all(t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last) for t in inputs):
            nhwc = torch.cat([t.permute(0, 2, 3, 1) for t in inputs], dim=3)
            return [nhwc.permute(0, 3, 1, 2)]
        return self.layer(inputs)


@dataclass
class _Step:
    fn: Callable[[list[torch.Tensor]], list[torch.Tensor]]
    bottoms: list[str]
    tops: list[str]
    dead: list[str]


def _eltwise_coeffs(layer: Eltwise | BinaryOp) -> tuple[float, float] | None:
    """(c0, c1) when the layer computes c0·a + c1·b of two blobs; None otherwise."""
    if isinstance(layer, Eltwise):
        if layer.op != 1:
            return None
        if not layer.coeffs:
            return 1.0, 1.0
        if len(layer.coeffs) != 2:
            return None
        return layer.coeffs[0], layer.coeffs[1]
    if isinstance(layer, BinaryOp) and layer.op is torch.add and not layer.with_scalar:
        return 1.0, 1.0
    return None


class FastGraph:
    """The fused execution plan of an `NcnnGraph` (see the module docstring).

    Call `prepare(device, dtype)` after the graph's weights are on `device` in `dtype`
    (done by the constructor for the graph's current device/dtype); then ``fast(x)``.
    """

    def __init__(self, graph: NcnnGraph, nnpack: bool | None = None):
        self.graph = graph
        #: run wide 3×3 convolutions in NNPACK (None: where it pays on this CPU, `nnpack_pays`)
        self.allow_nnpack = nnpack_pays() if nnpack is None else nnpack
        layers, defs = graph.layers, graph.layer_defs
        alias: dict[str, str] = {}

        def real(name: str) -> str:
            return alias.get(name, name)

        # 1. resolve Split aliases; collect (layer index, bottoms, tops) of the rest
        plan: list[tuple[int, list[str], list[str]]] = []
        for i, bottoms, tops, _dead in graph.steps:
            if isinstance(layers[i], Split):
                for t in tops:
                    alias[t] = real(bottoms[0])
                continue
            plan.append((i, [real(b) for b in bottoms], list(tops)))
        output = real(graph.output_name)
        uses: dict[str, int] = {}
        for _i, bottoms, _tops in plan:
            for b in bottoms:
                uses[b] = uses.get(b, 0) + 1
        uses[output] = uses.get(output, 0) + 1
        producer = {t: k for k, (_i, _b, tops) in enumerate(plan) for t in tops}

        # 2. fuse: conv + Swish/Sigmoid, c·conv + y
        ops: dict[int, Callable] = {}  # plan index -> callable (steps not listed run their layer)
        removed: set[int] = set()
        rename: dict[str, str] = {}
        for k, (i, bottoms, tops) in enumerate(plan):
            layer = layers[i]
            if isinstance(layer, (Convolution, Deconvolution)):
                ops[k] = ConvStep(layer, ncnn_activation(int(defs[i].get(9, 0)), list(defs[i].get(10, []) or [])))
                continue
            if isinstance(layer, Concat) and layer.axis in (0, -3):
                ops[k] = ChannelConcat(layer)
                continue
            if isinstance(layer, (Swish, Sigmoid)):
                src = bottoms[0]
                j = producer.get(src)
                conv = ops.get(j) if j is not None else None
                if isinstance(conv, ConvStep) and conv.act is None and uses[src] == 1 and j not in removed:
                    conv.act = SWISH if isinstance(layer, Swish) else SIGMOID
                    removed.add(k)
                    rename[tops[0]] = src
                continue
            coeffs = _eltwise_coeffs(layer) if len(bottoms) == 2 else None
            if coeffs is None:
                continue
            for side in (0, 1):
                src, other = bottoms[side], bottoms[1 - side]
                j = producer.get(src)
                conv = ops.get(j) if j is not None else None
                if (
                    isinstance(conv, ConvStep) and not conv.transposed and not conv.add and conv.act is None
                    and uses[src] == 1 and coeffs[1 - side] == 1.0 and j not in removed and src != other
                ):
                    conv.scale = coeffs[side]
                    conv.add = True
                    plan[j] = (plan[j][0], plan[j][1] + [other], plan[j][2])
                    removed.add(k)
                    rename[tops[0]] = src
                    break

        def final(name: str) -> str:
            while name in rename:
                name = rename[name]
            return name

        # 3. the steps, with blobs freed after their last use
        kept = [
            (k, i, [final(b) for b in bottoms], tops) for k, (i, bottoms, tops) in enumerate(plan) if k not in removed
        ]
        self.output_name = final(output)
        last_use: dict[str, int] = {}
        for n, (_k, _i, bottoms, _tops) in enumerate(kept):
            for b in bottoms:
                last_use[b] = n
        self.steps: list[_Step] = []
        for n, (k, i, bottoms, tops) in enumerate(kept):
            dead = [b for b in set(bottoms) if last_use[b] == n and b != self.output_name]
            self.steps.append(_Step(ops.get(k, layers[i]), bottoms, tops, dead))
        self.input_name = graph.input_name
        self.conv_steps = [s.fn for s in self.steps if isinstance(s.fn, ConvStep)]
        self.uses_onednn = False
        ref = next(iter(graph.buffers()), None)
        if ref is not None:
            self.prepare(ref.device, ref.dtype)

    def prepare(self, device: torch.device, dtype: torch.dtype) -> None:
        """(Re)build the folded / prepacked weights for the graph's current tensors."""
        self.uses_onednn = onednn_usable(torch.device(device), dtype)
        # U-Nets (strided convolutions: CUNet, Real-CUGAN) switch layouts between NNPACK and
        # oneDNN at every level; measured with 2 threads they ran faster all in oneDNN
        strided = any(not c.transposed and tuple(c.layer.stride) != (1, 1) for c in self.conv_steps)
        use_nnpack = self.allow_nnpack and self.uses_onednn and not strided
        with torch.no_grad():
            for conv in self.conv_steps:
                conv.prepare(self.uses_onednn, use_nnpack)
        # NNPACK works on NCHW: a graph with NNPACK convolutions keeps NCHW blobs
        self.uses_nnpack = any(conv.nnpack for conv in self.conv_steps)
        self.channels_last = self.uses_onednn and not self.uses_nnpack
        for conv in self.conv_steps:
            conv.nchw_out = self.uses_nnpack and conv.packed is not None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last) if self.channels_last else to_nchw(x)
        blobs: dict[str, torch.Tensor] = {self.input_name: x}
        for step in self.steps:
            outs = step.fn([blobs[b] for b in step.bottoms])
            for name, t in zip(step.tops, outs, strict=False):
                blobs[name] = t
            for b in step.dead:
                del blobs[b]
        return blobs[self.output_name]
