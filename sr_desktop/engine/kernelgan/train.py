"""KernelGAN's estimation loop (Bell-Kligler, Shocher & Irani, NeurIPS 2019).

``estimate_kernel`` trains G (deep linear ×1/2 downscaler) against D (patch
discriminator) on crops of the single input image, and returns G's kernel after the
official post-processing. Faithful by default to the official training recipe (losses,
weights, schedules, optimiser, crop sizes and sampling); every change is an option of
`KernelGANOptions`, documented in docs/kernelgan.md:

* G runs through its collapsed kernel (exact reparametrisation, ~15× cheaper; see
  generator.py) — not an option, it computes the same function.
* ``batch``: crops per step (official: 1). Schedules are in iterations, unchanged.
* ``accumulate_d_noise``: the official code adds D's N(0, 1/255) noise *in place* into the
  stored image, so the noise accumulates over the run (and G sees it too). Default off
  (fresh noise per crop); True reproduces the quirk.
* ``mix_channels``: the official bicubic loss sums the three channels (no ``groups``),
  which is why its trigger never fires on bright/dark images. Default off (per channel).
* ``early_stop``: stop once the post-processed kernel stops moving.
* ``trigger_min_sum``: the bicubic weight decays only once the generator is alive
  (Σk ≥ 0.5); the official trigger fires on a dead one (kernel ≈ 0) too, and decaying then
  caused the bad runs of issue 20.
* ``retry_doubtful``: a run whose confidence (confidence.py) is below "reliable", or that
  diverged (no usable kernel), is run again with the next unused seed; the better-scored
  run is kept, and the estimate fails only when every seed tried diverged. ``dead_by`` and
  ``settle_by`` stop a run whose generator is still dead, or whose kernel has not settled
  while the image doubts it, early enough to leave time for that retry.
* ``threads``: the estimate (fit and KernelGAN) runs on one intra-op thread unless told
  otherwise.
* ``restarts`` (argument): independent runs with seeds seed, seed+1, … whose centred
  kernels are combined (the reliable ones) — against the reference's seed-to-seed spread.
* Adam is the engine's own (adam.py: same arithmetic, no torch._dynamo import).
* ``prior="fkp"``: KernelGAN-FKP (Liang et al., CVPR 2021): the kernel is a frozen flow
  prior's image of a latent z (fkp_generator.py) and only z is trained, with the same GAN
  game and bicubic schedule; the kernel regularisers are dropped (every kernel the prior
  produces is non-negative, sums to 1 and is centred).
* ``method``: "auto" (default) first fits an anisotropic Gaussian from cross-scale
  sharpness (sharpness_fit.py, seconds), then runs KernelGAN; when the fit explains the
  image the estimate is the mean of the two kernels (result method "combined": their errors
  differ in kind, and the mean beat either alone on held-out images), otherwise KernelGAN's
  alone; "kernelgan" always runs KernelGAN alone; "sharpness" always takes the fit.

Over 500 lines because the official recipe is one loop (schedules, restarts, divergence,
the sharpness fit and the combination of runs); networks, losses and options are modules
of their own.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from sr_desktop.engine.compute.devices import torch_threads
from sr_desktop.engine.compute.psnr import psnr_from_mse
from sr_desktop.engine.compute.seeded import seeded_torch
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressTracker, check_cancel
from sr_desktop.engine.kernelgan import losses
from sr_desktop.engine.kernelgan.adam import Adam
from sr_desktop.engine.kernelgan.confidence import (
    ALIVE_MIN_SUM,
    TEXTURELESS,
    is_reliable,
    is_textureless,
    restart_agreement_db,
    run_confidence,
    too_short,
)
from sr_desktop.engine.kernelgan.crops import CropSampler, gather_crops
from sr_desktop.engine.kernelgan.discriminator import KernelDiscriminator
from sr_desktop.engine.kernelgan.errors import KernelError
from sr_desktop.engine.kernelgan.fkp import FlowKernelPrior
from sr_desktop.engine.kernelgan.fkp_generator import FKPGenerator
from sr_desktop.engine.kernelgan.fkp_weights import load_prior
from sr_desktop.engine.kernelgan.generator import KernelGenerator
from sr_desktop.engine.kernelgan.kernel_ops import analytic_kernel_x4, embed, post_process_kernel
from sr_desktop.engine.kernelgan.options import (
    DRAWN_SEEDS_BELOW,
    G_CROP,
    OFFICIAL_ITERATIONS,
    PRIORS,
    KernelGANOptions,
    check_counts,
    check_method,
    smallest_image_side,
)
from sr_desktop.engine.kernelgan.sharpness_fit import SharpnessFit, central_crop, fit_kernel


@dataclass
class KernelEstimate:
    """Result of `estimate_kernel`. `kernel` is for the requested scale (×2 or analytic ×4)."""

    kernel: np.ndarray
    kernel_x2: np.ndarray
    scale: int
    iterations_run: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    restart_kernels: list[np.ndarray] = field(default_factory=list)
    #: the seed of the first KernelGAN run (drawn at random when none was given); None for
    #: the sharpness fit, which has no randomness
    seed: int | None = 0
    #: 0..1, from the image alone (engine.kernelgan.confidence); ``reliable`` = ≥ RELIABLE_AT
    confidence: float = 0.0
    reliable: bool = False
    restart_confidences: list[float] = field(default_factory=list)
    #: median pairwise PSNR of the restarts' kernels (None for one run)
    restart_agreement_db: float | None = None
    #: what produced ``kernel``: "sharpness" (the Gaussian fit), "kernelgan", or "combined"
    #: (the mean of the two: method "auto" where the fit explains the image)
    method: str = "kernelgan"
    #: the sharpness fit's misfit when it was tried (methods "auto" / "sharpness"), else None
    fit_misfit: float | None = None
    #: why the estimate is doubtful beyond its score ("": only the score says), e.g. `TEXTURELESS`
    doubt: str = ""


def _check_image(image: np.ndarray, shave: int) -> np.ndarray:
    """Validate an input image without copying it (shape, finite values, size after the
    border shave); returns it as an array."""
    img = np.asarray(image)
    if img.dtype.kind != "f" and img.dtype not in (np.uint8, np.uint16):
        # (an int64 image was taken as 0..1 floats: another kernel, without a word)
        raise KernelError(f"expected an 8- or 16-bit image (uint8, uint16) or floats in 0..1, got {img.dtype}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (1, 2, 3, 4))):
        raise KernelError(f"expected an H×W or H×W×C image, got shape {tuple(img.shape)}")
    if img.dtype.kind == "f" and not np.all(np.isfinite(img)):
        raise KernelError("image contains NaN or infinite values")
    if img.dtype.kind == "f" and img.size:
        low, high = float(img.min()), float(img.max())
        if not (-1e-3 <= low and high <= 1 + 1e-3):  # (0..255 floats gave another kernel, confidence 0.0 for 0.95)
            raise KernelError(f"a float image is on the 0..1 scale; this one spans {low:g}..{high:g} "
                              "(divide 0..255 values by 255, or pass the uint8 array)")
    h, w = img.shape[:2]
    if min(h - 2 * max(shave, 0), w - 2 * max(shave, 0)) // 2 * 2 < G_CROP:
        need = smallest_image_side(shave)
        raise KernelError(f"image too small for kernel estimation: {w}×{h} px, need at least {need}×{need}")
    return img


def _as_float_rgb(img: np.ndarray, shave: int) -> np.ndarray:
    """An image `_check_image` accepted as H×W×3 float64 0..1, border shaved, sides cropped
    to even."""
    if img.dtype == np.uint8:
        img = img.astype(np.float64) / 255.0
    elif img.dtype == np.uint16:
        img = img.astype(np.float64) / 65535.0
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] in (1, 2):
        img = np.repeat(img[:, :, :1], 3, axis=2)
    img = img[:, :, :3]
    if shave > 0:
        img = img[shave:-shave, shave:-shave]
    h, w = img.shape[:2]
    return img[: h - h % 2, : w - w % 2]


def resolve_kernelgan_device(device: str | torch.device) -> torch.device:
    """The device a kernel estimation runs on: ``auto`` is the CPU, even beside a GPU. Its
    networks are too small to fill one, so kernel launches set the pace: the default run on
    a 256² image took 56 s on an NVIDIA H200 against 33 s on one core of this project's Xeon
    (docs/kernelgan.md). An explicit ``cuda``/``mps`` is kept."""
    if isinstance(device, torch.device):
        return device
    if (device or "auto").lower() == "auto":
        return torch.device("cpu")
    from sr_desktop.engine.compute.devices import resolve_device

    return resolve_device(device)


class _Schedule:
    """The official "learner": lr decay, bicubic-weight decay, late constraints."""

    def __init__(self, opts: KernelGANOptions, iterations: int):
        self.opts = opts
        factor = iterations / OFFICIAL_ITERATIONS if opts.scale_schedule else 1.0
        self.milestones = {max(1, int(round(m * iterations))) for m in opts.lr_milestones}
        self.update_every = max(1, int(round(opts.bicubic_update_every * factor)))
        self.lambda_bicubic = opts.lambda_bicubic
        self.lambda_centralized = 0.0
        self.lambda_sparse = 0.0
        self.counter = 0
        self.similar_to_bicubic = False
        self.constraints_inserted = False
        self.trigger_iteration: int | None = None
        self.decay_iterations: list[int] = []

    def update(self, iteration: int, loss_bicubic: torch.Tensor, kernel_sum: torch.Tensor, optimizers) -> None:
        if iteration == 0:
            return
        if iteration in self.milestones:
            for opt in optimizers:
                opt.lr *= 0.1
        if not self.similar_to_bicubic:
            # The only per-iteration host sync; it stops once the trigger has fired.
            if float(loss_bicubic) < self.opts.bicubic_trigger:
                if self.counter >= 2:
                    self.similar_to_bicubic = True
                    self.trigger_iteration = iteration
                else:
                    self.counter += 1
            else:
                self.counter = 0
        elif (iteration % self.update_every == 0 and self.lambda_bicubic > self.opts.bicubic_min
              and (self.opts.trigger_min_sum <= 0 or float(kernel_sum) >= self.opts.trigger_min_sum)):
            # A dead generator (kernel ≈ 0, output mid-grey) also has a bicubic loss below
            # 0.4 on many images, so the trigger often fires before G has come alive. The
            # official code then decays the bicubic weight anyway and, if G is still dead
            # at that step, it never recovers (the bad runs of issue 20). The decay waits
            # for a live G instead; runs whose G is alive by then are unchanged.
            self.decay_iterations.append(iteration)
            self.lambda_bicubic = max(self.lambda_bicubic / self.opts.bicubic_decay, self.opts.bicubic_min)
            if not self.constraints_inserted and self.lambda_bicubic < 5e-3:
                self.lambda_centralized = self.opts.lambda_centralized_end
                self.lambda_sparse = self.opts.lambda_sparse_end
                self.constraints_inserted = True


def _kernel_change_db(a: np.ndarray, b: np.ndarray) -> float:
    size = max(a.shape[0], b.shape[0])
    d = embed(a, size) - embed(b, size)
    return psnr_from_mse(float(np.mean(d**2)))


class _Diverged(Exception):
    """One run ended without a usable kernel (the reason in words) after `iterations_run`."""

    def __init__(self, reason: str, iterations_run: int):
        super().__init__(reason)
        self.iterations_run = iterations_run


def _run_once(
    img: np.ndarray,
    scale_g: int,
    iterations: int,
    device: torch.device,
    seed: int,
    opts: KernelGANOptions,
    tracker: ProgressTracker,
    offset: int,
    restart: int,
    cancel: CancelToken | None,
    history: list[dict],
    prior: FlowKernelPrior | None = None,
    dead_by: int | None = None,
    settle_by: int | None = None,
) -> tuple[np.ndarray, int, float]:
    """One training run: (post-processed ×2 kernel, iterations run, confidence).

    Stop at iteration `dead_by` if the generator is still dead, at the first early-stop check
    from `settle_by` on if the kernel has not settled and the image doubts the run so far;
    the run's record in `history` says which (``cut``). A run that ends without a usable
    kernel appends its record with ``diverged`` (no confidence) and raises `_Diverged`."""
    first_record = len(history)
    rng = np.random.default_rng(seed)
    with seeded_torch(seed, device):
        G = (KernelGenerator(scale=scale_g) if prior is None else FKPGenerator(prior, scale=scale_g)).to(device)
        D = KernelDiscriminator().to(device)
        D.reset_parameters()
        G.reset_parameters()
    noise_gen = torch.Generator(device=device)
    noise_gen.manual_seed(seed + 7919)
    opt_g = Adam(G.parameters(), lr=opts.lr if prior is None else opts.fkp_lr, betas=opts.betas)
    regularise = prior is None  # a prior's kernels are valid by construction
    opt_d = Adam(D.parameters(), lr=opts.lr, betas=opts.betas)
    schedule = _Schedule(opts, iterations)
    mask = torch.as_tensor(losses.boundary_mask(G.kernel_size), dtype=torch.float32, device=device)

    sampler = CropSampler(img, g_size=G_CROP, d_size=(G_CROP - G.shave()) // scale_g, scale=scale_g)
    d_size = sampler.d_size
    B = max(1, int(opts.batch))
    g_tops_all, d_tops_all = sampler.sample(iterations * B, rng)
    g_tops_all = torch.as_tensor(g_tops_all, device=device)
    d_tops_all = torch.as_tensor(d_tops_all, device=device)
    # The official code works on [-1, 1]; D's real-crop noise is 1/255 on the 0..1 scale.
    image = torch.as_tensor(np.transpose(img, (2, 0, 1)) * 2.0 - 1.0, dtype=torch.float32, device=device)
    image = image.contiguous()

    def run_record(iterations_run: int) -> dict:
        return {
            "restart": restart,
            "seed": seed,
            "iterations_run": iterations_run,
            "bicubic_trigger_iteration": schedule.trigger_iteration,
            "bicubic_decay_iterations": schedule.decay_iterations,
            "constraints_inserted": schedule.constraints_inserted,
            "cut": cut,
            "alive_iteration": alive_at,
        }

    last_kernel: np.ndarray | None = None
    stable = 0
    cut: str | None = None  # "dead" or "unsettled" when stopped before settling
    alive_at: int | None = None  # first progress record with a live generator (Σk ≥ ALIVE_MIN_SUM)
    it = 0
    for it in range(iterations):
        check_cancel(cancel)
        g_tops = g_tops_all[it * B : (it + 1) * B]
        d_tops = d_tops_all[it * B : (it + 1) * B]
        g_in = gather_crops(image, g_tops, G_CROP)
        real_noise = torch.randn((B, 3, d_size, d_size), generator=noise_gen, device=device) * (2.0 / 255.0)
        if opts.accumulate_d_noise:
            for b in range(B):
                top, left = int(d_tops[b, 0]), int(d_tops[b, 1])
                image[:, top : top + d_size, left : left + d_size] += real_noise[b]
            d_in = gather_crops(image, d_tops, d_size)
        else:
            d_in = gather_crops(image, d_tops, d_size) + real_noise

        # --- G step
        for p in D.parameters():
            p.requires_grad_(False)
        k = G.kernel()
        g_pred = G(g_in, kernel=k)
        loss_gan = losses.gan_loss(D(g_pred), real=True)
        loss_bic = losses.bicubic_loss(g_in, g_pred, opts.mix_channels)
        total = loss_gan + schedule.lambda_bicubic * loss_bic
        if regularise:
            total = (total + opts.lambda_sum2one * losses.sum_to_one_loss(k)
                     + opts.lambda_boundaries * losses.boundaries_loss(k, mask))
        if regularise and schedule.lambda_centralized:
            total = total + schedule.lambda_centralized * losses.centralized_loss(k, scale_g)
        if regularise and schedule.lambda_sparse:
            total = total + schedule.lambda_sparse * losses.sparsity_loss(k)
        opt_g.zero_grad()
        total.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)

        # --- D step (G's output after its update, plus N(0, 1/255) on the [-1, 1] scale)
        with torch.no_grad():
            fake = G(g_in)
            fake = fake + torch.randn(fake.shape, generator=noise_gen, device=device) / 255.0
        loss_d = 0.5 * (losses.gan_loss(D(fake), real=False) + losses.gan_loss(D(d_in), real=True))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        schedule.update(it, loss_bic.detach(), k.detach().sum(), (opt_g, opt_d))
        if (it + 1) % opts.progress_every == 0 and not torch.isfinite(k.detach()).all():
            history.append({**run_record(it + 1), "diverged": "non-finite values"})
            raise _Diverged("non-finite values", it + 1)

        done = it + 1
        want_kernel = done % opts.kernel_every == 0 or done == iterations
        check = opts.early_stop and done % opts.check_every == 0
        if done % opts.progress_every == 0 or want_kernel or check or done == iterations:
            extra = {
                "iteration": done,
                "restart": restart,
                "loss_g": float(loss_gan.detach()),
                "loss_d": float(loss_d.detach()),
                "loss_bicubic": float(loss_bic.detach()),
                "lambda_bicubic": schedule.lambda_bicubic,
                "kernel_sum": float(k.detach().sum()),
            }
            if alive_at is None and extra["kernel_sum"] >= ALIVE_MIN_SUM:
                alive_at = done
            history.append(dict(extra))
            if alive_at is None and dead_by is not None and dead_by <= done < iterations:
                cut = "dead"
            current = None
            if want_kernel or check:
                current = post_process_kernel(G.kernel().detach().double().cpu().numpy(), opts.n_filtering)
            if want_kernel:
                extra["kernel"] = current
            tracker.update(offset + done, f"restart {restart + 1}: iteration {done}/{iterations}", **extra)
            if cut is not None:
                break
            if check:
                ready = schedule.constraints_inserted and done >= opts.early_stop_min_fraction * iterations
                if last_kernel is not None and ready and _kernel_change_db(current, last_kernel) > opts.early_stop_db:
                    stable += 1
                else:
                    stable = 0
                last_kernel = current
                if stable >= 2:
                    break
                if settle_by is not None and settle_by <= done < iterations:
                    # decided once, at the first check from settle_by on: a run the image
                    # trusts by then goes on to settle
                    so_far = [h for h in history[first_record:] if "loss_d" in h]
                    if not is_reliable(run_confidence(so_far, extra["kernel_sum"])):
                        cut = "unsettled"
                        break
                    settle_by = None  # trusted: not judged again
    k_raw = G.kernel().detach().double().cpu().numpy()
    record = run_record(it + 1)
    if not np.all(np.isfinite(k_raw)) or np.clip(k_raw, 0, None).sum() <= 0:
        history.append({**record, "diverged": "no usable kernel"})
        raise _Diverged("no usable kernel", it + 1)
    raw_sum = float(k_raw.sum())
    records = [h for h in history[first_record:] if "loss_d" in h]
    confidence = run_confidence(records, raw_sum)
    history.append({**record, "raw_kernel_sum": raw_sum, "confidence": confidence})
    return post_process_kernel(k_raw, opts.n_filtering), it + 1, confidence


def average_kernels(kernels: list[np.ndarray], scale: int = 2, how: str = "median") -> np.ndarray:
    """Element-wise median (or mean) of centred kernels on one canvas, re-centred, renormalised."""
    from sr_desktop.engine.kernelgan.kernel_ops import shift_to_center

    size = max(k.shape[0] for k in kernels)
    stack = [embed(k / k.sum(), size) for k in kernels]
    mean = np.median(stack, axis=0) if how == "median" else np.mean(stack, axis=0)
    mean = np.clip(mean, 0.0, None)
    out = shift_to_center(mean / mean.sum(), scale=scale, pad=False)
    out = np.clip(out, 0.0, None)
    return out / out.sum()


def estimate_kernel(
    image: np.ndarray,
    scale: int = 2,
    iterations: int = OFFICIAL_ITERATIONS,
    device: str | torch.device = "auto",
    seed: int | None = None,
    restarts: int = 1,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    options: KernelGANOptions | None = None,
    **overrides,
) -> KernelEstimate:
    """Estimate the image's ×2 blur kernel (×4: the analytic kernel from it).

    With the default ``method="auto"`` an anisotropic Gaussian is first fitted from
    cross-scale sharpness (``sharpness_fit``; deterministic, 1–2 s for a 256² image, up to
    5–8 s for a large one), then KernelGAN runs as below. When the fit explains the image
    (misfit ≤ ``MISFIT_TRUSTED``) the estimate is the mean of the two centred kernels
    (``method`` "combined", confidence from the fit's misfit; KernelGAN restarts that diverge
    are left out, and should all diverge the fit alone is the estimate), otherwise KernelGAN's
    kernel. ``method="sharpness"`` returns the fit alone
    (no iterations, ``seed`` None).
    `image`: H×W×C float 0..1 (uint8/uint16 accepted), the low-resolution input.
    `seed` makes the run reproducible (None: drawn, reported as ``KernelEstimate.seed``).
    `restarts` > 1 combines the centred kernels of independent runs (the reliable ones).
    The result carries ``confidence`` (0..1, from the image alone) and ``reliable``. `progress`
    gets a `ProgressInfo` every `progress_every` iterations with ``extra`` = iteration,
    restart, losses, kernel_sum (of G's raw kernel: below ALIVE_MIN_SUM the generator is
    dead), and every `kernel_every` iterations the current post-processed kernel
    (``extra["kernel"]``). `cancel` is checked every iteration (raises `Cancelled`).
    Keyword `overrides` set fields of `KernelGANOptions`.
    """
    if scale not in (2, 4):
        raise KernelError(f"kernel estimation supports scale 2 or 4, not {scale}")
    opts = dataclasses.replace(options) if options is not None else KernelGANOptions()
    for name, value in overrides.items():
        if not hasattr(opts, name):
            raise KernelError(f"unknown kernel estimation option {name!r}")
        setattr(opts, name, value)
    check_counts(iterations, opts.batch, restarts)
    if opts.restart_combine not in ("median", "mean"):
        raise KernelError("restart_combine must be 'median' or 'mean'")
    for name in ("dead_by", "settle_by"):
        value = getattr(opts, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value <= 1.0:
            raise KernelError(f"{name} must be a fraction between 0 and 1 (0: never)")
    if opts.threads is not None and (isinstance(opts.threads, bool) or not isinstance(opts.threads, numbers.Integral)
                                     or opts.threads < 1):
        raise KernelError("threads must be at least 1 (or None: torch's setting)")
    if opts.prior not in PRIORS:
        raise KernelError(f"unknown kernel prior {opts.prior!r} (choose {' or '.join(PRIORS)})")
    check_method(opts.method)
    # validated whole once; converted to float64 only if KernelGAN runs (the fit crops first)
    image = _check_image(image, opts.shave_border)
    if seed is None:
        seed = int(np.random.default_rng().integers(0, DRAWN_SEEDS_BELOW))
    # the fit too: it ran on the callers' one thread before the limit moved here
    with torch_threads(opts.threads):
        estimate = _estimate(image, scale, iterations, device, seed, restarts, progress, cancel, opts)
    if is_textureless(image):
        # nothing in the image shows its blur: every kernel explains it (KernelGAN's D has
        # nothing to tell apart and scored a flat image 0.98, "reliable")
        return dataclasses.replace(estimate, confidence=0.0, reliable=False, doubt=TEXTURELESS)
    if estimate.method == "kernelgan" and too_short(iterations):
        # its score is D's, and D has not learned anything yet (the fit's, when combined,
        # does not depend on the run's length)
        return dataclasses.replace(estimate, reliable=False, doubt=too_short(iterations))
    return estimate


def _estimate(image: np.ndarray, scale: int, iterations: int, device: str | torch.device, seed: int, restarts: int,
              progress: ProgressCallback | None, cancel: CancelToken | None,
              opts: KernelGANOptions) -> KernelEstimate:
    """`estimate_kernel` on checked arguments (the image validated, the seed drawn)."""
    start = time.perf_counter()
    # what KernelGAN would need is checked before the fit: a bad device or missing prior
    # weights are one error now, not only on the images the fit does not explain. The device
    # also for the fit alone, which does not use it: --device cuda without CUDA ran silently
    uses_kernelgan = opts.method != "sharpness"
    prior = load_prior() if uses_kernelgan and opts.prior == "fkp" else None
    dev = resolve_kernelgan_device(device)
    fit = None
    if opts.method != "kernelgan":
        # unshaved: the statistic wants every pixel; cropped first: no second full-size copy
        fit = fit_kernel(_as_float_rgb(central_crop(image), 0), cancel=cancel)
        if not uses_kernelgan:
            return _fitted_estimate(fit, scale, time.perf_counter() - start, progress)
    combine_with = fit if fit is not None and fit.trusted else None
    img = _as_float_rgb(image, opts.shave_border)
    tracker = ProgressTracker(iterations * restarts, progress, stage="kernel")
    history: list[dict] = []
    kernels: list[np.ndarray] = []
    scores: list[float] = []
    total_its = 0
    offset = 0
    retry_seed = seed + restarts
    diverged: list[str] = []

    retries = max(0, int(opts.retry_doubtful))
    # iterations of the early cuts (dead_by, settle_by); none without early stopping
    dead_at, settle_at = (max(1, int(f * iterations)) if opts.early_stop and f else None
                          for f in (opts.dead_by, opts.settle_by))

    def run(run_seed: int, restart: int, retry_left: bool) -> tuple[np.ndarray | None, float]:
        """One run; a diverged one is (None, -inf) so that it is retried like a doubtful one."""
        nonlocal offset, total_its
        try:
            k, n, c = _run_once(img, 2, iterations, dev, run_seed, opts, tracker, offset, restart, cancel, history,
                                prior, *((dead_at, settle_at) if retry_left else (None, None)))
        except _Diverged as why:
            diverged.append(f"seed {run_seed}: {why}")
            k, n, c = None, why.iterations_run, -math.inf
        offset += iterations
        total_its += n
        return k, c

    for r in range(restarts):
        diverged.clear()
        k, c = run(seed + r, r, retries > 0)
        for attempt in range(retries):
            if k is not None and is_reliable(c):
                break
            # a doubtful or diverged run: one more seed, keep whichever the image trusts more
            tracker.total += iterations
            k_new, c_new = run(retry_seed, r, attempt + 1 < retries)
            retry_seed += 1
            if k_new is not None and (k is None or c_new > c):
                k, c = k_new, c_new
        # a dead generator (confidence 0: its kernel is numerical noise) is no estimate to
        # average with a trusted fit (it moved σ minor 0.65 → 1.16, the verdict "reliable")
        if k is None or (combine_with is not None and c <= 0.0):
            if combine_with is not None:  # the fit explains the image: go on without this restart
                continue
            tried = "; ".join(diverged)
            raise KernelError(f"kernel estimation diverged ({tried}); try another seed or more iterations")
        kernels.append(k)
        scores.append(c)
    if not kernels:  # every KernelGAN run diverged beside a trusted fit: the fit alone
        alone = _fitted_estimate(combine_with, scale, time.perf_counter() - start, progress)
        return dataclasses.replace(alone, seed=seed, iterations_run=total_its, history=history)
    k2, confidence = _combine_runs(kernels, scores, opts.restart_combine)
    method, reliable = "kernelgan", is_reliable(confidence)
    if combine_with is not None:
        k2 = average_kernels([combine_with.kernel, k2], how="mean")
        method, confidence, reliable = "combined", combine_with.confidence, combine_with.trusted
    kernel = k2 if scale == 2 else analytic_kernel_x4(k2)
    tracker.update(tracker.total, "done", iteration=iterations, restart=restarts - 1, kernel=kernel)
    return KernelEstimate(
        kernel=kernel,
        kernel_x2=k2,
        scale=scale,
        iterations_run=total_its,
        seconds=time.perf_counter() - start,
        history=history,
        restart_kernels=kernels,
        seed=seed,
        confidence=confidence,
        reliable=reliable,
        restart_confidences=scores,
        restart_agreement_db=restart_agreement_db(kernels),
        method=method,
        fit_misfit=None if fit is None else fit.misfit,
    )


def _fitted_estimate(fit: SharpnessFit, scale: int, seconds: float,
                     progress: ProgressCallback | None) -> KernelEstimate:
    k2 = fit.kernel
    kernel = k2 if scale == 2 else analytic_kernel_x4(k2)
    tracker = ProgressTracker(1, progress, stage="kernel")
    tracker.update(1, "done", iteration=0, restart=0, kernel=kernel)
    return KernelEstimate(
        kernel=kernel,
        kernel_x2=k2,
        scale=scale,
        iterations_run=0,
        seconds=seconds,
        restart_kernels=[k2],
        seed=None,
        confidence=fit.confidence,
        reliable=fit.trusted,
        restart_confidences=[fit.confidence],
        method="sharpness",
        fit_misfit=fit.misfit,
    )


def _combine_runs(kernels: list[np.ndarray], scores: list[float], how: str) -> tuple[np.ndarray, float]:
    """The kernel of one run, or the median (mean) of the runs the image trusts: the
    reliable ones when there are any, else all. Returns (×2 kernel, its confidence)."""
    if len(kernels) == 1:
        return kernels[0], scores[0]
    keep = [i for i, c in enumerate(scores) if is_reliable(c)] or list(range(len(kernels)))
    if len(keep) == 1:
        return kernels[keep[0]], scores[keep[0]]
    return average_kernels([kernels[i] for i in keep], how=how), float(np.mean([scores[i] for i in keep]))
