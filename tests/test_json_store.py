"""The backends' JSON files (measured choices, conversion indexes) are shared by every
process of the user: concurrent updates keep each other's entries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_processes_updating_one_file_at_once_keep_every_entry(tmp_path):
    """Four processes measuring at once kept 59 of their 160 entries: each wrote back the
    file as it had read it."""
    target = tmp_path / "backends.json"
    script = ("import sys; from pathlib import Path\n"
              "from sr_desktop.engine.models.backends.json_store import update_json_dict\n"
              "for i in range(30): update_json_dict(Path(sys.argv[1]), f'{sys.argv[2]}-{i}', {'backend': 'torch'})\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(target), name], cwd=ROOT) for name in "abcd"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert len(json.loads(target.read_text())) == 4 * 30
