"""The options of a batch: the upscale options every file gets, and what the batch adds."""

from __future__ import annotations

from dataclasses import dataclass, field

from sr_desktop.engine.batch.output_names import DEFAULT_NAME_TEMPLATE
from sr_desktop.engine.batch.plan import (
    EXISTING_POLICIES,
    OUTPUT_FORMATS,
    BatchError,
    check_template,
)
from sr_desktop.engine.core.errors import OptionError
from sr_desktop.engine.core.options import UpscaleOptions
from sr_desktop.engine.core.output_size import OutputSize
from sr_desktop.engine.imageio.formats import DEFAULT_QUALITY, check_quality
from sr_desktop.engine.pipeline.output_size import box_refusal


@dataclass(frozen=True)
class BatchOptions:
    """Options of a batch: the `UpscaleOptions` every file is upscaled with, and what the
    batch adds (output format and names, what to do with existing outputs, queues).
    ``upscale.scale`` None: the model's largest native scale. Checked when built
    (`BatchError`; the upscale options check their own values)."""

    upscale: UpscaleOptions = field(default_factory=UpscaleOptions)
    format: str = "same"  # same | png | jpg | webp | tiff | gif | bmp
    quality: int = DEFAULT_QUALITY
    name_template: str = DEFAULT_NAME_TEMPLATE
    existing: str = "skip"  # skip | overwrite | rename
    recursive: bool = False
    allow_inside_input: bool = False
    keep_metadata: bool = True
    #: the kept metadata without the GPS position (`SaveOptions.drop_gps`)
    drop_gps: bool = False
    #: a lossless WebP input gives a lossless WebP output (`SaveOptions.keep_lossless`)
    keep_lossless: bool = False
    #: every result resized to fit this (`pipeline.output_size`); None: as upscaled
    size: OutputSize | None = None
    read_queue_size: int = 2
    write_queue_size: int = 1
    # Two writers: encoding and the fsync of each output (write_image makes outputs
    # durable) wait on the disk or run in zlib/libjpeg without the GIL, so two overlap.
    writer_threads: int = 2
    # None: encode in the device thread for a network on the CPU, in the writers otherwise
    # (see `stages.encode_in_device_thread`).
    encode_in_device_thread: bool | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `BatchError` for an option outside its allowed values."""
        if not isinstance(self.upscale, UpscaleOptions):
            raise BatchError(f"upscale must be UpscaleOptions, got {type(self.upscale).__name__}")
        if self.format not in OUTPUT_FORMATS:
            raise BatchError(f"unknown output format {self.format!r} (use {', '.join(OUTPUT_FORMATS)})")
        if self.existing not in EXISTING_POLICIES:
            raise BatchError(
                f"unknown policy for existing outputs {self.existing!r} (use {', '.join(EXISTING_POLICIES)})"
            )
        try:
            check_quality(self.quality)
        except OptionError as exc:
            raise BatchError(str(exc)) from None
        check_template(self.name_template)
        if self.size is not None and not isinstance(self.size, OutputSize):
            raise BatchError(f"size must be an OutputSize, got {type(self.size).__name__}")
        if (refusal := box_refusal(self.size, self.format)) is not None:  # (every file would fail, upscaled)
            raise BatchError(refusal)
