"""How a training pair's low-resolution image is made from its high-resolution one.

* ``bicubic``: MATLAB's ``imresize(hr, 1/s, 'bicubic')`` on the 8-bit image, rounded to
  8 bits (`engine.compute.matlab_resize`) — the protocol of the published tables, and of
  the app's ``bench``. Deterministic, so the LR of a whole image is made once.
* ``kernel:FILE.npy[,noise=SIGMA][,jpeg=QUALITY]``: blur with a kernel checked by the one
  kernel rule (`core.kernel_file`; e.g. the kernel KernelGAN estimated from the user's
  photos) and keep every s-th pixel (`compute.degrade.degrade_with_kernel`, the
  KernelGAN/DIV2KRK operator); then, per patch, Gaussian noise of σ = SIGMA/255 and a JPEG
  round trip at QUALITY, when given.
* ``realesrgan``: a subset of the second-order pipeline of Real-ESRGAN (Wang et al., ICCVW
  2021, §3.1): twice blur (isotropic or anisotropic Gaussian), random resize (drawn
  uniformly over the range), Gaussian noise, JPEG; then a resize to the LR size and a
  final JPEG. Not here: the released settings' Poisson noise, generalized and plateau
  kernels, sinc filters, resize-probability table and the final JPEG/sinc order swap.
  Random per patch, made from the HR patch.

Every degradation also has `downscale_torch`, a differentiable approximation used by the
cycle-consistency loss.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from sr_desktop.engine.compute.degrade import correlate_channels, degrade_with_kernel, gaussian_kernels
from sr_desktop.engine.compute.matlab_resize import imresize, resize_weights
from sr_desktop.engine.compute.resample import quantize
from sr_desktop.engine.core.errors import KernelError
from sr_desktop.engine.core.kernel_file import load_kernel_file
from sr_desktop.engine.training.errors import TrainingError

DEGRADATION_HELP = "bicubic, kernel:FILE.npy[,noise=SIGMA][,jpeg=QUALITY] or realesrgan"


def jpeg_round_trip(x: np.ndarray, quality: int) -> np.ndarray:
    """H×W×3 float 0..1 -> the same after JPEG encoding at `quality` (PIL, 4:2:0)."""
    buffer = io.BytesIO()
    PILImage.fromarray(quantize(x, np.uint8)).save(buffer, "JPEG", quality=int(quality))
    buffer.seek(0)
    return np.asarray(PILImage.open(buffer).convert("RGB"), dtype=np.float32) / 255.0


def bicubic_downscale_torch(x: torch.Tensor, scale: int) -> torch.Tensor:
    """N×C×H×W -> N×C×(H/s)×(W/s) by MATLAB's antialiased bicubic (float, differentiable)."""
    h, w = x.shape[-2:]
    rows = torch.as_tensor(resize_weights(h, h // scale, 1.0 / scale), dtype=x.dtype, device=x.device)
    cols = torch.as_tensor(resize_weights(w, w // scale, 1.0 / scale), dtype=x.dtype, device=x.device)
    return rows @ x @ cols.T


@dataclass(frozen=True)
class Bicubic:
    """The bench protocol's degradation (see the module doc)."""

    label: str = "bicubic"
    random: bool = False
    #: a flip or transpose of a pair is a pair of the same degradation (a symmetric kernel)
    flips_commute: bool = True

    def whole(self, hr: np.ndarray, scale: int) -> np.ndarray:
        """The LR image (float32 0..1) of a uint8 HR image whose sides are multiples of `scale`."""
        return imresize(hr, 1.0 / scale).astype(np.float32) / 255.0

    def finish(self, lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The per-patch random part (none)."""
        return lr

    def downscale_torch(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """Differentiable version, for the cycle loss."""
        return bicubic_downscale_torch(x, scale)


@dataclass(frozen=True, eq=False)
class KernelBlur:
    """Blur with a given kernel, subsample; optional noise and JPEG (see the module doc)."""

    kernel: np.ndarray
    noise: float = 0.0  # σ on the 0..255 scale
    jpeg: int = 0  # quality, 0 = none
    label: str = "kernel"
    random: bool = False
    #: a flipped or transposed pair is one of the flipped or transposed kernel, and the
    #: sampling phase moves by scale - 1 pixels (a σ 2.2/0.5 kernel trained on such pairs
    #: measured 32.58 dB, on unflipped ones 34.09): the HR is flipped before it is degraded
    flips_commute: bool = False

    @property
    def reach(self) -> int:
        """How many HR pixels either side of it one LR pixel's blur reads."""
        return max(self.kernel.shape) // 2

    def whole(self, hr: np.ndarray, scale: int) -> np.ndarray:
        """The blurred and subsampled image (float32 0..1) of a uint8 HR image."""
        return degrade_with_kernel(hr.astype(np.float64) / 255.0, self.kernel, scale).astype(np.float32)

    def finish(self, lr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Noise and JPEG of one LR patch, in 8-bit steps as an image file holds it (and as
        the bench's ``kernel:`` degradation makes it: the validation scored float LR images,
        0.001–0.003 dB off the bench's number for the same images)."""
        if self.noise > 0:
            lr = np.clip(lr + rng.normal(0.0, self.noise / 255.0, lr.shape).astype(np.float32), 0.0, 1.0)
        if self.jpeg:
            return jpeg_round_trip(lr, self.jpeg)
        return quantize(lr, np.uint8).astype(np.float32) / 255.0

    def downscale_torch(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """Correlate with the kernel (reflect border), keep every s-th pixel."""
        k = torch.as_tensor(self.kernel, dtype=x.dtype, device=x.device)
        n = k.shape[0]
        c = x.shape[1]
        before, after = n // 2, n - 1 - n // 2
        padded = F.pad(x, (before, after, before, after), mode="replicate")
        blurred = F.conv2d(padded, k.expand(c, 1, n, n), groups=c)
        return blurred[..., ::scale, ::scale]


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float, angle: float) -> np.ndarray:
    """An anisotropic Gaussian blur kernel (size × size, sum 1) rotated by `angle` (radians)."""
    return gaussian_kernels(np.array([sigma_x, sigma_y, angle]), size)[0]


@dataclass(frozen=True)
class RealESRGANStage:
    """The random ranges of one order of the Real-ESRGAN pipeline (its released settings)."""

    sigma: tuple[float, float]
    resize: tuple[float, float]
    noise: tuple[float, float]
    jpeg: tuple[int, int]


#: first and second order (Real-ESRGAN's options file: blur σ 0.2–3 / 0.2–1.5, resize
#: 0.15–1.5 / 0.3–1.2, Gaussian noise σ 1–30 / 1–25, JPEG 30–95 / 30–95)
REALESRGAN_STAGES = (
    RealESRGANStage(sigma=(0.2, 3.0), resize=(0.15, 1.5), noise=(1.0, 30.0), jpeg=(30, 95)),
    RealESRGANStage(sigma=(0.2, 1.5), resize=(0.3, 1.2), noise=(1.0, 25.0), jpeg=(30, 95)),
)
REALESRGAN_KERNEL_SIZES = (7, 9, 11, 13, 15, 17, 19, 21)
#: the second order's blur is skipped with this probability (as released)
SECOND_BLUR_SKIP = 0.2
_PIL_FILTERS = (PILImage.Resampling.BILINEAR, PILImage.Resampling.BICUBIC, PILImage.Resampling.BOX)


def _resize(x: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    filt = _PIL_FILTERS[int(rng.integers(len(_PIL_FILTERS)))]
    channels = [PILImage.fromarray(x[:, :, c].astype(np.float32), mode="F").resize((width, height), filt)
                for c in range(x.shape[2])]
    return np.stack([np.asarray(c, dtype=np.float32) for c in channels], axis=2)


@dataclass(frozen=True)
class RealESRGAN:
    """The second-order real-world degradation (see the module doc)."""

    label: str = "realesrgan"
    random: bool = True
    #: its kernels are drawn at every angle: a flipped pair is another draw of the same law
    flips_commute: bool = True
    stages: tuple[RealESRGANStage, ...] = field(default=REALESRGAN_STAGES)

    def patch(self, hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
        """The LR patch (float32 0..1, HR size / scale) of an HR patch (float32 0..1)."""
        h, w = hr.shape[:2]
        x = hr
        for order, stage in enumerate(self.stages):
            if not (order == 1 and rng.random() < SECOND_BLUR_SKIP):
                size = int(rng.choice(REALESRGAN_KERNEL_SIZES))
                sx = rng.uniform(*stage.sigma)
                sy = sx if rng.random() < 0.5 else rng.uniform(*stage.sigma)
                x = correlate_channels(x, gaussian_kernel(size, sx, sy, rng.uniform(0, math.pi))).astype(np.float32)
            # the first resize is relative to the HR size, the second to the LR size (as released)
            factor = rng.uniform(*stage.resize) / (1 if order == 0 else scale)
            x = _resize(x, max(2, round(w * factor)), max(2, round(h * factor)), rng)
            sigma = rng.uniform(*stage.noise) / 255.0
            grey = rng.random() < 0.4
            shape = (*x.shape[:2], 1) if grey else x.shape
            x = np.clip(x + rng.normal(0.0, sigma, shape).astype(np.float32), 0.0, 1.0)
            if order == 0:
                x = jpeg_round_trip(x, int(rng.integers(stage.jpeg[0], stage.jpeg[1] + 1)))
        x = np.clip(_resize(x, w // scale, h // scale, rng), 0.0, 1.0)
        return jpeg_round_trip(x, int(rng.integers(self.stages[1].jpeg[0], self.stages[1].jpeg[1] + 1)))

    def downscale_torch(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        """Its deterministic core, bicubic, for the cycle loss."""
        return bicubic_downscale_torch(x, scale)


Degradation = Bicubic | KernelBlur | RealESRGAN


def parse_degradation(text: str) -> Degradation:
    """``bicubic`` | ``kernel:FILE.npy[,noise=SIGMA][,jpeg=QUALITY]`` | ``realesrgan``."""
    text = (text or "bicubic").strip()
    if text == "bicubic":
        return Bicubic()
    if text == "realesrgan":
        return RealESRGAN()
    if text.startswith("kernel:") and len(text) > len("kernel:"):
        path, *options = text[len("kernel:"):].split(",")
        noise, jpeg = 0.0, 0
        for option in options:
            key, _, value = option.partition("=")
            try:
                if key.strip() == "noise":
                    noise = float(value)
                    ok = 0 <= noise <= 100
                elif key.strip() == "jpeg":
                    jpeg = int(value)
                    ok = 1 <= jpeg <= 100
                else:
                    ok = False
            except ValueError:
                ok = False
            if not ok:
                raise TrainingError(f"degradation option {option!r}: use noise=SIGMA (0..100) or jpeg=QUALITY (1..100)")
        try:
            kernel = load_kernel_file(Path(path))
        except KernelError as exc:
            raise TrainingError(str(exc)) from None
        return KernelBlur(kernel=kernel, noise=noise, jpeg=jpeg, label=text)
    raise TrainingError(f"unknown degradation {text!r} (use {DEGRADATION_HELP})")
