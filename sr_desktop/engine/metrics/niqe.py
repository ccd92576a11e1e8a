"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan and Bovik, IEEE Signal
Processing Letters 2013): a no-reference score, lower is more natural.

The image's natural-scene statistics — generalised Gaussian fits of its mean-subtracted,
contrast-normalised (MSCN) coefficients and of the products of neighbouring coefficients,
on 96×96 blocks at two scales — are modelled as one multivariate Gaussian and compared
with the Gaussian fitted once to pristine natural images:

    NIQE = sqrt((ν₁ − ν₂)ᵀ · ((Σ₁ + Σ₂) / 2)⁺ · (ν₁ − ν₂))

This follows the authors' MATLAB release (``computequality.m``, the algorithm of MATLAB's
``niqe``) step by step: Y channel as double, crop to whole blocks, a 7×7 Gaussian window
(σ = 7/6) with replicated borders, MSCN with +1 in the denominator, 18 features per block
and scale, the second scale by MATLAB's bicubic ``imresize(·, 0.5)`` in double precision,
``nanmean``/``nancov`` over blocks and the pseudo-inverse. The pristine model
(``resources/niqe_pris_params.npz``: mean, covariance) is the one released with that code.
That release's copyright notice, in its entirety, is ``resources/NIQE-NOTICE.txt`` (shipped in
the wheel's licence files); it applies to this port of the code as to the parameters.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from scipy import ndimage, special

from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.core.paths import RESOURCES_DIR
from sr_desktop.engine.core.progress import CancelToken, check_cancel
from sr_desktop.engine.metrics.color import luma_y
from sr_desktop.engine.metrics.errors import EvaluationError

PRISTINE_MODEL_FILE = RESOURCES_DIR / "niqe_pris_params.npz"
#: the block size of the released pristine model (it was fitted on 96×96 blocks)
BLOCK_SIZE = 96
FEATURES_PER_SCALE = 18

# The shape-parameter grid of the moment-matching fit, as in the release: 0.2:0.001:10.
_ALPHA_GRID = np.round(np.arange(200, 10001) * 0.001, 3)
_RHO_GRID = special.gamma(2.0 / _ALPHA_GRID) ** 2 / (
    special.gamma(1.0 / _ALPHA_GRID) * special.gamma(3.0 / _ALPHA_GRID)
)


