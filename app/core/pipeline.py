"""One frame in, the faces with their emotions out: detect -> crop -> classify -> track.

The GUI, `process`, `bench` and the tests all drive `EmotionPipeline.process`.
Speed comes from not scanning the whole frame every time: known faces are looked
for near their last box (under a millisecond), the whole frame is re-scanned,
downscaled and with those faces blanked, every `rescan_interval` frames, whenever
a face was lost, and while no face is known. All faces of a frame are classified in
one batch, and in a smoothed stream by one network on one view a frame, in turn
(`view_for`). A known face is read at the box where it is expected while the
detector looks for it (`_read_early`): both release the GIL, so on two cores the
reading takes little time of its own.
"""

import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from app.core.config import DEFAULTS, PipelineConfig
from app.core.crop import crop_faces
from app.core.detect import TILT_ANGLES, FaceDetector
from app.core.track import ProbabilitySmoother, Tracker, iou
from app.nouns import Detection
from model.runtime.emotions import EMOTIONS
from app.core.neutral_offset import corrected
from model.runtime.classifier import EmotionClassifier
from model.runtime.preprocess import frame_tight_crop, to_gray

log = logging.getLogger(__name__)


NO_MODEL_LABEL = "face"   # the label of a face found while no emotion model works
# A reading taken early at a face's expected box is kept when the face is found there:
# the boxes overlap by this much (intersection over union) at the same tilt. The box a
# known face is found at moves by a few pixels a frame, well inside this.
EARLY_IOU = 0.7


class NoModel:
    """Stands in for the classifier when no model loads: faces are still found and
    boxed (label NO_MODEL_LABEL, no probabilities), so the picture stays useful."""

    path = None
    flip = False
    networks = 1

    def predict(self, faces):
        return np.zeros((len(faces), len(EMOTIONS)), np.float32)


