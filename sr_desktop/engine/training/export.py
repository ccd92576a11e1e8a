"""The trained model: ``OUT/model.safetensors`` with its metadata, and its registration
as a custom model (so it is in the picker, ``upscale``, ``batch`` and ``bench``).

The weights are written in a key layout `archs.detect` recognises (`exported_state_dict`)
and the file's safetensors metadata records the architecture, scale, hyper-parameters,
degradation, losses, data, iterations and validation PSNR. Registration goes through
`models.custom.add_custom_model`, which copies the file and then records it — all or
nothing, so a failed run never leaves a half-registered model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sr_desktop.engine.core.errors import SRDesktopError, one_line
from sr_desktop.engine.core.safetensors_bytes import safetensors_bytes
from sr_desktop.engine.imageio.atomic import atomic_write
from sr_desktop.engine.models.spec import ModelSpec
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.networks import TrainNet, exported_state_dict

MODEL_FILE = "model.safetensors"


def model_metadata(net: TrainNet, **fields: Any) -> dict[str, str]:
    """The metadata strings of an exported model."""
    meta = {"format": "pt", "sr_desktop_trained": "1", "arch": net.arch, "scale": str(net.scale),
            "params": json.dumps(net.params, default=list)}
    for key, value in fields.items():
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    return meta


def write_model(net: TrainNet, path: Path, metadata: dict[str, str]) -> Path:
    """Write the network's weights as safetensors with `metadata`, atomically."""
    data = safetensors_bytes(exported_state_dict(net.module, net.arch), metadata=metadata)
    try:
        atomic_write(path, lambda fh: fh.write(data))
    except OSError as exc:
        raise TrainingError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def register_model(path: Path, name: str, scale: int, replacing: str | None = None) -> ModelSpec:
    """Add the exported model as the custom model `name` (all or nothing), or in place of
    the added model `replacing` (its id and name kept). Its scale is the one the file
    records (its metadata: FSRCNN's weights do not hold it); `scale` is that scale, checked."""
    from sr_desktop.engine.models.custom import add_custom_model

    try:
        spec = add_custom_model(path, name=name, replacing=replacing)
    except SRDesktopError as exc:
        raise TrainingError(f"cannot register the model as {name!r}: {one_line(exc)}") from None
    except OSError as exc:
        raise TrainingError(f"cannot register the model as {name!r}: {exc.strerror or exc}") from None
    if int(scale) not in spec.scales:  # the file and the run disagree: a bug, said plainly
        from sr_desktop.engine.models.custom import remove_custom_model

        remove_custom_model(spec.id)
        raise TrainingError(f"cannot register the model as {name!r}: its file says ×{spec.scales}, "
                            f"the run trained ×{scale}")
    return spec
