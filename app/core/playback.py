"""One playback loop, without Qt: source -> pipeline -> draw, used by `process`,
`bench` and the window.

    Playback: opens a source and yields its frames (`Frame`), honouring what a
              `PlaybackControl` asks (stop, pause, seek, loop), paced to the
              source's rate when asked (the window) or flat out (process, bench)
    FrameStep: one frame through the pipeline (reset when the scene changes or
              for a photo) -> detections -> drawn

The rules of playing a source, all here:

- Pacing (`paced=True`): a video file is read at its own rate. A frame read late
  (the reader was held up) is not followed by a burst: at most one interval is
  caught up, the rest of the delay is let go. Cameras are never paced (they
  give frames at their own rate) and neither is anything with no rate.
- Seek (`control.seek(n)`): frame (or picture) number n, 0-based, is read and
  yielded at once, also while paused; the frames after it follow.
- Loop (`control.set_loop(True)`): a video file of more than one frame is opened
  again at its end and plays from the start.
- Pause (`control.pause(True)`): nothing is read until play or a seek; a camera
  cannot pause (it goes on).
- Photos (`hold_photos=True`, a folder of pictures): one picture, then pause
  until a seek (next, previous); after the last, it stays on it.
- Every seek and every loop back begins a new scene (`Frame.scene`): the faces
  found before do not carry over, nor do they from one photo to the next
  (`Frame.photo`).
- The ending (`Playback.ending`, a `SourceNews`): STILL (a single image, read),
  ENDED (a video played to its end), FAILED (no frames at all; or, from `play`,
  the source broke), STOPPED (asked to).

The frames are numbered as the window shows them: the first is 1, and after a
seek to n the next one yielded is n + 1.
"""

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from app.core.draw import draw_detections
from app.io.frame_source import FrameSource, SourceError, frame_rate
from app.io.sources import open_source
from app.nouns import Detection, Frame, SourceInfo

log = logging.getLogger(__name__)


# what `open_source` opens: a camera's index, a file's or folder's path
SourceSpec = int | str | os.PathLike[str]

class SourceNews(str, Enum):
    """What is told of a playing source: it started (the window's `SourceInfo`), or
    how it ended (an `Ending`'s kind). A str, as the news has always been spelt."""

    STARTED = "started"
    STILL = "still"
    ENDED = "ended"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Ending:
    """How a playback ended (STILL, ENDED, FAILED or STOPPED), and a line."""

    kind: SourceNews
    message: str = ""


STOPPED = Ending(SourceNews.STOPPED)


def describe(source: FrameSource) -> SourceInfo:
    """What the window shows of an opened source (its "started" news)."""
    return {"name": source.name, "live": bool(getattr(source, "is_live", False)),
            "fps": source.fps, "frames": source.frame_count,
            "photos": bool(getattr(source, "photos", False))}


