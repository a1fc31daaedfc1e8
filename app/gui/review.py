"""Reviewing a file in the window: pause, seek, loop and the photo steps, and what
the running source is (its "started" news).

It drives the engine and the review bar under the picture, tells the recorder when
the video is paused (no frames come then), and says by `message` where the
picture is after a seek or a photo step while paused.
"""

from PyQt5.QtCore import QObject, pyqtSignal


def timeline_mode(info: dict) -> str:
    """The side panel timeline's mode for a source's "started" news: "camera",
    "video" (a file with a frame rate) or "photos" (a folder of photos, an image)."""
    if info.get("live"):
        return "camera"
    if info.get("photos") or not info.get("fps"):
        return "photos" if info.get("photos") or (info.get("frames") or 0) <= 1 \
            else "camera"
    return "video"


class ReviewControl(QObject):
    """Pause, seek and loop of the running source; `info`: its "started" news (name,
    live, fps, frames, photos), {} until it came."""

    message = pyqtSignal(str)

    def __init__(self, engine, review, actions, panel, recorder, parent=None):
        super().__init__(parent)
        self.engine, self.review, self.acts = engine, review, actions
        self.panel, self.recorder = panel, recorder
        self.info: dict = {}
        self._step_to = None             # the number of the frame a seek asked for
        review.seekRequested.connect(self.seek)
        review.pauseRequested.connect(actions.pause.setChecked)
        review.loopRequested.connect(actions.loop.setChecked)

    def reset(self):
        """Another source is opening."""
        self.info = {}
        self._step_to = None

    def started(self, info: dict):
        """The source opened: the review bar for a file, the timeline's mode."""
        self.info = dict(info)
        self.panel.reset(timeline_mode(info))
        if info.get("live"):
            self.review.hide()
            return
        self.acts.pause.setChecked(False)
        self.review.show_for(info.get("frames"), info.get("fps"), info.get("photos", False),
                             self.acts.loop.isChecked())

    @property
    def paused(self) -> bool:
        return self.acts.pause.isChecked()

    @property
    def still(self) -> bool:
        """No new frames come: a still image, a stopped or paused video, a photo."""
        return (not self.engine.running or self.acts.pause.isChecked()
                or bool(self.info.get("photos")))

    def seek(self, index: int):
        """Show frame (or picture) `index` of the file playing; a video's timeline
        restarts (photos keep theirs: a column per photo shown)."""
        if self.engine.running and not self.info.get("live"):
            if self.panel.timeline.mode != "photos":
                self.panel.timeline.clear()
            self._step_to = index + 1        # frames are numbered from 1
            self.engine.seek(index)

    def set_paused(self, on: bool):
        if on and (self.info.get("live") or self.info.get("photos")):
            self.acts.pause.setChecked(False)   # a camera cannot pause; photos wait anyway
            return
        self.engine.pause(on)
        self.recorder.set_paused(on)
        self.review.play.blockSignals(True)
        self.review.play.setChecked(on)
        self.review.play.blockSignals(False)
        self.message.emit(f"Paused at {self.review.position_text()}" if on else
                          f"Playing {self.info.get('name', '')}")

    def set_loop(self, on: bool):
        self.engine.set_loop(on)
        self.review.loop.blockSignals(True)
        self.review.loop.setChecked(on)
        self.review.loop.blockSignals(False)

    def shown(self, result):
        """A picture is shown: after a seek or a photo step while paused, say where."""
        if self._step_to is None or result.number != self._step_to:
            return
        self._step_to = None
        where = self.review.position_text(result.number - 1)
        if self.info.get("photos"):
            self.message.emit(f"Photo {where} of {self.info.get('name')}")
        elif self.acts.pause.isChecked():
            self.message.emit(f"Paused at {where}")

    def camera_size_news(self, result) -> str | None:
        """The first frame of a camera: the size it really gives, to be said."""
        if not self.info.get("live") or "size" in self.info:
            return None
        h, w = result.raw.shape[:2]
        self.info["size"] = (w, h)
        return f"Showing {self.info.get('name')} at {w}x{h}"
