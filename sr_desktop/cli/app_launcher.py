"""``sr-desktop [--screenshot OUT.png [--window-size WxH]] [--offscreen] [IMAGE ...]``: the app.

* With a display: open the main window with the IMAGEs (default: the bundled sample; several
  fill the Images strip and the first is shown).
* Without one (no ``DISPLAY``/``WAYLAND_DISPLAY``), or with ``--offscreen``: run the same
  pipeline in an offscreen window — upscale IMAGE with the default model, save the result
  and a PNG screenshot of the window under ``./out/`` and print both paths.
* ``--screenshot OUT.png``: open the window offscreen with the IMAGEs, wait until it is idle,
  save a screenshot of the whole window (``--window-size``, default 1600×900) to OUT.png
  (or .jpg; an existing OUT is replaced, never one of the IMAGEs) and exit.
  ``QT_SCALE_FACTOR=1.5`` renders it as at 150 % display scaling (the PNG then has 1.5 × the
  window size in pixels).

The offscreen runs use a throw-away settings file, so they never change the user's choices.
Their outputs never replace an input; a run's outputs replace those of an earlier run of the
same images, and two inputs of one run never share an output name.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from sr_desktop.engine.core import paths
from sr_desktop.engine.core.errors import UNEXPECTED_ERROR, ImageWriteError, ReportedBug, SRDesktopError
from sr_desktop.engine.core.interrupt import raise_if_stop_requested
from sr_desktop.engine.core.path_kind import file_in_the_way
from sr_desktop.engine.imageio.protected import ProtectedPaths

WINDOW_SIZE = (1600, 900)  # room for the compare view next to the metrics dock
MIN_WINDOW_SIDE, MAX_WINDOW_SIDE = 200, 10000
JOB_TIMEOUT_S = 1800.0
SCREENSHOT_SUFFIXES = (".png", ".jpg", ".jpeg")


def window_size(text: str) -> tuple[int, int]:
    """``"1366x768"`` (or ``1366×768``) → (1366, 768); the argparse type of --window-size."""
    import argparse

    parts = text.lower().replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1366x768, got {text!r}") from None
    if not all(MIN_WINDOW_SIDE <= v <= MAX_WINDOW_SIDE for v in (width, height)):
        raise argparse.ArgumentTypeError(
            f"window sides must lie in {MIN_WINDOW_SIDE}..{MAX_WINDOW_SIDE} pixels, got {text!r}")
    return width, height


def launch(args) -> int:
    """Entry point used by ``sr_desktop.cli.main`` for the no-subcommand form."""
    given = getattr(args, "image", None) or []
    images = [Path(p).expanduser() for p in ([given] if isinstance(given, str) else given)]
    images = images or [paths.SAMPLE_IMAGE]
    screenshot = getattr(args, "screenshot", None)
    given_size = getattr(args, "window_size", None)
    if screenshot:
        return take_screenshot(Path(screenshot), images, given_size or WINDOW_SIZE)
    from sr_desktop.gui.app import has_display

    if getattr(args, "offscreen", False) or not has_display():
        # (its window's screenshot was 1600×900 whatever --window-size said)
        return run_offscreen(images, Path("out"), given_size or WINDOW_SIZE)
    return run_window(images, given_size)


def run_window(images: list[Path], size: tuple[int, int] | None = None) -> int:
    """Open the window with ``images`` (at ``size``, else as it was left) and run the event
    loop until it is closed."""
    from sr_desktop.gui.platform_check import xcb_problem

    if (problem := xcb_problem()) is not None:
        raise SRDesktopError(problem)  # Qt itself would abort the process with a paragraph
    from sr_desktop.gui.app import (
        close_on_stop_signals,
        create_application,
        exit_abandoning_jobs,
        load_torch_soon,
        log_unexpected_errors,
    )
    from sr_desktop.gui.main_window.window import MainWindow

    app = create_application(sys.argv[:1])
    window = MainWindow()
    log_unexpected_errors(window.show_error)
    if size is not None:
        window.resize(*size)
    window.show()
    stopped = close_on_stop_signals(window)
    load_torch_soon()
    window.open_paths(images)  # bad files show a message in the window
    status = int(app.exec())
    return exit_abandoning_jobs(130 if stopped else status)


def take_screenshot(out: Path, images: list[Path] | Path, size: tuple[int, int] = WINDOW_SIZE) -> int:
    """Window offscreen at ``size`` with ``images`` (the first shown, all in the strip),
    idle, saved as a PNG to ``out``."""
    from sr_desktop.engine.imageio import read_image
    from sr_desktop.gui.app import unexpected_errors_raised

    images = [images] if isinstance(images, Path) else list(images)
    for image in images:
        read_image(image)  # a bad file is a one-line error before any window exists
    protect = ProtectedPaths(images)
    check_screenshot_target(out, protect)
    with tempfile.TemporaryDirectory(prefix="sr-desktop-shot-") as tmp, _stop_signals_remembered():
        app, window = offscreen_window(Path(tmp), size)
        with _closed_on_interrupt(window), unexpected_errors_raised():
            _open(app, window, images)
            settle(app)
            path = save_window_png(window, out, protect=protect)
            window.close()
            _delete(app, window)
    print(path)
    return 0


def run_offscreen(images: list[Path] | Path, out_dir: Path, size: tuple[int, int] = WINDOW_SIZE) -> int:
    """Upscale each of ``images`` with the default model through an offscreen window at
    ``size``, save each result and a screenshot of the window in ``out_dir``, print their paths."""
    from sr_desktop.engine.imageio import read_image
    from sr_desktop.gui.app import unexpected_errors_raised

    images = [images] if isinstance(images, Path) else list(images)
    for image in images:
        read_image(image)  # a bad file is a one-line error before any work
    protect = ProtectedPaths(images)
    names = _output_stems(images)
    with tempfile.TemporaryDirectory(prefix="sr-desktop-run-") as tmp, _stop_signals_remembered():
        app, window = offscreen_window(Path(tmp), size)
        with _closed_on_interrupt(window), unexpected_errors_raised():
            for image, stem in zip(images, names, strict=True):
                _upscale_in_window(app, window, image, stem, out_dir, protect)
        window.close()
        _delete(app, window)
    return 0


def _delete(app, window) -> None:
    """Delete a closed offscreen window now, while its settings folder exists: kept, it
    followed the added models' list and wrote its settings back into that folder after it was
    removed (called in-process, as the tests and a library user do)."""
    from sr_desktop.gui.app import delete_now

    delete_now(app, window)


@contextmanager
def _stop_signals_remembered():
    """Within the block Ctrl+C, SIGTERM and SIGHUP are only remembered; `wait_until` and
    `settle` raise between events. Raised wherever Python was — in Qt's imports, in a widget's
    constructor — a Ctrl+C while the offscreen window was built gave tracebacks, "unexpected
    error" (status 3), a failed import or a crash instead of "interrupted" (130)."""
    from sr_desktop.engine.core.interrupt import handle_stop_signals, remember_stop_request

    previous = handle_stop_signals(remember_stop_request)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _closed_on_interrupt(window):
    """Ctrl+C, SIGTERM or SIGHUP during an offscreen run (`_stop_signals_remembered`): the
    window is closed as for a signal — its jobs cancelled and waited for — before the interrupt
    goes on to the CLI's one line, status 130. (The process exited with a job still running in
    a worker thread, its last signals going to deleted objects: tracebacks on the terminal; a
    Ctrl+C that came while Qt ran a Python callback was swallowed and the run went on; SIGTERM
    killed it.)"""
    try:
        raise_if_stop_requested()  # (one that came while the window was built)
        yield
    except KeyboardInterrupt:
        from sr_desktop.gui.app import exit_abandoning_jobs
        from sr_desktop.gui.worker import live_jobs, wait_before_exit

        window.close_for_signal()
        if not wait_before_exit() and live_jobs():
            print("sr-desktop: interrupted", file=sys.stderr)  # the CLI's line: no return to it
            exit_abandoning_jobs(130)  # ends the process unless a job writing files runs
        raise


