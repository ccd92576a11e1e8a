"""The shipped FKP prior: ``models/fkp/fkp_x2.safetensors`` and its sidecar
``fkp_x2.json`` (hyper-parameters, how it was trained, the file's sha256).

Found through `engine.core.paths.MODELS_DIR`, like every bundled model file (the checkout's
``models/`` or the wheel's ``sr_desktop/_data/models``); nothing is downloaded. A missing
file, a sha256 that does not match the sidecar, or weights that do not fit the recorded
hyper-parameters are one `KernelError` line.
"""

from __future__ import annotations

import json
from pathlib import Path

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.digest import file_sha256
from sr_desktop.engine.core.errors import one_line
from sr_desktop.engine.imageio.atomic import atomic_write
from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.kernelgan.fkp import FlowKernelPrior

WEIGHTS_NAME = "fkp/fkp_x2.safetensors"


def weights_path() -> Path:
    """Where the shipped prior's weights are (the sidecar is beside them, ``.json``)."""
    return paths.MODELS_DIR / WEIGHTS_NAME


def sidecar_path(weights: Path) -> Path:
    """The JSON sidecar of a weights file."""
    return weights.with_suffix(".json")


def load_prior(weights: Path | None = None) -> FlowKernelPrior:
    """The prior from `weights` (default: the shipped file), checked against its sidecar."""
    from safetensors.torch import load_file

    weights = weights_path() if weights is None else Path(weights)
    sidecar = sidecar_path(weights)
    what = "the FKP kernel prior"
    if not weights.is_file() or not sidecar.is_file():
        raise KernelError(f"{what} is not installed: {weights if not weights.is_file() else sidecar} is missing")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        expected = meta["sha256"]
        hparams = meta["hparams"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KernelError(f"{what}: unreadable {sidecar.name}: {one_line(exc)}") from None
    if file_sha256(weights) != expected:
        raise KernelError(f"{what}: {weights.name} is corrupt (its sha256 does not match {sidecar.name})")
    try:
        prior = FlowKernelPrior(**hparams)
        prior.load_state_dict(load_file(str(weights)), strict=True)
    except Exception as exc:  # noqa: BLE001 - any failure to build it is the same one line
        raise KernelError(f"{what}: {weights.name} does not fit its recorded hyper-parameters: "
                          f"{one_line(exc)}") from None
    return prior.eval()


def save_prior(prior: FlowKernelPrior, weights: Path, record: dict) -> str:
    """Write the weights and the sidecar (hyper-parameters, `record`, sha256), atomically;
    returns the sha256."""
    from sr_desktop.engine.core.safetensors_bytes import safetensors_bytes

    data = safetensors_bytes({k: v.contiguous() for k, v in prior.state_dict().items()})
    weights.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(weights, lambda fh: fh.write(data))
    digest = file_sha256(weights)
    sidecar = {"hparams": prior.hparams, **record, "sha256": digest, "bytes": weights.stat().st_size}
    text = json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n"
    atomic_write(sidecar_path(weights), lambda fh: fh.write(text.encode("utf-8")))
    return digest
