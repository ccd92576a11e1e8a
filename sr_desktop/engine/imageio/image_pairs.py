"""HR images and the LR images of the same scenes, matched by name (real pairs, given LR images).

An LR image pairs with the HR image of the same name in the same sub-folder of its own
folder; the datasets' tags are ignored: DIV2K's ``0001x2.png`` is ``0001.png``'s, RealSR's
``Canon_001_LR2.png`` is ``Canon_001_HR.png``'s, DRealSR's ``DSC_1450_x2.png`` is
``DSC_1450_x1.png``'s, ``img_lr.png`` is ``img_hr.png``'s (a name is first taken as it is:
``box2x2.png`` is ``box2.png``'s). One folder may hold both, as RealSR keeps them: its images
tagged as LR images are then the LR ones. An LR image is 1/scale of its HR image, which may
be up to ``scale - 1`` pixels larger (the datasets round the LR size down) and is then
cropped at the right and bottom. Training (`training.pairs`) and the bench
(`metrics.given_lr`) share these rules.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.core.text import first_failures

log = logging.getLogger(__name__)

#: the tag of a dataset's HR file: ``_HR``, DRealSR's ``_x1``
_HR_TAG = r"[_\-.]?(hr|x1)"


class PairingError(SRDesktopError):
    """HR and LR images that cannot be paired (one line naming the files and the folders)."""


def _lr_tag(scale: int) -> str:
    """The tag of a dataset's LR file at ×`scale`: ``_LR2``, ``_lr``, ``x2`` (DIV2K), ``_x2`` (DRealSR)."""
    return rf"[_\-.]?(lr[_\-]?x?{scale}|lr|x{scale})"


def _without(stem: str, tag: str) -> str | None:
    """`stem` without a trailing `tag` (case ignored); None when it has none (or is only one)."""
    untagged = re.sub(rf"(?i){tag}$", "", stem)
    return untagged if untagged and untagged != stem else None


def split_by_tag(files: Sequence[Path], scale: int) -> tuple[list[Path], list[Path]]:
    """(HR, LR) files of one folder that holds both: those tagged as LR images are the LR ones."""
    lr = [f for f in files if _without(f.stem, _lr_tag(scale)) is not None]
    tagged = set(lr)
    return [f for f in files if f not in tagged], lr


def hr_files_of(hr_root: Path, lr_root: Path, list_files: Callable[[Path], list[Path]],
                scale: int) -> list[Path]:
    """The HR images of a pairing (`pair_folders`) without pairing them: the folder's images,
    or, when one folder holds both, those not tagged as LR images (to count them: RealSR's
    folder of 3 pairs was "6 images")."""
    files = list_files(hr_root)
    if os.path.realpath(hr_root) == os.path.realpath(lr_root):
        return split_by_tag(files, scale)[0]
    return files


def paired_hr(hr, lr, scale: int, hr_name: str, lr_name: str):
    """The HR pixels `hr` cropped to the LR pixels' size × `scale` (the datasets round the LR
    size down); `PairingError` when their sizes make no pair (`pair_size_error`)."""
    (h, w), (lh, lw) = hr.shape[:2], lr.shape[:2]
    if (why := pair_size_error(hr_name, (w, h), lr_name, (lw, lh), scale)) is not None:
        raise PairingError(why)
    return hr[:lh * scale, :lw * scale]


@dataclass
class PairMatch:
    """The (HR, LR) pairs of two folders' files, in the HR files' order, and what did not pair."""

    pairs: list[tuple[Path, Path]] = field(default_factory=list)
    #: HR files without an LR file (relative to their folder, as POSIX paths)
    unmatched: list[str] = field(default_factory=list)
    #: "NAME: a, b" of HR files that two or more LR files name
    ambiguous: list[str] = field(default_factory=list)
    #: LR files no HR file took
    extra: list[Path] = field(default_factory=list)


