"""A terminal progress bar fed by engine `ProgressInfo` callbacks (tqdm, only on a TTY)."""

from __future__ import annotations

import sys
import weakref

from sr_desktop.engine.core.progress import BACKEND_STAGE, ITERATION_STAGES, SAVE_STAGE, ProgressInfo

#: the bars on the terminal now, closed when Ctrl+C ends the command (its message was
#: printed at the end of a bar left standing)
_OPEN_BARS: weakref.WeakSet = weakref.WeakSet()


def open_bar(**kwargs):
    """A tqdm bar on stderr (`kwargs` as tqdm takes them), closed by `close_open_bars`."""
    from tqdm import tqdm

    bar = tqdm(file=sys.stderr, **kwargs)
    _OPEN_BARS.add(bar)
    return bar


def close_open_bars() -> None:
    """Close every bar still on the terminal, so that the next line starts on its own."""
    for bar in list(_OPEN_BARS):
        try:
            bar.close()
        except Exception:  # noqa: BLE001 - a bar half torn down by the interrupt: nothing to draw
            pass


def say_above(bar, line: str) -> None:
    """Print `line` on stderr above `bar` (or plainly when there is none): printed directly it
    stuck to the bar's line, which then stood in the scrollback once per line."""
    if bar is not None:
        bar.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr)


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
        if info.stage == SAVE_STAGE and not (info.extra or {}).get("rows"):
            return  # bytes written of a size not known before the end: no bar to draw
        total, done = info.total, info.done
        unit = ("it" if info.stage in ITERATION_STAGES
                else (info.extra or {}).get("unit", "row") if info.stage == SAVE_STAGE else self.unit)
        frames = (info.extra or {}).get("frames")
        if frames and info.total:  # an animation: counted in frames (its steps are 1000 per frame)
            done = round(info.done * frames / info.total, 2)
            # a whole count drawn as one ("13/300 frame", it drew "13.0/300"); a part as a fraction
            total, done, unit = frames, int(done) if done.is_integer() else done, "frame"
        if self._bar is None:
            # started at the first count heard (a resumed run's checkpoint): tqdm's rate
            # counted those as done in no time (125 million it/s)
            self._bar = open_bar(total=total, initial=done, desc=self.description, unit=unit, leave=False,
                                 dynamic_ncols=True)
        if self._bar.total != total:
            self._bar.total = total
        # (a per-image model's iterations follow the pipeline's first count, of tiles: ZSSR's
        # training read "40/40 tile/s")
        self._bar.unit = unit
        self._bar.n = done
        self._bar.refresh()

    def say(self, line: str) -> None:
        """Print `line` on stderr above the bar (`say_above`)."""
        say_above(self._bar, line)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
