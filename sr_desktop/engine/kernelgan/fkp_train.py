"""Training the FKP kernel prior (fkp.py) by maximum likelihood on the synthetic set's
kernel family (`synthetic.random_kernel_x2`: anisotropic Gaussians, λ1, λ2 ~ U(0.35, 5),
random angle, per-tap multiplicative noise, centred for ×2).

The kernels sum to 1, so their flow inputs u = log(k + eps) lie on a curved surface of one
dimension less than u; a density on that is unbounded and maximum likelihood would chase it.
Each batch therefore gets a small Gaussian jitter in u (``jitter``, a ±2 % multiplicative
wobble of the taps: a dequantisation), which bounds the density without changing what the
flow decodes (`decode_kernel` renormalises). Seeded: the same options give the same weights
on the CPU. Progress every ``progress_every`` steps (``extra``: step, nll); cancel between steps.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressTracker, check_cancel
from sr_desktop.engine.kernelgan.adam import Adam
from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.kernelgan.fkp import KERNEL_SIZE, FlowKernelPrior, encode_kernel
from sr_desktop.engine.kernelgan.synthetic import random_kernel_x2


@dataclass(frozen=True)
class FKPTrainOptions:
    """What a prior is trained with (recorded in the weights' sidecar)."""

    kernel_size: int = KERNEL_SIZE
    blocks: int = 8
    hidden: int = 128
    max_log_scale: float = 2.0
    samples: int = 100_000
    steps: int = 6000
    batch: int = 256
    lr: float = 1e-3
    #: lr × 0.1 at these fractions of the steps
    lr_milestones: tuple[float, ...] = (0.6, 0.85)
    jitter: float = 0.02
    seed: int = 0
    progress_every: int = 50

    def __post_init__(self) -> None:
        for name in ("kernel_size", "blocks", "hidden", "samples", "steps", "batch", "progress_every"):
            if int(getattr(self, name)) < 1:
                raise KernelError(f"FKP training: {name} must be at least 1")
        if self.kernel_size % 2 == 0:
            raise KernelError("FKP training: kernel_size must be odd")
        if not (self.lr > 0 and self.jitter >= 0 and self.max_log_scale > 0):
            raise KernelError("FKP training: lr and max_log_scale must be > 0, jitter ≥ 0")


def family_kernels(n: int, rng: np.random.Generator, size: int = KERNEL_SIZE) -> np.ndarray:
    """`n` kernels of the synthetic set's family (n×size×size float64), from `rng`."""
    return np.stack([random_kernel_x2(rng, size=size) for _ in range(n)])


@dataclass
class FKPTrainResult:
    """What `train_fkp` returns: the prior, its options, held-out NLL, seconds and the ``{step, nll}`` history."""

    prior: FlowKernelPrior
    options: FKPTrainOptions
    #: mean negative log-likelihood (nats per kernel, u space) of held-out kernels
    heldout_nll: float
    seconds: float
    history: list[dict]

    def record(self) -> dict:
        """What the sidecar JSON records about the training."""
        opts = asdict(self.options)
        opts["lr_milestones"] = list(self.options.lr_milestones)
        return {"training": opts, "heldout_nll": round(self.heldout_nll, 3), "seconds": round(self.seconds, 1)}


def train_fkp(options: FKPTrainOptions | None = None, progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> FKPTrainResult:
    """Fit a `FlowKernelPrior` to the family by maximum likelihood (Adam, step-decayed lr)."""
    opts = options or FKPTrainOptions()
    start = time.perf_counter()
    rng = np.random.default_rng(opts.seed)
    heldout = torch.as_tensor(family_kernels(2000, rng, opts.kernel_size), dtype=torch.float32)
    data = torch.as_tensor(family_kernels(opts.samples, rng, opts.kernel_size), dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        prior = FlowKernelPrior(opts.kernel_size, opts.blocks, opts.hidden, opts.max_log_scale,
                                permutation_seed=opts.seed)
    eps = prior.eps
    u_data = encode_kernel(data, eps)
    u_heldout = encode_kernel(heldout, eps)
    gen = torch.Generator().manual_seed(opts.seed + 1)
    optimizer = Adam(prior.parameters(), lr=opts.lr)
    milestones = {max(1, int(round(m * opts.steps))) for m in opts.lr_milestones}
    tracker = ProgressTracker(opts.steps, progress, stage="fkp")
    history: list[dict] = []
    prior.train()
    for step in range(1, opts.steps + 1):
        check_cancel(cancel)
        idx = torch.randint(0, u_data.shape[0], (opts.batch,), generator=gen)
        u = u_data[idx] + opts.jitter * torch.randn(opts.batch, prior.dim, generator=gen)
        nll = -prior.log_prob(u).mean()
        optimizer.zero_grad()
        nll.backward()
        optimizer.step()
        if step in milestones:
            optimizer.lr *= 0.1
        if step % opts.progress_every == 0 or step == opts.steps:
            if not torch.isfinite(nll):
                raise KernelError(f"FKP training diverged at step {step}")
            record = {"step": step, "nll": float(nll.detach())}
            history.append(record)
            tracker.update(step, f"step {step}/{opts.steps}", **record)
    prior.eval()
    with torch.no_grad():
        u = u_heldout + opts.jitter * torch.randn(u_heldout.shape, generator=gen)
        heldout_nll = float(-prior.log_prob(u).mean())
    return FKPTrainResult(prior, opts, heldout_nll, time.perf_counter() - start, history)
