"""Training as a job of the application (no Qt): what the GUI's Train dialog runs.

* `TrainRequest`: the run's `TrainOptions`, a pause flag the dialog toggles, the torch
  threads to train with.
* `run_train_job`: the worker runner (``job.options`` is a `TrainRequest`) ->
  `TrainResult`; `Cancelled` after a checkpoint was saved, so a request with
  ``resume=True`` continues the same run folder later.
* `training_models`: the models a run can start from (torch architectures only).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sr_desktop.app.kernel_jobs import TRAINING_THREADS, torch_threads
from sr_desktop.engine.core.progress import CancelToken, ProgressInfo
from sr_desktop.engine.models.registry import arch_name
from sr_desktop.engine.models.spec import ModelSpec
from sr_desktop.engine.training import TrainOptions
from sr_desktop.engine.training.arch_choices import SCRATCH_ARGUMENTS, TRAINABLE
from sr_desktop.engine.training.losses import PRESETS
from sr_desktop.engine.training.zoo_weights import FAMILY_ARCH

__all__ = ["LOSS_PRESETS", "TRAINABLE", "TrainRequest", "run_train_job", "training_models"]

#: the dialog's loss presets: name -> loss spec
LOSS_PRESETS = dict(PRESETS)


@dataclass
class TrainRequest:
    """One training run for a worker: the options, a pause flag, the torch threads."""

    options: TrainOptions
    pause: threading.Event = field(default_factory=threading.Event)
    #: as KernelGAN and ZSSR: one thread, as OpenMP's spinning threads collapse on shared cores
    #: (measured here under load: a small VDSR at 9.3 it/s with 1 thread, 1.1 it/s with 2)
    threads: int | None = TRAINING_THREADS
    model: str = "training"  # Job.describe()

    @property
    def scale(self) -> int:
        return self.options.scale


def run_train_job(job, progress: Callable[[ProgressInfo], None], cancel: CancelToken):
    """Worker runner: `engine.training.train` on ``job.options`` (a `TrainRequest`)."""
    from sr_desktop.engine.training import train

    request: TrainRequest = job.options
    with torch_threads(request.threads):
        return train(request.options, progress, cancel, request.pause)


def training_models(models: list[ModelSpec]) -> list[ModelSpec]:
    """The models of `models` a run can be initialised from: installed, torch architectures
    the trainer knows (custom models and literature models with their weights), and of the
    zoo's ncnn models those whose graph converts to one (`FAMILY_ARCH`: the others were
    offered, then refused after Start)."""
    known = set(SCRATCH_ARGUMENTS)

    def trainable(m: ModelSpec) -> bool:
        if m.source.get("package") and m.source.get("family") not in FAMILY_ARCH:  # a zoo ncnn graph
            return False
        return arch_name(m.arch) in known

    return [m for m in models if m.installed and trainable(m)]
