"""A person's neutral baseline, measured in the window (View > Calibrate neutral).

The followed (or largest) face keeps a neutral face for NEUTRAL_SECONDS, counted
down on the picture; the model's readings of it meanwhile, against the model's own
neutral reference, give the person's lean (app.core.neutral_offset.person_offset),
taken out of that face's readings for the rest of the session (passed on to the next
new face when it is gone: a new source, a seek). A still picture (a photo, a paused
video) is measured at once, from the reading shown.

A QObject with its own countdown timer: it hears the frames, the source starting
and the model, asks the side panel which face it follows and the review control
whether the picture is still, and speaks only by signals (`message`, `prompt`,
`apply`, `changed`).
"""

import datetime as dt
import logging
import math
import time
from typing import TypeGuard

from PyQt5.QtCore import QObject, QTimer, pyqtSignal

from app.core.neutral_check import NotNeutral, checked_offset
from app.gui.source_control import source_label
from app.nouns import Detection
from model.runtime.emotions import EMOTIONS

log = logging.getLogger(__name__)

# how long the person keeps a neutral face, and the fewest readings of their face
# in that time that make a measurement
NEUTRAL_SECONDS = 3.0
NEUTRAL_MIN_READINGS = 5
NEEDS_MODEL = ("Calibrate neutral needs an emotion model: load one with File > Load "
               "model (Ctrl+L)")


class NeutralBaseline(QObject):
    """The countdown, the measurement, and the baseline in use (`record`: what
    snapshots record of it; None while none is set). `panel`: the side panel (the
    face measured is the one it shows); `review_control`: says whether the picture
    is still."""

    message = pyqtSignal(str, bool)          # text, whether it is an error
    prompt = pyqtSignal(str)                 # what the person is asked, on the picture
    apply = pyqtSignal(object, object)       # offset (None: clear), track id: to the engine
    changed = pyqtSignal(bool)               # whether a baseline is set

    def __init__(self, panel, review_control, parent=None):
        super().__init__(parent)
        self.panel, self.review_control = panel, review_control
        self._shown = None                   # the last result shown
        self._source = source_label(None)    # how the running source is named
        self.reference = None                # the model's neutral reference
        self.why_none = NEEDS_MODEL          # why there is none
        self.record: dict | None = None
        self._countdown: dict | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._tick)

    @property
    def counting(self) -> bool:
        return self._countdown is not None

    def use_model(self, reference, why_none: str) -> str:
        """A new model (its neutral reference, or why it has none): a baseline measured
        with the old one is gone. Returns a note for the model's news ("" if none)."""
        self.reference, self.why_none = reference, why_none
        note = ""
        if self.stop() is not None:
            note = "; calibration stopped: Calibrate neutral (N) again"
        if self.record is not None:
            self._forget()
            note = "; the neutral calibration was for the previous model: Calibrate " \
                   "neutral (N) again"
        return note

    def starting(self, spec):
        """Source `spec` is starting: a countdown on the old one ends."""
        self.stop()
        self._source = source_label(spec)

    def measure(self):
        """Start measuring the face the panel shows (the selected or the largest) in
        the picture shown; at once from its reading when the picture is still."""
        result = self._shown
        det = self.panel.shown_face(result.detections) if result is not None else None
        # (no result: no face, which _can_measure says)
        if not self._can_measure(det) or result is None:
            return
        which = "selected" if self.panel.is_selected(det) else "largest"
        if self.review_control.still:
            self._set(det.track_id, which, [det.raw_probabilities], result, self._source,
                      "this picture's reading", sequence=False)
            return
        self._countdown = {"track": det.track_id, "epoch": result.track_epoch,
                           "which": which, "readings": [], "source": self._source,
                           "ends": time.monotonic() + NEUTRAL_SECONDS, "shown": None}
        self._timer.start()
        self._tick()

    def _can_measure(self, det: Detection | None) -> TypeGuard[Detection]:
        """Whether face `det` can be measured now; if not, says why."""
        if self.counting:
            self.message.emit("Already calibrating: keep a neutral face", False)
        elif det is None or det.held:
            self.message.emit("Calibrate neutral: no face in the picture; start a camera "
                              "and look into it", True)
        elif det.label not in EMOTIONS:
            self.message.emit(NEEDS_MODEL, True)
        elif self.reference is None:
            self.message.emit(self.why_none if self.why_none == NEEDS_MODEL
                              else f"Calibrate neutral: {self.why_none}", True)
        else:
            return True
        return False

    def feed(self, result):
        """A frame shown: while counting down, its face's reading (uncorrected)."""
        self._shown = result
        n = self._countdown
        if n is None:
            return
        n["last"] = result
        det = next((d for d in result.detections if d.track_id == n["track"]), None) \
            if result.track_epoch == n["epoch"] else None    # ids start again on a reset
        if det is None:
            self.stop()
            self.message.emit("Calibration stopped: the face was lost. Calibrate neutral "
                              "(N) again while the face is in view.", True)
        elif not det.held and det.raw_probabilities:   # held: an old reading, shown again
            n["readings"].append(det.raw_probabilities)

    def clear(self):
        """Read every face as the model does again (the user asked)."""
        if self.record is None:
            return
        self._forget()
        self.message.emit("Neutral calibration cleared: faces are read as the model "
                          "reads them", False)

    def stop(self):
        """End the countdown (if any); what it collected, or None."""
        n, self._countdown = self._countdown, None
        self._timer.stop()
        if n is not None:
            self.prompt.emit("")
        return n

    def _tick(self):
        n = self._countdown
        if n is None:
            return
        left = n["ends"] - time.monotonic()
        if left <= 0:
            self._finish()
            return
        second = math.ceil(left)
        if second != n["shown"]:
            n["shown"] = second
            self.prompt.emit(f"Keep a neutral face… {second}")
            self.message.emit(f"Calibrating the {n['which']} face: keep a neutral face "
                              f"for {second} s more", False)

    def _finish(self):
        n = self.stop()
        got = len(n["readings"])
        if got < NEUTRAL_MIN_READINGS:
            self.message.emit(f"Calibration not done: the face was read only {got} times "
                              f"in {NEUTRAL_SECONDS:g} s (at least {NEUTRAL_MIN_READINGS} "
                              "needed). Calibrate neutral (N) again.", True)
            return
        self._set(n["track"], n["which"], n["readings"], n.get("last"), n["source"],
                  f"{got} readings", sequence=True)

    def _set(self, track, which, readings, result, source, measured: str, sequence: bool):
        if self.reference is None:      # the model was replaced meanwhile by one without
            self.message.emit(f"Calibration not done: {self.why_none}", True)
            return
        try:      # a smile, a face that talks: not a resting face (app.core.neutral_check)
            offset = checked_offset(readings, self.reference, sequence)
        except NotNeutral as exc:
            self.message.emit(f"Calibration not done: {exc}.", True)
            log.info("neutral baseline refused: %s", exc)
            return
        self.apply.emit(offset, track)
        t = None if result is None else result.time
        self.record = {
            "track": int(track),
            "since": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "source": source,
            "source_time_s": None if t is None else round(t, 3),
            "readings": len(readings),
            "offset": [round(float(v), 4) for v in offset]}
        self.changed.emit(True)
        self.message.emit(f"The {which} face is calibrated (from {measured}): its "
                          "emotions are read with this person's own neutral taken out. "
                          "Clear neutral calibration (Shift+N) undoes it.", False)
        log.info("neutral baseline set on face %d from %d reading(s)", track, len(readings))

    def _forget(self):
        self.record = None
        self.changed.emit(False)
        self.apply.emit(None, None)
