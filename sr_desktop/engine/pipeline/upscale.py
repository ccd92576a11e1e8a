"""The upscaling pipeline: Image -> model (tiled, any scale) -> Image.

Scale rule (documented in the README): `scale_plan` (native passes, then Lanczos to the
exact scale when they overshoot). Options: `sr_desktop.engine.core.options.UpscaleOptions`.
Loaded models: `model_cache.get_model`.

RGB goes through the model. Alpha is upscaled through the model too (as a grey image) or
by Lanczos resampling (``alpha="resample"``); fully transparent pixels first take a colour filled
smoothly from the visible ones (`transparent_fill`), so their hidden colour does not fringe the
edges. Grey images go through the model as RGB and
come back grey (mean of the three output channels). 16-bit input gives 16-bit output;
intermediate passes are kept at 16 bits.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sr_desktop.engine.compute import devices, resample
from sr_desktop.engine.compute.antiring import clamp_to_source_range
from sr_desktop.engine.compute.transparent_fill import fill_hidden_colour
from sr_desktop.engine.core.box import whole_box
from sr_desktop.engine.core.errors import ModelError, SRDesktopError
from sr_desktop.engine.core.options import DEFAULT_MODEL, MAX_SCALE, AlphaMode, TilePolicy, UpscaleOptions
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressTracker, check_cancel
from sr_desktop.engine.imageio import check_output_path, read_image, write_image
from sr_desktop.engine.imageio.image import Image
from sr_desktop.engine.models.base import SRModel
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.registry import is_per_image
from sr_desktop.engine.pipeline.blown_output import blown_up_warnings
from sr_desktop.engine.pipeline.memory import estimated_bytes, is_allocation_failure, memory_error
from sr_desktop.engine.pipeline.model_cache import get_model
from sr_desktop.engine.pipeline.scale_plan import ScalePlan, native_scales_of, plan_for, plan_scale, scale_route
from sr_desktop.engine.pipeline.tiling import choose_tile, plan_model_tiles, run_tiled

log = logging.getLogger(__name__)

# The options, the scale plan and the model cache live in their own modules; these names
# are part of this module's interface (the CLI, the GUI, benchmarks import them from here).
__all__ = [
    "DEFAULT_MODEL", "MAX_SCALE", "ScalePlan", "UpscaleOptions", "UpscaleResult", "get_model",
    "native_scales_of", "plan_scale", "resolve_model", "upscale_file", "upscale_float",
    "upscale_image", "upscale_region",
]


@dataclass
class UpscaleResult:
    """The upscaled image and how it was made."""

    image: Image
    seconds: float
    device: str
    tiles: int
    tile_size: int
    scale: int
    model: str
    variant: str | None = None
    native_scale: int = 1
    passes: int = 1
    peak_memory_bytes: int = 0
    #: what `peak_memory_bytes` is: ``"device"``, the GPU memory torch's run held at its peak,
    #: or ``"process"``, the whole process's resident memory after it (on the CPU: the app's,
    #: libraries and all)
    memory_of: str = "process"
    extra: dict = field(default_factory=dict)
    #: what ran the network: ``torch``, ``openvino``, ``ncnn`` or ``pillow`` (see `models.backends`)
    backend: str = "torch"
    #: whether the model was given a blur kernel (``UpscaleOptions.kernel``: ZSSR, map-sr)
    with_kernel: bool = False
    #: seconds spent making the model ready before the image (loading it; at its first use,
    #: converting and timing the backends), not in `seconds`: a first upscale said "0.2 s"
    #: after 7 s
    setup_seconds: float = 0.0
    #: the share of the result's pixels where the network blew up (`blown_output`: clipped
    #: into noise); `warnings` says so
    blown_fraction: float = 0.0

    @property
    def warnings(self) -> list[str]:
        """What a person must hear about this result beside it (the model blew up on it)."""
        return blown_up_warnings(self.model, self.blown_fraction)

    @property
    def scale_route(self) -> str | None:
        """How a scale the model does not have was reached ("×4, then Lanczos to ×3", "×2
        twice"); None for one pass at a scale of its own."""
        reached = self.native_scale**self.passes
        return scale_route(ScalePlan(self.native_scale, self.passes, reached != self.scale), self.scale)


def resolve_model(options: UpscaleOptions, model: SRModel | None = None,
                  progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> tuple[SRModel, ScalePlan]:
    """The model (loaded by id unless given) and the scale plan for `options`; `progress`
    hears the backend's first-use notice when loading takes a measurement, which `cancel`
    stops."""
    if model is not None:
        return model, plan_scale([model.scale], options.scale)
    if options.kernel is not None and not is_per_image(options.model):
        # (a network's loader failed on the keyword; bicubic ignored the kernel, its result
        # still said "with kernel")
        raise ModelError(f"a kernel only applies to the models zssr and map-sr, not {options.model}")
    if options.iterations is not None and not is_per_image(options.model):
        raise ModelError(f"iterations only apply to the models zssr and map-sr (they train or solve on each "
                         f"image), not {options.model}")
    plan = plan_for(options.model, options.scale)
    model = get_model(options.model, plan.native, options.variant, options.device, options.precision,
                      options.backend, progress, cancel, kernel=options.kernel, iterations=options.iterations)
    return model, plan


# -- the pipeline ------------------------------------------------------------------------


class _Chain:
    """Runs one model `passes` times over a plane set, then resizes to the target."""

    def __init__(self, model: SRModel, plan: ScalePlan, target_scale: int, tile_request: TilePolicy,
                 cancel, tracker):
        self.model = model
        self.plan = plan
        self.target = target_scale
        self.tile_request = tile_request
        self.cancel = cancel
        self.tracker = tracker
        self.tiles = 0
        self.tile_size = 0
        self.peak = 0
        #: the largest share of a pass's pixels that blew up (`blown_output`)
        self.blown = 0.0
        self._tile_cache: dict[tuple[int, int], tuple[int, int]] = {}
        self._boxes_cache: dict[tuple[int, int], list] = {}

    def tile_for(self, h: int, w: int) -> tuple[int, int]:
        if (h, w) not in self._tile_cache:
            self._tile_cache[(h, w)] = choose_tile(self.model, h, w, self.tile_request)
        return self._tile_cache[(h, w)]

    def boxes_for(self, h: int, w: int) -> list:
        """The core boxes of a pass over h×w, planned once (`count` and `_one_pass` ask)."""
        if (h, w) not in self._boxes_cache:
            # an automatic tile on the CPU fills its passes (`plan_tiles_within`); on CUDA the
            # tile side and the batch were sized together from free memory, and a tile asked
            # for is kept as asked
            fill = self.tile_request.is_auto and self.model.device.type != "cuda"
            self._boxes_cache[(h, w)] = plan_model_tiles(self.model, h, w, self.tile_for(h, w)[0], fill_passes=fill)
        return self._boxes_cache[(h, w)]

    def count(self, h: int, w: int) -> int:
        total = 0
        for _ in range(self.plan.passes):
            if self.model.kind == ModelKind.PER_IMAGE:
                total += 1
            else:
                total += len(self.boxes_for(h, w))
            h, w = h * self.model.scale, w * self.model.scale
        return total

    def run(self, src: np.ndarray, src_max: float, out: np.ndarray, to_gray: bool) -> None:
        """src H×W×3 -> out (H·N)×(W·N)×C (C=1 when to_gray)."""
        cur, cur_max = src, src_max
        s = self.model.scale
        for p in range(self.plan.passes):
            last = p == self.plan.passes - 1
            h, w = cur.shape[:2]
            if last and not self.plan.final_resize:
                dst = out
            else:
                # Intermediate passes at 16 bits (float32 for float pipelines).
                dtype = np.float32 if out.dtype == np.float32 else np.uint16
                channels = 1 if (last and to_gray) else 3
                dst = np.empty((h * s, w * s, channels), dtype=dtype)
            self._one_pass(cur, cur_max, dst, to_gray=(to_gray and dst.shape[2] == 1))
            cur = dst
            cur_max = 1.0 if dst.dtype == np.float32 else float(np.iinfo(dst.dtype).max)
        if self.plan.final_resize:
            check_cancel(self.cancel)
            resample.resize_into(cur, out, cur_max, "lanczos")

    def _one_pass(self, src, src_max, dst, to_gray: bool) -> None:
        check_cancel(self.cancel)
        if self.model.kind == ModelKind.PER_IMAGE:
            rgb = src.astype(np.float32) / src_max
            # Trained per image: its own progress (iterations, ETA) is the job's progress.
            forward = self.tracker.callback if self.tracker is not None else None
            result = self.model.upscale_array(rgb, progress=forward, cancel=self.cancel)
            if to_gray:
                result = result.mean(axis=2, keepdims=True)
            dst[...] = resample.quantize(result, dst.dtype)
            self.tiles += 1
            if self.tracker is not None:
                self.tracker.step(1)
            return
        h, w = src.shape[:2]
        tile, batch = self.tile_for(h, w)
        stats = run_tiled(
            self.model, src, dst, tile=tile, src_max=src_max, to_gray=to_gray,
            batch_size=batch, tracker=self.tracker, cancel=self.cancel, boxes=self.boxes_for(h, w),
        )
        self.tiles += stats.tiles
        self.tile_size = max(self.tile_size, stats.tile_size)
        self.peak = max(self.peak, stats.peak_device_bytes)
        self.blown = max(self.blown, stats.blown_pixels / max(stats.pixels, 1))


def upscale_image(
    image: Image,
    options: UpscaleOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    model: SRModel | None = None,
) -> UpscaleResult:
    """Upscale `image` by `options`. Returns an `UpscaleResult`: its ``image`` the new Image,
    with `image`'s metadata, and what made it.

    `model` overrides loading by id (tests and benchmarks pass small models this way).
    Raises `Cancelled` if `cancel` is set between tiles; `SRDesktopError` on bad options;
    `UpscaleMemoryError` (naming the file and the memory it needs) when it does not fit.
    """
    options = _checked_arguments("upscale_image", image, options)
    began = time.perf_counter()
    model, plan = resolve_model(options, model, progress, cancel)
    setup = time.perf_counter() - began
    result = _upscale_checked(image, options, progress, cancel, model, plan, fill_hidden=True)
    result.setup_seconds = setup
    return result


def _checked_arguments(function: str, image: object, options: object) -> UpscaleOptions:
    """`options` (None: the defaults) once `image` is an engine Image and `options` an
    `UpscaleOptions`: an array, a dict or a model id failed later on a missing attribute."""
    if not isinstance(image, Image):
        raise SRDesktopError(f"{function} takes an engine Image (sr_desktop.engine.imageio.Image(pixels)), "
                             f"got {type(image).__name__}")
    return _checked_options(function, options)


def _checked_options(function: str, options: object) -> UpscaleOptions:
    """`options`, or the defaults for None; `SRDesktopError` for what is not an `UpscaleOptions`."""
    if options is None:
        return UpscaleOptions()
    if not isinstance(options, UpscaleOptions):
        raise SRDesktopError(f"{function} takes its options as UpscaleOptions(model=…, scale=…), "
                             f"got {type(options).__name__}")
    return options


def _upscale_checked(image: Image, options: UpscaleOptions, progress, cancel, model: SRModel, plan: ScalePlan,
                     fill_hidden: bool) -> UpscaleResult:
    """`_upscale_image`, its allocation failure reported as `UpscaleMemoryError`;
    `fill_hidden`: give hidden pixels their colour first (`with_hidden_colour_filled`; a
    region's crop has had it from the whole image)."""
    start = time.perf_counter()
    target = int(options.scale or plan.reached)
    try:
        if fill_hidden and not model.upscales_alpha_with_colour:  # (which copies pixels, blends none)
            image = with_hidden_colour_filled(image)
        return _upscale_image(image, options, progress, cancel, model, plan, target, start)
    except Exception as exc:
        if not is_allocation_failure(exc):
            raise
        del exc  # (its traceback holds the frames that hold the big arrays)
    raise memory_error(image, estimated_bytes(image, target, plan, model.scale))


def with_hidden_colour_filled(image: Image) -> Image:
    """`image` with the colour of its fully transparent pixels filled from the visible
    ones (`transparent_fill`): their hidden colour, often black, would bleed into
    the upscaled edges. The image itself when it has no alpha or nothing hidden."""
    if not image.has_alpha:
        return image
    pixels = image.pixels
    alpha = pixels[:, :, -1]
    colour = fill_hidden_colour(pixels[:, :, :-1], alpha)
    if np.shares_memory(colour, pixels):  # nothing was hidden (or everything)
        return image
    return image.with_pixels(np.concatenate([colour, pixels[:, :, -1:]], axis=2))


def _is_neutral(rgb: np.ndarray) -> bool:
    """Whether every pixel of `rgb` (H×W×3) has equal red, green and blue, a row band at a
    time (no full-size comparison arrays)."""
    for top in range(0, rgb.shape[0], 256):
        band = rgb[top : top + 256]
        if not (np.array_equal(band[:, :, 0], band[:, :, 1]) and np.array_equal(band[:, :, 1], band[:, :, 2])):
            return False
    return True


def _upscale_image(image: Image, options: UpscaleOptions, progress, cancel, model: SRModel,
                   plan: ScalePlan, target: int, start: float) -> UpscaleResult:
    pixels = image.pixels
    src_max = float(image.max_value)
    rgb = pixels[:, :, :3] if not image.is_gray else np.repeat(pixels[:, :, :1], 3, axis=2)
    h, w = image.height, image.width
    out = np.empty((h * target, w * target, image.channels), dtype=pixels.dtype)
    color_channels = 1 if image.is_gray else 3

    tracker = ProgressTracker(0, progress, stage="upscale")
    chain = _Chain(model, plan, target, options.tile, cancel, tracker)
    joint = image.has_alpha and model.upscales_alpha_with_colour
    alpha_through_model = image.has_alpha and options.alpha is AlphaMode.MODEL and not joint
    tracker.total = chain.count(h, w) * (2 if alpha_through_model else 1)
    tracker.update(message="starting")

    if joint:
        chain.run(pixels, src_max, out, to_gray=False)
    elif not image.is_gray and _is_neutral(rgb):
        # a black-and-white photo stored as RGB (most B&W camera JPEGs and scans): kept
        # neutral as a grey file is, the mean of the model's three channels in all three
        # (a colour model gave it colour noise on edges: 40 % of pixels 3+ levels apart)
        chain.run(rgb, src_max, out[:, :, :1], to_gray=True)
        out[:, :, 1:3] = out[:, :, :1]
    else:
        chain.run(rgb, src_max, out[:, :, :color_channels], to_gray=image.is_gray)
    if image.has_alpha and not joint:
        alpha = pixels[:, :, -1:]
        if alpha_through_model:
            chain.run(np.repeat(alpha, 3, axis=2), src_max, out[:, :, -1:], to_gray=True)
        else:
            check_cancel(cancel)
            # a resampling model's own method (nearest's alpha was smoothed into 122 levels
            # around a sprite whose colours stayed square blocks), a network's Lanczos
            method = getattr(model, "method", "lanczos") if model.kind == ModelKind.RESAMPLE else "lanczos"
            resample.resize_into(alpha, out[:, :, -1:], src_max, method)
        clamp_to_source_range(out[:, :, -1:], alpha)  # no ringing: opaque stays opaque, clear clear
    check_cancel(cancel)
    seconds = time.perf_counter() - start
    tracker.update(tracker.total, message="done")
    return UpscaleResult(
        image=image.with_pixels(out),
        seconds=seconds,
        device=devices.describe_device(model.device),
        tiles=chain.tiles,
        tile_size=chain.tile_size,
        scale=target,
        model=model.id or options.model,
        variant=model.variant,
        native_scale=plan.native,
        passes=plan.passes,
        peak_memory_bytes=chain.peak or devices.process_rss_bytes(),
        memory_of="device" if chain.peak else "process",
        backend=model.backend,
        with_kernel=options.kernel is not None,
        blown_fraction=chain.blown,
        # a per-image model that estimated its own kernel (--kernel estimate) says how far
        # to trust it (`KernelEstimate.confidence` / `.reliable`)
        extra=({"kernel_estimate": model.last_kernel_estimate}
               if getattr(model, "last_kernel_estimate", None) is not None else {}),
    )


def upscale_float(
    rgb: np.ndarray,
    options: UpscaleOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    model: SRModel | None = None,
) -> np.ndarray:
    """H×W×3 floats in 0..1 (any float type, run as float32) -> (N·H)×(N·W)×3 float32 clipped
    to 0..1 (metrics, benchmarks). Raises `SRDesktopError` for any other shape, dtype or range
    (a uint8 or 0..255 array came back all white, RGBA or CHW failed deep in a backend,
    differently on each)."""
    src = _float_rgb(rgb)
    options = _checked_options("upscale_float", options)
    model, plan = resolve_model(options, model, progress, cancel)
    target = int(options.scale or plan.reached)
    out = np.empty((src.shape[0] * target, src.shape[1] * target, 3), dtype=np.float32)
    tracker = ProgressTracker(0, progress, stage="upscale")
    chain = _Chain(model, plan, target, options.tile, cancel, tracker)
    tracker.total = chain.count(*src.shape[:2])
    chain.run(src, 1.0, out, to_gray=False)
    return out


#: how far outside 0..1 `upscale_float` takes values as the overshoot of the 0..1 scale (an
#: unrounded bicubic LR, the bench's ``bicubic-float``, overshoots near edges: -0.008..1.002 on
#: Set5; refused at 1e-3, every network failed that protocol); beyond it values are of another
#: scale, or what the networks were never shown (-0.3 came back as 0.67)
_FLOAT_RANGE_SLACK = 0.1


def _float_rgb(rgb) -> np.ndarray:
    """`rgb` as a contiguous float32 H×W×3 array in 0..1, or `SRDesktopError` saying what it is."""
    if not isinstance(rgb, np.ndarray):
        raise SRDesktopError(f"upscale_float takes a numpy array (H×W×3 floats in 0..1), got {type(rgb).__name__}")
    if rgb.ndim != 3 or rgb.shape[2] != 3 or not rgb.size:
        raise SRDesktopError(f"upscale_float takes an H×W×3 array (RGB, channels last), got shape {rgb.shape}")
    if not np.issubdtype(rgb.dtype, np.floating):
        raise SRDesktopError(f"upscale_float takes floats in 0..1, got {rgb.dtype} (divide by 255 or 65535 first)")
    low, high = float(np.min(rgb)), float(np.max(rgb))
    if not (-_FLOAT_RANGE_SLACK <= low and high <= 1 + _FLOAT_RANGE_SLACK):  # (NaN fails too)
        raise SRDesktopError(f"upscale_float takes values in 0..1, got {low:g}..{high:g}"
                             + (" (divide 0..255 values by 255 first)" if high > 1 + _FLOAT_RANGE_SLACK else ""))
    return np.ascontiguousarray(rgb, dtype=np.float32)  # (an overshoot passed as is, as the protocol's LR holds it)


def upscale_region(
    image: Image,
    box: tuple[int, int, int, int],
    options: UpscaleOptions | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    model: SRModel | None = None,
) -> UpscaleResult:
    """Upscale only `box` = (x, y, w, h) of `image`, reading context around it so the
    result equals those pixels of the whole-image result (within one level: a network's
    sums run in another order on another size). The result image is the region alone,
    (w·N)×(h·N). A model whose layers average over their whole input (SE
    blocks: Real-CUGAN, waifu2x CUNet; `tileable` False) runs over the whole image for it,
    as long as a whole upscale: on a crop its averages are others (up to 109/255 off, a
    visibly softer region); a per-image model (ZSSR, map-sr) is trained on the crop."""
    options = _checked_arguments("upscale_region", image, options)
    try:
        x, y, bw, bh = whole_box(box)
    except ValueError as exc:
        raise SRDesktopError(str(exc)) from None
    if bw <= 0 or bh <= 0 or x < 0 or y < 0 or x + bw > image.width or y + bh > image.height:
        raise SRDesktopError(
            f"region {bw}×{bh} at ({x}, {y}) is not inside the {image.width}×{image.height} image"
        )
    began = time.perf_counter()
    model, plan = resolve_model(options, model, progress, cancel)
    setup = time.perf_counter() - began
    margin = model.context + (resample.SUPPORT["lanczos"] + 2 if plan.final_resize else 0) + 2
    if model.kind == ModelKind.PER_IMAGE:
        margin = max(margin, 32)
    elif not model.tileable:
        margin = max(image.width, image.height)  # the whole image: the same averages as its result
    x0, x1 = _crop_span(x, bw, margin, image.width)
    y0, y1 = _crop_span(y, bh, margin, image.height)
    if image.has_alpha and not model.upscales_alpha_with_colour and not image.pixels[y0:y1, x0:x1, -1].all():
        # a hidden pixel of the crop takes its colour from the visible pixels of the whole
        # image (which may lie outside the crop), as the whole-image result does
        image = with_hidden_colour_filled(image)
    crop = image.with_pixels(np.ascontiguousarray(image.pixels[y0:y1, x0:x1]))
    result = _upscale_checked(crop, options, progress, cancel, model, plan, fill_hidden=False)
    n = result.scale
    top, left = (y - y0) * n, (x - x0) * n
    region = result.image.pixels[top : top + bh * n, left : left + bw * n]
    result.image = image.with_pixels(np.ascontiguousarray(region))
    result.extra["box"] = (x, y, bw, bh)
    result.setup_seconds = setup
    return result


#: the least side of a region's crop: a network's border padding (reflected by `PRE_PAD`
#: pixels and more for alignment) falls back to replicating on a narrower input, so a
#: 1-2 px region at the image's edge cut 7 px wide came out up to 6/255 off the whole image
_MIN_REGION_CROP = 32


def _crop_span(start: int, length: int, margin: int, size: int) -> tuple[int, int]:
    """The part of an axis of `size` read for a region (start, length): `margin` around it,
    widened towards the inside to `_MIN_REGION_CROP` where the image has room."""
    lo, hi = max(0, start - margin), min(size, start + length + margin)
    if hi - lo < _MIN_REGION_CROP:
        hi = min(size, lo + _MIN_REGION_CROP)
        lo = max(0, hi - _MIN_REGION_CROP)
    return lo, hi


def upscale_file(
    src: str | Path,
    dst: str | Path,
    options: UpscaleOptions | None = None,
    save_options=None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> UpscaleResult:
    """Read `src`, upscale, write `dst` atomically (never over `src`). `dst` is checked
    before the upscale (`check_output_path`: an existing file without `overwrite`, an unknown
    suffix, `src` itself), not after minutes of work."""
    check_output_path(dst, src, save_options, protect=(Path(src),), overwrite=overwrite)
    image = read_image(src)
    result = upscale_image(image, options, progress, cancel)
    check_cancel(cancel)
    write_image(result.image, dst, save_options, overwrite=overwrite, protect=(Path(src),))
    return result
