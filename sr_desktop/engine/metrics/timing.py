"""Timing and peak-memory measurement around one upscale call."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass
class Timing:
    """Seconds, throughput and memory of one or more upscale calls."""

    seconds: float = 0.0
    input_pixels: int = 0
    device: str = ""
    peak_memory_bytes: int = 0  # CUDA: peak allocated by torch; CPU: peak process RSS
    tiles: int = 0
    #: what ran the network (``torch``, ``openvino``); empty for non-engine upscalers
    backend: str = ""

    @property
    def input_mp_per_s(self) -> float:
        """Input megapixels per second (0 when nothing was timed)."""
        return self.input_pixels / 1e6 / self.seconds if self.seconds > 0 else 0.0

    @property
    def ran_on(self) -> str:
        """What ran it, as the upscale's report says: "CPU (2 threads) with openvino", the
        device alone where the backend is unknown or named in it ("CPU (numpy)"); "" when
        neither is known."""
        if self.device and self.backend and self.backend not in self.device:
            return f"{self.device} with {self.backend}"
        return self.device or ""

    def add(self, other: Timing) -> None:
        """Accumulate another call (seconds, pixels, tiles summed; memory and device kept max/last)."""
        self.seconds += other.seconds
        self.input_pixels += other.input_pixels
        self.tiles += other.tiles
        self.peak_memory_bytes = max(self.peak_memory_bytes, other.peak_memory_bytes)
        self.device = other.device or self.device
        self.backend = other.backend or self.backend

    def to_json(self) -> dict:
        return {
            "seconds": self.seconds,
            "input_megapixels": self.input_pixels / 1e6,
            "input_mp_per_s": self.input_mp_per_s,
            "device": self.device,
            "backend": self.backend,
            "peak_memory_bytes": self.peak_memory_bytes,
            "tiles": self.tiles,
        }


class PeakMemory:
    """Context manager measuring peak memory while its block runs.

    On CUDA it uses torch's peak-allocation counter; otherwise it samples this process's
    resident memory every `interval` seconds in a background thread (the peak of a very
    short spike can be missed; good enough to compare models).
    """

    def __init__(self, device_type: str = "cpu", interval: float = 0.005):
        self.device_type = device_type
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        proc = psutil.Process(os.getpid())
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        if self.device_type == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            self.peak = psutil.Process(os.getpid()).memory_info().rss
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device_type == "cuda":
            import torch

            torch.cuda.synchronize()
            self.peak = int(torch.cuda.max_memory_allocated())
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self.peak = max(self.peak, psutil.Process(os.getpid()).memory_info().rss)


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start
