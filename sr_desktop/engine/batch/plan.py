"""Planning a batch: which files to process and where each output goes.

Pure path logic, no image decoding: collecting the inputs of a folder (optionally
recursive) or of a list of files, the output-name template's check (its names:
`output_names`), the output format for
``same``, the "output inside input" guard, and the temp files left by a killed run.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path

from sr_desktop.engine.batch.output_names import NAME_PLACEHOLDERS, render_name, variant_that_runs
from sr_desktop.engine.core import file_names
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.core.progress import (
    PLANNING_STAGE,
    CancelToken,
    ProgressCallback,
    ProgressTracker,
    check_cancel,
)
from sr_desktop.engine.imageio.formats import WRITE_FORMATS
from sr_desktop.engine.imageio.protected import NameKeys, name_key

OUTPUT_FORMATS = ("same", *WRITE_FORMATS)
EXISTING_POLICIES = ("skip", "overwrite", "rename")
#: how the name of a batch's default report begins (`runner.default_report_path`), and the
#: whole name
REPORT_PREFIX = "sr-desktop-batch-"
DEFAULT_REPORT_NAME = re.compile(re.escape(REPORT_PREFIX) + r"[0-9]{8}-[0-9]{6}(-[0-9]+)?\.json")
#: from how many files a plan says so first (10 000 take about half a second)
PLAN_NOTICE_FILES = 10_000


class BatchError(SRDesktopError):
    """A batch cannot start: bad folders, bad options, bad name template."""


@dataclass
class BatchJob:
    """One input file of the batch and the output planned for it."""

    index: int
    input: Path
    output: Path | None = None  # None for inputs that are not images
    output_format: str | None = None
    is_image: bool = True
    missing: bool = False  # a listed file that does not exist
    collision_with: Path | None = None  # another input that maps to the same output
    output_of: Path | None = None  # this file is the planned output of that input
    #: `output_of` was planned by an earlier batch (its report lists this file), not this one
    earlier_batch: bool = False
    refusal: str | None = None  # why this file cannot be processed (e.g. would overwrite itself)
    #: a hidden file or folder met by the walk: listed, left out (a camera's ``.thumbnails``,
    #: a USB drive's ``.Trash-1000`` of deleted photos were upscaled with the rest)
    hidden: bool = False


def check_template(template: str) -> None:
    """Raise `BatchError` unless `template` is a valid output-name template.

    Placeholders: {stem} (input name without suffix), {ext} (input suffix without the
    dot), {scale}, {model}, {variant}. The result is a file name: no path separators.
    """
    if not template or not template.strip():
        raise BatchError("the name template is empty")
    if "/" in template or "\\" in template or template in (".", ".."):
        raise BatchError(f"the name template {template!r} must be a file name, not a path")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in template):  # (a newline made names such as "img0\n.png")
        raise BatchError(f"the name template {template!r} holds a control character (a line break, a tab…)")
    try:
        parsed = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise BatchError(f"bad name template {template!r}: {exc}") from None
    for name, spec, conversion in parsed:
        if spec or conversion:
            # {stem!r} would put quotes into file names, {scale:>40} spaces: placeholders only.
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise BatchError(
                f"{{{shown}}} in the name template: conversions (!r) and format specs (:…) "
                "are not allowed, use plain placeholders"
            )
    fields = [name for name, _, _ in parsed]
    for name in fields:
        if name not in NAME_PLACEHOLDERS:
            allowed = " ".join(f"{{{p}}}" for p in NAME_PLACEHOLDERS)
            raise BatchError(f"unknown placeholder {{{name}}} in the name template (use {allowed})")
    if "stem" not in fields:
        raise BatchError("the name template must contain {stem}, or every output would get the same name")


def output_format_for(input_path: Path, fmt: str) -> str:
    """The output format of `input_path` for the batch format `fmt` (``same`` keeps the
    input's format when the engine can write it, else PNG)."""
    from sr_desktop.engine.core.errors import ImageWriteError
    from sr_desktop.engine.imageio import format_for_path

    if fmt != "same":
        return fmt
    try:
        return format_for_path(input_path)
    except ImageWriteError:
        return "png"


def output_suffix_for(input_path: Path, fmt: str) -> str:
    """The suffix of the output: the input's own suffix when ``same`` keeps its format."""
    from sr_desktop.engine.core.errors import ImageWriteError
    from sr_desktop.engine.imageio import format_for_path, suffix_for_format

    if fmt == "same":
        try:
            format_for_path(input_path)
            return input_path.suffix
        except ImageWriteError:
            return suffix_for_format("png")
    return suffix_for_format(fmt)


def is_inside(path: Path, root: Path) -> bool:
    """True if `path` is `root` or lies under it (both resolved)."""
    from sr_desktop.engine.imageio import resolved

    path, root = resolved(path), resolved(root)
    return path == root or root in path.parents


def check_folders(input_dir: Path, output_dir: Path, allow_inside_input: bool) -> None:
    """Refuse a missing input folder, and an output folder inside (or equal to) the input
    folder unless explicitly allowed."""
    if not input_dir.exists():
        raise BatchError(f"input folder {input_dir} does not exist")
    if not input_dir.is_dir():
        raise BatchError(f"input {input_dir} is not a folder")
    if output_dir.exists() and not output_dir.is_dir():
        raise BatchError(f"output {output_dir} exists and is not a folder")
    if is_inside(output_dir, input_dir) and not allow_inside_input:
        raise BatchError(
            f"output folder {output_dir} is inside the input folder {input_dir}; "
            "choose another folder or allow it explicitly (--allow-inside-input)"
        )


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted(it, key=lambda e: e.name)


def _walk(input_dir: Path, recursive: bool, exclude: Path | None, unreadable: dict[Path, str],
          hidden: set[Path], cancel: CancelToken | None = None) -> list[Path]:
    """Every entry of the input tree that a report must account for, sorted per folder.

    Files, FIFOs, sockets, dangling symlinks and symlink loops are all listed (the reader
    then says what each is), and so is a folder whose name looks like an image
    (``x.png/``). Sub-folders are walked when ``recursive`` (symlinked folders are listed,
    not followed: a link cycle cannot make the walk endless); ``exclude`` (the output
    folder inside the input) is never entered. A sub-folder that cannot be listed is an
    entry too, with the reason in ``unreadable``. A hidden entry (`is_hidden`) is listed
    and put in ``hidden``; a hidden folder is not entered.
    """
    from sr_desktop.engine.imageio import is_image_path, resolved
    from sr_desktop.engine.imageio.hidden import is_hidden

    exclude_resolved = resolved(exclude) if exclude is not None else None
    found: list[Path] = []
    pending = [input_dir]
    while pending:
        check_cancel(cancel)  # (50 000 files took 6 s to walk, Ctrl+C waiting for it)
        folder = pending.pop()
        below: list[Path] = []
        try:
            entries = _entries(folder)
        except OSError as exc:
            if folder == input_dir:
                raise BatchError(f"cannot list the folder {folder}: {exc.strerror or exc}") from None
            unreadable[folder] = f"cannot list this folder: {exc.strerror or exc}"
            found.append(folder)
            continue
        for entry in entries:
            path = folder / entry.name
            try:
                real_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                real_folder = False
            if is_hidden(entry):
                if real_folder and exclude_resolved is not None and resolved(path) == exclude_resolved:
                    continue  # the output folder inside the input: not an input, not listed
                if not real_folder or recursive:  # (without -r, folders are not listed)
                    hidden.add(path)
                    found.append(path)
            elif not real_folder:
                found.append(path)
            elif recursive:
                if exclude_resolved is None or resolved(path) != exclude_resolved:
                    below.append(path)
            elif is_image_path(path):
                found.append(path)
        pending.extend(reversed(below))
    return found


def to_upscale(job: BatchJob, existing: str) -> bool:
    """Whether `job` is a file the batch upscales (not a non-image, a refusal, another's
    output, a name clash, or an output there already with ``--existing skip``)."""
    if job.missing or not job.is_image or job.refusal is not None or job.output_of is not None:
        return False
    if job.collision_with is not None:
        return False
    return not (existing == "skip" and job.output is not None and job.output.exists())


def plan_jobs(
    input_dir: Path,
    output_dir: Path,
    *,
    recursive: bool,
    template: str,
    fmt: str,
    scale: int,
    model: str,
    variant: str | None,
    files: list[Path] | None = None,
    existing: str = "skip",
    cancel: CancelToken | None = None,
    progress: ProgressCallback | None = None,
) -> list[BatchJob]:
    """One `BatchJob` per input file, in a stable (sorted) order.

    With `files`, those files are the inputs (a file under `input_dir` keeps its
    sub-folder in the output; one outside it goes to the output root). Otherwise the
    files of `input_dir` (and its sub-folders when `recursive`), never those under
    `output_dir`. Two inputs mapping to the same output are flagged (`collision_with`).
    From `PLAN_NOTICE_FILES` files on, `progress` gets one notice before they are planned.
    """
    from sr_desktop.engine.imageio import is_image_path, resolved

    unreadable: dict[Path, str] = {}
    hidden: set[Path] = set()
    output_root = resolved(output_dir)
    if files is None:
        exclude = output_dir if is_inside(output_dir, input_dir) else None
        candidates = _walk(input_dir, recursive, exclude, unreadable, hidden, cancel)
    else:
        candidates = list(files)
    if len(candidates) >= PLAN_NOTICE_FILES:
        ProgressTracker(0, progress, stage=PLANNING_STAGE).update(message=f"planning {len(candidates)} files")
    jobs: list[BatchJob] = []
    # {variant} names the weights that run ("default" named SPAN's ch48, and a run naming it
    # wrote every file a second time under another name)
    variant = variant_that_runs(model, scale, variant)
    for index, path in enumerate(candidates):
        if index % 1024 == 0:
            check_cancel(cancel)  # (`Cancelled`: nothing is written)
        if files is not None and is_inside(path, input_dir):
            relative = resolved(path).relative_to(resolved(input_dir))
        elif files is not None:
            relative = Path(path.name)
        else:
            relative = path.relative_to(input_dir)
        job = BatchJob(index=index, input=path)
        jobs.append(job)
        if path in unreadable:
            job.refusal = unreadable[path]
            continue
        if path in hidden:
            job.is_image, job.hidden = False, True
            continue
        if not is_image_path(path) or not os.path.lexists(path):
            # (An image name that is not a regular file, a FIFO, a dangling link, a loop,
            # a folder, stays an image job: the reader says what is wrong with it.)
            job.is_image = False
            job.missing = not os.path.lexists(path)
            continue
        name = render_name(template, path.stem, path.suffix.lstrip("."), scale, model, variant)
        job.output_format = output_format_for(path, fmt)
        job.output = output_dir / relative.parent / (name + output_suffix_for(path, fmt))
        length = file_names.name_length(job.output.name)
        if length > file_names.NAME_MAX:  # refused now, not after the upscale
            job.refusal = (f"the output name would be {length} {file_names.NAME_UNIT} long (file systems take "
                           f"{file_names.NAME_MAX}): "
                           "shorten the name template")
        elif existing == "overwrite" and (leaves := _replaced_through_a_link(job.output, output_root)) is not None:
            job.refusal = leaves
    keys = NameKeys()
    _mark_own_outputs(jobs, keys, cancel)
    if files is None:
        _mark_earlier_outputs(jobs, input_dir, keys, cancel)
    claimed: dict[str, Path] = {}
    for job in jobs:
        if job.output is None or job.output_of is not None or job.refusal is not None:
            continue
        key = name_key(job.output, resolve=False)
        if key in claimed:
            job.collision_with = claimed[key]
        else:
            claimed[key] = job.input
    return jobs


def _replaced_through_a_link(output: Path, output_root: Path) -> str | None:
    """Why ``--existing overwrite`` must not replace `output`: it is a link (planted where an
    output goes: the batch replaced the file it named, outside the output folder — a text file
    became a PNG), or an existing file in a sub-folder that is a link leading out of the output
    folder (`output_root`, resolved); else None. Skip and rename never write through a link,
    and new files in a linked sub-folder (a folder on another disk) are written as before. (A
    single `upscale -o LINK --overwrite` writes through a link the user named.)"""
    from sr_desktop.engine.imageio import resolved

    if output.is_symlink():
        return (f"the output {output.name} is a link (to {os.readlink(output)}): a batch never replaces a file "
                "through one")
    if os.path.lexists(output) and not resolved(output.parent).is_relative_to(output_root):
        return (f"the output's folder {output.parent} leads out of the output folder (a link): its file there is "
                "not replaced")
    return None


def check_some_images(jobs: list[BatchJob], input_dir: Path, recursive: bool, listed: bool) -> None:
    """Refuse a batch with no image to upscale: a mistyped folder or a list of the wrong
    files should say so, not report "0 upscaled" and exit as if all went well."""
    if any(job.is_image or job.missing for job in jobs):  # a refused or missing one is reported as failed
        return
    hidden = sum(job.hidden for job in jobs)
    count = len(jobs) - hidden
    others = (f" (only {'1 file that is not an image' if count == 1 else f'{count} files that are not images'})"
              if count else "")
    if listed:
        raise BatchError(f"the file list names no image{others}")
    hint = f"; {hidden} hidden entr{'y is' if hidden == 1 else 'ies are'} left out" if hidden else ""
    if not recursive:
        try:
            if any(entry.is_dir() for entry in _entries(input_dir)):
                hint += "; its sub-folders are searched only with -r/--recursive"
        except OSError:
            pass
    raise BatchError(f"no images in {input_dir}{others}{hint}")


def _mark_own_outputs(jobs: list[BatchJob], key_of: NameKeys, cancel: CancelToken | None = None) -> None:
    """With the output folder inside the input folder, a batch sees its own outputs.

    A job whose output would be its own input is refused (``--name '{stem}'`` into the
    input folder); an input that is the planned output of another input (a previous run's
    ``a_x2_bicubic.png`` next to ``a.png``), or that output renamed by ``--existing rename``
    (`renamed_path`: ``a_x2_bicubic_1.png``), is an output of this batch, not an input.
    """
    outputs: dict[str, Path] = {}
    for number, job in enumerate(jobs):
        if number % 1024 == 0:
            check_cancel(cancel)  # (2 s of a 40 000-file plan: Ctrl+C waited for it)
        if job.output is None:
            continue
        if key_of(job.output) == key_of(job.input):
            job.refusal = "would overwrite the input (choose a name template that changes the name)"
        else:
            outputs.setdefault(key_of(job.output), job.input)
    for number, job in enumerate(jobs):
        if number % 1024 == 0:
            check_cancel(cancel)
        producer = outputs.get(key_of(job.input))
        renamed = _RENAMED.fullmatch(job.input.stem)
        if producer is None and renamed is not None:
            producer = outputs.get(key_of(job.input.with_name(renamed.group(1) + job.input.suffix)))
        if producer is not None and job.refusal is None:
            job.output_of = producer


def _mark_earlier_outputs(jobs: list[BatchJob], input_dir: Path, key_of: NameKeys,
                          cancel: CancelToken | None = None) -> None:
    """An image that an earlier batch wrote into this batch's input tree from inputs of that
    same tree — listed as its output by a batch report (`DEFAULT_REPORT_NAME`) among the
    files walked — is that batch's output, not an input: a run with another model or scale
    into the input folder took ``a_x4_bicubic.png`` for a photo and wrote
    ``a_x4_bicubic_x4_lanczos.png``, 16 times the original. The output folder of a batch
    from elsewhere is an input like any other (``in → out1``, then ``out1 → out2``). A report
    renamed, moved or in CSV is not looked for."""
    earlier: dict[str, Path] = {}
    for number, job in enumerate(jobs):
        if number % 1024 == 0:
            check_cancel(cancel)  # (2 s of a 40 000-file plan: Ctrl+C waited for it)
        if job.is_image or not DEFAULT_REPORT_NAME.fullmatch(job.input.name):
            continue
        for output, producer in _outputs_in_report(job.input, input_dir):
            earlier.setdefault(key_of(output), producer)
    for number, job in enumerate(jobs):
        if number % 1024 == 0:
            check_cancel(cancel)
        producer = earlier.get(key_of(job.input)) if job.is_image else None
        if producer is not None and job.output_of is None and job.refusal is None:
            job.output_of, job.earlier_batch = producer, True


def _outputs_in_report(report: Path, input_dir: Path) -> list[tuple[Path, Path]]:
    """(output, input) of each file a batch report says was written, the output found in the
    report's folder (its output folder, named in the report as the user typed it then); none
    for a file that is not such a report, or one of a batch whose input folder is not in
    `input_dir`'s tree."""
    import json

    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        output_dir, its_input = Path(data["output_dir"]), Path(data["input_dir"])
        if not its_input.is_absolute():
            if output_dir.is_absolute():
                return []  # (typed relative to a working folder the report does not name)
            # both typed relative to one working folder: the input's place from the output's
            its_input = report.parent / os.path.relpath(its_input, output_dir)
        if not is_inside(its_input, input_dir):
            return []
        pairs = []
        for record in data["files"]:
            if record.get("status") == "ok" and isinstance(record.get("output"), str):
                relative = Path(record["output"]).relative_to(output_dir)
                # its input still there: a stale or forged report (one in a downloaded folder)
                # made a batch skip the photos it named and do nothing, status 0
                try:
                    producer = its_input / Path(str(record["input"])).relative_to(data["input_dir"])
                except ValueError:  # (an input from outside that batch's folder: a --files-from list)
                    continue
                if os.path.lexists(producer):
                    pairs.append((report.parent / relative, producer))
        return pairs
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


#: the stem of a `renamed_path`: the original stem, ``_``, a number
_RENAMED = re.compile(r"(.+)_([1-9][0-9]*)")


def renamed_path(path: Path) -> Path:
    """The first free ``name_1.ext``, ``name_2.ext``, ... next to `path`."""
    n = 1
    while True:
        candidate = path.with_name(f"{path.stem}_{n}{path.suffix}")
        if not os.path.lexists(candidate):  # (a dangling link's name is taken)
            return candidate
        n += 1
