"""Screenshots of the main window in each state, at several window sizes, offscreen.

    python scripts/gui_screenshots.py docs/screenshots [--sizes 1366x768,1920x1080]
        [--scale 1.5] [--model span]

Writes ``STATE_WxH.jpg`` (JPEG quality 90: a tenth of a PNG's size for these photos;
``STATE_WxH_at150.jpg`` with ``--scale 1.5``: the window as on a screen at 150 % display
scaling; W×H are then the window's size in screen pixels) for:
first start, one image, several images (the Images strip), upscaling (busy), result,
stale result (the picker changed), side by side, region result, mixed drop (the summary
message), workbench panels shown, and the Help ▸ Keyboard shortcuts sheet. Uses the bundled
sample photos and a throw-away settings file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

MIXED_DROP = ("fake.jpg", "notes.txt")
JPEG_QUALITY = 90


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--sizes", default="1366x768,1920x1080", help="window sizes in screen pixels")
    parser.add_argument("--scale", type=float, default=1.0, help="display scaling (1.5 = 150 %%)")
    parser.add_argument("--model", default="span", help="model of the upscale shown")
    args = parser.parse_args(argv)
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = str(args.scale)  # before Qt starts
    from sr_desktop.cli.app_launcher import window_size

    sizes = [window_size(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="sr-desktop-shots-") as tmp:
        Shooter(Path(tmp), args.out_dir, sizes, args.scale).run(args.model)
    return 0


class Shooter:
    """Drives one offscreen window through the states, grabbing each at every size."""

    def __init__(self, tmp: Path, out_dir: Path, sizes: list[tuple[int, int]], scale: float) -> None:
        from sr_desktop.cli.app_launcher import offscreen_window

        self.tmp, self.out_dir, self.sizes, self.scale = tmp, out_dir, sizes, scale
        self.app, self.window = offscreen_window(tmp, self._logical(sizes[0]))

    def _logical(self, size: tuple[int, int]) -> tuple[int, int]:
        return int(size[0] / self.scale), int(size[1] / self.scale)  # never over the screen

    def shoot(self, state: str, widget=None) -> None:
        """Grab the window at every size as STATE_WxH[_at150].jpg (``widget``, a dialog,
        once as STATE[_at150].jpg)."""
        from sr_desktop.cli.app_launcher import save_window_png, settle

        suffix = "" if self.scale == 1.0 else f"_at{round(self.scale * 100)}"
        names = [f"{state}{suffix}"] if widget is not None else [
            f"{state}_{w}x{h}{suffix}" for w, h in self.sizes]
        for size, name in zip(self.sizes, names, strict=False):  # a dialog: one name
            if widget is None:
                self.window.resize(*self._logical(size))
            settle(self.app, 0.4)
            print(save_window_png(widget or self.window, self.out_dir / f"{name}.jpg", JPEG_QUALITY))

    def wait_idle(self) -> None:
        from sr_desktop.cli.app_launcher import JOB_TIMEOUT_S, wait_until

        wait_until(self.app, self.window.is_idle, JOB_TIMEOUT_S)

    def run(self, model: str) -> None:
        from sr_desktop.engine.core import paths

        w = self.window
        resources = paths.SAMPLE_IMAGE.parent
        photos = [resources / "chelsea.png", resources / "sample.jpg"]
        self.shoot("first_start")
        w.open_paths(photos[:1])
        self.wait_idle()
        self.shoot("one_image")
        other = self.tmp / "holiday"
        other.mkdir()
        shutil.copy(photos[0], other / "chelsea.png")  # same name, another folder
        w.open_paths([*photos, other / "chelsea.png"])
        self.wait_idle()
        w.opener.open_image(photos[0])
        self.wait_idle()
        self.shoot("several_images")
        if not w.picker.set_model_id(model):
            raise SystemExit(f"model {model!r} is not installed")
        w.picker.set_scale(4)
        w.start_upscale()
        self._wait_for_progress()
        self.shoot("upscaling")
        self.wait_idle()
        self.shoot("result")
        w.picker.set_scale(2)
        self.shoot("stale_result")
        w.picker.set_scale(4)
        w.set_compare_mode("side_by_side")
        self.shoot("side_by_side")
        w.set_compare_mode("split")
        box = (150, 60, 160, 120)  # what a Shift+drag over the cat's eye selects
        w.compare.set_region(box)
        w.session.select_region(box)
        w.enhance_current_region()
        self.wait_idle()
        self.shoot("region_result")
        for name in MIXED_DROP:
            (self.tmp / name).write_text("not an image")
        w.open_paths([self.tmp / MIXED_DROP[0], self.tmp / MIXED_DROP[1], photos[1]])
        self.wait_idle()
        self.shoot("mixed_drop")
        for dock in w.side_panels.values():
            dock.show()
        w.side_panels["Metrics"].raise_()
        self.shoot("panels")
        sheet = w.show_shortcuts()
        self.shoot("shortcuts_sheet", sheet)
        sheet.close()

    def _wait_for_progress(self) -> None:
        from sr_desktop.cli.app_launcher import wait_until

        wait_until(self.app, lambda: self.window.progress_text.text() not in ("", "starting…")
                   or self.window.is_idle(), 60.0)


if __name__ == "__main__":
    sys.exit(main())
