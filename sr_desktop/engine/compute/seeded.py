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
def _forked(devices: list) -> Iterator[None]:
    """torch's generators (the CPU's and `devices`' CUDA ones) put back as they were after the
    block, no other thread's `drawing_from_torch` meanwhile."""
    import torch

    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=devices):
        yield


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """torch's global generator seeded with `seed` for the block (and `device`'s, a CUDA one),
    the state before restored afterwards, no other thread's `drawing_from_torch` meanwhile."""
    import torch

    with _forked([device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


@contextmanager
def drawing_from_torch() -> Iterator[None]:
    """For code that draws from torch's global generator without seeding it (building a
    network whose weights are then loaded): it waits while a seeded block runs."""
    with _TORCH_RNG_LOCK:
        yield


@contextmanager
def restored_torch_rng(devices: list) -> Iterator[None]:
    """torch's generators (the CPU's and `devices`' CUDA ones) as they were before the block,
    put back at its end when no other thread's seeded block runs (`torch.random.fork_rng`
    put them back at any moment: inside another job's seeded block, between its seed and its
    network)."""
    import torch

    with _TORCH_RNG_LOCK:
        cpu = torch.get_rng_state()
        cuda = [torch.cuda.get_rng_state(device) for device in devices]
    try:
        yield
    finally:
        with _TORCH_RNG_LOCK:
            torch.set_rng_state(cpu)
            for device, state in zip(devices, cuda, strict=True):
                torch.cuda.set_rng_state(state, device)


@contextmanager
def torch_rng_state(state) -> Iterator[None]:
    """torch's CPU generator at `state` (from ``torch.get_rng_state()``) for the block, as it
    was before afterwards, no other thread's `drawing_from_torch` meanwhile: a seeded run's
    later draws, made as if nothing had drawn in between."""
    import torch

    with _forked([]):
        torch.set_rng_state(state)
        yield
