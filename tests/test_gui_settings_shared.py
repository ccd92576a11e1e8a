"""Two windows (two processes) on the same settings file: each one's recent files are kept
(the list was rebuilt from what one process had in memory, and the other's entry lost)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from sr_desktop.gui.settings import GuiSettings

REPO = Path(__file__).resolve().parent.parent


def test_a_recent_file_added_by_another_process_is_kept(tmp_path, qapp):
    ini = tmp_path / "gui.ini"
    images = [tmp_path / f"img{i}.png" for i in range(3)]
    for image in images:
        image.write_bytes(b"")
    mine = GuiSettings(ini)
    mine.add_recent_file(images[0])
    other = textwrap.dedent(f"""
        from pathlib import Path
        from PySide6.QtCore import QCoreApplication
        app = QCoreApplication([])
        from sr_desktop.gui.settings import GuiSettings
        GuiSettings(Path({str(ini)!r})).add_recent_file({str(images[1])!r})
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    subprocess.run([sys.executable, "-c", other], check=True, env=env, timeout=60)
    mine.add_recent_file(images[2])
    assert [p.name for p in mine.recent_files()] == ["img2.png", "img1.png", "img0.png"]
