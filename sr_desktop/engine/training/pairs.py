"""Paired training data: HR images and the LR images taken of the same scenes, matched by name.

Real pairs (a camera's two focal lengths as in RealSR, a scanner's two resolutions, DIV2K's
given LR folders) teach a network the degradation the user's own pictures have, which no
synthetic one reproduces. ``--lr-data`` names, for each ``--data`` folder, the folder of
its LR images; an LR image pairs with the HR image of the same name in the same
sub-folder, the datasets' tags ignored: DIV2K's ``0001x2.png`` is ``0001.png``'s, RealSR's
``Canon_001_LR2.png`` is ``Canon_001_HR.png``'s, ``img_lr.png`` is ``img_hr.png``'s.

An LR image is 1/scale of its HR image: the HR may be up to ``scale - 1`` pixels larger
(the datasets' LR sizes are rounded down), and is then cropped at the right and bottom,
as `modcrop` crops it for a synthetic degradation. LR images as large as their HR (RealSR
version 3 upscales its LR back) are refused: a network of the app takes LR pixels.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.core.text import first_failures
from sr_desktop.engine.training.data import PatchPairs, augment, list_images, read_rgb8_noting_grey, too_small_error
from sr_desktop.engine.training.errors import TrainingError

log = logging.getLogger(__name__)


def _untagged(stem: str, scale: int) -> str:
    """`stem` without the tag that tells a dataset's HR or LR file (``x2``, ``_LR2``, ``_hr``)."""
    return re.sub(rf"(?i)[_\-.]?(hr|lr|lr[_\-]?x?{scale}|x{scale})$", "", stem) or stem


