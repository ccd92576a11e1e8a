"""The architectures `sr-desktop train` takes, as names (torch-free: the command's --help lists
them without importing torch, which `training.networks` builds them with)."""

from __future__ import annotations

import math
from typing import Any


def log2_of(scale: int) -> int:
    """log2 of a power-of-two scale (ValueError for another)."""
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f"×{scale} is not a power of two")
    return int(math.log2(scale))


def _upscale(scale: int) -> dict[str, Any]:
    return {"upscale": scale}


#: the architectures that can be trained from scratch: their module's arguments at a scale
#: (paper sizes, but EDSR's module defaults are the baseline's; override any of them in the
#: architecture spec)
SCRATCH_ARGUMENTS = {
    "SRCNN": lambda s: {},
    "FSRCNN": _upscale,
    "ESPCN": _upscale,
    "VDSR": lambda s: {},
    "LapSRN": lambda s: {"num_levels": log2_of(s)},
    "SRResNet": _upscale,
    "MSRResNet": _upscale,
    "EDSR": _upscale,
    "RDN": _upscale,
    "RCAN": _upscale,
    "RRDBNet": lambda s: {"num_upsample": log2_of(s)},
    "SRVGGNetCompact": _upscale,
    "SPAN": _upscale,
    "SPSR": lambda s: {"num_upsample": log2_of(s)},
}
#: names users know, as an architecture and its hyper-parameters
ALIASES = {
    "EDSR-baseline": ("EDSR", {"num_feat": 64, "num_block": 16}),
    "Compact": ("SRVGGNetCompact", {"num_feat": 64, "num_conv": 16}),
    "ESRGAN": ("RRDBNet", {}),
}
TRAINABLE = tuple(SCRATCH_ARGUMENTS) + tuple(ALIASES)
