"""The evaluation protocol of the SR literature, for one image, a dataset, or many models.

For every HR image: crop to a multiple of the scale (``modcrop``), make the LR image by
the degradation rule (MATLAB bicubic by default), upscale it to an 8-bit result, and
measure PSNR/SSIM on the Y channel of MATLAB's ``rgb2ycbcr`` (grey images on their grey
values) with `scale` pixels shaved from each border. RGB PSNR and (optionally) MS-SSIM
are reported too, and on request the perceptual distances LPIPS and DISTS (networks
loaded once from the user's weight files by ``perceptual.load_perceptual``).

Public API (the CLI, the benchmark script and the GUI's evaluate mode use these):

* :func:`score_pair` — metrics of an SR image against its HR (any region of it).
* :func:`evaluate_image` — degrade + upscale + score one HR array; keeps the images.
* :func:`evaluate_dataset` — one upscaler over a folder / list of images.
* :func:`evaluate_models` — several model ids over a folder -> :class:`BenchReport`.

Over 500 lines because the protocol's records (per image, per model, the report) and
the dataset checks belong with the protocol they record; the metrics themselves are
modules of their own.
"""

from __future__ import annotations

import gc
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.options import parse_device, parse_sr_scale
from sr_desktop.engine.core.path_kind import not_a
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressTracker, check_cancel
from sr_desktop.engine.core.text import error_line, first_failures
from sr_desktop.engine.imageio.convert import to_uint8
from sr_desktop.engine.imageio.formats import READ_FORMAT_NAMES
from sr_desktop.engine.metrics.color import luma_y
from sr_desktop.engine.metrics.degradation import Degradation, degrade_float, degrade_uint8, modcrop
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.fullref import SSIM_WINDOW, finite_or_none, ms_ssim, psnr, ssim
from sr_desktop.engine.metrics.niqe import niqe_or_none
from sr_desktop.engine.metrics.timing import Timing
from sr_desktop.engine.metrics.upscalers import (
    ENGINE_BICUBIC_ID,
    MATLAB_BICUBIC_ID,
    UpscaleOutput,
    Upscaler,
    as_upscaler,
    check_backend_for,
    check_unit_range,
    make_upscaler,
    split_variant,
)

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from sr_desktop.engine.metrics.perceptual import PerceptualDistance

@dataclass(frozen=True)
class EvalProtocol:
    """Knobs of the protocol. Defaults reproduce the published bicubic tables.

    ``shave``: pixels removed per border before measuring (None = the scale).
    ``round_y``: round Y to integers before measuring, as MATLAB's rgb2ycbcr does on
    uint8 input (SRMD's scripts); the default computes Y in double (EDSR/RCAN scripts).
    ``quantize_output``: see below.
    """

    shave: int | None = None
    round_y: bool = False
    ms_ssim: bool = False
    #: also score each SR image with NIQE (no reference; lower is more natural)
    niqe: bool = True
    #: measure the model's 8-bit result (as saved to PNG; the published tables). False:
    #: measure its float output before rounding (some reference scripts do this)
    quantize_output: bool = True
    #: perceptual distances to score each SR image with (``perceptual.load_perceptual``)
    perceptual: tuple[PerceptualDistance, ...] = ()


@dataclass
class ImageScores:
    """Full-reference metrics of one SR image (Y/grey channel unless named rgb)."""

    psnr_y: float
    ssim_y: float
    psnr_rgb: float
    _: KW_ONLY  # the optional scores by name only: a new one beside them shifted the others
    ms_ssim_y: float | None = None
    #: NIQE of the SR image alone (None: not computed, or the image has under two 96×96 blocks)
    niqe: float | None = None
    #: the protocol's perceptual distances by name (``lpips``, ``dists``); None: image too small
    perceptual: dict[str, float | None] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {"psnr_y": finite_or_none(self.psnr_y), "ssim_y": self.ssim_y,
               "psnr_rgb": finite_or_none(self.psnr_rgb), "niqe": self.niqe}
        if self.ms_ssim_y is not None:
            out["ms_ssim_y"] = self.ms_ssim_y
        out.update(self.perceptual)
        return out


