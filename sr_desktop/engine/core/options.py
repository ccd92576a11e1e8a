"""The typed vocabulary of upscale options, parsed and validated in one place.

Every front end (CLI, GUI, batch, metrics) turns user text into these values through the
parsers below, so a value is checked once, by one rule, with one error type
(`OptionError`). The enums are ``str``-valued: ``Precision.FP16 == "fp16"``, and JSON or
CLI text made from them is the same as before they existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from sr_desktop.engine.core.errors import OptionError

#: the model used when none is chosen (the CLI's --model default, the GUI's first choice)
DEFAULT_MODEL = "span"
#: the largest output scale any model is asked for (extra passes and resampling reach it)
MAX_SCALE = 16


class TextEnum(str, Enum):
    """A ``str``-valued enum whose text is its value (JSON, CLI text, f-strings unchanged)."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def choices(cls) -> tuple[str, ...]:
        """The values, in declaration order (argparse ``choices``, combo boxes)."""
        return tuple(member.value for member in cls)


class Device(TextEnum):
    """A compute device choice; ``cuda:N`` and ``vulkan:N`` (a numbered GPU) are accepted as
    text besides these. ``vulkan`` is a GPU (AMD, Intel, NVIDIA, Apple through MoltenVK) run
    by the ncnn runtime: the zoo's ncnn models only, for upscaling, not for training."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"
    VULKAN = "vulkan"


class Precision(TextEnum):
    """auto = fp16 on CUDA where the model allows it, fp32 elsewhere."""

    AUTO = "auto"
    FP32 = "fp32"
    FP16 = "fp16"


class Backend(TextEnum):
    """What runs a model's network: auto = the fastest measured on this machine (per model,
    scale, device and precision; within twice the leanest backend's memory), torch, OpenVINO
    (CPU), or the ncnn runtime on the zoo's own ncnn files (CPU)."""

    AUTO = "auto"
    TORCH = "torch"
    OPENVINO = "openvino"
    NCNN = "ncnn"


class AlphaMode(TextEnum):
    """How an alpha channel is upscaled: through the model (as grey) or by Lanczos."""

    MODEL = "model"
    RESAMPLE = "resample"


#: the devices torch runs on: every job's (training, kernel estimation, ZSSR)
DEVICE_CHOICES = tuple(d for d in Device.choices() if d != Device.VULKAN)
#: the devices an upscale can run on (upscale, batch, bench, the GUI's picker)
UPSCALE_DEVICE_CHOICES = Device.choices()
PRECISION_CHOICES = Precision.choices()
ALPHA_CHOICES = AlphaMode.choices()

_NUMBERED_GPU = re.compile(r"^(cuda|vulkan):\d+$")


def _choice(enum: type[TextEnum], value: object, what: str):
    if isinstance(value, enum):
        return value
    text = str(value).strip().lower() if value is not None else ""
    try:
        return enum(text)
    except ValueError:
        choices = ", ".join(enum.choices())
        raise OptionError(f"unknown {what} {value!r} (choose from {choices})") from None


def parse_device(value: object) -> str:
    """A `Device` (or ``"cuda:N"`` / ``"vulkan:N"`` text) from user text; None means auto.
    `OptionError` otherwise.

    Whether the device exists on this machine is checked when a model is put on it.
    """
    if value is None or value == "":
        return Device.AUTO
    if isinstance(value, str) and _NUMBERED_GPU.match(value.strip().lower()):
        return value.strip().lower()
    return _choice(Device, value, "device")


def parse_torch_device(value: object) -> str:
    """`parse_device` for torch's jobs (training, kernel estimation, ZSSR), which cannot run on
    ``vulkan`` (the ncnn runtime's GPUs)."""
    try:
        device = parse_device(value)
    except OptionError:  # its list of choices names vulkan, which is refused here
        raise OptionError(f"unknown device {value!r} (choose from {', '.join(DEVICE_CHOICES)}, or cuda:N)") from None
    if device.startswith(Device.VULKAN.value):
        raise OptionError(f"device '{device}' runs only the model zoo's models, for upscaling "
                          f"(choose from {', '.join(DEVICE_CHOICES)}, or cuda:N)")
    return device


def parse_precision(value: object) -> Precision:
    """A `Precision` from user text; None means auto."""
    return Precision.AUTO if value is None or value == "" else _choice(Precision, value, "precision")


def parse_backend(value: object) -> Backend:
    """A `Backend` from user text; None means auto."""
    return Backend.AUTO if value is None or value == "" else _choice(Backend, value, "backend")


def parse_alpha(value: object) -> AlphaMode:
    """An `AlphaMode` from user text; None means through the model."""
    return AlphaMode.MODEL if value is None or value == "" else _choice(AlphaMode, value, "alpha mode")


#: the smallest tile the tiler runs (input pixels)
MIN_TILE = 16


@dataclass(frozen=True)
class TilePolicy:
    """How an image is cut into tiles: ``size`` None = auto (fit the device's free memory),
    0 = the whole image in one piece, N = tiles of N input pixels."""

    size: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None and (isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0):
            raise OptionError(f"tile must be 'auto', 0 (whole image) or a number of pixels, got {self.size!r}")
        if self.size is not None and 0 < self.size < MIN_TILE:  # smaller tiles are all context, no content
            raise OptionError(f"tile must be 0 (whole image) or at least {MIN_TILE} px, got {self.size}")

    @classmethod
    def parse(cls, value: object) -> TilePolicy:
        """``"auto"`` / None, 0, N or their text -> `TilePolicy`; `OptionError` otherwise."""
        return parse_tile(value)

    @property
    def is_auto(self) -> bool:
        return self.size is None

    @property
    def request(self) -> int | str:
        """The policy as plain data: ``"auto"``, 0 or N (JSON reports, settings files)."""
        return "auto" if self.size is None else self.size

    def __str__(self) -> str:
        return str(self.request)


