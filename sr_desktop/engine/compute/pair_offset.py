"""How far an LR image lies off its HR image (real pairs): the shift, in LR pixels, that phase
correlation finds between the LR image and the HR image shrunk to its size.

Pairs off by a pixel or two teach a network a blur (it learns to average the positions it
cannot tell apart) and cost the bench's PSNR; a user with a camera's pairs is told which
ones to register again. Phase correlation sees a shift whatever the blur, noise or
brightness of the two images; the HR image is shrunk by area averaging, centred as the
datasets' downscales are (so exact pairs measure ≈ 0).
"""

from __future__ import annotations

import cv2
import numpy as np

#: the offset (LR pixels, either direction) beyond which a pair is called misaligned: half a pixel
MISALIGNED_PX = 0.5


def _grey(pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels, np.float32)
    if pixels.ndim == 3 and pixels.shape[2] >= 3:
        return pixels[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    return pixels.reshape(pixels.shape[:2])


def pair_offset(hr: np.ndarray, lr: np.ndarray) -> tuple[float, float]:
    """(dx, dy): how many LR pixels right and down the content of `lr` lies from where `hr`
    (its HR image, the LR's size × the scale) has it."""
    lr_grey = _grey(lr)
    height, width = lr_grey.shape
    shrunk = cv2.resize(_grey(hr), (width, height), interpolation=cv2.INTER_AREA)
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)
    (dx, dy), _response = cv2.phaseCorrelate(shrunk, lr_grey, window)
    return float(dx), float(dy)


def offset_words(dx: float, dy: float) -> str:
    """"1.3 px right, 0.4 px up" of an offset (a direction under 0.05 px left out)."""
    parts = [f"{abs(value):.1f} px {word}" for value, word in
             ((dx, "right" if dx > 0 else "left"), (dy, "down" if dy > 0 else "up")) if abs(value) >= 0.05]
    return ", ".join(parts) or "0.0 px"


def is_misaligned(dx: float, dy: float) -> bool:
    """Whether an offset is beyond `MISALIGNED_PX` in either direction."""
    return max(abs(dx), abs(dy)) > MISALIGNED_PX


def alignment_shift(hr: np.ndarray, lr: np.ndarray, scale: int,
                    rounds: int = 3) -> tuple[tuple[int, int], tuple[float, float]]:
    """The whole HR pixels (x, y) that move `hr` onto `lr`'s content (for `shifted_pair`: no
    pixel is resampled, the HR image is cut elsewhere and the LR image keeps its own pixels,
    whose degradation is what is learnt), and the first offset measured (`pair_offset`).
    Phase correlation's sub-pixel estimate runs short (1.75 for 2 LR pixels at ×4: 7 HR pixels,
    not 8), so the shifted pair is measured again and what is left added, up to `rounds` times."""
    offset = pair_offset(hr, lr)
    shift = hr_shift(offset, scale)
    for _ in range(rounds - 1):
        moved_hr, moved_lr = shifted_pair(hr, lr, scale, shift)
        if moved_lr.size == 0:
            break
        step = hr_shift(pair_offset(moved_hr, moved_lr), scale)
        if step == (0, 0):
            break
        shift = (shift[0] + step[0], shift[1] + step[1])
    return shift, offset


def hr_shift(offset: tuple[float, float], scale: int) -> tuple[int, int]:
    """The whole HR pixels (x, y) an LR offset comes to."""
    return round(offset[0] * scale), round(offset[1] * scale)


def shifted_pair(hr: np.ndarray, lr: np.ndarray, scale: int, shift: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The pair with LR pixel u taken for HR pixels [u·scale − shift, (u+1)·scale − shift), both
    cropped to the part they share (empty when they share none)."""
    (h, w), (lh, lw) = hr.shape[:2], lr.shape[:2]

    def span(k: int, lr_size: int, hr_size: int) -> tuple[int, int]:
        return max(0, -(-k // scale)), min(lr_size, (hr_size + k) // scale)

    kx, ky = shift
    (x0, x1), (y0, y1) = span(kx, lw, w), span(ky, lh, h)
    if x1 <= x0 or y1 <= y0:
        return hr[:0, :0], lr[:0, :0]
    return hr[y0 * scale - ky:y1 * scale - ky, x0 * scale - kx:x1 * scale - kx], lr[y0:y1, x0:x1]
