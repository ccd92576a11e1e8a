"""Perceptual full-reference distances from the user's weight files: LPIPS and DISTS.

`load_perceptual` reads and checks every file before anything is scored (the bench calls it
before any model runs), and returns one `PerceptualDistance` per metric asked for: a
network with the numpy interface of the evaluation protocol (`distance(sr, hr)`). Both
networks share one VGG16 file. PI (Blau et al. 2018) is not available: see `PI_REFUSAL`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from sr_desktop.engine.compute.devices import is_out_of_memory, resolve_device
from sr_desktop.engine.metrics import dists, lpips
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.vgg16 import find_vgg16_weights, load_vgg16_state

PI_REFUSAL = (
    "PI (Blau et al. 2018, ((10 - Ma) + NIQE) / 2) is not available: Ma et al.'s score is a MATLAB "
    "pipeline with trained regression forests that the app does not have; NIQE, PI's other half, "
    "is scored by default (the niqe column)")


@dataclass(eq=False)
class PerceptualDistance:
    """A perceptual distance network and how the protocol calls it.

    ``name`` is its key in the bench's JSON/CSV (``lpips``, ``dists``); ``describe`` says
    what it is and from which files; images whose smaller side is under ``min_size`` get
    no score (None).
    """

    name: str
    network: nn.Module
    min_size: int
    describe: str

    def distance(self, sr: np.ndarray, hr: np.ndarray) -> float | None:
        """The distance of `sr` to `hr`: H×W×1 or H×W×3, uint8 or float on the 0..255 scale.

        A grey image is compared as RGB with three equal channels. The whole image is
        scored (no border shave), as the metrics' releases do.
        """
        sr, hr = np.asarray(sr), np.asarray(hr)
        if sr.shape != hr.shape or sr.ndim != 3 or sr.shape[2] not in (1, 3):
            raise EvaluationError(f"{self.name}: images of shapes {sr.shape} and {hr.shape} cannot be compared")
        if min(sr.shape[:2]) < self.min_size:
            return None
        parameter = next(self.network.parameters())
        x, y = (torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / np.float32(255.0))
                .permute(2, 0, 1)[None].expand(1, 3, -1, -1).to(parameter.device, parameter.dtype)
                for a in (sr, hr))
        try:
            with torch.inference_mode():
                return float(self.network(x, y)[0])
        except (RuntimeError, MemoryError) as exc:
            if is_out_of_memory(exc):
                raise EvaluationError(f"not enough memory for {self.name.upper()} on a {sr.shape[1]}×{sr.shape[0]} "
                                      "image (use --device cpu, or a smaller image)") from None
            raise


def load_perceptual(lpips_file: str | os.PathLike | None = None, dists_file: str | os.PathLike | None = None,
                    vgg16_file: str | os.PathLike | None = None,
                    device: str = "cpu") -> tuple[PerceptualDistance, ...]:
    """LPIPS and/or DISTS from their weight files (VGG16 found by `find_vgg16_weights`).

    Every file is read and checked first; a missing or wrong one is an `EvaluationError`
    naming it. Nothing asked for gives an empty tuple.
    """
    if lpips_file is None and dists_file is None:
        if vgg16_file is not None:
            raise EvaluationError("a VGG16 file is only used by LPIPS and DISTS: give an LPIPS or DISTS file too")
        return ()
    vgg16_path = find_vgg16_weights(vgg16_file)
    # the small files first: a wrong one is said before the 528 MB VGG16 file is read
    lin = lpips.load_lpips_weights(lpips_file) if lpips_file is not None else None
    alpha_beta = dists.load_dists_weights(dists_file) if dists_file is not None else None
    state = load_vgg16_state(vgg16_path)
    target = resolve_device(device)
    metrics = []
    if lin is not None:
        metrics.append(PerceptualDistance(
            "lpips", lpips.LPIPS(state, lin).eval().to(target), lpips.MIN_SIZE,
            f"LPIPS VGG v0.1 on RGB, whole image ({lpips_file}, {vgg16_path})"))
    if alpha_beta is not None:
        metrics.append(PerceptualDistance(
            "dists", dists.DISTS(state, *alpha_beta).eval().to(target), dists.MIN_SIZE,
            f"DISTS on RGB, whole image, not resized ({dists_file}, {vgg16_path})"))
    return tuple(metrics)
