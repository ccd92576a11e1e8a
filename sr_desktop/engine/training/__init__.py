"""Training and fine-tuning of the app's architectures (no Qt).

`options.TrainOptions` (every setting, validated once) -> `loop.train` (or `loop.Trainer`
for the GUI) -> ``OUT/model.safetensors``, ``checkpoint/``, ``log.jsonl``, ``val/``,
``curves.png``, and a registered custom model. One concept per module: `networks` (what is
trained, in which space), `data` (patch pairs), `degradations` (HR -> LR), `losses` (+
`vgg`, `discriminators`), `validation` (the bench protocol), `checkpoint`, `runlog`,
`curves`, `export`. See docs/training.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sr_desktop.engine.training.errors import TrainingError

if TYPE_CHECKING:
    from sr_desktop.engine.training.loop import Trainer, TrainResult, train
    from sr_desktop.engine.training.options import TrainOptions

__all__ = ["TrainOptions", "TrainResult", "Trainer", "TrainingError", "train"]

#: imported on first use: the package's torch-free modules (`arch_choices`, which `train
#: --help` lists) are then imported without torch
_LAZY = {"Trainer": "loop", "TrainResult": "loop", "train": "loop", "TrainOptions": "options"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
