"""In which precision a training step computes (`sr-desktop train --amp`).

Mixed precision runs the forward pass and the losses under autocast (matrix products and
convolutions in a 16-bit float, weights, optimiser state and gradients' accumulation in
float32), as BasicSR and EDSR-PyTorch train on GPUs. ``auto`` uses it where the hardware
makes it pay: CUDA (bf16 where supported, else fp16 with a gradient scaler), and CPUs with
AMX tile units, whose bf16 matrix products made training 2.6–2.8× faster than float32 on one
core of this project's Xeon (EDSR-baseline, VDSR, LapSRN; `benchmarks/bench_train.py --amp
off on`). A bf16 step is a little less precise, but more steps in the same time won: see
docs/training.md. ``on`` also uses bf16 on a CPU without AMX (slower there: emulated);
``off`` is float32 everywhere. Validation and the exported model are always float32: only
the training steps change.
"""

from __future__ import annotations

import torch

from sr_desktop.engine.training.errors import TrainingError

AMP_CHOICES = ("auto", "on", "off")


def check_amp(name: str) -> None:
    """`TrainingError` unless `name` is one of `AMP_CHOICES`."""
    if name not in AMP_CHOICES:
        raise TrainingError(f"--amp must be one of {', '.join(AMP_CHOICES)}, got {name!r}")


def cpu_has_bf16_matrix_units() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware (Intel AMX tiles)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without the probe: assume not
        return False


def autocast_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """The dtype a training step autocasts to on `device`, or None for float32 (`amp` as
    `TrainOptions` checked it)."""
    if amp == "off" or device.type not in ("cuda", "cpu"):
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "on" or cpu_has_bf16_matrix_units():
        return torch.bfloat16
    return None


def precision_name(dtype: torch.dtype | None) -> str:
    """``fp32``, ``bf16`` or ``fp16``: for the log and the messages."""
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
