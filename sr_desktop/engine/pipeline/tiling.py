"""Tiled inference: bounded memory, no seams, no dropped tiles.

The input stays in host memory in its own dtype; each tile is cut out *with* ``context``
real neighbouring pixels per side (clipped at the image border, where the model's own
border convention applies exactly as for a whole-image run), converted to float, run on
the device, cropped back to its core, quantised on the device and copied straight into
the preallocated host output. So the whole output never lives on the device, and the
float copy of the image never exists at once.

On an out-of-memory error the failing tile is split in four and the same region is
retried with the smaller tiles (and later tiles are split the same way): no tile is
ever skipped. On CUDA several equal-shaped tiles run as one batch when memory allows.

Models that run on the host without torch (the Pillow resamplers, `upscale_patch`) get
numpy tiles through the same loop; torch is imported only where tensors are made, so such
a run never loads it.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from sr_desktop.engine.compute import devices, resample
from sr_desktop.engine.core.errors import DeviceError, ModelError
from sr_desktop.engine.core.interrupt import raise_if_stop_requested
from sr_desktop.engine.core.options import MIN_TILE, TilePolicy, parse_tile
from sr_desktop.engine.core.progress import CancelToken, ProgressTracker, cancel_scope, check_cancel
from sr_desktop.engine.models.base import SRModel, aligned_context
from sr_desktop.engine.models.cancel_points import add_cancel_points
from sr_desktop.engine.pipeline.blown_output import count_blown_pixels

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]  # y0, y1, x0, x1 (core region, input pixels)

MAX_AUTO_TILE = 2048
#: whole-image bound (input pixels) for non-tileable models on CPU/MPS memory
NON_TILEABLE_MAX_PIXELS = 1_500_000  # Real-CUGAN needs ≈3–4 GB of fp32 activations per MP
NON_TILEABLE_FALLBACK_TILE = 1024


@dataclass
class TileStats:
    """What a tiled run did."""

    tiles: int = 0
    tile_size: int = 0  # 0 = the whole image in one piece
    oom_splits: int = 0
    batch_size: int = 1
    peak_device_bytes: int = 0
    #: output pixels written, and how many of them blew up (`blown_output`)
    pixels: int = 0
    blown_pixels: int = 0


def _cuts(size: int, tile: int, align: int) -> list[int]:
    """Near-equal cut positions 0 = c0 < c1 < ... < cn = size, inner cuts multiples of `align`."""
    return _cuts_n(size, math.ceil(size / tile), align)


def _cuts_n(size: int, n: int, align: int) -> list[int]:
    """`n` near-equal parts of `size` (fewer where `align` merges cuts)."""
    inner = {round(i * size / n / align) * align for i in range(1, n)}
    return [0, *sorted(c for c in inner if 0 < c < size), size]


def plan_tiles(height: int, width: int, tile: int, align: int = 1) -> list[Box]:
    """Split H×W into near-equal core boxes of about `tile` pixels (0 = one box).

    Inner tile edges fall on multiples of `align`, so models whose result depends on the
    pixel phase (pixel-unshuffle, stride-2 U-Nets) see the same phase in every tile.
    """
    if tile <= 0 or (height <= tile and width <= tile):
        return [(0, height, 0, width)]
    ys, xs = _cuts(height, tile, align), _cuts(width, tile, align)
    return [(ys[i], ys[i + 1], xs[j], xs[j + 1]) for i in range(len(ys) - 1) for j in range(len(xs) - 1)]


def _axis_splits(size: int, context: int, align: int, largest: int) -> list[tuple[int, int, list[int]]]:
    """Per number of parts along one axis: (sum, max) of the parts' sides with their
    context, and the cuts; only parts of at most `largest` with context are of use."""
    options, seen = [], set()
    for n in range(1, max(1, size // MIN_TILE) + 1):
        cuts = _cuts_n(size, n, align)
        if len(cuts) in seen:
            continue
        seen.add(len(cuts))
        sides = [min(size, b + context) - max(0, a - context) for a, b in pairwise(cuts)]
        options.append((sum(sides), max(sides), cuts))
        if max(sides) <= MIN_TILE + 2 * context:
            break
    return [o for o in options if o[1] <= largest] or options[-1:]


def plan_tiles_within(height: int, width: int, tile: int, context: int, align: int = 1) -> list[Box]:
    """Core boxes whose passes (with `context` per side, clipped at the border) hold at most
    the pixels of a `tile`² tile with its context, splitting H×W so that the passes add up
    to the fewest pixels: context is repeated on every inner edge, so fewer, longer pieces
    do less work in the same memory. A 600×400 photo in RRDBNet's 192-px tiles with 56 px
    of context is 12 square passes holding 2.4× its pixels; within the same pass size it
    is 4 passes holding 1.5×."""
    budget = pass_pixels(tile, context)
    if tile <= 0 or height * width <= budget:
        return [(0, height, 0, width)]
    rows = _axis_splits(height, context, align, budget // MIN_TILE)
    cols = _axis_splits(width, context, align, budget // MIN_TILE)
    best = None
    for sum_y, max_y, ys in rows:
        for sum_x, max_x, xs in cols:  # ordered by parts: the first that fits is the best
            if max_y * max_x <= budget:
                key = (sum_y * sum_x, (len(ys) - 1) * (len(xs) - 1))
                if best is None or key < best[0]:
                    best = (key, ys, xs)
                break
    if best is None:  # not even the smallest pieces fit: the square plan
        return plan_tiles(height, width, tile, align)
    _, ys, xs = best
    return [(ys[i], ys[i + 1], xs[j], xs[j + 1]) for i in range(len(ys) - 1) for j in range(len(xs) - 1)]


def plan_model_tiles(model: SRModel, height: int, width: int, tile: int, fill_passes: bool = False) -> list[Box]:
    """The core boxes `run_tiled` starts from: `tile`-px squares, or with `fill_passes`
    (an automatic tile on the CPU) the boxes of `plan_tiles_within`: passes no larger than
    one such square with the model's context, and fewer of them."""
    align = max(1, int(getattr(model, "align", 1)))
    if fill_passes and tile > 0:
        return plan_tiles_within(height, width, tile, aligned_context(model.context, align), align)
    return plan_tiles(height, width, tile, align)


