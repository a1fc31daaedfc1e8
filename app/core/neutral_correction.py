"""NeutralCorrection: whose readings have a person's neutral lean taken out, and when.

The lean itself and its arithmetic are app.core.neutral_offset's; this is who it
applies to in a stream of tracked faces, which changes as faces come and go.
"""

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from app.core.neutral_offset import corrected
from app.core.track import Track
from app.nouns import Box


class NeutralCorrection:
    """A person's neutral lean (app.core.neutral_offset.person_offset), taken out of
    every face's readings (`process --baseline`, whose input is that person) or of one
    tracked face's, whose correction passes to the next face that appears once it is
    gone (the webcam's user, back in view or after a seek)."""

    def __init__(self) -> None:
        self.offset: np.ndarray | None = None       # None: no correction
        self.everyone = False

    @property
    def active(self) -> bool:
        return self.offset is not None

    def set(self, offset: npt.ArrayLike | None, track_id: int | None,
            tracks: Iterable[Track]) -> None:
        """The lean of every face (`track_id` None) or of track `track_id` from now on
        (`offset` None: none); `tracks` (Track) are marked, and the smoothing of each
        one read differently from now on starts afresh, to show it at once."""
        self.offset = None if offset is None else np.asarray(offset, np.float64)
        self.everyone = track_id is None
        for tr in tracks:
            was = tr.calibrated
            tr.calibrated = tr.id == track_id
            if was or tr.calibrated or self.everyone:
                tr.smoother.reset()

    def reading(self, probs: np.ndarray,
                track: Track | None = None) -> tuple[np.ndarray, bool]:
        """(the reading shown, whether corrected) of `probs` read of `track` (None: a
        face not tracked, corrected only when every face is)."""
        offset = self.offset
        calibrated = offset is not None \
            and (self.everyone or (track is not None and track.calibrated))
        return (corrected(probs, offset) if offset is not None and calibrated else probs), \
            calibrated

    def hand_on(self, tracks: Iterable[Track], pairs: Sequence[tuple[Track, Box]]) -> None:
        """A corrected face that is gone passes its correction to the largest new face
        of this frame's (track, box) `pairs`."""
        if not self.active or self.everyone or any(tr.calibrated for tr in tracks):
            return
        new = [(tr, box) for tr, box in pairs if tr.shown is None]
        if new:
            max(new, key=lambda pair: pair[1][2] * pair[1][3])[0].calibrated = True
