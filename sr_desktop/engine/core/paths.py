"""Where SR Desktop finds its bundled files and keeps its per-user files.

Per-user locations follow the platform conventions (platformdirs) and can be redirected
with the environment variable ``SR_DESKTOP_HOME`` (tests and portable installs use it).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

PROJECT_ROOT = Path(__file__).resolve().parents[3]
RESOURCES_DIR = PROJECT_ROOT / "resources"
MODELS_DIR = PROJECT_ROOT / "models"
SAMPLE_IMAGE = RESOURCES_DIR / "sample.jpg"

_APP = "sr-desktop"


def _home_override() -> Path | None:
    value = os.environ.get("SR_DESKTOP_HOME")
    return Path(value) if value else None


def cache_dir() -> Path:
    """Directory for converted model weights and other re-creatable data."""
    home = _home_override()
    path = home / "cache" if home else Path(platformdirs.user_cache_dir(_APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Directory for user data: custom models the user added."""
    home = _home_override()
    path = home / "data" if home else Path(platformdirs.user_data_dir(_APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """Directory for settings."""
    home = _home_override()
    path = home / "config" if home else Path(platformdirs.user_config_dir(_APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    """Directory for log files."""
    home = _home_override()
    path = home / "logs" if home else Path(platformdirs.user_log_dir(_APP))
    path.mkdir(parents=True, exist_ok=True)
    return path