def count_tiles(height: int, width: int, tile: int, align: int = 1) -> int:
    """Number of tiles `run_tiled` will run for an H×W input (before any OOM split)."""
    return len(plan_tiles(height, width, tile, align))


def split_box(box: Box, tile: int, align: int = 1) -> list[Box]:
    """Split one core box (with aligned corners) into aligned sub-boxes of about `tile`."""
    y0, y1, x0, x1 = box
    return [(y0 + a, y0 + b, x0 + c, x0 + d) for a, b, c, d in plan_tiles(y1 - y0, x1 - x0, tile, align)]


def _padded(box: Box, context: int, height: int, width: int) -> Box:
    y0, y1, x0, x1 = box
    return max(0, y0 - context), min(height, y1 + context), max(0, x0 - context), min(width, x1 + context)


def _to_tensor(src: np.ndarray, box: Box, src_max: float) -> torch.Tensor:
    import torch

    y0, y1, x0, x1 = box
    patch = np.ascontiguousarray(src[y0:y1, x0:x1])
    if not patch.flags.writeable:  # (np.asarray of a PIL image: torch warns of sharing it; copied below anyway)
        patch = patch.copy()
    t = torch.from_numpy(patch)
    t = t.to(torch.float32) if t.dtype != torch.float32 else t.clone()
    if src_max != 1.0:
        t.div_(src_max)
    return t.permute(2, 0, 1)


