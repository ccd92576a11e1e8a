"""Validation with the bench protocol: PSNR / SSIM on Y of BT.601, `scale` pixels shaved
(`engine.metrics.evaluate.score_pair`), plus the mean L1 on RGB 0..1.

The validation images are the ``--val`` folder, or, without one, the first two training
images. Each is centre-cropped to at most `max_side` HR pixels (validation must stay
quick on a CPU; the crop is the same every time) and cropped to a multiple of the scale.
Its LR is made once with the training degradation (its random part seeded per image), so
every validation measures the same pairs; or it is the image's given LR image (``--val-lr``,
or a paired run's own: `pairs`), cropped at the same place. The bicubic upscale of the same
LR is the baseline. The network runs as the app runs it (`ArchModel`: whole image, reflect border).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sr_desktop.engine.compute.pair_offset import (
    alignment_shift,
    is_misaligned,
    offset_words,
    pair_offset,
    shifted_pair,
)
from sr_desktop.engine.compute.resample import quantize
from sr_desktop.engine.core.progress import check_cancel, scope_cancel
from sr_desktop.engine.core.text import first_failures
from sr_desktop.engine.imageio import Image, ImageReadError, SaveOptions, read_image, write_image
from sr_desktop.engine.metrics.degradation import modcrop
from sr_desktop.engine.metrics.errors import EvaluationError
from sr_desktop.engine.metrics.evaluate import check_measurable, score_pair
from sr_desktop.engine.models.arch_model import matlab_bicubic
from sr_desktop.engine.models.backends.openvino_runner import build_openvino_runner
from sr_desktop.engine.training.data import list_images, read_rgb8_noting_grey
from sr_desktop.engine.training.degradations import Degradation
from sr_desktop.engine.training.errors import TrainingError
from sr_desktop.engine.training.networks import TrainNet
from sr_desktop.engine.training.pairs import match_pairs, read_pair

#: images used when no validation folder is given
FALLBACK_IMAGES = 2


@dataclass
class ValidationScores:
    """Means over the validation images."""

    psnr_y: float
    ssim_y: float
    l1: float
    previews: list[np.ndarray] = field(default_factory=list, repr=False)  # uint8 SR of the first images

    def as_dict(self) -> dict[str, float]:
        """For the log."""
        return {"psnr_y": round(self.psnr_y, 4), "ssim_y": round(self.ssim_y, 5), "l1": round(self.l1, 6)}


def _centre(img: np.ndarray, side: int, scale: int) -> np.ndarray:
    h, w = img.shape[:2]
    ch, cw = min(h, side), min(w, side)
    y, x = (h - ch) // 2, (w - cw) // 2
    return modcrop(img[y:y + ch, x:x + cw], scale)


def _centre_pair(hr: np.ndarray, lr: np.ndarray, side: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The centre of an (HR, LR) pair, at most `side` HR pixels, the crops aligned."""
    h, w = lr.shape[:2]
    ch, cw = min(h, side // scale), min(w, side // scale)
    y, x = (h - ch) // 2, (w - cw) // 2
    return hr[y * scale:(y + ch) * scale, x * scale:(x + cw) * scale], lr[y:y + ch, x:x + cw]


class ValidationSet:
    """The fixed (LR, HR) validation pairs of a run."""

    def __init__(self, folder: str | os.PathLike | None, train_paths: list[Path], scale: int,
                 degradation: Degradation, max_side: int = 512, seed: int = 0,
                 lr_folder: str | os.PathLike | None = None, train_lr_of: dict[Path, Path] | None = None,
                 align: bool = False):
        """`lr_folder`: the LR images of `folder` (`pairs.match_pairs`); `train_lr_of`: the LR
        image of each training image (a paired run), used when `folder` is None; `align`: each
        given pair aligned first (`compute.pair_offset.alignment_shift`)."""
        if folder and lr_folder:
            matched = match_pairs([folder], [lr_folder], scale, ("--val", "--val-lr"))
            paths, lr_of = [hr for hr, _ in matched], dict(matched)
        elif folder:
            paths, lr_of = list_images([folder]), {}
        else:
            paths, lr_of = train_paths[:FALLBACK_IMAGES], train_lr_of or {}
        self.scale = scale
        self.names: list[str] = []
        #: the files scored, and those left out as too small to measure ("icon.png (20×20)")
        self.paths: list[Path] = []
        #: the given LR image of each of `paths` that has one
        self.lr_paths: list[Path] = []
        #: "name: 1.3 px right, 0.4 px up" of each given pair whose LR image lies off its HR image
        self.misaligned: list[str] = []
        self.left_out: list[str] = []
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        #: per pair, whether its file is grey: scored on the grey values (the Y of the grey
        #: repeated in RGB, 16 + 0.859·g, scored 1.3 dB above `sr-desktop bench`)
        self.grey: list[bool] = []
        for i, path in enumerate(paths):
            given = lr_of.get(path)
            try:  # as for the training images: a file that cannot be read stops the run
                if given is not None:
                    pixels, given_lr, grey = read_pair(path, given, scale)
                else:
                    pixels, grey = read_rgb8_noting_grey(path)
            except (ImageReadError, TrainingError) as exc:
                raise TrainingError(f"cannot read validation image: {exc}") from None
            if given is not None:
                shift, offset = alignment_shift(pixels, given_lr, scale) if align else ((0, 0), pair_offset(pixels,
                                                                                                             given_lr))
                pixels, given_lr = shifted_pair(pixels, given_lr, scale, shift)
                hr, lr8 = _centre_pair(pixels, given_lr, max_side, scale)
            else:
                hr = _centre(pixels, max_side, scale)
            try:  # what `sr-desktop bench` measures, no less (images under 8×scale were left out)
                check_measurable(hr.shape[1], hr.shape[0], scale)
            except EvaluationError:
                self.left_out.append(f"{path.name} ({pixels.shape[1]}×{pixels.shape[0]})")
                continue
            rng = np.random.default_rng([seed, 7919, i])
            if given is not None:
                lr = lr8.astype(np.float32) / 255.0
                self.lr_paths.append(given)
                if is_misaligned(*offset):
                    self.misaligned.append(f"{path.name}: {offset_words(*offset)}")
            elif degradation.random:
                lr = degradation.patch(hr.astype(np.float32) / 255.0, scale, rng)
            else:
                lr = degradation.finish(degradation.whole(hr, scale), rng)
            self.names.append(path.stem)
            self.paths.append(path)
            self.pairs.append((np.asarray(lr, np.float32), hr))
            self.grey.append(grey)
        if not self.pairs:
            raise TrainingError(f"no validation image large enough to measure at ×{scale}"
                                + (f" in {folder}" if folder else "") + f": {first_failures(self.left_out)}")

    def left_out_note(self) -> str | None:
        """One line naming the images left out as too small to measure, or None."""
        if not self.left_out:
            return None
        return (f"validation leaves out {len(self.left_out)} image(s) too small to measure at ×{self.scale}: "
                f"{first_failures(self.left_out)}")

    def _score(self, outputs: list[np.ndarray], previews: int) -> ValidationScores:
        psnrs, ssims, l1s = [], [], []
        for sr, (_, hr), grey in zip(outputs, self.pairs, self.grey, strict=True):
            # the 8-bit image the app would write, as `sr-desktop bench` scores it (the float
            # output scored ~0.01 dB above the bench: 36.8147 against 36.8028 dB)
            scores = score_pair(quantize(sr, np.uint8), hr[:, :, :1] if grey else hr, self.scale)
            psnrs.append(scores.psnr_y)
            ssims.append(scores.ssim_y)
            l1s.append(float(np.mean(np.abs(np.clip(sr, 0, 1) - hr / 255.0))))
        return ValidationScores(float(np.mean(psnrs)), float(np.mean(ssims)), float(np.mean(l1s)),
                                [quantize(sr, np.uint8) for sr in outputs[:previews]])

    def bicubic(self) -> ValidationScores:
        """The baseline: MATLAB bicubic upscale of the same LR images."""
        outs = []
        for lr, _ in self.pairs:
            x = torch.from_numpy(lr).permute(2, 0, 1)[None].double()
            outs.append(matlab_bicubic(x, self.scale)[0].permute(1, 2, 0).numpy())
        return self._score(outs, 0)

    @torch.inference_mode()
    def evaluate(self, net: TrainNet, device: torch.device, previews: int = 1,
                 backend: str = "torch") -> ValidationScores:
        """Scores of `net` (left in eval mode; the caller switches back to training), run by
        torch or (``backend="openvino"``) by OpenVINO on its current weights, converted in
        memory; `BackendError` when OpenVINO cannot run it."""
        model = net.as_model()
        if backend == "openvino":
            with torch.inference_mode(False):
                model.runner = build_openvino_runner(model, cache=False)
        outs = []
        for lr, _ in self.pairs:
            check_cancel(scope_cancel())  # (a Ctrl+C waited for the whole validation: 25 s of Set14)
            x = torch.from_numpy(lr).permute(2, 0, 1)[None].to(device)
            outs.append(model.run(x).float()[0].permute(1, 2, 0).cpu().numpy())
        return self._score(outs, previews)

    def write_inputs(self, folder: Path, count: int) -> None:
        """``lr-NAME.png`` and ``hr-NAME.png`` of the first `count` images (once per run)."""
        for name, (lr, hr) in list(zip(self.names, self.pairs, strict=True))[:count]:
            for prefix, pixels in (("lr", quantize(lr, np.uint8)), ("hr", hr)):
                target = input_preview_path(folder, prefix, name)
                if not target.exists():
                    write_image(Image(pixels), target, SaveOptions(format="png"), overwrite=True)

    def write_previews(self, folder: Path, iteration: int, scores: ValidationScores) -> list[Path]:
        """``sr-NAME-ITER.png`` of the previews in `scores`."""
        written = []
        for name, pixels in zip(self.names, scores.previews, strict=False):
            target = output_preview_path(folder, name, iteration)
            write_image(Image(pixels), target, SaveOptions(format="png"), overwrite=True)
            written.append(target)
        return written


def input_preview_path(folder: Path, prefix: str, name: str) -> Path:
    """Where a run keeps the ``lr`` (network input) or ``hr`` image of validation image `name`."""
    return folder / f"{prefix}-{name}.png"


def output_preview_path(folder: Path, name: str, iteration: int) -> Path:
    """Where a run keeps the network's output for validation image `name` at `iteration`."""
    return folder / f"sr-{name}-{iteration:08d}.png"


def read_logged_preview(out: Path, records: list[dict]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The (input, output) preview pixels of the last validation in `records` (a run's log, as
    a resume keeps it) from the run folder `out`; None for a file that is missing or
    unreadable (``TrainOptions.previews`` 0, a log written before the name was logged, a cleaned
    folder)."""
    record = next((r for r in reversed(records) if r.get("kind") == "val"), None)
    name = record.get("preview") if record else None
    if not isinstance(name, str):
        return None, None

    def pixels(path: Path) -> np.ndarray | None:
        try:
            return read_image(path).pixels
        except ImageReadError:
            return None

    return (pixels(input_preview_path(out / "val", "lr", name)),
            pixels(output_preview_path(out / "val", name, int(record["it"]))))
