"""`train(options)`: the training loop, from the options to a registered model.

One iteration: the next batch (prepared by `data.BatchLoader` workers), the network's
forward pass in its training space, the weighted losses, Adam/AdamW with the scheduled
learning rate (linear warm-up, then cosine decay to 0 or ×0.5 steps at 50/75/90 %, a pure
function of the iteration so a resumed run continues the same schedule), optional
gradient-norm clipping, the discriminator's step when an adversarial loss is on, and the
EMA of the weights (decay ``min(ema, (1 + n) / (10 + n))`` after n updates, so short runs
are not dominated by the initial weights). The steps run in mixed precision where the
hardware makes it pay (`precision`, ``--amp``): CUDA under autocast (bf16 where supported,
else fp16 with a gradient scaler) in channels-last layout, CPUs with AMX in bf16; the
precision of each (re)start is a ``precision`` line of the log.

Every `validation_interval` iterations the EMA network (or the network) is measured with
the bench protocol (`validation`), previews and ``curves.png`` are written; every
`checkpoint_interval` iterations (and when cancelled) a checkpoint is written
(`checkpoint`). At the end the model is exported and, with a name, registered (`export`).

Over 500 lines because a training run is one loop whose parts share its state (the
networks, optimisers, EMA, scaler and schedule); data, losses, validation, checkpoints
and export are modules of their own.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sr_desktop.engine.compute.devices import resolve_device
from sr_desktop.engine.compute.resample import quantize
from sr_desktop.engine.compute.seeded import drawing_from_torch, restored_torch_rng, torch_rng_state
from sr_desktop.engine.core.errors import Cancelled, SRDesktopError
from sr_desktop.engine.core.kernel_file import kernel_spec_parts
from sr_desktop.engine.core.path_kind import first_folder_to_make
from sr_desktop.engine.core.progress import (
    TRAINING_SETUP_STAGE,
    CancelToken,
    ProgressCallback,
    ProgressInfo,
    ProgressTracker,
    cancel_scope,
    check_cancel,
)
from sr_desktop.engine.core.text import error_line
from sr_desktop.engine.training.checkpoint import (
    Checkpoint,
    has_checkpoint,
    load_checkpoint,
    remove_stale_temporaries,
    save_checkpoint,
)
from sr_desktop.engine.training.curves import write_curves
from sr_desktop.engine.training.data import BatchLoader, MixedScaleSource, PatchSource, listing_record
from sr_desktop.engine.training.degradations import parse_degradation
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.export import MODEL_FILE, model_metadata, register_model, write_model
from sr_desktop.engine.training.losses import LossSet, parse_loss_spec
from sr_desktop.engine.training.memory_check import check_batch_fits
from sr_desktop.engine.training.networks import (
    TrainNet,
    build_network,
    network_from_model,
    parse_arch_spec,
    rebuild_network,
    written_sizes,
)
from sr_desktop.engine.training.options import (
    DEFAULT_LR,
    KERNEL_DIGEST_KEY,
    PAIRED,
    TrainOptions,
    setting_name,
)
from sr_desktop.engine.training.pairs import PairedPatchSource, misaligned_note, tagged_pairs_note
from sr_desktop.engine.training.precision import autocast_dtype, precision_name
from sr_desktop.engine.training.run_lock import LOCK_NAME, run_folder_lock
from sr_desktop.engine.training.runlog import RunLog
from sr_desktop.engine.training.val_backend import ValidationBackend
from sr_desktop.engine.training.validation import ValidationScores, ValidationSet

log = logging.getLogger(__name__)

ADAM_BETAS = (0.9, 0.99)
STEP_MILESTONES = (0.5, 0.75, 0.9)
PAUSE_POLL_S = 0.1


@dataclass
class TrainResult:
    """What a finished run produced."""

    out: Path
    model_path: Path
    iterations: int
    seconds: float
    iterations_per_second: float
    validation: dict[str, float] | None
    baseline: dict[str, float]
    model_id: str | None = None


def learning_rate(options: TrainOptions, iteration: int) -> float:
    """The learning rate of iteration `iteration` (0-based)."""
    base, total, warm = options.learning_rate, options.iterations, options.warmup
    if warm and iteration < warm:
        return base * (iteration + 1) / warm
    progress = (iteration - warm) / max(1, total - warm)
    if options.schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    if options.schedule == "step":
        return base * 0.5 ** sum(progress >= m for m in STEP_MILESTONES)
    return base


class _Ema:
    """Exponential moving average of a module's parameters and buffers."""

    def __init__(self, module: torch.nn.Module, decay: float):
        self.module = copy.deepcopy(module).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, module: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for e, p in zip(self.module.state_dict().values(), module.state_dict().values(), strict=True):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(p.detach(), alpha=1 - d)
            else:
                e.copy_(p)


