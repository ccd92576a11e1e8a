"""Seeded draws from torch's global random generator that other threads cannot interleave with.

A network's initial weights come from torch's one process-wide generator (every layer's
default initialisation draws from it). A seeded run (KernelGAN's `seed`, ZSSR's) seeds it and
builds its networks; another thread building a network meanwhile (a model loaded for the
Metrics panel's Evaluate) drew from it in between, and the "reproducible" estimate came out
otherwise (a 19×19 kernel instead of 23×23).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: held while code draws from torch's global generator (`seeded_torch`, `drawing_from_torch`)
_TORCH_RNG_LOCK = threading.RLock()


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global generator seeded with `seed` for the block (and `device`'s, a CUDA one),
    the state before restored afterwards, no other thread's `drawing_from_torch` meanwhile."""
    import torch

    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@contextmanager
def drawing_from_torch() -> Iterator[None]:
    """For code that draws from torch's global generator without seeding it (building a
    network whose weights are then loaded): it waits while a seeded block runs."""
    with _TORCH_RNG_LOCK:
        yield
