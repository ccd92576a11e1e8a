"""`TrainOptions`: every setting of a training run, parsed and validated once.

Strings from the CLI or the GUI go in; the architecture spec, the loss spec and the
degradation are checked here (an unknown name or a bad number is a `TrainingError`
before any file is touched). The arguments of the issue's command line map one to one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from sr_desktop.engine.core.errors import ModelError, OptionError
from sr_desktop.engine.core.kernel_file import kernel_digest, kernel_spec_parts
from sr_desktop.engine.core.options import MAX_SCALE, parse_seed, parse_torch_device
from sr_desktop.engine.core.path_kind import nearest_existing_folder_or_file, not_a
from sr_desktop.engine.imageio.atomic import unwritable_reason
from sr_desktop.engine.models.archs.detect import arch_support
from sr_desktop.engine.models.custom_index import PAIRED_DEGRADATION, checked_model_name, read_index
from sr_desktop.engine.training.data import MIN_PATCH
from sr_desktop.engine.training.degradations import parse_degradation
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.losses import parse_loss_spec
from sr_desktop.engine.training.networks import parse_arch_spec
from sr_desktop.engine.training.precision import check_amp
from sr_desktop.engine.training.val_backend import check_validation_backend

_INTEGERS = (int, np.integer)
_NUMBERS = (int, float, np.integer, np.floating)
#: the fingerprint's record of a kernel file's contents (`TrainOptions.fingerprint`)
KERNEL_DIGEST_KEY = "kernel_sha256"
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("cosine", "step", "constant")
DEFAULT_LR = 2e-4
#: the longest run: far beyond any published schedule (EDSR: 300,000 iterations), and within
#: the 32-bit counters of the window's progress bar and Iterations box (3,000,000,000 stopped
#: the Train dialog from filling its form from such a run)
MAX_ITERATIONS = 1_000_000_000
#: fine-tuning starts from trained weights: a tenth of the learning rate (BasicSR's
#: fine-tuning recipes use 1e-4 .. 1e-5 after 2e-4 from scratch)
FINE_TUNE_LR = 2e-5
#: the settings a resumed run must share with the run that wrote its checkpoint (the data
#: and the EMA too: a resume with other images or without the averaged weights changed the
#: run without a word; the schedule, learning rate and length may change)
RESUME_KEYS = ("arch", "scale", "loss", "degradation", "batch", "patch", "seed", "init", "optimizer",
               "mixed_scales", "downscales", "data", "val", "ema", "lr_data", "val_lr", "align")


#: the settings a front end without fields for them (the Train dialog) takes from the run
#: it resumes: a run of the command line with --seed 3 or --ema 0 could not be resumed there
RECORDED_ONLY = ("seed", "optimizer", "ema", "mixed_scales", "lr", "schedule", "warmup", "grad_clip")

#: the settings `train --resume` takes from the run when their flags are not given (its
#: defaults were compared with the run's: "made with batch=2, not 16", one flag at a time)
RESUMED_AS_RECORDED = ("loss", "degradation", "batch", "patch", "seed", "init", "optimizer", "schedule",
                       "warmup", "grad_clip", "ema", "downscales", "val", "lr_data", "val_lr", "align")

#: the command-line flag of each setting a resume compares
FLAG_OF = {"mixed_scales": "--scale", "downscales": "--downscale"}
#: what a run with given LR images (--lr-data) records as its degradation
PAIRED = PAIRED_DEGRADATION
#: settings a script may give that the command line has no flag for
WITHOUT_A_FLAG = ("val_max_side", "previews")


def setting_name(key: str) -> str:
    """How a message names the setting `key`: its flag (``--val-every``), or for one without
    a flag the field (``TrainOptions.previews``; "--previews" sent users to a flag that does
    not exist)."""
    if key in WITHOUT_A_FLAG:
        return f"TrainOptions.{key}"
    return FLAG_OF.get(key, f"--{key.replace('_', '-')}")


@dataclass(frozen=True)
class TrainOptions:
    """A training run (see ``sr-desktop train --help`` for each field)."""

    arch: str
    scale: int
    data: tuple[str, ...]
    out: str
    val: str | None = None
    degradation: str = "bicubic"
    loss: str = "l1:1"
    init: str | None = None
    iterations: int = 10000
    batch: int = 16
    patch: int = 48
    lr: float | None = None  # None: DEFAULT_LR, or FINE_TUNE_LR with init
    device: str = "auto"
    name: str | None = None
    resume: bool = False
    seed: int = 0
    optimizer: str = "adam"
    schedule: str = "cosine"
    warmup: int = 0
    grad_clip: float = 0.0  # 0 = off
    ema: float = 0.999  # 0 = off
    val_every: int = 0  # 0 = 10 validations per run
    log_every: int = 10
    checkpoint_every: int = 0  # 0 = with each validation
    workers: int = 2
    cache_mb: int = 2048
    vgg_weights: str | None = None
    val_max_side: int = 512
    previews: int = 1
    #: more scales trained into the same network (``--scale 2 3 4``: VDSR's one model for
    #: all scales); pre-upsampling architectures only. Validation and export use `scale`.
    mixed_scales: tuple[int, ...] = ()
    #: fractions of each training image's size at which it also enters the data
    #: (``--downscale 0.9 0.8 0.7 0.6``: FSRCNN's data augmentation)
    downscales: tuple[float, ...] = ()
    #: what runs the network at validation: auto, torch or openvino (`val_backend`)
    backend: str = "auto"
    #: mixed precision of the training steps: auto, on or off (`precision`)
    amp: str = "auto"
    #: for each `data` folder, the folder of its LR images (`pairs`: matched by name), which
    #: then take the place of a degradation
    lr_data: tuple[str, ...] = ()
    #: the LR images of the `val` folder (default: made from them by the degradation)
    val_lr: str | None = None
    #: move each given pair's HR image by whole HR pixels onto its LR image's content (a shift)
    align: bool = False

    def __post_init__(self) -> None:
        self._coerce_python_values()
        parse_arch_spec(self.arch)
        parse_loss_spec(self.loss)
        if not self.degradation.startswith("kernel:"):
            parse_degradation(self.degradation)  # a kernel file is read once, by the run
        if not (isinstance(self.scale, int) and 2 <= self.scale <= MAX_SCALE):
            raise TrainingError(f"--scale must be an integer 2..{MAX_SCALE}, got {self.scale!r}")
        self._check_mixed_scales()
        if not all(isinstance(f, float | int) and math.isfinite(f) and 0.1 <= f < 1 for f in self.downscales) \
                or len(set(self.downscales)) < len(self.downscales):
            raise TrainingError("--downscale takes distinct fractions in [0.1, 1), e.g. 0.9 0.8 0.7 0.6; got "
                                + " ".join(map(str, self.downscales)))
        if not self.data:
            raise TrainingError("give at least one --data folder")
        positive = {"iterations": self.iterations, "batch": self.batch, "patch": self.patch,
                    "log_every": self.log_every, "workers": self.workers, "val_max_side": self.val_max_side}
        for key, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise TrainingError(f"{setting_name(key)} must be a positive integer, got {value!r}")
        if self.iterations > MAX_ITERATIONS:
            raise TrainingError(f"--iterations must be at most {MAX_ITERATIONS:,}, got {self.iterations:,}")
        if not isinstance(self.cache_mb, int) or self.cache_mb < 0:
            raise TrainingError(f"--cache-mb must be 0 or more, got {self.cache_mb!r}")
        if self.patch < MIN_PATCH:
            raise TrainingError(f"--patch must be at least {MIN_PATCH} LR pixels")
        for key in ("warmup", "val_every", "checkpoint_every", "previews"):
            if getattr(self, key) < 0:
                raise TrainingError(f"{setting_name(key)} must be >= 0")
        if self.lr is not None and not (math.isfinite(self.lr) and 0 < self.lr < 1):
            raise TrainingError(f"--lr must be a number in (0, 1), got {self.lr!r}")
        if not 0 <= self.ema < 1:
            raise TrainingError(f"--ema must be in [0, 1), got {self.ema!r}")
        if not (self.grad_clip >= 0 and math.isfinite(self.grad_clip)):
            raise TrainingError(f"--grad-clip must be 0 (off) or more, got {self.grad_clip!r}")
        if Path(self.out).exists() and not Path(self.out).is_dir():
            raise TrainingError(f"--out {self.out} is a file; the run's folder must be a folder")
        # a folder that takes no files (read-only, /proc) is said now, not as an unexpected
        # error of the run after its images were read
        where = Path(self.out) if Path(self.out).is_dir() else nearest_existing_folder_or_file(self.out)
        if where is not None and where.is_dir() and (why := unwritable_reason(where)) is not None:
            raise TrainingError(f"--out {self.out}: cannot write in {where}: {why}")
        if self.val is not None and (why := not_a(self.val, "folder")) is not None:
            raise TrainingError(f"--val folder {self.val}: {why}")
        self._check_pairs()
        check_validation_backend(self.backend)
        check_amp(self.amp)
        try:  # auto, cpu, cuda, cuda:N, mps (what --help offers)
            object.__setattr__(self, "device", parse_torch_device(self.device))
        except OptionError as exc:
            raise TrainingError(f"--device: {exc}") from None
        if self.optimizer not in OPTIMIZERS or self.schedule not in SCHEDULES:
            raise TrainingError(f"optimizer: {' or '.join(OPTIMIZERS)}; schedule: {', '.join(SCHEDULES)}")
        if self.name is not None:  # the rules `models add` applies, checked before any training
            if not self.name.strip():
                raise TrainingError("--name must not be empty")
            try:
                checked_model_name(self.name)
                # the index the model is added to, checked now: one of a newer version (or
                # unreadable) refused the name after the whole run
                read_index(for_change=True)
            except ModelError as exc:
                raise TrainingError(f"--name: {exc}") from None
        out = Path(os.path.realpath(self.out))
        for flag, folder in ([("--data", d) for d in self.data] + [("--lr-data", d) for d in self.lr_data]
                             + [(flag, d) for flag, d in (("--val", self.val), ("--val-lr", self.val_lr)) if d]):
            images = Path(os.path.realpath(folder))
            if out == images or images in out.parents:
                raise TrainingError(f"--out {self.out} is inside the {flag} folder {folder}: the run's own "
                                    "pictures (curves, validation images) would become its images")
            for written in (out / "val", out / "checkpoint"):  # the run's folders inside --out
                if images == written or written in images.parents:
                    raise TrainingError(f"{flag} {folder} is the run's folder {written.name}/ of --out {self.out}: "
                                        "the run writes its previews and checkpoints there")

    def _coerce_python_values(self) -> None:
        """What a script passes, as the fields' types: one folder (a str or a Path: it was read
        character by character, "--out is inside the --data folder /"), paths, numpy numbers;
        a value of another kind is one `TrainingError` (a str for --lr was a bare TypeError)."""
        def number(key: str, value, kinds: tuple[type, ...]):
            if isinstance(value, bool) or not isinstance(value, kinds):
                wanted = "an integer" if kinds == _INTEGERS else "a number"
                raise TrainingError(f"{setting_name(key)} must be {wanted}, got {value!r}")
            return int(value) if kinds == _INTEGERS else float(value)

        fields: dict[str, object] = {"out": os.fspath(self.out)}
        for key in ("data", "lr_data"):
            folders = getattr(self, key)
            folders = (folders,) if isinstance(folders, str | os.PathLike) else tuple(folders)
            fields[key] = tuple(os.fspath(d) for d in folders)
        for key in ("val", "val_lr", "init", "vgg_weights"):
            if isinstance(getattr(self, key), os.PathLike):
                fields[key] = os.fspath(getattr(self, key))
        # files as absolute paths, as the folders are recorded: a run resumed from another
        # folder (the window started elsewhere) found no file, or another one of that name
        init = fields.get("init", self.init)
        if isinstance(init, str) and os.path.isfile(init):
            fields["init"] = os.path.abspath(init)
        if (kernel := kernel_spec_parts(self.degradation)) and kernel[0] and "," not in os.path.abspath(kernel[0]):
            fields["degradation"] = f"kernel:{os.path.abspath(kernel[0])}{kernel[1]}"
        for key in ("scale", "iterations", "batch", "patch", "warmup", "val_every", "log_every",
                    "checkpoint_every", "workers", "cache_mb", "val_max_side", "previews"):
            fields[key] = number(key, getattr(self, key), _INTEGERS)
        try:
            fields["seed"] = parse_seed(self.seed)  # (its text too, as the command line's)
        except OptionError as exc:
            raise TrainingError(f"--seed: {exc}") from None
        for key in ("ema", "grad_clip") + (("lr",) if self.lr is not None else ()):
            fields[key] = number(key, getattr(self, key), _NUMBERS)
        fields["mixed_scales"] = tuple(number("scale", s, _INTEGERS) for s in self.mixed_scales)
        fields["downscales"] = tuple(number("downscale", f, _NUMBERS) for f in self.downscales)
        for key, value in fields.items():
            object.__setattr__(self, key, value)

    def _check_pairs(self) -> None:
        """Given LR images (--lr-data, --val-lr): folders, one per HR folder, and no setting
        that makes LR images of its own for training."""
        for flag, folder in [("--lr-data", d) for d in self.lr_data] + ([("--val-lr", self.val_lr)]
                                                                        if self.val_lr else []):
            if (why := not_a(folder, "folder")) is not None:
                raise TrainingError(f"{flag} folder {folder}: {why}")
        # (a resumed run takes what is left out from its checkpoint, after these options are
        # made: `--resume --val V` of a paired run was refused for want of the --val-lr it records)
        if self.align and not (self.lr_data or self.val_lr):
            raise TrainingError("--align moves the HR images of given pairs onto their LR images: give --lr-data or "
                                "--val-lr")
        if self.val_lr is not None and self.val is None and not self.resume:
            raise TrainingError("--val-lr gives the LR images of the --val folder: give --val too")
        if not self.lr_data:
            return
        if len(self.lr_data) != len(self.data):
            raise TrainingError(f"--lr-data names {len(self.lr_data)} folder(s) for {len(self.data)} --data "
                                "folder(s): give one folder of LR images for each folder of HR images, in order")
        if self.degradation != "bicubic":
            raise TrainingError(f"--lr-data gives the LR images: --degradation {self.degradation} would make others "
                                "(leave it out)")
        if self.downscales:
            raise TrainingError("--downscale resizes the HR images, which their given LR images (--lr-data) "
                                "would no longer match: leave one of them out")
        if self.mixed_scales:
            raise TrainingError("--lr-data gives LR images of one scale: train one --scale")
        if self.val is not None and self.val_lr is None and not self.resume:
            raise TrainingError("with --lr-data, --val needs --val-lr (its LR images): validating on LR images "
                                "made by bicubic downscaling would measure another degradation than the one trained")

    @property
    def paired(self) -> bool:
        """Whether the LR training images are given (--lr-data) rather than made."""
        return bool(self.lr_data)

    def _check_mixed_scales(self) -> None:
        if not self.mixed_scales:
            return
        scales = (self.scale, *self.mixed_scales)
        if not all(isinstance(s, int) and 2 <= s <= MAX_SCALE for s in scales) or len(set(scales)) < len(scales):
            raise TrainingError(f"--scale takes distinct integers 2..{MAX_SCALE}, got {' '.join(map(str, scales))}")
        arch = parse_arch_spec(self.arch)[0]
        if not arch_support(arch).pre_upsample:
            raise TrainingError(f"{arch} trains one scale per run (its upsampling layers are built for one); "
                                "several --scale values are for SRCNN and VDSR, which upscale their input first")

    @property
    def all_scales(self) -> tuple[int, ...]:
        """Every scale the run trains: `scale` first."""
        return (self.scale, *self.mixed_scales)

    @property
    def learning_rate(self) -> float:
        """The base learning rate (the fine-tuning preset when starting from a model)."""
        if self.lr is not None:
            return self.lr
        return FINE_TUNE_LR if self.init else DEFAULT_LR

    @property
    def validation_interval(self) -> int:
        """Iterations between validations."""
        return self.val_every or max(1, self.iterations // 10)

    @property
    def checkpoint_interval(self) -> int:
        """Iterations between checkpoints."""
        return self.checkpoint_every or self.validation_interval

    @property
    def out_dir(self) -> Path:
        """The run folder."""
        return Path(self.out)

    def with_recorded(self, recorded: dict, keys: Iterable[str] = RECORDED_ONLY) -> TrainOptions:
        """These options with `keys` as `recorded` (`checkpoint.recorded_settings`) holds
        them; what it lacks stays."""
        values = {key: recorded[key] for key in keys if recorded.get(key) is not None}
        try:
            if "mixed_scales" in values:
                values["mixed_scales"] = tuple(int(s) for s in values["mixed_scales"])
            if "downscales" in values:
                values["downscales"] = tuple(float(f) for f in values["downscales"])
            if "lr_data" in values:
                values["lr_data"] = tuple(str(d) for d in values["lr_data"])
            return replace(self, **values)
        except (TypeError, ValueError) as exc:  # (an edited or damaged checkpoint record)
            raise TrainingError(f"the checkpoint's settings cannot be read: {exc}") from None

    def fingerprint(self, kernel: np.ndarray | None = None) -> dict:
        """What a resumed run must share with the checkpoint's run (JSON values: a
        checkpoint stores them so); with the `kernel` a ``kernel:`` degradation read, a
        digest of its values."""
        values = asdict(self)
        # the folders as absolute paths: `data` and `./data` are the same images
        values["data"] = [os.path.abspath(d) for d in self.data]
        values["val"] = os.path.abspath(self.val) if self.val else None
        values["lr_data"] = [os.path.abspath(d) for d in self.lr_data]
        values["val_lr"] = os.path.abspath(self.val_lr) if self.val_lr else None
        printed = {k: list(values[k]) if isinstance(values[k], tuple) else values[k] for k in RESUME_KEYS}
        if kernel is not None:
            # the kernel itself: another one copied over its file trained on another blur
            # without a word (the bicubic baseline moved from 34.99 to 32.11 dB mid-run)
            printed[KERNEL_DIGEST_KEY] = kernel_digest(kernel)
        return printed