class EmotionPipeline:
    """Faces and their (smoothed) emotions for a stream of BGR frames.

    Construct it off the GUI thread: it loads the model. Settings come from a
    `PipelineConfig` (defaults: `app.core.config`), or as keyword arguments that
    change its fields (`EmotionPipeline(sensitivity=0.8)`). `smoothing`,
    `sensitivity` and `min_face` may be changed between frames; call `reset()`
    when the source changes. `timings` holds the last frame's per-stage milliseconds.
    `threads`: the classifier's; None lets it choose by its speed on this CPU.
    """

    def __init__(self, model_path=None, classifier=None, config: PipelineConfig | None = None,
                 threads: int | None = None, **changes):
        self.config = (config or DEFAULTS).with_changes(**changes)
        cfg = self.config
        self.classifier = classifier or EmotionClassifier.load(model_path, threads=threads)
        self.detector = FaceDetector(sensitivity=cfg.sensitivity, min_face=cfg.min_face,
                                     max_scan_side=cfg.max_scan_side)
        self.tracker = Tracker(functools.partial(ProbabilitySmoother, cfg.tau, cfg.fast_tau,
                                                 cfg.jump, cfg.confirm, cfg.label_margin,
                                                 cfg.sure))
        self.smoothing = cfg.smoothing
        self.rescan_interval = cfg.rescan_interval
        self.margin = cfg.margin
        self.hold = cfg.hold
        self.tilt = cfg.tilt
        self.in_turn = cfg.in_turn
        self.timings: dict[str, float] = {}
        self.frames = 0
        self._since_scan = 0
        self._rescan = True
        self._scanned = False
        self._lock = threading.Lock()
        self._offset = None           # a person's neutral lean (set_neutral_baseline)
        self._everyone = False        # ... taken out of every face's readings
        # reads known faces beside detection (_read_early); its thread starts on first use
        self._beside = ThreadPoolExecutor(1, thread_name_prefix="read-faces")

    # settings the GUI changes while running
    @property
    def sensitivity(self) -> float:
        return self.detector.sensitivity

    @sensitivity.setter
    def sensitivity(self, value: float):
        self.detector.sensitivity = value
        self._rescan = True

    @property
    def min_face(self) -> int:
        return self.detector.min_face

    @min_face.setter
    def min_face(self, value: int):
        self.detector.min_face = int(value)
        self._rescan = True

    def set_neutral_baseline(self, offset, track_id: int | None = None):
        """Take a person's neutral lean (app.core.neutral_offset.person_offset) out of
        their readings from now on: of every face (`track_id` None: `process
        --baseline`, whose input is that person), or of the tracked face `track_id`.
        That face's correction passes to the next face that appears once it is gone
        (the webcam's user, back in view or after a seek); `None` offset: clear it."""
        with self._lock:
            self._offset = None if offset is None else np.asarray(offset, np.float64)
            self._everyone = track_id is None
            for tr in self.tracker.tracks.values():
                was = tr.calibrated
                tr.calibrated = tr.id == track_id
                if was or tr.calibrated or self._everyone:
                    tr.smoother.reset()     # read differently from now on: show it at once

    @property
    def calibrated(self) -> bool:
        """A person's correction is set (for every face, or handed from face to face)."""
        return self._offset is not None

    def reset(self):
        """Forget all faces (new source, new image)."""
        with self._lock:
            self.tracker.reset()
            self._rescan = True
            self._since_scan = 0

    def process(self, frame: np.ndarray, timestamp: float | None = None) -> list[Detection]:
        """Faces in a BGR uint8 frame; `timestamp` (s) defaults to the clock."""
        t = time.monotonic() if timestamp is None else float(timestamp)
        with self._lock:
            return self._process(frame, t)

    def classify_whole(self, frame: np.ndarray) -> list[Detection]:
        """The whole picture as one face (a face crop, as in CK+ or a user's own
        crops): no detection, no tracking, no smoothing. Framed like a FER-2013
        face first (`frame_tight_crop`: users cut their crops tighter); a person's
        correction for every face (`set_neutral_baseline`) applies."""
        gray = to_gray(frame)
        probs = self.classifier.predict(frame_tight_crop(gray))[0]
        calibrated = self._offset is not None and self._everyone
        shown = corrected(probs[None], self._offset)[0] if calibrated else probs
        idx = int(np.argmax(shown))
        h, w = gray.shape[:2]
        return [Detection(box=(0, 0, w, h), label=EMOTIONS[idx], confidence=float(shown[idx]),
                          probabilities=tuple(float(v) for v in shown), track_id=1,
                          raw_probabilities=tuple(float(v) for v in probs),
                          calibrated=calibrated)]

    def _process(self, frame, t) -> list[Detection]:
        clock = time.perf_counter
        t0 = clock()
        early = self._read_early(frame, t)
        gray = to_gray(frame)
        t1 = clock()
        boxes, claimed, angles = self._detect(gray, t)
        t2 = clock()
        pairs = self.tracker.assign(claimed, boxes, t)
        for tr, _ in pairs:
            tr.angle = angles.get(tr.id, 0.0)
        self._hand_on_calibration(pairs)
        t3 = clock()
        probs, crop_ms, classify_ms = self._read(gray, pairs, early)
        t4 = clock()
        detections = [self._detection(tr, box, p, t) for (tr, box), p in zip(pairs, probs)]
        detections += self._held(pairs, t, gray.shape)
        t5 = clock()
        self.frames += 1
        # "track": matching boxes to known faces; "smooth": the probabilities over time.
        # "crop" and "classify": their work, partly beside "detect" (_read_early); "wait":
        # what the frame waited for them after detecting; "total": the frame's own time
        self.timings = {"gray": _ms(t0, t1), "detect": _ms(t1, t2), "track": _ms(t2, t3),
                        "crop": crop_ms, "classify": classify_ms, "wait": _ms(t3, t4),
                        "smooth": _ms(t4, t5), "total": _ms(t0, t5),
                        "full_scan": float(self._scanned)}
        return detections

    def _read_early(self, frame, t):
        """Start reading the faces read and seen last frame at the boxes where they are
        expected, in the reading thread while the detector looks for them: (track ids,
        boxes, tilts, future of (probabilities, crop ms, classify ms)); None if none."""
        tracks = [tr for tr in self.tracker.tracks.values()
                  if tr.shown is not None and tr.missed == 0]
        if not tracks:
            return None
        boxes, tilts = [tr.predicted(t) for tr in tracks], [tr.angle for tr in tracks]
        return ([tr.id for tr in tracks], boxes, tilts,
                self._beside.submit(self._crop_and_classify, frame, boxes, tilts, tracks))

    def _crop_and_classify(self, image, boxes, tilts, tracks):
        """The faces' probabilities, crop ms and classify ms; `image`: the frame, gray
        or as given (a crop is turned gray itself: the early reading needs no wait for
        the whole frame's gray)."""
        t0 = time.perf_counter()
        faces = crop_faces(image, boxes, self.margin, tilts)
        t1 = time.perf_counter()
        probs = self._classify(faces, tracks)
        return probs, _ms(t0, t1), _ms(t1, time.perf_counter())

    def _read(self, gray, pairs, early):
        """(probabilities of each face found, crop ms, classify ms): the early reading
        where the face was found where it was expected (EARLY_IOU, same tilt), read now
        at the box found otherwise."""
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
                [pairs[r][0] for r in now])
            out[now] = probs
            crop_ms, classify_ms = crop_ms + more_crop, classify_ms + more_classify
        return out, crop_ms, classify_ms

    def _detect(self, gray, t):
        """(boxes from a full scan, {track id: box found near that track's last box},
        {track id: tilt angle where it was found tilted}).

        The whole frame is scanned when asked to (reset, new settings), on the
        frame a known face is lost, every `rescan_interval` frames to find new
        faces, and every other frame while some face is missing or none is known.
        """
        claimed, angles = {}, {}
        just_lost = missing = False
        for tr in list(self.tracker.tracks.values()):
            box, angle = self._find_near(gray, tr, t)
            if box is None:
                missing = True
                just_lost |= tr.missed == 0
            elif not any(iou(box, other) > 0.5 for other in claimed.values()):
                claimed[tr.id] = box
                if angle:
                    angles[tr.id] = angle
        self._since_scan += 1
        interval = 2 if (missing or not claimed) else self.rescan_interval
        full = self._rescan or just_lost or self._since_scan >= interval
        self._scanned = full
        boxes = []
        if full:
            # the faces just found near their last box are blanked: it looks for others
            boxes = self.detector.full_scan(gray, known=list(claimed.values()))
            self._since_scan = 0
            self._rescan = False
        return boxes, claimed, angles

    def _find_near(self, gray, track, t):
        """(box, tilt) of `track`'s face near where it should be now, or (None, 0).

        Upright first (or at the tilt it was last found at), then turned by the
        detector's TILT_ANGLES: a head tilted past ~10 degrees is lost upright."""
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

    def _classify(self, faces, tracks) -> np.ndarray:
        """Each face's probabilities; in a smoothed stream, one network and one view
        (face or mirror image) a frame, taken in turn (see `view_for`): a batch per
        frame, two on a frame where a new face appears."""
        if not len(faces):
            return np.zeros((0, len(EMOTIONS)), np.float32)
        networks, flip = self.classifier.networks, self.classifier.flip
        if not (self.smoothing and self.in_turn and (networks > 1 or flip)):
            return self.classifier.predict(faces)
        # a track not yet shown has never been read: its first reading asks everything
        asked = [view_for(self.frames, tr.shown is None, networks, flip) for tr in tracks]
        out = np.zeros((len(faces), len(EMOTIONS)), np.float32)
        for view in set(asked):
            rows = [i for i, a in enumerate(asked) if a == view]
            out[rows] = self.classifier.predict(faces[rows], network=view[0], mirrored=view[1])
        return out

    def _hand_on_calibration(self, pairs):
        """A calibrated face that is gone passes its correction to the largest new face."""
        if self._offset is None or self._everyone or \
                any(tr.calibrated for tr in self.tracker.tracks.values()):
            return
        new = [(tr, box) for tr, box in pairs if tr.shown is None]
        if new:
            max(new, key=lambda pair: pair[1][2] * pair[1][3])[0].calibrated = True

    def _held(self, pairs, t, shape) -> list[Detection]:
        """Faces lost for at most `hold` s: their last reading, box moved on, marked held."""
        if self.hold <= 0:
            return []
        seen = {tr.id for tr, _ in pairs}
        out = []
        for tr in self.tracker.tracks.values():
            last = tr.shown
            if tr.id in seen or last is None or not tr.confirmed \
                    or not 0 < t - tr.last_seen <= self.hold:
                continue
            x, y, w, h = tr.predicted(t)
            x = min(max(x, -w // 2), shape[1] - w // 2)   # keep at least half in view
            y = min(max(y, -h // 2), shape[0] - h // 2)
            out.append(replace(last, box=(x, y, w, h), held=True))
        return out

    def _detection(self, track, box, probs, t) -> Detection:
        if not np.any(probs):             # no model: a box, no emotion
            det = Detection(box=tuple(int(v) for v in box), label=NO_MODEL_LABEL,
                            confidence=0.0, probabilities=(0.0,) * len(EMOTIONS),
                            track_id=track.id, raw_probabilities=(0.0,) * len(EMOTIONS),
                            tilt=track.angle)
            track.shown = det
            return det
        calibrated = self._offset is not None and (self._everyone or track.calibrated)
        reading = corrected(probs, self._offset) if calibrated else probs
        smoothed, _ = track.smoother.update(reading, t)
        shown = smoothed if self.smoothing else reading
        idx = int(np.argmax(shown))             # the label is the top of the bars shown
        det = Detection(box=tuple(int(v) for v in box), label=EMOTIONS[idx],
                        confidence=float(shown[idx]),
                        probabilities=tuple(float(v) for v in shown), track_id=track.id,
                        raw_probabilities=tuple(float(v) for v in probs), tilt=track.angle,
                        calibrated=calibrated)
        track.shown = det
        return det


def view_for(frame: int, first: bool, networks: int, flip: bool) -> tuple:
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


def _ms(a: float, b: float) -> float:
    return (b - a) * 1000.0
