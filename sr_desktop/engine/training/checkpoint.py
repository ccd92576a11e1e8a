"""Resumable checkpoints in ``OUT/checkpoint/``, never corrupt.

A checkpoint at iteration N is two files — ``weights-N.safetensors`` (the network, its EMA
and the discriminator: plain tensors) and ``state-N.pt`` (optimiser states, the gradient
scaler, torch's random state: tensors and numbers only, read back with
``weights_only=True``) — then ``latest.json`` naming them, each written to a temporary
sibling, fsync'ed and renamed (`imageio.atomic.atomic_write`). A crash or ``kill -9`` at
any moment leaves ``latest.json`` naming a complete pair; older pairs are deleted only
after it names the new one. A failed write (disk full) raises `TrainingError` and leaves
the previous checkpoint as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors

from sr_desktop.engine.core.safetensors_bytes import safetensors_bytes
from sr_desktop.engine.imageio.atomic import atomic_write
from sr_desktop.engine.training.errors import TrainingError

LATEST = "latest.json"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What a checkpoint holds, in memory."""

    iteration: int
    tensors: dict[str, dict[str, torch.Tensor]]  # "net", "ema", "disc" -> state dict
    state: dict[str, Any]  # optimiser / scaler / RNG states
    meta: dict[str, Any]  # arch, scale, params, options fingerprint, …


def _write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def _weights_metadata(ckpt: Checkpoint) -> dict[str, str]:
    """The weights file's safetensors metadata: the iteration, and what an exported model
    records of its network (architecture, scale, hyper-parameters), so that the file is a
    model file too (`models add`, ``--init``): a VDSR, LapSRN or FSRCNN checkpoint was refused."""
    meta = {"iteration": str(ckpt.iteration)}
    if {"arch", "scale"} <= ckpt.meta.keys():
        meta.update({"sr_desktop_trained": "1", "arch": str(ckpt.meta["arch"]), "scale": str(ckpt.meta["scale"]),
                     "params": json.dumps(ckpt.meta.get("params", {}), default=list),
                     "iterations": str(ckpt.iteration)})
    return meta


def save_checkpoint(folder: Path, ckpt: Checkpoint) -> None:
    """Write `ckpt` into `folder` atomically (see the module doc); TrainingError on failure."""
    n = ckpt.iteration
    weights_name, state_name = f"weights-{n:08d}.safetensors", f"state-{n:08d}.pt"
    flat = {f"{group}.{key}": t.detach().cpu().contiguous()
            for group, tensors in ckpt.tensors.items() for key, t in tensors.items()}
    buffer = io.BytesIO()
    torch.save(ckpt.state, buffer)
    latest = {"version": FORMAT_VERSION, "iteration": n, "weights": weights_name, "state": state_name,
              **ckpt.meta}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / weights_name, safetensors_bytes(flat, metadata=_weights_metadata(ckpt)))
        _write(folder / state_name, buffer.getvalue())
        _write(folder / LATEST, json.dumps(latest, indent=1).encode())
    except OSError as exc:
        with contextlib.suppress(OSError):
            if latest_iteration(folder) != n:  # the new pair is not the current one
                (folder / weights_name).unlink(missing_ok=True)
                (folder / state_name).unlink(missing_ok=True)
        previous = latest_iteration(folder)
        kept = (f"the checkpoint of iteration {previous} is kept" if previous is not None and previous != n
                else "there is no earlier checkpoint")
        raise TrainingError(f"cannot write the checkpoint in {folder}: {exc.strerror or exc}; {kept}") from None
    for old in folder.iterdir():
        if old.name.startswith(("weights-", "state-")) and old.name not in (weights_name, state_name):
            with contextlib.suppress(OSError):
                old.unlink()


def latest_iteration(folder: Path) -> int | None:
    """The iteration of the checkpoint ``latest.json`` names; None when there is none."""
    try:
        return int(json.loads((folder / LATEST).read_text(encoding="utf-8"))["iteration"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def recorded_settings(folder: Path) -> dict[str, Any]:
    """The settings the run whose checkpoint is in `folder` was made with (its resume
    options: arch, scale, data, seed, …, and its schedule: lr, schedule, warmup,
    iterations), read from ``latest.json`` alone; {} when there is none or it is unreadable."""
    try:
        latest = json.loads((folder / LATEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(latest, dict):
        return {}
    options, schedule = latest.get("options"), latest.get("schedule")
    return {**(schedule if isinstance(schedule, dict) else {}), **(options if isinstance(options, dict) else {})}


def has_checkpoint(folder: Path) -> bool:
    """True when `folder` has a ``latest.json``."""
    return (folder / LATEST).is_file()


def load_checkpoint(folder: Path) -> Checkpoint:
    """The checkpoint ``latest.json`` names; TrainingError if missing or unreadable."""
    try:
        latest = json.loads((folder / LATEST).read_text(encoding="utf-8"))
        version = latest.get("version", FORMAT_VERSION)
        if isinstance(version, int) and version > FORMAT_VERSION:
            # (it was resumed and written back as this version's, its newer records dropped)
            raise TrainingError(f"the checkpoint in {folder} was written by a newer version of SR Desktop (checkpoint "
                                f"format {version}; this version reads {FORMAT_VERSION}): resume it with that version")
        weights = load_safetensors((folder / latest["weights"]).read_bytes())
        state = torch.load(folder / latest["state"], map_location="cpu", weights_only=True)
        iteration = int(latest["iteration"])
    except FileNotFoundError:
        raise TrainingError(f"no checkpoint to resume in {folder}") from None
    except TrainingError:
        raise
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower() or "unsupported class" in str(exc).lower():
            # (torch's own words advised loading it unsafely, "weights_only=False")
            raise TrainingError(f"refused to resume from {folder}: its state file holds Python objects other than "
                                "tensors, which could run code (not a checkpoint this app wrote)") from None
        raise TrainingError(f"the checkpoint in {folder} is unreadable: not a readable state file") from None
    except Exception as exc:  # noqa: BLE001 - any damage: one line
        raise TrainingError(f"the checkpoint in {folder} is unreadable: {type(exc).__name__}: {exc}") from None
    tensors: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        group, _, name = key.partition(".")
        tensors.setdefault(group, {})[name] = tensor
    meta = {k: v for k, v in latest.items() if k not in ("version", "iteration", "weights", "state")}
    return Checkpoint(iteration, tensors, state, meta)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed write left behind."""
    from sr_desktop.engine.imageio import is_temp_path

    if folder.is_dir():
        for path in folder.iterdir():
            if is_temp_path(path):
                with contextlib.suppress(OSError):
                    os.unlink(path)
