"""A stop asked for by a signal (Ctrl+C, and in the command line SIGTERM and SIGHUP),
remembered as well as raised.

Python raises `KeyboardInterrupt` where the main thread is when the signal comes; when that
is inside a Python callback of a C++ library (OpenVINO's converter calls back into torch's
tracer), the library turns it into an ordinary error, and code that takes any error of the
library for "cannot do it" carried on: the run finished with status 0 and the model was
recorded as one OpenVINO cannot convert. Such code asks `raise_if_stop_requested` first.
"""

from __future__ import annotations

import os

_requested = False


def interrupt_handler(signum=None, frame=None) -> None:
    """A signal handler: remember the stop, then raise `KeyboardInterrupt` as Python's own does."""
    remember_stop_request()
    raise KeyboardInterrupt


def remember_stop_request(signum=None, frame=None) -> None:
    """A signal handler that only remembers the stop, for a loop that asks
    `raise_if_stop_requested` where raising is safe: one raised inside a Python callback of
    Qt is printed and swallowed by Qt, and the run went on."""
    global _requested
    _requested = True


def raise_if_stop_requested() -> None:
    """`KeyboardInterrupt` when a stop was asked for since `forget_stop_request`."""
    if _requested:
        raise KeyboardInterrupt


def forget_stop_request() -> None:
    """Start afresh (each command run in one process: the tests call the CLI many times)."""
    global _requested
    _requested = False


def on_hangup_first_leave_the_terminal(handler):
    """`handler` for SIGHUP, run after standard output and error that were the terminal now
    closed are pointed at the null device: every later write to them raised EIO (a batch then
    recorded the file it was upscaling as failed, "Input/output error", and the command ended
    with status 1 instead of 130)."""
    terminals = [fd for fd in (1, 2) if is_terminal(fd)]  # (asked now: a hung-up one says no)

    def on_hangup(signum, frame):
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            for fd in terminals:
                os.dup2(devnull, fd)
            os.close(devnull)
        except OSError:
            pass
        return handler(signum, frame)

    return on_hangup


def is_terminal(fd: int) -> bool:
    """Whether the descriptor `fd` is a terminal (False for a closed or hung-up one)."""
    try:
        return os.isatty(fd)
    except OSError:
        return False


#: the signals that ask a run to stop as Ctrl+C does: `kill`, `timeout`, `docker stop`, a
#: batch scheduler's end of time (SIGTERM) and a closed terminal (SIGHUP) were a hard kill —
#: a temporary file left beside an output, no report, a training run's last checkpoint lost
STOP_SIGNAL_NAMES = ("SIGINT", "SIGTERM", "SIGHUP")


def handle_stop_signals(handler, names: tuple[str, ...] = STOP_SIGNAL_NAMES) -> dict:
    """``handler(signum, frame)`` for each signal of `names` this platform has, SIGHUP's after
    the terminal is left (`on_hangup_first_leave_the_terminal`); call it in the main thread.
    Returns {signal: the handler it replaced}."""
    import signal

    previous = {}
    for name in names:
        sig = getattr(signal, name, None)
        if sig is not None:
            wrapped = on_hangup_first_leave_the_terminal(handler) if name == "SIGHUP" else handler
            previous[sig] = signal.signal(sig, wrapped)
    return previous