#: settings checkpoints of earlier versions do not record, with the value they implied
SINCE_LATER_VERSIONS = {"mixed_scales": [], "downscales": [], "lr_data": [], "val_lr": None, "align": False}


#: settings a checkpoint of an earlier version does not record: not compared then
CHECKED_SINCE_LATER_VERSIONS = ("data", "val", "ema", KERNEL_DIGEST_KEY)


def _check_resume(options: TrainOptions, ckpt: Checkpoint, kernel: np.ndarray | None = None) -> None:
    recorded = ckpt.meta.get("options", {})
    for key, value in options.fingerprint(kernel).items():
        if key not in recorded and key in SINCE_LATER_VERSIONS and value == SINCE_LATER_VERSIONS[key]:
            continue  # a checkpoint older than the setting, and the setting left at its default
        if key not in recorded and key in CHECKED_SINCE_LATER_VERSIONS:
            continue
        if key == KERNEL_DIGEST_KEY and recorded.get(key) != value:
            kernel_file = (kernel_spec_parts(options.degradation) or ("the kernel file",))[0]
            raise TrainingError(f"cannot resume: {kernel_file} holds another kernel than the one the run trained "
                                "with (its file was replaced)")
        if not _same_setting(key, recorded.get(key), value):
            flag = setting_name(key)
            if key == "mixed_scales":  # (the first --scale is the run's own scale, compared first)
                recorded_value, value = [options.scale, *(recorded.get(key) or [])], [options.scale, *value]
            else:
                recorded_value = recorded.get(key)
            raise TrainingError(f"cannot resume: the run was made with {flag} {_as_typed(recorded_value)}, "
                                f"not {_as_typed(value)}")


def _as_typed(value) -> str:
    """A setting as its flag takes it: a list space-separated, none as "(none)"."""
    if value is None or value == []:
        return "(none)"
    return " ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


#: what sets a run's learning rate at each iteration
RATE_KEYS = ("lr", "schedule", "warmup", "iterations")


def _schedule(options: TrainOptions) -> dict[str, Any]:
    """What sets each step of a run: the learning rate's schedule (`RATE_KEYS`) and the
    gradient clip (unrecorded, a resume without --grad-clip trained on unclipped); a resumed
    run may change them."""
    return {"lr": options.learning_rate, "schedule": options.schedule, "warmup": options.warmup,
            "iterations": options.iterations, "grad_clip": options.grad_clip}


def schedule_change(options: TrainOptions, ckpt: Checkpoint) -> str | None:
    """One line on how a resumed run's learning-rate schedule differs from the checkpoint's
    run (None when it does not, or the checkpoint predates the record): a longer run or
    another --lr moves the rate at the iteration the run continues from."""
    recorded = ckpt.meta.get("schedule")
    now = {key: value for key, value in _schedule(options).items() if key in RATE_KEYS}
    if isinstance(recorded, dict):
        recorded = {key: value for key, value in recorded.items() if key in RATE_KEYS}
    if not isinstance(recorded, dict) or recorded == now or ckpt.iteration >= options.iterations:
        return None  # (a finished run exported as it stands trains no iteration)
    changed = ", ".join(f"--{key} {recorded.get(key)} → {value}" for key, value in now.items()
                        if recorded.get(key) != value)
    try:
        before = learning_rate(replace(options, lr=float(recorded["lr"]), schedule=str(recorded["schedule"]),
                                       warmup=int(recorded["warmup"]), iterations=int(recorded["iterations"])),
                               ckpt.iteration)
    except (KeyError, TypeError, ValueError, TrainingError):
        return f"resumed with another learning-rate schedule: {changed}"
    now_rate = learning_rate(options, ckpt.iteration)
    return (f"resumed with another learning-rate schedule: {changed}; iteration {ckpt.iteration + 1} "
            f"trains at lr {now_rate:.3g} (under the checkpoint's schedule: {before:.3g})")


