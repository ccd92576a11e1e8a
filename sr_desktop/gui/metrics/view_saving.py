"""The View section's "Save view…": what the after side shows in place of the upscale result —
a difference, SSIM or gradient map, or an evaluated model's result — written whole, at its
full size, as PNG or TIFF. The compare view showed them only on screen, and File ▸ Save
saves the upscale result alone (a paper's figure needed a screenshot)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sr_desktop.gui.metrics.state import MetricsState

#: the formats written: lossless, so that a map's values are the ones measured
VIEW_FILE_FILTER = "PNG (*.png);;TIFF (*.tif *.tiff)"
VIEW_FORMATS = ("png", "tiff")


@dataclass(frozen=True)
class ShownView:
    """What Save view… writes, and the words for it."""

    pixels: np.ndarray
    #: added to the image's stem for the suggested file name ("_x4_srcnn_ssim")
    name_tail: str
    #: what it is, for the status line ("the SSIM map of SRCNN ×4 (evaluate)")
    what: str


def shown_view(state: MetricsState) -> ShownView | None:
    """The map or evaluated result the after side shows now, or None: the upscale result
    itself (File ▸ Save writes it, with its metadata), nothing, or a map not computed yet."""
    source = state.map_source()
    if source is None:
        return None
    evaluated = source.key[0] == "eval"
    mode = state.mode
    if mode == "result":
        if not evaluated:
            return None
        pixels = source.pixels
    else:
        pixels = state.cache.get(("map", mode) + source.key)
        if not isinstance(pixels, np.ndarray):
            return None
    if evaluated:
        # (named apart from the upscale result's maps: theirs are against the bicubic original)
        tail = f"_x{state.eval.scale}_{source.key[2]}_evaluate"
    else:
        from sr_desktop.app.session import result_name_tail

        tail = result_name_tail(state.result)
    if mode != "result":
        tail += f"_{mode}"
    what = source.what if mode == "result" else f"the {_MAP_WORDS[mode]} of {source.what}"
    return ShownView(pixels, _safe(tail), what)


_MAP_WORDS = {"difference": "difference map", "ssim": "SSIM map", "gradient": "gradient map"}


def _safe(tail: str) -> str:
    # an id with a variant ("span@ch52") or a custom model's name makes a file name too
    return re.sub(r"[^\w.+-]", "-", tail)


def suggested_view_path(image, tail: str, default_dir: Path) -> Path:
    """``<image folder>/<stem><tail>.png``; for an image without a file of its own (pasted, the
    bundled sample) ``view<tail>.png`` in `default_dir` (where Save As suggests too)."""
    from sr_desktop.app.session import path_beside_image

    path = getattr(image, "path", None)
    return path_beside_image(Path(path) if path is not None else None, f"{tail}.png", default_dir, "view")


def write_view(view: ShownView, path: Path, protect: tuple[Path, ...] = ()) -> Path:
    """Write `view` to `path` (PNG or TIFF by its suffix; another suffix is refused with one
    line) atomically, never over a path in `protect`; the path written."""
    from sr_desktop.engine.core.errors import ImageWriteError
    from sr_desktop.engine.imageio import Image, SaveOptions, format_for_path, write_image

    fmt = format_for_path(path)
    if fmt not in VIEW_FORMATS:
        raise ImageWriteError(path, "a view is saved as PNG or TIFF (.png, .tif), which keep its values exactly")
    return write_image(Image(np.ascontiguousarray(view.pixels)), path, SaveOptions(format=fmt),
                       overwrite=True, protect=protect)
