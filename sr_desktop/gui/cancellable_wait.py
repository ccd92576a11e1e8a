"""Waiting for a short job the user needs done before going on, with Cancel once it runs long.

`run_beside_ui` holds user input back while its work runs. Saving a large result is such
work, and can run long (on the 2-core machine a 192-megapixel upscale takes about half a
minute as PNG and two minutes as WebP): past a moment a modal dialog shows how far it is and
offers Cancel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from sr_desktop.engine.core.errors import Cancelled
from sr_desktop.engine.core.progress import CancelToken, ProgressCallback, ProgressInfo
from sr_desktop.gui.worker import BesideUI

T = TypeVar("T")

#: a job that ends within this long shows no dialog (a small PNG saves in a tenth of a second)
DIALOG_DELAY_MS = 600
_BAR_STEPS = 1000


class CancellableWaitDialog(QDialog):
    """What a waited-for job says of itself, a bar (busy while it gives no fraction) and
    Cancel (Esc and the window's ✕ too)."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("cancellableWait")
        self.setWindowTitle(title)
        self.setModal(True)
        self.label = QLabel(text, self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # (a file's name as it is, never HTML)
        self.label.setMinimumWidth(self.fontMetrics().horizontalAdvance("x") * 48)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.buttons)
        #: called when the user asks to cancel (the dialog stays until the caller closes it)
        self.on_cancel: Callable[[], None] = lambda: None

    def show_progress(self, text: str, fraction: float | None) -> None:
        """`text`, and `fraction` (0..1) on the bar; None: a busy bar."""
        if self.label.text() != text:
            self.label.setText(text)
        if fraction is None:
            if self.bar.maximum() != 0:
                self.bar.setRange(0, 0)
        else:
            if self.bar.maximum() != _BAR_STEPS:
                self.bar.setRange(0, _BAR_STEPS)
            self.bar.setValue(round(fraction * _BAR_STEPS))

    def finishing(self) -> None:
        """The job is past the point where Cancel could stop it."""
        self.label.setText("Finishing…")
        self.buttons.setEnabled(False)

    def reject(self) -> None:  # Cancel, Esc, ✕: the job decides when the dialog goes
        if self.buttons.isEnabled():
            self.on_cancel()

    def closeEvent(self, event) -> None:
        event.ignore()
        self.reject()


def run_cancellable_beside_ui(
    work: Callable[[CancelToken, ProgressCallback], T],
    parent: QWidget | None,
    title: str,
    describe: Callable[[ProgressInfo | None], tuple[str, float | None]],
    delay_ms: int | None = None,
    poll_ms: int = 15,
) -> T:
    """`work(cancel, progress)` on a thread of its own while this (the UI) thread goes on
    painting; its result, or its exception raised here. User input is held back for
    `delay_ms` (default `DIALOG_DELAY_MS`); a job still running then gets a modal
    `CancellableWaitDialog`, its text and bar from ``describe(last progress report or
    None)`` -> (text, fraction or None).

    Cancel raises `Cancelled` here at once when the job had not reached its point of no
    return (`CancelToken.commit`): it stops by itself at its next check (an encoder that
    works in one call, WebP's, only when it writes), and leaves nothing behind. Past that
    point the dialog says "Finishing…" and the job is waited for. The thread is not a daemon:
    should the application quit meanwhile, the interpreter waits for it."""
    cancel = CancelToken()
    latest: list[ProgressInfo] = []

    def report(info: ProgressInfo) -> None:
        latest[:] = [info]

    beside = BesideUI(lambda: work(cancel, report))
    beside.hold_input(poll_ms, (DIALOG_DELAY_MS if delay_ms is None else delay_ms) / 1000)
    if beside.thread.is_alive() and _wait_in_dialog(beside.thread, cancel, latest, parent, title, describe, poll_ms):
        raise Cancelled("cancelled")
    return beside.result()


def _wait_in_dialog(thread: threading.Thread, cancel: CancelToken, latest: list[ProgressInfo],
                    parent: QWidget | None, title: str, describe, poll_ms: int) -> bool:
    """Show the dialog until `thread` ends or the user cancels in time; True for the latter."""
    dialog = CancellableWaitDialog(title, describe(latest[0] if latest else None)[0], parent)
    loop = QEventLoop()
    outcome = {"gave_up": False}

    def asked_to_cancel() -> None:
        if cancel.cancel_unless_committed():
            outcome["gave_up"] = True
            loop.quit()
        else:
            dialog.finishing()

    def tick() -> None:
        if not thread.is_alive():
            loop.quit()
        elif dialog.buttons.isEnabled():
            dialog.show_progress(*describe(latest[0] if latest else None))

    dialog.on_cancel = asked_to_cancel
    timer = QTimer()
    timer.setInterval(poll_ms)
    timer.timeout.connect(tick)
    timer.start()
    dialog.show()
    try:
        loop.exec()
    finally:
        timer.stop()
        dialog.hide()
        dialog.deleteLater()
    return outcome["gave_up"]
