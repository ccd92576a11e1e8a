"""The window's longest main-thread stalls (the brief: the UI never freezes), measured with a
5-ms heartbeat timer on the main thread: the largest gap between its ticks while an action
runs. Each round is a fresh process, offscreen:

    PYTHONPATH=. python benchmarks/bench_ui_stalls.py [--rounds 3]

Actions: showing the window with torch loaded in the background (as `sr-desktop` starts it),
the first Help ▸ About (it reads the inference libraries' versions and devices), and a Train
dialog's Start of a 20-iteration SRCNN run (its first optimiser imports torch._dynamo in the
worker). A gap is the main thread kept from its event loop: by its own
work, or by another thread holding the GIL or stopping every thread for a full garbage
collection. Gaps of one tick over 5 ms are noise; a user notices from about 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROUND = r"""
import json, sys, threading, time
from pathlib import Path
import numpy as np
from PIL import Image
from PySide6.QtCore import QElapsedTimer, Qt, QTimer
from sr_desktop.gui.app import create_application, load_torch_soon
from sr_desktop.gui.main_window.window import MainWindow
from sr_desktop.gui.settings import GuiSettings

work = Path(sys.argv[1])
app = create_application()
gaps, clock, state = {}, QElapsedTimer(), {"action": None, "last": 0}


def tick():
    now = clock.elapsed()
    if state["action"] is not None:
        gaps[state["action"]] = max(gaps.get(state["action"], 0), now - state["last"])
    state["last"] = now


def during(action, seconds, until=lambda: False):
    state["action"], state["last"] = action, clock.elapsed()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not until():
        app.processEvents()
        time.sleep(0.001)
    # (the stretch since the last tick counts too: an action that blocks and then ends at once
    # had no tick after it)
    gaps[action] = max(gaps.get(action, 0), clock.elapsed() - state["last"])
    state["action"] = None


heartbeat = QTimer()
heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
heartbeat.setInterval(5)
heartbeat.timeout.connect(tick)
clock.start()
heartbeat.start()
window = MainWindow(settings=GuiSettings(work / "gui.ini"), confirm_discard=lambda _q: "discard")
window.resize(1280, 700)
window.show()
load_torch_soon()
during("show the window, torch loading", 8,
       lambda: "torch" in sys.modules and not any(t.name == "sr-desktop-load-torch" for t in threading.enumerate())
       and clock.elapsed() > 1000)
boxes = []
QTimer.singleShot(0, lambda: boxes.append(window.show_about()))
during("Help: About (first open)", 10, lambda: boxes and "Qt " in boxes[0].text())
boxes[0].close()
data = work / "data"
data.mkdir()
rng = np.random.default_rng(0)
for i in range(12):
    pixels = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    Image.fromarray(np.ascontiguousarray(np.repeat(np.repeat(pixels, 2, 0), 2, 1))).save(data / f"{i}.png")
dialog = window.training.open_dialog()
dialog.data_edit.setText(str(data))
dialog.out_edit.setText(str(work / "run"))
dialog.arch_combo.setCurrentText("SRCNN")
dialog.iterations_spin.setValue(20)
dialog.batch_spin.setValue(4)
dialog.patch_spin.setValue(32)
dialog.device_combo.setCurrentText("cpu")
during("settle", 1)
dialog.start_button.click()
during("Train: Start (SRCNN, 20 iterations)", 60, lambda: not dialog.is_running())
print(json.dumps(gaps))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    rows: dict[str, list[int]] = {}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as work:
            env["SR_DESKTOP_HOME"] = str(Path(work) / "home")
            out = subprocess.run([sys.executable, "-c", ROUND, work], capture_output=True, text=True, env=env,
                                 timeout=300)
            if out.returncode != 0:
                sys.exit(f"a round failed:\n{out.stderr[-2000:]}")
            for action, gap in json.loads(out.stdout.strip().splitlines()[-1]).items():
                if action != "settle":
                    rows.setdefault(action, []).append(gap)
    print(f"| action | longest main-thread gap, ms ({args.rounds} rounds) |\n|---|---|")
    for action, gaps in rows.items():
        print(f"| {action} | {' / '.join(str(g) for g in gaps)} |")


if __name__ == "__main__":
    main()
