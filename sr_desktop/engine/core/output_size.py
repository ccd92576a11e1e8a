"""The size a result is exported at: ``--width``/``--height`` of `upscale` and `batch`, the
Save As dialog's Size (`pipeline.output_size.resized` does the resizing)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sr_desktop.engine.core.errors import OptionError

#: the largest side asked for (the largest a PNG or TIFF holds is far above what fits in memory)
MAX_SIDE = 1 << 20
#: how the result is resized: Lanczos, or nearest neighbour for a result of a pixel-art model
#: (pixel art stays square blocks: Lanczos made a 3-colour sprite's ×8 from its ×4 27 colours)
RESAMPLINGS = ("lanczos", "nearest")
#: the models whose results are pixel art, in the input's colours
PIXEL_MODELS = ("nearest", "scalenx")


def resampling_after(model_id: str) -> str:
    """How a result of `model_id` is resized (one of `RESAMPLINGS`): nearest neighbour after
    a pixel-art model (`PIXEL_MODELS`), else Lanczos."""
    return "nearest" if model_id in PIXEL_MODELS else "lanczos"


@dataclass(frozen=True)
class OutputSize:
    """A box the result is resized to fit (a side left out: set by the other's ratio)."""

    width: int | None = None
    height: int | None = None
    resampling: str = "lanczos"

    def __post_init__(self) -> None:
        if self.width is None and self.height is None:
            raise OptionError("an output size needs a width, a height or both")
        if self.resampling not in RESAMPLINGS:
            raise OptionError(f"an output size is resized by {' or '.join(RESAMPLINGS)}, not {self.resampling!r}")
        for name, value in (("width", self.width), ("height", self.height)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= MAX_SIDE):
                raise OptionError(f"the output {name} must be a whole number of pixels from 1 to {MAX_SIDE}, "
                                  f"got {value!r}")

    def for_model(self, model_id: str) -> OutputSize:
        """This size, resized as a result of `model_id` should be (`resampling_after`)."""
        return replace(self, resampling=resampling_after(model_id))

    def fitted(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) an image of `width`×`height` is resized to: as large as fits
        the box with its own aspect ratio (each side at least 1 pixel)."""
        if self.width is not None and (self.height is None or self.width * height <= self.height * width):
            return self.width, max(1, round(height * self.width / width))
        assert self.height is not None
        return max(1, round(width * self.height / height)), self.height

    def describe(self) -> str:
        """"6000 px wide", "4000 px high", "within 6000×4000 px"."""
        if self.height is None:
            return f"{self.width} px wide"
        if self.width is None:
            return f"{self.height} px high"
        return f"within {self.width}×{self.height} px"
