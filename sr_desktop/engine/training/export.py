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
import shutil
import tempfile
from pathlib import Path
from typing import Any

from safetensors.torch import save as save_safetensors

from sr_desktop.engine.core.errors import SRDesktopError, one_line
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
    data = save_safetensors(exported_state_dict(net.module, net.arch), metadata=metadata)
    try:
        atomic_write(path, lambda fh: fh.write(data))
    except OSError as exc:
        raise TrainingError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def register_model(path: Path, name: str, scale: int) -> ModelSpec:
    """Add the exported model as the custom model `name` (all or nothing).

    The copy handed over is named ``NAME_xS.safetensors``: architectures whose weights do
    not record their scale (FSRCNN) take it from the file name.
    """
    staging = Path(tempfile.mkdtemp(prefix=".register-", dir=path.parent))
    try:
        slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:50] or "model"
        copy = staging / f"{slug}_x{scale}.safetensors"
        shutil.copyfile(path, copy)
        from sr_desktop.engine.models.custom import add_custom_model

        return add_custom_model(copy, name=name)
    except SRDesktopError as exc:
        raise TrainingError(f"cannot register the model as {name!r}: {one_line(exc)}") from None
    except OSError as exc:
        raise TrainingError(f"cannot register the model as {name!r}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