class PlaybackControl:
    """What is asked of a running playback (stop, pause, seek, loop), from any thread."""

    def __init__(self, loop: bool = False) -> None:
        self._cond = threading.Condition()
        self._stopped = False
        self._paused = False
        self._seek_to: int | None = None
        self._loop = bool(loop)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def pause(self, on: bool = True) -> None:
        with self._cond:
            self._paused = bool(on)
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def seek(self, frame: int) -> None:
        """Go to frame (or picture) number `frame`, 0-based; the newest ask wins."""
        with self._cond:
            self._seek_to = max(0, int(frame))
            self._cond.notify_all()

    def take_seek(self) -> int | None:
        with self._cond:
            seek, self._seek_to = self._seek_to, None
            return seek

    def set_loop(self, on: bool) -> None:
        self._loop = bool(on)

    @property
    def loop(self) -> bool:
        return self._loop

    def wait_stopped(self, timeout: float) -> bool:
        """Wait up to `timeout` s for a stop; True if asked to stop."""
        with self._cond:
            return self._cond.wait_for(lambda: self._stopped, timeout)

    def wait_while_paused(self, timeout: float | None = None) -> None:
        """Wait until play, a seek or a stop is asked (or `timeout` s)."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopped or self._seek_to is not None
                                or not self._paused, timeout)


class Playback:
    """The frames of one source, played by the rules above.

    `spec` is opened with `opener` (again for each loop back); or give an opened
    `source` (not closed here; no loop). `clock()` gives the time in seconds and
    `sleep(seconds)` waits and says whether a stop was asked meanwhile (defaults:
    the monotonic clock and a wait on the control; tests inject their own).
    Iterating raises SourceError when the source cannot be opened or breaks off;
    `play` turns that into a FAILED ending.
    """

    def __init__(self, spec: SourceSpec | None = None, *, source: FrameSource | None = None,
                 opener: Callable[[SourceSpec], FrameSource] = open_source,
                 control: PlaybackControl | None = None, paced: bool = False,
                 hold_photos: bool = False, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], bool] | None = None) -> None:
        if spec is None and source is None:
            raise ValueError("Playback needs a spec or a source")
        self.spec = spec
        self.source = source
        self.control = control or PlaybackControl()
        self.paced = paced
        self.hold_photos = hold_photos
        self.ending: Ending | None = None
        self._opener = opener
        self._owned = source is None
        self._clock = clock
        self._sleep = sleep or self.control.wait_stopped
        self._number = 0
        self._scene = 0
        self._opened_at = 0.0

    def open(self) -> FrameSource:
        """The source, opened now if it is not yet (SourceError if it cannot be)."""
        if self.source is None:
            self.source = self._open()
        return self.source

    def _open(self) -> FrameSource:
        if self.spec is None:   # a given source (no spec) is never opened here
            raise ValueError("Playback needs a spec or a source")
        return self._opener(self.spec)

    def close(self) -> None:
        """Close the source if this playback opened it."""
        if self._owned and self.source is not None:
            source, self.source = self.source, None
            source.close()

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, started: Callable[[FrameSource], object] | None = None
               ) -> Generator[Frame, None, None]:
        """Yield the frames until the source ends or a stop; `started(source)` is
        called once it is open (not when a stop came first). The source is closed
        (if opened here) before this returns, and `ending` says how it ended."""
        self.ending = None
        try:
            source = self.open()
            if self.control.stopped:
                self.ending = STOPPED
                return
            self._opened_at = self._clock()
            if started is not None:
                started(source)
            yield from self._play(source)
        finally:
            self.close()

    def play(self, deliver: Callable[[Frame], object],
             started: Callable[[FrameSource], object] | None = None) -> Ending:
        """Hand every frame to `deliver(frame)`; the ending, never an exception: a
        source that cannot be opened or breaks off (or any other fault) is FAILED."""
        try:
            with contextlib.closing(self.frames(started)) as frames:
                for frame in frames:
                    deliver(frame)
            return self.ending or STOPPED
        except SourceError as exc:
            return Ending(SourceNews.FAILED, str(exc))
        except Exception as exc:  # noqa: BLE001 - any fault ends this source, not the caller
            log.exception("playing %s failed", self.spec)
            return Ending(SourceNews.FAILED, f"{self.spec}: {type(exc).__name__}: {exc}")

    # ---- the loop
    def _play(self, source: FrameSource) -> Iterator[Frame]:
        control = self.control
        live = bool(getattr(source, "is_live", False))
        photos = self.hold_photos and bool(getattr(source, "photos", False))
        interval = 1.0 / source.fps if (self.paced and source.fps and not live) else 0.0
        due = self._clock()
        while not control.stopped:
            seek = control.take_seek()
            if seek is not None and hasattr(source, "seek"):
                source.seek(seek)              # shown at once, also when paused
                self._number, self._scene = seek, self._scene + 1
                image = source.read()
                if image is not None:
                    yield self._frame(image, source)
                due = self._clock()
                continue
            if control.paused and not live:
                control.wait_while_paused()
                due = self._clock()
                continue
            image = source.read()
            if image is None:
                if photos:                     # after the last picture: stay on it
                    control.pause(True)
                    continue
                if self._can_loop(source):
                    source = self._reopen()
                    continue
                self.ending = self._ending(source)
                return
            yield self._frame(image, source)
            if photos:                         # one picture at a time: wait for a seek
                control.pause(True)
            elif interval:
                due = max(due + interval, self._clock() - interval)
                if self._sleep(max(0.0, due - self._clock())):
                    break
        self.ending = STOPPED

    def _frame(self, image: np.ndarray, source: FrameSource) -> Frame:
        self._number += 1
        now = self._clock()
        time_: float | None
        if getattr(source, "is_live", False):
            time_ = now - self._opened_at
        elif getattr(source, "still", False):
            time_ = None
        else:
            time_ = (self._number - 1) / frame_rate(source.fps)
        return Frame(image=image, number=self._number, time=time_, scene=self._scene,
                     photo=bool(getattr(source, "photos", False)), captured=now)

    def _can_loop(self, source: FrameSource) -> bool:
        return (self.control.loop and self._owned and not getattr(source, "is_live", False)
                and (source.frame_count or 0) > 1)

    def _reopen(self) -> FrameSource:
        self.close()
        source = self.source = self._open()
        self._number, self._scene = 0, self._scene + 1
        return source

    def _ending(self, source: FrameSource) -> Ending:
        read: int = getattr(source, "frames_read", self._number)
        if source.frame_count == 1 and read == 1:
            return Ending(SourceNews.STILL, f"{source.name}: still image")
        if read == 0:
            return Ending(SourceNews.FAILED, f"{source.name}: no frames")
        return Ending(SourceNews.ENDED, f"{source.name}: end of video ({read} frames)")


# ---------------------------------------------------------------- the frame step

_NO_SCENE = object()


class StepPipeline(Protocol):
    """What FrameStep runs a frame through (app.core.pipeline.EmotionPipeline)."""

    def reset(self) -> None: ...
    def process(self, frame: np.ndarray, timestamp: float | None = None) -> list[Detection]: ...
    def classify_whole(self, frame: np.ndarray) -> list[Detection]: ...


class FrameStep:
    """A frame through the pipeline: faces start afresh when the scene changes (the
    caller's key: a new source, a seek, a loop back, a flipped view) or for a photo;
    then the detections, then drawn.

    `crops`: every picture is one face already cut out (classified whole).
    `on_error(message)`: the pipeline's faults are reported (once, until a frame
    goes through again) and the frame goes on without faces; without it they raise.
    `epoch` grows each time the faces start afresh (a track id names one face only
    within one epoch).
    """

    def __init__(self, pipeline: StepPipeline | None = None, crops: bool = False,
                 on_error: Callable[[str], object] | None = None) -> None:
        self.pipeline = pipeline
        self.crops = crops
        self.on_error = on_error
        self.epoch = 0
        self._scene: object = _NO_SCENE
        self._failing = False

    def use(self, pipeline: StepPipeline | None) -> None:
        """Another pipeline from the next frame on (its faces start afresh)."""
        self.pipeline, self._scene = pipeline, _NO_SCENE
        self.epoch += 1

    def detect(self, image: np.ndarray, scene: object = 0, photo: bool = False,
               timestamp: float | None = None) -> list[Detection]:
        pipe = self.pipeline
        if pipe is None:
            return []
        if self.crops:
            return pipe.classify_whole(image)
        if scene != self._scene or photo:
            pipe.reset()
            self._scene = scene
            self.epoch += 1
        try:
            detections = pipe.process(image, timestamp=timestamp)
        except Exception as exc:
            if self.on_error is None:
                raise
            if not self._failing:
                log.exception("processing failed")
                self.on_error(f"processing failed: {type(exc).__name__}: {exc}")
            self._failing = True
            return []
        self._failing = False
        return detections

    @staticmethod
    def draw(image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        """The frame with its detections drawn (the frame itself when there are none)."""
        return draw_detections(image, detections) if detections else image

    def __call__(self, image: np.ndarray, scene: object = 0, photo: bool = False,
                 timestamp: float | None = None) -> tuple[list[Detection], np.ndarray]:
        """(detections, the frame drawn)."""
        detections = self.detect(image, scene, photo, timestamp)
        return detections, self.draw(image, detections)
