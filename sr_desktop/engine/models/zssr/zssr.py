"""ZSSR ("Zero-Shot" Super-Resolution, Shocher, Cohen & Irani, CVPR 2018): an
image-specific CNN trained at test time on the input's own downscaled versions.

Recipe (official code's defaults, with the deviations named in `ZSSROptions`):
8 conv layers 3×3, 64 channels, ReLU, no biases, residual on the bicubic-upsampled input;
"HR fathers" are random crops of the input (random scale 0.5..1, 8 rotations/flips), the
"LR son" is the father blurred+subsampled with the kernel (``degrade_with_kernel``); L1
loss; Adam lr 1e-3, ÷10 when the reconstruction error's linear-fit slope is small against
its spread, stop when lr < 9e-6 or at max iterations; final output: 8-way geometric
ensemble, each back-projected, median, back-projected again. ×4: gradual ×2 then ×4,
the ×2 result joining the input as a source of fathers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sr_desktop.engine.compute.degrade import degrade_with_kernel
from sr_desktop.engine.compute.seeded import seeded_torch
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressTracker, check_cancel
from sr_desktop.engine.kernelgan.adam import Adam
from sr_desktop.engine.kernelgan.kernel_ops import cubic
from sr_desktop.engine.models.zssr.weighting import crop_probability, gradient_loss_map


class ZSSRNet(nn.Module):
    """8 conv layers (3→64, 6×64→64, 64→3), ReLU between, residual on the input."""

    def __init__(self, channels: int = 64, depth: int = 8, init_variance: float = 0.1):
        super().__init__()
        layers = []
        for i in range(depth):
            c_in = 3 if i == 0 else channels
            c_out = 3 if i == depth - 1 else channels
            conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
            with torch.no_grad():  # official: N(0, init_variance / fan_in)
                conv.weight.normal_(0.0, (init_variance / (9 * c_in)) ** 0.5)
            layers.append(conv)
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for i, conv in enumerate(self.layers):
            y = conv(y)
            if i < len(self.layers) - 1:
                y = F.relu(y)
        return x + y


def bicubic_kernel(scale: int) -> np.ndarray:
    """Antialiased bicubic ×1/scale downscaling as a kernel for `degrade_with_kernel`:
    odd canvas, centre of mass at centre + (scale-1)/2 (LR pixel i ↔ HR s·i + (s-1)/2)."""
    half = int(round(2.5 * scale - 1))
    offsets = np.arange(-half, half + 1) - (scale - 1) / 2.0
    taps = np.where(np.abs(offsets) < 2 * scale, cubic(offsets / scale) / scale, 0.0)
    k = np.outer(taps, taps)
    return k / k.sum()


def upsample(x: torch.Tensor, scale: float, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Bicubic upsampling used for the network input and back-projection (same in both)."""
    if size is not None:
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False)
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)


def to_tensor(img: np.ndarray, device: torch.device) -> torch.Tensor:
    """An H×W×C array as a 1×C×H×W float32 tensor on `device`."""
    return torch.as_tensor(np.ascontiguousarray(np.transpose(img, (2, 0, 1))), dtype=torch.float32, device=device)[None]


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """The first image of an N×C×H×W tensor as an H×W×C float64 array."""
    return np.transpose(t[0].detach().float().cpu().numpy(), (1, 2, 0)).astype(np.float64)


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """The k-th of the 8 rotations/flips (k in 0..7) of an H×W×C array."""
    out = np.rot90(img, k % 4)
    return np.fliplr(out) if k >= 4 else out


def undo_dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """The inverse of `dihedral`: the k-th rotation/flip turned back."""
    out = np.fliplr(img) if k >= 4 else img
    return np.rot90(out, -(k % 4))


