"""The metrics panel's "Result" section: how the last upscale ran (model, time and input
MP/s, sizes, device, tiles, peak memory)."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox

from sr_desktop.app.session import RunInfo, backend_name
from sr_desktop.engine.core.text import human_bytes, rate_text, result_seconds
from sr_desktop.gui.widgets import add_form_rows, compact_form, value_label


class ResultSection(QGroupBox):
    """Read-only numbers of the last whole-image upscale."""

    def __init__(self, parent=None) -> None:
        super().__init__("Result", parent)
        form = compact_form(self)
        self.model = value_label(self)
        self.time = value_label(self)
        self.size = value_label(self)
        self.device = value_label(self)
        self.backend = value_label(self)
        self.backend.setToolTip("What ran the network: torch, OpenVINO or the ncnn runtime (Advanced ▸ "
                                "Backend; auto times them once per model and keeps the fastest that needs "
                                "no more than twice the leanest's memory); Pillow or numpy for a model "
                                "without a network")
        self.tiles = value_label(self)
        self.memory = value_label(self)
        self.memory.setToolTip("GPU: peak memory allocated by torch; CPU: process memory")
        add_form_rows(form, [("Model", self.model), ("Time", self.time), ("Size", self.size),
                             ("Device", self.device), ("Backend", self.backend), ("Tiles", self.tiles),
                             ("Memory", self.memory)])

    def show_result(self, result, image, region: bool = False) -> None:
        """Fill in `result` (an `UpscaleResult`, or None for "No upscale yet") of `image`
        (the original, or None: its size is then derived from the result's); `region`: it is
        the result of a region of the image."""
        if result is None:
            for label in (self.model, self.time, self.size, self.device, self.backend, self.tiles, self.memory):
                label.setText("—")
            self.model.setText("No upscale yet")
            return
        r = result
        out_h, out_w = r.image.pixels.shape[:2]
        if image is not None:
            in_w, in_h = image.width, image.height
        else:
            in_w, in_h = out_w // max(1, r.scale), out_h // max(1, r.scale)
        mp_s = in_w * in_h / 1e6 / r.seconds if r.seconds > 0 else 0.0
        # the model's display name, as the window's result line and caption say it
        self.model.setText(f"{'Region: ' if region else ''}{RunInfo.of(r).title}")
        readying = RunInfo.of(r).readying
        self.time.setText(f"{result_seconds(r.seconds)} · {rate_text(mp_s)} MP/s input"
                          + (f" (+ {readying})" if readying else ""))
        self.size.setText(f"{in_w}×{in_h} → {out_w}×{out_h}")
        self.device.setText(str(r.device) or "—")
        self.backend.setText(backend_name(getattr(r, "backend", "")))
        tiles = f"{r.tiles}"
        if getattr(r, "tile_size", 0):
            tiles += f" (tile {r.tile_size} px)"
        self.tiles.setText(tiles)
        # (a 240×160 image's "1001.8 MiB" read as the upscale's own)
        whose = "peak on the GPU" if getattr(r, "memory_of", "process") == "device" else "the whole app"
        self.memory.setText(f"{human_bytes(getattr(r, 'peak_memory_bytes', 0))}, {whose}")
