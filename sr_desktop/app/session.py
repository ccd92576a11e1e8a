"""The state of one editing session, without Qt: the open image, the current result and
what made it, the selected region and its result, and whether the result is saved.

The GUI subscribes to changes (`Session.subscribe`) and redraws from this state; it
never keeps copies of it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sr_desktop.engine.core.file_names import fitting_name
from sr_desktop.engine.core.paths import is_bundled
from sr_desktop.engine.core.text import result_seconds, with_variant
from sr_desktop.engine.imageio.image import Image

Box = tuple[int, int, int, int]


class Change(enum.Enum):
    """What changed, as told to the subscribers."""

    IMAGE = "image"  # a new original (results and region were dropped)
    RESULT = "result"  # a new result, of the whole image or of the region (see last_run)
    REGION = "region"  # the region box
    SAVED = "saved"  # the result was written to a file
    ANIMATION = "animation"  # the image's frames (`Session.animation`) were attached


#: what the app calls each value of a result's ``backend``
BACKEND_NAMES = {"torch": "torch", "openvino": "OpenVINO", "ncnn": "ncnn runtime", "pillow": "Pillow (no network)",
                 "numpy": "numpy (no network)"}


def backend_name(backend: str) -> str:
    """The name shown for a result's ``backend`` ("—" when none is known)."""
    return BACKEND_NAMES.get(backend, backend or "—")


def result_name_tail(result) -> str:
    """What the default output name adds to an input's stem for an engine `UpscaleResult`:
    ``_x2_bicubic`` (``_x2_waifu2x-anime_denoise2`` with a variant not the default), as the
    batch's default name template renders it, so that a photo saved from the window and
    one exported by a batch are named alike."""
    from sr_desktop.engine.batch.output_names import default_template_for, render_name

    scale, variant = int(result.scale), result.variant
    template = default_template_for(result.model, scale, variant)
    return render_name(template.removeprefix("{stem}"), "", "", scale, result.model, variant)


def path_beside_image(image_path: Path | None, tail: str, default_dir: Path, stem: str) -> Path:
    """``<image folder>/<image stem><tail>``: in `default_dir` for the bundled sample (its folder
    is the app's own) and for an image without a file, which is named `stem` instead."""
    folder = image_path.parent if image_path and not is_bundled(image_path) else Path(default_dir)
    # a stem near the name limit plus the tail would be a name no file system takes
    return folder / fitting_name(Path(image_path).stem if image_path else stem, tail)


#: seconds of making a model ready worth saying (one already in memory takes milliseconds)
SAID_SETUP_S = 0.5