@dataclass
class ImageEvaluation:
    """One evaluated image: its scores, timing and (optionally) the images themselves."""

    name: str
    scores: ImageScores
    timing: Timing
    hr: np.ndarray | None = None  # modcropped HR, uint8 H×W×C
    lr: np.ndarray | None = None  # uint8 (float 0..1 for a float_lr degradation)
    sr: np.ndarray | None = None  # uint8, as saved
    hr_size: tuple[int, int] = (0, 0)  # (width, height) of the modcropped HR

    def to_json(self) -> dict:
        return {"name": self.name, **self.scores.to_json(), "seconds": self.timing.seconds,
                "tiles": self.timing.tiles, "hr_size": list(self.hr_size)}


@dataclass
class ModelEvaluation:
    """One model over a dataset: per-image results, means and total timing."""

    model: str
    scale: int
    degradation: str
    images: list[ImageEvaluation] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    #: how a model without that scale reached it ("×4, then Lanczos to ×3"); None at a
    #: native scale — the protocol's published numbers are of native scales only
    scale_route: str | None = None
    #: images left out of the Y / RGB PSNR means because a model of the same report
    #: reproduced them exactly (`BenchReport.leave_out_exact_images`): each model's own exact
    #: images only, and models were averaged over different images
    left_out_y: frozenset[str] = frozenset()
    left_out_rgb: frozenset[str] = frozenset()
    #: which weights were measured (`EngineUpscaler.provenance`: variant, weights' package or
    #: sha256); empty for MATLAB's bicubic
    provenance: dict = field(default_factory=dict)

    @property
    def psnr_y(self) -> float:
        """Mean Y PSNR over the images not reproduced exactly (`exact_images`; inf when all
        are): one exact image made every model's mean inf, and the comparison was lost."""
        return _finite_mean([i.scores.psnr_y for i in self.images if i.name not in self.left_out_y])

    @property
    def exact_images(self) -> int:
        """Images whose SR is identical to the HR on the Y channel (PSNR inf)."""
        return sum(1 for i in self.images if math.isinf(i.scores.psnr_y))

    @property
    def ssim_y(self) -> float:
        return _mean([i.scores.ssim_y for i in self.images])

    @property
    def psnr_rgb(self) -> float:
        """Mean RGB PSNR over the images not identical in RGB (inf when all are)."""
        return _finite_mean([i.scores.psnr_rgb for i in self.images if i.name not in self.left_out_rgb])

    @property
    def ms_ssim_y(self) -> float | None:
        values = [i.scores.ms_ssim_y for i in self.images]
        return None if not values or None in values else _mean(values)

    @property
    def niqe(self) -> float | None:
        """Mean NIQE over the images that have one (None when none has)."""
        values = [i.scores.niqe for i in self.images if i.scores.niqe is not None]
        return _mean(values) if values else None

    @property
    def perceptual(self) -> dict[str, float | None]:
        """Mean of each perceptual distance over the images that have one (None when none has)."""
        names = dict.fromkeys(name for i in self.images for name in i.scores.perceptual)
        means = {}
        for name in names:
            values = [v for i in self.images if (v := i.scores.perceptual.get(name)) is not None]
            means[name] = _mean(values) if values else None
        return means

    def to_json(self) -> dict:
        means = ImageScores(psnr_y=self.psnr_y, ssim_y=self.ssim_y, psnr_rgb=self.psnr_rgb,
                            ms_ssim_y=self.ms_ssim_y, niqe=self.niqe, perceptual=self.perceptual)
        return {
            "model": self.model,
            # every entry has "variant", as `bench --help` lists it (null: a model without
            # variants, MATLAB's bicubic; reading m["variant"] raised KeyError there)
            "variant": None,
            **self.provenance,
            **({"scale_route": self.scale_route} if self.scale_route else {}),
            **means.to_json(),
            **({"psnr_inf_images": self.exact_images} if self.exact_images else {}),
            # the images its PSNR means leave out because some model reproduced them exactly
            **({"psnr_left_out": sorted(self.left_out_y)} if self.left_out_y else {}),
            **({"psnr_rgb_left_out": sorted(self.left_out_rgb)} if self.left_out_rgb else {}),
            **self.timing.to_json(),
            "images": [i.to_json() for i in self.images],
        }


