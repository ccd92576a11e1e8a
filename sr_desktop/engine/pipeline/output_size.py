"""A result resized to the size it is exported at (`core.output_size.OutputSize`: ``--width``/
``--height`` of `upscale` and `batch`, the Save As dialog's Size).

A photographer asks for "6000 pixels wide" (a print, a client's spec), not for ×4: the
network upscales at its scale and the result is then resized with Lanczos (Pillow's, which
widens its kernel when it reduces, so it averages rather than skips pixels) to fit the size
asked for, its aspect ratio kept; a result of `nearest` with nearest neighbour
(`OutputSize.for_model`). Colours under transparent pixels do not bleed into the
visible ones: colour and alpha are resized premultiplied.
"""

from __future__ import annotations

import numpy as np

from sr_desktop.engine.compute.resample import quantize, resize_into, resize_plane
from sr_desktop.engine.core.errors import OptionError
from sr_desktop.engine.core.output_size import OutputSize, resampling_after
from sr_desktop.engine.core.progress import CancelToken, check_cancel
from sr_desktop.engine.imageio.animation import Animation
from sr_desktop.engine.imageio.formats import MAX_SIDE, size_refusal
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.models.resample_model import SCALENX
from sr_desktop.engine.pipeline.memory import UpscaleMemoryError


def box_refusal(size: OutputSize | None, fmt: str | None) -> str | None:
    """Why no image can be written as `fmt` at `size` (a side asked for above the format's
    largest), known before any file: None when some can."""
    limit = MAX_SIDE.get(fmt or "")
    # (fitted inside the box: a side within the limit holds it, 20000×300 makes 300×300 of a square)
    if size is None or limit is None or min(side for side in (size.width, size.height) if side) <= limit:
        return None
    return (f"{fmt.upper()} holds at most {limit} pixels a side, not {size.describe()}: ask for less, "
            "or save as PNG or TIFF")


def enlargement_note(upscaled: tuple[int, int], exported: tuple[int, int], model: str, scale: int) -> str:
    """What a result enlarged past the model's output says (a photographer's "6000 px wide"
    from a 640-px ×4 result was stretched 9× by Lanczos without a word): "resized up ×9.38
    past span ×4 by Lanczos (interpolated, no detail added: a larger scale adds the
    model's)"; "" when it was not enlarged (by a hundredth at least), and for a resampling
    model (bicubic, nearest…: its whole result is interpolated, a larger scale adds nothing;
    not scalenx, whose passes a larger scale adds). `upscaled`, `exported`: (width, height)."""
    from sr_desktop.engine.models.registry import is_resample

    factor = max(exported[0] / upscaled[0], exported[1] / upscaled[1])
    if round(factor, 2) <= 1.0 or (is_resample(model) and model != SCALENX):
        return ""
    how = "nearest neighbour (repeated pixels" if resampling_after(model) == "nearest" else "Lanczos (interpolated"
    return f"resized up ×{factor:.2f} past {model} ×{scale} by {how}, no detail added: a larger scale adds the model's)"


def resized(item: Image | Animation, size: OutputSize | None, fmt: str | None = None,
            cancel: CancelToken | None = None) -> Image | Animation:
    """`item` (a still, or every frame of an animation, each page of a TIFF at its own size)
    resized to fit `size`; as it is when `size` is None or it has that size already.
    `fmt`: the format it is written in, whose largest side is checked before any work (a
    WebP asked 17 000 px wide was refused after ten seconds and 5 GB of resizing).
    `UpscaleMemoryError` when the resized image does not fit in memory; `Cancelled` between
    its planes once `cancel` is set (a save's Cancel left seconds of resizing running)."""
    if size is None:
        return item
    frames = item.frames if isinstance(item, Animation) else [item]
    targets = [size.fitted(frame.width, frame.height) for frame in frames]
    if all(target == (frame.width, frame.height) for target, frame in zip(targets, frames, strict=True)):
        return item
    if fmt is not None:
        for width, height in targets:
            if (too_large := size_refusal(fmt, width, height)) is not None:
                raise OptionError(f"resizing to {size.describe()}: {too_large}")
    try:
        done = [frame.with_pixels(_resized_pixels(frame.pixels, target, cancel, size.resampling))
                for frame, target in zip(frames, targets, strict=True)]
    except MemoryError:
        width, height = targets[0]
        needed = sum(w * h for w, h in targets) * frames[0].pixels.shape[2] * 8  # (float planes and the result)
        raise UpscaleMemoryError(f"not enough memory to resize to {width}×{height} (about {needed / 1e9:.1f} GB): "
                                 "ask for a smaller size") from None
    if isinstance(item, Animation):
        return Animation(done, list(item.durations), item.plays, list(item.disposals), item.source_format, item.path)
    return done[0]


def _resized_pixels(pixels: np.ndarray, size: tuple[int, int], cancel: CancelToken | None = None,
                    method: str = "lanczos") -> np.ndarray:
    """H×W×C uint8/uint16 (or float) pixels at `size` = (width, height), in their own type,
    one plane at a time by `method`; with Lanczos a last channel of alpha (C = 2 or 4)
    resized premultiplied (nearest copies pixels: nothing bleeds)."""
    top = float(np.iinfo(pixels.dtype).max) if pixels.dtype.kind in "ui" else 1.0
    channels = pixels.shape[2]
    out = np.empty((size[1], size[0], channels), pixels.dtype)
    if channels not in (2, 4) or method == "nearest":
        for c in range(channels):
            check_cancel(cancel)
            resize_into(pixels[:, :, c:c + 1], out[:, :, c:c + 1], top, method)
        return out
    check_cancel(cancel)
    alpha = pixels[:, :, -1].astype(np.float32) / top
    kept = np.clip(resize_plane(alpha, size), 0.0, 1.0)
    out[:, :, -1] = quantize(kept, out.dtype)
    for c in range(channels - 1):
        check_cancel(cancel)
        premultiplied = resize_plane(pixels[:, :, c].astype(np.float32) / top * alpha, size)
        out[:, :, c] = quantize(np.divide(premultiplied, kept, out=np.zeros_like(premultiplied), where=kept > 1e-6),
                                out.dtype)
    return out
