"""QApplication set-up: environment, high-DPI policy, and the names QSettings uses."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from contextlib import contextmanager

from sr_desktop.gui import clear_cv2_qt_plugin_path

clear_cv2_qt_plugin_path()  # must happen before QtWidgets is imported

from PySide6.QtCore import QEvent, Qt, QTimer, QtMsgType, qInstallMessageHandler  # noqa: E402
from PySide6.QtGui import QGuiApplication, QIcon  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sr_desktop import __version__  # noqa: E402
from sr_desktop.engine.core import paths  # noqa: E402

APP_NAME = "SR Desktop"
ORG_NAME = "sr-desktop"


#: Qt warnings that are expected and harmless on the offscreen platform
_IGNORED_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message_handler(mode, context, message: str) -> None:
    if message in _IGNORED_QT_MESSAGES:
        return
    if str(getattr(context, "category", "") or "").startswith("qt.gui.imageio"):
        # a file the window could not decode ("libpng error: Read Error", a size above
        # Qt's limit): the window tells the user itself (a badge, the drop's summary)
        logging.getLogger("sr_desktop.gui.qt").debug("Qt: %s", message)
        return
    if mode in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
        print(f"Qt: {message}", file=sys.stderr)
        # (and in the log: a window started from a desktop menu has no terminal)
        logging.getLogger("sr_desktop.gui.qt").info("Qt: %s", message)


def delete_now(app: QApplication, widget) -> None:
    """Delete `widget` (closed) at once rather than at the event loop's next turn."""
    widget.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def has_display() -> bool:
    """True when a window can be shown (a desktop session, or Windows/macOS)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_application(argv: list[str] | None = None, offscreen: bool = False) -> QApplication:
    """Return the process's QApplication, creating it if needed.

    ``offscreen=True`` selects Qt's offscreen platform (no display needed); it only has an
    effect when the application does not exist yet.
    """
    clear_cv2_qt_plugin_path()
    existing = QApplication.instance()
    if existing is not None:
        return existing  # type: ignore[return-value]
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    qInstallMessageHandler(_qt_message_handler)
    # Fractional scale factors (125 %, 150 %) as the OS reports them, not rounded.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "sr-desktop"])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationVersion(__version__)
    app.setApplicationDisplayName(APP_NAME)
    app.setWindowIcon(QIcon(str(paths.APP_ICON)))  # every window's, and the taskbar's
    app.aboutToQuit.connect(_wait_for_jobs)
    return app


def log_unexpected_errors(show=None, keep=None) -> None:
    """Send the errors no code handled — in a Qt slot (PySide6 prints them and goes on) or in
    a thread — to the log with their traceback, and one line of each in the GUI thread to
    ``show`` (the window's message bar); or, not logged, each error itself to ``keep``. They
    went to stderr only: a window started from a desktop menu lost them, with no word in the
    window."""
    from sr_desktop.engine.core.errors import one_line

    log = logging.getLogger("sr_desktop.unexpected")

    def hook(kind, value, traceback) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, traceback)
            return
        if keep is not None:  # (logged where it is raised again)
            keep(value)
            return
        log.error("unexpected error", exc_info=(kind, value, traceback))
        if show is not None:
            try:
                show(f"unexpected error: {one_line(value)} (details in the log)")
            except Exception:  # the hook must not raise in its turn
                log.exception("could not show the unexpected error")

    def thread_hook(args) -> None:
        if args.exc_type is SystemExit:
            return
        if keep is not None and args.exc_value is not None:
            keep(args.exc_value)
            return
        name = args.thread.name if args.thread is not None else "?"
        log.error("unexpected error in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = hook
    threading.excepthook = thread_hook


@contextmanager
def unexpected_errors_raised():
    """Within the block, the first error no code handled (in a Qt slot or a thread) is raised
    when the block ends, in place of what the block raised meanwhile: an offscreen run
    printed PySide6's traceback, went on, and ended with "the upscale did not finish" (status
    2) where the CLI says "unexpected error" for a bug (status 3). The previous hooks are put
    back."""
    came: list[BaseException] = []
    previous = sys.excepthook, threading.excepthook
    log_unexpected_errors(keep=came.append)
    try:
        yield
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception:
        if not came:
            raise
    finally:
        sys.excepthook, threading.excepthook = previous
    if came:
        raise came[0] from None


def close_on_stop_signals(window) -> list[int]:
    """Ctrl+C, SIGTERM and SIGHUP close `window` (`MainWindow.close_for_signal`); the list
    the signals that came are put in. Qt's event loop hands Python no control of its own, so
    a timer wakes it for its signal handlers to run."""
    from sr_desktop.engine.core.interrupt import handle_stop_signals

    came: list[int] = []

    def stop(signum, _frame) -> None:
        came.append(signum)
        QTimer.singleShot(0, window.close_for_signal)

    handle_stop_signals(stop)
    wake = QTimer(window)
    wake.timeout.connect(lambda: None)
    wake.start(200)
    return came


def _wait_for_jobs() -> None:
    # a job that writes files ends before exit; one of a closed window's computations
    # still inside a long tile gets a few seconds (then `exit_abandoning_jobs`)
    from sr_desktop.gui.worker import wait_before_exit

    wait_before_exit()


def exit_abandoning_jobs(status: int) -> int:
    """After the event loop: `status`, or, when jobs that write no files still run (a closed
    window's upscale inside one long tile), the end of the process now with `status`.
    Python's and Qt's teardown would wait for their threads, the process alive and hidden
    for up to minutes, and their last signals went to deleted objects (tracebacks). A job
    that writes files is never cut short: with one still running, this returns."""
    from sr_desktop.gui.worker import live_jobs

    jobs = live_jobs()
    if not jobs or any(job.writes_files for job in jobs):
        return status
    logging.getLogger(__name__).info("exiting; abandoned: %s", "; ".join(job.describe() for job in jobs))
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # closed or absent (pythonw)
            pass
    os._exit(status)


def load_torch_soon(delay_ms: int = 300) -> None:
    """Import torch on a thread of its own shortly after the window is up: the window no
    longer waits for it before it shows (1.7 s of a 2.4 s start on the 2-core machine), and
    the first upscale, usually seconds later, need not either. Not a daemon: a quit meanwhile
    waits for the import rather than tearing it down half-done.

    Then the objects made so far (the window's, torch's modules) are frozen out of the cyclic
    garbage collector: a full collection stops every thread, the window's too, and later
    imports in workers set them off (a training run's first optimiser imports torch._dynamo:
    two stalls of 150-190 ms just after Start; 120-137 ms against 51-52 with the freeze)."""

    def load() -> None:
        try:
            import torch  # noqa: F401
        except Exception:
            logging.getLogger(__name__).debug("torch could not be imported ahead of use", exc_info=True)
        gc.freeze()

    QTimer.singleShot(delay_ms, lambda: threading.Thread(target=load, name="sr-desktop-load-torch").start())