@dataclass
class BenchReport:
    """Several models on one dataset (the JSON of ``sr-desktop bench``)."""

    dataset: str
    scale: int
    degradation: str
    models: list[ModelEvaluation] = field(default_factory=list)
    protocol: EvalProtocol = field(default_factory=EvalProtocol)
    #: the models asked for that an interrupt left unmeasured (the JSON says so: a partial
    #: report could not be told from a bench of fewer models)
    not_measured: list[str] = field(default_factory=list)
    #: (model, error line) of each model that failed while others were measured (a later
    #: model's failure cost the ones measured before it)
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: the precision the models were asked to compute in (``fp32``: the published tables')
    precision: str = "fp32"
    #: a ``kernel:`` degradation's sha256 over its values (its file named by path alone could
    #: be another kernel later); "" for bicubic
    kernel_sha256: str = ""

    def leave_out_exact_images(self) -> None:
        """Every model's PSNR means leave out the images any model reproduced exactly (PSNR
        inf), so that all are averaged over the same images: with each leaving out only its
        own, a model as good or better on every image could rank 4 dB lower. A model exact on
        every image (its mean inf) leaves no image out of the others' means, and a model that
        would be left no image keeps its own mean, as before: a table of "-" said nothing."""
        for attr, score in (("left_out_y", "psnr_y"), ("left_out_rgb", "psnr_rgb")):
            own = {m.model: {i.name for i in m.images if math.isinf(getattr(i.scores, score))} for m in self.models}
            exact = frozenset().union(*(own[m.model] for m in self.models if len(own[m.model]) < len(m.images)))
            for m in self.models:
                setattr(m, attr, exact if any(i.name not in exact for i in m.images) else frozenset())

    def exact_by(self) -> dict[str, list[str]]:
        """{image: the models that reproduced it exactly (PSNR-Y inf)}, in report order."""
        found: dict[str, list[str]] = {}
        for m in self.models:
            for i in m.images:
                if math.isinf(i.scores.psnr_y):
                    found.setdefault(i.name, []).append(m.model)
        return found

    def to_json(self) -> dict:
        protocol = {"shave": self.protocol.shave if self.protocol.shave is not None else self.scale,
                    "y_channel": "rgb2ycbcr BT.601 (grey images: grey values)",
                    "round_y": self.protocol.round_y,
                    "output": "8-bit" if self.protocol.quantize_output else "float"}
        if self.protocol.perceptual:
            protocol["perceptual"] = {m.name: m.describe for m in self.protocol.perceptual}
        if self.protocol.ms_ssim:
            protocol["ms_ssim"] = True
        if self.protocol.round_y and not self.protocol.quantize_output:
            # (a float output's Y is measured unrounded: "round_y": true read as both rounded)
            protocol["round_y_applies_to"] = "the HR only"
        protocol["precision"] = self.precision
        from sr_desktop import __version__

        return {
            "sr_desktop_version": __version__,
            "dataset": self.dataset,
            "scale": self.scale,
            "degradation": self.degradation,
            **({"degradation_kernel_sha256": self.kernel_sha256} if self.kernel_sha256 else {}),
            "protocol": protocol,
            "models": [m.to_json() for m in self.models],
            **({"not_measured": list(self.not_measured)} if self.not_measured else {}),
            **({"failed": [{"model": m, "error": e} for m, e in self.failed]} if self.failed else {}),
        }


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def _finite_mean(values: Sequence[float]) -> float:
    """The mean of the finite values; inf when every value is inf (nan for none)."""
    finite = [v for v in values if math.isfinite(v)]
    return _mean(finite) if finite or not values else math.inf


# -- images ------------------------------------------------------------------------------


def to_uint8_rgb_or_gray(pixels: np.ndarray) -> np.ndarray:
    """Pixels of any supported image (H×W×1..4, uint8/uint16) -> uint8 H×W×1 or H×W×3.

    Alpha is dropped, after fully transparent pixels take a colour filled from the visible
    ones as the upscale pipeline gives them (`fill_hidden_colour`): their stored colour is
    whatever the editor left (often black, sometimes noise) and was scored as if it were
    seen. 16-bit is rounded to 8 bits (the protocol measures 8-bit images).
    """
    from sr_desktop.engine.compute.transparent_fill import fill_hidden_colour

    p = np.asarray(pixels)
    if p.ndim == 2:
        p = p[:, :, None]
    if p.ndim != 3 or p.shape[2] not in (1, 2, 3, 4):
        raise EvaluationError(f"unsupported image shape {p.shape}")
    if p.shape[2] in (2, 4):
        p = fill_hidden_colour(p[:, :, :-1], p[:, :, -1])
    p = p[:, :, :1] if p.shape[2] == 1 else p[:, :, :3]
    if p.dtype not in (np.uint8, np.uint16):
        raise EvaluationError(f"unsupported pixel type {p.dtype} (expected 8 or 16 bit)")
    return np.ascontiguousarray(to_uint8(p))


def list_dataset(folder: str | Path, called: str = "dataset folder") -> list[Path]:
    """Image files of a dataset folder (not its subfolders), sorted by name; other files
    (e.g. SHA256SUMS), hidden ones and a killed write's temp files are skipped. `called`: how
    an error names the folder (``--lr-dataset folder``)."""
    from sr_desktop.engine.imageio import is_image_path, is_temp_path
    from sr_desktop.engine.imageio.hidden import is_hidden

    folder = Path(folder)
    if (why := not_a(folder, "folder")) is not None:
        raise EvaluationError(f"{called} {folder}: {why}")
    # a link to nothing is listed, so that reading it names it (skipped, the means covered
    # part of the dataset without a word)
    paths = sorted(p for p in folder.iterdir()
                   if (p.is_file() or (p.is_symlink() and not p.exists())) and is_image_path(p) and not is_temp_path(p)
                   and not is_hidden(p))
    if not paths:
        raise EvaluationError(f"no images ({READ_FORMAT_NAMES.replace(', ', '/')}) in {folder}")
    return paths


def read_hr(path: str | Path) -> np.ndarray:
    """Read an HR image as uint8 H×W×1 (grey) or H×W×3; raises `ImageReadError`."""
    from sr_desktop.engine.imageio import read_image

    return to_uint8_rgb_or_gray(read_image(path).pixels)


# -- the protocol ------------------------------------------------------------------------


def score_pair(sr: np.ndarray, hr: np.ndarray, scale: int = 1,
               protocol: EvalProtocol | None = None) -> ImageScores:
    """Metrics of `sr` against uint8 `hr` (same size; grey or RGB).

    `sr` is 8-bit (uint8), or float in 0..1 (an unrounded model output; measured on the
    0..255 scale without rounding). Y channel of BT.601 (grey values for grey images),
    ``shave`` = `scale` pixels by default. An RGB `sr` of a grey `hr` is compared through
    its channel mean.
    """
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or scale < 1:
        raise EvaluationError(f"scale must be a whole number 1 or more (the border shaved), got {scale!r}")
    protocol = protocol or EvalProtocol()
    hr = to_uint8_rgb_or_gray(hr)
    sr = np.asarray(sr)
    is_float = sr.dtype.kind == "f"
    if is_float:
        check_unit_range(sr)
        sr = np.clip(sr if sr.ndim == 3 else sr[:, :, None], 0.0, 1.0) * 255.0
        if sr.shape[2] not in (1, 3):
            raise EvaluationError(f"unsupported SR shape {sr.shape}")
    else:
        sr = to_uint8_rgb_or_gray(sr)
    if sr.shape[:2] != hr.shape[:2]:
        raise EvaluationError(f"SR is {sr.shape[1]}×{sr.shape[0]} but HR is {hr.shape[1]}×{hr.shape[0]}")
    if hr.shape[2] == 1 and sr.shape[2] == 3:
        sr = sr.astype(np.float64).mean(axis=2, keepdims=True)
        sr = sr if is_float else np.floor(sr + 0.5).astype(np.uint8)
    elif hr.shape[2] == 3 and sr.shape[2] == 1:
        sr = np.repeat(sr, 3, axis=2)
    shave = scale if protocol.shave is None else protocol.shave
    try:
        y_sr = luma_y(sr, protocol.round_y and not is_float)
        y_hr = luma_y(hr, protocol.round_y)
        scores = ImageScores(
            psnr_y=psnr(y_sr, y_hr, shave=shave),
            ssim_y=ssim(y_sr, y_hr, shave=shave),
            psnr_rgb=psnr(sr, hr, shave=shave),
        )
        if protocol.ms_ssim:
            scores.ms_ssim_y = ms_ssim(y_sr, y_hr, shave=shave)
        if protocol.niqe:
            scores.niqe = niqe_or_none(sr)
        for metric in protocol.perceptual:
            scores.perceptual[metric.name] = metric.distance(sr, hr)
    except ValueError as exc:  # too small for the shave / the SSIM window
        raise EvaluationError(f"cannot measure: {exc}") from None
    return scores


def check_measurable(width: int, height: int, scale: int, protocol: EvalProtocol | None = None) -> None:
    """`EvaluationError` (one line) unless an image of this size can be scored at `scale`:
    cropped to a multiple of the scale and shaved, it must still hold an SSIM window."""
    shave = scale if protocol is None or protocol.shave is None else protocol.shave
    side = min(width - width % scale, height - height % scale) - 2 * shave
    if side < SSIM_WINDOW:
        need = -(-(SSIM_WINDOW + 2 * shave) // scale) * scale  # the smallest side that leaves a window
        raise EvaluationError(f"the image ({width}×{height}) is too small to measure at ×{scale}: "
                              f"each side needs at least {need} px")


def evaluate_image(
    hr: np.ndarray,
    upscaler: Upscaler | str,
    scale: int,
    degradation: Degradation | None = None,
    name: str = "",
    protocol: EvalProtocol | None = None,
    keep_images: bool = True,
    cancel: CancelToken | None = None,
    lr: np.ndarray | None = None,
) -> ImageEvaluation:
    """Degrade `hr` (uint8, any supported layout), upscale with `upscaler`, score it.

    `upscaler` is an :class:`Upscaler`, a model id (``bicubic`` = MATLAB bicubic) or a
    float function. The result keeps the modcropped HR, the LR and the SR images unless
    `keep_images` is False. `lr`: the HR's given LR image (`given_lr.read_given_pair`, the
    HR cropped to fit it), upscaled in place of a degradation's.
    """
    scale = parse_sr_scale(scale)  # (0 divided by zero, 2.5 failed slicing)
    upscaler = as_upscaler(upscaler, scale)
    if int(upscaler.scale) != int(scale):
        raise EvaluationError(f"the upscaler is ×{upscaler.scale} but the evaluation is ×{scale}")
    protocol = protocol or EvalProtocol()
    check_measurable(hr.shape[1], hr.shape[0], scale, protocol)
    hr = modcrop(to_uint8_rgb_or_gray(hr), scale)
    degradation = Degradation() if lr is not None else degradation or Degradation()
    keep_float = not protocol.quantize_output
    if lr is not None:
        lr = to_uint8_rgb_or_gray(lr)
    elif degradation.float_lr:
        lr = degrade_float(hr, scale, degradation)
    else:
        lr = degrade_uint8(hr, scale, degradation)
    if lr.ndim == 2:
        lr = lr[:, :, None]
    check_cancel(cancel)
    if degradation.float_lr:
        out: UpscaleOutput = upscaler.upscale_float(lr.astype(np.float32), cancel=cancel)
    else:
        out = upscaler.upscale(lr, cancel=cancel, keep_float=keep_float)
    sr = to_uint8_rgb_or_gray(out.pixels)
    if sr.shape[:2] != hr.shape[:2]:
        raise EvaluationError(
            f"{upscaler.name} made {sr.shape[1]}×{sr.shape[0]} from {lr.shape[1]}×{lr.shape[0]}, "
            f"expected {hr.shape[1]}×{hr.shape[0]}"
        )
    if keep_float and out.float_pixels is None:
        raise EvaluationError(f"{upscaler.name} cannot give its unrounded output")
    scores = score_pair(out.float_pixels if keep_float else sr, hr, scale, protocol)
    size = (hr.shape[1], hr.shape[0])
    if not keep_images:
        return ImageEvaluation(name, scores, out.timing, hr_size=size)
    return ImageEvaluation(name, scores, out.timing, hr=hr, lr=lr, sr=sr, hr_size=size)


def image_names(paths: list[Path]) -> dict[Path, str]:
    """What each image is called in a report: its stem (``baby``), or its file name where
    two images share a stem (``anim.gif``, ``anim.webp``: two rows named ``anim`` could not
    be told apart)."""
    from collections import Counter

    stems = Counter(p.stem for p in paths)
    return {p: (p.stem if stems[p.stem] == 1 else p.name) for p in paths}


def evaluate_dataset(
    images: str | Path | Iterable[str | Path],
    upscaler: Upscaler | str,
    scale: int,
    degradation: Degradation | None = None,
    protocol: EvalProtocol | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    save_to: Path | None = None,
    save_maps: bool = False,
    difference_max: float | None = None,
    lr_of: dict[Path, Path] | None = None,
    lr_dataset: str | Path | None = None,
) -> ModelEvaluation:
    """Run the protocol with one upscaler over a folder (or a list of image paths);
    `save_to`: a folder that each SR image is written into, as measured (8-bit PNG named
    as the report names the image), for a paper's figures; `save_maps`: its maps beside it
    (`save_sr_image`, with `difference_max`). `lr_of`: each image's given LR image
    (`given_lr.pair_dataset` of the folder `lr_dataset`), upscaled in place of the degradation's."""
    from sr_desktop.engine.metrics.given_lr import PAIRED_PREFIX, read_given_pair

    scale = parse_sr_scale(scale)
    paths = list_dataset(images) if isinstance(images, (str, Path)) else [Path(p) for p in images]
    upscaler = as_upscaler(upscaler, scale)
    degradation = degradation or Degradation()
    described = f"{PAIRED_PREFIX}{lr_dataset}" if lr_of is not None else degradation.describe()
    result = ModelEvaluation(upscaler.name, int(scale), described,
                             scale_route=getattr(upscaler, "scale_route", None))
    if callable(provenance := getattr(upscaler, "provenance", None)):
        result.provenance = provenance()
    tracker = ProgressTracker(len(paths), progress, stage=f"evaluate {upscaler.name}")
    names = image_names(paths)
    for path in paths:
        check_cancel(cancel)
        hr, lr = read_given_pair(path, lr_of[path], scale) if lr_of is not None else (read_hr(path), None)
        ev = evaluate_image(hr, upscaler, scale, degradation, name=names[path],
                            protocol=protocol, keep_images=save_to is not None, cancel=cancel, lr=lr)
        if save_to is not None:
            save_sr_image(ev, save_to, save_maps, difference_max)
        result.images.append(ev)
        result.timing.add(ev.timing)
        tracker.step(message=f"{path.name}: {ev.scores.psnr_y:.2f} dB")
    return result


def sr_image_path(save_to: Path, image_name: str) -> Path:
    """Where `save_sr_image` writes an image's SR in `save_to`."""
    return save_to / f"{image_name}.png"


#: the maps `save_sr_image` writes beside an SR image when asked: the app's Metrics panel's,
#: against the HR (`metrics.maps`)
SAVED_MAPS = ("difference", "ssim", "gradient")


def map_image_path(save_to: Path, image_name: str, mode: str) -> Path:
    """Where `save_sr_image` writes an image's `mode` map (one of `SAVED_MAPS`) in `save_to`: a
    folder of the map's, under the image's own name (``a_ssim.png`` beside the SR images was
    also the SR image of a dataset's ``a_ssim.png``)."""
    return save_to / mode / f"{image_name}.png"


def save_sr_image(ev: ImageEvaluation, save_to: Path, maps: bool = False,
                  difference_max: float | None = None) -> None:
    """Write `ev`'s SR image into `save_to` (made) as a PNG, and with `maps` its difference
    (|SR − HR|, brightest at `difference_max`, by default at the map's own 99.5th percentile as
    the Metrics panel's), SSIM (Y) and gradient maps; then let the images go (a dataset's
    worth held for the report). `SRDesktopError` when one cannot be written."""
    from sr_desktop.engine.imageio import write_image
    from sr_desktop.engine.imageio.image import Image

    sr, hr = ev.sr, ev.hr
    ev.hr = ev.lr = ev.sr = None
    try:
        save_to.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SRDesktopError(f"cannot make {save_to}: {exc.strerror or exc}") from None
    write_image(Image(pixels=np.ascontiguousarray(sr)), sr_image_path(save_to, ev.name), overwrite=True)
    if maps:
        from sr_desktop.engine.metrics.maps import difference_map, gradient_map, ssim_display_map

        made = {"difference": lambda: difference_map(sr, hr, difference_max), "ssim": lambda: ssim_display_map(sr, hr),
                "gradient": lambda: gradient_map(sr)}
        for mode in SAVED_MAPS:
            (save_to / mode).mkdir(exist_ok=True)
            write_image(Image(pixels=made[mode]()), map_image_path(save_to, ev.name, mode), overwrite=True)


def check_dataset(paths: Sequence[Path], scale: int, protocol: EvalProtocol | None = None,
                  cancel: CancelToken | None = None, lr_of: dict[Path, Path] | None = None) -> None:
    """Read every image of a dataset once and check it can be measured at ×`scale`, so
    that a broken or too small file is one error naming it before any model runs, not an
    abort after minutes of measuring (costs one decode per image); every such file is named
    (the first few), not only the first. With `lr_of`, each given LR image is read and checked
    to fit its HR image too."""
    from sr_desktop.engine.compute.pair_offset import is_misaligned, offset_words, pair_offset
    from sr_desktop.engine.metrics.given_lr import PairSizeError, read_given_pair

    bad: list[tuple[str, bool, SRDesktopError]] = []  # (the file's name, whether an LR image, why)
    misaligned = []
    for path in paths:
        check_cancel(cancel)
        try:
            if lr_of is not None:
                hr, lr = read_given_pair(path, lr_of[path], scale)
                if is_misaligned(*(offset := pair_offset(hr, lr))):
                    misaligned.append(f"{path.name}: {offset_words(*offset)}")
            else:
                hr = read_hr(path)
            check_measurable(hr.shape[1], hr.shape[0], scale, protocol)
        except SRDesktopError as exc:
            # the file that failed: a pair's LR image too (its healthy HR image was named)
            failed = getattr(exc, "path", None) or path
            bad.append((failed.name, lr_of is not None and failed == lr_of[path], exc))

    def said(name: str, is_lr: bool, exc: SRDesktopError, alone: bool) -> str:
        # each by its name and the reason (the error's own words named the file a second time,
        # and the whole paths made the line too long to show three); a pair's size error names
        # both files itself ("a.png: a.png is …" repeated one)
        if isinstance(exc, PairSizeError):
            return str(exc)
        reason = getattr(exc, "reason", None) or exc
        if alone:
            return f"{name} in {'the LR images' if is_lr else 'the dataset'}: {reason}"
        return f"{name}{' (an LR image)' if is_lr else ''}: {reason}"

    if len(bad) == 1:
        raise EvaluationError(said(*bad[0], alone=True))
    if misaligned:  # (measured as they are: a pair off by a pixel costs every model PSNR)
        log.warning("%d of %d pairs lie off by more than half an LR pixel: %s", len(misaligned), len(paths),
                    first_failures(misaligned))
    if bad:
        lines = [said(*entry, alone=False) for entry in bad]
        raise EvaluationError(f"{len(bad)} images of the dataset cannot be measured: {first_failures(lines)}")


def evaluate_models(
    dataset: str | Path,
    model_ids: Sequence[str],
    scale: int,
    degradation: Degradation | None = None,
    device: str = "auto",
    tile: int | str = "auto",
    protocol: EvalProtocol | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    backend: str = "auto",
    precision: str = "fp32",
    save_sr: Path | None = None,
    save_maps: bool = False,
    difference_max: float | None = None,
    lr_dataset: str | Path | None = None,
) -> BenchReport:
    """Benchmark several model ids on a dataset folder (what ``sr-desktop bench`` runs), in
    `precision` (fp32 by default, the published tables'; ``auto`` ran fp16 on a CUDA GPU). A
    `KeyboardInterrupt` (Ctrl+C, SIGTERM) or `Cancelled` (`cancel`, the window's Cancel)
    part-way carries the models measured so far as its ``partial_report`` (they were lost
    with it). A model that fails (an error, out of
    memory, a bug) is listed in ``failed`` and the others are measured; when none could be,
    the first failure is raised. `save_sr`: each model's SR images go to ``save_sr/MODEL/``
    (`evaluate_dataset`'s `save_to`), with `save_maps` their maps (`difference_max`: see
    `save_sr_image`). `lr_dataset`: a folder of the dataset's own LR images (`given_lr`),
    upscaled in place of `degradation`'s."""
    from sr_desktop.engine.core.kernel_file import kernel_digest
    from sr_desktop.engine.core.options import parse_precision
    from sr_desktop.engine.metrics.given_lr import PAIRED_PREFIX, pair_dataset

    scale = parse_sr_scale(scale)
    precision = parse_precision(precision).value
    lr_of = pair_dataset(dataset, lr_dataset, scale) if lr_dataset is not None else None
    # (a paired dataset's HR images: one folder of RealSR's holds the LR images too)
    paths = list(lr_of) if lr_of is not None else list_dataset(dataset)
    degradation = Degradation() if lr_of is not None else degradation or Degradation()
    described = f"{PAIRED_PREFIX}{lr_dataset}" if lr_of is not None else degradation.describe()
    report = BenchReport(str(dataset), int(scale), described, protocol=protocol or EvalProtocol(),
                         precision=precision)
    if degradation.kernel is not None:
        report.kernel_sha256 = kernel_digest(degradation.kernel)
    from sr_desktop.engine.models.registry import get_model_spec

    for model in model_ids:  # an unknown id fails before the first model runs, not after it
        model_id = split_variant(model)[0]
        if model_id not in (MATLAB_BICUBIC_ID, ENGINE_BICUBIC_ID):
            get_model_spec(model_id)
        check_backend_for(model_id, backend)
    device_name = parse_device(device)
    if not device_name.startswith("vulkan"):  # (vulkan: each model's own question)
        from sr_desktop.engine.compute.devices import resolve_device

        # a device this machine lacks is one error, also when only MATLAB's bicubic runs (in
        # numpy: it was measured on the CPU without a word)
        resolve_device(device_name)
    check_dataset(paths, int(scale), report.protocol, cancel, lr_of)
    # every model loaded once before the first is measured: one that cannot run here (no
    # weights, a backend or device it does not take) stopped the bench after the others had
    # run for minutes, and their numbers were lost with it. Each is let go again: held all
    # together they counted in every model's peak memory (srcnn's 286 MB read 454)
    from sr_desktop.engine.pipeline.model_cache import clear_model_cache

    for model_id in model_ids:
        make_upscaler(model_id, scale, device=device, tile=tile, backend=backend, precision=precision,
                      cancel=cancel)
        clear_model_cache()  # (it keeps the last two models: their weights in the next one's peak)
        gc.collect()
    failures: list[tuple[str, Exception]] = []
    try:
        for model_id in model_ids:
            try:
                upscaler = make_upscaler(model_id, scale, device=device, tile=tile, backend=backend,
                                         precision=precision, cancel=cancel)
                report.models.append(evaluate_dataset(paths, upscaler, scale, degradation,
                                                      report.protocol, progress, cancel,
                                                      None if save_sr is None else Path(save_sr) / model_id,
                                                      save_maps, difference_max, lr_of, lr_dataset))
                del upscaler
            except Cancelled:
                raise
            except Exception as exc:  # that model's failure, not the others' (a bug: logged with -v)
                log.debug("bench of %s failed", model_id, exc_info=not isinstance(exc, SRDesktopError))
                failures.append((model_id, exc))
                gc.collect()  # (an out-of-memory's arrays, before the next model)
    except (KeyboardInterrupt, Cancelled) as stop:
        done = {m.model for m in report.models} | {m for m, _exc in failures}
        report.not_measured = [m for m in model_ids if m not in done]
        report.failed = [(m, error_line(exc)) for m, exc in failures]
        report.leave_out_exact_images()
        stop.partial_report = report
        raise
    if failures and not report.models:
        raise failures[0][1]
    report.failed = [(m, error_line(exc)) for m, exc in failures]
    report.leave_out_exact_images()
    return report
