"""``load_model(id, scale=None, variant=None, **options) -> SRModel``.

One dispatch by the spec's `ModelKind` (``_LOADERS``): feed-forward zoo models (the ncnn
graph is converted once, weights cached as safetensors in ``paths.cache_dir()/models``,
keyed by the sha256 of the source files, and wrapped in a `ZooModel` that applies the
family's conventions), resampling baselines (`ResampleModel`), per-image models
(``zssr.model.make_zssr_model``, ``map_sr.model.make_map_sr_model``, chosen by the spec's
``source.family``). Custom models (a source, not a kind) go to ``custom.load_custom_model``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.options import MAX_SCALE, whole_scale
from sr_desktop.engine.models.base import LITERATURE, ModelSpec, SRModel
from sr_desktop.engine.models.kinds import ModelKind
from sr_desktop.engine.models.registry import get_model_spec, model_files, not_installed_message, variants_at

#: a resampler reaches any integer scale the pipeline allows
RESAMPLE_SCALES = range(1, MAX_SCALE + 1)


def default_scale(spec: ModelSpec) -> int:
    """The scale a model runs at when none is asked for: ×4 when it has it, else its largest."""
    return 4 if 4 in spec.scales else max(spec.scales)


def resolve_scale_variant(spec: ModelSpec, scale: int | None, variant: str | None) -> tuple[int, str]:
    """Validate `scale`/`variant` for `spec`; None means the default (`default_scale`, plain variant).

    When the plain variant does not exist at a scale (waifu2x-cunet ×1 is denoise-only), the
    first variant available at that scale is used.
    """
    # (OptionError for 3.9: it ran ×3)
    scale = default_scale(spec) if scale is None else whole_scale(scale)
    if spec.kind == ModelKind.RESAMPLE:
        if scale not in RESAMPLE_SCALES:
            raise ModelError(f"{spec.id} supports scales 1..{MAX_SCALE}, not ×{scale}")
    elif scale not in spec.scales:
        raise ModelError(f"{spec.id} supports scales {', '.join(f'×{s}' for s in spec.scales)}, not ×{scale}")
    available = variants_at(spec, scale)
    if variant in (None, "", "default"):
        chosen = (
            spec.default_variant if spec.default_variant in available else (available[0] if available else "default")
        )
        if variant == "default" and "default" in available:
            chosen = "default"
        return scale, chosen
    if variant not in available:
        raise ModelError(
            f"{spec.id} has no variant {variant!r} at ×{scale}; available: {', '.join(available) or 'none'}"
        )
    return scale, variant


def load_model(model_id: str, scale: int | None = None, variant: str | None = None, **options: Any) -> SRModel:
    """Load `model_id` at `scale` and `variant` (default: the plain one) ready to run on CPU
    in float32. Without a scale: `default_scale` for the app's own models, the largest for a
    literature or an added model (their files serve the scales they were trained for).

    Options: ``channels_last`` (zoo, default True), ``noise_level`` (srmd, overrides the
    variant), ``cache`` (zoo, default True), ``kernel`` and training options (per-image).
    Raises `ModelError`.
    """
    spec = get_model_spec(model_id)
    if spec.custom:
        from sr_desktop.engine.models import custom

        return custom.load_custom_model(spec, scale=scale, variant=variant)
    if spec.group == LITERATURE:
        if not spec.trained:
            raise ModelError(not_installed_message(spec))
        from sr_desktop.engine.models.literature import load_literature_model

        return load_literature_model(spec, scale=scale, variant=variant)
    return _LOADERS[spec.kind](spec, scale, variant, **options)


def _load_resample(spec: ModelSpec, scale, variant, **_options: Any) -> SRModel:
    from sr_desktop.engine.models.resample_model import SCALENX, ResampleModel, ScaleNxModel

    scale, _ = resolve_scale_variant(spec, scale, variant)
    method = spec.source.get("method", spec.id)
    model = ScaleNxModel(scale) if method == SCALENX else ResampleModel(method, scale)
    model.id = spec.id
    return model


def _load_per_image(spec: ModelSpec, scale, variant, kernel=None, **options: Any) -> SRModel:
    """A per-image model; the spec's ``source.family`` names which (``zssr`` when absent)."""
    scale, variant = resolve_scale_variant(spec, scale, variant)
    family = spec.source.get("family", "zssr")
    if family not in _PER_IMAGE_FAMILIES:
        raise ModelError(f"{spec.id}: unknown per-image family {family!r}")
    try:
        model = _PER_IMAGE_FAMILIES[family](scale, variant, kernel, options)
    except ModuleNotFoundError:
        raise ModelError(f"{spec.id} is not available") from None
    # the result names it, as a zoo model's does: ZSSR's "real" was left out of the window's
    # label and of its Save As name ("cat_x2_zssr.png" where a batch wrote "cat_x2_zssr_real.png")
    model.variant = variant
    return model