@dataclass(frozen=True)
class RunInfo:
    """What made a result: model (id and display name), variant, scale, device, seconds,
    tiles, whether a blur kernel steered it (ZSSR or map-sr with an estimated or loaded kernel), the backend
    that ran the network (`BACKEND_NAMES`), and the iterations a per-image model was given."""

    model: str
    variant: str | None
    scale: int
    device: str
    seconds: float
    tiles: int
    model_name: str = ""
    kernel: bool = False
    backend: str = "torch"
    #: how the image's alpha was enlarged (``model`` or ``resample``); None without alpha
    alpha: str | None = None
    #: how a scale the model does not have was reached ("×4, then Lanczos to ×3"), None at its own
    route: str | None = None
    #: seconds making the model ready first (`UpscaleResult.setup_seconds`)
    setup_seconds: float = 0.0
    #: the iterations a per-image model was given (`UpscaleOptions.iterations`); None: its default
    iterations: int | None = None

    @classmethod
    def of(cls, result, options=None) -> RunInfo:
        """The run of an engine `UpscaleResult` (``options``: the `UpscaleOptions` of the
        job, which tell whether a kernel was given, as the result itself does)."""
        from sr_desktop.engine.models.resample_model import SCALENX

        kernel = bool(getattr(result, "with_kernel", False)) or getattr(options, "kernel", None) is not None
        image = getattr(result, "image", None)
        alpha = str(options.alpha) if options is not None and image is not None and image.has_alpha else None
        if result.model == SCALENX:  # (it decides alpha with the colour, whatever the option says)
            alpha = None
        return cls(result.model, result.variant, int(result.scale), result.device,
                   float(result.seconds), int(result.tiles), model_display_name(result.model),
                   kernel, getattr(result, "backend", "torch"), alpha, getattr(result, "scale_route", None),
                   float(getattr(result, "setup_seconds", 0.0)), getattr(options, "iterations", None))

    @property
    def title(self) -> str:
        """"Real-ESRGAN x4plus ×4", "ZSSR (with a blur kernel) ×2", "SPAN · ch48 ×4" (the
        kernel may have been estimated or loaded from a file: "estimated" named both)."""
        name = self.model_name or self.model
        if self.kernel:
            # one parenthesis: "MAP-SR (reconstruction with a kernel, per image) (with a blur kernel)"
            name = name.split(" (")[0] + " (with a blur kernel)"
        return f"{with_variant(name, self.variant)} ×{self.scale}"

    @property
    def readying(self) -> str:
        """"7.10 s readying the model" for a model's first use (loading it, converting it,
        timing its backends), "" under `SAID_SETUP_S`; in the run time's own digits."""
        return f"{result_seconds(self.setup_seconds)} readying the model" if self.setup_seconds >= SAID_SETUP_S else ""

    def describe(self) -> str:
        """"SPAN · ch48 ×4 · CPU (2 threads) · 3.20 s": everything that made the result, on
        one line (the device as the engine described it; "· OpenVINO" when it ran the network;
        "SPAN ×3 (×4, then Lanczos to ×3)" at a scale the model does not have)."""
        backend = f" · {backend_name(self.backend)}" if self.backend in ("openvino", "ncnn") else ""
        route = f" ({self.route})" if self.route else ""
        iterations = f" · iterations {self.iterations}" if self.iterations else ""  # (ZSSR's: at each ×2 step)
        return f"{self.title}{route}{iterations} · {self.device}{backend} · {result_seconds(self.seconds)}"

    def differences(self, options) -> list[str]:
        """What of `UpscaleOptions` ``options`` (the picker's choice) differs from this run:
        "model", "variant", "iterations", "scale", "alpha" (for an image with alpha); empty when
        the result matches them."""
        found = []
        if options.model != self.model:
            found.append("model")
        else:
            if options.variant and self.variant and options.variant != self.variant:
                found.append("variant")
            if getattr(options, "iterations", None) != self.iterations:
                found.append("iterations")
        if int(options.scale) != self.scale:
            found.append("scale")
        if self.alpha is not None and str(options.alpha) != self.alpha:
            found.append("alpha")
        return found


def model_display_name(model_id: str) -> str:
    """The registry's name of ``model_id`` (the id itself for an unknown model)."""
    from sr_desktop.engine.models.registry import get_model_spec

    try:
        return get_model_spec(model_id).name
    except Exception:  # noqa: BLE001 - a label must not fail: an unknown id names itself
        return model_id


