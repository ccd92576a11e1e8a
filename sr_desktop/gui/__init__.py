"""The desktop GUI (PySide6). The only package of SR Desktop that imports Qt.

Importing this package first removes a ``QT_QPA_PLATFORM_PLUGIN_PATH`` that points into
OpenCV's bundled Qt plugins (``cv2`` sets it on import), so PySide6 loads its own.
"""

from __future__ import annotations

import os


def clear_cv2_qt_plugin_path() -> None:
    """Drop ``QT_QPA_PLATFORM_PLUGIN_PATH`` when it points into cv2's Qt plugin folder."""
    value = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if value and "cv2" in value.replace("\\", "/").split("/"):
        del os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"]


clear_cv2_qt_plugin_path()
