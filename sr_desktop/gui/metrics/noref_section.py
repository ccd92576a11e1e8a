"""The metrics panel's "No-reference" section: sharpness and NIQE of input and result and the
consistency PSNR (the result downscaled by the same scale with MATLAB bicubic, against
the input)."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QGroupBox, QVBoxLayout, QWidget

from sr_desktop.app.metrics_jobs import MeasureFailure
from sr_desktop.gui.widgets import WrapLabel, add_form_rows, compact_form, show_as_hint, value_label


def _fmt_db(value: float) -> str:
    return "∞ dB (identical)" if math.isinf(value) else f"{value:.2f} dB"


def _fmt_niqe(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


class NoReferenceSection(QGroupBox):
    """Input → result sharpness, Laplacian variance and consistency, with a status line."""

    def __init__(self, parent=None) -> None:
        super().__init__("No-reference", parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        inner = QWidget(self)
        form = compact_form(inner)
        column.addWidget(inner)
        self.sharpness = value_label(self)
        self.sharpness.setToolTip(
            "Mean gradient magnitude of the luma (0..255 scale), input → result. Higher = more "
            "fine detail (or noise); the result is larger, so compare results with each other.")
        self.laplacian = value_label(self)
        self.laplacian.setToolTip("Variance of the Laplacian of the luma, input → result")
        self.consistency = value_label(self)
        self.consistency.setToolTip(
            "The result downscaled by the same scale (MATLAB bicubic) against the input: "
            "higher is better, faithful to the input; low = invented content or colour shifts")
        self.niqe = value_label(self)
        self.niqe.setToolTip(
            "NIQE (Mittal et al. 2013) of the luma, input → result: distance of the image's "
            "statistics from those of natural pristine photos. Lower looks more natural; no "
            "reference needed, so it also judges a result that PSNR would punish for its detail. "
            "It depends on the image size: compare results with each other, not with the input.")
        # which way is better, as the papers' tables mark it (NIQE↓); sharpness has no
        # better way: more may be noise
        add_form_rows(form, [("Sharpness", self.sharpness), ("Laplacian", self.laplacian),
                             ("NIQE ↓", self.niqe), ("Consistency ↑", self.consistency)])
        for field in (self.sharpness, self.laplacian, self.niqe, self.consistency):
            form.labelForField(field).setToolTip(field.toolTip())
        # Under the form, not a form row: a wrapped label spanning a QFormLayout row is
        # given too little height and its lines overlap the group's frame.
        self.status = WrapLabel("", self)
        show_as_hint(self.status)  # greyed: a hint, not a value
        self.status.setContentsMargins(6, 0, 6, 6)
        column.addWidget(self.status)

    def show_numbers(self, result, value, region_shown: bool = False) -> None:
        """Show the cached `value` (NoReferenceNumbers, MeasureFailure, or None while being
        measured) of `result` (None: nothing to measure yet; `region_shown`: a region's
        result is on screen, and these numbers are of whole-image results)."""
        labels = (self.sharpness, self.laplacian, self.niqe, self.consistency)
        if result is None:
            for label in labels:
                label.setText("—")
            self.status.setText("A region result is shown: upscale the whole image to measure it." if region_shown
                                else "Upscale the image to measure the result.")
            return
        if value is None:
            for label in labels:
                label.setText("…")
            self.status.setText("Measuring…")
            return
        if isinstance(value, MeasureFailure):
            for label in labels:
                label.setText("—")
            self.status.setText(f"Cannot measure: {value.message}")
            return
        a, b = value.input_sharpness, value.result_sharpness
        self.sharpness.setText(f"{a.mean_gradient:.2f} → {b.mean_gradient:.2f}")
        self.laplacian.setText(f"{a.laplacian_variance:.1f} → {b.laplacian_variance:.1f}")
        self.niqe.setText(f"{_fmt_niqe(value.input_niqe)} → {_fmt_niqe(value.result_niqe)}")
        if value.consistency is not None:
            c = value.consistency
            self.consistency.setText(f"{_fmt_db(c.psnr_rgb)} (Y {_fmt_db(c.psnr_y)})")
            status = f"input → result; consistency: result ↓×{result.scale} (MATLAB bicubic) vs input"
        else:
            self.consistency.setText("—")
            status = f"Consistency not measured: {value.note}"
        self.status.setText(f"{status}. {value.niqe_note}." if value.niqe_note else status)
