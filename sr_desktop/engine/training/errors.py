"""The one error type of training: bad options, data, weights or disk, as one line."""

from __future__ import annotations

from sr_desktop.engine.core.errors import SRDesktopError


class TrainingError(SRDesktopError):
    """Training cannot start or go on (the message says why, in one line)."""