def gaussian_window(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``: a normalised size×size Gaussian."""
    half = (size - 1) / 2.0
    axis = np.arange(size, dtype=np.float64) - half
    window = np.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2.0 * sigma * sigma))
    window[window < np.finfo(np.float64).eps * window.max()] = 0.0
    return window / window.sum()


@functools.lru_cache(maxsize=4)
def load_pristine_model(path: Path = PRISTINE_MODEL_FILE) -> tuple[np.ndarray, np.ndarray]:
    """The pristine model's mean (36,) and covariance (36×36)."""
    try:
        with np.load(path) as data:
            mean = np.asarray(data["mu_pris_param"], dtype=np.float64).reshape(-1)
            cov = np.asarray(data["cov_pris_param"], dtype=np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise EvaluationError(f"cannot read the NIQE pristine model {path}: {exc}") from exc
    n = 2 * FEATURES_PER_SCALE
    if mean.shape != (n,) or cov.shape != (n, n):
        raise EvaluationError(f"{path}: expected a {n}-feature NIQE model, got {mean.shape} and {cov.shape}")
    return mean, cov


def aggd_fit(values: np.ndarray) -> tuple[float, float, float]:
    """Asymmetric generalised Gaussian fit by moment matching: (shape α, left β, right β)."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    left = values[values < 0]
    right = values[values > 0]
    # empty sides give NaN as in MATLAB (mean of an empty set); such blocks drop out of the
    # covariance and are skipped by the mean
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = math.sqrt(np.mean(left * left)) if left.size else math.nan
        right_std = math.sqrt(np.mean(right * right)) if right.size else math.nan
        gamma_hat = left_std / right_std
        mean_square = float(np.mean(values * values))
        r_hat = float(np.mean(np.abs(values))) ** 2 / mean_square if mean_square else math.nan
        r_hat_norm = r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1) / (gamma_hat**2 + 1) ** 2
    if not math.isfinite(r_hat_norm):
        return math.nan, math.nan, math.nan
    alpha = float(_ALPHA_GRID[int(np.argmin((_RHO_GRID - r_hat_norm) ** 2))])
    ratio = math.sqrt(math.gamma(1.0 / alpha) / math.gamma(3.0 / alpha))
    return alpha, left_std * ratio, right_std * ratio


def block_features(mscn: np.ndarray) -> list[float]:
    """The 18 NIQE features of one block of MSCN coefficients."""
    alpha, beta_left, beta_right = aggd_fit(mscn)
    features = [alpha, (beta_left + beta_right) / 2.0]
    # the four neighbour directions of the release, as MATLAB circshift (rows, columns)
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        products = mscn * np.roll(mscn, shift, axis=(0, 1))
        alpha, beta_left, beta_right = aggd_fit(products)
        if math.isfinite(alpha):
            mean = (beta_right - beta_left) * math.gamma(2.0 / alpha) / math.gamma(1.0 / alpha)
        else:
            mean = math.nan
        features += [alpha, mean, beta_left, beta_right]
    return features


def mscn_coefficients(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Mean-subtracted, contrast-normalised coefficients (imfilter with 'replicate')."""
    mu = ndimage.correlate(image, window, mode="nearest")
    sigma = np.sqrt(np.abs(ndimage.correlate(image * image, window, mode="nearest") - mu * mu))
    return (image - mu) / (sigma + 1.0)


def niqe_features(gray: np.ndarray, block_size: int = BLOCK_SIZE, cancel: CancelToken | None = None) -> np.ndarray:
    """Per-block features (blocks × 36) of a 2-D image on the 0..255 scale; `cancel` is
    checked for each column of blocks (a 4000×3000 ×4 result takes tens of seconds)."""
    gray = np.asarray(gray, dtype=np.float64)
    rows, cols = gray.shape[0] // block_size, gray.shape[1] // block_size
    if rows < 1 or cols < 1:
        raise EvaluationError(
            f"NIQE needs an image of at least {block_size}×{block_size} pixels, got {gray.shape[1]}×{gray.shape[0]}"
        )
    image = gray[: rows * block_size, : cols * block_size]
    window = gaussian_window()
    per_scale = []
    for scale in (1, 2):
        mscn = mscn_coefficients(image, window)
        size = block_size // scale
        features = []
        for c in range(cols):
            check_cancel(cancel)
            features += [block_features(mscn[r * size : (r + 1) * size, c * size : (c + 1) * size])
                         for r in range(rows)]
        per_scale.append(features)
        if scale == 1:
            image = imresize(image, scale=0.5)
    return np.concatenate([np.asarray(f, dtype=np.float64) for f in per_scale], axis=1)


def niqe_of_gray(gray: np.ndarray, model_path: Path = PRISTINE_MODEL_FILE,
                 cancel: CancelToken | None = None) -> float:
    """NIQE of a 2-D image on the 0..255 scale (lower is more natural)."""
    pristine_mean, pristine_cov = load_pristine_model(model_path)
    features = niqe_features(gray, cancel=cancel)
    complete = features[~np.isnan(features).any(axis=1)]
    if complete.shape[0] < 2:
        raise EvaluationError("NIQE needs at least two blocks with finite statistics (is the image flat?)")
    mean = np.nanmean(features, axis=0)
    cov = np.cov(complete, rowvar=False)
    diff = pristine_mean - mean
    return float(math.sqrt(max(0.0, diff @ np.linalg.pinv((pristine_cov + cov) / 2.0) @ diff)))


def niqe(image: np.ndarray, model_path: Path = PRISTINE_MODEL_FILE, cancel: CancelToken | None = None) -> float:
    """NIQE of an RGB or grey image (uint8, or floats on the 0..255 scale).

    RGB images are scored on the Y channel of MATLAB's ``rgb2ycbcr`` rounded to integers as
    for uint8 input (the protocol of the published tables; unrounded Y scores baboon 5.636
    instead of MATLAB's 5.7296); no border is cropped.
    """
    return niqe_of_gray(_rounded_y(image), model_path, cancel)


def _rounded_y(image: np.ndarray) -> np.ndarray:
    """The Y channel NIQE scores; `EvaluationError` for an image that is not RGB or grey on
    the 0..255 scale (RGBA was a bare ValueError)."""
    try:
        return np.clip(np.floor(luma_y(image) + 0.5), 0.0, 255.0)
    except ValueError as exc:
        raise EvaluationError(f"NIQE scores an RGB or grey image: {exc}") from None


def niqe_or_none(image: np.ndarray, cancel: CancelToken | None = None) -> float | None:
    """NIQE, or None for an image NIQE cannot score (smaller than a block, or flat);
    `Cancelled` when `cancel` is set meanwhile, `EvaluationError` for what is not an RGB or
    grey image (RGBA: flatten or drop its alpha first)."""
    y = _rounded_y(image)
    try:
        return niqe_of_gray(y, cancel=cancel)
    except EvaluationError:
        return None
