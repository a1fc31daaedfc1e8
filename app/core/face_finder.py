"""FaceFinder: where a frame's faces are, without scanning the whole frame each time.

Known faces are looked for near their last box (under a millisecond); the whole
frame is scanned, downscaled and with those faces blanked, only when that cannot
be trusted to find every face.
"""

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from app.core.detect import TILT_ANGLES
from app.core.track import Track, iou
from app.nouns import Box


class Detector(Protocol):
    """What finds faces (app.core.detect.FaceDetector)."""

    sensitivity: float
    min_face: int

    def full_scan(self, gray: np.ndarray, known: Sequence[Box] = ()) -> list[Box]: ...
    def near(self, gray: np.ndarray, box: Box) -> Box | None: ...
    def near_rotated(self, gray: np.ndarray, box: Box,
                     angles: Iterable[float] = TILT_ANGLES) -> tuple[Box, float] | None: ...


class FaceFinder:
    """Finds a frame's faces with a `FaceDetector`, known ones near where they were.

    The whole frame is scanned when asked to (`rescan`, a new `sensitivity` or
    `min_face`), on the frame a known face is lost, every `rescan_interval` frames
    to find new faces, and every other frame while some face is missing or none is
    known. `tilt`: a known face is also looked for turned by the detector's
    TILT_ANGLES, while it is fresh (lost for at most `hold` s, or 0.2 s).
    """

    def __init__(self, detector: Detector, rescan_interval: int, hold: float,
                 tilt: bool) -> None:
        self.detector = detector
        self.rescan_interval = rescan_interval
        self.hold = hold
        self.tilt = tilt
        self.scanned = False       # the last frame was scanned whole
        self._since_scan = 0
        self._rescan = True

    @property
    def sensitivity(self) -> float:
        return self.detector.sensitivity

    @sensitivity.setter
    def sensitivity(self, value: float) -> None:
        self.detector.sensitivity = value
        self.rescan()

    @property
    def min_face(self) -> int:
        return self.detector.min_face

    @min_face.setter
    def min_face(self, value: float) -> None:
        self.detector.min_face = int(value)
        self.rescan()

    def rescan(self) -> None:
        """Scan the whole of the next frame (new source, new detector settings)."""
        self._rescan = True
        self._since_scan = 0

    def find(self, gray: np.ndarray, tracks: Iterable[Track],
             t: float) -> tuple[list[Box], dict[int, Box], dict[int, float]]:
        """(boxes from a full scan, {track id: box found near that track's last box},
        {track id: tilt angle where it was found tilted}) in a gray frame at time `t`."""
        claimed: dict[int, Box] = {}
        angles: dict[int, float] = {}
        just_lost = missing = False
        for tr in list(tracks):
            box, angle = self._near(gray, tr, t)
            if box is None:
                missing = True
                just_lost |= tr.missed == 0
            elif not any(iou(box, other) > 0.5 for other in claimed.values()):
                claimed[tr.id] = box
                if angle:
                    angles[tr.id] = angle
        self._since_scan += 1
        interval = 2 if (missing or not claimed) else self.rescan_interval
        self.scanned = self._rescan or just_lost or self._since_scan >= interval
        boxes: list[Box] = []
        if self.scanned:
            # the faces just found near their last box are blanked: it looks for others
            boxes = self.detector.full_scan(gray, known=list(claimed.values()))
            self._since_scan = 0
            self._rescan = False
        return boxes, claimed, angles

    def _near(self, gray: np.ndarray, track: Track, t: float) -> tuple[Box | None, float]:
        """(box, tilt) of `track`'s face near where it should be now, or (None, 0).

        Upright first (or at the tilt it was last found at), then turned: a head
        tilted past ~10 degrees is lost upright."""
        where = track.predicted(t)
        # turned searches only while the face is fresh: one lost for longer is left to
        # the full-frame scans (four turned searches a frame cost more than finding it)
        tilt = self.tilt and track.confirmed and t - track.last_seen <= max(self.hold, 0.2)
        if not track.angle:
            box = self.detector.near(gray, where)
            if box is not None or not tilt:
                return box, 0.0
            found = self.detector.near_rotated(gray, where)
        else:
            order = (track.angle,) + tuple(a for a in (0.0, *TILT_ANGLES) if a != track.angle)
            found = self.detector.near_rotated(gray, where, order if tilt else (0.0,))
        return found if found else (None, 0.0)
