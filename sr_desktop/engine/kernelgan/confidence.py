"""How far to trust a KernelGAN estimate, from the image alone (no ground truth).

KernelGAN's premise is that the image downscaled with its own kernel looks like the image
itself: the discriminator D, trained on the image's patches, cannot tell them from patches
of G's downscale. So the run's own D says how well the kernel explains the image across
scales. At the GAN's equilibrium D outputs 0.5 everywhere and its L1 loss is 0.5; the
further D's loss falls below 0.5 over the last part of the run, the better D still tells
G's output apart, and the worse the kernel fits. A run whose generator died (kernel ≈ 0,
the output a flat grey: D wins easily) scores 0.

* `run_confidence(records, raw_kernel_sum)`: one run's score in 0..1.
* `restart_agreement_db(kernels)`: how much independent runs agree (median pairwise PSNR
  of the centred kernels), reported beside the score when there are restarts.
* ``confidence ≥ RELIABLE_AT`` is what the CLI, the JSON and the GUI call *reliable*.
* `is_textureless(image)`: an image with nothing that shows its blur (a flat colour, a smooth
  gradient), whose estimate is doubtful whatever its score (`TEXTURELESS`); `too_short`:
  runs too short for the score to mean anything (`MIN_JUDGED_ITERATIONS`).

The threshold and the correlation with the true kernel PSNR are measured on the synthetic
set (docs/kernelgan.md, `benchmarks/bench_kernelgan.py --runs N`).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from sr_desktop.engine.kernelgan.options import MIN_JUDGED_ITERATIONS

#: D's L1 loss when it cannot tell real from fake (outputs 0.5 everywhere)
D_LOSS_AT_EQUILIBRIUM = 0.5
#: the part of the run (last fraction of its progress records) whose D loss is averaged
TAIL_FRACTION = 0.3
#: a raw kernel that sums to less than this is a dead generator
ALIVE_MIN_SUM = 0.5
#: confidence at or above this is "reliable", below it "doubtful": just below the lowest
#: score of a healthy run on the synthetic set (0.48, rocket, 43 dB; docs/kernelgan.md)
RELIABLE_AT = 0.45


def is_reliable(confidence: float) -> bool:
    """The one rule for "reliable" (``confidence ≥ RELIABLE_AT``)."""
    return bool(confidence >= RELIABLE_AT)


def run_confidence(records: list[dict], raw_kernel_sum: float) -> float:
    """One run's confidence in 0..1 from its progress records (each with ``loss_d``) and
    the sum of its raw (unnormalised) kernel: 0 for a dead generator, else the mean D loss
    over the last `TAIL_FRACTION` of the records divided by its equilibrium value."""
    if not np.isfinite(raw_kernel_sum) or raw_kernel_sum < ALIVE_MIN_SUM:
        return 0.0
    losses = [r["loss_d"] for r in records if "loss_d" in r]
    if not losses:
        return 0.0
    tail = losses[int(len(losses) * (1.0 - TAIL_FRACTION)) :] or losses[-1:]
    return float(np.clip(np.mean(tail) / D_LOSS_AT_EQUILIBRIUM, 0.0, 1.0))


def restart_agreement_db(kernels: list[np.ndarray]) -> float | None:
    """Median over pairs of runs of the PSNR (peak 1, per tap) between their centred
    kernels; None for fewer than two runs. Above ~45 dB the runs found the same kernel."""
    from sr_desktop.engine.kernelgan.score import kernel_psnr

    if len(kernels) < 2:
        return None
    return float(np.median([kernel_psnr(a, b) for a, b in combinations(kernels, 2)]))


def too_short(iterations: int) -> str:
    """Why a KernelGAN estimate of `iterations` per run is doubtful whatever its score
    ("" when the runs were long enough to judge)."""
    if iterations >= MIN_JUDGED_ITERATIONS:
        return ""
    return f"{iterations} iterations are too few to judge the run (at least {MIN_JUDGED_ITERATIONS})"


#: why an estimate of a flat or smooth image is doubtful whatever its score
TEXTURELESS = "the image has no texture to show its blur"
#: a pixel step of at least this (0..1 scale) counts as texture ...
TEXTURE_STEP = 2.0 / 255.0
#: ... and an image needs this fraction of such steps
TEXTURE_FRACTION = 0.01

#: rows and columns sampled (evenly spaced, whole) for the steps between neighbours: on a
#: 48 MP photo the whole image took 8 s and 1.1 GiB
TEXTURE_LINES = 256


def is_textureless(image: np.ndarray) -> bool:
    """True for an image with (almost) no steps of `TEXTURE_STEP` or more between
    neighbouring pixels (on `TEXTURE_LINES` rows and columns): a flat colour, a smooth
    gradient. `image`: H×W(×C), uint8/uint16 or float 0..1."""
    a = np.asarray(image)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(a.dtype, 1.0)
    rows = a[np.linspace(0, a.shape[0] - 1, min(a.shape[0], TEXTURE_LINES)).astype(int)]
    cols = a[:, np.linspace(0, a.shape[1] - 1, min(a.shape[1], TEXTURE_LINES)).astype(int)]

    def grey(part: np.ndarray) -> np.ndarray:
        part = part.astype(np.float32) / scale
        return part[..., :3].mean(axis=-1) if part.ndim == 3 else part

    steps = np.concatenate([np.abs(np.diff(grey(rows), axis=1)).ravel(), np.abs(np.diff(grey(cols), axis=0)).ravel()])
    return steps.size == 0 or float(np.mean(steps >= TEXTURE_STEP)) < TEXTURE_FRACTION
