"""Training data: folders of HR images -> random aligned (LR, HR) patch batches.

Every image is decoded once (any format `engine.imageio` reads; grey and 16-bit images are
turned into 8-bit RGB, alpha is dropped once fully transparent pixels take a colour filled from the
visible ones, as in the upscale pipeline), cropped to a multiple of the scale, and kept in
memory up to `cache_bytes`; images past that limit are decoded again when drawn. With
`downscales` (FSRCNN's data augmentation) each image also enters at those fractions of its
size (MATLAB bicubic), as images of their own. A
bicubic degradation makes the LR of a whole image once, so a patch pair is two aligned
crops; a random one (Real-ESRGAN) degrades each HR patch. Then a random flip / transpose
is applied to both. That is a pair of the same degradation only where the degradation
commutes with it (`flips_commute`: bicubic, Real-ESRGAN); with a given kernel the flipped
pair would be one of the flipped kernel, at another sampling phase, so there the HR window
around the patch is flipped first and then degraded.

Batch ``i`` is drawn with the generator ``numpy.random.default_rng([seed, i])``, so a
resumed run draws exactly the batches the killed one would have (`PatchPairs.batch`, which
`pairs.PairedPatchSource` shares for given LR images); `BatchLoader` prepares
the next batches on worker threads while the network trains (numpy, scipy and Pillow
release the GIL in their loops).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sr_desktop.engine.compute.matlab_resize import imresize
from sr_desktop.engine.core.errors import ImageReadError
from sr_desktop.engine.core.path_kind import not_a
from sr_desktop.engine.core.progress import CancelToken, check_cancel
from sr_desktop.engine.core.text import first_failures
from sr_desktop.engine.imageio import is_image_path, is_temp_path, read_image
from sr_desktop.engine.imageio.hidden import is_hidden
from sr_desktop.engine.metrics.degradation import modcrop
from sr_desktop.engine.metrics.evaluate import to_uint8_rgb_or_gray
from sr_desktop.engine.training.degradations import Degradation
from sr_desktop.engine.training.errors import TrainingError

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 2 << 30
#: the smallest --patch (LR pixels)
MIN_PATCH = 8


def list_images(folders: Sequence[str | os.PathLike]) -> list[Path]:
    """Every image file under `folders` (recursive, sorted); TrainingError if a folder is
    missing or holds no image."""
    found: list[Path] = []
    for folder in map(Path, folders):
        if (why := not_a(folder, "folder")) is not None:
            raise TrainingError(f"data folder {folder}: {why}")
        images = sorted(_image_files(folder))
        if not images:
            raise TrainingError(f"no images in {folder} (or its subfolders)")
        found += images
    return found


def _image_files(folder: Path) -> list[Path]:
    """The image files under `folder`, hidden ones and those of hidden folders left out;
    TrainingError naming a folder that cannot be listed (one unreadable was taken for an
    empty one: "no images in DIR", or its images were left out without a word). Linked
    folders are walked (once each: a link back up does not loop), and a link to nothing is
    listed so that reading it names it: both were left out without a word."""
    refused: list[OSError] = []
    found = []
    walked: set[tuple[int, int]] = set()
    for root, folders, files in os.walk(folder, onerror=refused.append, followlinks=True):
        here = Path(root)
        try:
            st = os.stat(here)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in walked:  # (a link to a folder already walked)
            folders[:] = []
            continue
        walked.add((st.st_dev, st.st_ino))
        folders[:] = [name for name in folders if not is_hidden(here / name)]
        found += [here / name for name in files
                  if is_image_path(name) and not is_temp_path(name) and not is_hidden(here / name)
                  and ((here / name).is_file() or not (here / name).exists())]
        if refused:
            break
    if refused:
        exc = refused[0]
        raise TrainingError(f"cannot list the folder {exc.filename}: {exc.strerror or exc}")
    return found


def listing_record(paths: Sequence[str | os.PathLike], images: int | None = None) -> dict:
    """What a checkpoint records of a run's image files: how many (`images`: the pairs of a
    paired run's HR and LR files), and a digest of their names, sizes and modification times,
    which a resumed run compares (images added to the folder, removed or replaced since)."""
    digest = hashlib.sha256()
    for path in sorted(os.path.abspath(p) for p in paths):
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "-"
        digest.update(f"{path}\0{stamp}\n".encode("utf-8", "surrogateescape"))
    return {"images": len(paths) if images is None else images, "digest": digest.hexdigest()}


def read_rgb8(path: Path) -> np.ndarray:
    """An image file as uint8 H×W×3 (grey repeated, alpha dropped after the hidden colours are
    filled, 16 bit rounded: `to_uint8_rgb_or_gray`)."""
    return read_rgb8_noting_grey(path)[0]


def read_rgb8_noting_grey(path: Path, narrow: list[Path] | None = None) -> tuple[np.ndarray, bool]:
    """`read_rgb8`, and whether the file is grey (scored on its grey values, as the bench does).
    A 16-bit file whose values stay below 4096 (12-bit or less data in 16 bits: a microscope's,
    a camera's raw export) is appended to `narrow`: as 8 bits it keeps 16 levels or fewer."""
    stored = read_image(path).pixels
    if narrow is not None and stored.dtype == np.uint16 and 0 < int(stored.max()) < 4096:
        narrow.append(path)
    pixels = to_uint8_rgb_or_gray(stored)
    grey = pixels.shape[2] == 1
    return (np.repeat(pixels, 3, axis=2) if grey else pixels), grey


@dataclass
class _Entry:
    path: Path
    size: tuple[int, int]  # HR height, width after modcrop
    factor: float = 1.0  # the image's size as a fraction of the file's
    hr: np.ndarray | None = None
    lr: np.ndarray | None = None


def augment(arrays: tuple[np.ndarray, ...], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """The same random horizontal flip, vertical flip and transpose of H×W×C arrays."""
    flip_h, flip_v, transpose = draw_flips(rng)
    out = []
    for a in arrays:
        if flip_h:
            a = a[:, ::-1]
        if flip_v:
            a = a[::-1]
        if transpose:
            a = a.transpose(1, 0, 2)
        out.append(np.ascontiguousarray(a))
    return tuple(out)


def draw_flips(rng: np.random.Generator) -> tuple[bool, bool, bool]:
    """Whether to flip horizontally, flip vertically and transpose (each with chance ½)."""
    flip_h, flip_v, transpose = (bool(b) for b in rng.random(3) < 0.5)
    return flip_h, flip_v, transpose


def too_small_error(patch: int, scale: int, largest: int, patch_fixed: bool) -> TrainingError:
    """The error of training data without an image as large as a patch (`largest`: the
    largest image's shorter side, HR pixels); a smaller --patch is offered where one would do,
    unless the run's cannot change (`patch_fixed`: a resumed run keeps its own)."""
    hr_side = patch * scale
    smaller = (f", or a smaller --patch (at least {MIN_PATCH})"
               if patch > MIN_PATCH and largest >= MIN_PATCH * scale and not patch_fixed else "")
    return TrainingError(f"no training image is at least {hr_side}×{hr_side} pixels (the patch {patch} × "
                         f"scale {scale}; the largest has a side of {largest}): use larger images{smaller}")


class PatchPairs:
    """What draws random aligned (LR, HR) patch pairs (`pair`) and so makes batches of them."""

    def pair(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def batch(self, seed: int, index: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch `index` of a run seeded `seed`: (N×3×p×p LR, N×3×sp×sp HR) float32."""
        rng = np.random.default_rng([seed, index])
        pairs = [self.pair(rng) for _ in range(size)]
        lr = torch.from_numpy(np.stack([a for a, _ in pairs])).permute(0, 3, 1, 2).contiguous()
        hr = torch.from_numpy(np.stack([b for _, b in pairs])).permute(0, 3, 1, 2).contiguous()
        return lr, hr


class PatchSource(PatchPairs):
    """The decoded training images and their LR images, drawn as patch pairs."""

    def __init__(self, folders: Sequence[str | os.PathLike], scale: int, patch: int,
                 degradation: Degradation, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 downscales: Sequence[float] = (), cancel: CancelToken | None = None,
                 patch_fixed: bool = False):
        """`patch_fixed`: the run's --patch cannot change (a resumed run's is its checkpoint's),
        so images too small for it are not told to try a smaller one."""
        self.scale = scale
        self.patch = patch
        self.degradation = degradation
        #: the LR of a whole image, made once and cropped per pair (not for a random
        #: degradation, nor for one degraded after the flip)
        self._whole_lr = not degradation.random and degradation.flips_commute
        self.entries: list[_Entry] = []
        hr_side = patch * scale
        cached = skipped = copies_skipped = largest = 0
        unreadable = []
        narrow: list[Path] = []
        for path in list_images(folders):
            check_cancel(cancel)  # reading a large folder takes long: Cancel must not wait for it
            try:
                original = read_rgb8_noting_grey(path, narrow)[0]
            except (ImageReadError, TrainingError) as exc:
                unreadable.append((path, exc))  # (all named at the end, not the first alone)
                continue
            largest = max(largest, min(original.shape[:2]))
            for factor in (1.0, *downscales):
                hr = self._hr(original, factor)
                if min(hr.shape[:2]) < hr_side:
                    if factor == 1.0:
                        skipped += 1
                        break  # (its copies, smaller still, with it)
                    copies_skipped += 1
                    continue
                entry = _Entry(path, hr.shape[:2], factor)
                # the LR is made only for an image the cache keeps (one past it was degraded at
                # the start and thrown away: made again for each of its patches anyway)
                lr_bytes = (hr.shape[0] // scale) * (hr.shape[1] // scale) * hr.shape[2] * 4 if self._whole_lr else 0
                if cached + hr.nbytes + lr_bytes <= cache_bytes:
                    lr = degradation.whole(hr, scale) if self._whole_lr else None
                    entry.hr, entry.lr, cached = hr, lr, cached + hr.nbytes + (lr.nbytes if lr is not None else 0)
                self.entries.append(entry)
        if len(unreadable) == 1:
            raise TrainingError(f"cannot read training image: {unreadable[0][1]}")
        if unreadable:
            lines = [f"{path.name}: {getattr(exc, 'reason', None) or exc}" for path, exc in unreadable]
            raise TrainingError(f"cannot read {len(unreadable)} training images: {first_failures(lines)}")
        if not self.entries:
            raise too_small_error(patch, scale, largest, patch_fixed)
        if skipped:
            log.warning("skipped %d training images smaller than %d×%d", skipped, hr_side, hr_side)
        if narrow:
            log.warning("%d 16-bit training image(s) hold values below 4096 only (12-bit data?), e.g. %s: trained "
                        "as 8-bit images of 16 levels or fewer; scale their values to the whole 16 bits first",
                        len(narrow), narrow[0].name)
        if copies_skipped:
            log.warning("left out %d downscaled copies (--downscale) smaller than %d×%d; their images are used",
                        copies_skipped, hr_side, hr_side)
        #: the images trained on (a skipped one became a default validation image: 3.5 dB
        #: lower bicubic baseline for a 20×20 icon)
        self.paths = list(dict.fromkeys(entry.path for entry in self.entries))
        #: images left out as too small for a patch, and downscaled copies left out (their images used)
        self.skipped, self.copies_skipped = skipped, copies_skipped
        self.cached_bytes = cached

    def _hr(self, original: np.ndarray, factor: float) -> np.ndarray:
        """The HR image at `factor` of the file's size, cropped to a multiple of the scale
        (empty when it is smaller than the scale)."""
        if factor != 1.0:
            original = imresize(original, factor)
        if min(original.shape[:2]) < self.scale:
            return np.zeros((0, 0, 3), np.uint8)
        return modcrop(original, self.scale)

    def _arrays(self, entry: _Entry) -> tuple[np.ndarray, np.ndarray | None]:
        if entry.hr is not None:
            return entry.hr, entry.lr
        hr = self._hr(read_rgb8(entry.path), entry.factor)
        return hr, self.degradation.whole(hr, self.scale) if self._whole_lr else None

    def pair(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One random aligned (LR, HR) pair, float32 H×W×3 in 0..1."""
        entry = self.entries[int(rng.integers(len(self.entries)))]
        hr, lr = self._arrays(entry)
        s, p = self.scale, self.patch
        y = int(rng.integers(hr.shape[0] // s - p + 1))
        x = int(rng.integers(hr.shape[1] // s - p + 1))
        if not self.degradation.flips_commute:
            lr_patch, hr_patch = self._flipped_then_degraded(hr, y, x, rng)
            return self.degradation.finish(lr_patch, rng), hr_patch
        hr_patch = hr[y * s:(y + p) * s, x * s:(x + p) * s].astype(np.float32) / 255.0
        if self.degradation.random:
            lr_patch = self.degradation.patch(hr_patch, s, rng)
        else:
            lr_patch = self.degradation.finish(lr[y:y + p, x:x + p], rng)
        return augment((lr_patch, hr_patch), rng)

    def _flipped_then_degraded(self, hr: np.ndarray, y: int, x: int,
                               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The pair at LR (y, x), flipped at random as a pair of the same kernel: the HR
        window around the patch, wide enough for the blur's reach and clipped to the image
        (whose border the blur reflects as it does for the whole image), is flipped and
        transposed first, then degraded. Unflipped, it is the whole image's pair."""
        s, p = self.scale, self.patch
        margin = -(-self.degradation.reach // s)  # LR pixels
        y0, x0 = max(0, y - margin), max(0, x - margin)
        y1, x1 = min(hr.shape[0] // s, y + p + margin), min(hr.shape[1] // s, x + p + margin)
        window, oy, ox = hr[y0 * s:y1 * s, x0 * s:x1 * s], y - y0, x - x0
        flip_h, flip_v, transpose = draw_flips(rng)
        if flip_h:
            window, ox = window[:, ::-1], (x1 - x0) - ox - p
        if flip_v:
            window, oy = window[::-1], (y1 - y0) - oy - p
        if transpose:
            window, oy, ox = window.transpose(1, 0, 2), ox, oy
        lr = self.degradation.whole(np.ascontiguousarray(window), s)
        hr_patch = window[oy * s:(oy + p) * s, ox * s:(ox + p) * s].astype(np.float32) / 255.0
        return np.ascontiguousarray(lr[oy:oy + p, ox:ox + p]), np.ascontiguousarray(hr_patch)


class MixedScaleSource:
    """The training images at several scales, for one network that serves them all (VDSR).

    Batch ``i`` is drawn at scale number ``i mod n`` (a batch's LR patches share one size).
    The LR patch side shrinks with the scale so that the HR patch keeps the first scale's
    side (VDSR trains on 41-px patches at every scale): each batch costs about the same.
    """

    def __init__(self, folders: Sequence[str | os.PathLike], scales: Sequence[int], patch: int,
                 degradation: Degradation, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 downscales: Sequence[float] = (), cancel: CancelToken | None = None,
                 patch_fixed: bool = False):
        hr_side = patch * scales[0]
        self.sources = []
        for s in scales:
            lr_patch = max(MIN_PATCH, round(hr_side / s))
            try:
                self.sources.append(PatchSource(folders, s, lr_patch, degradation, cache_bytes // len(scales),
                                                downscales, cancel, patch_fixed))
            except TrainingError as exc:  # (it named a patch the user never typed: the scale's own)
                raise TrainingError(f"at ×{s} of --scale {' '.join(map(str, scales))}, --patch {patch} is "
                                    f"{lr_patch} LR pixels: {exc}") from None
        first = self.sources[0]
        self.scale, self.patch, self.paths = first.scale, first.patch, first.paths

    def batch(self, seed: int, index: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch `index` of a run seeded `seed`, at the scale whose turn it is."""
        return self.sources[index % len(self.sources)].batch(seed, index, size)


class BatchLoader:
    """Batches ``start, start+1, …`` of a `PatchSource`, prepared ahead on worker threads."""

    def __init__(self, source: PatchPairs | MixedScaleSource, batch: int, seed: int, start: int, workers: int = 2,
                 ahead: int = 4, pin: bool = False):
        self.source, self.size, self.seed, self.pin = source, batch, seed, pin
        self.next_index = start
        self.pool = concurrent.futures.ThreadPoolExecutor(max(1, workers), thread_name_prefix="sr-train-data")
        self.pending: deque[concurrent.futures.Future] = deque()
        for _ in range(max(1, ahead)):
            self._submit()

    def _submit(self) -> None:
        index = self.next_index + len(self.pending)
        self.pending.append(self.pool.submit(self._make, index))

    def _make(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        lr, hr = self.source.batch(self.seed, index, self.size)
        # page-locked memory lets the copy to a GPU overlap the step
        return (lr.pin_memory(), hr.pin_memory()) if self.pin else (lr, hr)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch in order (waits for it if the workers are behind)."""
        batch = self.pending.popleft().result()
        self.next_index += 1
        self._submit()
        return batch

    def close(self) -> None:
        """Stop the workers (pending batches are dropped)."""
        for future in self.pending:
            future.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)
