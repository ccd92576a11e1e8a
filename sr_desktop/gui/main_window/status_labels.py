"""The permanent labels of the main window's status line: sizes, zoom, last run, device."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from sr_desktop.app.session import RunInfo
from sr_desktop.engine.core.text import counted, result_seconds
from sr_desktop.engine.imageio.image import Image
from sr_desktop.gui.widgets import ElidingLabel

NO_RUN = "No run yet"
ZOOM_TIP = ("Zoom: how big one pixel of the original is on screen (100 % = one screen pixel); "
            "an upscale does not change it")


class StatusLabels:
    """``size_label``, ``zoom_label``, ``time_label`` and ``device_label`` in ``status``."""

    def __init__(self, status: QStatusBar) -> None:
        # the run and the device can be long ("Last run: 1.2 s (Real-ESRGAN anime video v3 ×4,
        # 6 tiles)"): on a narrow window they end in "…", whole in their tooltips
        self.device_label = ElidingLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.zoom_label.setToolTip(ZOOM_TIP)
        self.time_label = ElidingLabel(NO_RUN)
        for label in (self.size_label, self.zoom_label, self.time_label, self.device_label):
            label.setContentsMargins(6, 0, 6, 0)
            status.addPermanentWidget(label)

    def show_device(self, device: str, zoo_model: bool = False) -> None:
        """"Device: CPU (2 threads)" for the device id ``device``; for ``auto``, where a zoo
        model (`zoo_model`) runs: the Vulkan GPU `auto_vulkan_gpu` picks, if any."""
        from sr_desktop.engine.compute import devices
        from sr_desktop.engine.models.backends.ncnn_runner import auto_vulkan_gpu, vulkan_gpu

        try:
            gpu = auto_vulkan_gpu() if device == "auto" and zoo_model else None
            if device.startswith("vulkan"):
                gpu = vulkan_gpu(device)
            text = devices.describe_device(gpu if gpu is not None else device)
        except Exception:  # noqa: BLE001 - a status label must not break the window
            text = device
        self.device_label.setText(f"Device: {text}")

    def show_sizes(self, image: Image | None, scale: int, shown: tuple[int, int] | None = None,
                   region_scale: int | None = None, instead: tuple[str, tuple[int, int]] | None = None) -> None:
        """The original's size and the result's: "600×400 → 2400×1600" for the result shown
        (``shown``), "600×400 → region ×4" after a region upscale, and the picked ``scale``'s
        size marked as planned before any result ("600×400 · ×4 gives 2400×1600"). With
        ``instead`` (label, size) of what the after side shows in place of a result (an evaluated
        model, a map): "600×400 · shown: ESPCN ×2 (evaluate), 600×400" — the picked scale's
        size beside another model's ×2 image was not what the view showed."""
        if image is None:
            self.size_label.setText("No image")
            return
        w, h = image.width, image.height
        if instead is not None:
            label, (sw, sh) = instead
            self.size_label.setText(f"{w}×{h} · shown: {label}, {sw}×{sh}")
        elif shown is not None:
            self.size_label.setText(f"{w}×{h} → {shown[0]}×{shown[1]}")
        elif region_scale is not None:
            self.size_label.setText(f"{w}×{h} → region ×{region_scale}")
        else:
            self.size_label.setText(f"{w}×{h} · ×{scale} gives {w * scale}×{h * scale}")

    def show_zoom(self, magnification: float) -> None:
        """"Zoom 200 %": screen pixels per original pixel (see ``ZOOM_TIP``)."""
        self.zoom_label.setText(f"Zoom {magnification * 100:.0f} %")

    def show_run(self, run: RunInfo | None) -> None:
        """"Last run: 1.2 s (Bicubic ×2, 1 tile)", or "No run yet" (a new image)."""
        if run is None:
            self.time_label.setText(NO_RUN)
            return
        # a model's first use said apart: the run read "0.2 s" after seven
        setup = f" + {run.readying}" if run.readying else ""
        self.time_label.setText(
            f"Last run: {result_seconds(run.seconds)}{setup} ({run.title}, {counted(run.tiles, 'tile')})"
        )
