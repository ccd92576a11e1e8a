"""Per-file records of a batch, the totals, and the JSON / CSV report file."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sr_desktop.engine.batch.plan import BatchError
from sr_desktop.engine.core.text import printable
from sr_desktop.engine.imageio.atomic import atomic_write

#: Exit statuses of a batch (the CLI returns them; ``sr-desktop batch --help`` lists them).
EXIT_OK = 0  # every image was processed or skipped as already done
EXIT_SOME_FAILED = 1  # the batch ran to the end but at least one file failed
EXIT_FATAL = 2  # bad usage or a fatal error before/while starting (nothing processed)
EXIT_CANCELLED = 130  # cancelled by the user (Ctrl+C / Cancel); finished files are kept


@dataclass
class FileRecord:
    """What happened to one input file."""

    input: str
    output: str | None
    status: str  # ok | skipped | failed (| cancelled, not started: in a cancelled batch's report)
    error: str = ""  # one line, for failed files
    note: str = ""  # why a file was skipped ("output exists", "not an image")
    #: what is wrong with an upscaled file's result (`UpscaleResult.warnings`: the model blew up on it)
    warning: str = ""
    input_bytes: int | None = None
    output_bytes: int | None = None
    input_size: list[int] | None = None  # [width, height]
    output_size: list[int] | None = None
    read_seconds: float = 0.0
    upscale_seconds: float = 0.0
    write_seconds: float = 0.0
    #: who upscaled the file on a cluster (``host:pid`` of the Ray worker); "" locally
    worker: str = ""
    #: a bug's traceback (`stages.bug_traceback`), for the log: not in the report
    details: str = ""
    #: an animation's frames (None, and not in the JSON: a still image)
    frames: int | None = None

    @property
    def seconds(self) -> float:
        return self.read_seconds + self.upscale_seconds + self.write_seconds

    @property
    def input_megapixels(self) -> float:
        """The input's megapixels, each frame of an animation counted (a 300-frame GIF counted
        as one frame understated the work, and the MP/s, 300 times); 0 without a size."""
        if not self.input_size:
            return 0.0
        return self.input_size[0] * self.input_size[1] * (self.frames or 1) / 1e6

    def to_json(self) -> dict:
        data = asdict(self)
        del data["details"]
        if self.frames is None:
            del data["frames"]
        data["seconds"] = round(self.seconds, 4)
        for key in ("read_seconds", "upscale_seconds", "write_seconds"):
            data[key] = round(data[key], 4)
        return data


@dataclass
class BatchTotals:
    """Counts and sums over a batch."""

    files: int = 0
    ok: int = 0
    skipped: int = 0
    failed: int = 0
    not_images: int = 0
    hidden: int = 0  # skipped as hidden (`HIDDEN`)
    input_bytes: int = 0
    output_bytes: int = 0
    input_megapixels: float = 0.0
    upscale_seconds: float = 0.0
    wall_seconds: float = 0.0
    files_per_second: float = 0.0
    cancelled: bool = False
    exit_code: int = EXIT_OK
    removed_temp_files: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_records(
        cls, records: list[FileRecord], wall_seconds: float, cancelled: bool, removed_temp_files: int = 0
    ) -> BatchTotals:
        totals = cls(files=len(records), wall_seconds=round(wall_seconds, 4), cancelled=cancelled)
        totals.removed_temp_files = removed_temp_files
        for record in records:
            setattr(totals, record.status, getattr(totals, record.status) + 1)
            if record.note == NOT_AN_IMAGE:
                totals.not_images += 1
            elif record.note == HIDDEN:
                totals.hidden += 1
            if record.status == "ok":
                totals.input_bytes += record.input_bytes or 0
                totals.output_bytes += record.output_bytes or 0
                totals.input_megapixels += record.input_megapixels
                totals.upscale_seconds += record.upscale_seconds
        totals.input_megapixels = round(totals.input_megapixels, 4)
        totals.upscale_seconds = round(totals.upscale_seconds, 4)
        if wall_seconds > 0:
            totals.files_per_second = round(totals.ok / wall_seconds, 4)
        if cancelled:
            totals.exit_code = EXIT_CANCELLED
        elif totals.failed:
            totals.exit_code = EXIT_SOME_FAILED
        return totals


NOT_AN_IMAGE = "not an image"
#: a symbolic link to a folder met by a recursive walk: listed, not followed (a link cycle
#: cannot make the walk endless); it was said to be "not an image"
LINKED_FOLDER = "a linked folder (not followed)"
#: a hidden file or folder (a dot name, or marked hidden) met by the walk: left out
HIDDEN = "hidden (left out)"
OUTPUT_EXISTS = "output exists"
OUTPUT_OF_BATCH = "an output of this batch"
OUTPUT_OF_EARLIER_BATCH = "an output of an earlier batch"
#: the status, in a cancelled batch's report, of a file the batch never reached
NOT_STARTED = "not started"
#: the status, in a cancelled batch's report, of the file being upscaled when it was cancelled
#: (nothing of it written)
INTERRUPTED = "cancelled"

_CSV_COLUMNS = [
    "input",
    "output",
    "status",
    "error",
    "note",
    "input_bytes",
    "output_bytes",
    "input_width",
    "input_height",
    "output_width",
    "output_height",
    "read_seconds",
    "upscale_seconds",
    "write_seconds",
    "seconds",
    "worker",  # the Ray worker that upscaled the file (--cluster); empty locally
    # new columns go last, so that the columns before keep their places
    "warning",  # the model blew up on the file (`FileRecord.warning`)
    "frames",  # an animation's frame count; empty for a still
]


def _csv_text(records: list[FileRecord], totals: BatchTotals) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        row = record.to_json()
        in_size = row.pop("input_size") or [None, None]
        out_size = row.pop("output_size") or [None, None]
        row.update(input_width=in_size[0], input_height=in_size[1])
        row.update(output_width=out_size[0], output_height=out_size[1])
        # names escaped as in the messages (`cat report.csv` ran a name's escape sequence, and
        # a newline split a record for line tools); the JSON keeps each name as it is
        writer.writerow({key: printable(value) if isinstance(value, str) else value for key, value in row.items()})
    # The last row carries the totals: status "total", counts in the note.
    writer.writerow(
        {
            "input": "TOTAL",
            "status": "total",
            "note": f"ok={totals.ok} skipped={totals.skipped} failed={totals.failed} "
            f"not_images={totals.not_images} cancelled={totals.cancelled} exit_code={totals.exit_code} "
            f"hidden={totals.hidden} not_started={totals.extra.get('not_started', 0)} "
            f"interrupted={totals.extra.get('interrupted', 0)}",
            "input_bytes": totals.input_bytes,
            "output_bytes": totals.output_bytes,
            "upscale_seconds": totals.upscale_seconds,
            "seconds": totals.wall_seconds,
        }
    )
    return buffer.getvalue()


def write_report(path: Path, header: dict, records: list[FileRecord], totals: BatchTotals) -> Path:
    """Write the report atomically: CSV when `path` ends in ``.csv``, JSON otherwise.

    JSON: ``{**header, "totals": {...}, "files": [record, ...]}``. CSV: one row per file
    and a last row with ``status == "total"``.
    """
    if path.suffix.lower() == ".csv":
        text = _csv_text(records, totals)
    else:
        data = dict(header)
        data["totals"] = asdict(totals)
        data["files"] = [r.to_json() for r in records]
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a file name that is not UTF-8 (Latin-1 from an old archive) holds lone surrogates:
        # written as JSON's \udcXX escape, which reads back as the same name (it stopped the
        # whole report, after the work, with an internal error)
        atomic_write(path, lambda fh: fh.write(text.encode("utf-8", "backslashreplace")))
    except OSError as exc:
        raise BatchError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    return path


def is_batch_report(path: Path) -> bool:
    """Whether the file at `path` is a report `write_report` wrote (JSON or CSV): such a file
    is replaced by the next run's report, any other file is not."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    columns = first_line.split(",")
    # this version's columns, or an earlier version's (fewer of them: before "worker" a report
    # of an earlier batch was taken for another file and refused), ending in the totals row
    # only a report has (a list of the user's own headed "input,output,status" was replaced)
    if columns[:3] == _CSV_COLUMNS[:3] and set(columns) <= set(_CSV_COLUMNS):
        return _last_line(path).startswith("TOTAL,")
    if not head.lstrip().startswith(b"{"):  # not JSON: a large file of another kind is not read on
        return False
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")).get("tool") == "sr-desktop batch"
    except (OSError, ValueError, AttributeError):
        return False


def _last_line(path: Path) -> str:
    """The last line of the text file at `path` that is not empty ("" when unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - (1 << 16)))
            tail = fh.read()
    except OSError:
        return ""
    lines = [line for line in tail.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_report(path: Path) -> dict:
    """Load a JSON report written by `write_report`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