def _output_stems(images: list[Path]) -> list[str]:
    """The name each image's outputs start with: its stem, and where two images of the run
    share one (a.png, a.jpg), the stem with the suffix (a_jpg), then a number."""
    stems = [image.stem for image in images]
    taken: set[str] = set()
    names = []
    for image, stem in zip(images, stems, strict=True):
        name = stem if stems.count(stem) == 1 else f"{stem}_{image.suffix.lstrip('.').lower()}"
        base, n = name, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        names.append(name)
    return names


def _upscale_in_window(app, window, image: Path, name: str, out_dir: Path, protect: ProtectedPaths) -> None:
    """Open ``image`` in ``window``, upscale it with the default model at its largest
    scale, save the result and a screenshot under ``out_dir`` (named from `name`; never over
    a path in `protect`) and print both paths."""
    from sr_desktop.app.session import result_name_tail
    from sr_desktop.engine.core.text import result_seconds
    from sr_desktop.engine.imageio import SaveOptions
    from sr_desktop.engine.pipeline.upscale import DEFAULT_MODEL

    _open(app, window, [image])
    if not window.picker.set_model_id(DEFAULT_MODEL):
        raise SRDesktopError(f"the default model {DEFAULT_MODEL!r} is not installed")
    spec = window.picker.spec()
    window.picker.set_scale(max(spec.scales))
    print(f"upscaling {image} with {spec.name} ×{window.picker.scale()} "
          f"on {window.device_label.text().removeprefix('Device: ')} …", flush=True)
    window.start_upscale()
    wait_until(app, window.is_idle, JOB_TIMEOUT_S)
    if window.result is None:
        raise _window_error(window, "the upscale did not finish")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}{result_name_tail(window.result)}.png"
    shot_target = out_dir / f"{name}_window.png"
    for path in (target, shot_target):
        check_screenshot_target(path, protect)
    result_path = window.save_result(target, SaveOptions(format="png"), overwrite=True)
    if result_path is None:
        raise _window_error(window, "the result could not be saved")
    wait_until(app, lambda: _panels_settled(window), 60.0)  # the metrics of the result, if docked
    settle(app)
    shot = save_window_png(window, shot_target, protect=protect)
    print(f"result:     {result_path.resolve()}  ({result_seconds(window.result.seconds)})")
    print(f"screenshot: {shot.resolve()}")


