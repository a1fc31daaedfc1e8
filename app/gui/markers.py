"""Markers: keys 1..9 add a numbered one, Add marker… one with a short text.

A marker (one app.nouns.Marker from here to every file and feed) names the moment
shown (the frame's number and its time in the source, as captured) and goes into
the recording's markers.csv (directly to the recorder, which keeps it in order
with the frames); the rest hear of it by `added`: the side
panel's timeline, the live feeds (through the engine's processing thread) and the
next snapshots (`last`).
"""

import logging
from dataclasses import replace

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import QInputDialog

from app.nouns import Marker

log = logging.getLogger(__name__)

MARKER_KEYS = range(1, 10)     # keys 1..9 add a numbered marker
MARKER_TEXT_LENGTH = 80        # the most characters of a marker's text


class Markers(QObject):
    """The markers of the running source; `recorder`: the window's Recorder. It hears
    the results shown (`shown`) and the source starting (`reset`): a marker is at
    the picture shown."""

    added = pyqtSignal(object, object)   # the Marker, the Frame it marks
    message = pyqtSignal(str, bool)      # text, whether it is an error

    def __init__(self, recorder, parent=None):
        super().__init__(parent)
        self.recorder = recorder
        self.last: Marker | None = None  # the last marker of this source; None before one
        self._shown = None               # the last result shown
        self._spec = None                # the source it is from

    def reset(self, spec=None):
        """Source `spec` is starting: no marker yet."""
        self.last = None
        self._spec = spec

    def shown(self, result):
        self._shown = result

    def moment(self):
        """What a marker added now refers to: the result shown, the recording's number
        for the last frame queued, and the recording's folder."""
        active = self.recorder.active
        return (self._shown, self.recorder.last_frame if active else None,
                self.recorder.folder if active else None)

    def add(self, number: int, text: str = "", moment=None) -> Marker | None:
        """Mark `moment` (see `moment`; now when None) with `number` (0 for a text
        only) and `text`. Returns the marker, or None when nothing is shown."""
        result, rec_frame, rec_folder = moment or self.moment()
        if result is None:
            self.message.emit("Nothing to mark yet: no picture", True)
            return None
        frame = result.frame
        t = frame.time                   # None: a separate photo has no time
        marker = Marker.now(frame, number, text)
        self.last = marker
        recorded = ""
        if self.recorder.active and self.recorder.folder == rec_folder:
            self.recorder.marker(replace(marker, frame=rec_frame))
            recorded = " (recorded)"
        self.added.emit(marker, frame)
        name = f"Marker {number}" if number else f"Marker \"{text}\""
        where = f"photo {frame.number}" if t is None else f"{t:.1f} s"
        self.message.emit(f"{name} at {where}{recorded}", False)
        log.info("marker %d %r at %s: frame %d of the source%s", number, text,
                 "no time" if t is None else f"{t:.3f} s", frame.number,
                 "" if not recorded else f", frame {rec_frame} of the recording")
        return marker

    def ask_text(self, parent) -> Marker | None:
        """Add marker…: asks for a short text; the marker is at the moment asked (the
        picture goes on meanwhile: the dialog runs its own event loop), refused for a
        source left meanwhile."""
        moment = self.moment()
        if moment[0] is None:
            self.message.emit("Nothing to mark yet: no picture", True)
            return None
        spec = self._spec
        text, ok = QInputDialog.getText(parent, "Add marker", "A short text for this moment:")
        text = " ".join(text.split())[:MARKER_TEXT_LENGTH]
        if not ok or not text:
            return None
        if self._spec != spec:
            self.message.emit("Marker not added: the source changed meanwhile", True)
            return None
        return self.add(0, text, moment)
