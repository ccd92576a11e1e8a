"""``curves.png``: the training loss and the validation PSNR, drawn with Pillow (matplotlib
is not a dependency). Two panels; the loss on a log scale; the bicubic baseline's PSNR as
a grey line."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from sr_desktop.engine.imageio.atomic import atomic_write

PANEL = (420, 300)
MARGIN = (58, 18, 16, 36)  # left, top, right, bottom
BACKGROUND, AXIS, GRID = (255, 255, 255), (60, 60, 60), (225, 225, 225)
LOSS_COLOR, PSNR_COLOR, BASELINE_COLOR = (31, 119, 180), (214, 39, 40), (150, 150, 150)


def _panel(title: str, points: Sequence[tuple[float, float]], color: tuple[int, int, int],
           log_y: bool = False, baseline: float | None = None) -> Image.Image:
    img = Image.new("RGB", PANEL, BACKGROUND)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    left, top, right, bottom = MARGIN
    x0, y0, x1, y1 = left, top, PANEL[0] - right, PANEL[1] - bottom
    draw.text((x0, 2), title, fill=AXIS, font=font)
    pts = [(x, math.log10(y) if log_y else y) for x, y in points
           if math.isfinite(y) and (y > 0 or not log_y)]
    if not pts:
        draw.rectangle((x0, y0, x1, y1), outline=AXIS)
        draw.text((x0 + 10, (y0 + y1) // 2), "no data yet", fill=AXIS, font=font)
        return img
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ys_all = ys + ([baseline] if baseline is not None and math.isfinite(baseline) else [])
    xmin, xmax = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    ymin, ymax = min(ys_all), max(ys_all)
    pad = (ymax - ymin) * 0.05 or 0.5
    ymin, ymax = ymin - pad, ymax + pad

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (x0 + (x - xmin) / (xmax - xmin) * (x1 - x0), y1 - (y - ymin) / (ymax - ymin) * (y1 - y0))

    for k in range(5):
        gy = ymin + (ymax - ymin) * k / 4
        py = to_px(xmin, gy)[1]
        draw.line((x0, py, x1, py), fill=GRID)
        label = f"{10 ** gy:.3g}" if log_y else f"{gy:.2f}"
        draw.text((4, py - 6), label, fill=AXIS, font=font)
    draw.rectangle((x0, y0, x1, y1), outline=AXIS)
    draw.text((x0, y1 + 4), f"{xmin:g}", fill=AXIS, font=font)
    draw.text((x1 - 40, y1 + 4), f"{xmax:g}", fill=AXIS, font=font)
    draw.text(((x0 + x1) // 2 - 24, y1 + 18), "iteration", fill=AXIS, font=font)
    if baseline is not None and math.isfinite(baseline):
        by = to_px(xmin, baseline)[1]
        for sx in range(int(x0), int(x1), 8):
            draw.line((sx, by, min(sx + 4, x1), by), fill=BASELINE_COLOR)
        draw.text((x1 - 90, by - 12), "bicubic", fill=BASELINE_COLOR, font=font)
    line = [to_px(x, y) for x, y in pts]
    if len(line) > 1:
        draw.line(line, fill=color, width=2)
    for px, py in line[-1:] + (line if len(line) <= 20 else []):
        draw.ellipse((px - 2, py - 2, px + 2, py + 2), fill=color)
    return img


def render_curves(losses: Sequence[tuple[float, float]], psnrs: Sequence[tuple[float, float]],
                  baseline: float | None = None) -> Image.Image:
    """The two panels side by side: (iteration, loss) and (iteration, validation PSNR-Y)."""
    out = Image.new("RGB", (2 * PANEL[0], PANEL[1]), BACKGROUND)
    out.paste(_panel("training loss (log scale)", losses, LOSS_COLOR, log_y=True), (0, 0))
    out.paste(_panel("validation PSNR-Y (dB)", psnrs, PSNR_COLOR, baseline=baseline), (PANEL[0], 0))
    return out


def write_curves(path: Path, losses: Sequence[tuple[float, float]], psnrs: Sequence[tuple[float, float]],
                 baseline: float | None = None) -> None:
    """Render and write ``curves.png`` atomically."""
    buffer = io.BytesIO()
    render_curves(losses, psnrs, baseline).save(buffer, "PNG")
    atomic_write(path, lambda fh: fh.write(buffer.getvalue()))