@dataclass
class ZSSROptions:
    """ZSSR's knobs. Official values unless noted."""

    max_iters: int = 3000
    min_iters: int = 256
    lr: float = 1e-3
    min_lr: float = 9e-6
    crop: int = 128
    run_test_every: int = 50
    lr_check_every: int = 60
    lr_slope_range: int = 256
    lr_change_ratio: float = 1.5
    # augmentation (official: leave-as-is 0.05, no-interpolation 0.45, scales 0.5..1;
    # deviation: no shear / free rotation, scales drawn from a fixed pyramid of 6 levels)
    leave_as_is_probability: float = 0.05
    no_interpolate_probability: float = 0.45
    min_scale: float = 0.5
    back_projection_iters: int = 10
    ensemble: bool = True
    noise_std: float = 0.0
    channels: int = 64
    depth: int = 8
    # KernelGAN's ZSSR configuration (see `PRESETS`): L1 weighted by the gradient map,
    # crop centres drawn in proportion to local gradient energy ("uniform": anywhere).
    loss_map: bool = False
    crop_sampling: str = "uniform"

    @classmethod
    def preset(cls, name: str, **overrides) -> ZSSROptions:
        """Options of a named configuration (`PRESETS`), with field overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown ZSSR preset {name!r} (use {', '.join(PRESETS)})")
        return cls(**{**PRESETS[name], **overrides})


#: "zssr": the ZSSR paper's defaults (augmentation, 8-way ensemble, 10 back-projections).
#: "kernelgan": the configuration the KernelGAN paper's pipeline runs ZSSR with (its
#: ZSSRforKernelGAN config): no augmentation, no ensemble, 2 back-projections, the
#: gradient-weighted loss; and gradient-driven crops, which that code has but leaves
#: commented out (it crops uniformly: one Set14 image measured 29.51 dB with them, 29.54
#: without — kept, as docs/kernelgan.md's numbers were measured so). With an estimated kernel, augmentation
#: and the ensemble rotate a non-round kernel (the net then inverts the wrong blur) and
#: many back-projections enforce the estimate's errors; measured in docs/kernelgan.md.
PRESETS: dict[str, dict] = {
    "zssr": {},
    "kernelgan": {
        "leave_as_is_probability": 1.0,
        "no_interpolate_probability": 0.0,
        "ensemble": False,
        "back_projection_iters": 2,
        "loss_map": True,
        "crop_sampling": "gradient",
    },
}


@dataclass
class ZSSRStageLog:
    """One training stage (one scale): iterations, seconds, iterations where lr was cut (0 first) and
    (iteration, reconstruction MSE) pairs."""

    scale: int
    iterations: int
    seconds: float
    lr_changes: list[int] = field(default_factory=list)
    rec_errors: list[tuple[int, float]] = field(default_factory=list)


class ZSSRTrainer:
    """Trains one network on one image for a list of scales, then upscales it."""

    def __init__(self, opts: ZSSROptions, device: torch.device, seed: int):
        self.opts = opts
        self.device = device
        self.rng = np.random.default_rng(seed)
        with seeded_torch(seed, device):
            self.net = ZSSRNet(opts.channels, opts.depth).to(device)
        self.logs: list[ZSSRStageLog] = []
        self._map_cache: dict[tuple[int, int], tuple[np.ndarray | None, np.ndarray | None]] = {}

    # -- data ---------------------------------------------------------------------------
    def _pyramid(self, sources: list[np.ndarray], scale: int) -> list[list[np.ndarray]]:
        from sr_desktop.engine.compute.resample import resize

        levels = np.linspace(1.0, self.opts.min_scale, 6)
        out = []
        for src in sources:
            row = [src]
            for s in levels[1:]:
                h, w = int(src.shape[0] * s), int(src.shape[1] * s)
                if min(h, w) >= 2 * scale:
                    row.append(np.asarray(resize(src.astype(np.float32), (w, h), "bicubic"), dtype=np.float64))
            out.append(row)
        return out

    def _maps(self, img: np.ndarray, size: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(loss weights, cumulative crop-centre probabilities, flattened) of a pyramid
        image, cached: the CDF is built once, not on every draw."""
        key = (id(img), size)
        if key not in self._map_cache:
            weights = gradient_loss_map(img) if self.opts.loss_map else None
            cdf = None
            if self.opts.crop_sampling == "gradient":
                cdf = np.cumsum(crop_probability(img, size).ravel())
                cdf /= cdf[-1]
            self._map_cache[key] = (weights, cdf)
        return self._map_cache[key]

    def _father(self, pyramid: list[list[np.ndarray]], scale: int) -> tuple[np.ndarray, np.ndarray | None]:
        """A random HR father crop and its loss weights (None: plain L1)."""
        o = self.opts
        row = pyramid[self.rng.integers(len(pyramid))]
        u = self.rng.random()
        if u < o.leave_as_is_probability:
            img, k = row[0], 0
        elif u < o.leave_as_is_probability + o.no_interpolate_probability:
            img, k = row[0], int(self.rng.integers(8))
        else:
            img, k = row[int(self.rng.integers(len(row)))], int(self.rng.integers(8))
        h, w = img.shape[:2]
        size = min(o.crop, h, w) // scale * scale
        weights, cdf = self._maps(img, size)
        if cdf is not None:
            # the same draw as rng.choice(n, p=prob), without rebuilding the CDF each time
            centre = int(cdf.searchsorted(self.rng.random(), side="right"))
            top = min(max(centre // w - size // 2, 0), h - size)
            left = min(max(centre % w - size // 2, 0), w - size)
        else:
            top = int(self.rng.integers(h - size + 1))
            left = int(self.rng.integers(w - size + 1))
        father = np.ascontiguousarray(dihedral(img[top : top + size, left : left + size], k))
        if weights is None:
            return father, None
        return father, np.ascontiguousarray(dihedral(weights[top : top + size, left : left + size, None], k))

    def _son(self, father: np.ndarray, kernel: np.ndarray, scale: int) -> np.ndarray:
        son = degrade_with_kernel(father, kernel, scale)
        if self.opts.noise_std > 0:
            son = son + self.rng.normal(0.0, self.opts.noise_std, size=son.shape)
        return np.clip(son, 0.0, 1.0)

    # -- network ------------------------------------------------------------------------
    def forward(self, lr: np.ndarray, scale: int) -> np.ndarray:
        """Network output for a whole LR image (no ensemble, no back-projection)."""
        with torch.inference_mode():
            x = to_tensor(lr, self.device)
            out = self.net(upsample(x, scale, (lr.shape[0] * scale, lr.shape[1] * scale)))
        return np.clip(to_numpy(out), 0.0, 1.0)

    def train(
        self,
        sources: list[np.ndarray],
        kernel: np.ndarray,
        scale: int,
        tracker: ProgressTracker | None = None,
        cancel: CancelToken | None = None,
        offset: int = 0,
    ) -> ZSSRStageLog:
        o = self.opts
        start = time.perf_counter()
        pyramid = self._pyramid(sources, scale)
        self._map_cache.clear()  # keyed by array identity: only valid for this pyramid
        # the engine's Adam, not torch.optim's: its first use imports torch._dynamo, which
        # stalls the GUI thread for up to a second (see engine/kernelgan/adam.py); same updates
        optimizer = Adam(self.net.parameters(), lr=o.lr)
        lr = o.lr
        log = ZSSRStageLog(scale=scale, iterations=0, seconds=0.0, lr_changes=[0])
        test_input = sources[0]
        rec_son = self._son(test_input, kernel, scale)
        it = 0
        for it in range(o.max_iters):
            check_cancel(cancel)
            father, weights = self._father(pyramid, scale)
            son = self._son(father, kernel, scale)
            x = upsample(to_tensor(son, self.device), scale, father.shape[:2])
            y = to_tensor(father, self.device)
            diff = (self.net(x) - y).abs()
            if weights is not None:
                diff = diff * to_tensor(weights, self.device)
            loss = diff.mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if it % o.run_test_every == 0:
                rec = self.forward(rec_son, scale)
                err = float(np.mean((rec[: test_input.shape[0], : test_input.shape[1]] - test_input) ** 2))
                log.rec_errors.append((it, err))
            if (1 + it) % o.lr_check_every == 0 and it - log.lr_changes[-1] > o.min_iters:
                n = max(2, int(o.lr_slope_range / o.run_test_every))
                pts = log.rec_errors[-n:]
                if len(pts) >= 3:
                    xs = np.array([p[0] for p in pts], dtype=np.float64)
                    ys = np.array([p[1] for p in pts], dtype=np.float64)
                    (slope, _), cov = np.polyfit(xs, ys, 1, cov=True)
                    std = float(np.sqrt(max(cov[0, 0], 0.0)))
                    if -o.lr_change_ratio * slope < std:
                        lr /= 10.0
                        optimizer.lr = lr
                        log.lr_changes.append(it)
            if tracker is not None and (it + 1) % 10 == 0:
                tracker.update(offset + it + 1, f"×{scale}: iteration {it + 1}", loss=float(loss.detach()), lr=lr)
            if lr < o.min_lr:
                break
        log.iterations = it + 1
        log.seconds = time.perf_counter() - start
        self.logs.append(log)
        return log

    def back_project(self, sr: np.ndarray, lr: np.ndarray, kernel: np.ndarray, scale: int) -> np.ndarray:
        """y_sr += up(lr - down(y_sr)) repeated, clipped to 0..1 (official: 10 rounds)."""
        for _ in range(self.opts.back_projection_iters):
            residual = lr - degrade_with_kernel(sr, kernel, scale)[: lr.shape[0], : lr.shape[1]]
            with torch.inference_mode():
                up = upsample(to_tensor(residual, self.device), scale, sr.shape[:2])
            sr = np.clip(sr + to_numpy(up), 0.0, 1.0)
        return sr

    def final_output(
        self, lr: np.ndarray, kernel: np.ndarray, scale: int, cancel: CancelToken | None = None
    ) -> np.ndarray:
        """8-way ensemble with back-projection and median (or one pass when `ensemble` is off)."""
        outs = []
        for k in range(8 if self.opts.ensemble else 1):
            check_cancel(cancel)
            sr = undo_dihedral(self.forward(np.ascontiguousarray(dihedral(lr, k)), scale), k)
            outs.append(self.back_project(np.ascontiguousarray(sr), lr, kernel, scale))
        sr = np.median(np.stack(outs), axis=0) if len(outs) > 1 else outs[0]
        return self.back_project(sr, lr, kernel, scale)


def zssr_upscale(
    lr: np.ndarray,
    scale: int,
    kernels: dict[int, np.ndarray],
    opts: ZSSROptions | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, list[ZSSRStageLog]]:
    """Train ZSSR on `lr` (H×W×3 float 0..1) and return (SR image, per-stage logs).

    `kernels` maps each stage's scale to its downscaling kernel: {2: k2} for ×2, {2: k2,
    4: k4} for gradual ×4, or {4: k4} for a direct ×4 stage.
    """
    opts = opts or ZSSROptions()
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    stages = sorted(s for s in kernels if s <= scale)
    if not stages or stages[-1] != scale:
        raise ValueError(f"need a kernel for ×{scale}")
    trainer = ZSSRTrainer(opts, dev, seed)
    tracker = ProgressTracker(opts.max_iters * len(stages), progress, stage="zssr")
    sources = [np.asarray(lr, dtype=np.float64)]
    result = sources[0]
    for i, s in enumerate(stages):
        trainer.train(sources, kernels[s], s, tracker, cancel, offset=i * opts.max_iters)
        tracker.update((i + 1) * opts.max_iters, f"×{s}: final test")
        result = trainer.final_output(sources[0], kernels[s], s, cancel)
        sources.append(result)
    return result, trainer.logs
