"""The engine work the metrics panel starts, run in its worker threads (no Qt here).

Three kinds of work, all on 8-bit pixels (alpha dropped once the colour under full
transparency is filled from the visible pixels (`transparent_fill`), 16-bit rounded, as the evaluation
protocol measures them):

* no-reference numbers of an upscale — sharpness and NIQE of the input and of the result, and the
  consistency PSNR (the result downscaled by the same scale with MATLAB bicubic, against
  the input) — for the whole image or one region;
* display maps at the result's size — difference and SSIM against a reference (the
  ground truth in evaluate mode, else the bicubic-upscaled original) and the gradient map;
* evaluate mode — treat the loaded image as ground truth, degrade it, upscale it with
  each model, score PSNR/SSIM (Y); and re-score those results for a region.

Work is packaged as *tasks*: objects with ``run(progress, cancel)``. :func:`run_task` is
the runner the GUI's job queue calls with a job whose
``options`` is a task.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sr_desktop.engine.core.box import Box, clip_box
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError, one_line
from sr_desktop.engine.core.progress import CancelToken, ProgressInfo, check_cancel
from sr_desktop.engine.metrics.degradation import Degradation, modcrop
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.evaluate import evaluate_image, score_pair, to_uint8_rgb_or_gray
from sr_desktop.engine.metrics.maps import difference_map, gradient_map, ssim_display_map
from sr_desktop.engine.metrics.niqe import BLOCK_SIZE, niqe_or_none
from sr_desktop.engine.metrics.noref import Consistency, Sharpness, consistency, sharpness

log = logging.getLogger(__name__)

VIEW_MODES = ("result", "difference", "ssim", "gradient")
MAP_MODES = ("difference", "ssim", "gradient")
#: maps that compare the result with a reference image
REFERENCE_MODES = ("difference", "ssim")



# -- pixels and boxes --------------------------------------------------------------------


def eval_pixels(pixels: np.ndarray) -> np.ndarray:
    """Any engine pixels -> uint8 H×W×1 (grey) or H×W×3, the form every measure takes."""
    return to_uint8_rgb_or_gray(pixels)


def region_in(box: Box, width: int, height: int) -> Box:
    """`box` = (x, y, w, h) intersected with a width×height image; `EvaluationError` when
    nothing of it is on the image."""
    clipped = clip_box(box, width, height)
    if clipped is None:
        x, y, w, h = (int(v) for v in box)
        raise EvaluationError(f"region {w}×{h} at ({x}, {y}) is outside the {width}×{height} image")
    return clipped


def crop(pixels: np.ndarray, box: Box | None) -> np.ndarray:
    """The (x, y, w, h) box of H×W×C pixels (the whole array for None)."""
    if box is None:
        return pixels
    x, y, w, h = box
    return pixels[y:y + h, x:x + w]


def scale_box(box: Box, scale: int) -> Box:
    """A box in original pixels -> the same area in result pixels (×`scale`)."""
    return tuple(int(v) * int(scale) for v in box)  # type: ignore[return-value]


def describe_box(box: Box) -> str:
    """`box` as text: "W×H at (x, y)"."""
    x, y, w, h = box
    return f"{w}×{h} at ({x}, {y})"


# -- no-reference numbers ----------------------------------------------------------------


@dataclass(frozen=True)
class NoReferenceNumbers:
    """Sharpness and NIQE of input and result, and the consistency check, for `box` (None = all).

    `consistency` is None when it cannot be measured (then `note` says why); a NIQE is None
    for an image NIQE cannot score (smaller than one 96-px block, or flat).
    """

    input_sharpness: Sharpness
    result_sharpness: Sharpness
    consistency: Consistency | None
    box: Box | None = None
    note: str = ""
    input_niqe: float | None = None
    result_niqe: float | None = None

    @property
    def niqe_note(self) -> str:
        """Why NIQE has no number for the input or the result; "" when it has both."""
        if self.input_niqe is not None and self.result_niqe is not None:
            return ""
        return f"NIQE needs two {BLOCK_SIZE}×{BLOCK_SIZE}-pixel blocks of some texture (— where there are not)"


def no_reference_numbers(source: np.ndarray, result: np.ndarray, scale: int,
                         box: Box | None = None, cancel: CancelToken | None = None) -> NoReferenceNumbers:
    """No-reference numbers of `result` (uint8, ×`scale` of `source`), optionally for the
    region `box` of the source (the result's matching area is box×scale). ``cancel`` is
    checked between the numbers (NIQE of a large result takes seconds)."""
    source = eval_pixels(source)
    result = eval_pixels(result)
    scale = int(scale)
    if box is not None:
        box = region_in(box, source.shape[1], source.shape[0])
        src = crop(source, box)
        res = crop(result, scale_box(box, scale))
    else:
        src, res = source, result
    cons, note = None, ""
    expected = (src.shape[0] * scale, src.shape[1] * scale)
    if res.shape[:2] != expected:
        note = (f"result is {res.shape[1]}×{res.shape[0]}, not ×{scale} of "
                f"{src.shape[1]}×{src.shape[0]}")
    elif res.shape[2] != src.shape[2]:
        note = "result and input have different channel counts"
    else:
        cons = consistency(res, src, scale, cancel=cancel)
    check_cancel(cancel)
    sharp = sharpness(src), sharpness(res)
    check_cancel(cancel)
    niqe_source = niqe_or_none(src, cancel)
    return NoReferenceNumbers(*sharp, cons, box, note, niqe_source, niqe_or_none(res, cancel))


# -- maps ----------------------------------------------------------------------------------


def bicubic_reference(source: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The original upscaled with the engine's bicubic to `size` = (width, height), uint8.

    The reference of the difference/SSIM maps when there is no ground truth.
    """
    from sr_desktop.engine.compute import resample

    src = eval_pixels(source)
    out = np.empty((size[1], size[0], src.shape[2]), dtype=np.uint8)
    resample.resize_into(src, out, 255.0, "bicubic")
    return out


def display_map(mode: str, result: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """The H×W×3 uint8 map of `mode` ("difference", "ssim", "gradient") for `result`;
    difference and SSIM compare it with `reference` (same size)."""
    if mode not in MAP_MODES:
        raise ValueError(f"not a map mode: {mode!r} (use one of {', '.join(MAP_MODES)})")
    result = eval_pixels(result)
    if mode == "gradient":
        return gradient_map(result)
    if reference is None:
        raise EvaluationError(f"the {mode} map needs a reference image")
    reference = eval_pixels(reference)
    if reference.shape[:2] != result.shape[:2]:
        raise EvaluationError(
            f"reference is {reference.shape[1]}×{reference.shape[0]}, "
            f"result is {result.shape[1]}×{result.shape[0]}")
    if reference.shape[2] != result.shape[2]:  # grey vs colour: compare as colour
        if reference.shape[2] == 1:
            reference = np.repeat(reference, 3, axis=2)
        else:
            result = np.repeat(result, 3, axis=2)
    if mode == "difference":
        return difference_map(result, reference, vmax=difference_scale(result, reference))
    return ssim_display_map(result, reference)


def difference_scale(result: np.ndarray, reference: np.ndarray) -> float:
    """The |Δ| (0..255) the difference map shows brightest: the 99.5th percentile of the
    per-pixel difference (max over channels), at least 1 — the engine's default rule,
    computed here so the panel can print the scale next to the map."""
    a, b = eval_pixels(result).astype(np.int16), eval_pixels(reference).astype(np.int16)
    if a.shape[2] != b.shape[2]:
        a, b = (np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a,
                np.repeat(b, 3, axis=2) if b.shape[2] == 1 else b)
    diff = np.abs(a - b).max(axis=2)
    return max(1.0, float(np.percentile(diff, 99.5)))


# -- evaluate mode ---------------------------------------------------------------------------


@dataclass
class EvalRow:
    """One model of the evaluate mode: scores on the whole image and its SR image."""

    model: str
    psnr_y: float | None = None
    ssim_y: float | None = None
    psnr_rgb: float | None = None
    seconds: float | None = None
    sr: np.ndarray | None = field(default=None, repr=False)
    error: str = ""
    #: NIQE of the SR image (no reference, lower is more natural); None: not scored (a
    #: region, or an image under two 96×96 blocks)
    niqe: float | None = None
    #: how the model reached a scale it does not have ("×4, then Lanczos to ×3"), as
    #: `sr-desktop bench` marks it; None for a native scale
    scale_route: str | None = None
    #: what ran it, as the upscale's report says ("CPU with openvino"); "" when unknown
    ran_on: str = ""
    #: the variant it ran with (the window's picked one for its picked model); None: the default
    variant: str | None = None

    def to_dict(self) -> dict:
        """The public row: model, psnr_y, ssim_y, niqe, seconds (and error when it failed,
        scale_route when the scale is not the model's own, ran_on when known)."""
        out = {"model": self.model, "psnr_y": self.psnr_y, "ssim_y": self.ssim_y, "niqe": self.niqe,
               "seconds": self.seconds}
        if self.error:
            out["error"] = self.error
        if self.scale_route:
            out["scale_route"] = self.scale_route
        if self.ran_on:
            out["ran_on"] = self.ran_on
        if self.variant:
            out["variant"] = self.variant
        return out


def ground_truth(pixels: np.ndarray, scale: int) -> np.ndarray:
    """The loaded image as the evaluation's HR: 8-bit, cropped to a multiple of `scale`."""
    return modcrop(eval_pixels(pixels), int(scale))


@dataclass(frozen=True)
class RunSettings:
    """How the models of an evaluation run: the window's Advanced choices, as an upscale
    takes them (the evaluation ran each on `auto` whatever was chosen there)."""

    device: str = "auto"
    tile: int | str = "auto"
    precision: str = "auto"
    backend: str = "auto"
    #: (model id, variant) of the window's picked model: that model is evaluated with the
    #: variant picked (SPAN ch52 was scored as ch48 and listed as "SPAN")
    variants: tuple[tuple[str, str], ...] = ()

    @property
    def scored_precision(self) -> str:
        """The precision the models are scored in: the one chosen in Advanced, and for `auto`
        fp32, the published tables' (as `bench`; auto is fp16 on a GPU, and the leaderboard
        named the tables' protocol)."""
        return "fp32" if self.precision == "auto" else self.precision


def evaluate_model(hr: np.ndarray, model_id: str, scale: int, degradation: Degradation,
                   cancel: CancelToken | None = None, settings: RunSettings = RunSettings()) -> EvalRow:
    """Degrade `hr`, upscale with `model_id` as `sr-desktop bench` does (``bicubic`` is
    MATLAB's, the published tables' baseline; the rest through the engine pipeline), score it.

    A model that cannot be loaded or run gives a row with `error` set (the others go on);
    cancelling raises `Cancelled`.
    """
    from sr_desktop.engine.core.errors import DeviceError, OptionError
    from sr_desktop.engine.metrics.upscalers import MATLAB_BICUBIC_ID, make_upscaler
    from sr_desktop.engine.models.backends.openvino_runner import BackendError

    # (MATLAB's bicubic is numpy: a backend chosen for the networks is not its business)
    backend = "auto" if model_id == MATLAB_BICUBIC_ID else settings.backend
    variant = dict(settings.variants).get(model_id)
    try:
        try:
            upscaler = make_upscaler(model_id, scale, device=settings.device, tile=settings.tile, variant=variant,
                                     precision=settings.scored_precision, backend=backend, cancel=cancel)
        except (BackendError, DeviceError, OptionError):
            if (settings.device, settings.precision, backend) == ("auto", "auto", "auto"):
                raise
            # the window's choice is its picked model's (ncnn, Vulkan, fp16 are the zoo's or a
            # GPU's): a model that cannot take it runs as auto picks, `ran_on` saying what ran,
            # in fp32 still where the note says so (auto alone was fp16 on a GPU)
            precision = settings.scored_precision if settings.precision == "auto" else "auto"
            upscaler = make_upscaler(model_id, scale, tile=settings.tile, variant=variant, precision=precision,
                                     cancel=cancel)
        ev = evaluate_image(hr, upscaler, scale, degradation, name=model_id, cancel=cancel)
    except Cancelled:
        raise
    except SRDesktopError as exc:
        return EvalRow(model_id, error=one_line(exc), variant=variant)
    except Exception as exc:  # that model's row (the evaluation stopped at it, the others never ran)
        from sr_desktop.app.jobs import OUT_OF_MEMORY
        from sr_desktop.engine.pipeline.memory import is_allocation_failure

        if isinstance(exc, MemoryError) or is_allocation_failure(exc):
            return EvalRow(model_id, error=OUT_OF_MEMORY)
        log.exception("evaluating %s failed", model_id)
        return EvalRow(model_id, error=f"unexpected error: {one_line(exc)}")
    s = ev.scores
    timing = ev.timing
    return EvalRow(model_id, s.psnr_y, s.ssim_y, s.psnr_rgb, timing.seconds, ev.sr, niqe=s.niqe,
                   scale_route=getattr(upscaler, "scale_route", None), ran_on=timing.ran_on, variant=variant)


@dataclass
class EvaluationTask:
    """Evaluate several models on one image; reports each row as it is done.

    Progress reports carry ``extra={"hr": array}`` first (the modcropped ground truth),
    then ``extra={"row": EvalRow}`` after each model. ``run`` returns the list of rows.
    """

    pixels: np.ndarray
    model_ids: list[str]
    scale: int
    degradation: Degradation
    settings: RunSettings = RunSettings()

    @property
    def model(self) -> str:  # Job.describe() reads options.model / options.scale
        return ", ".join(self.model_ids)

    def run(self, progress: Callable[[ProgressInfo], None] | None,
            cancel: CancelToken | None) -> list[EvalRow]:
        start = time.perf_counter()
        total = len(self.model_ids)
        report = progress or (lambda info: None)
        hr = ground_truth(self.pixels, self.scale)
        report(ProgressInfo(0, total, 0.0, None, "evaluate", "degrading", {"hr": hr}))
        rows = []
        for i, model_id in enumerate(self.model_ids):
            check_cancel(cancel)
            report(ProgressInfo(i, total, time.perf_counter() - start, None, "evaluate",
                                f"{model_id} ({i + 1} of {total})"))
            row = evaluate_model(hr, model_id, self.scale, self.degradation, cancel, self.settings)
            rows.append(row)
            elapsed = time.perf_counter() - start
            eta = elapsed / (i + 1) * (total - i - 1)
            report(ProgressInfo(i + 1, total, elapsed, eta, "evaluate", f"{model_id} done",
                                {"row": row}))
        return rows


def region_scores(rows: list[EvalRow], hr: np.ndarray, box: Box, scale: int) -> dict:
    """PSNR/SSIM (Y) of each row's SR image against `hr` inside `box` (HR pixels).

    Returns ``{model: (psnr_y, ssim_y)}``, or ``{model: "message"}`` where the region
    cannot be measured (e.g. smaller than the border shave plus the SSIM window).
    """
    box = region_in(box, hr.shape[1], hr.shape[0])
    out: dict = {}
    for row in rows:
        if row.sr is None:
            continue
        try:
            s = score_pair(crop(row.sr, box), crop(hr, box), scale)
        except SRDesktopError as exc:  # (the message speaks of what is left after the shave)
            out[row.model] = f"region {box[2]}×{box[3]}, {scale}-px border shaved: {one_line(exc)}"
        else:
            out[row.model] = (s.psnr_y, s.ssim_y)
    return out


# -- the measurement task ---------------------------------------------------------------------


@dataclass
class NoReferenceRequest:
    """No-reference numbers of `result` (×`scale` of `source`) for `box` (None = all), cached under `key`."""

    key: tuple
    source: np.ndarray
    result: np.ndarray
    scale: int
    box: Box | None


@dataclass
class MapRequest:
    """A map of `result`. `reference` is given (ground truth or a cached bicubic
    reference) or, when None and the mode needs one, made from `source` by bicubic."""

    key: tuple
    mode: str
    result: np.ndarray
    reference: np.ndarray | None = None
    source: np.ndarray | None = None
    reference_key: tuple | None = None


@dataclass
class RegionRequest:
    """PSNR/SSIM (Y) of each evaluate-mode row against `hr` inside `box` (`region_scores`), cached under `key`."""

    key: tuple
    rows: list[EvalRow]
    hr: np.ndarray
    box: Box
    scale: int


class MeasureFailure:
    """A measurement that could not be made: the cached value for its key."""

    def __init__(self, message: str):
        self.message = message

    def __repr__(self) -> str:
        return f"MeasureFailure({self.message!r})"


@dataclass
class MeasureTask:
    """Whatever the panel is missing now: no-reference numbers, one map, region scores.

    ``run`` returns ``{key: value}``; a part that fails gives a :class:`MeasureFailure`
    for its key, so the other parts still arrive.
    """

    noref: NoReferenceRequest | None = None
    map: MapRequest | None = None
    region: RegionRequest | None = None
    model: str = "metrics"

    def keys(self) -> set:
        return {r.key for r in (self.noref, self.map, self.region) if r is not None}

    def run(self, progress, cancel: CancelToken | None) -> dict:
        out: dict = {}
        if self.noref is not None:
            r = self.noref
            out[r.key] = _guarded(lambda: no_reference_numbers(r.source, r.result, r.scale, r.box, cancel))
        check_cancel(cancel)
        if self.map is not None:
            m = self.map
            reference = m.reference
            if reference is None and m.mode in REFERENCE_MODES and m.source is not None:
                reference = _guarded(lambda: bicubic_reference(
                    m.source, (m.result.shape[1], m.result.shape[0])))
                if m.reference_key is not None:
                    out[m.reference_key] = reference
            if isinstance(reference, MeasureFailure):
                out[m.key] = reference
            else:
                out[m.key] = _guarded(lambda: display_map(m.mode, m.result, reference))
                if m.mode == "difference" and isinstance(out[m.key], np.ndarray):
                    out[scale_key(m.key)] = difference_scale(m.result, reference)
        check_cancel(cancel)
        if self.region is not None:
            g = self.region
            out[g.key] = _guarded(lambda: region_scores(g.rows, g.hr, g.box, g.scale))
        return out


def scale_key(map_key: tuple) -> tuple:
    """Cache key of the brightest |Δ| of a difference map's key."""
    return ("scale",) + map_key


def _guarded(fn):
    try:
        return fn()
    except Cancelled:
        raise
    except (SRDesktopError, ValueError) as exc:
        return MeasureFailure(one_line(exc))
    except MemoryError:
        return MeasureFailure("out of memory")


def run_task(job, progress, cancel):
    """JobQueue runner: ``job.options`` is a task with ``run(progress, cancel)``."""
    return job.options.run(progress, cancel)
