"""Kernel utilities: the bicubic ×2 kernel, KernelGAN's post-processing, the analytic
×4 kernel, a size/σ summary, a magnified heat-map picture, and writing a kernel and its
picture to files (numpy/PIL only)."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np
from scipy import ndimage

from sr_desktop.engine.imageio.atomic import atomic_write, file_target_refusal
from sr_desktop.engine.kernelgan.errors import KernelError


def cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5, the MATLAB 'bicubic')."""
    x = np.abs(np.asarray(x, dtype=np.float64))
    near = (a + 2) * x**3 - (a + 3) * x**2 + 1
    far = a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def bicubic_kernel_x2() -> np.ndarray:
    """The 8×8 antialiased bicubic ×2 downscaling kernel (outer product of cubic(t/2)/2 at
    t = ±0.5, ±1.5, ±2.5, ±3.5); the same values as the official code's table."""
    t = np.arange(-3.5, 4.0, 1.0)
    taps = cubic(t / 2.0) / 2.0
    return np.outer(taps, taps)


def center_of_mass(kernel: np.ndarray) -> np.ndarray:
    """(row, col) centre of mass of a 2-D kernel."""
    k = np.asarray(kernel, dtype=np.float64)
    total = k.sum()
    rows = np.arange(k.shape[0]) @ k.sum(axis=1) / total
    cols = np.arange(k.shape[1]) @ k.sum(axis=0) / total
    return np.array([rows, cols])


def zeroize_negligible(kernel: np.ndarray, n: int = 40) -> np.ndarray:
    """Subtract 0.75 × the (n+1)-th largest value, clip at 0, renormalise to sum 1."""
    k = np.asarray(kernel, dtype=np.float64)
    flat = np.sort(k.ravel())
    threshold = 0.75 * flat[-n - 1] if flat.size > n else 0.0
    out = np.clip(k - threshold, 0.0, None)
    total = out.sum()
    if total <= 0:
        raise ValueError("kernel has no positive mass")
    return out / total


def shift_to_center(kernel: np.ndarray, scale: int = 2, pad: bool = True) -> np.ndarray:
    """Shift (cubic spline) so the centre of mass lands on size//2 + 0.5·(scale - size%2).

    With ``pad`` the kernel is first zero-padded by ceil(max |shift|) + 1 per side so no
    mass is lost (the official rule: a 13×13 estimate becomes 17×17 for shifts ≤ 1 px).
    """
    k = np.asarray(kernel, dtype=np.float64)
    wanted = np.array(k.shape) // 2 + 0.5 * (scale - np.array(k.shape) % 2)
    shift = wanted - center_of_mass(k)
    if pad:
        p = int(math.ceil(np.max(np.abs(shift)))) + 1
        k = np.pad(k, p)
    return ndimage.shift(k, shift, order=3, mode="constant")


def aligned_kernel(kernel: np.ndarray, scale: int) -> np.ndarray:
    """A user's kernel shifted (`shift_to_center`: cubic spline, zero-padded so no mass is
    lost) so that its centre of mass lies where the engine's degradation (correlate, keep
    every s-th pixel) needs it for ×`scale`: LR pixel i ↔ HR s·i + (s−1)/2, the alignment of
    MATLAB's bicubic and of the networks' bicubic input. ZSSR's own code shifts every given
    kernel so (``kernel_shift``); a kernel centred on its canvas, e.g. a symmetric Gaussian,
    otherwise put the result (s−1)/2 HR pixels off the input."""
    k = shift_to_center(kernel, scale=scale)
    if np.min(kernel) >= 0:  # the spline rings beside a sharp tap: a blur kernel stays one
        k = np.clip(k, 0.0, None)  # (negative lobes the user gave, as bicubic's, are kept)
    return k / k.sum()  # (the spline shift does not keep the sum exactly)


def post_process_kernel(kernel: np.ndarray, n: int = 40, scale: int = 2,
                        clip_ringing: bool = True) -> np.ndarray:
    """KernelGAN's final kernel: drop negligible taps, then centre (see above).

    The cubic-spline shift rings: next to a sharp edge of the support it leaves negative
    taps (measured on short runs: up to 15-20 % of the mass). A blur kernel is
    non-negative, so by default they are clipped to 0 before renormalising;
    ``clip_ringing=False`` keeps the official behaviour (negatives left in).
    """
    k = shift_to_center(zeroize_negligible(kernel, n), scale=scale)
    if clip_ringing:
        k = np.clip(k, 0.0, None)
    return k / k.sum()  # the spline shift does not preserve the sum exactly


def analytic_kernel_x4(k2: np.ndarray, crop: bool = True) -> np.ndarray:
    """The ×4 kernel equivalent to applying the ×2 kernel twice (blur+subsample ×2, twice).

    big[2r + i, 2c + j] += k2[r, c] · k2[i, j]  (the ×2 kernel convolved with itself
    dilated by 2), size 3n-2; ``crop`` removes n//2 rows/columns per side (negligible
    values, as the official code) and renormalises.
    """
    k = np.asarray(k2, dtype=np.float64)
    n = k.shape[0]
    big = np.zeros((3 * n - 2, 3 * n - 2))
    for r in range(n):
        for c in range(n):
            big[2 * r : 2 * r + n, 2 * c : 2 * c + n] += k[r, c] * k
    m = n // 2
    if crop and m:  # (a 1×1 kernel has nothing to crop: [0:-0] emptied it)
        big = big[m:-m, m:-m]
    return big / big.sum()


