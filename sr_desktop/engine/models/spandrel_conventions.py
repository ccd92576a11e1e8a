"""What the engine does around a spandrel model's network, on numpy arrays and torch tensors
alike: spandrel's call (pad to the size requirements, network, clamp to 0..1, crop) and the
engine's channel handling (`community.model`'s docstring).

The torch model (`community.model.SpandrelModel`) and the same model run by a cached
OpenVINO conversion in a process that imports neither torch nor spandrel (`arch_host`) both go
through `run_spandrel`, so the two cannot drift apart. Kept outside the ``community``
package, whose import loads torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sr_desktop.engine.compute.ycbcr import BT601_MATRIX
from sr_desktop.engine.models.arch_conventions import concat_channels, matlab_bicubic, pad_once, whole

#: full-range BT.601 luma weights (Y row of the studio-range matrix over its 219 span)
LUMA_WEIGHTS = tuple(float(w) for w in BT601_MATRIX[0] / 219.0)


@dataclass(frozen=True)
class SpandrelConvention:
    """A spandrel model at its scale: the network's input and output channels (1 grey, 3 RGB,
    4 RGBA) and spandrel's size requirements (`minimum` side, sides a multiple of
    `multiple_of`, `square`)."""

    scale: int
    input_channels: int = 3
    output_channels: int = 3
    minimum: int = 0
    multiple_of: int = 1
    square: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> SpandrelConvention:
        """The convention a `to_dict` wrote; `ValueError` for anything else (a damaged file)."""
        if not isinstance(data, dict):
            raise ValueError("not an object")
        conv = cls(**{name: data.get(name) for name in ("scale", "input_channels", "output_channels",
                                                        "minimum", "multiple_of", "square")})

        valid = (whole(conv.scale, 1) and conv.input_channels in (1, 3, 4) and conv.output_channels in (1, 3, 4)
                 and whole(conv.minimum, 0) and whole(conv.multiple_of, 1) and isinstance(conv.square, bool))
        if not valid:
            raise ValueError(f"not a convention: {data!r}")
        return conv

    def padding(self, width: int, height: int) -> tuple[int, int]:
        """(right, bottom) padding that meets the size requirements (spandrel's
        ``SizeRequirements.get_padding``: the minimum, then up to the multiple, then square)."""
        w = -(-max(self.minimum, width) // self.multiple_of) * self.multiple_of
        h = -(-max(self.minimum, height) // self.multiple_of) * self.multiple_of
        if self.square:
            w = h = max(w, h)
        return w - width, h - height


def luma(x):
    """N×3×H×W RGB -> N×1×H×W full-range BT.601 luma, of an array or a tensor."""
    if isinstance(x, np.ndarray):
        weights = np.asarray(LUMA_WEIGHTS, dtype=x.dtype).reshape(1, 3, 1, 1)
        return (x * weights).sum(axis=1, keepdims=True)
    import torch

    weights = torch.tensor(LUMA_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def descriptor_call(conv: SpandrelConvention, graph: Callable, image):
    """spandrel's descriptor call with `graph` as the network: pad on the right and bottom to
    the size requirements (reflect as far as the image allows, replicate the rest), run,
    clamp to 0..1, crop to s·H × s·W."""
    h, w = image.shape[-2:]
    pad_w, pad_h = conv.padding(w, h)
    if pad_w or pad_h:
        reflect_w, reflect_h = min(pad_w, w - 1), min(pad_h, h - 1)
        image = pad_once(image, 0, reflect_w, 0, reflect_h, "reflect")
        image = pad_once(image, 0, pad_w - reflect_w, 0, pad_h - reflect_h, "replicate")
    out = graph(image)
    out = np.clip(out, 0, 1) if isinstance(out, np.ndarray) else out.clamp(0, 1)
    return out[..., : h * conv.scale, : w * conv.scale]


def run_spandrel(conv: SpandrelConvention, call: Callable, x):
    """The model's output for N×3×H×W `x` (RGB 0..1, an array or a tensor): N×3×sH×sW.
    `call` makes spandrel's call on the network's input (`descriptor_call`, or spandrel's
    own descriptor). A grey network upscales the luma, the colour differences go bicubic; an
    RGBA network gets an opaque alpha plane; a grey output is repeated to RGB."""
    if conv.input_channels == 1:
        grey = luma(x)
        y = call(grey)
        if conv.output_channels == 1:
            return y + matlab_bicubic(x - grey, conv.scale)
        return y[:, :3]
    if conv.input_channels == 4:
        ones = np.ones_like(x[:, :1]) if isinstance(x, np.ndarray) else x.new_ones(x[:, :1].shape)
        x = concat_channels([x, ones])
    y = call(x)
    if y.shape[1] == 1:
        return np.repeat(y, 3, axis=1) if isinstance(y, np.ndarray) else y.expand(-1, 3, -1, -1)
    return y[:, :3]
