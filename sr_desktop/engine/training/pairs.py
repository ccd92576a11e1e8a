"""Paired training data: HR images and the LR images taken of the same scenes, matched by name.

Real pairs (a camera's two focal lengths as in RealSR, a scanner's two resolutions, DIV2K's
given LR folders) teach a network the degradation the user's own pictures have, which no
synthetic one reproduces. ``--lr-data`` names, for each ``--data`` folder, the folder of
its LR images, paired by name and size as `imageio.image_pairs` pairs them. LR images as
large as their HR (RealSR version 3 upscales its LR back) are refused: a network of the app
takes LR pixels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sr_desktop.engine.compute.pair_offset import (
    alignment_shift,
    is_misaligned,
    offset_words,
    pair_offset,
    shifted_pair,
)
from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.core.text import first_failures
from sr_desktop.engine.imageio.image_pairs import PairingError, pair_files, pair_folders, paired_hr, split_by_tag
from sr_desktop.engine.training.data import PatchPairs, augment, list_images, read_rgb8_noting_grey, too_small_error
from sr_desktop.engine.training.errors import TrainingError

log = logging.getLogger(__name__)


def match_pairs(hr_folders: Sequence[str | os.PathLike], lr_folders: Sequence[str | os.PathLike],
                scale: int, flags: tuple[str, str] = ("--data", "--lr-data")) -> list[tuple[Path, Path]]:
    """The (HR file, LR file) pairs of each HR folder and the LR folder in the same place of
    `lr_folders` (`image_pairs.pair_folders`), in the HR files' order; `TrainingError` in the
    words of the folders' `flags` (training's, or validation's ``--val``/``--val-lr``)."""
    pairs: list[tuple[Path, Path]] = []  # (as many folders of each: `TrainOptions` checks it)
    for hr_root, lr_root in zip(map(Path, hr_folders), map(Path, lr_folders), strict=True):
        try:
            pairs += pair_folders(hr_root, lr_root, lambda root: list_images([root]), scale, *flags)
        except PairingError as exc:
            raise TrainingError(str(exc)) from None
    return pairs


def misaligned_note(misaligned: Sequence[str], pairs: int, what: str = "training",
                    aligned: bool = False) -> str | None:
    """A note naming the pairs whose LR image lies off its HR image (`compute.pair_offset`), and
    whether they were aligned (--align); None when none does."""
    if not misaligned:
        return None
    said = (f"{len(misaligned)} of {pairs} {what} pair(s) lie off by more than half an LR pixel (the LR image's "
            f"content from the HR image's): {first_failures(list(misaligned))}")
    if aligned:
        return said + "; aligned (--align: the HR images moved onto them, both cropped)"
    return said + "; --align moves the HR images onto them (a shift; register a rotation or zoom yourself), or the " \
                  "network learns a blur from them"


def tagged_pairs_note(folders: Sequence[str | os.PathLike], paths: Sequence[Path], scale: int) -> str | None:
    """A note when a run without given LR images trains on folders that hold pairs by their
    tags (RealSR keeps ``NAME_HR`` and ``NAME_LR2`` side by side): every one of them, the LR
    images too, was trained on as an HR image without a word."""
    hr, lr = split_by_tag(paths, scale)
    if not lr:
        return None
    found = 0
    for folder in map(Path, folders):
        inside = [p for p in hr if folder in p.parents], [p for p in lr if folder in p.parents]
        found += len(pair_files(folder, inside[0], folder, inside[1], scale).pairs)
    if not found:
        return None
    return (f"{found} training image(s) have their LR image beside them (by name, e.g. {lr[0].name}): both are "
            "trained on as HR images; to train on the pairs, give the same folder as --lr-data too")


def read_pair(hr_path: Path, lr_path: Path, scale: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The HR and LR images of a pair as uint8 H×W×3, the HR cropped to the LR's size × `scale`,
    and whether the HR file is grey; `TrainingError` when their sizes do not make a pair."""
    hr, grey = read_rgb8_noting_grey(hr_path)
    lr = read_rgb8_noting_grey(lr_path)[0]
    try:
        return paired_hr(hr, lr, scale, hr_path.name, lr_path.name), lr, grey
    except PairingError as exc:
        raise TrainingError(str(exc)) from None


class PairedPatchSource(PatchPairs):
    """Aligned patch pairs cut from given (HR, LR) image pairs, flipped and transposed at random."""

    def __init__(self, hr_folders: Sequence[str | os.PathLike], lr_folders: Sequence[str | os.PathLike],
                 scale: int, patch: int, cache_bytes: int, patch_fixed: bool = False, align: bool = False):
        """`align`: each HR image moved by whole HR pixels onto its LR image's content
        (`compute.pair_offset.alignment_shift`), as measured once here."""
        self.scale, self.patch, self.align = scale, patch, align
        self.pairs = match_pairs(hr_folders, lr_folders, scale)
        self._cached: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        kept, unreadable, cached, skipped, largest = [], [], 0, 0, 0
        #: "name: 1.3 px right, 0.4 px up" of each pair whose LR image lies off its HR image
        self.misaligned: list[str] = []
        #: each kept pair's HR shift (`shifted_pair`; (0, 0) without `align`)
        self._shifts: list[tuple[int, int]] = []
        for hr_path, lr_path in self.pairs:
            try:
                hr, lr, _ = read_pair(hr_path, lr_path, scale)
            except ImageReadError as exc:  # (which of the two files: its name)
                unreadable.append(f"{exc.path.name if exc.path else hr_path.name}: {exc.reason}")
                continue
            except TrainingError as exc:
                unreadable.append(str(exc))
                continue
            shift, offset = alignment_shift(hr, lr, scale) if align else ((0, 0), pair_offset(hr, lr))
            hr, lr = shifted_pair(hr, lr, scale, shift)
            largest = max(largest, min(lr.shape[:2]) * scale)
            if min(lr.shape[:2]) < patch:
                skipped += 1
                continue
            if is_misaligned(*offset):
                self.misaligned.append(f"{hr_path.name}: {offset_words(*offset)}")
            if cached + hr.nbytes + lr.nbytes <= cache_bytes:
                self._cached[len(kept)] = (hr, lr)
                cached += hr.nbytes + lr.nbytes
            kept.append((hr_path, lr_path))
            self._shifts.append(shift)
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
        hr, lr = self._cached.get(index) or shifted_pair(*read_pair(*self.pairs[index], self.scale)[:2], self.scale,
                                                         self._shifts[index])
        s, p = self.scale, self.patch
        y = int(rng.integers(lr.shape[0] - p + 1))
        x = int(rng.integers(lr.shape[1] - p + 1))
        lr_patch = lr[y:y + p, x:x + p].astype(np.float32) / 255.0
        hr_patch = hr[y * s:(y + p) * s, x * s:(x + p) * s].astype(np.float32) / 255.0
        return augment((lr_patch, hr_patch), rng)
