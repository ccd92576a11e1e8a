"""Compare view cost: one-time array → QImage conversion and per-paint time.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python benchmarks/bench_compare_view.py [--size 2000x1500] [--scale 4]

Prints the set_original / set_result times and the median paint time (widget.grab of a
1280×800 view) at fit, the result at 1:1 (100/scale %), 100 % and 400 % (the window's zoom:
screen pixels per original pixel), in split and side-by-side modes, while panning.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"WxH, e.g. 2000x1500, not {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"both sides at least 1, not {text!r}")
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2000x1500", type=_size, help="original WxH")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    width, height = args.size

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("QT_QPA_PLATFORM_PLUGIN_PATH", None)
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from sr_desktop.gui.compare.view import CompareView

    rng = np.random.default_rng(0)
    original = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    result = np.repeat(np.repeat(original, args.scale, axis=0), args.scale, axis=1)

    view = CompareView()
    view.resize(1280, 800)
    view.show()
    app.processEvents()

    t0 = time.perf_counter()
    view.set_original(original)
    t1 = time.perf_counter()
    view.set_result(result, args.scale)
    t2 = time.perf_counter()
    print(f"original {width}x{height}, result {result.shape[1]}x{result.shape[0]}")
    print(f"set_original {1000 * (t1 - t0):.1f} ms, set_result {1000 * (t2 - t1):.1f} ms")

    def paint_ms() -> float:
        times = []
        for i in range(args.repeats):
            if i % 2:  # alternate small pans so nothing is cached by position
                view._view.pan_by(3.0, 2.0, view._pane_rects()[0])
            else:
                view._view.pan_by(-3.0, -2.0, view._pane_rects()[0])
            start = time.perf_counter()
            view.grab()
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    view.grab()  # first paint at fit builds the half-size copies
    for mode in ("split", "side_by_side"):
        view.set_mode(mode)
        view.zoom_fit()
        # (zoom as the window says it: screen pixels per original pixel, `magnification`)
        print(f"{mode:13s} fit ({view.magnification() * 100:.1f} %): {paint_ms():.1f} ms/paint")
        for magnification in (1.0 / args.scale, 1.0, 4.0):  # (the result at 1:1, the original at 1:1 and 4:1)
            view.set_magnification(magnification)
            view._view.center = QPointF(view._view.scene_width / 3, view._view.scene_height / 3)
            print(f"{mode:13s} {magnification * 100:.0f} %: {paint_ms():.1f} ms/paint")


if __name__ == "__main__":
    main()