def _same_setting(key: str, recorded, value) -> bool:
    """Whether a setting is the one the checkpoint recorded: an architecture or a loss by
    what it means (``l1`` is ``l1:1``, ``fsrcnn`` is ``FSRCNN``, options in any order), a
    starting model's file however its path is written (``./runs/a`` is ``runs/a``)."""
    if recorded == value:
        return True
    if key == "init" and isinstance(recorded, str) and isinstance(value, str):
        return os.path.abspath(recorded) == os.path.abspath(value)
    if key == "degradation" and (was := kernel_spec_parts(recorded)) and (now := kernel_spec_parts(value)):
        # (a checkpoint of an earlier version recorded the kernel file as it was typed)
        return (os.path.abspath(was[0]), was[1]) == (os.path.abspath(now[0]), now[1])
    parse = {"arch": parse_arch_spec, "loss": parse_loss_spec}.get(key)
    if parse is None or not isinstance(recorded, str):
        return False
    try:
        return parse(recorded) == parse(value)
    except TrainingError:
        return False


def check_new_run_folder(out: Path) -> None:
    """`TrainingError` when `out` already holds a run (a checkpoint): a new run there would
    overwrite it; ``--resume`` continues it. Also when it holds an earlier run's model without
    a checkpoint: it was replaced without a word. (A log alone is a run stopped before its
    first checkpoint: a new start replaces it.)"""
    if has_checkpoint(Path(out) / "checkpoint"):
        raise TrainingError(f"{out} already holds a training run; use --resume to continue it "
                            "or choose another --out")
    if (Path(out) / "model.safetensors").exists():
        raise TrainingError(f"{out} holds an earlier run's model.safetensors; choose another --out "
                            "(or move it away)")


