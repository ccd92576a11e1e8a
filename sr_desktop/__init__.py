"""SR Desktop: a desktop super-resolution workbench.

`sr_desktop.engine` holds everything that computes (no Qt); `sr_desktop.gui` is the
PySide6 layer on top; `sr_desktop.cli` is the command line over the same engine.
"""

__version__ = "0.1.0"
