"""Render the metrics dock, the Images strip, the batch dialog, the message bar and the
Blur kernel panel offscreen, in the system (light) palette or a dark one, to PNGs for docs/screenshots/.

    QT_QPA_PLATFORM=offscreen python scripts/render_gui_screens.py OUT_DIR [--dark]

The dark palette is built here (the offscreen platform has no system colour scheme); the
widgets must take every colour from the application palette for it to show correctly.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from sr_desktop.gui.app import create_application

EVAL_MODELS = ["bicubic", "lanczos", "realesr-animevideov3", "waifu2x-photo"]


def dark_palette():
    """A dark palette like the ones desktop dark themes give Qt."""
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    role = QPalette.ColorRole
    for r, c in ((role.Window, "#2b2b2e"), (role.WindowText, "#e6e6e6"), (role.Base, "#1f1f22"),
                 (role.AlternateBase, "#333338"), (role.ToolTipBase, "#3a3a40"),
                 (role.ToolTipText, "#e6e6e6"), (role.Text, "#e6e6e6"), (role.Button, "#35353a"),
                 (role.ButtonText, "#e6e6e6"), (role.BrightText, "#ff6b6b"), (role.Link, "#6aa9ff"),
                 (role.Highlight, "#3d6fb6"), (role.HighlightedText, "#ffffff"), (role.Light, "#505056"),
                 (role.Midlight, "#404046"), (role.Mid, "#2a2a2e"), (role.Dark, "#1a1a1d"),
                 (role.Shadow, "#000000"), (role.PlaceholderText, "#8a8a90")):
        pal.setColor(r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, r, QColor("#7a7a80"))
    return pal


def _settle(app, condition=lambda: True, timeout=120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not condition():
        app.processEvents()
        time.sleep(0.01)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.005)


def _photo(path: Path, size=(160, 120), seed=0) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[1], 0:size[0]].astype(np.float64)
    img = np.stack([128 + 100 * np.sin(xx / (4 + seed)) * np.cos(yy / 6.0),
                    np.where((xx // 12 + yy // 12) % 2 == 0, 190.0, 50.0),
                    255.0 * xx / size[0]], axis=2) + rng.normal(0, 6, (size[1], size[0], 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    PILImage.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def render_window(app, tmp: Path, out: Path, prefix: str) -> list[Path]:
    """The main window at 1366×768: three images in the strip (two named the same, one
    broken), an evaluation in the metrics dock, an error in the message bar."""
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    files = [_photo(tmp / "trip" / "beach.png", seed=1), _photo(tmp / "home" / "beach.png", seed=2),
             _photo(tmp / "home" / "garden.png", seed=3)]
    broken = tmp / "home" / "scan.png"
    broken.write_bytes(b"not a png")
    window = MainWindow(settings=GuiSettings(tmp / "gui.ini"), confirm_discard=lambda q: "discard",
                        ask_save_target=lambda s, o: None)
    panel = window.metrics_panel
    if hasattr(panel, "set_picker_scale"):  # the wiring the window makes (issue 19, item 5)
        window.picker.optionsChanged.connect(lambda: panel.set_picker_scale(window.picker.scale()))
        panel.set_picker_scale(window.picker.scale())
    window.resize(1366, 768)
    window.show()
    window.open_paths(files + [broken])
    _settle(app, window.is_idle)
    panel.set_checked_models(EVAL_MODELS)
    window.picker.set_scale(2)
    panel.run_evaluation(EVAL_MODELS, 2)
    _settle(app, lambda: not panel.is_evaluating() and not panel.is_measuring(), 300)
    window.show_error("cannot open notes.txt: not an image (example error)")
    _settle(app)
    widgets = {"metrics_window_1366x768": window, "metrics_dock": window.side_panels.get("Metrics"),
               "strip_images": window.filmstrip_dock, "message_bar": window.message_bar}
    shots = []
    for name, widget in widgets.items():
        if widget is not None and (prefix or name != "message_bar"):  # the light bar: in the window
            shots.append(out / f"{prefix}{name}.png")
            widget.grab().save(str(shots[-1]))
    section = getattr(panel, "evaluate_section", None)
    if section is not None and hasattr(section, "model_filter"):
        section.set_inputs_shown(True)  # the inputs unfolded, a filter typed
        section.model_filter.setText("real")
        _settle(app)
        section.parentWidget().parentWidget().parentWidget().ensureWidgetVisible(section.inputs)
        _settle(app)
        shots.append(out / f"{prefix}metrics_filter.png")
        widgets["metrics_dock"].grab().save(str(shots[-1]))
    window.queue.shutdown(2.0)
    window.close()
    return shots


def render_batch(app, tmp: Path, out: Path, prefix: str) -> list[Path]:
    """The batch dialog after a 14-file batch (one broken file)."""
    from sr_desktop.gui.batch.dialog import BatchDialog

    src = tmp / "album"
    for i in range(13):
        _photo(src / f"holiday_2024_long_file_name_{i:02d}.png", size=(48, 32), seed=i)
    (src / "broken.png").write_bytes(b"not a png")
    dialog = BatchDialog(input_dir=str(src))
    dialog.output_edit.setText(str(tmp / "album_upscaled"))
    dialog.picker.set_model_id("bicubic")
    dialog.show()
    dialog.start()
    _settle(app, lambda: not dialog.is_running(), 120)
    shot = out / f"{prefix}batch_finished.png"
    dialog.grab().save(str(shot))
    dialog.close()
    return [shot]


def render_kernel(app, tmp: Path, out: Path, prefix: str) -> list[Path]:
    """The window at 1600×900 after the Blur kernel panel's default estimate (Auto) of the
    bundled sample photo: the kernel, its confidence and the *Upscale with this kernel* box;
    then the same with *Real photo* ticked."""
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    sample = Path(__file__).resolve().parents[1] / "resources" / "sample.jpg"
    window = MainWindow(settings=GuiSettings(tmp / "kernel.ini"), confirm_discard=lambda q: "discard",
                        ask_save_target=lambda s, o: None)
    window.resize(1600, 900)
    window.show()
    window.open_paths([sample])
    _settle(app, window.is_idle)
    window.estimate_kernel_action.trigger()
    panel = window.kernel_panel
    _settle(app, lambda: not panel.is_running(), 300)
    from PySide6.QtWidgets import QScrollArea

    for area in window.side_panels["Blur kernel"].findChildren(QScrollArea):
        area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())  # the Upscale box in view
    _settle(app)
    shots = [out / f"{prefix}kernel_finished.png", out / f"{prefix}kernel_real_photo.png"]
    window.grab().save(str(shots[0]))
    panel.real_photo_check.setChecked(True)
    _settle(app)
    window.grab().save(str(shots[1]))
    window.queue.shutdown(2.0)
    panel.shutdown(2.0)
    window.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--dark", action="store_true")
    parser.add_argument("--prefix", default="")
    parser.add_argument("--only", choices=("window", "batch", "kernel"))
    args = parser.parse_args(argv)
    app = create_application(offscreen=True)
    app.setStyle("Fusion")
    if args.dark:
        app.setPalette(dark_palette())
    args.out.mkdir(parents=True, exist_ok=True)
    # docs/screenshots/ names: metrics_*, strip_*, batch_* in the light palette, dark_* in the dark
    prefix = args.prefix + ("dark_" if args.dark else "")
    shots = []
    with tempfile.TemporaryDirectory(prefix="sr-shots-") as tmp:
        if args.only in (None, "window"):
            shots += render_window(app, Path(tmp), args.out, prefix)
        if args.only in (None, "batch"):
            shots += render_batch(app, Path(tmp), args.out, prefix)
        if args.only in (None, "kernel"):
            shots += render_kernel(app, Path(tmp), args.out, prefix)
    for shot in shots:
        print(shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
