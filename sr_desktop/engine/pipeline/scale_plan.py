"""How a requested output scale is reached with a model's native scales.

A model runs at its native scales. A requested scale N that is one of them is one pass.
Otherwise the model is applied p times at the native scale s that reaches N with the
smallest overshoot s^p / N ≥ 1 (ties: fewer passes, then the larger s), and when s^p > N
the result is reduced to exactly N× with antialiased Lanczos-3. Examples: ×2 from a
×4-only model = one pass then ×0.5; ×8 from a ×2/×4 model = ×2 three times (exact); ×3
from ×2/×4 = ×4 then ×0.75. Resampling models (`ModelKind.RESAMPLE`) reach any integer
scale directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.options import parse_scale
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.registry import get_model_spec
from sr_desktop.engine.models.spec import ModelSpec


@dataclass(frozen=True)
class ScalePlan:
    """Run the model at ``native`` scale ``passes`` times, then resize when ``final_resize``."""

    native: int
    passes: int
    final_resize: bool

    @property
    def reached(self) -> int:
        """The scale the passes reach before any final resize."""
        return self.native**self.passes


def scale_route(plan: ScalePlan, scale: int) -> str | None:
    """How `plan` reaches `scale` when it is not one native pass: "×4, then Lanczos to ×3",
    "×2 twice", "×2 twice, then Lanczos to ×3"; None for one native pass."""
    if plan.passes == 1 and not plan.final_resize:
        return None
    route = f"×{plan.native}" + (" twice" if plan.passes == 2 else f" {plan.passes} times" if plan.passes > 2 else "")
    return route + (f", then Lanczos to ×{scale}" if plan.final_resize else "")


def plan_scale(native_scales: list[int], requested: int | None, any_scale: bool = False) -> ScalePlan:
    """Choose native scale and number of passes for `requested` (see module docstring)."""
    requested = parse_scale(requested)
    if any_scale:
        n = int(requested or max(native_scales))
        return ScalePlan(n, 1, False)
    scales = sorted(set(int(s) for s in native_scales))
    if not scales:
        raise ModelError("model declares no scale")
    if requested is None:
        return ScalePlan(max(scales), 1, False)
    n = requested
    if n in scales:
        return ScalePlan(n, 1, False)
    candidates = []
    for s in scales:
        if s == 1:
            continue
        p = max(1, math.ceil(math.log(n) / math.log(s) - 1e-9))
        candidates.append((s**p / n, p, -s))
    if not candidates:  # only ×1 models (denoisers): one pass, then resample up
        return ScalePlan(1, 1, n != 1)
    overshoot, p, neg_s = min(candidates)
    return ScalePlan(-neg_s, p, overshoot > 1.0)


def native_scales_of(model_id: str) -> tuple[list[int], bool]:
    """(native scales, any_scale) of a model id from the registry; any_scale for resamplers."""
    spec = get_model_spec(model_id)
    return list(spec.scales), spec.kind == ModelKind.RESAMPLE


def plan_for_spec(spec: ModelSpec, requested: int | None) -> ScalePlan:
    """The `ScalePlan` of the model `spec` describes at `requested` (None: its largest native
    scale)."""
    return plan_scale(list(spec.scales), requested, spec.kind == ModelKind.RESAMPLE)


def plan_for(model_id: str, requested: int | None) -> ScalePlan:
    """The `ScalePlan` of `model_id` at `requested` (None: its largest native scale)."""
    return plan_for_spec(get_model_spec(model_id), requested)