def _keys(path: Path, root: Path, scale: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """The (sub-folder, name) a file pairs by: as it is, and without its dataset tag."""
    folder = path.parent.relative_to(root).as_posix().lower()
    stem = path.stem.lower()
    return (folder, stem), (folder, _untagged(stem, scale))


def match_pairs(hr_folders: Sequence[str | os.PathLike], lr_folders: Sequence[str | os.PathLike],
                scale: int) -> list[tuple[Path, Path]]:
    """The (HR file, LR file) pairs of each HR folder and the LR folder in the same place of
    `lr_folders`, in the HR files' order; `TrainingError` naming the HR images without an LR
    image (an LR image without an HR one is logged and left out)."""
    if len(lr_folders) != len(hr_folders):
        raise TrainingError(f"--lr-data names {len(lr_folders)} folder(s) for {len(hr_folders)} --data folder(s): "
                            "give one folder of LR images for each folder of HR images, in the same order")
    pairs: list[tuple[Path, Path]] = []
    for hr_root, lr_root in zip(map(Path, hr_folders), map(Path, lr_folders), strict=True):
        hr_real, lr_real = Path(os.path.realpath(hr_root)), Path(os.path.realpath(lr_root))
        if hr_real == lr_real:
            raise TrainingError(f"--lr-data {lr_root} is the --data folder itself: the LR images need a folder "
                                "of their own")
        if hr_real in lr_real.parents or lr_real in hr_real.parents:
            inner, outer = (f"--lr-data {lr_root}", f"--data folder {hr_root}") if hr_real in lr_real.parents \
                else (f"--data {hr_root}", f"--lr-data folder {lr_root}")
            raise TrainingError(f"{inner} is inside the {outer}: its images would be taken for the other's "
                                "(give two folders side by side)")
        exact: dict[tuple[str, str], Path] = {}
        loose: dict[tuple[str, str], list[Path]] = {}
        for lr in list_images([lr_root]):
            name, untagged = _keys(lr, lr_root, scale)
            exact.setdefault(name, lr)
            loose.setdefault(untagged, []).append(lr)
        unmatched, used = [], set()
        for hr in list_images([hr_root]):
            name, untagged = _keys(hr, hr_root, scale)
            lr = exact.get(name)
            if lr is None and len(loose.get(untagged, ())) == 1:
                lr = loose[untagged][0]
            if lr is None or lr in used:
                unmatched.append(hr.relative_to(hr_root).as_posix())
                continue
            used.add(lr)
            pairs.append((hr, lr))
        if unmatched:
            raise TrainingError(f"{len(unmatched)} HR image(s) of {hr_root} have no LR image of the same name in "
                                f"{lr_root} (DIV2K's NAMEx{scale} and RealSR's NAME_LR{scale} count as NAME): "
                                f"{first_failures(unmatched)}")
        extra = sum(len(found) for found in loose.values()) - len(used)
        if extra:
            log.warning("%d LR image(s) of %s have no HR image of the same name in %s: left out", extra, lr_root,
                        hr_root)
    return pairs


def read_pair(hr_path: Path, lr_path: Path, scale: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The HR and LR images of a pair as uint8 H×W×3, the HR cropped to the LR's size × `scale`,
    and whether the HR file is grey; `TrainingError` when their sizes do not make a pair."""
    hr, grey = read_rgb8_noting_grey(hr_path)
    lr = read_rgb8_noting_grey(lr_path)[0]
    (h, w), (lh, lw) = hr.shape[:2], lr.shape[:2]
    if not (lh * scale <= h < (lh + 1) * scale and lw * scale <= w < (lw + 1) * scale):
        upscaled = " (it is as large as the HR image: give the LR images before they were upscaled)" \
            if (lh, lw) == (h, w) else ""
        raise TrainingError(f"{hr_path.name} is {w}×{h}; its LR image {lr_path.name} is {lw}×{lh}, not 1/{scale} of "
                            f"it{upscaled}")
    return hr[:lh * scale, :lw * scale], lr, grey


class PairedPatchSource(PatchPairs):
    """Aligned patch pairs cut from given (HR, LR) image pairs, flipped and transposed at random."""

    def __init__(self, hr_folders: Sequence[str | os.PathLike], lr_folders: Sequence[str | os.PathLike],
                 scale: int, patch: int, cache_bytes: int, patch_fixed: bool = False):
        self.scale, self.patch = scale, patch
        self.pairs = match_pairs(hr_folders, lr_folders, scale)
        self._cached: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        kept, unreadable, cached, skipped, largest = [], [], 0, 0, 0
        for hr_path, lr_path in self.pairs:
            try:
                hr, lr, _ = read_pair(hr_path, lr_path, scale)
            except ImageReadError as exc:  # (which of the two files: its name)
                unreadable.append(f"{exc.path.name if exc.path else hr_path.name}: {exc.reason}")
                continue
            except TrainingError as exc:
                unreadable.append(str(exc))
                continue
            largest = max(largest, min(lr.shape[:2]) * scale)
            if min(lr.shape[:2]) < patch:
                skipped += 1
                continue
            if cached + hr.nbytes + lr.nbytes <= cache_bytes:
                self._cached[len(kept)] = (hr, lr)
                cached += hr.nbytes + lr.nbytes
            kept.append((hr_path, lr_path))
        if unreadable:
            raise TrainingError(f"cannot use {len(unreadable)} training pair(s): {first_failures(unreadable)}")
        if not kept:
            raise too_small_error(patch, scale, largest, patch_fixed)
        if skipped:
            log.warning("skipped %d training pairs smaller than %d×%d HR pixels", skipped, patch * scale,
                        patch * scale)
        self.pairs = kept
        #: the HR images trained on, and each one's LR image
        self.paths = [hr for hr, _ in kept]
        self.lr_of = dict(kept)
        self.skipped, self.copies_skipped, self.cached_bytes = skipped, 0, cached

    def pair(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One random aligned (LR, HR) patch pair, float32 H×W×3 in 0..1."""
        index = int(rng.integers(len(self.pairs)))
        hr, lr = self._cached.get(index) or read_pair(*self.pairs[index], self.scale)[:2]
        s, p = self.scale, self.patch
        y = int(rng.integers(lr.shape[0] - p + 1))
        x = int(rng.integers(lr.shape[1] - p + 1))
        lr_patch = lr[y:y + p, x:x + p].astype(np.float32) / 255.0
        hr_patch = hr[y * s:(y + p) * s, x * s:(x + p) * s].astype(np.float32) / 255.0
        return augment((lr_patch, hr_patch), rng)
