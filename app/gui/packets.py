"""What travels between the window's threads: a captured frame on its way to
processing (`Packet`), a processed one on its way to the window (`Result`).

Both carry the playback's `Frame` record (app.nouns) as it was read: its
`number` (1 for the first) and its `time` in the source are worked out once, by the
capture, and every later stage (processing, the window, recordings, markers,
snapshots, the feeds, the log) reads them from there.
"""

from dataclasses import dataclass, field

import cv2
import numpy as np
from PyQt5.QtGui import QImage

from app.nouns import Frame


@dataclass(frozen=True)
class Packet:
    """A captured frame on its way to processing."""

    frame: Frame
    generation: int
    source: str
    posted: float             # time.monotonic() when handed to processing (the latency's start)


@dataclass
class Result:
    """A processed frame on its way to the window."""

    frame: Frame              # as captured: number, time (see the module doc)
    raw: np.ndarray           # the frame as processed (mirrored if mirror is on)
    annotated: np.ndarray
    image: QImage             # `annotated` as RGB, ready to paint
    detections: list
    generation: int
    source: str
    posted: float
    timings: dict = field(default_factory=dict)
    # one more each time the pipeline's faces start afresh (new source, seek, loop,
    # flipped view, photo, model): a track id names the same face only within one
    track_epoch: int = 0
    work_s: float = 0.0       # seconds this frame's processing took (detect, draw)

    @property
    def number(self) -> int:
        return self.frame.number

    @property
    def time(self) -> float | None:
        """Seconds into the source (a camera: since it started); None: a separate photo."""
        return self.frame.time


def to_qimage(bgr: np.ndarray) -> QImage:
    """An RGB QImage owning its pixels (safe to hand across threads)."""
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    h, w = rgb.shape[:2]
    # PyQt5's stubs leave out buffers, which QImage takes
    image = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format_RGB888)  # type: ignore[call-overload]
    return image.copy()
