"""MAP reconstruction: x̂ = argmin_x ½‖D(x) − y‖² + (α / s²)·Ψ(x), the reconstruction-based
SR of the surveys (e.g. Park, Park & Kang, "Super-resolution image reconstruction: a
technical overview", IEEE Signal Processing Magazine 2003; Yue et al., "Image
super-resolution: the techniques, applications, and future", Signal Processing 2016).

Priors Ψ and their solvers:

* ``"tikhonov"``: Ψ = ½‖∇x‖² (the graph Laplacian xᵀLx, Neumann border). The problem is
  quadratic, so its minimiser solves the normal equations (DᵀD + α/s² ∇ᵀ∇) x = Dᵀy, which
  are symmetric positive definite: conjugate gradients, warm-started at the bicubic
  upscale. Dᵀ comes from autograd (A·v is the gradient of the quadratic at v).
* ``"tv"``: Ψ = Σ √(|∇x|² + ε²) per channel (Charbonnier-smoothed isotropic total
  variation), minimised by L-BFGS with a strong-Wolfe line search (`compute.lbfgs`, not
  `torch.optim`, whose first use imports torch._dynamo and stalls the GUI). Why not ADMM with FFTs:
  D uses the symmetric border and a spatially exact subsampling, which FFT diagonalisation
  only reaches for periodic images; L-BFGS needs nothing but D and its autograd adjoint,
  runs the same on CPU and GPU, and converges in a few hundred iterations.

Dividing α by s² keeps one α for every scale: the data term sums over LR pixels, the
prior over s² times as many HR pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sr_desktop.engine.compute.lbfgs import LBFGS
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressTracker, check_cancel

PRIORS = ("tv", "tikhonov")


@dataclass(frozen=True)
class MapSROptions:
    """The solver's knobs. `alpha`: prior weight (per scale-normalised pixel); `iterations`:
    L-BFGS iterations (TV) or CG iterations (Tikhonov); `eps`: Charbonnier smoothing of TV
    (0..1 intensities); `history`: L-BFGS memory; `report_every`: iterations between
    progress reports and cancel checks."""

    prior: str = "tv"
    alpha: float = 3e-5
    iterations: int = 300
    eps: float = 1e-3
    history: int = 10
    report_every: int = 10


def gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences along columns and rows, zero across the last column/row (Neumann)."""
    dx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    dy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    return dx, dy


def prior_value(x: torch.Tensor, prior: str, eps: float) -> torch.Tensor:
    """Ψ(`x`) over all pixels and channels: ½‖∇x‖² for ``"tikhonov"``, else TV Σ √(|∇x|² + `eps`²)."""
    dx, dy = gradients(x)
    if prior == "tikhonov":
        return 0.5 * (dx.square().sum() + dy.square().sum())
    return torch.sqrt(dx.square() + dy.square() + eps * eps).sum()


def objective(x: torch.Tensor, y: torch.Tensor, degrade: Callable, opts: MapSROptions, scale: int) -> torch.Tensor:
    """½‖D(x) − y‖² + (α / s²)·Ψ(x)."""
    data = 0.5 * (degrade(x) - y).square().sum()
    return data + (opts.alpha / scale**2) * prior_value(x, opts.prior, opts.eps)


def _solve_tikhonov(x0, y, degrade, opts, scale, tracker, cancel) -> torch.Tensor:
    weight = opts.alpha / scale**2

    def normal(v: torch.Tensor) -> torch.Tensor:
        # A·v = ∇ of ½‖Dv‖² + w·½‖∇v‖² (a quadratic form: its gradient is linear in v)
        v = v.detach().requires_grad_(True)
        q = 0.5 * degrade(v).square().sum() + weight * prior_value(v, "tikhonov", 0.0)
        return torch.autograd.grad(q, v)[0]

    probe = torch.zeros_like(x0, requires_grad=True)
    rhs = torch.autograd.grad((degrade(probe) * y).sum(), probe)[0]  # Dᵀy
    x = x0.clone()
    r = rhs - normal(x)
    p = r.clone()
    rr = r.square().sum()
    for it in range(opts.iterations):
        if it % opts.report_every == 0:
            check_cancel(cancel)
            tracker.update(it, f"CG iteration {it}", residual=float(rr.sqrt()))
        ap = normal(p)
        step = rr / (p * ap).sum().clamp_min(1e-30)
        x = x + step * p
        r = r - step * ap
        rr_new = r.square().sum()
        if float(rr_new) <= 1e-12 * float(rhs.square().sum()):
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def _solve_tv(x0, y, degrade, opts, scale, tracker, cancel) -> torch.Tensor:
    def value_and_grad(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = v.detach().requires_grad_(True)
        loss = objective(v, y, degrade, opts, scale)
        return loss.detach(), torch.autograd.grad(loss, v)[0]

    solver = LBFGS(value_and_grad, x0, history=opts.history)
    done = 0
    while done < opts.iterations:
        check_cancel(cancel)
        tracker.update(done, f"L-BFGS iteration {done}", objective=float(solver.value))
        chunk = min(opts.report_every, opts.iterations - done)
        moving = solver.run(chunk)
        done += chunk
        if not moving:  # converged (or no lower point along the direction): nothing to gain
            break
    return solver.x


def map_sr(y: torch.Tensor, x0: torch.Tensor, degrade: Callable, scale: int, opts: MapSROptions,
           progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> torch.Tensor:
    """Solve the MAP problem for LR `y` (N×C×h×w) from `x0` (N×C×H×W, the bicubic upscale)
    with the degradation `degrade` (a callable N×C×H×W → N×C×h×w, e.g. `KernelDegradation`).
    Returns x̂ unclipped; progress counts solver iterations; `Cancelled` on `cancel`."""
    if opts.prior not in PRIORS:
        raise ValueError(f"unknown prior {opts.prior!r} (use {', '.join(PRIORS)})")
    tracker = ProgressTracker(opts.iterations, progress, stage="map-sr")
    solve = _solve_tikhonov if opts.prior == "tikhonov" else _solve_tv
    with torch.enable_grad():
        x = solve(x0.detach(), y.detach(), degrade, opts, scale, tracker, cancel)
    tracker.update(opts.iterations, "done")
    return x.detach()
