"""Upscaling the session's image in the main window: whole image (every frame of an
animation) or one region, through the upscale queue; results go to the compare view and
into the session."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from sr_desktop.app.animation_jobs import AnimationJob
from sr_desktop.app.jobs import Job, JobRunner
from sr_desktop.app.session import Session, model_display_name
from sr_desktop.app.upscale_jobs import run_upscale_job
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.pipeline.blown_output import blown_up_note
from sr_desktop.gui.compare.animation import FramePlayer, with_frame_layers
from sr_desktop.gui.compare.view import CompareView
from sr_desktop.gui.main_window.display_runner import with_display_layer
from sr_desktop.gui.main_window.feedback import Feedback
from sr_desktop.gui.main_window.model_picker import ModelPicker
from sr_desktop.gui.worker import JobQueue


class Upscaler(QObject):
    """Owns the upscale ``queue`` (``runner``: the engine by default; whole-image results
    are converted for display in the worker). ``on_result(image, result)`` and
    ``on_region_result(image, result, box)`` are told after the session was updated.
    ``regionChosen(box)``: Enhance region took the part in view as the region (a drawn one
    is the compare view's ``regionSelected``)."""

    regionChosen = Signal(tuple)

    def __init__(
        self,
        parent: QObject,
        session: Session,
        picker: ModelPicker,
        compare: CompareView,
        feedback: Feedback,
        on_result: Callable[[object, object], None],
        on_region_result: Callable[[object, object, tuple], None],
        runner: JobRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.picker = picker
        self.compare = compare
        self.feedback = feedback
        self.on_result = on_result
        self.on_region_result = on_region_result
        self.queue = JobQueue(parent, runner=with_display_layer(with_frame_layers(runner or run_upscale_job)))
        #: plays an animated image in the compare view, before and after in sync
        self.player = FramePlayer(compare, session)
        #: ids of region jobs whose region was cleared while they ran or waited
        self._cleared: set[int] = set()
        self.queue.jobFinished.connect(self._on_finished)
        self.queue.jobEnded.connect(lambda outcome: self._cleared.discard(outcome.job.id))
        self.queue.jobFailed.connect(self._say_failed)
        self.queue.jobCancelled.connect(self._say_cancelled)
        #: what the status line said of a cancelled job (the next job clears it: it stood
        #: beside the finished re-run's "Last run")
        self._cancel_said = ""
        self.queue.jobStarted.connect(self._forget_cancelled)

    def _say_failed(self, job, message: str) -> None:
        if self.queue.pending is not None:
            # the job queued after it runs next: its result would come under a bare error line
            # that seemed to be about it
            message = f"{job.describe()} failed: {message}"
        self.feedback.show_error(message)
        self.picker.fit_backends()  # (a network OpenVINO just refused is no longer offered)

    def _say_cancelled(self, job) -> None:
        self._cancel_said = f"Cancelled: {job.describe()}"
        self.feedback.show_status(self._cancel_said, 5000)

    def _forget_cancelled(self, _job) -> None:
        if self._cancel_said and self.feedback.status_text() == self._cancel_said:
            self.feedback.show_status("")
        self._cancel_said = ""

    def start_upscale(self) -> Job | None:
        """Upscale the whole image with the picked options (queued if a job runs)."""
        return self._submit(None)

    def enhance_region(self, box: tuple[int, int, int, int]) -> Job | None:
        """Upscale only ``box`` = (x, y, w, h) of the original and show it in place."""
        return self._submit(tuple(int(v) for v in box))

    def enhance_current_region(self) -> Job | None:
        """Upscale the selected region; without one, the part of the image in view when the
        view is zoomed in (the keyboard's way to a region: zoom, pan with the arrows, Ctrl+R),
        else a hint."""
        box = self.session.region
        if box is None:
            box = self.compare.visible_box()
            if box is None:
                self.feedback.show_error("Draw a region on the image first, or zoom in: Enhance region then "
                                         "takes the part in view.", level="hint")
                return None
            self.compare.set_region(box)
            self.session.select_region(box)
            box = self.session.region
            self.regionChosen.emit(box)  # (the Metrics panel measured the whole image)
        return self.enhance_region(box)

    def _submit(self, box) -> Job | None:
        image = self.session.image
        if image is None:
            self.feedback.show_error("Open an image first.", level="hint")
            return None
        try:
            options = self.picker.options()
        except SRDesktopError as exc:
            self.feedback.show_error(str(exc))
            return None
        self.feedback.clear_error()  # an earlier job's error is not about this one
        latest = self.queue.pending or self.queue.running
        if (latest is not None and latest.image is image and latest.box == box and latest.options == options
                and not latest.cancel.cancelled):
            return latest  # a second click (a double click) queued the same job again
        if box is None and self.session.animation is not None:  # every frame
            return self.queue.submit(AnimationJob(image, options, box, animation=self.session.animation))
        return self.queue.submit(Job(image, options, box))

    def drop_region_jobs(self) -> None:
        """The region was cleared: its running or queued jobs have nothing left to show. A
        running one is cancelled unless a whole-image job waits behind it (cancelling drops
        that too); a late result of either is not shown."""
        running, pending = self.queue.running, self.queue.pending
        self._cleared.update(job.id for job in (running, pending) if job is not None and job.box is not None)
        if running is not None and running.box is not None and (pending is None or pending.box is not None):
            self.queue.cancel()

    def _on_finished(self, job: Job, result) -> None:
        if job.image is not self.session.image:
            return  # the user moved on to another image
        if job.id in self._cleared:
            return  # its region was cleared meanwhile: pasting it would bring back what Clear took
        try:
            if job.box is None:
                shown = job.display if job.display is not None else result.image.pixels
                self.compare.set_result(shown, int(result.scale))
                job.display = None
                if getattr(shown, "reduced_by", 1) > 1:
                    self.feedback.show_status(
                        f"The result is shown at 1/{shown.reduced_by} of its size, too large to show in full; "
                        "Save writes it in full", 15000)
            else:
                earlier = self.session.region_result
                if earlier is not None and (earlier[1].model, earlier[1].variant) != (result.model, result.variant):
                    # the after side is labelled with one model: the regions of another go
                    # (a bicubic region stood beside a SPAN one, labelled SPAN)
                    self.compare.drop_region_results()
                self.compare.set_region_result(job.box, result.image.pixels, int(result.scale))
        except SRDesktopError as exc:
            self.feedback.show_error(f"cannot show the result: {exc}")
            return
        if job.box is None:
            self.session.set_result(result, job.options)
            self.on_result(job.image, result)
        else:
            self.session.set_region_result(job.box, result, job.options)
            self.on_region_result(job.image, result, job.box)
        # after the result's own messages: the result is noise where the network blew up
        note = blown_up_note(result.model, getattr(result, "blown_fraction", 0.0), name_of=model_display_name)
        if note:
            self.feedback.show_error(note, level="warning")
