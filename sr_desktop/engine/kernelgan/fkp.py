"""FKP: a normalizing-flow prior over blur kernels (after Liang, Zhang, Van Gool & Timofte,
"Flow-based Kernel Prior with Application to Blind Super-Resolution", CVPR 2021).

The flow is a RealNVP-style bijection between a kernel and a standard-normal latent z of the
same dimension. A kernel k (n×n, non-negative, sum 1) is first mapped to the unconstrained
vector u = log(k + eps) (`encode_kernel`; `decode_kernel` is its exact inverse on valid
kernels: clip(exp(u) − eps, 0), then renormalise, so *any* u gives a valid kernel). Then
``blocks`` times: an activation normalisation (per-dimension scale and shift, initialised
from the first batch's statistics), a fixed random permutation (its seed is a constructor
argument, so a saved state dict rebuilds the same flow), and an affine coupling (the first
half of the vector, through a small MLP, scales and shifts the second half; scales are
bounded by a tanh, and the MLP's last layer starts at zero so each block starts as the
identity).

Size: n = 11 (the paper's ×2 size 4s+3, and the support of the synthetic set's DIV2KRK-style
kernels). KernelGAN's collapsed generator is 13×13; the KernelGAN-FKP generator
(fkp_generator.py) zero-pads the flow's 11×11 kernel to 13×13, so the rest of the estimation
(the strided correlation, the post-processing to 17×17) is unchanged.

``forward(u) -> (z, log|det ∂z/∂u|)``, ``inverse(z) -> u``, ``log_prob(u)`` (density of u,
natural log), ``sample(n)``; ``kernel_from_latent(z)`` adds the kernel transform.
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: the kernel side the shipped prior models (×2; see the module docstring)
KERNEL_SIZE = 11
#: u = log(k + EPS): taps far below EPS all look alike to the flow, which is what a prior
#: for kernel PSNR needs (errors of 1e-3 on the tail taps are ~70 dB)
EPS = 1e-3


def encode_kernel(kernel: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """N×n×n (or n×n) kernels → N×n² (or n²) flow inputs u = log(max(k, 0) + eps)."""
    flat = kernel.reshape(*kernel.shape[:-2], -1)
    return torch.log(flat.clamp_min(0.0) + eps)


def decode_kernel(u: torch.Tensor, size: int, eps: float = EPS) -> torch.Tensor:
    """Flow outputs → valid kernels (non-negative, sum 1): clip(exp(u) − eps, 0), renormalised.

    Exactly inverts `encode_kernel` for a kernel that is non-negative and sums to 1."""
    k = (torch.exp(u) - eps).clamp_min(0.0)
    k = k / k.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    return k.reshape(*u.shape[:-1], size, size)


class ActNorm(nn.Module):
    """y = (x − loc) · exp(−log_scale), per dimension; loc/scale set from the first batch."""

    def __init__(self, dim: int):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not bool(self.initialized) and self.training:
            with torch.no_grad():
                self.loc.copy_(x.mean(dim=0))
                self.log_scale.copy_(torch.log(x.std(dim=0).clamp_min(1e-6)))
                self.initialized.fill_(1)
        y = (x - self.loc) * torch.exp(-self.log_scale)
        return y, (-self.log_scale.sum()).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(self.log_scale) + self.loc


class AffineCoupling(nn.Module):
    """The second part x2 → x2 · exp(s(x1)) + t(x1); x1 passes unchanged."""

    def __init__(self, dim: int, hidden: int, max_log_scale: float):
        super().__init__()
        self.split = dim // 2
        out = dim - self.split
        self.max_log_scale = float(max_log_scale)
        self.net = nn.Sequential(
            nn.Linear(self.split, hidden), nn.LeakyReLU(0.1),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.1),
            nn.Linear(hidden, 2 * out),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, x1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_s, t = self.net(x1).chunk(2, dim=-1)
        # bounded log-scales keep the inverse well conditioned
        s = self.max_log_scale * torch.tanh(raw_s / self.max_log_scale)
        return s, t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x1, x2 = x[:, : self.split], x[:, self.split :]
        s, t = self._scale_shift(x1)
        return torch.cat([x1, x2 * torch.exp(s) + t], dim=1), s.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y[:, : self.split], y[:, self.split :]
        s, t = self._scale_shift(y1)
        return torch.cat([y1, (y2 - t) * torch.exp(-s)], dim=1)


class FlowKernelPrior(nn.Module):
    """A RealNVP flow over n×n kernels (see the module docstring).

    Hyper-parameters are the constructor arguments (recorded beside the shipped weights):
    `kernel_size` n, `blocks` (actnorm + permutation + coupling each), `hidden` (MLP width),
    `max_log_scale` (bound of each coupling's log-scale), `permutation_seed`, `eps`.
    """

    def __init__(self, kernel_size: int = KERNEL_SIZE, blocks: int = 8, hidden: int = 128,
                 max_log_scale: float = 2.0, permutation_seed: int = 0, eps: float = EPS):
        super().__init__()
        self.kernel_size = int(kernel_size)
        self.dim = self.kernel_size**2
        self.eps = float(eps)
        self.hparams = {"kernel_size": self.kernel_size, "blocks": int(blocks), "hidden": int(hidden),
                        "max_log_scale": float(max_log_scale), "permutation_seed": int(permutation_seed),
                        "eps": self.eps}
        gen = torch.Generator().manual_seed(int(permutation_seed))
        self.norms = nn.ModuleList(ActNorm(self.dim) for _ in range(blocks))
        self.couplings = nn.ModuleList(AffineCoupling(self.dim, hidden, max_log_scale) for _ in range(blocks))
        for i in range(blocks):
            perm = torch.randperm(self.dim, generator=gen)
            self.register_buffer(f"perm{i}", perm)
            self.register_buffer(f"unperm{i}", torch.argsort(perm))

    def _perm(self, i: int, inverse: bool = False) -> torch.Tensor:
        return getattr(self, f"unperm{i}" if inverse else f"perm{i}")

    def forward(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """N×d flow inputs → (N×d latents, N log-determinants of the Jacobian)."""
        logdet = torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
        x = u
        for i, (norm, coupling) in enumerate(zip(self.norms, self.couplings, strict=True)):
            x, ld = norm(x)
            logdet = logdet + ld
            x = x[:, self._perm(i)]
            x, ld = coupling(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """N×d latents → N×d flow inputs (differentiable in z)."""
        x = z
        for i in reversed(range(len(self.couplings))):
            x = self.couplings[i].inverse(x)
            x = x[:, self._perm(i, inverse=True)]
            x = self.norms[i].inverse(x)
        return x

    def log_prob(self, u: torch.Tensor) -> torch.Tensor:
        """Log-density (nats) of each row of `u` under the flow."""
        z, logdet = self.forward(u)
        base = -0.5 * (z**2).sum(dim=1) - 0.5 * self.dim * math.log(2.0 * math.pi)
        return base + logdet

    def kernel_log_prob(self, kernels: torch.Tensor) -> torch.Tensor:
        """`log_prob` of N×n×n kernels after `encode_kernel` (the density of u, not of k)."""
        return self.log_prob(encode_kernel(kernels, self.eps))

    def kernel_from_latent(self, z: torch.Tensor) -> torch.Tensor:
        """N×d latents → N×n×n valid kernels (differentiable in z)."""
        return decode_kernel(self.inverse(z), self.kernel_size, self.eps)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """`n` kernels (n×size×size) drawn from the prior (z ~ N(0, temperature² I))."""
        z = torch.randn(n, self.dim, generator=generator) * temperature
        return self.kernel_from_latent(z)
