"""Output of the benchmark scripts that print a markdown table of per-image rows."""

from __future__ import annotations

import json
from pathlib import Path


def emit_table(table: str, rows: list[dict], args) -> None:
    """Print `table`; write ``{"args", "rows"}`` to ``--json`` and the table to ``--markdown``
    when those options were given."""
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1, default=str))
    if args.markdown:
        Path(args.markdown).write_text(table)
