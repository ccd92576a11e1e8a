"""What the main window's collaborators need to tell the user something."""

from __future__ import annotations

from typing import Protocol


class Feedback(Protocol):
    """The window's two channels: the message bar and the status line."""

    def show_error(self, message: str, level: str = "error") -> None:
        """Non-modal message above the image (level "error" or "info")."""

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """Text in the status line (cleared after ``timeout_ms``; 0: stays)."""

    def status_text(self) -> str:
        """What the status line says now ("" for nothing)."""

    def clear_error(self, about: str | None = None) -> None:
        """Hide an error message left by an earlier action (a new job makes it stale);
        with `about`, only when the error shown is that message (what one tool said)."""
