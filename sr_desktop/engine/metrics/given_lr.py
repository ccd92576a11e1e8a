"""Benchmarks on real pairs: a dataset's own LR images (``bench --lr-dataset DIR``: RealSR,
DRealSR, City100, a camera's two focal lengths) in place of a degradation rule.

The LR images pair with the HR images by name and size as `imageio.image_pairs` pairs
them; the HR image is cropped to the LR image's size × scale (no ``modcrop``: the LR fixes
the grid). The report names the degradation ``paired:DIR``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from sr_desktop.engine.core.text import first_failures
from sr_desktop.engine.imageio.image_pairs import folder_overlap_line, pair_files, pair_size_error, unmatched_line
from sr_desktop.engine.metrics.errors import EvaluationError

log = logging.getLogger(__name__)

#: how a report names a degradation of given LR images: ``paired:DIR``
PAIRED_PREFIX = "paired:"


def pair_dataset(dataset: str | Path, lr_dataset: str | Path, scale: int) -> dict[Path, Path]:
    """{HR image: its LR image} of every image of `dataset` (`list_dataset`); `EvaluationError`
    naming the HR images without an LR image (LR images without one are logged)."""
    from sr_desktop.engine.metrics.evaluate import list_dataset

    hr_root, lr_root = Path(dataset), Path(lr_dataset)
    if (overlap := folder_overlap_line(hr_root, lr_root, "--dataset", "--lr-dataset")) is not None:
        raise EvaluationError(overlap)
    match = pair_files(hr_root, list_dataset(hr_root), lr_root, list_dataset(lr_root), scale)
    if match.unmatched:
        raise EvaluationError(unmatched_line(len(match.unmatched), hr_root, lr_root, scale,
                                             first_failures(match.unmatched)))
    if match.extra:
        log.warning("%d LR image(s) of %s have no HR image of the same name in %s: left out", match.extra,
                    lr_root, hr_root)
    return dict(match.pairs)


def read_given_pair(hr_path: Path, lr_path: Path, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The HR image (cropped to the LR's size × `scale`) and its LR image, uint8 H×W×1 or ×3 (a
    grey LR of an RGB HR repeated to RGB); `EvaluationError` when they are no pair."""
    from sr_desktop.engine.metrics.evaluate import read_hr

    hr, lr = read_hr(hr_path), read_hr(lr_path)
    (h, w), (lh, lw) = hr.shape[:2], lr.shape[:2]
    if (why := pair_size_error(hr_path.name, (w, h), lr_path.name, (lw, lh), scale)) is not None:
        raise EvaluationError(why)
    if hr.shape[2] == 3 and lr.shape[2] == 1:
        lr = np.repeat(lr, 3, axis=2)
    return hr[:lh * scale, :lw * scale], lr
