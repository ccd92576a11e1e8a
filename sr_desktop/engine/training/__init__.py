"""Training and fine-tuning of the app's architectures (no Qt).

`options.TrainOptions` (every setting, validated once) -> `loop.train` (or `loop.Trainer`
for the GUI) -> ``OUT/model.safetensors``, ``checkpoint/``, ``log.jsonl``, ``val/``,
``curves.png``, and a registered custom model. One concept per module: `networks` (what is
trained, in which space), `data` (patch pairs), `degradations` (HR -> LR), `losses` (+
`vgg`, `discriminators`), `validation` (the bench protocol), `checkpoint`, `runlog`,
`curves`, `export`. See docs/training.md.
"""

from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.loop import Trainer, TrainResult, train
from sr_desktop.engine.training.options import TrainOptions

__all__ = ["TrainOptions", "TrainResult", "Trainer", "TrainingError", "train"]