def pair_files(hr_root: Path, hr_files: Sequence[Path], lr_root: Path, lr_files: Sequence[Path],
               scale: int) -> PairMatch:
    """Match `hr_files` under `hr_root` with `lr_files` under `lr_root` by name: an LR file by
    its name or its name without its LR tag, against the HR file's name, then its name
    without its HR tag (an LR file pairs once)."""
    def folder_of(path: Path, root: Path) -> str:
        return path.parent.relative_to(root).as_posix().lower()

    index: dict[tuple[str, str], list[Path]] = {}
    for lr in lr_files:
        stem = lr.stem.lower()
        for key in dict.fromkeys((stem, _without(stem, _lr_tag(scale)))):
            if key:
                index.setdefault((folder_of(lr, lr_root), key), []).append(lr)
    match, used = PairMatch(), set()
    for hr in hr_files:
        stem, folder = hr.stem.lower(), folder_of(hr, hr_root)
        for key in dict.fromkeys(k for k in (stem, _without(stem, _HR_TAG)) if k):
            found = [lr for lr in index.get((folder, key), []) if lr not in used]
            if len(found) == 1:
                used.add(found[0])
                match.pairs.append((hr, found[0]))
                break
            if found:
                match.ambiguous.append(f"{hr.name}: {', '.join(lr.name for lr in found)}")
                break
        else:
            match.unmatched.append(hr.relative_to(hr_root).as_posix())
    match.extra = [lr for lr in lr_files if lr not in used]
    return match


def pair_folders(hr_root: Path, lr_root: Path, list_files: Callable[[Path], list[Path]], scale: int,
                 hr_flag: str, lr_flag: str) -> list[tuple[Path, Path]]:
    """The (HR, LR) pairs of the folder `hr_root` and the folder of its LR images `lr_root`
    (the same folder: split by tag), their files listed by `list_files`; `PairingError`, in
    the words of the folders' flags, when they cannot pair: nested folders, an HR image
    without an LR image or with two. LR images without an HR image are logged and left out."""
    hr_real, lr_real = Path(os.path.realpath(hr_root)), Path(os.path.realpath(lr_root))
    if hr_real == lr_real:
        hr_files, lr_files = split_by_tag(list_files(hr_root), scale)
        if not lr_files:
            raise PairingError(f"{lr_flag} {lr_root} is the {hr_flag} folder itself, and none of its images is "
                               f"tagged as an LR image (NAME_LR{scale}, NAMEx{scale}, NAME_x{scale}): give the LR "
                               "images a folder of their own, or such names")
    else:
        nested = ((lr_flag, lr_root, hr_flag, hr_root) if hr_real in lr_real.parents
                  else (hr_flag, hr_root, lr_flag, lr_root) if lr_real in hr_real.parents else None)
        if nested is not None:
            inner_flag, inner, outer_flag, outer = nested
            raise PairingError(f"{inner_flag} {inner} is inside the {outer_flag} folder {outer}: its images would be "
                               "taken for the other's (give two folders side by side)")
        hr_files, lr_files = list_files(hr_root), list_files(lr_root)
    match = pair_files(hr_root, hr_files, lr_root, lr_files, scale)
    if match.ambiguous:
        raise PairingError(f"{len(match.ambiguous)} HR image(s) of {hr_flag} {hr_root} have two or more LR images "
                           f"in {lr_flag} {lr_root} (keep one each): {first_failures(match.ambiguous)}")
    if match.unmatched:
        left = (f"; LR images left over: {first_failures([lr.relative_to(lr_root).as_posix() for lr in match.extra])}"
                if match.extra else "")
        raise PairingError(f"{len(match.unmatched)} HR image(s) of {hr_flag} {hr_root} have no LR image of the same "
                           f"name in {lr_flag} {lr_root} (DIV2K's NAMEx{scale}, RealSR's NAME_LR{scale} and "
                           f"DRealSR's NAME_x{scale} count as NAME): {first_failures(match.unmatched)}{left}")
    if match.extra:
        log.warning("%d LR image(s) of %s have no HR image of the same name in %s: left out", len(match.extra),
                    lr_root, hr_root)
    return match.pairs


def pair_size_error(hr_name: str, hr_size: tuple[int, int], lr_name: str, lr_size: tuple[int, int],
                    scale: int) -> str | None:
    """Why an HR image of `hr_size` and an LR image of `lr_size` (width, height) are no pair at
    ×`scale`; None when they are one."""
    (w, h), (lw, lh) = hr_size, lr_size
    if lw * scale <= w < (lw + 1) * scale and lh * scale <= h < (lh + 1) * scale:
        return None
    same = ""
    if (lw, lh) == (w, h):
        same = (f" but as large: an LR image shows the HR image's scene at 1/{scale} of its size (RealSR's version 3 "
                f"LR images are upscaled back: shrink them by {scale} first; a camera's wide shot: crop it to the "
                f"tele shot's view, register it, and shrink it to 1/{scale})")
    return f"{hr_name} is {w}×{h}; its LR image {lr_name} is {lw}×{lh}, not 1/{scale} of it{same}"
