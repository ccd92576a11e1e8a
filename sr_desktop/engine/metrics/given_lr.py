"""Benchmarks on real pairs: a dataset's own LR images (``bench --lr-dataset DIR``: RealSR,
DRealSR, City100, a camera's two focal lengths) in place of a degradation rule.

The LR images pair with the HR images by name and size as `imageio.image_pairs` pairs
them; the HR image is cropped to the LR image's size × scale (no ``modcrop``: the LR fixes
the grid). The report names the degradation ``paired:DIR``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sr_desktop.engine.imageio.image_pairs import PairingError, hr_files_of, pair_folders, paired_hr
from sr_desktop.engine.metrics.errors import EvaluationError

#: how a report names a degradation of given LR images: ``paired:DIR``
PAIRED_PREFIX = "paired:"


def pair_dataset(dataset: str | Path, lr_dataset: str | Path, scale: int) -> dict[Path, Path]:
    """{HR image: its LR image} of every image of `dataset` (`list_dataset`; `image_pairs.pair_folders`);
    `EvaluationError` when they cannot pair, or the LR folder cannot be listed (said as --lr-dataset's)."""
    from sr_desktop.engine.metrics.evaluate import list_dataset

    def listed(folder: Path) -> list[Path]:
        return list_lr_dataset(folder) if folder == Path(lr_dataset) else list_dataset(folder)

    try:
        return dict(pair_folders(Path(dataset), Path(lr_dataset), listed, scale, "--dataset", "--lr-dataset"))
    except PairingError as exc:
        raise EvaluationError(str(exc)) from None


class PairSizeError(EvaluationError):
    """An HR image and its LR image whose sizes make no pair (the line names both)."""


def list_lr_dataset(folder: str | Path) -> list[Path]:
    """`list_dataset` of the LR folder, its errors naming it as --lr-dataset's ("dataset folder X:
    not found" read as the HR folder's)."""
    from sr_desktop.engine.metrics.evaluate import list_dataset

    return list_dataset(folder, "--lr-dataset folder")


def read_given_pair(hr_path: Path, lr_path: Path, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The HR image (cropped to the LR's size × `scale`) and its LR image, uint8 H×W×1 or ×3 (a
    grey LR of an RGB HR repeated to RGB); `PairSizeError` when they are no pair."""
    from sr_desktop.engine.metrics.evaluate import read_hr

    hr, lr = read_hr(hr_path), read_hr(lr_path)
    try:
        hr = paired_hr(hr, lr, scale, hr_path.name, lr_path.name)
    except PairingError as exc:
        raise PairSizeError(str(exc)) from None
    if hr.shape[2] == 3 and lr.shape[2] == 1:
        lr = np.repeat(lr, 3, axis=2)
    return hr, lr


def hr_images(dataset: str | Path, lr_dataset: str | Path | None, scale: int) -> list[Path]:
    """The HR images a bench measures (`list_dataset`; of a paired dataset, those not tagged as
    LR images when one folder holds both), listed without pairing them."""
    from sr_desktop.engine.metrics.evaluate import list_dataset

    if lr_dataset is None:
        return list_dataset(dataset)
    return hr_files_of(Path(dataset), Path(lr_dataset), list_dataset, scale)