class Trainer:
    """One run: built from the options (everything checked before a file is written),
    then `run` iterates. Split from `train` so the GUI can hold it."""

    def __init__(self, options: TrainOptions, cancel: CancelToken | None = None,
                 progress: ProgressCallback | None = None):
        self.options = o = options
        self._setup_progress = progress
        self.out = o.out_dir
        self.ckpt_dir = self.out / "checkpoint"
        if o.resume and not has_checkpoint(self.ckpt_dir):
            raise TrainingError(f"nothing to resume: {self.ckpt_dir} holds no checkpoint")
        if not o.resume:
            check_new_run_folder(self.out)
        self.degradation = parse_degradation(o.degradation)
        terms = parse_loss_spec(o.loss)
        self.device = resolve_device(o.device)
        self.ckpt = load_checkpoint(self.ckpt_dir) if o.resume else None
        self.iteration = self.ckpt.iteration if self.ckpt else 0
        if self.ckpt is not None and self.ckpt.iteration > o.iterations:
            raise TrainingError(f"cannot resume: the checkpoint is at iteration {self.ckpt.iteration}, past "
                                f"--iterations {o.iterations} (--iterations {self.ckpt.iteration} exports it as it is)")
        #: how a resumed run's learning-rate schedule differs from its checkpoint's (one line)
        self.schedule_note: str | None = None
        # seeded and built with no other thread drawing from torch's generator in between
        # (`compute.seeded`: a KernelGAN estimation beside it saw its own seeded draws moved)
        with drawing_from_torch():
            torch.manual_seed(o.seed)  # the initial weights (network, then discriminator) of a new run
            self._make_network(o)
            after_network = torch.get_rng_state()  # (the discriminator's draws follow the network's)
        o = self.options
        self.net.module.train()
        check_batch_fits(self.net, o.batch, o.patch, max(o.all_scales), self.device,
                         autocast_dtype(self.device, o.amp) is not None)
        if o.paired:
            self.data = PairedPatchSource(o.data, o.lr_data, o.scale, o.patch, o.cache_mb << 20,
                                          patch_fixed=self.ckpt is not None, align=o.align)
        elif o.mixed_scales:
            self.data = MixedScaleSource(o.data, o.all_scales, o.patch, self.degradation, o.cache_mb << 20,
                                         o.downscales, cancel, patch_fixed=self.ckpt is not None)
        else:
            self.data = PatchSource(o.data, o.scale, o.patch, self.degradation, o.cache_mb << 20, o.downscales,
                                    cancel, patch_fixed=self.ckpt is not None)
        check_cancel(cancel)
        self._setup_step("Measuring the bicubic baseline…")
        self.val = ValidationSet(o.val, self.data.paths, o.scale, self.degradation, o.val_max_side, o.seed,
                                 lr_folder=o.val_lr, train_lr_of=getattr(self.data, "lr_of", None), align=o.align)
        self.val_backend = ValidationBackend(o.backend, self.device)
        self.val_backend.check(self.net)
        with torch_rng_state(after_network):  # (another job's draws meanwhile do not move it)
            self.losses = LossSet(terms, self.net, self.degradation, o.vgg_weights)
        self.cuda = self.device.type == "cuda"
        self.amp_dtype = autocast_dtype(self.device, o.amp)
        self.baseline = self.val.bicubic()
        self.last_val: ValidationScores | None = None
        #: the images of the run (`listing_record`), which its checkpoints record
        # (a pair counted once: "8 then, 8 now" of 4 pairs)
        self.images = {"train": listing_record([*self.data.paths, *getattr(self.data, "lr_of", {}).values()],
                                               len(self.data.paths)),
                       "val": listing_record([*self.val.paths, *self.val.lr_paths], len(self.val.paths))}
        self.val_changed = False
        #: lines for the user: images changed since the checkpoint, validation images left out
        paired_by_tags = None if o.paired else tagged_pairs_note(o.data, self.data.paths, o.scale)
        off = (misaligned_note(getattr(self.data, "misaligned", ()), len(self.data.paths), aligned=o.align),
               # (the validation's own pairs: by default they are the first training pairs, said above)
               misaligned_note(self.val.misaligned, len(self.val.lr_paths), "validation", o.align) if o.val_lr
               else None)
        self.data_notes = [note for note in (*self._changed_images(), self.val.left_out_note(), paired_by_tags, *off)
                           if note]
        check_cancel(cancel)

    def _changed_images(self) -> list[str]:
        """Lines on the images that changed since the checkpoint (a resumed run): the run went
        on without a word, its validation curve from then on over other images than its
        baseline's and its earlier points'."""
        recorded = (self.ckpt.meta.get("images") or {}) if self.ckpt is not None else {}
        notes = []
        for kind in ("train", "val"):
            then, now = recorded.get(kind), self.images[kind]
            if not isinstance(then, dict) or then.get("digest") == now["digest"]:
                continue  # (a checkpoint of an earlier version records none)
            counts = f"{then.get('images', '?')} then, {now['images']} now"
            if kind == "val":
                self.val_changed = True
                notes.append(f"the validation images changed since the checkpoint ({counts}): the validation curve "
                             f"goes on from a new bicubic baseline, {self.baseline.psnr_y:.2f} dB")
            else:
                notes.append(f"the training images changed since the checkpoint ({counts}): the run goes on with "
                             "them")
        return notes

    def _make_network(self, o: TrainOptions) -> None:
        """The network: a checkpoint's (resumed), a model's (--init) or a new one (--arch)."""
        if self.ckpt is not None:
            _check_resume(o, self.ckpt, getattr(self.degradation, "kernel", None))
            recorded_lr = (self.ckpt.meta.get("schedule") or {}).get("lr")
            if o.lr is None and isinstance(recorded_lr, int | float):  # the run's own rate, not a preset's
                self.options = o = replace(o, lr=float(recorded_lr))
            self.schedule_note = schedule_change(o, self.ckpt)
            meta = self.ckpt.meta
            self.net = rebuild_network(meta["arch"], int(meta["scale"]), meta["params"])
            self.net.module.load_state_dict(self.ckpt.tensors["net"])
        elif o.init:
            self.net = network_from_model(o.init, o.scale)
            wanted, asked = parse_arch_spec(o.arch)
            sizes = written_sizes(o.arch)  # (an alias's presets are not asked for: the model's are kept)
            if self.net.arch != wanted:
                raise TrainingError(f"--init {o.init} is a {self.net.arch} model, not {wanted} (--arch)")
            # the model's own sizes are what is fine-tuned: others asked for were ignored (an
            # EDSR:num_feat=32 run exported a 16-feature network and recorded 32)
            differing = [f"{key}={self.net.params[key]}" for key, value in sizes.items()
                         if key in self.net.params and self.net.params[key] != value]
            if differing:
                raise TrainingError(f"--init {o.init} has {', '.join(differing)}, not what --arch {o.arch} "
                                    f"asks for: a fine-tuning keeps the model's sizes (--arch {wanted})")
            # an alias's preset sizes (EDSR-baseline's 64 features) give way to the model's: said
            preset = {key: value for key, value in asked.items() if key not in sizes}
            kept = [key for key, value in preset.items() if key in self.net.params and self.net.params[key] != value]
            if kept:
                alias = o.arch.partition(":")[0]
                own = ", ".join(f"{key}={self.net.params[key]}" for key in kept)
                note = (f"--init {o.init}: its own sizes are fine-tuned ({own}), not {alias}'s "
                        f"({', '.join(f'{key}={preset[key]}' for key in kept)})")
                self.net.init_note = f"{self.net.init_note}; {note}" if self.net.init_note else note
            if self.net.new_layers and o.lr is None:
                # layers that start untrained (or at another scale) need the rate from scratch: at the
                # fine-tuning rate an ESPCN ×2 → ×3 reached 15 dB in 400 iterations (26 dB at 2e-4)
                self.options = o = replace(o, lr=DEFAULT_LR)
                self.net.init_note += f"; they train at lr {DEFAULT_LR:g}, as from scratch (--lr to choose)"
        else:
            self.net = build_network(o.arch, o.scale)

    def _setup_step(self, message: str, progress: ProgressCallback | None = None) -> None:
        """Say which step before the first iteration runs (the window said "Reading the
        images…" through the baseline and the optimiser's making, 20 s under load)."""
        progress = progress or self._setup_progress
        if progress is not None:
            progress(ProgressInfo(self.iteration, self.options.iterations, 0.0, None, TRAINING_SETUP_STAGE, message))

    # -- setup on the device ---------------------------------------------------------------

    def prepare(self) -> None:
        """Move to the device, make the optimisers and the EMA, restore a checkpoint's state."""
        o = self.options
        fmt = torch.channels_last if self.cuda else torch.contiguous_format
        self.net.to(self.device, memory_format=fmt)
        self.losses.to(self.device, memory_format=fmt)
        opt_class = torch.optim.AdamW if o.optimizer == "adamw" else torch.optim.Adam
        self.opt = opt_class(self.net.parameters(), lr=o.learning_rate, betas=ADAM_BETAS)
        disc = self.losses.discriminator
        self.d_opt = torch.optim.Adam(disc.parameters(), lr=o.learning_rate, betas=ADAM_BETAS) if disc else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.ema = _Ema(self.net.module, o.ema) if o.ema > 0 else None
        if self.ckpt is not None:
            c = self.ckpt
            self.opt.load_state_dict(c.state["optimizer"])
            if self.d_opt is not None and "disc" in c.tensors:
                disc.load_state_dict(c.tensors["disc"])
                self.d_opt.load_state_dict(c.state["d_optimizer"])
            if self.ema is not None and "ema" in c.tensors:
                self.ema.module.load_state_dict(c.tensors["ema"])
                self.ema.updates = int(c.state.get("ema_updates", self.iteration))
            if c.state.get("scaler"):
                self.scaler.load_state_dict(c.state["scaler"])
            torch.set_rng_state(c.state["torch_rng"])
            if self.cuda and c.state.get("cuda_rng"):
                torch.cuda.set_rng_state_all(c.state["cuda_rng"])

    def _meta(self) -> dict[str, Any]:
        n = self.net
        options = self.options.fingerprint(getattr(self.degradation, "kernel", None))
        return {"arch": n.arch, "scale": n.scale, "params": n.params, "options": options,
                "schedule": _schedule(self.options), "images": self.images}

    def save_checkpoint(self) -> None:
        """Write the checkpoint of the current iteration."""
        tensors = {"net": self.net.module.state_dict()}
        state: dict[str, Any] = {"optimizer": self.opt.state_dict(), "torch_rng": torch.get_rng_state()}
        if self.ema is not None:
            tensors["ema"] = self.ema.module.state_dict()
            state["ema_updates"] = self.ema.updates
        if self.d_opt is not None:
            tensors["disc"] = self.losses.discriminator.state_dict()
            state["d_optimizer"] = self.d_opt.state_dict()
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        if self.cuda:
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        save_checkpoint(self.ckpt_dir, Checkpoint(self.iteration, tensors, state, self._meta()))
        self.saved_iteration = self.iteration

    def evaluated_net(self) -> TrainNet:
        """The network that is measured and exported: the EMA weights when on."""
        if self.ema is None:
            return self.net
        return TrainNet(self.ema.module, self.net.arch, self.net.scale, self.net.params)

    # -- one iteration ------------------------------------------------------------------------

    def step(self, lr_rgb: torch.Tensor, hr_rgb: torch.Tensor) -> tuple[float, dict[str, float]]:
        """One training iteration on a batch (N×3 RGB 0..1 LR and HR); (total loss, terms).

        Call `prepare` first (`run` does)."""
        o = self.options
        fmt = torch.channels_last if self.cuda else torch.contiguous_format
        lr_rgb = lr_rgb.to(self.device, non_blocking=True).contiguous(memory_format=fmt)
        hr_rgb = hr_rgb.to(self.device, non_blocking=True).contiguous(memory_format=fmt)
        rate = learning_rate(o, self.iteration)
        for opt in filter(None, (self.opt, self.d_opt)):
            for group in opt.param_groups:
                group["lr"] = rate
        disc = self.losses.discriminator
        if disc is not None:
            disc.requires_grad_(False)
        # the targets in float32 (in bf16 the Y of the HR was up to 0.7/255 off)
        lr_space, hr_space = self.net.to_space(lr_rgb), self.net.to_space(hr_rgb)
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            out = self.net(lr_rgb, hr_rgb.shape[-1] // lr_rgb.shape[-1])  # mixed-scale runs vary it
            total, parts = self.losses.generator_loss(out, lr_space, hr_space)
        if not torch.isfinite(total):
            raise TrainingError(f"the loss became {float(total)} at iteration {self.iteration + 1}; "
                                "lower --lr or change the loss weights")
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if o.grad_clip > 0:
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), o.grad_clip)
        self.scaler.step(self.opt)
        if disc is not None:
            disc.requires_grad_(True)
            with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
                d_loss = self.losses.discriminator_loss(out.sr, hr_space)
            self.d_opt.zero_grad(set_to_none=True)
            self.scaler.scale(d_loss).backward()
            self.scaler.step(self.d_opt)
            parts["discriminator"] = float(d_loss.detach())
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.net.module)
        return float(total.detach()), parts

    def validate(self) -> ValidationScores:
        """Measure, log, write previews and curves."""
        o = self.options
        net = self.evaluated_net()
        scores = self.val_backend.evaluate(self.val, net, o.previews)
        self.net.module.train()
        self.last_val = scores
        preview = {"preview": self.val.names[0]} if o.previews else {}  # a Resume shows it again
        self.runlog.add("val", self.iteration, **scores.as_dict(), backend=self.val_backend.chosen, **preview)
        if o.previews:
            self.val.write_previews(self.out / "val", self.iteration, scores)
        self.write_curves()
        return scores

    def write_curves(self) -> None:
        """``curves.png`` from the log so far; a picture that cannot be written is a warning
        (the run goes on: it is drawn again from the log at the next validation)."""
        path = self.out / "curves.png"
        try:
            write_curves(path, self.runlog.points("train", "loss"), self.runlog.points("val", "psnr_y"),
                         self.baseline.psnr_y)
        except OSError as exc:  # a full disk stopped the run here, without a checkpoint and naming no file
            log.warning("cannot write %s: %s; training goes on", path, exc.strerror or exc)

    # -- the run ----------------------------------------------------------------------------------

    def run(self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
            pause: threading.Event | None = None, started: Callable[[], None] | None = None) -> TrainResult:
        """Iterate to `options.iterations`, export (and register); `Cancelled` after saving a
        checkpoint when `cancel` is set; waits while `pause` is set. Refused (`TrainingError`)
        while another run writes in the same folder (`run_lock`); `started` is called once
        the run holds its folder (what it says of the run is not said of a refused one)."""
        made = first_folder_to_make(self.out)
        try:  # (what was there stays if a run stops before its first checkpoint)
            before: set[str] | None = set(os.listdir(self.out)) if made is None else set()
        except OSError:
            before = None  # (not listed: nothing is removed)
        try:
            (self.out / "val").mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # (an "unexpected error" in the window)
            raise TrainingError(f"cannot create the run folder {self.out}: {exc.strerror or exc}") from None
        held = False  # (a run refused the folder removes nothing: another run writes there)
        try:
            with run_folder_lock(self.out):
                held = True
                if started is not None:
                    started()
                return self._run(progress, cancel, pause)
        except BaseException:
            if held and before is not None and not has_checkpoint(self.ckpt_dir):
                self._remove_unsaved_run(made, before)
            raise

    def _remove_unsaved_run(self, made: Path | None, before: set[str]) -> None:
        """What a run cancelled or failed before its first checkpoint wrote (nothing resumes
        it): the run folder and the parents it made (those still empty), or in a folder that
        was there the entries it added but its lock file (`run_lock`: the file stays). A log
        and the validation inputs were left behind."""
        if made is not None:
            shutil.rmtree(self.out, ignore_errors=True)
            for folder in self.out.parents:
                if not folder.is_relative_to(made):
                    break
                try:
                    folder.rmdir()
                except OSError:
                    break  # (something else was put there meanwhile)
            return
        for name in set(os.listdir(self.out)) - before - {LOCK_NAME}:
            path = self.out / name
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()

    def _run(self, progress: ProgressCallback | None, cancel: CancelToken | None,
             pause: threading.Event | None) -> TrainResult:
        o = self.options
        remove_stale_temporaries(self.ckpt_dir)
        remove_stale_temporaries(self.out)
        self.runlog = RunLog(self.out / "log.jsonl", keep_until=self.iteration if self.ckpt else None)
        if self.ckpt is None or self.val_changed:
            self.runlog.add("baseline", self.iteration, method="bicubic", **self.baseline.as_dict())
        for note in self.data_notes:
            self.runlog.add("data", self.iteration, note=note)
        self._setup_step("Preparing the network and its optimiser…", progress)
        self.prepare()
        check_cancel(cancel)
        self.runlog.add("precision", self.iteration, precision=precision_name(self.amp_dtype))
        if self.schedule_note:
            self.runlog.add("schedule", self.iteration, note=self.schedule_note, **_schedule(o))
        if self.ckpt is None and self.net.init_note:
            self.runlog.add("init", 0, note=self.net.init_note)
        if self.ckpt is None and o.init:
            self._setup_step("Validating the starting model…", progress)
            self.validate()  # the starting model's scores: the "before" of a fine-tuning
            check_cancel(cancel)
        self.saved_iteration = self.iteration
        self.val.write_inputs(self.out / "val", o.previews)
        tracker = ProgressTracker(o.iterations, progress, stage="training", first=self.iteration)
        started, first = time.perf_counter(), self.iteration
        paused = 0.0  # seconds held by `pause`: not training time (the ETA, the it/s reported)
        window_start, window_iter = started, self.iteration
        rate = 0.0
        loader = BatchLoader(self.data, o.batch, o.seed, self.iteration, o.workers, pin=self.cuda)
        try:
            while self.iteration < o.iterations:
                if pause is not None and pause.is_set():
                    held = _hold(pause, cancel)
                    paused += held
                    tracker.leave_out(held)
                    window_start, window_iter = time.perf_counter(), self.iteration
                if cancel is not None and cancel.cancelled:
                    if self.saved_iteration != self.iteration:
                        self.save_checkpoint()
                    raise Cancelled("training cancelled; resume it with --resume")
                loss, parts = self.step(*self._outside(loader.next))
                self.iteration += 1
                it = self.iteration
                now = time.perf_counter()
                rate = (it - window_iter) / max(now - window_start, 1e-9)
                if it % o.log_every == 0 or it == o.iterations:
                    self.runlog.add("train", it, loss=loss, **parts, lr=learning_rate(o, it - 1), its=rate)
                    window_start, window_iter = now, it
                scores = None
                if it % o.validation_interval == 0 or it == o.iterations:
                    try:
                        with cancel_scope(cancel):  # (its images, and OpenVINO's inference, stop at Cancel)
                            scores = self._outside(self.validate)
                    except Cancelled:
                        self.save_checkpoint()  # the iterations so far (the validation comes again)
                        raise Cancelled("training cancelled; resume it with --resume") from None
                if it % o.checkpoint_interval == 0 or it == o.iterations:
                    self.save_checkpoint()
                if scores is not None or self.saved_iteration == it:
                    # (the next it/s counts training only: after a validation it read 2 it/s of 100)
                    window_start, window_iter = time.perf_counter(), it
                extra = {"loss": loss, "parts": parts, "lr": learning_rate(o, it - 1), "its": rate,
                         "baseline": self.baseline.as_dict()}
                if notes := [note for note in (self.schedule_note, *self.data_notes) if note]:
                    extra["note"] = "\n".join(notes)
                if scores is not None:
                    extra["val"] = scores.as_dict()
                    extra["val_backend"] = self.val_backend.chosen
                    extra["preview"] = scores.previews[0] if scores.previews else None
                    extra["preview_input"] = quantize(self.val.pairs[0][0], np.uint8)
                tracker.update(it, f"loss {loss:.4g}", **extra)
        finally:
            loader.close()
        seconds = time.perf_counter() - started - paused
        return self._finish(seconds, (self.iteration - first) / max(seconds, 1e-9))

    def _outside(self, call):
        """`call()` (reading a batch, validating), whose error stops the run part-way from
        outside its training state (an image that became unreadable, a preview that cannot be
        written): the iterations since the last checkpoint are saved first, as Cancel saves
        them (they were lost, and nothing said the run could go on). An error of the state
        itself (a loss become NaN) saves nothing: the last good checkpoint is what resumes."""
        try:
            return call()
        except (SRDesktopError, OSError) as exc:
            if isinstance(exc, Cancelled):
                raise
            if self.saved_iteration != self.iteration:
                try:
                    self.save_checkpoint()
                except (SRDesktopError, OSError):
                    pass  # (the disk refusing it too: the older checkpoint stays, as said below)
            if not has_checkpoint(self.ckpt_dir):  # (a full disk at the first one: "kept … --resume" of none)
                raise TrainingError(f"{error_line(exc)} (stopped before any checkpoint was saved: "
                                    "start the run again)") from None
            kept = (f"stopped at iteration {self.iteration}, its checkpoint saved"
                    if self.saved_iteration == self.iteration
                    else f"stopped; the checkpoint of iteration {self.saved_iteration} is kept")
            raise TrainingError(f"{error_line(exc)} ({kept}: continue with --resume)") from None

    def _finish(self, seconds: float, rate: float) -> TrainResult:
        o = self.options
        val = self.last_val.as_dict() if self.last_val else self._logged_validation()
        net = self.evaluated_net()
        run = self._meta()  # (its options and schedule: the fingerprint made once)
        meta = model_metadata(net, degradation=PAIRED if o.paired else o.degradation, losses=self.losses.describe(),
                              data=[str(d) for d in o.data], downscales=list(o.downscales),
                              **({"lr_data": [str(d) for d in o.lr_data]} if o.paired else {}),
                              iterations=self.iteration,
                              val_psnr_y=val["psnr_y"] if val else None, init=o.init or "",
                              # how it was trained, to train it again: the checkpoint held these,
                              # and a model passed on alone said nothing of seed, batch or lr
                              training={**run["options"], **run["schedule"],
                                        **({"degradation": PAIRED} if o.paired else {})},
                              environment=self._environment())
        path = write_model(net, self.out / MODEL_FILE, meta)
        # a run resumed without --name updates the model it registered (its weights stayed those
        # of the first finish, model.safetensors moved on, without a word)
        name = o.name or (self._still_registered() or {}).get("name")
        model_id = self._register(path, net.scale, name) if name else None
        return TrainResult(self.out, path, self.iteration, seconds, rate, val, self.baseline.as_dict(), model_id)


    def _environment(self) -> dict[str, Any]:
        """What ran the training: versions, device, threads and the steps' precision (--amp:
        bf16 where the CPU has AMX; the weights depend on all of them past the last bits: 1
        thread against 2 differ by about 1e-8 after 20 iterations). A resumed run's are its
        last part's (log.jsonl's ``precision`` lines say each part's)."""
        from sr_desktop import __version__
        from sr_desktop.engine.compute.devices import describe_device

        return {"sr_desktop": __version__, "torch": torch.__version__, "device": describe_device(self.device),
                "threads": torch.get_num_threads(), "precision": precision_name(self.amp_dtype)}

    def _logged_validation(self) -> dict | None:
        """The scores logged at this iteration (a finished run resumed trains nothing)."""
        record = self.runlog.last("val")
        if record is None or record.get("it") != self.iteration:
            return None
        return {k: v for k, v in record.items() if k not in ("kind", "it", "backend")}

    def _still_registered(self) -> dict | None:
        """The log's record of the model this run registered, if the user still has it."""
        from sr_desktop.engine.models.custom import list_custom_specs

        earlier = self.runlog.last("registered")
        if earlier is None or not any(spec.id == earlier.get("model") for spec in list_custom_specs()):
            return None
        return earlier

    def _register(self, path: Path, scale: int, name: str) -> str:
        """Register the exported model as `name`, once: a finished run resumed keeps the
        model it registered under that name, if the user still has it — as it was (no new
        iteration), or with the new weights in its place (it registered a copy, "mynet (2)",
        and `--model custom-mynet` went on running the old weights)."""
        earlier = self._still_registered()
        kept = earlier is not None and earlier.get("name") == name
        if kept and earlier.get("it") == self.iteration:
            log.info("already registered as %s", earlier["model"])
            return earlier["model"]
        model_id = register_model(path, name, scale, replacing=earlier["model"] if kept else None).id
        self.runlog.add("registered", self.iteration, model=model_id, name=name)
        return model_id


def _hold(pause: threading.Event, cancel: CancelToken | None) -> float:
    """Wait while `pause` is set (until a cancel); the seconds waited."""
    held_from = time.perf_counter()
    while pause.is_set() and not (cancel and cancel.cancelled):
        time.sleep(PAUSE_POLL_S)
    return time.perf_counter() - held_from


def train(options: TrainOptions, progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
          pause: threading.Event | None = None) -> TrainResult:
    """Run a training (see the module doc); TrainingError for bad input, `Cancelled`.
    The caller's torch random state is as it was afterwards (the run seeds its own: a
    script's later draws were the run's)."""
    device = resolve_device(options.device)
    gpus = [device] if device.type == "cuda" else []
    with restored_torch_rng(gpus):
        return Trainer(options, cancel, progress).run(progress, cancel, pause)
