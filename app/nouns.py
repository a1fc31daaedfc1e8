"""The project's nouns: a face found (`Detection`), a frame read (`Frame`), a moment
marked (`Marker`), a source opened (`SourceInfo`).

They sit below every layer of `app` (core, io, report, commands, gui) and import
nothing of it, only `model.runtime.emotions`, so whichever layer makes one and
whichever reads it import them downwards. Each file and feed keeps its own shape
of them: the noun converts at that edge (`Detection.to_dict`, `Marker.to_dict`,
app.io.results.markers_csv, app.io.feed_messages.marker_message).
"""

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from model.runtime.emotions import EMOTIONS, valence

# a face's box in a frame's pixels: (x, y, w, h)
Box = tuple[int, int, int, int]


class SourceInfo(TypedDict):
    """An opened source as the window shows it (app.core.playback.describe, its
    "started" news). A typed dict: it crosses to the window by a Qt signal as it is."""

    name: str
    live: bool
    fps: float | None
    frames: int | None
    photos: bool


class BoxJSON(TypedDict):
    x: int
    y: int
    w: int
    h: int


class FaceJSON(TypedDict):
    """Detection.to_dict: a face in the snapshots, the feeds and detections.csv."""

    track: int
    box: BoxJSON
    tilt: float
    held: bool
    label: str
    confidence: float
    probabilities: dict[str, float]     # emotion -> probability, in EMOTIONS' order
    calibrated: bool
    valence: float | None


class MarkerJSON(TypedDict):
    """Marker.to_dict: a marker in a snapshot."""

    time_s: float | None
    frame: int | None
    number: int
    text: str
    when: str


@dataclass
class Detection:
    """One face in one frame. `box` is (x, y, w, h) in the pixels of the frame given."""

    box: tuple
    label: str
    confidence: float
    probabilities: tuple
    track_id: int
    # this frame's own reading, unsmoothed and uncorrected (in a stream: one network's,
    # on one view)
    raw_probabilities: tuple = field(default=(), repr=False, compare=False)
    held: bool = False        # not found in this frame: the last reading, held briefly
    tilt: float = 0.0         # head tilt (degrees, counter-clockwise in the picture)
    calibrated: bool = False  # read with a person's own neutral taken out (set_neutral_baseline)

    def to_dict(self) -> FaceJSON:
        """The one JSON shape of a face, in snapshots and every other JSON output.
        "valence" (model.runtime.emotions.valence) is that of the rounded probabilities, so it
        is exactly what a reader computes from them; None without an emotion model."""
        x, y, w, h = (int(v) for v in self.box)
        probabilities = {e: round(float(p), 4) for e, p in zip(EMOTIONS, self.probabilities)}
        return {"track": int(self.track_id), "box": {"x": x, "y": y, "w": w, "h": h},
                "tilt": round(float(self.tilt), 1), "held": bool(self.held),
                "label": self.label, "confidence": round(float(self.confidence), 4),
                "probabilities": probabilities,
                "calibrated": bool(self.calibrated), "valence": self.valence}

    @functools.cached_property
    def valence(self) -> float | None:
        """How pleasant the face looks, -1 to 1 (as in to_dict); None without a model.
        Worked out once: the CSV, the summary, the feeds and the panel all ask."""
        return _rounded_valence(self.label, (round(float(p), 4) for p in self.probabilities))


def _rounded_valence(label, probabilities) -> float | None:
    """Valence of (rounded) probabilities, rounded like them; None for a face read by
    no emotion model (label app.core.pipeline.NO_MODEL_LABEL, no probabilities)."""
    probabilities = list(probabilities)
    if label not in EMOTIONS or len(probabilities) != len(EMOTIONS):
        return None
    return round(valence(probabilities), 4)


@dataclass(frozen=True)
class Frame:
    """One frame read from a source (app.core.playback numbers and times it)."""

    image: np.ndarray
    number: int                 # 1, 2, ... its place in the source (see app.core.playback)
    time: float | None          # the source's time, the one every output uses: seconds
    #                             into a video ((number - 1) / fps), since a camera was
    #                             opened; None for a still picture
    scene: int                  # one more after each seek or loop back
    photo: bool                 # a separate picture: nothing carries over from the last
    captured: float             # the playback's clock when it was read


@dataclass(frozen=True)
class Marker:
    """A moment the user marked (keys 1..9, or Add marker… with a text), the same
    from the key press to markers.csv, the snapshots and the live feeds."""

    time: float | None = None   # the source's time of the frame marked (Frame.time)
    frame: int | None = None    # its number: the source's, or in markers.csv the recording's
    number: int = 0             # the key 1..9; 0 for a marker with a text only
    text: str = ""
    when: str = ""              # the wall clock when it was added (ISO 8601)

    @classmethod
    def now(cls, frame: Frame, number: int = 0, text: str = "") -> "Marker":
        """A marker on `frame`, added now."""
        return cls(frame.time, int(frame.number), int(number), str(text),
                   dt.datetime.now().astimezone().isoformat(timespec="milliseconds"))

    def to_dict(self) -> MarkerJSON:
        """Its JSON shape in a snapshot ("time_s" rounded to the millisecond)."""
        return {"time_s": None if self.time is None else round(self.time, 3),
                "frame": self.frame, "number": self.number, "text": self.text,
                "when": self.when}

    @property
    def label(self) -> str:
        """How it is labelled on a chart: its number, or its text (shortened)."""
        if self.number:
            return str(self.number)
        return self.text if len(self.text) <= 12 else self.text[:10] + ".."
