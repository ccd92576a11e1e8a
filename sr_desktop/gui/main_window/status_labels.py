"""The permanent labels of the main window's status line: sizes, zoom, last run, device."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from sr_desktop.app.session import RunInfo
from sr_desktop.app.upscale_jobs import human_seconds
from sr_desktop.engine.imageio.image import Image


class StatusLabels:
    """``size_label``, ``zoom_label``, ``time_label`` and ``device_label`` in ``status``."""

    def __init__(self, status: QStatusBar) -> None:
        self.device_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.time_label = QLabel("No run yet")
        for label in (self.size_label, self.zoom_label, self.time_label, self.device_label):
            label.setContentsMargins(6, 0, 6, 0)
            status.addPermanentWidget(label)

    def show_device(self, device: str) -> None:
        """"Device: CPU (2 threads)" for the device id ``device``."""
        from sr_desktop.engine.compute import devices

        try:
            text = devices.describe_device(device)
        except Exception:  # noqa: BLE001 - a status label must not break the window
            text = device
        self.device_label.setText(f"Device: {text}")

    def show_sizes(self, image: Image | None, scale: int) -> None:
        """"600×400 → 2400×1600" (or "No image")."""
        if image is None:
            self.size_label.setText("No image")
            return
        w, h = image.width, image.height
        self.size_label.setText(f"{w}×{h} → {w * scale}×{h * scale}")

    def show_zoom(self, factor: float) -> None:
        self.zoom_label.setText(f"Zoom {factor * 100:.0f} %")

    def show_run(self, run: RunInfo) -> None:
        """"Last run: 1.2 s (bicubic ×2, 1 tile)"."""
        self.time_label.setText(
            f"Last run: {human_seconds(run.seconds)} ({run.model} ×{run.scale}, "
            f"{run.tiles} tile{'s' if run.tiles != 1 else ''})"
        )