class Session:
    """One image and what was made from it. Changes go through the methods, which tell
    the subscribers afterwards."""

    def __init__(self) -> None:
        self.image: Image | None = None
        #: every frame when the image is the first frame of an animation (`app.animation_jobs`)
        self.animation: Any = None
        self.animation_display: Any = None  # its frames converted for display (set by the GUI)
        self.image_name = ""
        self.result = None  # UpscaleResult of the whole image
        self.result_run: RunInfo | None = None
        self.result_path: Path | None = None  # where the result was saved last
        self.saved_options: Any = None  # SaveOptions of that save, reused by Save
        self.result_saved = False
        self.region: Box | None = None
        self.region_result: tuple[Box, Any] | None = None  # (box, UpscaleResult)
        self.last_run: RunInfo | None = None  # of the whole image or of a region, this image
        self._subscribers: list[Callable[[Change], None]] = []

    # -- observers ------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``callback(change)`` after each change; returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _tell(self, change: Change) -> None:
        for callback in list(self._subscribers):
            callback(change)

    # -- state ----------------------------------------------------------------------------
    @property
    def has_unsaved_result(self) -> bool:
        return self.result is not None and not self.result_saved

    def suggested_result_path(self, fmt: str, default_dir: Path) -> Path:
        """``<input folder>/<stem>_x<scale>_<model>.<fmt>`` for the current result, named as a
        batch names it (`result_name_tail`)
        (``default_dir`` / "upscaled…" for an image that has no file; ``default_dir`` for the
        bundled sample, whose folder is the app's own)."""
        base = self.image.path if self.image is not None and self.image.path else None
        tail = result_name_tail(self.result) if self.result is not None else ""
        return path_beside_image(base, f"{tail}.{fmt}", default_dir, "upscaled")

    @property
    def shown_run(self) -> RunInfo | None:
        """What made the after side shown now: the region's run after a region upscale,
        else the whole image's (None before the first run on this image)."""
        return self.last_run

    def shown_size(self) -> tuple[int, int] | None:
        """(width, height) of the whole-image result shown (None without one)."""
        if self.result is None or self.region_result is not None:
            return None
        pixels = self.result.image.pixels
        return int(pixels.shape[1]), int(pixels.shape[0])

    def mismatch(self, options) -> list[str]:
        """What of ``options`` (the picker's `UpscaleOptions`) differs from the run that made
        the result shown ([] when it matches, or there is none)."""
        run = self.shown_run
        return [] if run is None or options is None else run.differences(options)

    # -- changes --------------------------------------------------------------------------
    def open_image(self, image: Image, name: str = "") -> None:
        """A new original: drops the results and the region of the previous one."""
        self.image = image
        self.animation = self.animation_display = None
        self.image_name = name or (image.path.name if image.path else "image")
        self.result = self.result_run = self.result_path = self.saved_options = None
        self.result_saved = False
        self.region = self.region_result = None
        self.last_run = None
        self._tell(Change.IMAGE)

    def set_animation(self, animation, display=None) -> None:
        """The frames of the open image (its first frame): an `engine.imageio.animation.Animation`,
        and (optional) those frames already converted for display."""
        self.animation = animation
        self.animation_display = display
        self._tell(Change.ANIMATION)

    def set_result(self, result, options=None) -> None:
        """A new whole-image result (not saved yet) made with ``options`` (the job's
        `UpscaleOptions`); drops the region's result."""
        self.result = result
        self.result_run = self.last_run = RunInfo.of(result, options)
        self.result_path = self.saved_options = None
        self.result_saved = False
        self.region_result = None
        self._tell(Change.RESULT)

    def select_region(self, box: Box | None) -> None:
        """The region box of the original (None: no region)."""
        self.region = tuple(int(v) for v in box) if box is not None else None
        self._tell(Change.REGION)

    def set_region_result(self, box: Box, result, options=None) -> None:
        """The result of upscaling ``box`` only (with ``options``)."""
        self.region_result = (tuple(box), result)
        self.last_run = RunInfo.of(result, options)
        self._tell(Change.RESULT)

    def drop_region_result(self) -> bool:
        """Forget the region's result: the whole image's result (if any) is the one shown
        again. False when there was none."""
        if self.region_result is None:
            return False
        self.region_result = None
        self.last_run = self.result_run
        self._tell(Change.RESULT)
        return True

    @property
    def result_shown(self) -> bool:
        """A whole-image result is on the after side (not hidden by a region's result):
        what Save and Copy take."""
        return self.result is not None and self.region_result is None

    def mark_saved(self, path: Path, options=None) -> None:
        """The result was written to ``path`` with ``options``."""
        self.result_path = Path(path)
        self.saved_options = options
        self.result_saved = True
        self._tell(Change.SAVED)
