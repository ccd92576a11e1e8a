"""The one rule for a blur kernel given by a user (a ``.npy`` file or an array).

Every consumer (the evaluation's ``kernel:FILE.npy`` degradation, the ZSSR model, the
GUI's kernel panel, the CLI) checks kernels here, so a file one accepts the others accept.

The rule: a numeric, finite, square 2-D array of 1..`MAX_KERNEL_SIZE` taps with a positive
sum, non-negative up to the interpolation ringing of KernelGAN's older output
(`RINGING_TOLERANCE`); it is returned as float64 normalised to sum 1. Files must be
``.npy`` arrays readable without pickles.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np

from sr_desktop.engine.core.errors import KernelError, one_line

MAX_KERNEL_SIZE = 101
#: kernels at least this wide are ×4 kernels (the analytic ×4 kernel of a 17×17 ×2 kernel
#: is 33×33); smaller ones are ×2 kernels
X4_KERNEL_MIN_SIZE = 25
#: Kernels estimated by this version are non-negative (the engine clips the cubic-spline
#: centring's ringing); files from older runs or other tools may still carry such ringing
#: (measured before the clip: 0.5-15 % negative mass), and the bicubic kernel, the standard
#: SR degradation and ZSSR's default, has negative lobes (20.5 % of its mass at ×2, its
#: lowest tap -8 % of its peak). Within this bound (of the mass, and of the peak for the
#: lowest tap) kernels are accepted unchanged; beyond it they are refused.
RINGING_TOLERANCE = 0.25


#: what an array of each numpy kind holds, said to a user (not "dtype <U1")
_NOT_TAPS = {"U": "text", "S": "text", "c": "complex numbers", "b": "true/false values",
             "M": "dates", "m": "time spans", "O": "Python objects", "V": "records"}


def check_kernel(array: Any, name: str = "kernel") -> np.ndarray:
    """`array` as a usable blur kernel (float64, sum 1) or `KernelError` naming `name`."""
    k = np.asarray(array)
    if k.dtype == object or not np.issubdtype(k.dtype, np.number) or np.iscomplexobj(k):
        held = _NOT_TAPS.get(k.dtype.kind, "values that are not numbers")
        raise KernelError(f"{name}: the array holds {held}; a kernel's taps are real numbers")
    if k.ndim != 2:
        has = (f"{k.size} values in one row" if k.ndim == 1 else "a single value" if k.ndim == 0
               else f"{k.ndim} dimensions ({'×'.join(map(str, k.shape))})")
        raise KernelError(f"{name}: a kernel is a square 2-D array of taps; this one has {has}")
    if k.shape[0] != k.shape[1] or k.shape[0] < 1:
        raise KernelError(f"{name}: a kernel must be square, got {k.shape[1]}×{k.shape[0]}")
    if k.shape[0] > MAX_KERNEL_SIZE:
        raise KernelError(f"{name}: kernel too large ({k.shape[0]}×{k.shape[0]}, at most "
                          f"{MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE})")
    k = k.astype(np.float64)
    if not np.all(np.isfinite(k)):
        raise KernelError(f"{name}: the kernel contains NaN or infinite values")
    peak = float(np.abs(k).max())
    if peak > 0:
        k = k / peak  # the sum of finite taps near the float maximum overflowed to inf (and k/inf = 0)
    total = float(k.sum())
    if total <= 0:
        raise KernelError(f"{name}: the kernel sums to {total:.3g}; a blur kernel has a positive sum")
    negative = float(-k[k < 0].sum())
    if negative > RINGING_TOLERANCE * total or k.min() < -RINGING_TOLERANCE * k.max():
        raise KernelError(f"{name}: the kernel has negative taps (min {k.min():.3g}, "
                          f"{negative / total:.0%} of its mass); a blur kernel is non-negative")
    return k / total


#: the most values a kernel file is read with (its header says how many): far above any kernel
_MOST_VALUES_READ = 16 * MAX_KERNEL_SIZE * MAX_KERNEL_SIZE

#: the first bytes of every .npy file
NPY_MAGIC = b"\x93NUMPY"


def load_kernel_file(path: str | Path) -> np.ndarray:
    """Read a kernel ``.npy`` (no pickles) and `check_kernel` it; `KernelError` otherwise."""
    path = Path(path)
    if not path.exists():  # (before the suffix: a mistyped name is said not found)
        raise KernelError(f"{path}: kernel file not found")
    if path.suffix.lower() != ".npy":
        raise KernelError(f"{path.name}: a kernel file is a .npy array (as the Blur kernel panel's Save kernel… "
                          "and `sr-desktop kernel` write it)")
    if not path.is_file():
        raise KernelError(f"{path}: not a file")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(NPY_MAGIC))
            if magic != NPY_MAGIC:  # numpy would take it for a pickle and say so
                raise KernelError(f"cannot read kernel {path.name}: not a readable .npy array (no .npy header)")
            fh.seek(0)
            # the header's shape first: a 200-byte file declaring 2^20 × 2^20 values made numpy
            # allocate 8 TB ("not enough memory… close other programs"; a traceback in the window)
            version = np.lib.format.read_magic(fh)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _fortran, _dtype = header(fh)
        if math.prod(shape) > _MOST_VALUES_READ:  # (smaller ones get `check_kernel`'s own words)
            raise KernelError(f"{path.name}: kernel too large (an array of {'×'.join(map(str, shape))} values, a "
                              f"kernel has at most {MAX_KERNEL_SIZE}×{MAX_KERNEL_SIZE})")
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise KernelError(f"cannot read kernel {path.name}: not a readable .npy array ({one_line(exc)})") from None
    return check_kernel(array, path.name)


def as_kernel(kernel: Any, name: str = "kernel") -> np.ndarray:
    """A checked kernel from a ``.npy`` path or an array (the two ways users give one)."""
    if isinstance(kernel, (str, Path)):
        return load_kernel_file(kernel)
    return check_kernel(kernel, name)


def odd_canvas(kernel: np.ndarray) -> np.ndarray:
    """An even-sized kernel padded by a zero row and column: an odd canvas with the same
    centre tap (n//2), which the degradation's correlation expects."""
    if kernel.shape[0] % 2:
        return kernel
    return np.pad(kernel, ((0, 1), (0, 1)))


def kernel_spec_parts(spec: object) -> tuple[str, str] | None:
    """(the file, the rest from its first comma: ",noise=5" or "") of a ``kernel:FILE[,…]``
    degradation spec; None for any other spec."""
    if not isinstance(spec, str) or not spec.startswith("kernel:"):
        return None
    path, comma, rest = spec[len("kernel:"):].partition(",")
    return path, comma + rest


def kernel_scale(kernel: np.ndarray) -> int:
    """The SR scale a kernel is for, judged by its size (×4 kernels are at least 25 wide)."""
    return 4 if kernel.shape[0] >= X4_KERNEL_MIN_SIZE else 2


def kernel_size_note(name: str, kernel: np.ndarray, scale: int, as_given: str) -> str | None:
    """One line when `kernel`'s size says another scale than the ×`scale` it is used at (by
    size alone, so a note rather than a refusal: a wide ×2 blur is as large), saying what is
    done with it (`as_given`); None when the sizes agree or the scale is not 2 or 4."""
    judged = kernel_scale(kernel)
    if scale not in (2, 4) or judged == scale:
        return None
    return (f"note: {name} is {kernel.shape[1]}×{kernel.shape[0]}, the size of a ×{judged} kernel; "
            f"at ×{scale} {as_given}")


def kernel_digest(kernel: np.ndarray) -> str:
    """The sha256 of a kernel's values (float64) and shape: what tells one kernel from
    another whatever its file is called (a training checkpoint and a bench report record it)."""
    values = np.ascontiguousarray(kernel, dtype=np.float64)
    return hashlib.sha256(values.tobytes() + str(values.shape).encode()).hexdigest()
