"""Entry point of `sr-desktop`.

``sr-desktop`` with no subcommand starts the app (window with a display; the offscreen
pipeline without one). Each subcommand lives in its own module ``sr_desktop.cli.cmd_*``
exposing ``add_parser(subparsers)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import logging
import os
import sys
from pathlib import Path

from sr_desktop import __version__

SUBCOMMAND_MODULES = [
    "sr_desktop.cli.cmd_upscale",
    "sr_desktop.cli.cmd_models",
    "sr_desktop.cli.cmd_batch",
    "sr_desktop.cli.cmd_bench",
    "sr_desktop.cli.cmd_metrics",
    "sr_desktop.cli.cmd_kernel",
    "sr_desktop.cli.cmd_train",
    "sr_desktop.cli.cmd_devices",
]


EXIT_STATUS_HELP = """\
exit status: 0 done; 1 some files failed (one line each on stderr, the others are done; a
file the operating system refused to write, e.g. on a full disk, is one of them); 2 bad
usage, an error before any work (unknown model, bad folder...), or what the operating system
refused outside the files (a name too long); 3 unexpected internal error (a bug: please
report it with the output of -v); 130 interrupted; 141 the reader of standard output closed
it (`| head`)."""


def _available_modules():
    for name in SUBCOMMAND_MODULES:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real import error inside the module
                raise


class OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors on one line: the message and where the usage is (the
    subcommands' parsers are of this class too)."""

    #: the subcommand parsed (its parser leaves options it does not know to this one, whose
    #: message then sent users to the top-level help, and guessed nothing)
    command: argparse.ArgumentParser | None = None

    def error(self, message: str):
        where = self.command.prog if self.command is not None else self.prog
        if self.command is not None and message.startswith("unrecognized arguments:"):
            known = [o for o in self.command._option_string_actions if o.startswith("--")]
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], known, n=1, cutoff=0.75)
                if word.startswith("--") and close:
                    message += f" (did you mean {close[0]}?)"
                    break
        self.exit(2, f"{self.prog}: error: {message} (see `{where} --help`)\n")


