"""Which backend runs the network at validation (`sr-desktop train --backend`).

``torch`` runs the module being trained; ``openvino`` converts the weights of the moment in
memory (nothing is cached: every validation has new weights) and runs them as `upscale
--backend openvino` would, on the CPU in fp32. ``auto`` (the default) times both at the first
validation — on the same weights, so it also shows that they agree — and keeps the faster for
the run; `SR_DESKTOP_BACKEND` decides for it as everywhere, and off the CPU, or without
OpenVINO, it is torch. A conversion that fails under ``auto`` leaves torch with one line in the
log; asked for explicitly it is a `TrainingError`.
"""

from __future__ import annotations

import logging
import time

import torch

from sr_desktop.engine.core.options import Backend, parse_backend
from sr_desktop.engine.models.backends.choose import auto_means
from sr_desktop.engine.models.backends.openvino_runner import (
    BackendError,
    build_openvino_runner,
    openvino_unavailable,
    openvino_version,
)
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.networks import TrainNet
from sr_desktop.engine.training.validation import ValidationScores, ValidationSet

log = logging.getLogger(__name__)

VALIDATION_BACKENDS = (Backend.AUTO.value, Backend.TORCH.value, Backend.OPENVINO.value)


def check_validation_backend(name: str) -> None:
    """`TrainingError` unless `name` is a backend validation can use."""
    if name not in VALIDATION_BACKENDS:
        hint = " (the ncnn runtime runs the model zoo's own files, not a network in training)" if name == "ncnn" else ""
        raise TrainingError(f"--backend must be one of {', '.join(VALIDATION_BACKENDS)} for training{hint}")


class ValidationBackend:
    """The backend of a run's validations: `chosen` once decided, with the times that decided it."""

    def __init__(self, requested: str, device: torch.device):
        check_validation_backend(requested)
        self.device = device
        wanted = parse_backend(requested)
        if wanted == Backend.AUTO:
            wanted = auto_means()
        on_cpu = device.type == "cpu"
        if wanted == Backend.OPENVINO and parse_backend(requested) == Backend.OPENVINO:
            if not on_cpu:
                raise TrainingError(f"--backend openvino validates on the CPU in fp32; this run trains on "
                                    f"{device.type}: use --backend torch or auto")
            if (why := openvino_unavailable()) is not None:
                raise TrainingError(f"--backend openvino: {why}")
        if wanted == Backend.NCNN or (wanted != Backend.TORCH and (not on_cpu or openvino_version() is None)):
            wanted = Backend.TORCH  # auto: the ncnn runtime has no graph of a network in training
        self.explicit = parse_backend(requested) != Backend.AUTO
        self.chosen: str | None = None if wanted == Backend.AUTO else wanted.value
        self.seconds: dict[str, float] = {}

    def check(self, net: TrainNet) -> None:
        """With ``--backend openvino`` asked for: convert `net` once now, so that a network
        OpenVINO cannot run is a `TrainingError` before the run writes anything."""
        if not (self.explicit and self.chosen == Backend.OPENVINO.value):
            return
        try:
            with torch.no_grad():
                build_openvino_runner(net.as_model(), cache=False)
        except BackendError as exc:
            raise TrainingError(f"--backend openvino: {exc}") from None
        finally:
            net.module.train()

    def evaluate(self, val: ValidationSet, net: TrainNet, previews: int) -> ValidationScores:
        """Validate `net` with the chosen backend (deciding it at the first call under auto)."""
        if self.chosen is None:
            return self._decide(val, net, previews)
        try:
            return val.evaluate(net, self.device, previews, backend=self.chosen)
        except BackendError as exc:
            if self.explicit:
                raise TrainingError(f"validation with --backend openvino failed: {exc}") from None
            log.warning("validation: %s; validating with torch from now on", exc)
            self.chosen = Backend.TORCH.value
            return val.evaluate(net, self.device, previews)

    def _decide(self, val: ValidationSet, net: TrainNet, previews: int) -> ValidationScores:
        start = time.perf_counter()
        scores = val.evaluate(net, self.device, previews)
        self.seconds[Backend.TORCH.value] = time.perf_counter() - start
        start = time.perf_counter()
        try:
            other = val.evaluate(net, self.device, previews, backend=Backend.OPENVINO.value)
        except BackendError as exc:
            log.info("validation: OpenVINO cannot run this network (%s); validating with torch", exc)
            self.chosen = Backend.TORCH.value
            return scores
        self.seconds[Backend.OPENVINO.value] = time.perf_counter() - start
        self.chosen = min(self.seconds, key=self.seconds.get)
        log.info("validation backend: %s (torch %.2f s, OpenVINO %.2f s with its conversion; "
                 "PSNR-Y %.4f / %.4f dB)", self.chosen, self.seconds["torch"], self.seconds["openvino"],
                 scores.psnr_y, other.psnr_y)
        return scores if self.chosen == Backend.TORCH.value else other
