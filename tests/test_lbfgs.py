"""The engine's own L-BFGS (`compute.lbfgs`): converges like torch.optim's, solves a
quadratic exactly, and map-sr's TV solver no longer imports torch's compiler stack."""

from __future__ import annotations

import torch
from compiler_stack import assert_no_torch_dynamo

from sr_desktop.engine.compute.lbfgs import LBFGS


def rosenbrock(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    f = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
    return f.detach(), torch.autograd.grad(f, x)[0]


def test_rosenbrock_converges_as_fast_as_torch_optim():
    x0 = torch.full((10,), -1.2, dtype=torch.float64)
    ours = LBFGS(rosenbrock, x0, history=10)
    ours.run(200)
    assert float((ours.x - 1).abs().max()) < 1e-8 and float(ours.value) < 1e-16
    assert not ours.step()  # at the minimum: nothing left to do

    x = x0.clone().requires_grad_(True)
    reference = torch.optim.LBFGS([x], lr=1, max_iter=200, history_size=10, tolerance_grad=0,
                                  tolerance_change=0, line_search_fn="strong_wolfe")

    def closure():
        reference.zero_grad()
        f = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        f.backward()
        return f

    reference.step(closure)
    state = reference.state[x]
    # measured: 95 iterations and 107 evaluations for both
    assert ours.iterations <= state["n_iter"] + 5 and ours.evaluations <= state["func_evals"] + 5


def test_a_quadratic_is_solved_to_its_normal_equations():
    g = torch.Generator().manual_seed(0)
    m = torch.randn(30, 30, generator=g, dtype=torch.float64)
    a = m @ m.T + 0.5 * torch.eye(30, dtype=torch.float64)
    b = torch.randn(30, generator=g, dtype=torch.float64)

    def quadratic(x):
        return 0.5 * x @ a @ x - b @ x, a @ x - b

    solver = LBFGS(quadratic, torch.zeros(30, dtype=torch.float64), history=10)
    solver.run(300)
    exact = torch.linalg.solve(a, b)
    # measured 1.6e-7 relative: near the minimum f changes by less than float64 resolves
    # (the line search compares values), so x is good to about √ε·cond, not ε
    assert float((solver.x - exact).abs().max()) < 1e-6 * float(exact.abs().max())


def test_a_non_finite_start_stops_at_once():
    solver = LBFGS(lambda x: (torch.tensor(float("nan")), torch.zeros_like(x)), torch.zeros(3))
    assert not solver.step() and solver.iterations == 0


def test_map_sr_does_not_import_torch_compiler_stack():
    """torch.optim imports torch._dynamo (≈ 820 modules, 1.6 s) on first use: a GUI stall."""
    assert_no_torch_dynamo(
        "from sr_desktop.engine.models.map_sr import make_map_sr_model\n"
        "m = make_map_sr_model(2, kernel=None, device='cpu', iterations=5)\n"
        "m.upscale_array(np.random.default_rng(0).random((24, 24, 3)).astype(np.float32))")
