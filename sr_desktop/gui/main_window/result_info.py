"""What made the result shown — model, variant, scale, device, time — in the left column,
on the compare view's after side and in the status line, and whether the picker still
matches it. The facts come from the Qt-free session (`Session.shown_run`, `mismatch`)."""

from __future__ import annotations

from sr_desktop.app.session import Session
from sr_desktop.engine.core.errors import SRDesktopError
from sr_desktop.engine.models.loader import is_zoo_spec
from sr_desktop.gui.compare.overlays import STALE_CAPTION
from sr_desktop.gui.compare.view import CompareView
from sr_desktop.gui.key_text import with_native_keys
from sr_desktop.gui.main_window.controls import NO_RESULT, ControlsPanel
from sr_desktop.gui.main_window.model_picker import ModelPicker
from sr_desktop.gui.main_window.status_labels import StatusLabels

STALE_NOTE = "Not what the picker is set to now ({} changed): press {} to apply the new settings."
#: a result of the Blur kernel panel (ZSSR, map-sr with its kernel) was never the picker's:
#: "not what the picker is set to… press Upscale" offered to throw minutes of ZSSR away
KERNEL_NOTE = "Made from the Blur kernel panel with its kernel; Upscale runs the picker's model instead."
NO_IMAGE = "No image yet: open one (Ctrl+O) or drop it on the window."


class ResultInfo:
    """Redraws the result's labels from the session and the picker (`refresh`)."""

    def __init__(self, session: Session, picker: ModelPicker, controls: ControlsPanel,
                 compare: CompareView, status: StatusLabels) -> None:
        self.session, self.picker, self.controls = session, picker, controls
        self.compare, self.status = compare, status

    def refresh(self) -> None:
        """Device and sizes in the status line (the displayed result's size, else the
        picked scale's, marked as planned), and what made the result shown."""
        session = self.session
        spec = self.picker.spec()
        self.status.show_device(self.picker.device(), zoo_model=spec is not None and is_zoo_spec(spec))
        region = session.region_result
        instead, instead_size = self.compare.shown_instead_of_result(), self.compare.shown_instead_size()
        self.status.show_sizes(session.image, self.picker.scale(), session.shown_size(),
                               int(region[1].scale) if region is not None else None,
                               (instead, instead_size) if instead is not None and instead_size else None)
        run = session.shown_run
        if run is None:
            self.controls.show_result_info(NO_RESULT if session.image is not None else with_native_keys(NO_IMAGE))
            self.compare.set_after_caption("")
            return
        try:
            picked = self.picker.options()
        except SRDesktopError:
            picked = None
        differs = session.mismatch(picked)
        what = "Region result" if region is not None else "Result"
        text, caption = f"{what}: {run.describe()}", run.title
        if run.kernel:
            text += "\n" + KERNEL_NOTE
            differs = []
        elif differs:
            # a region's result is redone by Enhance region (Upscale redid the whole image)
            button = "Enhance region" if region is not None else "Upscale"
            text += "\n" + STALE_NOTE.format(" and ".join(differs), button)
            caption += STALE_CAPTION
        self.controls.show_result_info(text, stale=bool(differs))
        self.compare.set_after_caption(caption)
