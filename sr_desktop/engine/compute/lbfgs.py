"""L-BFGS with a strong-Wolfe line search over one tensor, without `torch.optim`.

The method is the textbook one (Nocedal & Wright, *Numerical Optimization*, 2nd ed.):
the two-loop recursion for the quasi-Newton direction with H₀ = (sᵀy / yᵀy)·I from the
newest pair (Alg. 7.4, eq. 7.20), and the line search of Alg. 3.5/3.6 — bracket a step
that satisfies the strong Wolfe conditions, then zoom with safeguarded cubic interpolation.

Why not `torch.optim.LBFGS`: constructing any `torch.optim` optimizer imports
`torch._dynamo` on first use (≈ 820 modules, 1.6 s measured here). In the GUI's worker
thread that import holds the GIL and stalls the window when a map-sr job starts (the same
reason KernelGAN and ZSSR use `engine.kernelgan.adam`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

#: x -> (f(x) as a 0-d tensor, ∇f(x)), both without autograd history
ValueAndGrad = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a * b).sum())


def _cubic_minimum(t1: float, f1: float, d1: float, t2: float, f2: float, d2: float,
                   low: float, high: float) -> float:
    """Minimiser of the cubic through (t1, f1, f1') and (t2, f2, f2'), kept in [low, high];
    the middle of the interval when the cubic has no minimum there."""
    if t1 == t2:
        return 0.5 * (low + high)
    e1 = d1 + d2 - 3.0 * (f1 - f2) / (t1 - t2)
    disc = e1 * e1 - d1 * d2
    if disc < 0 or not math.isfinite(disc):
        return 0.5 * (low + high)
    e2 = math.copysign(math.sqrt(disc), t2 - t1)
    denominator = d2 - d1 + 2.0 * e2
    if denominator == 0:
        return 0.5 * (low + high)
    t = t2 - (t2 - t1) * (d2 + e2 - e1) / denominator
    return min(max(t, low), high) if math.isfinite(t) else 0.5 * (low + high)


class LBFGS:
    """Minimises f from `x` (a copy is kept in ``self.x``); `history` (s, y) pairs.

    ``step()`` runs one iteration (direction, line search, update) and returns False once
    no further progress is possible (a zero gradient, no descent along the direction, or a
    line search that found no lower point); ``value``/``grad`` are f and ∇f at ``self.x``.
    """

    def __init__(self, value_and_grad: ValueAndGrad, x: torch.Tensor, history: int = 10,
                 c1: float = 1e-4, c2: float = 0.9, max_evaluations: int = 25) -> None:
        if not 0 < c1 < c2 < 1:
            raise ValueError("the Wolfe constants need 0 < c1 < c2 < 1")
        self._value_and_grad = value_and_grad
        self.history = max(1, int(history))
        self.c1, self.c2, self.max_evaluations = c1, c2, max_evaluations
        self.x = x.detach().clone()
        self.value, self.grad = value_and_grad(self.x)
        self.evaluations = 1
        self.iterations = 0
        self._pairs: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # (s, y, 1 / yᵀs)

    def run(self, iterations: int) -> bool:
        """Up to `iterations` steps; False when it stopped early (see `step`)."""
        for _ in range(iterations):
            if not self.step():
                return False
        return True

    def step(self) -> bool:
        g = self.grad
        if not math.isfinite(float(self.value)) or float(g.abs().max()) == 0.0:
            return False
        d = self._direction(g)
        slope = _dot(g, d)
        if not slope < 0:  # rounding spoiled the curvature pairs: start over along -∇f
            self._pairs.clear()
            d = -g
            slope = -_dot(g, g)
        # the first step has no curvature to scale it: at most a unit step in the L1 sense
        t0 = min(1.0, 1.0 / float(g.abs().sum())) if self.iterations == 0 else 1.0
        found = self._line_search(d, t0, slope)
        if found is None:
            return False
        t, value, grad = found
        s = t * d
        y = grad - g
        ys = _dot(y, s)
        if ys > 1e-10:  # keep only pairs with positive curvature: H stays positive definite
            self._pairs.append((s, y, 1.0 / ys))
            del self._pairs[: -self.history]
        self.x = self.x + s
        self.value, self.grad = value, grad
        self.iterations += 1
        return True

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        q = -g
        alphas = []
        for s, y, rho in reversed(self._pairs):
            a = rho * _dot(s, q)
            q = q - a * y
            alphas.append(a)
        if self._pairs:
            _, y, rho = self._pairs[-1]
            q = q * (1.0 / (rho * _dot(y, y)))  # H₀ = sᵀy / yᵀy
        for (s, y, rho), a in zip(self._pairs, reversed(alphas), strict=True):
            b = rho * _dot(y, q)
            q = q + (a - b) * s
        return q

    def _evaluate(self, d: torch.Tensor, t: float) -> tuple[float, torch.Tensor, torch.Tensor, float]:
        value, grad = self._value_and_grad(self.x + t * d)
        self.evaluations += 1
        return float(value), value, grad, _dot(grad, d)

    def _line_search(self, d: torch.Tensor, t: float, slope0: float):
        """(t, f, ∇f) at a step meeting the strong Wolfe conditions, or the lowest point
        found below f(x) when the evaluations run out; None when there is none."""
        f0 = float(self.value)
        prev = (0.0, f0, None, None, slope0)  # (t, f as float, f, ∇f, f'(t))
        best = None
        for i in range(self.max_evaluations):
            f, value, grad, slope = self._evaluate(d, t)
            current = (t, f, value, grad, slope)
            if math.isfinite(f) and f < f0 and (best is None or f < best[1]):
                best = current
            if not math.isfinite(f) or f > f0 + self.c1 * t * slope0 or (i > 0 and f >= prev[1]):
                return self._zoom(d, prev, current, f0, slope0, best, self.max_evaluations - i - 1)
            if abs(slope) <= -self.c2 * slope0:
                return t, value, grad
            if slope >= 0:
                return self._zoom(d, current, prev, f0, slope0, best, self.max_evaluations - i - 1)
            # still descending: extrapolate, at least a little and at most ten times further
            t_next = _cubic_minimum(prev[0], prev[1], prev[4], t, f, slope, t + 0.01 * (t - prev[0]), 10.0 * t)
            prev, t = current, t_next
        return None if best is None else (best[0], best[2], best[3])

    def _zoom(self, d, lo, hi, f0, slope0, best, evaluations):
        """Alg. 3.6: shrink [lo, hi] (lo: the lower end, meeting the sufficient decrease)
        around a strong-Wolfe step."""
        for _ in range(evaluations):
            if not math.isfinite(hi[1]):  # an overflow: no cubic through it, bisect
                t = 0.5 * (lo[0] + hi[0])
            else:
                left, right = min(lo[0], hi[0]), max(lo[0], hi[0])
                margin = 0.1 * (right - left)
                t = _cubic_minimum(lo[0], lo[1], lo[4], hi[0], hi[1], hi[4], left + margin, right - margin)
            if abs(hi[0] - lo[0]) * float(d.abs().max()) < 1e-12:
                break
            f, value, grad, slope = self._evaluate(d, t)
            current = (t, f, value, grad, slope)
            if math.isfinite(f) and f < f0 and (best is None or f < best[1]):
                best = current
            if not math.isfinite(f) or f > f0 + self.c1 * t * slope0 or f >= lo[1]:
                hi = current
                continue
            if abs(slope) <= -self.c2 * slope0:
                return t, value, grad
            if slope * (hi[0] - lo[0]) >= 0:
                hi = lo
            lo = current
        return None if best is None else (best[0], best[2], best[3])
