"""One frame in, the faces with their emotions out: detect -> crop -> classify -> track.

The GUI, `process`, `bench` and the tests all drive `EmotionPipeline.process`, which
runs the parts in turn: FaceFinder (where the faces are), FaceReader (their emotions,
read beside the finding), the Tracker (which face is which; smoothing), a person's
NeutralCorrection and the faces held briefly once lost (held_faces).
"""

import functools
import logging
import threading
import time
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from app.core.config import DEFAULTS, PipelineConfig
from app.core.detect import FaceDetector
from app.core.face_finder import FaceFinder
from app.core.face_reader import Classifier, FaceReader
from app.core.held_faces import held_faces
from app.core.neutral_correction import NeutralCorrection
from app.core.runstats import Laps
from app.core.track import ProbabilitySmoother, Track, Tracker
from app.nouns import Box, Detection
from model.runtime.classifier import EmotionClassifier
from model.runtime.emotions import EMOTIONS
from model.runtime.preprocess import frame_tight_crop, to_gray

log = logging.getLogger(__name__)


NO_MODEL_LABEL = "face"   # the label of a face found while no emotion model works


class EmotionPipeline:
    """Faces and their (smoothed) emotions for a stream of BGR frames.

    Construct it off the GUI thread: it loads the model. Settings come from a
    `PipelineConfig` (defaults: `app.core.config`), or as keyword arguments that change
    its fields (`EmotionPipeline(sensitivity=0.8)`). `smoothing`, `sensitivity` and
    `min_face` may be changed between frames; call `reset()` when the source changes.
    `timings`: the last frame's per-stage milliseconds. `threads`: the classifier's;
    None lets it choose by its speed on this CPU. `close()` it (or use it in a `with`
    block) to end the thread that reads faces beside detection.
    """

    def __init__(self, model_path: str | Path | None = None,
                 classifier: Classifier | None = None,
                 config: PipelineConfig | None = None, threads: int | None = None,
                 **changes: float | bool) -> None:
        self.config = cfg = (config or DEFAULTS).with_changes(**changes)
        self.detector = FaceDetector(sensitivity=cfg.sensitivity, min_face=cfg.min_face,
                                     max_scan_side=cfg.max_scan_side)
        self.finder = FaceFinder(self.detector, cfg.rescan_interval, cfg.hold, cfg.tilt)
        self.reader = FaceReader(classifier or EmotionClassifier.load(model_path, threads=threads),
                                 cfg.margin)
        self.classifier = self.reader.classifier
        self.tracker = Tracker(functools.partial(ProbabilitySmoother, cfg.tau, cfg.fast_tau,
                                                 cfg.jump, cfg.confirm, cfg.label_margin, cfg.sure))
        self.correction = NeutralCorrection()
        self.smoothing = cfg.smoothing
        self.in_turn = cfg.in_turn
        self.timings: dict[str, float] = {}
        self.frames = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.reader.close()         # waits for a reading under way

    def __enter__(self) -> "EmotionPipeline":
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    # settings the GUI changes while running (FaceFinder: the next frame is scanned whole)
    @property
    def sensitivity(self) -> float:
        return self.finder.sensitivity

    @sensitivity.setter
    def sensitivity(self, value: float) -> None:
        self.finder.sensitivity = value

    @property
    def min_face(self) -> int:
        return self.finder.min_face

    @min_face.setter
    def min_face(self, value: int) -> None:
        self.finder.min_face = value

    def set_neutral_baseline(self, offset: npt.ArrayLike | None,
                             track_id: int | None = None) -> None:
        """Take a person's neutral lean out of their readings from now on (NeutralCorrection):
        of every face (`track_id` None) or of the tracked face `track_id`; None: clear it."""
        with self._lock:
            self.correction.set(offset, track_id, self.tracker.tracks.values())

    @property
    def calibrated(self) -> bool:
        """A person's correction is set (for every face, or handed from face to face)."""
        return self.correction.active

    def reset(self) -> None:
        """Forget all faces (new source, new image)."""
        with self._lock:
            self.tracker.reset()
            self.finder.rescan()

    def classify_whole(self, frame: np.ndarray) -> list[Detection]:
        """The whole picture as one face (a face crop, as in CK+ or a user's own crops):
        no detection, tracking or smoothing. Framed like a FER-2013 face first (users cut
        their crops tighter); a correction for every face (set_neutral_baseline) applies."""
        gray = to_gray(frame)
        probs = self.classifier.predict(frame_tight_crop(gray))[0]
        shown, calibrated = self.correction.reading(probs)
        idx = int(np.argmax(shown))
        h, w = gray.shape[:2]
        return [Detection(box=(0, 0, w, h), label=EMOTIONS[idx], confidence=float(shown[idx]),
                          probabilities=tuple(float(v) for v in shown), track_id=1,
                          raw_probabilities=tuple(float(v) for v in probs),
                          calibrated=calibrated)]

    def process(self, frame: np.ndarray, timestamp: float | None = None) -> list[Detection]:
        """Faces in a BGR uint8 frame; `timestamp` (s) defaults to the clock."""
        t = time.monotonic() if timestamp is None else float(timestamp)
        with self._lock:
            tracks, lap = self.tracker.tracks, Laps()
            turn = self.frames if self.smoothing and self.in_turn else None
            early = self.reader.read_early(frame, tracks.values(), t, turn)
            gray = to_gray(frame)
            lap("gray")
            boxes, claimed, angles = self.finder.find(gray, tracks.values(), t)
            lap("detect")
            pairs = self.tracker.assign(claimed, boxes, t)
            for tr, _ in pairs:
                tr.angle = angles.get(tr.id, 0.0)
            self.correction.hand_on(tracks.values(), pairs)
            lap("track")
            probs, crop_ms, classify_ms = self.reader.read(gray, pairs, early, turn)
            lap("wait")
            detections = [self._detection(tr, box, p, t) for (tr, box), p in zip(pairs, probs)]
            detections += held_faces(tracks.values(), pairs, t, self.config.hold, gray.shape)
            lap("smooth")
            self.frames += 1
            # "crop", "classify": their work, partly beside "detect" (read_early); "wait": what
            # the frame waited for them after it; "track": boxes to faces; "total": its own time
            self.timings = {**lap.ms(), "crop": crop_ms, "classify": classify_ms,
                            "full_scan": float(self.finder.scanned)}
            return detections

    def _detection(self, track: Track, box: Box, probs: np.ndarray, t: float) -> Detection:
        """`track`'s face at `box`, read `probs`: corrected, smoothed and labelled with
        the top of the bars shown; a box without emotion when no model read it."""
        shown, calibrated, label = probs, False, NO_MODEL_LABEL
        if np.any(probs):
            reading, calibrated = self.correction.reading(probs, track)
            smoothed, _ = track.smoother.update(reading, t)
            shown = smoothed if self.smoothing else reading
            label = EMOTIONS[int(np.argmax(shown))]
        x, y, w, h = (int(v) for v in box)
        shown_face = Detection(box=(x, y, w, h), label=label,
                                confidence=float(np.max(shown)),
                                probabilities=tuple(float(v) for v in shown), track_id=track.id,
                                raw_probabilities=tuple(float(v) for v in probs),
                                tilt=track.angle, calibrated=calibrated)
        track.shown = shown_face
        return shown_face

