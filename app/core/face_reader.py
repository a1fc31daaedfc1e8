"""FaceReader: the emotions of a frame's faces, and which network and view reads them.

A known face is read at the box where it is expected while the detector looks for
it (`read_early`, in the reader's own thread): both release the GIL, so on two
cores the reading takes little time of its own. All faces read together are one
batch; in a smoothed stream, one network on one view a frame, in turn (`view_for`).
"""

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from app.core.crop import crop_faces
from app.core.track import Track, iou
from app.nouns import Box
from model.runtime.calibration import NONE, Calibration
from model.runtime.emotions import EMOTIONS

# A reading taken early at a face's expected box is kept when the face is found there:
# the boxes overlap by this much (intersection over union) at the same tilt. The box a
# known face is found at moves by a few pixels a frame, well inside this.
EARLY_IOU = 0.7

# (probabilities, crop ms, classify ms)
Reading = tuple[np.ndarray, float, float]
# what `read_early` started: (track ids, boxes, tilts, the reading's future)
Early = tuple[list[int], list[Box], list[float], Future[Reading]]
# (network, mirrored) asked of a face (see `view_for`)
View = tuple[int | None, bool | None]


class Classifier(Protocol):
    """What reads faces (model.runtime.classifier.EmotionClassifier, `NoModel`)."""

    @property
    def path(self) -> str | Path | None: ...
    @property
    def flip(self) -> bool: ...
    @property
    def networks(self) -> int: ...
    @property
    def calibration(self) -> Calibration: ...

    def predict(self, faces: np.ndarray, network: int | None = None,
                mirrored: bool | None = None) -> np.ndarray: ...


class NoModel:
    """Stands in for the classifier when no model loads: faces are still found and
    boxed (no probabilities), so the picture stays useful."""

    path = None
    flip = False
    networks = 1
    calibration = NONE          # no neutral reference: no person's calibration

    def predict(self, faces: np.ndarray, network: int | None = None,
                mirrored: bool | None = None) -> np.ndarray:
        return np.zeros((len(faces), len(EMOTIONS)), np.float32)


class FaceReader:
    """Reads faces with `classifier`, cropped with `margin`. `turn` (in `read_early`
    and `read`): the frame's number when a stream takes the views in turn, None to
    ask every view. `close()` ends its thread."""

    def __init__(self, classifier: Classifier, margin: float) -> None:
        self.classifier = classifier
        self.margin = margin
        # reads known faces beside detection; its thread starts on first use
        self._beside = ThreadPoolExecutor(1, thread_name_prefix="read-faces")

    def close(self) -> None:
        self._beside.shutdown()

    def read_early(self, frame: np.ndarray, tracks: Iterable[Track], t: float,
                   turn: int | None) -> Early | None:
        """Start reading the tracks read and seen last frame at the boxes where they
        are expected at `t`, in the reader's thread: (track ids, boxes, tilts, future
        of (probabilities, crop ms, classify ms)), for `read`; None if none."""
        read = [tr for tr in tracks if tr.shown is not None and tr.missed == 0]
        if not read:
            return None
        boxes, tilts = [tr.predicted(t) for tr in read], [tr.angle for tr in read]
        return ([tr.id for tr in read], boxes, tilts,
                self._beside.submit(self._crop_and_classify, frame, boxes, tilts, read, turn))

    def read(self, gray: np.ndarray, pairs: Sequence[tuple[Track, Box]], early: Early | None,
             turn: int | None) -> Reading:
        """(probabilities of each (track, box) pair, crop ms, classify ms): the early
        reading where the face was found where it was expected (EARLY_IOU, same tilt),
        read now at the box found otherwise."""
        out = np.zeros((len(pairs), len(EMOTIONS)), np.float32)
        crop_ms = classify_ms = 0.0
        now = list(range(len(pairs)))
        if early is not None:
            ids, boxes, tilts, future = early
            probs, crop_ms, classify_ms = future.result()
            expected = {i: (box, tilt, p) for i, box, tilt, p in zip(ids, boxes, tilts, probs)}
            now = []
            for row, (tr, box) in enumerate(pairs):
                where = expected.get(tr.id)
                if where and where[1] == tr.angle and iou(where[0], box) >= EARLY_IOU:
                    out[row] = where[2]
                else:
                    now.append(row)
        if now:
            probs, more_crop, more_classify = self._crop_and_classify(
                gray, [pairs[r][1] for r in now], [pairs[r][0].angle for r in now],
                [pairs[r][0] for r in now], turn)
            out[now] = probs
            crop_ms, classify_ms = crop_ms + more_crop, classify_ms + more_classify
        return out, crop_ms, classify_ms

    def _crop_and_classify(self, image: np.ndarray, boxes: Sequence[Box],
                           tilts: Sequence[float], tracks: Sequence[Track],
                           turn: int | None) -> Reading:
        """The faces' probabilities, crop ms and classify ms; `image`: the frame, gray
        or as given (a crop is turned gray itself: the early reading needs no wait for
        the whole frame's gray)."""
        t0 = time.perf_counter()
        faces = crop_faces(image, boxes, self.margin, tilts)
        t1 = time.perf_counter()
        probs = self._classify(faces, tracks, turn)
        return probs, (t1 - t0) * 1000.0, (time.perf_counter() - t1) * 1000.0

    def _classify(self, faces: np.ndarray, tracks: Sequence[Track],
                  turn: int | None) -> np.ndarray:
        """Each face's probabilities; taking turns, one network and one view (face or
        mirror image) a frame (see `view_for`): a batch per frame, two on a frame where
        a new face appears."""
        if not len(faces):
            return np.zeros((0, len(EMOTIONS)), np.float32)
        networks, flip = self.classifier.networks, self.classifier.flip
        if turn is None or not (networks > 1 or flip):
            return self.classifier.predict(faces)
        # a track not yet shown has never been read: its first reading asks everything
        asked = [view_for(turn, tr.shown is None, networks, flip) for tr in tracks]
        out = np.zeros((len(faces), len(EMOTIONS)), np.float32)
        for view in set(asked):
            rows = [i for i, a in enumerate(asked) if a == view]
            out[rows] = self.classifier.predict(faces[rows], network=view[0], mirrored=view[1])
        return out


def view_for(frame: int, first: bool, networks: int, flip: bool) -> View:
    """(network, mirrored) that read a tracked face on this frame; None: all of them.

    A face's first reading asks every network, face and mirror image. After that
    each frame asks one network about one of the two, in turn. The smoothing's
    average over the last few frames then holds every network's say on both, so a
    stream gets about the full reading's accuracy at a sixth of its cost (measured
    with scripts/stream_check.py, in assets/MODEL_CARD.md)."""
    if first:
        return None, None
    view = frame % (networks * (2 if flip else 1))
    return (view % networks if networks > 1 else None), (view >= networks if flip else None)
