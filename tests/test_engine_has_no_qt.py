"""The boundary guard: the engine and the CLI (except the app launcher) never import Qt.

The runtime half of the "No Qt outside the GUI" import-linter contract (pyproject.toml): that
contract reads our sources (lazy imports inside functions included); this imports every
module and sees Qt however it arrives, also through third-party code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_PREFIXES = ("PySide6", "shiboken6", "superqt", "PyQt5", "PyQt6", "qtpy")
EXCLUDED = {"sr_desktop.cli.app_launcher"}

_PROBE = r"""
import importlib, json, sys
prefixes = tuple(sys.argv[1].split(","))
report = {}
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        report[name] = {"error": f"{type(exc).__name__}: {exc}"}
        continue
    qt = sorted(m for m in sys.modules if m.split(".")[0] in prefixes)
    report[name] = {"qt": qt}
print(json.dumps(report))
"""


def _modules(package_dir: Path, package: str) -> list[str]:
    names = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        names.append(".".join([package, *parts]))
    return [n for n in names if n not in EXCLUDED]


def test_engine_app_and_cli_modules_import_no_qt():
    modules = _modules(ROOT / "sr_desktop" / "engine", "sr_desktop.engine")
    modules += _modules(ROOT / "sr_desktop" / "app", "sr_desktop.app")
    modules += _modules(ROOT / "sr_desktop" / "cli", "sr_desktop.cli")
    assert "sr_desktop.engine.pipeline.upscale" in modules and "sr_desktop.cli.main" in modules
    assert "sr_desktop.app.session" in modules
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # one fresh interpreter, modules imported one by one; Qt is checked after each
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(QT_PREFIXES), *modules],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    failed = {n: r["error"] for n, r in report.items() if "error" in r}
    assert not failed, f"modules that do not import: {failed}"
    first_qt = next((n for n in modules if report[n]["qt"]), None)
    assert first_qt is None, f"{first_qt} imported Qt modules: {report[first_qt]['qt']}"


def test_guard_detects_qt(tmp_path):
    """The probe really sees a Qt import (so the guard above cannot pass vacuously)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(QT_PREFIXES), "sr_desktop.gui.qimage"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "PySide6" in {m.split(".")[0] for m in report["sr_desktop.gui.qimage"]["qt"]}
