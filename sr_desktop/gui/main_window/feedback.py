"""What the main window's collaborators need to tell the user something."""

from __future__ import annotations

import logging
from typing import Protocol

from sr_desktop.engine.core.errors import one_line

log = logging.getLogger(__name__)


class Feedback(Protocol):
    """The window's two channels: the message bar and the status line."""

    def show_error(self, message: str, level: str = "error") -> None:
        """Non-modal message above the image (level "error", "warning", "info" or "hint")."""

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """Text in the status line (cleared after ``timeout_ms``; 0: stays)."""

    def status_text(self) -> str:
        """What the status line says now ("" for nothing)."""

    def clear_error(self, about: str | None = None) -> None:
        """Hide an error message left by an earlier action (a new job makes it stale);
        with `about`, only when the error shown is that message (what one tool said)."""


def say_unexpected(feedback: Feedback, what: str, exc: BaseException) -> None:
    """A bug in an action (`what`: "Cannot save out.png"): its traceback logged, one line in
    the message bar, the status line ("Saving out.png…") cleared — it stayed up for good."""
    log.error("%s", what, exc_info=exc)
    feedback.show_status("")
    feedback.show_error(f"{what}: unexpected error: {one_line(exc)} (details in the log)")