TILE_AUTO = TilePolicy()


def as_whole_number(value: object) -> int:
    """The integer of `value`, a whole number of any type (numpy's too) or its text;
    `ValueError` for anything else: a bool, 2.5 or numpy's float32 3.9 (taken as 2 and 3),
    inf or nan, text that is no integer."""
    if isinstance(value, bool):
        raise ValueError(f"not a whole number: {value!r}")
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)  # type: ignore[call-overload]
        fraction = not isinstance(value, str) and bool(number != value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"not a whole number: {value!r}") from None
    if fraction:
        raise ValueError(f"not a whole number: {value!r}")
    return number


def _whole_number(value: object, refusal: str) -> int:
    """`as_whole_number`, `OptionError` (`refusal`) for what is not one (a seed of 2.5 was
    taken as 2; inf or nan were a bare OverflowError or ValueError)."""
    try:
        return as_whole_number(value)
    except ValueError:
        raise OptionError(refusal) from None


def parse_tile(value: object) -> TilePolicy:
    """The tile request from ``"auto"``, None, 0 (whole image), N or their text."""
    if isinstance(value, TilePolicy):
        return value
    if value is None or (isinstance(value, str) and value.strip().lower() in ("auto", "")):
        return TILE_AUTO
    size = _whole_number(value, "tile must be 'auto' or a number of pixels (a whole number; 0: the whole image), "
                                f"got {value!r}")
    if size < 0:
        raise OptionError("tile must be >= 0 (0 = no tiling)")
    return TilePolicy(size)


#: the largest random seed: torch takes a 64-bit signed one
MAX_SEED = 2**63 - 1


def parse_seed(value: object) -> int:
    """A random seed: a whole number 0..`MAX_SEED` (or its text)."""
    refusal = f"a seed is a whole number from 0 to {MAX_SEED}, got {value!r}"
    seed = _whole_number(value, refusal)
    if not 0 <= seed <= MAX_SEED:
        raise OptionError(refusal)
    return seed


#: the most iterations a per-image model (ZSSR, map-sr) is asked for: ZSSR's official run is
#: 3000 (a second each on a laptop CPU at its 128-px crops), a hundred times that is a typo
MAX_PER_IMAGE_ITERATIONS = 100_000


def parse_iterations(value: object) -> int | None:
    """A per-image model's iterations 1..`MAX_PER_IMAGE_ITERATIONS`, or None (the model's own
    default: ZSSR 1000 on a CPU, 3000 on a GPU; map-sr 300, Tikhonov 100)."""
    if value is None or value == "":
        return None
    refusal = f"iterations must be a whole number from 1 to {MAX_PER_IMAGE_ITERATIONS}, got {value!r}"
    iterations = _whole_number(value, refusal)
    if not 1 <= iterations <= MAX_PER_IMAGE_ITERATIONS:
        raise OptionError(refusal)
    return iterations


def whole_scale(value: object) -> int:
    """The integer of a scale given as a number or text; `OptionError` otherwise (3.9 is not
    taken as ×3)."""
    return _whole_number(value, f"scale must be an integer, got {value!r}")


def parse_scale(value: object) -> int | None:
    """An output scale 1..`MAX_SCALE`, or None (the model's own scale)."""
    if value is None or value == "":
        return None
    scale = whole_scale(value)
    if not 1 <= scale <= MAX_SCALE:
        raise OptionError(f"scale must be between 1 and {MAX_SCALE}, got {value}")
    return scale


def parse_sr_scale(value: object) -> int:
    """A super-resolution scale 2..`MAX_SCALE`, required (benchmarks: ×1 measures nothing,
    every PSNR is inf; a ×20 ran the first model over the whole dataset, then failed)."""
    scale = whole_scale(value)
    if not 2 <= scale <= MAX_SCALE:
        raise OptionError(f"scale must be between 2 and {MAX_SCALE}, got {value}")
    return scale


@dataclass(frozen=True)
class UpscaleOptions:
    """What to run and how; every field has a default (the engine's, from this module).

    Plain values are accepted and coerced (``tile="auto"``, ``device="cpu"``,
    ``precision="fp16"``, ``alpha="resample"``, ``scale="2"``), so every front end builds
    options through this one constructor and a bad value fails here with `OptionError`.
    ``scale`` None = the model's largest native scale. ``kernel`` (per-image models):
    an ndarray, a ``.npy`` path or ``"estimate"``; checked when the model loads it.
    ``iterations`` (per-image models): how long ZSSR trains or map-sr solves on each image,
    None for the model's default (`parse_iterations`).
    """

    model: str = DEFAULT_MODEL
    scale: int | None = None
    variant: str | None = None
    device: str = Device.AUTO
    tile: TilePolicy = TILE_AUTO
    precision: Precision = Precision.AUTO
    alpha: AlphaMode = AlphaMode.MODEL
    kernel: object = None
    backend: Backend = Backend.AUTO
    iterations: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise OptionError(f"model must be a model id, got {self.model!r}")
        coerced = {
            "scale": parse_scale(self.scale),
            "variant": self.variant or None,
            "device": parse_device(self.device),
            "tile": parse_tile(self.tile),
            "precision": parse_precision(self.precision),
            "alpha": parse_alpha(self.alpha),
            "backend": parse_backend(self.backend),
            "iterations": parse_iterations(self.iterations),
        }
        for name, value in coerced.items():
            object.__setattr__(self, name, value)
