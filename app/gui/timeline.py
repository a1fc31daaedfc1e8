"""The side panel's timeline as plain data: the samples and markers it keeps and the
arithmetic of its axis, apart from painting (app.gui.widgets.TimelineView paints it),
so that both are read and tested without a window."""

import time
from enum import Enum

from app.nouns import Marker
from model.runtime.emotions import EMOTIONS

TIMELINE_SECONDS = 60.0
TIMELINE_SAMPLES = 6000      # most samples the timeline keeps (a long video's are thinned)


def clock_text(seconds: float) -> str:
    """"m:ss", as a video's position reads."""
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class TimelineMode(str, Enum):
    """What a timeline's `t` is and what its axis shows (see `Timeline`)."""

    CAMERA = "camera"
    VIDEO = "video"
    PHOTOS = "photos"


def timeline_mode(info: dict) -> TimelineMode:
    """The mode for a source's "started" news: CAMERA, VIDEO (a file with a frame
    rate) or PHOTOS (a folder of photos, an image)."""
    if info.get("live"):
        return TimelineMode.CAMERA
    if info.get("photos") or not info.get("fps"):
        return TimelineMode.PHOTOS if info.get("photos") or (info.get("frames") or 0) <= 1 \
            else TimelineMode.CAMERA
    return TimelineMode.VIDEO


class Timeline:
    """One face's emotion in the source's own time: samples (t, emotion index or -1,
    confidence, valence) drawn as marks in their label's row (or, with
    `show_valence`, as a valence line), and markers (t, number, text).

    `mode` says what `t` is and what the axis shows (`axis`, `axis_labels`):
    VIDEO: the position in the video; from 0:00 to where it is (a seek or loop
    back starts it afresh). CAMERA: seconds since the camera started; the last
    `seconds`. PHOTOS: the photo's number; no time axis, a column per photo shown
    (the last `photos` of them).
    """

    def __init__(self, seconds: float = TIMELINE_SECONDS, clock=time.monotonic):
        self.seconds = seconds
        self.photos = int(seconds)      # photos mode: how many photos are shown
        self._clock = clock
        self.samples: list = []
        self.markers: list = []         # (t, number, text) of each Marker drawn
        self.mode = TimelineMode.CAMERA
        self.show_valence = False
        self.now: float | None = None   # the last t given: where the source is

    def set_mode(self, mode: TimelineMode):
        if mode != self.mode:
            self.mode = mode
            self.reset()

    def set_show_valence(self, on: bool):
        self.show_valence = bool(on)

    def time_of(self, frame) -> float:
        """The `t` of a frame (app.nouns.Frame): its time in the source, or
        for photos (no time axis) its number."""
        if self.mode is TimelineMode.PHOTOS or frame.time is None:
            return float(frame.number)
        return frame.time

    def add(self, label: str | None, confidence: float = 0.0, t: float | None = None,
            valence: float | None = None):
        """Record the shown face's label (and valence) at `t` (see `mode`; the clock
        when None); None marks a moment with no face. A second reading at the same
        `t` (the same frame or photo read again) replaces the first."""
        t = self._clock() if t is None else float(t)
        idx = EMOTIONS.index(label) if label in EMOTIONS else -1
        sample = (t, idx, float(confidence), None if valence is None else float(valence))
        last = self.samples[-1][0] if self.samples else None
        if last is not None and t == last:
            self.samples[-1] = sample
        else:
            if self.mode is TimelineMode.VIDEO and last is not None and t < last:
                self.samples.clear()            # a seek or loop back: from here afresh
            self.samples.append(sample)
        self.now = t
        self._trim(t)

    def _trim(self, t: float):
        """Keep what the mode shows: a camera's last `seconds`, the last `photos`, a
        long video's run thinned to every other sample."""
        if self.mode is TimelineMode.CAMERA:
            while self.samples and t - self.samples[0][0] > self.seconds:
                self.samples.pop(0)
            self.markers = [m for m in self.markers if t - m[0] <= self.seconds]
        elif self.mode is TimelineMode.PHOTOS:
            del self.samples[:-self.photos]
        elif len(self.samples) > TIMELINE_SAMPLES:
            self.samples = self.samples[::2] if len(self.samples) % 2 else \
                self.samples[1::2]                  # (the newest kept)

    def add_marker(self, t: float, marker: Marker):
        """A Marker at `t` (as `add`'s): a line across the timeline."""
        self.markers.append((float(t), int(marker.number), str(marker.text)))

    def clear(self):
        """Forget the samples (another face); the markers and the time stay."""
        self.samples.clear()

    def seeked(self):
        """The source jumped: a video's run starts afresh; photos keep theirs (a
        column per photo shown)."""
        if self.mode is not TimelineMode.PHOTOS:
            self.clear()

    def reset(self):
        """Forget everything (another source)."""
        self.samples.clear()
        self.markers.clear()
        self.now = None

    def axis(self) -> tuple[float, float] | None:
        """(start, end) of the time axis, in `t`'s seconds; None for photos (no time)."""
        if self.mode is TimelineMode.PHOTOS:
            return None
        now = self.now if self.now is not None else \
            (0.0 if self.mode is TimelineMode.VIDEO else self._clock())
        if self.mode is TimelineMode.VIDEO:
            return 0.0, max(0.0, now)
        return now - self.seconds, now

    def axis_labels(self) -> list[tuple[float, str]]:
        """(fraction of the width, text) under the timeline; none for photos."""
        axis = self.axis()
        if axis is None:
            return []
        if self.mode is TimelineMode.VIDEO:
            start, end = axis
            return [(0.0, clock_text(start)), (0.5, clock_text((start + end) / 2)),
                    (1.0, clock_text(end))]
        return [(0.0, f"-{self.seconds:.0f} s"), (0.5, f"-{self.seconds / 2:.0f} s"),
                (1.0, "now")]

    def title(self) -> str:
        """What the panel says above the timeline."""
        what = "Valence" if self.show_valence else "Emotion"
        return {TimelineMode.VIDEO: f"{what} since the start of the video",
                TimelineMode.CAMERA: f"{what} over the last minute",
                TimelineMode.PHOTOS: f"{what} in each photo shown"}[self.mode]

    def x_fraction(self, t: float) -> float | None:
        """Where `t` is across the timeline (0 left, 1 right); None when outside it
        (or, for photos, not among the photos shown)."""
        axis = self.axis()
        if axis is None:                        # photos: the last column of that photo
            times = [s[0] for s in self.samples]
            if t not in times:
                return None
            return self._column(len(times) - 1 - times[::-1].index(t))
        start, end = axis
        if t < start - 1e-9 or t > end + 1e-9:
            return None
        return (t - start) / (end - start) if end > start else 1.0

    def _column(self, index: int) -> float:
        """Photos: the middle of the `index`th column (a few photos: narrow columns
        from the left)."""
        return (index + 0.5) / max(len(self.samples), 10)

    def sample_fractions(self) -> list:
        """Where each sample is across the timeline (x_fraction; by column for photos)."""
        if self.mode is TimelineMode.PHOTOS:
            return [self._column(i) for i in range(len(self.samples))]
        return [self.x_fraction(s[0]) for s in self.samples]

    def mark_width(self, width: float) -> float:
        """How wide a sample's mark is on a timeline `width` pixels wide: a photo's
        column, else at least 1 px and about a tenth of a second."""
        axis = self.axis()
        if axis is None:
            return width / max(len(self.samples), 10)
        return max(1.0, width / max(1.0, (axis[1] - axis[0]) * 10))
