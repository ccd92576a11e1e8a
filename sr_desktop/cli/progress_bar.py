"""A terminal progress bar fed by engine `ProgressInfo` callbacks (tqdm, only on a TTY)."""

from __future__ import annotations

import sys

from sr_desktop.engine.core.progress import BACKEND_STAGE, ProgressInfo


class TerminalProgress:
    """Callable progress sink: draws a tqdm bar on stderr when it is a terminal."""

    def __init__(self, description: str, enabled: bool | None = None, unit: str = "tile"):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.description = description
        self.unit = unit
        self._bar = None

    def __call__(self, info: ProgressInfo) -> None:
        if not self.enabled:
            return
        if info.stage == BACKEND_STAGE:  # seconds of silence before the first tile: say why
            print(f"{self.description}: {info.message}…", file=sys.stderr, flush=True)
            return
        total, done, unit = info.total, info.done, self.unit
        frames = (info.extra or {}).get("frames")
        if frames and info.total:  # an animation: counted in frames (its steps are 1000 per frame)
            total, done, unit = frames, round(info.done * frames / info.total, 2), "frame"
        if self._bar is None:
            from tqdm import tqdm

            # started at the first count heard (a resumed run's checkpoint): tqdm's rate
            # counted those as done in no time (125 million it/s)
            self._bar = tqdm(total=total, initial=done, desc=self.description, unit=unit,
                             leave=False, file=sys.stderr, dynamic_ncols=True)
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