def _panels_settled(window) -> bool:
    """True once a docked metrics panel has no measurement running (or there is none)."""
    panel = getattr(window, "metrics_panel", None)
    return panel is None or not panel.is_measuring()


def check_screenshot_target(out: Path, protect: ProtectedPaths | None = None) -> None:
    """`ImageWriteError` (one line naming `out`) when a screenshot or result cannot be written
    there: not a .png/.jpg name, a folder, a protected input, or a parent that is a file."""
    out = Path(out)
    if out.suffix.lower() not in SCREENSHOT_SUFFIXES:
        raise ImageWriteError(out, f"a screenshot is written as {' or '.join(SCREENSHOT_SUFFIXES[:2])}; "
                              f"name it so")
    if out.is_dir():
        raise ImageWriteError(out, "is a folder")
    if protect is not None and out in protect:
        raise ImageWriteError(out, "is one of the images opened; it is never replaced")
    if (blocker := file_in_the_way(out)) is not None:
        raise ImageWriteError(out, f"{blocker} is a file, not a folder")


def save_window_png(window, out: Path, quality: int = -1, protect: ProtectedPaths | None = None) -> Path:
    """Grab the whole window (or any widget) and write it (temporary file + rename): PNG,
    or JPEG at ``quality`` when ``out`` ends in .jpg (the docs' screenshots). Never over a
    path in `protect`; nothing is left behind when it fails."""
    out = Path(out)
    check_screenshot_target(out, protect)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(out, f"cannot create its folder ({exc.strerror or exc})") from None
    from sr_desktop.engine.imageio.atomic import atomic_write
    from sr_desktop.gui.qimage import encoded_grab

    encoded = encoded_grab(window, "JPG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG", quality)
    if encoded is None:
        raise ImageWriteError(out, "the screenshot could not be encoded")
    try:  # the engine's one way to write a file: a synced temporary, then a rename
        atomic_write(out, lambda fh: fh.write(encoded))
    except OSError as exc:
        raise ImageWriteError(out, exc.strerror or str(exc)) from None
    return out


def _window_error(window, otherwise: str) -> Exception:
    """What an offscreen run raises for the window's last error: `ReportedBug` (status 3) for
    a bug in one of its jobs, already logged ("… unexpected error: … (details in the log)" —
    a bug in reading the image ended with a bad input's status 2), else `SRDesktopError`."""
    said = window.last_error or otherwise
    return ReportedBug(said) if UNEXPECTED_ERROR in said else SRDesktopError(said)


def offscreen_window(settings_dir: Path, size: tuple[int, int] = WINDOW_SIZE):
    """(app, window): the main window shown offscreen at ``size`` with its settings in
    ``settings_dir`` (a first start there), answering "discard" to unsaved-result prompts."""
    from sr_desktop.gui.app import create_application

    app = create_application(sys.argv[:1], offscreen=True)
    from sr_desktop.gui.main_window.window import MainWindow
    from sr_desktop.gui.settings import GuiSettings

    window = MainWindow(
        settings=GuiSettings(settings_dir / "gui.ini"),
        confirm_discard=lambda _question: "discard",
    )
    window.resize(*size)
    window.show()
    wait_until(app, lambda: window.isVisible(), 5.0)
    return app, window


def _open(app, window, images: list[Path]) -> None:
    """Open ``images`` in ``window`` (the first is shown) and wait until it is shown
    (raises if it fails)."""
    window.open_paths(images)
    wait_until(app, window.is_idle, JOB_TIMEOUT_S)
    if window.image is None:
        raise _window_error(window, f"cannot open {images[0]}")


def settle(app, seconds: float = 0.3) -> None:
    """Keep processing events briefly: new panel texts post layout requests of their own."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        raise_if_stop_requested()
        time.sleep(0.01)


def wait_until(app, predicate, timeout: float) -> bool:
    """Process events until ``predicate()`` holds (True) or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    app.processEvents()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        app.processEvents()
        raise_if_stop_requested()
        time.sleep(0.01)
    app.processEvents()
    return True
