"""What the metrics panel shows and what it has measured (no Qt here).

The panel's subject is the last upscale, or an evaluated model picked in the leaderboard;
numbers and maps are cached under keys that name what they were measured on (result
generation, region, evaluation run, model), so a value that arrives late for an older
subject is simply never read, and :meth:`MetricsState.prune` drops it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sr_desktop.app.metrics_jobs import (
    MAP_MODES,
    REFERENCE_MODES,
    EvalRow,
    MapRequest,
    MeasureFailure,
    MeasureTask,
    NoReferenceRequest,
    RegionRequest,
    bicubic_reference,
    describe_box,
    difference_scale,
    display_map,
    scale_key,
)
from sr_desktop.app.session import RunInfo, model_display_name
from sr_desktop.engine.metrics.errors import EvaluationError


@dataclass
class Evaluation:
    """The evaluate-mode run the leaderboard shows."""

    gen: int
    job: object  # the worker job running it
    scale: int
    degradation: str
    models: list[str]
    precision: str = "fp32"  # what the models compute in (`RunSettings.scored_precision`)
    hr: np.ndarray | None = None
    rows: dict = field(default_factory=dict)  # model -> EvalRow, in arrival order
    running: bool = True


@dataclass
class MapSource:
    """The image the maps and the after side are about."""

    key: tuple
    pixels: np.ndarray
    reference: np.ndarray | None  # ground truth, or None = bicubic-upscaled original
    what: str


class MetricsState:
    """The panel's subject (image, result, region, evaluation, picked model, view mode)
    and the cache of what has been measured on it."""

    def __init__(self) -> None:
        self.image = None
        self.result = None
        #: the result of a region shown instead of a whole-image one (its run is shown; the
        #: numbers and maps are of whole-image results)
        self.region_result = None
        self.result_gen = 0
        self.box: tuple[int, int, int, int] | None = None
        self.mode = "result"
        self.eval: Evaluation | None = None
        self.eval_gen = 0
        self.selected_model: str | None = None
        self.cache: dict = {}

    # ---------------------------------------------------------------- keys
    def noref_key(self) -> tuple:
        return ("noref", self.result_gen, self.box)

    def reference_key(self) -> tuple:
        return ("reference", self.result_gen)

    def region_key(self) -> tuple | None:
        ev = self.eval
        if ev is None or self.box is None or ev.hr is None:
            return None
        done = tuple(m for m, r in ev.rows.items() if r.sr is not None)
        return ("region", ev.gen, self.box, done) if done else None

    def current_map_key(self) -> tuple | None:
        if self.mode not in MAP_MODES:
            return None
        source = self.map_source()
        return ("map", self.mode) + source.key if source is not None else None

    def map_source(self) -> MapSource | None:
        ev = self.eval
        if self.selected_model is not None and ev is not None:
            row = ev.rows.get(self.selected_model)
            if row is not None and row.sr is not None and ev.hr is not None:
                # the names the window uses ("SPAN · ch48 ×4"), not the ids ("span ×4")
                return MapSource(("eval", ev.gen, row.model), row.sr, ev.hr,
                                 f"{model_display_name(row.model)} ×{ev.scale} (evaluate)")
        if self.result is not None:
            return MapSource(("result", self.result_gen), self.result.image.pixels, None,
                             RunInfo.of(self.result).title)
        return None

    # ---------------------------------------------------------------- cache
    def prune(self) -> None:
        """Drop cached values that no longer belong to what the panel can show (maps are
        large: only those of the current subject are kept)."""
        source = self.map_source()
        eval_gen = self.eval.gen if self.eval is not None else None

        def keep(key) -> bool:
            kind = key[0]
            if kind in ("noref", "reference"):
                return key[1] == self.result_gen
            if kind == "map":
                return source is not None and key[2:] == source.key
            if kind == "scale":
                return source is not None and key[3:] == source.key
            if kind == "region":
                return key[1] == eval_gen
            return False

        for key in [k for k in self.cache if not keep(k)]:
            del self.cache[key]

    def missing_task(self, exclude: set) -> MeasureTask | None:
        """A task for what the subject still lacks (not cached, not in `exclude`)."""
        task = MeasureTask()
        if self.result is not None and self.image is not None:
            key = self.noref_key()
            if key not in self.cache and key not in exclude:
                task.noref = NoReferenceRequest(key, self.image.pixels, self.result.image.pixels,
                                                int(self.result.scale), self.box)
        source = self.map_source() if self.mode in MAP_MODES else None
        if source is not None:
            key = ("map", self.mode) + source.key
            if key not in self.cache and key not in exclude:
                reference, ref_key = source.reference, None
                if reference is None:
                    cached = self.cache.get(self.reference_key())
                    reference = cached if isinstance(cached, np.ndarray) else None
                    ref_key = self.reference_key()
                task.map = MapRequest(key, self.mode, source.pixels, reference,
                                      self.image.pixels if self.image is not None else None,
                                      ref_key)
        key = self.region_key()
        if key is not None and key not in self.cache and key not in exclude:
            rows = [r for r in self.eval.rows.values() if r.sr is not None]
            task.region = RegionRequest(key, rows, self.eval.hr, self.box, self.eval.scale)
        return task if task.keys() else None

    def map_now(self, mode: str) -> np.ndarray | None:
        """The subject's pixels ("result") or its `mode` map, from the cache or computed
        here (blocking); None without a subject."""
        source = self.map_source()
        if source is None:
            return None
        if mode == "result":
            return source.pixels
        key = ("map", mode) + source.key
        value = self.cache.get(key)
        if isinstance(value, np.ndarray):
            return value
        reference = source.reference
        if reference is None and mode in REFERENCE_MODES:
            reference = self.cache.get(self.reference_key())
            if not isinstance(reference, np.ndarray):
                if self.image is None:
                    raise EvaluationError(f"the {mode} map needs the original image (set_image)")
                reference = bicubic_reference(self.image.pixels,
                                              (source.pixels.shape[1], source.pixels.shape[0]))
                self.cache[self.reference_key()] = reference
        value = display_map(mode, source.pixels, reference)
        self.cache[key] = value
        if mode == "difference":
            self.cache[scale_key(key)] = difference_scale(source.pixels, reference)
        return value

    # ---------------------------------------------------------------- wording
    def map_caption(self, key: tuple) -> str:
        """Short label of a map for the compare view, with its scale."""
        mode = key[1]
        if mode == "difference":
            vmax = self.cache.get(scale_key(key))
            return f"Difference (brightest: |Δ| ≥ {vmax:.0f}/255)" if vmax else "Difference"
        if mode == "ssim":
            return "SSIM (bright = 1, dark ≤ 0)"
        return "Gradient magnitude"

    def view_note(self) -> str:
        """What the after side shows, against which reference, and the map's state."""
        source = self.map_source()
        if source is None:
            if self.eval is not None and any(r.sr is not None for r in self.eval.rows.values()):
                # (it said "evaluate models" right after an evaluation)
                return "Click a model in the leaderboard to see its maps."
            if self.region_result is not None:
                return "A region result is shown: upscale the whole image or evaluate models to see maps."
            return "Upscale the image or evaluate models to see maps."
        evaluated = source.key[0] == "eval"
        note = f"Showing {source.what}."
        note += (" Difference/SSIM reference: the ground truth." if evaluated else
                 " Difference/SSIM reference: the original upscaled by bicubic"
                 " (no ground truth).")
        key = ("map", self.mode) + source.key
        value = self.cache.get(key) if self.mode in MAP_MODES else None
        if self.mode in MAP_MODES and value is None:
            note += " Computing the map…"
        elif isinstance(value, MeasureFailure):
            note += f" Cannot make the map: {value.message}"
        elif isinstance(value, np.ndarray):
            note += f" Map: {self.map_caption(key)}."
        return note

    def leader_rows(self) -> list[EvalRow]:
        """The leaderboard's rows: whole-image scores, or with a region its scores (a row
        still to come has no numbers; one that failed carries the message)."""
        ev = self.eval
        if ev is None:
            return []
        region = None
        region_failure = ""
        if self.box is not None:
            key = self.region_key()
            value = self.cache.get(key) if key is not None else None
            if isinstance(value, dict):
                region = value
            elif isinstance(value, MeasureFailure):
                region_failure = value.message
        rows = []
        for model in ev.models:
            row = ev.rows.get(model)
            if row is None:
                if ev.running:  # "…" until it is measured; one that a cancel left unrun has no row
                    rows.append(EvalRow(model))
            elif row.error:
                rows.append(EvalRow(model, error=row.error, variant=row.variant))
            else:
                made = {"seconds": row.seconds, "scale_route": row.scale_route, "ran_on": row.ran_on,
                        "variant": row.variant}
                scores = region.get(model) if self.box is not None and region is not None else None
                if self.box is None:
                    rows.append(EvalRow(model, row.psnr_y, row.ssim_y, niqe=row.niqe, **made))
                elif isinstance(scores, str):
                    rows.append(EvalRow(model, error=scores, **made))
                elif scores is None and region_failure:
                    rows.append(EvalRow(model, error=region_failure, **made))
                elif scores is None:
                    rows.append(EvalRow(model, **made))
                else:
                    rows.append(EvalRow(model, scores[0], scores[1], **made))
        return rows

    def leaderboard_note(self) -> str:
        """The line above the leaderboard: ground truth, scale, degradation, area."""
        ev = self.eval
        if ev is None:
            return ""
        where = (f"region {describe_box(self.box)}" if self.box is not None else "whole image")
        size = f"{ev.hr.shape[1]}×{ev.hr.shape[0]}" if ev.hr is not None else "…"
        routed = any(row.scale_route for row in ev.rows.values())
        return (f"Ground truth {size}, ×{ev.scale}, degraded by {ev.degradation}. "
                f"Y channel, {ev.scale} px border shaved, {ev.precision}; scores of the {where}."
                + (f" * has no ×{ev.scale} of its own (its tooltip says how it got there)." if routed else ""))
