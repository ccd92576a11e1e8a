"""Where SR Desktop finds its bundled files and keeps its per-user files.

The bundled files are ``models/`` (the model registry), ``resources/`` (sample photos)
and ``docs/`` (the guides that messages and help name), one source at the top of the
repository. An installed wheel carries them inside the package, as
``sr_desktop/_data/`` (see setup.py); a source checkout and an editable install read them from
the repository.

Per-user locations follow the platform conventions (platformdirs) and can be redirected
with the environment variable ``SR_DESKTOP_HOME`` (tests and portable installs use it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs

PACKAGE_DIR = Path(__file__).resolve().parents[2]


def bundled_root(package_dir: Path = PACKAGE_DIR) -> Path:
    """The folder holding ``models/``, ``resources/`` and ``docs/`` for the package at ``package_dir``.

    The installed copy (``<package>/_data``) if there is one, else the repository root.
    """
    installed = package_dir / "_data"
    return installed if installed.is_dir() else package_dir.parent


RESOURCES_DIR = bundled_root() / "resources"
MODELS_DIR = bundled_root() / "models"
SAMPLE_IMAGE = RESOURCES_DIR / "sample.jpg"
APP_ICON = RESOURCES_DIR / "icon.png"  # drawn by scripts/make_icon.py
#: the guides (docs/*.md), installed with the package too: messages name them by this path
DOCS_DIR = bundled_root() / "docs"

_APP = "sr-desktop"


def is_bundled(path: str | Path) -> bool:
    """Whether `path` is one of the app's own files (the sample, the shipped models): not a
    user's folder to remember, to save next to, or to write into (inside the installed
    package, or the checkout's tracked folders)."""
    try:
        where = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return any(where.is_relative_to(folder.resolve()) for folder in (RESOURCES_DIR, MODELS_DIR))


def _home_override() -> Path | None:
    value = os.environ.get("SR_DESKTOP_HOME")
    return Path(value) if value else None


def _user_dir(home_subdir: str, platform_dir) -> Path:
    """``$SR_DESKTOP_HOME/home_subdir`` when set, else the platform's folder; created when it
    can be. One that cannot (a home in a folder that takes no files, a file in its way) is
    logged once and returned as it is: reading it finds nothing, writing it says why — a
    cache that cannot be kept only costs work, and every model but bicubic failed with
    "Permission denied" before."""
    home = _home_override()
    try:
        path = home / home_subdir if home else Path(platform_dir(_APP))
    except RuntimeError as exc:  # platformdirs: no HOME and no user entry (`env -i` in a container)
        path = Path(os.devnull) / home_subdir  # (no folder: reading finds nothing, a write says why)
        if str(path) not in _UNUSABLE:
            _UNUSABLE.add(str(path))
            _say_once(f"no home folder ({exc}): working without the app's cache, logs and added models; set "
                      "SR_DESKTOP_HOME to a folder it can write")
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if str(path) not in _UNUSABLE:
            _UNUSABLE.add(str(path))
            if home is None:  # one line for the platform's folders, not one per folder (cron mailed both)
                _say_once(f"cannot create {path} ({exc.strerror or exc}): working without the app's folders there "
                          "(cache, logs, added models); set SR_DESKTOP_HOME to a folder it can write")
            elif home.is_dir() and os.access(home, os.W_OK):  # the folder alone (a file in its way)
                logging.getLogger(__name__).warning("cannot create %s (%s): working without it", path,
                                                    exc.strerror or exc)
            elif str(home) not in _UNUSABLE:  # one line for the home, not one per folder in it
                _UNUSABLE.add(str(home))
                # (a link to a folder not mounted said "File exists")
                why = (f"a link to {os.readlink(home)}, which is not there" if home.is_symlink() and not home.exists()
                       else exc.strerror or exc)
                logging.getLogger(__name__).warning(
                    "cannot write in SR_DESKTOP_HOME=%s (%s): working without its cache, logs and added models",
                    home, why)
    return path


#: user folders that could not be created (each is said once)
_UNUSABLE: set[str] = set()
#: whether the home's trouble was said (`_say_once`)
_SAID: list[str] = []


def _say_once(line: str) -> None:
    """Log `line` as a warning the first time the user's folders cannot be had in this run;
    later ones (another folder, the same cause) only at debug level."""
    if _SAID:
        logging.getLogger(__name__).debug("%s", line)
        return
    _SAID.append(line)
    logging.getLogger(__name__).warning("%s", line)


def unwritable(path: Path) -> bool:
    """Whether `path` lies in a user folder that could not be created (already said once:
    what fails to be kept there is a detail for the log)."""
    return any(str(folder) in _UNUSABLE for folder in (path, *path.parents))


def cache_dir() -> Path:
    """Directory for converted model weights and other re-creatable data."""
    return _user_dir("cache", platformdirs.user_cache_dir)


def data_dir() -> Path:
    """Directory for user data: custom models the user added."""
    return _user_dir("data", platformdirs.user_data_dir)


def config_dir() -> Path:
    """Directory for settings."""
    return _user_dir("config", platformdirs.user_config_dir)


def log_dir() -> Path:
    """Directory for log files."""
    return _user_dir("logs", platformdirs.user_log_dir)
