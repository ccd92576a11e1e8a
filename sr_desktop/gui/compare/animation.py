"""Playing an animated image in the compare view, before and after in sync.

`FramePlayer` follows the session: when the open image gets its frames
(`Change.ANIMATION`) it plays them on the before side with each frame's duration; when a
whole-animation result arrives (`AnimatedResult`) the after side shows the same frame
index as the before side at every tick, so both sides always show one moment of the
animation. A small bar over the view's bottom edge holds Play/Pause and the frame number.
Frames are converted for display once, in the worker that read or upscaled them
(`with_frame_layers`); a tick only swaps two prepared layers.

The animation loops for as long as it plays, whatever loop count the file has (a compare
view is for looking, not for replaying the file's exact behaviour).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from sr_desktop.app.jobs import JobRunner
from sr_desktop.app.session import Change, Session
from sr_desktop.gui.compare.content import as_layer
from sr_desktop.gui.compare.image import ImageLayer

#: what a frame of 10 ms or less is shown for, as browsers do (a GIF's 0 or 1 hundredth: the
#: old browsers' speed, which files made for them rely on)
DEFAULT_FRAME_MS = 100
SHORTEST_AS_WRITTEN_MS = 11
MIN_FRAME_MS = 20
_BAR_MARGIN = 10


def frame_ms(duration: int) -> int:
    """How long a frame of ``duration`` ms is shown (10 ms or less → 100 ms, else at least 20 ms)."""
    return DEFAULT_FRAME_MS if duration < SHORTEST_AS_WRITTEN_MS else max(MIN_FRAME_MS, int(duration))


def with_frame_layers(runner: JobRunner) -> JobRunner:
    """Wrap ``runner``: a result with an ``animation`` and a ``display_frames`` slot
    (`OpenedAnimation`, `AnimatedResult`) gets every frame as an `ImageLayer`, built in the
    worker thread."""

    def run(job, progress, cancel):
        result = runner(job, progress, cancel)
        animation = getattr(result, "animation", None)
        if animation is not None and hasattr(result, "display_frames"):
            layers = []
            for frame in animation.frames:
                cancel.raise_if_cancelled()
                layers.append(ImageLayer(frame.pixels, frame.icc_profile))
            result.display_frames = layers
        return result

    return run


class AnimationBar(QWidget):
    """Play/Pause and "Frame 2/12" over the bottom edge of the compare view."""

    toggled = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("animationBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        # drawn over the image canvas, which stays dark in every theme (like the view's labels)
        self.setStyleSheet(
            "#animationBar { background: rgba(20, 20, 22, 200); border-radius: 6px; }"  # on-image colour
            "#animationBar QLabel, #animationBar QToolButton { color: #f0f0f0; }"  # on-image colour
            "#animationBar QToolButton { border: 1px solid #8a8a90; border-radius: 4px; "  # on-image colour
            "padding: 1px 8px; }"
            "#animationBar QToolButton:hover { background: rgba(255, 255, 255, 40); }")  # on-image colour
        self.button = QToolButton(self)
        self.button.setObjectName("animationPlayButton")
        self.button.clicked.connect(self.toggled)
        self.label = QLabel(self)
        self.label.setObjectName("animationFrameLabel")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 10, 2)
        layout.setSpacing(6)
        layout.addWidget(self.button)
        layout.addWidget(self.label)
        self.set_playing(False)
        self.hide()

    def set_playing(self, playing: bool) -> None:
        self.button.setText("❚❚ Pause" if playing else "▶ Play")
        text = "Pause the animation" if playing else "Play the animation"
        self.button.setToolTip(text)
        self.button.setAccessibleName(text)

    def set_frame(self, index: int, count: int, synced: bool) -> None:
        both = " · before and after" if synced else ""
        self.label.setText(f"Frame {index + 1}/{count}{both}")
        self.adjustSize()
        self.place()

    def place(self) -> None:
        """Bottom centre of the view."""
        parent = self.parentWidget()
        self.adjustSize()
        self.move(max(0, (parent.width() - self.width()) // 2),
                  max(0, parent.height() - self.height() - _BAR_MARGIN))


class FramePlayer(QObject):
    """Plays the session's animation in ``view`` (see the module docstring)."""

    def __init__(self, view, session: Session) -> None:
        super().__init__(view)
        self.view = view
        self.session = session
        self.before: list = []
        self.after: list | None = None
        self.durations: list[int] = []
        self.index = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._advance)
        self.bar = AnimationBar(view)
        self.bar.toggled.connect(self.toggle)
        view.installEventFilter(self)
        session.subscribe(self._on_session_changed)

    # -- state ------------------------------------------------------------------------------
    @property
    def frame_count(self) -> int:
        return len(self.before)

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def is_synced(self) -> bool:
        """True when the after side plays the same frames as the before side."""
        return self.after is not None and len(self.after) == len(self.before)

    # -- control ----------------------------------------------------------------------------
    def play(self) -> None:
        if self.frame_count > 1 and not self.is_playing():
            self._timer.start(frame_ms(self.durations[self.index]))
            self.bar.set_playing(True)

    def pause(self) -> None:
        if self.is_playing():
            self._timer.stop()
            self.bar.set_playing(False)

    def toggle(self) -> None:
        """Play/Pause."""
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def show_frame(self, index: int) -> None:
        """Show frame ``index`` on the before side and, with an animated result, the same
        frame on the after side."""
        if not self.before:
            return
        self.index = index % self.frame_count
        after = self.after[self.index] if self.is_synced() else None
        # a region result is of the first frame: the after side stays that frame under it
        # (the regions over the playing frames showed two moments at once)
        regions_on = self.before[0] if self.session.region_result is not None else None
        self.view.show_frame(self.before[self.index], after, regions_on)
        self.bar.set_frame(self.index, self.frame_count, self.is_synced())

    def clear(self) -> None:
        self.pause()
        self.before, self.after, self.durations, self.index = [], None, [], 0
        self.bar.hide()

    # -- session ----------------------------------------------------------------------------
    def _advance(self) -> None:
        self.show_frame(self.index + 1)
        self._timer.start(frame_ms(self.durations[self.index]))

    def _on_session_changed(self, change: Change) -> None:
        session = self.session
        if change is Change.IMAGE:
            self.clear()
        elif change is Change.ANIMATION and session.animation is not None:
            frames = session.animation_display or [as_layer(f.pixels) for f in session.animation.frames]
            self.before = list(frames)
            self.durations = list(session.animation.durations) or [0] * len(self.before)
            self.after, self.index = None, 0
            self.bar.show()
            self.bar.raise_()
            self.show_frame(0)
            self.play()
        elif change is Change.RESULT and self.before:
            self._take_result()

    def _take_result(self) -> None:
        result = self.session.result
        animated = getattr(result, "animation", None)
        if self.session.region_result is not None or animated is None:
            # a region, or a still result of one frame: only frame 1 matches the after side
            self.after = None
            self.pause()
            self.show_frame(0)
            return
        layers = getattr(result, "display_frames", None)
        self.after = list(layers) if layers else [as_layer(f.pixels) for f in animated.frames]
        self.show_frame(self.index)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.view and event.type() == QEvent.Type.Resize and self.bar.isVisible():
            self.bar.place()
        return False
