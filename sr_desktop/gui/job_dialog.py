"""A non-modal dialog that runs one long job (a batch, a training run, a benchmark): Esc and
closing ask first while it runs, then cancel it. (QDialog's Esc only hid the dialog, and the
job ran on out of sight; an Esc meant for a list cancelled a batch of hundreds of files.)"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog


class JobDialog(QDialog):
    """Subclasses say whether their job runs (`is_running`), how to stop it (`cancel`) and
    whether the user agrees to stop it (`may_stop`, asked only while it runs)."""

    def is_running(self) -> bool:
        raise NotImplementedError

    def cancel(self) -> None:
        raise NotImplementedError

    def may_stop(self) -> bool:
        raise NotImplementedError

    def reject(self) -> None:
        """Esc closes the dialog as its Close does, asked first while the job runs."""
        if not self.may_stop():
            return
        if self.is_running():
            self.cancel()
        super().reject()

    def closeEvent(self, event) -> None:
        if not self.may_stop():
            event.ignore()
            return
        if self.is_running():
            self.cancel()
        super().closeEvent(event)
