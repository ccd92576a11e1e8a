"""The error of the evaluation layer (bad dataset folder, bad kernel file, bad protocol)."""

from __future__ import annotations

from sr_desktop.engine.core.errors import SRDesktopError


class EvaluationError(SRDesktopError):
    """Evaluation input that cannot be used; the message is one line for the user."""