def _add_global_flags(parser: argparse.ArgumentParser) -> None:
    """--version and --verbose, which every form of the command takes."""
    parser.add_argument("--version", action="version", version=f"sr-desktop {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="verbose log output")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the subcommands (``sr-desktop COMMAND ...``)."""
    parser = OneLineParser(
        prog="sr-desktop",
        description="SR Desktop: super-resolution workbench. Without a command, opens the app "
        "(its options are at the end of this help).",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _available_modules():
        module.add_parser(sub)
    for command in sub.choices.values():
        _take_verbose_after(command)
    return parser


def _take_verbose_after(command: argparse.ArgumentParser) -> None:
    """-v after the command too, and after a command of its own (`models add FILE -v`);
    SUPPRESS keeps one given before."""
    command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="verbose log output")
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                _take_verbose_after(nested)


def build_app_parser() -> argparse.ArgumentParser:
    """The parser of ``sr-desktop [--screenshot OUT.png [--window-size WxH]] [--offscreen] [IMAGE ...]``."""
    from sr_desktop.cli.app_launcher import window_size  # no Qt at import time
    from sr_desktop.cli.common import path_arg

    parser = OneLineParser(
        prog="sr-desktop",
        description="Open the SR Desktop window (or, with no display, run the offscreen "
        "pipeline on the image and save results under ./out/).",
    )
    _add_global_flags(parser)
    parser.add_argument(
        "--screenshot",
        type=path_arg,
        metavar="OUT.png",
        help="open the window offscreen with the IMAGEs, wait until idle, save a screenshot, exit",
    )
    parser.add_argument(
        "--window-size",
        metavar="WxH",
        type=window_size,
        help="window size, e.g. 1366x768 (--screenshot and --offscreen: default 1600x900; the window: as "
             "it was left)",
    )
    parser.add_argument(
        "--offscreen", action="store_true", help="run the no-display pipeline even with a display"
    )
    parser.add_argument("image", nargs="*", type=path_arg,
                        help="images to open (default: the bundled sample); several fill the Images strip")
    return parser


def _log_to_file(terminal_level: int = logging.WARNING) -> None:
    """The app logs INFO and above to <log dir>/sr-desktop.log (see README); the terminal's
    handler keeps `terminal_level`."""
    from sr_desktop.cli.log_file import LogFileHandler, log_file_handler

    root = logging.getLogger()
    if any(isinstance(existing, LogFileHandler) for existing in root.handlers):
        return  # (the app started again in one process: each start added a handler, each line written again)
    handler = log_file_handler()
    handler.setLevel(logging.INFO)
    for existing in root.handlers:  # the terminal keeps its level
        if existing.level == logging.NOTSET:
            existing.setLevel(terminal_level)
    root.addHandler(handler)
    root.setLevel(min(root.level, logging.INFO))


class _WithoutTraceback(logging.Formatter):
    """A record's line without its traceback (the log file keeps it)."""

    def format(self, record: logging.LogRecord) -> str:
        kept = record.exc_info, record.exc_text, record.stack_info
        record.exc_info = record.exc_text = record.stack_info = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info = kept


def _terminal_lines_without_tracebacks() -> None:
    """The window's terminal (`basicConfig`'s handler) gets one line per record: a bug in a
    job printed its whole traceback there beside the message in the window; -v keeps them."""
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler:  # (not a file's, nor a test's capture)
            handler.setFormatter(_WithoutTraceback(handler.formatter._fmt if handler.formatter else None))


def _log_what_runs() -> None:
    """The window's first line in its log: what a bug report needs (versions, system)."""
    import platform

    from sr_desktop.engine.compute.devices import installed_torch_version

    logging.getLogger("sr_desktop").info(
        "sr-desktop %s started: Python %s, torch %s, %s", __version__, platform.python_version(),
        installed_torch_version() or "not installed", platform.platform())


def _cannot_start(exc: BaseException) -> int:
    """One line for a start-up that fails: under a low memory limit torch cannot map its
    libraries (an ImportError), or the interpreter runs out while importing."""
    detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    memory = isinstance(exc, MemoryError) or "failed to map" in detail or "allocate" in detail
    hint = f"not enough memory{_address_space_limit()}: raise the memory limit or close other programs" \
        if memory else detail
    print(f"sr-desktop: error: cannot start ({type(exc).__name__}): {hint}", file=sys.stderr)
    return 2


def _address_space_limit() -> str:
    """" under an address-space limit of N MiB" when one is set, else ""."""
    from sr_desktop.engine.core.address_space import address_space_limit

    limit = address_space_limit()
    return "" if limit is None else f" under an address-space limit of {limit // 2**20} MiB"


def _names_a_file(arg: str) -> bool:
    """Whether `arg` is an existing path (a name the file system refuses counts as one: the
    app then says what is wrong with it)."""
    try:
        return Path(arg).exists()
    except OSError:
        return True


def _os_error(exc: OSError) -> int:
    """One line for what the operating system refused; exit status 2."""
    where = f"{exc.filename}: " if exc.filename else ""
    print(f"sr-desktop: error: {where}{exc.strerror or exc}", file=sys.stderr)
    return 2


def _cwd_gone() -> bool:
    try:
        os.getcwd()
    except FileNotFoundError:
        return True
    return False


def _reader_gone() -> int:
    """The reader of our output went away (`sr-desktop models | head`): stop quietly, as Unix
    tools do, and keep the interpreter's final flush from failing again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, the shell's status for a tool stopped by a closed pipe


class _ClosedOutput:
    """What `sys.stdout` is when the shell closed it (`>&-`): Python made it None and every
    print vanished, the command ending with status 0; writing is now an error, as in Unix
    tools."""

    def write(self, _text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass


class _NoErrorStream:
    """What `sys.stderr` is for a command when there is none (closed by the shell, ``2>&-``;
    a command started by pythonw on Windows): its lines go nowhere and the exit status still
    tells. With None there, the first progress line ended the command with "unexpected
    error: AttributeError" before any work, and its error line with none at all."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _LossTolerantStream:
    """A command's `sys.stderr` that a refusing operating system (``2> /dev/full``) cannot
    stop: a line it refuses is lost, the first refusal kept in `lost` (the command then ends
    with status 2, as `common.Console` does for stdout). bench and train stopped at their
    first progress line, their work undone. A closed pipe still stops the command."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.lost: OSError | None = None

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.lost = self.lost or exc
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            self.lost = self.lost or exc

    def __getattr__(self, name: str):  # isatty, fileno, encoding…: the stream's own
        return getattr(self.stream, name)


def _stop_signals_interrupt(names: tuple[str, ...]) -> None:
    """The signals `names` interrupt as Ctrl+C does, remembered (engine/core/interrupt.py).
    SIGTERM and SIGHUP for a command (status 130, nothing half-written left: an interrupted
    write removes its temporary file); they killed it outright, leaving a `.part` beside the
    output. (batch and train take them as a first Ctrl+C.)"""
    import threading

    from sr_desktop.engine.core.interrupt import forget_stop_request, handle_stop_signals, interrupt_handler

    forget_stop_request()
    if threading.current_thread() is threading.main_thread():
        handle_stop_signals(interrupt_handler, names)


def _interrupted() -> None:
    """Ctrl+C's one line, on a line of its own (not glued to a progress bar left standing)."""
    from sr_desktop.cli.progress_bar import close_open_bars

    close_open_bars()
    print("sr-desktop: interrupted", file=sys.stderr)


def _out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is the system's, numpy's or torch's allocator running out of memory."""
    from sr_desktop.engine.pipeline.memory import is_allocation_failure

    return isinstance(exc, MemoryError) or is_allocation_failure(exc)


def _text_never_fails_on_stdout() -> None:
    """Characters the standard output's encoding lacks are written escaped (``\\xd7``), as
    Python does on stderr: with an ASCII or Latin-1 stdout (cron, Docker, ``LANG=C`` on old
    systems) the first "64×64" killed the run with exit 3, files left undone; so did a file
    name that is not UTF-8 in a UTF-8 locale."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if callable(reconfigure):
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # (a closed or detached stream: nothing to print to anyway)
            pass


def main(argv: list[str] | None = None) -> int:
    """Run `sr-desktop` with `argv` (default `sys.argv[1:]`): its subcommand, or the app when there is none.

    Returns the exit status (see `EXIT_STATUS_HELP`; 141 when the output pipe closes; 130
    for Ctrl+C, at any moment: one arriving while the parser imported the commands printed a
    traceback).
    """
    try:
        status = _main(argv)
    except KeyboardInterrupt:
        _interrupted()
        status = 130
    finally:
        guard = sys.stderr
        if isinstance(guard, _LossTolerantStream):  # (main is called again in the same process: tests, scripts)
            sys.stderr = guard.stream
    if isinstance(guard, _LossTolerantStream) and guard.lost is not None and status == 0:
        status = 2
    return status


def _chosen_parser(command: argparse.ArgumentParser, rest: list[str]) -> argparse.ArgumentParser:
    """The parser of the action `rest` names under `command` (``models remove``), else
    `command`: an option the action lacks was said to be mistyped as itself ("--json (did you
    mean --json?)": the options looked at were ``models``')."""
    actions = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
    word = next((w for w in rest if not w.startswith("-")), None)
    if actions and word in actions[0].choices:
        return actions[0].choices[word]
    return command


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _text_never_fails_on_stdout()
    try:
        parser = build_parser()  # the subcommands' parsers (torch is imported by the commands)
    except (MemoryError, ImportError, OSError) as exc:
        return _cannot_start(exc)
    commands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    if argv[:1] == ["help"] and not _names_a_file("help"):  # `sr-desktop help [COMMAND]`, as git has it
        # (it said "cannot read help: file not found": the word taken for an image)
        if len(argv) > 1 and argv[1] not in commands:
            close = difflib.get_close_matches(argv[1], sorted(commands), n=1, cutoff=0.6)
            print(f"sr-desktop: error: unknown command {argv[1]!r}" + (f" (did you mean {close[0]}?)" if close else
                  f"; the commands: {', '.join(sorted(commands))}"), file=sys.stderr)
            return 2
        argv = [argv[1], "--help"] if len(argv) > 1 else ["--help"]
    first = next((a for a in argv if not a.startswith("-")), None)
    is_app = first is None or first not in commands
    if is_app and any(a in ("-h", "--help") for a in argv) and first is None:
        try:
            parser.print_help()
            print("\nWithout COMMAND, the app:\n")
            build_app_parser().print_help()
        except BrokenPipeError:  # (`sr-desktop --help | :` said "error: Broken pipe", status 2)
            return _reader_gone()
        except OSError as exc:  # stdout is a full disk
            return _os_error(exc)
        return 0
    if is_app and first is not None and "." not in first and not _names_a_file(first):
        close = difflib.get_close_matches(first, sorted(commands), n=1, cutoff=0.75)
        if close:  # `sr-desktop upscal …`: a mistyped command, not a missing image
            print(f"sr-desktop: error: unknown command {first!r} (did you mean {close[0]}?)", file=sys.stderr)
            return 2
    if not is_app:
        parser.command = _chosen_parser(parser._subparsers._group_actions[0].choices[first],  # type: ignore[union-attr]
                                        argv[argv.index(first) + 1:])
        if sys.stdout is None:  # (a command's; the window, started by pythonw on Windows, has none)
            sys.stdout = _ClosedOutput()
        if sys.stderr is None:
            sys.stderr = _NoErrorStream()
        sys.stderr = _LossTolerantStream(sys.stderr)
    args = (build_app_parser() if is_app else parser).parse_args(argv)
    if _cwd_gone():  # before torch is loaded (oneMKL died "Cannot load libtorch_cpu.so"), not per path
        print("sr-desktop: error: the current folder no longer exists: cd into one", file=sys.stderr)
        return 2
    _stop_signals_interrupt(("SIGINT",) if is_app else ("SIGINT", "SIGTERM", "SIGHUP"))
    terminal_level = logging.DEBUG if args.verbose else logging.WARNING
    # -v: the app's own debug lines; the libraries' from INFO up (matplotlib's font search and
    # Pillow's PNG chunks were 232 of a bench's 237 lines)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sr_desktop").setLevel(logging.DEBUG if args.verbose else logging.NOTSET)
    if is_app:
        if not args.verbose:
            _terminal_lines_without_tracebacks()
        _log_to_file(terminal_level)
        _log_what_runs()
        from sr_desktop.cli.common import send_warnings_to_log

        send_warnings_to_log(args.verbose)  # (a TIFF's decoder warnings, in the window's own thread)
    from sr_desktop.engine.core.errors import ReaderGone, ReportedBug, SRDesktopError

    try:
        if is_app:
            from sr_desktop.cli.app_launcher import launch

            return int(launch(args) or 0)
        return int(args.func(args) or 0)
    except SRDesktopError as exc:
        from sr_desktop.engine.core.text import error_line

        print(f"sr-desktop: error: {error_line(exc)}", file=sys.stderr)  # names it quotes, escaped
        return 2
    except KeyboardInterrupt:
        _interrupted()
        return 130
    except ImportError as exc:  # the commands import torch & co. when they start working
        return _cannot_start(exc)
    except (BrokenPipeError, ReaderGone):
        return _reader_gone()
    except OSError as exc:  # the file system said no (a name too long, a file where a folder is…)
        logging.getLogger("sr_desktop").debug("file system error", exc_info=True)
        if args.verbose:
            raise
        return _os_error(exc)
    except ReportedBug as exc:  # (its traceback is in the log already)
        from sr_desktop.engine.core.text import error_line

        print(f"sr-desktop: {error_line(exc).removeprefix(f'{type(exc).__name__}: ')}", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 - last resort: one line, the traceback in the log file
        if not _out_of_memory(exc):  # a bug: its traceback in the log file, the window's and a command's
            # (the terminal gets the line below, and -v's traceback)
            from sr_desktop.cli.log_file import write_to_log_file

            write_to_log_file(logging.ERROR, "unexpected error", exc_info=True)
        if args.verbose:  # the traceback, then the status of a bug (it was Python's 1)
            import traceback

            traceback.print_exc()
        if _out_of_memory(exc):  # (train, kernel, bench on a large image: "unexpected error", exit 3)
            from sr_desktop.engine.core.text import error_line

            print(f"sr-desktop: error: not enough memory{_address_space_limit()} ({error_line(exc)}); "
                  "use smaller images, a smaller "
                  "--tile, --batch or --patch, or close other programs", file=sys.stderr)
            return 2
        from sr_desktop.engine.core.text import error_line

        details = "" if args.verbose else " (run `sr-desktop -v ...` for details)"
        print(f"sr-desktop: unexpected error: {error_line(exc)}{details}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
