"""What the window changes while frames are processed (`LiveOptions`): read by the
processing worker before each frame, behind one lock.

The processing worker runs a loop (it waits on the frame mailbox), so queued slots
would not reach it; this small locked object does, and also hands over what must
reach the pipeline in that thread: a newly loaded pipeline, a person's neutral
baseline, and the markers for the live feeds (sent from the thread that sends the
frames, so the two stay in order).
"""

import threading
from dataclasses import dataclass

from app.core.config import DEFAULTS


@dataclass(frozen=True)
class LiveValues:
    """The options as they stand; frozen, so a snapshot taken under the lock stays one."""

    smoothing: bool = DEFAULTS.smoothing
    sensitivity: float = DEFAULTS.sensitivity
    mirror: bool = False


class LiveOptions:
    """Options (`LiveValues`) and three hand-overs, behind one lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values = LiveValues()
        self._pipeline = None          # a newly loaded pipeline waiting to be used
        self._baseline = None          # (offset, track id) waiting; offset None: clear
        self._markers: list = []       # the Markers waiting for the feeds

    def update(self, smoothing: bool | None = None, sensitivity: float | None = None,
               mirror: bool | None = None):
        """Change the options given (None: leave it as it is)."""
        with self._lock:
            now = self._values
            self._values = LiveValues(
                smoothing=now.smoothing if smoothing is None else smoothing,
                sensitivity=now.sensitivity if sensitivity is None else sensitivity,
                mirror=now.mirror if mirror is None else mirror)

    def current(self) -> LiveValues:
        with self._lock:
            return self._values

    def offer(self, pipeline):
        """The newest pipeline waits to be taken; one it replaces unused is closed."""
        with self._lock:
            replaced, self._pipeline = self._pipeline, pipeline
        if replaced is not None:
            replaced.close()

    def take_pipeline(self):
        with self._lock:
            pipeline, self._pipeline = self._pipeline, None
            return pipeline

    def ask_baseline(self, offset, track_id):
        """A person's neutral baseline for the pipeline; the newest ask wins."""
        with self._lock:
            self._baseline = (offset, track_id)

    def take_baseline(self):
        """(offset, track id) asked for since the last take, or None."""
        with self._lock:
            asked, self._baseline = self._baseline, None
            return asked

    def post_marker(self, marker):
        with self._lock:
            self._markers.append(marker)

    def take_markers(self) -> list:
        with self._lock:
            markers, self._markers = self._markers, []
            return markers
