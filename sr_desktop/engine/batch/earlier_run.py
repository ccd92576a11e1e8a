"""How the outputs a batch kept ("output exists") were made: by the earlier run whose report,
in the output folder, lists them as written. A re-run with another ``--width`` or
``--quality`` into the same folder kept every earlier output and said only "12 skipped",
exit 0, as if the new settings had been applied."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from sr_desktop.engine.batch.output_names import variant_that_runs
from sr_desktop.engine.batch.plan import REPORT_PREFIX
from sr_desktop.engine.batch.report import OUTPUT_EXISTS, FileRecord
from sr_desktop.engine.imageio.formats import LOSSY_FORMATS, format_named_by
from sr_desktop.engine.imageio.protected import resolved

log = logging.getLogger(__name__)

#: the options that change an output without changing its name (the model, scale and format
#: are in the name: another one writes other files). Not the precision: the report records
#: the one asked for, and auto is fp32 on a CPU, a resampling model has none
SHAPING = ("variant", "alpha", "kernel", "kernel_sha256", "iterations", "quality", "width", "height",
           "keep_metadata", "drop_gps", "weights_sha256", "weights_package")
#: those compared only when the earlier report has them (a report of an older version: its
#: outputs were not "made with other settings" for a key it did not record). A re-run with
#: --no-gps kept outputs that held the GPS position without a word, and a model retrained
#: under its id kept its old weights' outputs
RECORDED_SINCE = ("kernel_sha256", "keep_metadata", "drop_gps", "weights_sha256", "weights_package")
#: the newest reports read, and the largest (JSON is read whole: a 40 000-file batch's is
#: about 20 MB)
MAX_REPORTS = 20
MAX_REPORT_BYTES = 64 << 20


def kept_outputs_note(records: list[FileRecord], options: dict, output_dir: Path) -> str:
    """"3 outputs were kept from an earlier run with other settings (width 320 → 640):
    --existing overwrite redoes them", or "" when none was: no output kept, or each made with
    these `SHAPING` options, or by a run whose report is not in `output_dir` (then nothing
    is known of how it was made). Call it before this run's report is written."""
    kept = [r for r in records if r.status == "skipped" and r.note == OUTPUT_EXISTS and r.output]
    if not kept:
        return ""
    writers = _writers_of(output_dir)
    changes: dict[str, None] = {}  # (in order, once each)
    differing = 0
    # the settings each earlier run had otherwise: one of a few reports' options, shared by all
    # its outputs (compared once each, not once per output of a 40,000-file re-run)
    differ_of: dict[int, list[str]] = {}
    for record in kept:
        earlier = writers.get(resolved(Path(record.output)))
        if earlier is None:
            continue
        if id(earlier) not in differ_of:
            differ_of[id(earlier)] = [n for n in SHAPING if (n in earlier or n not in RECORDED_SINCE)
                                      and _as_run(earlier, n) != _as_run(options, n) and not _moot(n, earlier, options)]
        differ = differ_of[id(earlier)]
        # (a PNG's quality changes nothing, nor the alpha mode an image without transparency:
        # its header is read only then, not for each of a large re-run's files)
        made = [f"{name} {_shown(name, _as_run(earlier, name))} → {_shown(name, _as_run(options, name))}"
                for name in differ
                if (name != "quality" or format_named_by(record.output) in LOSSY_FORMATS)
                and (name != "alpha" or _has_transparency(Path(record.output)))]
        differing += bool(made)
        changes.update(dict.fromkeys(made))
    if not differing:
        return ""
    outputs = "1 output was" if differing == 1 else f"{differing} outputs were"
    return (f"{outputs} kept from an earlier run with other settings ({', '.join(changes)}): "
            "--existing overwrite redoes them")


def _writers_of(output_dir: Path) -> dict[Path, dict]:
    """Each output the reports in `output_dir` list as written -> the options of the newest
    run that wrote it."""
    try:
        reports = sorted((p for p in output_dir.glob(f"{REPORT_PREFIX}*.json") if p.is_file()),
                         key=lambda p: p.stat().st_mtime, reverse=True)[:MAX_REPORTS]
    except OSError:
        return {}
    writers: dict[Path, dict] = {}
    for report in reports:
        try:
            if report.stat().st_size > MAX_REPORT_BYTES:
                continue
            data = json.loads(report.read_text(encoding="utf-8"))
            options, its_output = data["options"], Path(data["output_dir"])
            for entry in data["files"]:
                if entry.get("status") == "ok" and isinstance(entry.get("output"), str):
                    # (named as the user typed the output folder then: found from the report's place)
                    written = report.parent / Path(entry["output"]).relative_to(its_output)
                    writers.setdefault(resolved(written), options)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.debug("batch: earlier report %s not read (%s)", report, exc)
    return writers


def _has_transparency(path: Path) -> bool:
    """Whether the image at `path` has an alpha channel or a transparent colour (its header
    only); True when it cannot be read (then the alpha mode may have mattered)."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as im:
            return "A" in im.mode or "transparency" in im.info
    except Exception:  # noqa: BLE001 - any unreadable file: assume it may
        return True


def _as_run(options: dict, name: str):
    """A report's option `name` as it ran: a variant left null (reports before they named the
    one that ran) is the model's default at that scale, so a re-run naming it, or the window's
    batch, which always does, is not "other settings"."""
    value = options.get(name)
    if name != "variant" or value is not None:
        return value
    try:
        return _default_variant(options.get("model"), options.get("scale"))
    except TypeError:  # (an edited report's scale that is no number: a list is not even hashable)
        return None


@functools.lru_cache(maxsize=64)  # (asked for each kept output: 40 000 of a large re-run)
def _default_variant(model, scale) -> str | None:
    return variant_that_runs(model, scale, None) if isinstance(model, str) else None


def _moot(name: str, earlier: dict, options: dict) -> bool:
    """Whether option `name` changed nothing between the two runs: dropping GPS from
    metadata that neither run kept."""
    return name == "drop_gps" and earlier.get("keep_metadata") is False and options.get("keep_metadata") is False


def _shown(name: str, value) -> str:
    """Option `name`'s `value` in the note: a digest by its start (it tells two apart), a
    switch as yes or no, none as auto."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name.endswith("sha256") and isinstance(value, str):
        return value[:12] + "…"
    return "auto" if value is None else str(value)
