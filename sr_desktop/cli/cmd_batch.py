"""`sr-desktop batch IN_DIR OUT_DIR [options]`: upscale a folder (or a list of files)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sr_desktop.cli.common import (
    add_alpha_option,
    add_iterations_option,
    add_metadata_option,
    add_model_options,
    add_output_size_options,
    add_quality_option,
    bug_logged,
    check_per_image_options,
    licence_note,
    name_the_file,
    output_arg,
    output_size_from,
    path_arg,
    quality_from,
    quality_note,
    send_warnings_to_log,
    stop_signals_call,
    upscale_options_from,
)
from sr_desktop.cli.progress_bar import open_bar, say_above
from sr_desktop.engine.batch.file_list import read_file_list
from sr_desktop.engine.batch.output_names import DEFAULT_NAME_TEMPLATE
from sr_desktop.engine.batch.plan import EXISTING_POLICIES, OUTPUT_FORMATS
from sr_desktop.engine.batch.report import EXIT_CANCELLED, EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED
from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.interrupt import interrupt_handler
from sr_desktop.engine.core.progress import NOTICE_STAGES
from sr_desktop.engine.core.text import counted, human_seconds, printable, rate_text
from sr_desktop.engine.imageio.atomic import into_stdout

DESCRIPTION = """\
Upscale every image of IN_DIR into OUT_DIR, mirroring the folder tree. Files that are not
images are skipped and listed in the report. A file that fails is logged and the batch
goes on. Re-running the same command resumes: outputs that exist are complete (they are
only ever created by an atomic rename) and are skipped; temp files of a killed run are
removed. OUT_DIR may not be inside IN_DIR unless --allow-inside-input is given; input
files are never overwritten.
"""

EPILOG = f"""\
name template placeholders:
  {{stem}}     input file name without its suffix     {{ext}}   input suffix without the dot
  {{scale}}    the scale                              {{model}} the model id
  {{variant}}  the variant that runs (without --variant the model's own default, e.g. ch48)
  The output suffix comes from --format (same: the input's own format and suffix; AVIF
  and HEIC, read but not written: PNG).
  Animated GIF/PNG/WebP are upscaled frame by frame (timing and loop kept) and
  multi-page TIFFs page by page; a format that cannot hold them (jpg, bmp; tiff for an
  animation, anything but tiff for pages) fails that file, no frame is dropped.

report: JSON by default (OUT_DIR/sr-desktop-batch-<time>.json); CSV when --report ends in .csv.

exit status:
  {EXIT_OK}    every image was upscaled or skipped (output already there)
  {EXIT_SOME_FAILED}    the batch finished but at least one file failed (see the report), or it
       stopped because the output folder took no more files (full or read-only)
  {EXIT_FATAL}    usage error or fatal error (bad folders, no image to upscale, unknown model, ...): nothing
       done; or the files are done but the report could not be written
  3    unexpected internal error (a bug: please report it with the output of -v)
  {EXIT_CANCELLED}  cancelled (Ctrl+C): the current file is dropped, finished ones are kept
  141  the reader of standard output closed it (--report - | head): stopped quietly
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``batch`` subcommand."""
    parser = subparsers.add_parser(
        "batch",
        help="upscale a folder of images",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("in_dir", type=path_arg, metavar="IN_DIR", help="input folder")
    parser.add_argument("out_dir", type=path_arg, metavar="OUT_DIR", help="output folder (created if missing)")
    parser.add_argument("-r", "--recursive", action="store_true",
                        help="include sub-folders (mirrored in OUT_DIR; linked folders are listed, not followed)")
    parser.add_argument(
        "--files-from",
        type=path_arg,
        metavar="LIST.txt",
        help="process the files listed in LIST.txt (one per line, relative to IN_DIR (or to the current "
        "folder, as find IN lists them) or absolute; or "
        "separated by NUL bytes, as find -print0 writes them; - : standard input) instead of listing IN_DIR; "
        "blank lines and lines starting with # are left out unless a file has that name",
    )
    add_model_options(parser)
    parser.add_argument("--format", default="same", choices=OUTPUT_FORMATS, help="output format (default: same)")
    add_quality_option(parser)
    parser.add_argument(
        "--name", default=DEFAULT_NAME_TEMPLATE, metavar="TEMPLATE",
        help=f"output name template (default: {DEFAULT_NAME_TEMPLATE}, and _{{variant}} for a variant "
             "other than the model's default)",
    )
    parser.add_argument(
        "--existing", default="skip", choices=EXISTING_POLICIES,
        help="when an output exists: skip it (default, resumes a batch), overwrite it, or write name_1.ext",
    )
    parser.add_argument("--report", type=output_arg, metavar="FILE",
                        help="report file (.json or .csv; - : JSON on standard output); "
                             "it replaces an earlier batch's report, never another file")
    parser.add_argument(
        "--allow-inside-input", action="store_true",
        help="allow OUT_DIR inside (or equal to) IN_DIR; inputs are still never overwritten",
    )
    add_alpha_option(parser)
    parser.add_argument("--kernel", metavar="FILE.npy|estimate",
                        help="blur kernel for --model zssr or map-sr: one file for every image, or estimate "
                             "each image's own")
    add_iterations_option(parser)
    add_metadata_option(parser)
    add_output_size_options(parser)
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (nor, when stderr is not a terminal, a progress line every 30 s)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar or summary (failed files are still named)")
    parser.add_argument(
        "--cluster", metavar="ray|auto|ray://HOST:PORT",
        help="run on Ray: 'ray' starts a local Ray instance (all cores and GPUs), 'auto' joins $RAY_ADDRESS, "
        "ray://HOST:PORT joins that cluster; inputs and outputs must be on storage every node sees "
        "(needs pip install 'sr-desktop[cluster]')",
    )
    parser.set_defaults(func=run)
    return parser


#: the bar's layout: its rate and time left are the engine's (`ProgressInfo.eta`, files per
#: second over the files upscaled): tqdm's own counted the files a resumed run skips at once,
#: and a batch of 1 000 done + 80 to do showed "1232 file/s, <00:00" for its whole run
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"


#: seconds between the progress lines of a batch whose stderr is not a terminal (a log, cron, CI)
PLAIN_PROGRESS_S = 30.0


class _TerminalProgress:
    """A tqdm bar (files done/total, current file, rate, ETA) on a terminal; elsewhere (`plain`:
    stderr a file, a pipe) a line every `PLAIN_PROGRESS_S` seconds, so that a log shows the
    batch going on (it was silent for hours, and CI jobs that stop a step without output
    stopped it)."""

    def __init__(self, enabled: bool, notes: list[str] | None = None, quiet: bool = False, plain: bool = False):
        self.bar = None
        self.enabled = enabled
        self.quiet = quiet
        self.plain = plain
        self.last_line = time.monotonic()
        self.starts = False  # whether files are said as they start (a Ray batch says them as they end)
        self.notes = [note for note in notes or [] if note]

    def say_notes(self) -> None:
        """Say the command's notes (once): when the first file starts, every check of the
        batch has passed (before a refusal a note read as its cause)."""
        notes, self.notes = self.notes, []
        for note in notes:
            say_above(self.bar, note)

    def __call__(self, info) -> None:
        event = info.extra.get("event")
        if event in ("file", "start"):
            self.say_notes()
        if info.stage in NOTICE_STAGES:  # a model's first use, a plan of many files: seconds before the first
            if self.enabled:  # (above the bar: a resumed Ray batch's skipped files opened it before)
                say_above(self.bar, f"sr-desktop: {info.message}…")
            return
        if self.enabled and self.bar is None:
            self.bar = open_bar(total=info.total, unit="file", dynamic_ncols=True, bar_format=BAR_FORMAT)
            # its clock from the batch's start (a Ray batch's first file comes seconds in: a
            # 7.9 s batch read 00:02)
            self.bar.start_t -= max(0.0, info.elapsed)
        if event == "file":
            record = info.extra["record"]
            if self.plain and time.monotonic() - self.last_line >= PLAIN_PROGRESS_S and info.done < info.total:
                self.last_line = time.monotonic()
                left = f", about {human_seconds(info.eta)} left" if info.eta is not None else ""
                print(f"sr-desktop: {info.done} of {counted(info.total, 'file')} done, "
                      f"{info.extra.get('failed', 0)} failed{left}", file=sys.stderr, flush=True)
            if self.bar is not None:
                # (set before the update, which draws: the bar showed the file before's name)
                if not self.starts:
                    self.bar.set_description_str(printable(Path(record.input).name)[-40:], refresh=False)
                left = f", {human_seconds(info.eta)} left" if info.eta is not None else ""
                self.bar.set_postfix_str(
                    f"{rate_text(info.extra.get('files_per_second', 0.0))} file/s{left}, "
                    f"{rate_text(info.extra.get('megapixels_per_second', 0.0))} MP/s, "
                    f"failed {info.extra.get('failed', 0)}",
                    refresh=False,
                )
                self.bar.update(info.done - self.bar.n)
            if record.status == "failed":
                bug = bug_logged(printable(record.input), record.details)
                say_above(self.bar, f"sr-desktop: failed: {name_the_file(record.error or 'failed', record.input)}{bug}")
            elif record.status == "ok":
                # as `upscale` says them (the result's warning by its input, the format's note by
                # the file written): the report alone held them
                if record.warning:
                    say_above(self.bar, f"sr-desktop: warning: {printable(Path(record.input).name)}: {record.warning}")
                if record.note and not self.quiet:
                    written = printable(Path(record.output or record.input).name)
                    say_above(self.bar, f"sr-desktop: note: {written}: {record.note}")
        elif event == "start" and self.bar is not None:
            self.starts = True
            self.bar.set_description_str(printable(Path(info.message).name)[-40:], refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _subfolders_note(in_dir: Path, out_dir: Path) -> str | None:
    """A note when sub-folders of `in_dir` hold images that a batch without -r leaves out (its
    summary counted the files of the top folder only: "3 upscaled" read as the whole tree,
    and the window's batch includes sub-folders by default)."""
    from sr_desktop.engine.imageio.folder_scan import images_in_subfolders

    # (its output folder inside it holds images a batch never takes: the note told to add -r)
    if images_in_subfolders(in_dir, exclude=out_dir) is not True:  # (None: too many entries looked at to tell)
        return None
    return ("sr-desktop: note: sub-folders of the input folder hold images too: they are upscaled only with "
            "-r/--recursive")


def run(args: argparse.Namespace) -> int:
    """Run the batch; returns the exit status listed in ``--help``."""
    from sr_desktop.engine.batch.runner import BatchOptions, run_batch
    from sr_desktop.engine.core.progress import CancelToken

    upscale = upscale_options_from(args)
    # (batch had no --kernel: a kernel could not be used)
    notes = [check_per_image_options(upscale), quality_note(args, set() if args.format == "same" else {args.format}),
             licence_note(upscale.model)]
    options = BatchOptions(
        upscale=upscale,
        format=args.format,
        quality=quality_from(args),
        name_template=args.name,
        existing=args.existing,
        recursive=args.recursive,
        allow_inside_input=args.allow_inside_input,
        keep_metadata=not args.no_metadata,
        drop_gps=args.no_gps,
        keep_lossless=args.quality is None,  # (no quality asked for: a lossless WebP stays lossless)
        size=output_size_from(args),
    )
    send_warnings_to_log(getattr(args, "verbose", False))
    cluster = None
    if args.cluster is not None:  # --cluster "" is a mistake, not "no cluster"
        from sr_desktop.engine.batch.cluster import ClusterTarget, import_ray

        cluster = ClusterTarget.parse(args.cluster)
        import_ray()  # one clear line now rather than after the plan when Ray is missing
    in_dir = Path(args.in_dir).expanduser()
    files = None
    if args.files_from == "-":
        from sr_desktop.cli.stdin_image import read_stdin_bytes

        listed = read_stdin_bytes(("a file list", "find IN -name '*.jpg' | sr-desktop batch IN OUT --files-from -"))
        files = read_file_list(Path("standard input"), in_dir, listed)
    elif args.files_from:
        files = read_file_list(Path(args.files_from).expanduser(), in_dir)
    if files is None and not args.recursive:
        notes.append(_subfolders_note(in_dir, Path(args.out_dir).expanduser()))

    cancel = CancelToken()

    def on_sigint(signum, frame):  # first Ctrl+C: stop within the current tile, its file not written
        if cancel.cancelled:
            interrupt_handler()  # (remembered: inside a library's callback it comes back as its error)
        cancel.cancel()
        # (a new line ends the progress bar's; without a bar it was an empty line)
        print(f"{chr(10) if bar.enabled else ''}sr-desktop: cancelling (the file being upscaled is not written; "
              "Ctrl+C again to abort)", file=sys.stderr)

    drawn = not (args.no_progress or args.quiet)
    bar = _TerminalProgress(enabled=drawn and sys.stderr.isatty(), notes=[] if args.quiet else notes,
                            quiet=args.quiet, plain=drawn and not sys.stderr.isatty())
    try:
        with stop_signals_call(on_sigint):  # SIGTERM and SIGHUP too: as a first Ctrl+C
            result = run_batch(
                in_dir, args.out_dir, options, files=files, report_path=args.report,
                progress=bar, cancel=cancel, cluster=cluster,
            )
    except Cancelled:  # before any file (a model measured on first use): it said "error: cancelled", 2
        bar.close()
        print("sr-desktop: cancelled before any file was upscaled", file=sys.stderr)
        return EXIT_CANCELLED
    finally:
        bar.close()
    bar.say_notes()  # (a batch whose files were all skipped as done started none)
    # a report written to stdout (`--report /dev/stdout | jq`) keeps stdout its own; asked for,
    # not only written: one stdout refused (full) lost the summary and the report's error line
    said = sys.stderr if args.report is not None and into_stdout(args.report) else sys.stdout
    if not args.quiet:
        print(result.summary(), file=said)
        if result.report_path is not None:
            print(f"report: {result.report_path}", file=said)
    if result.report_error:
        print(f"sr-desktop: error: {result.report_error}", file=sys.stderr)
    return result.exit_code
