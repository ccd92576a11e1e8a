"""What kind of model a spec describes, which decides how it is loaded and run.

``models/manifest.json`` carries the kind of every zoo model; custom models are
feed-forward. The engine decides by kind, never by a list of model ids.
"""

from __future__ import annotations

from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.options import TextEnum


class ModelKind(TextEnum):
    """``str``-valued, so ``spec.kind == "per_image"`` and the manifest's JSON text still hold."""

    #: a network applied tile by tile (``SRModel.run``)
    FEEDFORWARD = "feedforward"
    #: classic interpolation (bicubic, lanczos): any integer scale, no weights
    RESAMPLE = "resample"
    #: trained on each image at test time (ZSSR, ``SRModel.upscale_array``)
    PER_IMAGE = "per_image"

    @classmethod
    def parse(cls, value: object) -> ModelKind:
        """The kind named by a manifest entry (`ModelError` naming the kinds otherwise)."""
        try:
            return cls(value)
        except ValueError:
            raise ModelError(f"unknown model kind {value!r} (one of {', '.join(cls.choices())})") from None
