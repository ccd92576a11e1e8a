"""``OUT/log.jsonl``: one JSON object per line — ``{"kind": "train", "it", "loss", <each
term>, "lr", "its"}`` every few iterations, ``{"kind": "val", "it", "psnr_y", "ssim_y",
"l1"}`` per validation, ``{"kind": "baseline", …}`` (bicubic on the validation set) at the start
and again where a resumed run met other validation images, ``{"kind": "data", "note"}`` then.

On resume, the lines written after the checkpoint's iteration (by the run that was killed)
are dropped, so the log reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sr_desktop.engine.imageio.atomic import atomic_write
from sr_desktop.engine.training.errors import TrainingError


class RunLog:
    """Appends records to ``log.jsonl`` and keeps the curves' points."""

    def __init__(self, path: Path, keep_until: int | None = None):
        self.path = path
        self.records: list[dict[str, Any]] = []
        if keep_until is not None and path.is_file():
            self.records = read_records(path, keep_until)
            text = "".join(json.dumps(r) + "\n" for r in self.records)
            try:
                atomic_write(path, lambda fh: fh.write(text.encode()))
            except OSError as exc:
                raise TrainingError(f"cannot write the run log {path}: {exc.strerror or exc}") from None
        elif path.exists():
            path.unlink()

    def add(self, kind: str, it: int, **values: Any) -> dict[str, Any]:
        """Append one record (flushed at once, so a kill loses at most the line being written)."""
        record = {"kind": kind, "it": it, **{k: _plain(v) for k, v in values.items()}}
        self.records.append(record)
        try:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        except OSError as exc:  # a full disk's write error names no file
            raise TrainingError(f"cannot write the run log {self.path}: {exc.strerror or exc}") from None
        return record

    def points(self, kind: str, key: str) -> list[tuple[float, float]]:
        """(iteration, value) of every `kind` record that has `key`."""
        return points(self.records, kind, key)

    def last(self, kind: str) -> dict[str, Any] | None:
        """The latest record of `kind`."""
        return next((r for r in reversed(self.records) if r.get("kind") == kind), None)


def points(records: list[dict[str, Any]], kind: str, key: str) -> list[tuple[float, float]]:
    """(iteration, value) of every `kind` record of `records` that has `key` (a curve)."""
    return [(float(r["it"]), float(r[key])) for r in records
            if r.get("kind") == kind and isinstance(r.get(key), (int, float))]


def read_records(path: Path, until: int | None = None) -> list[dict[str, Any]]:
    """The records of a run's log up to iteration `until` (all: None), as a resume keeps
    them; [] when there is no readable log."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
            it = int(record.get("it", 0))
        except (ValueError, TypeError, AttributeError):
            continue  # a line cut by the kill
        if until is None or it <= until:
            records.append(record)
    return records


def _plain(value: Any) -> Any:
    """A value as the log writes it: a float to 6 decimals, and to 6 significant digits
    below 1 (a learning rate of 1.5e-8 was written 0.0, a good model's MSE kept 1–3 digits)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, 6) if abs(value) >= 1 else float(f"{value:.6g}")
    return value
