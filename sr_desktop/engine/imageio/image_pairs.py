"""HR images and the LR images of the same scenes, matched by name (real pairs, given LR images).

An LR image pairs with the HR image of the same name in the same sub-folder of its own
folder; the datasets' tags are ignored: DIV2K's ``0001x2.png`` is ``0001.png``'s, RealSR's
``Canon_001_LR2.png`` is ``Canon_001_HR.png``'s, ``img_lr.png`` is ``img_hr.png``'s. An LR image
is 1/scale of its HR image, which may be up to ``scale - 1`` pixels larger (the datasets
round the LR size down) and is then cropped at the right and bottom. Training
(`training.pairs`) and the bench (`metrics.evaluate`) share these rules.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def _untagged(stem: str, scale: int) -> str:
    """`stem` without the tag that tells a dataset's HR or LR file (``x2``, ``_LR2``, ``_hr``)."""
    return re.sub(rf"(?i)[_\-.]?(hr|lr|lr[_\-]?x?{scale}|x{scale})$", "", stem) or stem


def _keys(path: Path, root: Path, scale: int) -> tuple[tuple[str, str], tuple[str, str]]:
    """The (sub-folder, name) a file pairs by: as it is, and without its dataset tag."""
    folder = path.parent.relative_to(root).as_posix().lower()
    stem = path.stem.lower()
    return (folder, stem), (folder, _untagged(stem, scale))


@dataclass
class PairMatch:
    """The (HR, LR) pairs of two folders' files, in the HR files' order, and what did not pair."""

    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    #: HR files without an LR file (relative to their folder, as POSIX paths)
    unmatched: list[str] = field(default_factory=list)
    #: how many LR files no HR file took
    extra: int = 0


def pair_files(hr_root: Path, hr_files: Sequence[Path], lr_root: Path, lr_files: Sequence[Path],
               scale: int) -> PairMatch:
    """Match the image files `hr_files` under `hr_root` with `lr_files` under `lr_root` by name
    (the same name first, then the names without their tags; an LR file pairs once)."""
    exact: dict[tuple[str, str], Path] = {}
    loose: dict[tuple[str, str], list[Path]] = {}
    for lr in lr_files:
        name, untagged = _keys(lr, lr_root, scale)
        exact.setdefault(name, lr)
        loose.setdefault(untagged, []).append(lr)
    match, used = PairMatch(), set()
    for hr in hr_files:
        name, untagged = _keys(hr, hr_root, scale)
        lr = exact.get(name)
        if lr is None and len(loose.get(untagged, ())) == 1:
            lr = loose[untagged][0]
        if lr is None or lr in used:
            match.unmatched.append(hr.relative_to(hr_root).as_posix())
            continue
        used.add(lr)
        match.pairs.append((hr, lr))
    match.extra = len(lr_files) - len(used)
    return match


def unmatched_line(count: int, hr_root: object, lr_root: object, scale: int, names: str) -> str:
    """The message naming HR images without an LR image (`names`: the first few)."""
    return (f"{count} HR image(s) of {hr_root} have no LR image of the same name in {lr_root} (DIV2K's "
            f"NAMEx{scale} and RealSR's NAME_LR{scale} count as NAME): {names}")


def pair_size_error(hr_name: str, hr_size: tuple[int, int], lr_name: str, lr_size: tuple[int, int],
                    scale: int) -> str | None:
    """Why an HR image of `hr_size` and an LR image of `lr_size` (width, height) are no pair at
    ×`scale`; None when they are one."""
    (w, h), (lw, lh) = hr_size, lr_size
    if lw * scale <= w < (lw + 1) * scale and lh * scale <= h < (lh + 1) * scale:
        return None
    upscaled = (" (it is as large as the HR image: give the LR images before they were upscaled)"
                if (lw, lh) == (w, h) else "")
    return f"{hr_name} is {w}×{h}; its LR image {lr_name} is {lw}×{lh}, not 1/{scale} of it{upscaled}"


def folder_overlap_line(hr_root: Path, lr_root: Path, hr_flag: str, lr_flag: str) -> str | None:
    """Why the HR folder and the LR folder cannot pair (one is the other, or inside it: its
    images would be taken for the other's), in the words of their flags; None when they can."""
    hr_real, lr_real = Path(os.path.realpath(hr_root)), Path(os.path.realpath(lr_root))
    if hr_real == lr_real:
        return f"{lr_flag} {lr_root} is the {hr_flag} folder itself: the LR images need a folder of their own"
    if hr_real in lr_real.parents:
        return (f"{lr_flag} {lr_root} is inside the {hr_flag} folder {hr_root}: its images would be taken for "
                "the other's (give two folders side by side)")
    if lr_real in hr_real.parents:
        return (f"{hr_flag} {hr_root} is inside the {lr_flag} folder {lr_root}: its images would be taken for "
                "the other's (give two folders side by side)")
    return None
