"""The knobs of a kernel estimate (`KernelGANOptions`), its presets and choices: plain
data, no torch, so that the window's kernel panel and the CLI read them without loading the
estimator."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from sr_desktop.engine.kernelgan.errors import KernelError

G_CROP = 64
SHAVE_BORDER = 10
OFFICIAL_ITERATIONS = 3000
#: the measured fast setting (docs/kernelgan.md): 1000 iterations of 4 crops with early
#: stopping (typically done after 400) — ~28× less CPU than the official code at equal
#: accuracy on the synthetic set; used by the CLI, the GUI and the "estimate" of ZSSR and map-sr
FAST_PRESET = {"iterations": 1000, "batch": 4, "early_stop": True}
#: KernelGAN iterations per run below which its score says nothing (`confidence`): D has
#: not yet trained against a living generator (99 % of default runs came alive by iteration
#: 226, and none of 100 settled before 400; docs/kernelgan.md), so a 150-iteration run
#: scored 0.98, "reliable". Here, light to import, for the command line's flags.
MIN_JUDGED_ITERATIONS = 400
#: an estimate without a seed draws one below this (so that the kernel panel's seed field,
#: a 32-bit spin box, holds every seed a run names)
DRAWN_SEEDS_BELOW = 2**31 - 1
#: values of `KernelGANOptions.prior`
PRIORS = ("none", "fkp")
#: values of `KernelGANOptions.method` (see ``estimate_kernel``)
METHODS = ("auto", "kernelgan", "sharpness")


def check_method(method) -> str:
    """`method` if it is one of `METHODS`, else a `KernelError` naming the choices."""
    if method not in METHODS:
        raise KernelError(f"unknown kernel estimation method {method!r} (choose {', '.join(METHODS)})")
    return str(method)


@dataclass
class KernelGANOptions:
    """Knobs of the estimation; the defaults are the official recipe except where noted."""

    batch: int = 1
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    #: lr ×0.1 at these fractions of the run (750/1500/2250 of 3000)
    lr_milestones: tuple[float, ...] = (0.25, 0.5, 0.75)
    #: regulariser weights (bicubic weight is scheduled, see below)
    lambda_bicubic: float = 5.0
    lambda_sum2one: float = 0.5
    lambda_boundaries: float = 0.5
    lambda_centralized_end: float = 1.0
    lambda_sparse_end: float = 5.0
    bicubic_trigger: float = 0.4
    bicubic_decay: float = 100.0
    bicubic_min: float = 5e-6
    bicubic_update_every: int = 200
    #: the bicubic weight decays only while Σk ≥ this (G alive; 0 = the official rule)
    trigger_min_sum: float = 0.5
    #: scale the 200-iteration bicubic schedule with the run length (off for 3000 its)
    scale_schedule: bool = True
    accumulate_d_noise: bool = False
    mix_channels: bool = False
    shave_border: int = SHAVE_BORDER
    n_filtering: int = 40
    early_stop: bool = False
    early_stop_db: float = 50.0
    early_stop_min_fraction: float = 0.35
    check_every: int = 50
    #: with early stopping and a retry left (``retry_doubtful``), a run is stopped early and
    #: judged by its confidence like any run: when its generator is still dead (Σk below
    #: ALIVE_MIN_SUM, confidence 0) at `dead_by` of its iterations, or its kernel has not
    #: settled at the first early-stop check from `settle_by` on and the image doubts it so
    #: far (0: never cut). Measured (docs/kernelgan.md): before these cuts, 96 of 100
    #: default runs settled at 40 %; the four that did not had a generator dead from the
    #: start, ran to the end (confidence 0.0) and were retried: 1000 + 400 iterations,
    #: 43-45 s. Of 360 runs followed until their generator came alive
    #: (bench_kernelgan_alive.py), 343 did by 25 %, one at 44 % and 16 never did. Runs much
    #: shorter than the default cannot settle by 45 % (two quiet checks after
    #: `early_stop_min_fraction`), so their doubtful first attempts are cut there.
    dead_by: float = 0.3
    settle_by: float = 0.45
    #: a run whose confidence is below RELIABLE_AT, or that diverged, is run again with
    #: another seed up to this many times, keeping the run with the higher confidence (0: never)
    retry_doubtful: int = 1
    #: how restarts are combined: "median" (element-wise, robust to one run that
    #: diverged; equals the mean for 2 runs) or "mean"
    restart_combine: str = "median"
    #: report progress every N iterations, the current kernel every `kernel_every`
    progress_every: int = 10
    kernel_every: int = 100
    #: "none": KernelGAN's deep linear generator; "fkp": the learned kernel prior (see above)
    prior: str = "none"
    #: Adam lr of the latent z with prior "fkp" (measured: 1e-3 barely leaves the start,
    #: 4e-3 and more overshoot out of the kernel family; docs/kernelgan.md)
    fkp_lr: float = 2e-3
    #: "auto": the mean of the sharpness fit and KernelGAN when the fit explains the image
    #: (misfit ≤ MISFIT_TRUSTED), else KernelGAN; "kernelgan": always KernelGAN alone;
    #: "sharpness": always the fit alone (docs/kernelgan.md)
    method: str = "auto"
    #: intra-op torch threads for the whole estimate, fit and KernelGAN (None: torch's
    #: setting), restored after. KernelGAN's ops are tiny: with the passive OpenMP waits
    #: sr_desktop sets, 2 threads ran at half the speed of 1 on the 2-core test machine
    #: (docs/kernelgan.md)
    threads: int | None = 1


#: far above what estimation needs (the paper: 3000 iterations of one crop, one run), and
#: below what cannot be held: the crops of every iteration are drawn up front, 10⁹
#: iterations asked for 30 GiB
MAX_ITERATIONS, MAX_BATCH, MAX_RESTARTS = 100_000, 64, 16


def check_counts(iterations, batch, restarts) -> None:
    """`KernelError` unless each count is a whole number within its limit."""
    for name, value, top in (("iterations", iterations, MAX_ITERATIONS), ("batch", batch, MAX_BATCH),
                             ("restarts", restarts, MAX_RESTARTS)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) <= top:
            raise KernelError(f"{name} must lie in 1..{top}, got {value}")


def smallest_image_side(shave: int = SHAVE_BORDER) -> int:
    """The shortest side (px) an image may have for a kernel estimate: the generator's crop
    inside the border shaved."""
    return G_CROP + 2 * max(int(shave), 0)