def _make_zssr(scale: int, variant: str, kernel, options: dict[str, Any]) -> SRModel:
    from sr_desktop.engine.models.zssr.model import make_zssr_model

    options.setdefault("real", variant == "real")
    return make_zssr_model(scale=scale, kernel=kernel, **options)


def _make_map_sr(scale: int, variant: str, kernel, options: dict[str, Any]) -> SRModel:
    from sr_desktop.engine.models.map_sr.model import make_map_sr_model

    return make_map_sr_model(scale=scale, kernel=kernel, variant=variant, **options)


#: per-image families by the spec's ``source.family`` (data, not a second dispatch on kind)
_PER_IMAGE_FAMILIES: dict[str, Callable[..., SRModel]] = {"zssr": _make_zssr, "map-sr": _make_map_sr}


def _load_zoo_model(spec: ModelSpec, scale, variant, channels_last: bool = True,
                    noise_level: int | None = None, cache: bool = True) -> SRModel:
    from sr_desktop.engine.models.ncnn import load_ncnn_graph
    from sr_desktop.engine.models.zoo import ZooModel

    if not spec.installed:
        raise ModelError(not_installed_message(spec))
    scale, variant = resolve_scale_variant(spec, scale, variant)
    family = spec.source["family"]
    noise_level = zoo_noise_level(spec, variant, noise_level)
    param, binf = model_files(spec, scale, variant)
    module = load_ncnn_graph(param, binf, cache_dir="default" if cache else None)
    return ZooModel(
        spec.id, family, module, scale, variant=variant, noise_level=noise_level,
        recommended_tile=spec.recommended_tile, channels_last=channels_last,
    )


def is_zoo_spec(spec: ModelSpec) -> bool:
    """A model of the ncnn zoo (its own ``.param``/``.bin`` files, `_load_zoo_model`)."""
    return spec.kind == ModelKind.FEEDFORWARD and not spec.custom and spec.group != LITERATURE


def zoo_noise_level(spec: ModelSpec, variant: str, noise_level: int | None = None) -> int | None:
    """SRMD's noise plane value (the variant's level unless given; 0..255), None for the
    other families; `ModelError` for a level out of range or given to another family."""
    if spec.source["family"] != "srmd":
        if noise_level is not None:
            raise ModelError(f"{spec.id} has no noise_level option")
        return None
    if noise_level is None:
        noise_level = int(spec.source.get("noise_levels", {}).get(variant, 0))
    if not 0 <= int(noise_level) <= 255:
        raise ModelError(f"srmd noise level must be 0..255, got {noise_level}")
    return noise_level


#: how each kind of model is loaded (the one place that decides by kind)
_LOADERS: dict[ModelKind, Callable[..., SRModel]] = {
    ModelKind.FEEDFORWARD: _load_zoo_model,
    ModelKind.RESAMPLE: _load_resample,
    ModelKind.PER_IMAGE: _load_per_image,
}
