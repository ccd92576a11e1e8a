"""The literature's models trained for this project, their weights shipped in ``models/``.

A literature row of ``models/manifest.json`` (group ``literature``) may hold ``"trained"``:
per scale (``"3"``) the weights file (relative to ``models/``, a safetensors file whose
metadata repeats these facts), its sha256, how it was trained (data, iterations,
degradation, loss, hardware, seconds, the ``sr-desktop train`` command that retrains it)
and what ``sr-desktop bench`` measured on Set5 and Set14 (PSNR/SSIM, Y channel, the
published tables' protocol), with the target it was trained for and ``incomplete`` when it
missed that target. ``benchmarks/ship_literature.py`` writes these rows; nothing here is
typed by hand.

Such an entry is installed (runnable) at its trained scales only: an SRCNN trained at ×3
runs the ×3 file, never that file at ×2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.digest import file_sha256
from sr_desktop.engine.core.errors import ModelError
from sr_desktop.engine.core.options import whole_scale
from sr_desktop.engine.models.spec import ModelSpec

if TYPE_CHECKING:
    from sr_desktop.engine.models.base import SRModel

#: the tag of an entry with a scale whose training stopped short of its target
INCOMPLETE_TAG = "training incomplete"


def trained_scales(trained: dict[str, Any]) -> list[int]:
    """The scales a ``trained`` block ships weights for, ascending."""
    return sorted(int(scale) for scale in trained)


def training_data_text(entry: dict[str, Any]) -> str:
    """What one scale's ``trained`` entry was trained on: ``T91 + General100`` (``+ downscaled
    to 0.9, 0.8, …`` when `sr-desktop train --downscale` added resized copies)."""
    fractions = entry.get("downscales")
    extra = f" (+ downscaled to {', '.join(f'{f:g}' for f in fractions)})" if fractions else ""
    return " + ".join(entry.get("data", [])) + extra


def weights_file(entry: dict[str, Any]) -> Path:
    """The weights file of one scale's ``trained`` entry."""
    return paths.MODELS_DIR / entry["file"]


def weights_present(trained: dict[str, Any]) -> bool:
    """True when every shipped weights file of a ``trained`` block is there (and there is one)."""
    return bool(trained) and all(weights_file(entry).is_file() for entry in trained.values())


def is_incomplete(trained: dict[str, Any]) -> bool:
    """True when the training of any shipped scale stopped short of its target."""
    return bool(incomplete_scales(trained))


def incomplete_scales(trained: dict[str, Any]) -> list[int]:
    """The shipped scales whose training stopped short of its target, ascending."""
    return [scale for scale in trained_scales(trained) if trained[str(scale)].get("incomplete")]


def incomplete_text(trained: dict[str, Any]) -> str:
    """``training incomplete (×2, ×4)``, or ``""`` when every shipped scale met its target."""
    scales = incomplete_scales(trained)
    return f"{INCOMPLETE_TAG} ({', '.join(f'×{s}' for s in scales)})" if scales else ""


def network_sharing_text(trained: dict[str, Any]) -> str:
    """``×2: a network of its own; ×3, ×4: one shared network`` where one shared network
    serves several scales and another scale has a network of its own (VDSR: one ×2/×3/×4
    network as the paper, and a better ×2-only one), so that the ×2 number is not read as
    the shared network's; ``""`` otherwise."""
    files: dict[str, list[str]] = {}
    for scale, entry in sorted(trained.items(), key=lambda item: int(item[0])):
        files.setdefault(str(entry.get("file", "")), []).append(scale)
    if len(files) < 2 or all(len(scales) == 1 for scales in files.values()):
        return ""
    own = [f"×{scales[0]}" for scales in files.values() if len(scales) == 1]
    shared = [", ".join(f"×{s}" for s in scales) for scales in files.values() if len(scales) > 1]
    return f"{', '.join(own)}: a network of its own; {'; '.join(shared)}: one shared network"


def measured_psnr(spec: ModelSpec, dataset: str, scale: int) -> float | None:
    """PSNR (dB, Y) that ``sr-desktop bench`` measured for the shipped weights at `scale`."""
    value = spec.trained.get(str(scale), {}).get("measured", {}).get(dataset, {}).get("psnr")
    return float(value) if isinstance(value, (int, float)) else None


def shipped_weights(spec: ModelSpec, scale: int | None = None, variant: str | None = None) -> tuple[int, Path, str]:
    """The scale (default: the largest trained one), weights file and its sha256 of literature
    entry `spec`, the file checked against the manifest's sha256. Raises `ModelError`."""
    if not spec.trained:
        raise ModelError(f"{spec.id}: no trained weights ship with the app")
    if variant not in (None, "", "default"):
        raise ModelError(f"{spec.id} has no variant {variant!r} (only 'default')")
    scales = trained_scales(spec.trained)
    scale = max(scales) if scale is None else whole_scale(scale)
    if scale not in scales:
        served = ", ".join(f"×{s}" for s in scales)
        raise ModelError(f"{spec.id}: the app ships weights for {served}, not ×{scale}; "
                         f"for ×{scale} add a checkpoint with `sr-desktop models add FILE`")
    entry = spec.trained[str(scale)]
    path = weights_file(entry)
    if not path.is_file():
        raise ModelError(f"{spec.id} ×{scale}: its weights file {path} is missing; reinstall sr-desktop")
    digest = file_sha256(path)
    if entry.get("sha256") and digest != entry["sha256"]:
        raise ModelError(f"{spec.id} ×{scale}: its weights file {path} is damaged (checksum); reinstall sr-desktop")
    return scale, path, digest


def load_literature_model(spec: ModelSpec, scale: int | None = None, variant: str | None = None) -> SRModel:
    """The shipped weights of literature entry `spec` at `scale` (default: its largest
    trained scale), checked against the manifest's sha256 (`shipped_weights`). Raises `ModelError`."""
    scale, path, digest = shipped_weights(spec, scale, variant)
    from sr_desktop.engine.models.custom import load_model_file

    model = load_model_file(path, scale=scale, model_id=spec.id)
    model.variant = "default"
    model.weights_digest = digest
    return model
