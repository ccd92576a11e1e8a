"""What a batch output is named: the name template's placeholders and default, the variant
a name gives (the one that runs), and one input's name from a template. The window's Save As
name comes from the same rule, so a photo saved from the window and one exported by a batch
are named alike."""

from __future__ import annotations

#: Placeholders of the output-name template.
NAME_PLACEHOLDERS = ("stem", "ext", "scale", "model", "variant")
DEFAULT_NAME_TEMPLATE = "{stem}_x{scale}_{model}"


def variant_that_runs(model: str, scale: int | None, variant: str | None) -> str | None:
    """The variant the model runs for `variant` at `scale` (at the native scale its passes
    run at): for none its default, SPAN's "ch48", not "default"; waifu2x CUNet ×1's
    "default" is its denoise0. `variant` itself (None for none) for a model no longer
    registered or a variant it lacks (refused when the model loads)."""
    from sr_desktop.engine.core.errors import SRDesktopError
    from sr_desktop.engine.models.loader import resolve_scale_variant
    from sr_desktop.engine.models.registry import get_model_spec
    from sr_desktop.engine.pipeline.scale_plan import plan_for_spec

    try:
        spec = get_model_spec(model)
        return resolve_scale_variant(spec, plan_for_spec(spec, scale).native, variant or None)[1]
    except (SRDesktopError, TypeError, ValueError):
        return variant or None


def render_name(template: str, stem: str, ext: str, scale: int, model: str, variant: str | None) -> str:
    """The output file name (without suffix) of one input (`variant`: the one that runs,
    `variant_that_runs`; "default" for none known)."""
    return template.format(
        stem=stem, ext=ext, scale=scale, model=model, variant=variant or "default"
    )


def default_template_for(model: str, scale: int, variant: str | None) -> str:
    """The default output-name template of one run (the batch's, and the window's Save As
    name): ``{stem}_x{scale}_{model}``, with ``_{variant}`` when a variant other than the
    model's default at this scale is chosen (``a_x2_waifu2x-anime_denoise2``; a run with
    another denoise level found the first run's files under the same names and skipped every
    one). The variant is named too for a model no longer registered."""
    from sr_desktop.engine.core.errors import ModelError
    from sr_desktop.engine.models.registry import get_model_spec

    if variant in (None, "", "default"):
        return DEFAULT_NAME_TEMPLATE
    try:
        get_model_spec(model)
    except ModelError:
        return DEFAULT_NAME_TEMPLATE + "_{variant}"
    if variant_that_runs(model, scale, variant) == variant_that_runs(model, scale, None):
        return DEFAULT_NAME_TEMPLATE
    return DEFAULT_NAME_TEMPLATE + "_{variant}"