def embed(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad (or crop) a square kernel to size×size keeping its centre tap n//2 at size//2."""
    k = np.asarray(kernel, dtype=np.float64)
    out = np.zeros((size, size))
    n = k.shape[0]
    off = size // 2 - n // 2
    src0 = max(0, -off)
    dst0 = max(0, off)
    m = min(n - src0, size - dst0)
    out[dst0 : dst0 + m, dst0 : dst0 + m] = k[src0 : src0 + m, src0 : src0 + m]
    return out


def kernel_summary(kernel: np.ndarray) -> dict:
    """Size, centre of mass and Gaussian-fit σ (major/minor, angle) of a kernel."""
    k = np.clip(np.asarray(kernel, dtype=np.float64), 0, None)
    k = k / k.sum()
    com = center_of_mass(k)
    r, c = np.mgrid[0 : k.shape[0], 0 : k.shape[1]]
    dr, dc = r - com[0], c - com[1]
    cov = np.array([[(k * dr * dr).sum(), (k * dr * dc).sum()], [(k * dr * dc).sum(), (k * dc * dc).sum()]])
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]
    angle = math.degrees(math.atan2(-major[0], major[1])) % 180.0  # image rows grow downwards
    support = int((k > 0.01 * k.max()).sum())
    return {
        "size": int(k.shape[0]),
        "sigma_major": float(math.sqrt(max(evals[1], 0.0))),
        "sigma_minor": float(math.sqrt(max(evals[0], 0.0))),
        "angle_deg": float(angle),
        "center": (float(com[0]), float(com[1])),
        "support_taps": support,
    }


def describe_kernel(kernel: np.ndarray) -> str:
    """One line for a status bar or a terminal: size, σ major/minor, angle."""
    s = kernel_summary(kernel)
    return (
        f"{s['size']}×{s['size']} kernel, σ {s['sigma_major']:.2f} / {s['sigma_minor']:.2f} px, "
        f"angle {s['angle_deg']:.0f}°"
    )


def _heat_colors(t: np.ndarray) -> np.ndarray:
    """A black → red → yellow → white ramp for t in 0..1 (uint8 RGB)."""
    t = np.clip(t, 0.0, 1.0)
    r = np.clip(3.0 * t, 0, 1)
    g = np.clip(3.0 * t - 1.0, 0, 1)
    b = np.clip(3.0 * t - 2.0, 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255.0 + 0.5).astype(np.uint8)


def render_kernel(kernel: np.ndarray, magnify: int = 16, grid: bool = True) -> np.ndarray:
    """A magnified heat map of the kernel (each tap a magnify×magnify block) as uint8 RGB."""
    k = np.asarray(kernel, dtype=np.float64)
    peak = k.max()
    t = k / peak if peak > 0 else np.zeros_like(k)
    rgb = np.repeat(np.repeat(_heat_colors(t), magnify, axis=0), magnify, axis=1)
    if grid and magnify >= 6:
        rgb[::magnify, :, :] = 40
        rgb[:, ::magnify, :] = 40
    return rgb


def check_kernel_target(path: str | os.PathLike, suffix: str, source: str | os.PathLike | None = None) -> Path:
    """`path` if a kernel file (``.npy`` or its ``.png`` picture: `suffix`) may be written
    there, else `KernelError` with one line: a name not ending in `suffix`, a folder that
    does not exist or cannot be written in, a folder of that name, or the input image `source`
    itself, which is never replaced. Whether an existing file may be replaced is the caller's
    question (``--overwrite``, a dialog)."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise KernelError(f"{path}: the file name must end in {suffix}")
    if (why := file_target_refusal(path)) is not None:  # before the estimation, not after it
        raise KernelError(f"cannot write {path}: {why}")
    if source is not None and path.exists() and Path(source).exists() and os.path.samefile(path, source):
        raise KernelError(f"{path}: refusing to overwrite the input image")
    return path


def save_kernel_png(kernel: np.ndarray, path: str | os.PathLike, magnify: int = 16) -> Path:
    """Write `render_kernel` to a PNG atomically (`imageio.atomic.atomic_write`)."""
    from PIL import Image as PILImage

    path = Path(path)
    picture = PILImage.fromarray(render_kernel(kernel, magnify))
    atomic_write(path, lambda fh: picture.save(fh, format="PNG"))
    return path


def save_kernel_files(kernel: np.ndarray, npy: str | os.PathLike, png: str | os.PathLike | None = None) -> list[Path]:
    """Write the kernel to `npy` and, given `png`, its picture (each atomically). Both or
    neither: when the picture cannot be written, an `npy` this call created is removed
    again (an `npy` it replaced is not restored). Returns the paths written; `OSError` as
    the file system raised it."""
    npy = Path(npy)
    existed = npy.exists()
    written = [save_kernel_npy(kernel, npy)]
    if png is not None:
        try:
            written.append(save_kernel_png(kernel, png))
        except BaseException:
            if not existed:
                npy.unlink(missing_ok=True)
            raise
    return written


def failed_kernel_file(failed: object, npy: Path, png: Path | None) -> str:
    """Which of the user's files an `OSError` of `save_kernel_files` is about: its own name
    is the temporary file written beside it (".k.npy.24808-1ac6aa56.part"); both files
    when it names none."""
    if png is not None and failed is None:
        return f"{npy} and {png}"
    if png is not None and Path(str(failed)).name.startswith(f".{png.name}."):
        return str(png)
    return str(npy)


def save_kernel_npy(kernel: np.ndarray, path: str | os.PathLike) -> Path:
    """Write the kernel as a float64 .npy atomically."""
    path = Path(path)
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(kernel, dtype=np.float64))
    atomic_write(path, lambda fh: fh.write(buffer.getvalue()))
    return path
