"""Help ▸ About SR Desktop: the version, the libraries' and the devices models run on, where the
app keeps its files, and where the licences of what it ships (photos, NIQE's parameters, each
model's weights) are written."""

from __future__ import annotations

import html
import platform

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from sr_desktop import __version__
from sr_desktop.engine.core import paths
from sr_desktop.gui.file_urls import file_link
from sr_desktop.gui.worker import BesideUI

#: what the box says while the libraries and devices are looked up (loading OpenVINO and the
#: ncnn runtime to ask them took 60-240 ms: the window froze that long on the first open)
LOOKING_UP = "Libraries and devices: looking them up…"


def libraries_line() -> str:
    """"Qt 6.11.3 (PySide6 6.11.3), torch 2.13.0, OpenVINO …, ncnn …": what a problem report
    needs (`sr-desktop devices` prints the same)."""
    import PySide6
    from PySide6.QtCore import qVersion

    from sr_desktop.engine.models.backends.inventory import library_versions

    names = {"torch": "torch", "openvino": "OpenVINO", "ncnn": "ncnn"}
    # (OpenVINO's own string runs on with its build: "2026.4.1-22982-e213a147257-releases/2026/4")
    others = ", ".join(f"{names.get(name, name)} {version.split('-')[0] if version else 'not installed'}"
                       for name, version in library_versions().items())
    return f"Qt {qVersion()} (PySide6 {PySide6.__version__}), {others}"


def devices_line() -> str:
    """"Devices: cpu (AMD EPYC, 2 cores; …), vulkan:0 (…). No GPU for torch: torch 2.13.0+cpu is
    a CPU-only build": where models run here, and why not on a GPU when torch has none (the
    devices of `sr-desktop devices`)."""
    from sr_desktop.engine.models.backends.inventory import compute_devices

    found = compute_devices()
    line = "Devices: " + ", ".join(f"{d.device} ({d.name})" for d in found if d.available)
    if not any(d.available and d.device.startswith(("cuda", "mps")) for d in found):
        cuda = next((d for d in found if d.device == "cuda"), None)
        if cuda is not None:
            line += f". No GPU for torch: {cuda.name}"
    return line


def runtime_lines() -> str:
    """The libraries' and the devices' lines, one text (slow the first time: it loads the
    inference libraries to ask them)."""
    return f"{libraries_line()}\n{devices_line()}"


def about_text(runtime: str | None = None) -> str:
    """The About box's rich text; `runtime` is `runtime_lines()` (None: computed here)."""
    if runtime is None:
        runtime = runtime_lines()
    licences = paths.RESOURCES_DIR / "LICENSES.md"
    rows = [
        ("Settings", paths.config_dir()),
        ("Your models", paths.data_dir()),
        ("Converted models", paths.cache_dir()),
        ("Log", paths.log_dir()),
    ]
    folders = "".join(f"<tr><td>{name}&nbsp;</td><td>{file_link(folder)}</td></tr>" for name, folder in rows)
    return (
        f"<h3>SR Desktop {html.escape(__version__)}</h3>"
        "<p>Super-resolution workbench: upscale, compare and measure, train.<br>"
        # (the system's release too: "Linux" alone said nothing of which one a report came from)
        f"Python {html.escape(platform.python_version())} on {html.escape(platform.system())} "
        f"{html.escape(platform.release())}.<br>"
        # (a problem report's first question: did it run on the GPU the user thinks it did)
        f"{html.escape(runtime).replace(chr(10), '<br>')}</p>"
        f"<table>{folders}</table>"
        "<p>The app's code is under the MIT licence (its NIQE port under NIQE's notice too). The window is "
        "drawn by Qt through PySide6, under the GNU LGPL v3 (Help ▸ About Qt). The bundled photos, NIQE's "
        "parameters, the libraries' and the models' notices: "
        f"{file_link(licences) if licences.is_file() else 'LICENSES.md'}. Each model's licence is in its "
        "tooltip in the Model list and in <code>sr-desktop models --json</code>.</p>"
        + (f"<p>Guides: {file_link(paths.DOCS_DIR)}</p>" if paths.DOCS_DIR.is_dir() else "")
    )


def show_about(parent: QWidget) -> QMessageBox:
    """The About box, non-modal (returned): shown at once, its libraries' and devices' lines
    filled in when a thread of their own has looked them up."""
    box = QMessageBox(parent)
    box.setWindowTitle("About SR Desktop")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.setText(about_text(LOOKING_UP))
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.setModal(False)
    lookup = BesideUI(runtime_lines)
    poll = QTimer(box)
    poll.setInterval(20)

    def fill_in() -> None:
        if lookup.thread.is_alive():
            return
        poll.stop()
        try:
            runtime = lookup.result()
        except Exception as exc:  # noqa: BLE001 - the box still opens, saying why the lines are missing
            runtime = f"Libraries and devices: could not be read ({exc})"
        box.setText(about_text(runtime))

    poll.timeout.connect(fill_in)
    poll.start()
    box.show()
    return box
