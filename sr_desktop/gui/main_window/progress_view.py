"""The progress box of the main window, following a `JobQueue`: what runs, a bar, the
"12/40 tiles · elapsed · ETA" line (refreshed four times a second) and the queued request."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer

from sr_desktop.app.jobs import Job
from sr_desktop.app.upscale_jobs import progress_text
from sr_desktop.engine.core.progress import ProgressInfo
from sr_desktop.gui.main_window.controls import ControlsPanel
from sr_desktop.gui.worker import JobQueue


class ProgressView(QObject):
    """Connects ``queue``'s signals to the progress widgets of ``controls``."""

    def __init__(self, queue: JobQueue, controls: ControlsPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.controls = controls
        self._started_at: float | None = None
        self._last_progress: ProgressInfo | None = None
        self._progress_at = 0.0  # when it arrived
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._refresh_text)
        queue.jobStarted.connect(self._on_started)
        queue.jobProgress.connect(self._on_progress)
        queue.pendingChanged.connect(self._on_pending_changed)
        queue.busyChanged.connect(self._on_busy_changed)

    def show_cancelling(self) -> None:
        self.controls.job_label.setText("Cancelling…")

    def _on_started(self, job: Job) -> None:
        self._started_at = time.perf_counter()
        self._last_progress = None
        what = job.describe()
        if getattr(job.options, "kernel", None) is not None:
            what += " with the blur kernel"
        self.controls.show_started(("Upscaling " if job.box is None else "Enhancing ") + what)
        self._timer.start()

    def _on_progress(self, job: Job, info: ProgressInfo) -> None:
        if job is not self.queue.running:
            return
        self._last_progress = info
        self._progress_at = time.perf_counter()
        if info.total > 0:
            self.controls.progress_bar.setRange(0, info.total)
            self.controls.progress_bar.setValue(min(info.done, info.total))
        self._refresh_text()

    def _refresh_text(self) -> None:
        if self._started_at is not None:
            now = time.perf_counter()
            self.controls.progress_text.setText(
                progress_text(self._last_progress, now - self._started_at, now - self._progress_at))

    def _on_pending_changed(self, pending: Job | None, replaced: Job | None) -> None:
        label = self.controls.queue_label
        if pending is None:
            label.hide()
            label.clear()
            return
        text = f"Queued next: {pending.describe()}"
        if replaced is not None:
            text += f" (replaces the queued {replaced.describe()})"
        label.setText(text)
        label.show()

    def _on_busy_changed(self, busy: bool) -> None:
        if busy:
            self.controls.progress_box.show()
        else:
            self._timer.stop()
            self._started_at = None
            self.controls.show_idle()
