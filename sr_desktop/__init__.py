"""SR Desktop: a desktop super-resolution workbench.

`sr_desktop.engine` holds everything that computes (no Qt); `sr_desktop.gui` is the
PySide6 layer on top; `sr_desktop.cli` is the command line over the same engine.
"""

__version__ = "0.1.0"

import os as _os

# Runtime settings that must be in place before torch initialises its thread pools and
# oneDNN (sr_desktop is imported before torch by every entry point); an explicit
# environment setting wins.
# - Idle OpenMP threads sleep instead of spinning: on a desktop the GUI thread, reader and
#   writer threads share the cores with inference (measured on 2 loaded cores: 60 images
#   through realesr-animevideov3 in 3.6 s instead of 13.2 s).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# - oneDNN caches one convolution primitive per input shape (1024 by default); over a long
#   batch of mixed sizes that grew resident memory by ~135 MB per 300 images. 64 keeps it flat.
_os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
# - OpenCV's own warnings (a TIFF's odd extra-samples tag read fine anyway) would print
#   lines of their own beside the one line per failed file.
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
