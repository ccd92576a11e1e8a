"""Help ▸ About SR Desktop: the version, where the app keeps its files, and where the
licences of what it ships (photos, NIQE's parameters, each model's weights) are written."""

from __future__ import annotations

import html
import platform
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from sr_desktop import __version__
from sr_desktop.engine.core import paths


def _link(path: Path) -> str:
    path = path.absolute()  # (a relative SR_DESKTOP_HOME: as_uri refused it, and no box opened)
    return f'<a href="{path.as_uri()}">{html.escape(str(path))}</a>'


def about_text() -> str:
    """The About box's rich text."""
    licences = paths.RESOURCES_DIR / "LICENSES.md"
    rows = [
        ("Settings", paths.config_dir()),
        ("Your models", paths.data_dir()),
        ("Converted models", paths.cache_dir()),
        ("Log", paths.log_dir()),
    ]
    folders = "".join(f"<tr><td>{name}&nbsp;</td><td>{_link(folder)}</td></tr>" for name, folder in rows)
    return (
        f"<h3>SR Desktop {html.escape(__version__)}</h3>"
        "<p>Super-resolution workbench: upscale, compare and measure, train.<br>"
        f"Python {html.escape(platform.python_version())} on {html.escape(platform.system())}.</p>"
        f"<table>{folders}</table>"
        "<p>The app's code is under the MIT licence. The bundled photos and NIQE's parameters: "
        f"{_link(licences) if licences.is_file() else 'LICENSES.md'}. Each model's licence is in its "
        "tooltip in the Model list and in <code>sr-desktop models</code>.</p>"
        + (f"<p>Guides: {_link(paths.DOCS_DIR)}</p>" if paths.DOCS_DIR.is_dir() else "")
    )


def show_about(parent: QWidget) -> QMessageBox:
    """The About box, non-modal (returned)."""
    box = QMessageBox(parent)
    box.setWindowTitle("About SR Desktop")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.setText(about_text())
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.setModal(False)
    box.show()
    return box
