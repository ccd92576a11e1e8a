"""The lazy import of spandrel (and of spandrel-extra-arches when it is installed).

Nothing here imports spandrel at module import time: `spandrel_registry` does, the first
time a checkpoint is not one of the project's own architectures.
"""

from __future__ import annotations

import functools
from typing import Any

from sr_desktop.engine.core.errors import ModelError, one_line
from sr_desktop.engine.core.quiet_warnings import warnings_ignored

#: ``source.family`` of a custom model run through spandrel: ``"spandrel:HAT"``
FAMILY_PREFIX = "spandrel:"
#: what to install for the community architectures (the ``community`` extra)
INSTALL_COMMAND = "pip install 'sr-desktop[community]'"


class CommunityUnavailable(ModelError):
    """spandrel is not installed (or does not import): the community architectures are off."""


def family_of(arch_id: str) -> str:
    """The ``source.family`` recorded for a spandrel architecture id (``"spandrel:HAT"``)."""
    return FAMILY_PREFIX + arch_id


def is_community_family(family: Any) -> bool:
    """True for a ``source.family`` written by `family_of`."""
    return isinstance(family, str) and family.startswith(FAMILY_PREFIX)


def community_installed() -> bool:
    """Whether spandrel is installed, told without importing it (seconds, with torchvision)."""
    import importlib.util

    try:
        return importlib.util.find_spec("spandrel") is not None
    except (ImportError, ValueError):  # (a finder that refuses it, a broken install)
        return False


@functools.lru_cache(maxsize=1)
def _import() -> tuple[Any, Any, bool] | str:
    """``(spandrel module, registry, extra arches installed)``, or why spandrel is unusable.

    The libraries' own import-time notices (``torch.jit.script`` deprecation, …) are kept
    off the user's terminal."""
    with warnings_ignored(UserWarning, FutureWarning, DeprecationWarning):
        return _import_quietly()


def _import_quietly() -> tuple[Any, Any, bool] | str:
    try:
        import spandrel
    except ImportError:
        return "not installed"
    except Exception as exc:  # noqa: BLE001 - e.g. a torchvision built for another torch
        return f"installed but does not import: {one_line(exc)}"
    registry = spandrel.MAIN_REGISTRY.copy()
    try:
        import spandrel_extra_arches
    except ImportError:
        return spandrel, registry, False
    except Exception:  # noqa: BLE001 - a broken optional extra leaves spandrel's own
        return spandrel, registry, False
    registry.add(*spandrel_extra_arches.EXTRA_REGISTRY, ignore_duplicates=True)
    return spandrel, registry, True


def spandrel_registry() -> tuple[Any, Any]:
    """``(spandrel module, its architecture registry)`` — spandrel's own architectures plus
    spandrel-extra-arches' when installed; the global registry is left as it is.

    Raises `CommunityUnavailable` (with the install hint) when spandrel cannot be imported.
    """
    found = _import()
    if isinstance(found, str):
        raise CommunityUnavailable(f"spandrel is {found}; {install_hint()}")
    return found[0], found[1]


def install_hint() -> str:
    """The one line telling how to get the community architectures."""
    return f"community architectures (HAT, DAT, SwinIR, …): {INSTALL_COMMAND}"


def unavailable_reason() -> str | None:
    """None when spandrel imports, else why not (``"not installed"``, …)."""
    found = _import()
    return found if isinstance(found, str) else None
