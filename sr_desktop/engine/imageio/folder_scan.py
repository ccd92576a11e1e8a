"""Whether a folder's sub-folders hold images: a photo library laid out by year or by
event (``lib/2023/…``) has none at its top, and a drop of it on the window has to say
where its images are rather than "no images in the folder"."""

from __future__ import annotations

import os
from pathlib import Path

from sr_desktop.engine.imageio.formats import is_image_path
from sr_desktop.engine.imageio.hidden import is_hidden

#: entries looked at before the answer is "don't know" (None): the window asks on a drop,
#: on its own thread, and a disk of 10⁶ files must not freeze it
SCAN_BUDGET = 20_000


def images_in_subfolders(folder: Path, budget: int | None = None, exclude: Path | None = None) -> bool | None:
    """True when a sub-folder of `folder` (at any depth) holds an image file, False when
    none does, None when `budget` entries (default `SCAN_BUDGET`) were looked at without
    finding one. Hidden entries are skipped and linked folders not followed, as a
    recursive batch does, and so is `exclude` (a batch's output folder inside its input);
    folders that cannot be listed are passed over."""
    budget = SCAN_BUDGET if budget is None else budget
    pending = []
    left_out = os.path.realpath(exclude) if exclude is not None else None

    def not_left_out(entry: os.DirEntry) -> bool:
        return left_out is None or os.path.realpath(entry.path) != left_out

    try:
        with os.scandir(folder) as top:
            pending = [Path(e.path) for e in top if not is_hidden(e) and _is_real_folder(e) and not_left_out(e)]
    except OSError:
        return False
    seen = 0
    while pending:
        try:
            with os.scandir(pending.pop()) as it:
                for entry in it:
                    seen += 1
                    if seen > budget:
                        return None
                    if is_hidden(entry):
                        continue
                    if _is_real_folder(entry):
                        if not_left_out(entry):
                            pending.append(Path(entry.path))
                    elif is_image_path(entry.name):
                        return True
        except OSError:
            continue
    return False


def _is_real_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