def _quantize_on_device(y: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """N×C×H×W float -> N×H×W×C host array of `dtype` (floor(x·max+0.5) after clamping)."""
    import torch

    y = y.float().clamp_(0.0, 1.0)
    if dtype.kind == "f":
        out = y
    else:
        top = float(np.iinfo(dtype).max)
        out = y.mul_(top).add_(0.5).floor_()
        out = out.to(torch.uint8) if dtype == np.uint8 else out.to(torch.int32)
    arr = out.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    return arr if arr.dtype == dtype else arr.astype(dtype)


def run_tiled(
    model: SRModel,
    src: np.ndarray,
    out: np.ndarray,
    *,
    tile: int,
    src_max: float = 1.0,
    to_gray: bool = False,
    batch_size: int = 1,
    tracker: ProgressTracker | None = None,
    cancel: CancelToken | None = None,
    boxes: list[Box] | None = None,
) -> TileStats:
    """Run `model` over H×W×3 `src` tile by tile, writing the scaled result into `out`.

    `out` is a preallocated (s·H)×(s·W)×C array (C = 3, or 1 with `to_gray`, which
    averages the three output channels). `src` may be uint8/uint16 (divided by `src_max`)
    or float32. `tile` is the core tile size in input pixels (0 = whole image). The
    caller sets ``tracker.total`` (see `count_tiles`); OOM splits add to it. `boxes`: the
    core boxes to run (`plan_model_tiles`), instead of `tile`-px squares.
    """
    height, width = src.shape[:2]
    s = model.scale
    if out.shape[0] != height * s or out.shape[1] != width * s:
        raise ValueError(f"output buffer {out.shape} does not match input {src.shape} × {s}")
    align = max(1, int(getattr(model, "align", 1)))
    queue: deque[Box] = deque(boxes if boxes is not None else plan_tiles(height, width, tile, align))
    stats = TileStats(tile_size=tile, batch_size=batch_size)
    max_tile = max(max(b[1] - b[0], b[3] - b[2]) for b in queue) if tile > 0 else max(height, width)
    context = aligned_context(model.context, align)
    device = model.device
    channels_last = device.type == "cuda"
    run_group = _run_group_on_host if hasattr(model, "upscale_patch") else _run_group

    while queue:
        check_cancel(cancel)
        raise_if_stop_requested()  # (a signal a library swallowed in an earlier tile)
        box = queue.popleft()
        if max(box[1] - box[0], box[3] - box[2]) > max_tile:
            parts = split_box(box, max_tile, align)
            if len(parts) > 1:  # (a box below the alignment step cannot be split further)
                queue.extendleft(reversed(parts))
                if tracker is not None:
                    tracker.total += len(parts) - 1
                continue
        group = [box]
        shape = _padded_shape(box, context, height, width)
        while len(group) < batch_size and queue and _padded_shape(queue[0], context, height, width) == shape:
            group.append(queue.popleft())
        try:
            with cancel_scope(cancel):  # (the network's blocks and OpenVINO stop inside a tile too)
                results, blown = run_group(model, src, group, context, src_max, out.dtype, to_gray, channels_last)
        except Exception as exc:  # only OOM is handled, the rest re-raised
            if not devices.is_out_of_memory(exc):
                raise
            del exc
            devices.empty_cache(device)
            if len(group) > 1:
                batch_size = max(1, len(group) // 2)
                stats.batch_size = batch_size
                queue.extendleft(reversed(group))
                log.info("out of memory with a batch of %d tiles; retrying with %d", len(group), batch_size)
                continue
            size = max(box[1] - box[0], box[3] - box[2])
            new_tile = size // 2
            if new_tile < MIN_TILE:
                # (on the CPU it said "or --device cpu", the device it ran on)
                elsewhere = "" if getattr(device, "type", str(device)) == "cpu" else " or --device cpu"
                raise DeviceError(
                    f"out of memory on {device} even with {size}×{size} tiles; "
                    f"close other programs or use a smaller model{elsewhere}"
                ) from None
            parts = split_box(box, new_tile, align)
            if len(parts) == 1:
                raise DeviceError(
                    f"out of memory on {device} with a {size}×{size} tile that cannot be split further"
                ) from None
            max_tile = new_tile
            stats.tile_size = new_tile
            stats.oom_splits += 1
            queue.extendleft(reversed(parts))
            if tracker is not None:
                tracker.total += len(parts) - 1
            log.info("out of memory with a %d px tile; retrying the same region with %d px tiles", size, new_tile)
            continue
        for (y0, y1, x0, x1), arr in zip(group, results, strict=True):
            out[y0 * s : y1 * s, x0 * s : x1 * s, :] = arr
            stats.pixels += arr.shape[0] * arr.shape[1]
        stats.blown_pixels += blown
        stats.tiles += len(group)
        if device.type == "cuda":
            import torch

            stats.peak_device_bytes = max(stats.peak_device_bytes, torch.cuda.max_memory_allocated(device))
        if tracker is not None:
            tracker.step(len(group), message=f"tile {tracker.done + len(group)}/{tracker.total}")
    return stats


def _padded_shape(box: Box, context: int, height: int, width: int) -> tuple[int, int]:
    y0, y1, x0, x1 = _padded(box, context, height, width)
    return y1 - y0, x1 - x0


def _run_group(
    model: SRModel,
    src: np.ndarray,
    group: list[Box],
    context: int,
    src_max: float,
    out_dtype: np.dtype,
    to_gray: bool,
    channels_last: bool,
) -> tuple[list[np.ndarray], int]:
    """The group's upscaled cores, and how many of their pixels blew up (`blown_output`)."""
    import torch

    add_cancel_points(getattr(model, "module", None))
    height, width = src.shape[:2]
    padded = [_padded(b, context, height, width) for b in group]
    x = torch.stack([_to_tensor(src, p, src_max) for p in padded])
    x = x.to(model.device, model.dtype, non_blocking=True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        return _forward_and_crop(model, x, group, padded, out_dtype, to_gray)


def _run_group_on_host(
    model: SRModel,
    src: np.ndarray,
    group: list[Box],
    context: int,
    src_max: float,
    out_dtype: np.dtype,
    to_gray: bool,
    _channels_last: bool,
) -> tuple[list[np.ndarray], int]:
    """`_run_group` for a model that upscales H×W×C float32 numpy patches (`upscale_patch`):
    the same float conversion, crop, grey and rounding, without tensors."""
    height, width = src.shape[:2]
    s = model.scale
    results, blown = [], 0
    for y0, y1, x0, x1 in group:
        py0, py1, px0, px1 = _padded((y0, y1, x0, x1), context, height, width)
        patch = src[py0:py1, px0:px1].astype(np.float32)
        if src_max != 1.0:
            patch /= src_max
        y = model.upscale_patch(patch)
        if not math.isfinite(float(y.sum(dtype=np.float32))) and not np.isfinite(y).all():  # as `_forward_and_crop`
            raise ModelError(non_finite_output(model))
        top, left = (y0 - py0) * s, (x0 - px0) * s
        core = y[top : top + (y1 - y0) * s, left : left + (x1 - x0) * s]
        blown += count_blown_pixels(core)
        if to_gray:  # clip first: the grey result equals the grey of the saved RGB result
            core = np.clip(core, 0.0, 1.0).mean(axis=2, keepdims=True, dtype=np.float32)
        results.append(resample.quantize(core, out_dtype))
    return results, blown


def non_finite_output(model: SRModel) -> str:
    """The line for a network whose output holds NaN or infinity (clamping and rounding
    made that a black image, written and reported as a success)."""
    dtype = str(getattr(model, "dtype", "")).removeprefix("torch.")
    hint = "; --precision fp32 may avoid it" if dtype in ("float16", "bfloat16") else ""
    return (f"model {model.id} gave NaN or infinite values ({dtype or 'its'} arithmetic overflowed, or its "
            f"weights are damaged){hint}")


def _forward_and_crop(model, x, group, padded, out_dtype, to_gray) -> tuple[list[np.ndarray], int]:
    import torch

    s = model.scale
    y = model.run(x)
    # one sum (0.5 ms for a 1536² output here) and, only when it is not finite, the exact
    # test (14-29 ms): a NaN or inf anywhere makes the sum so; huge finite values may too
    if not math.isfinite(float(y.sum(dtype=torch.float32))) and not bool(torch.isfinite(y).all()):
        raise ModelError(non_finite_output(model))
    ph, pw = x.shape[2], x.shape[3]
    if y.shape[2] != ph * s or y.shape[3] != pw * s:
        raise ModelError(
            f"model {model.id} returned {tuple(y.shape[2:])} for a {ph}×{pw} input at ×{s}"
        )
    results, blown = [], 0
    # (one min/max of the whole batch; the cores counted only when it is out)
    suspect = count_blown_pixels(y) > 0
    for i, ((y0, y1, x0, x1), (py0, _py1, px0, _px1)) in enumerate(zip(group, padded, strict=True)):
        top, left = (y0 - py0) * s, (x0 - px0) * s
        core = y[i : i + 1, :, top : top + (y1 - y0) * s, left : left + (x1 - x0) * s]
        if suspect:
            blown += count_blown_pixels(core)
        if to_gray:  # clip first: the grey result equals the grey of the saved RGB result
            core = core.float().clamp(0.0, 1.0).mean(dim=1, keepdim=True)
        results.append(_quantize_on_device(core, np.dtype(out_dtype))[0])
    return results, blown


def probe_bytes_per_pixel(model: SRModel, probe: int = 64) -> float:
    """Device memory per input pixel of one forward pass, measured on a small probe (CUDA)."""
    import torch

    device = model.device
    side = probe + 2 * model.context
    x = torch.rand(1, 3, side, side, device=device, dtype=model.dtype)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    with torch.inference_mode():
        model.run(x)
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - base
    return max(1.0, peak / (side * side))


def pass_pixels(tile: int, context: int) -> int:
    """Input pixels of one `tile`² tile with `context` pixels on every side."""
    return (tile + 2 * context) ** 2


def choose_tile(model: SRModel, height: int, width: int, requested: TilePolicy | int | str) -> tuple[int, int]:
    """Return (tile, batch_size) for a job. `requested`: a `TilePolicy` (or its plain form,
    'auto', 0 = whole image, N pixels, parsed by `parse_tile`)."""
    requested = parse_tile(requested)
    if not model.tileable:
        # Tiles of such models (global pooling) are not independent: whole image when it
        # fits the bound, else the largest tiles (on CUDA an OOM also splits, see run_tiled).
        if height * width <= NON_TILEABLE_MAX_PIXELS or model.device.type == "cuda":
            return 0, 1
        log.warning("%s is not tileable; image above %d px runs in %d px tiles",
                    model.id, NON_TILEABLE_MAX_PIXELS, NON_TILEABLE_FALLBACK_TILE)
        return NON_TILEABLE_FALLBACK_TILE, 1
    if not requested.is_auto:
        return requested.size, 1  # at least MIN_TILE: parse_tile's floor
    device = model.device
    if device.type != "cuda":
        # On the CPU bigger tiles are not faster; the model's recommended size keeps the
        # working memory small and the progress fine-grained. But an image whose whole pass
        # is no larger than one such tile with its context runs whole: tiling it would only
        # repeat the context (a 256² photo in 192-px tiles with RRDBNet's 56 px of context
        # is 4 passes of 184², 2.1× the pixels: 38 s instead of 18 s), and its memory stays
        # within what the model takes on any photo larger than a tile.
        tile = int(model.recommended_tile)
        if tile > 0 and height * width <= model.cpu_pass_side() ** 2:
            return 0, 1
        return tile, 1
    try:
        bpp = probe_bytes_per_pixel(model)
    except Exception as exc:
        if not devices.is_out_of_memory(exc):
            raise
        devices.empty_cache(device)
        return 128, 1
    budget = devices.free_memory_bytes(device) * 0.6
    side = int(math.sqrt(budget / bpp)) - 2 * model.context
    side = max(64, min(MAX_AUTO_TILE, side // 32 * 32))
    if side >= max(height, width):
        return 0, 1
    tiles = count_tiles(height, width, side, model.align)
    per_tile = bpp * (side + 2 * model.context) ** 2
    batch = int(max(1, min(8, tiles, budget // per_tile)))
    return side, batch
