"""Reviewing a file in the window: pause, seek, loop and the photo steps, and what
the running source is (its "started" news).

It drives the engine and the review bar under the picture, tells the recorder when
the video is paused (no frames come then), says by `seeked` that the source jumped
(the side panel's timeline starts afresh), and by `message` where the picture is
after a seek or a photo step while paused, and what size a camera really gives.
"""

from PyQt5.QtCore import QObject, pyqtSignal

from app.nouns import SourceInfo


class ReviewControl(QObject):
    """Pause, seek and loop of the running source; `info`: its "started" news (a
    `SourceInfo`), None until it came; `bar`: the ReviewBar it drives."""

    message = pyqtSignal(str)
    seeked = pyqtSignal()

    def __init__(self, engine, bar, actions, recorder, parent=None):
        super().__init__(parent)
        self.engine, self.bar, self.acts = engine, bar, actions
        self.recorder = recorder
        self.info: SourceInfo | None = None
        self._step_to = None             # the number of the frame a seek asked for
        self._size_said = False          # a camera's real size, told once
        bar.seekRequested.connect(self.seek)
        bar.pauseRequested.connect(actions.pause.setChecked)
        bar.loopRequested.connect(actions.loop.setChecked)

    def reset(self):
        """Another source is opening."""
        self.info = None
        self._step_to = None
        self._size_said = False

    def started(self, info: SourceInfo):
        """The source opened: the review bar for a file."""
        self.info, self._size_said = info, False
        if info["live"]:
            self.bar.hide()
            return
        self.acts.pause.setChecked(False)
        self.bar.show_for(info["frames"], info["fps"], info["photos"],
                          self.acts.loop.isChecked())

    @property
    def paused(self) -> bool:
        return self.acts.pause.isChecked()

    @property
    def still(self) -> bool:
        """No new frames come: a still image, a stopped or paused video, a photo."""
        return (not self.engine.running or self.acts.pause.isChecked()
                or bool(self.info and self.info["photos"]))

    def seek(self, index: int):
        """Show frame (or picture) `index` of the file playing."""
        if self.engine.running and not (self.info and self.info["live"]):
            self.seeked.emit()
            self._step_to = index + 1        # frames are numbered from 1
            self.engine.seek(index)

    def set_paused(self, on: bool):
        if on and self.info and (self.info["live"] or self.info["photos"]):
            self.acts.pause.setChecked(False)   # a camera cannot pause; photos wait anyway
            return
        self.engine.pause(on)
        self.recorder.set_paused(on)
        self.bar.show_paused(on)
        self.message.emit(f"Paused at {self.bar.position_text()}" if on else
                          f"Playing {self.info['name'] if self.info else ''}")

    def set_loop(self, on: bool):
        self.engine.set_loop(on)
        self.bar.show_loop(on)

    def shown(self, result):
        """A picture is shown: a camera's first says its size; after a seek or a photo
        step while paused, say where."""
        self._say_camera_size(result)
        if self._step_to is None or result.number != self._step_to:
            return
        self._step_to = None
        where = self.bar.position_text(result.number - 1)
        if self.info and self.info["photos"]:
            self.message.emit(f"Photo {where} of {self.info['name']}")
        elif self.acts.pause.isChecked():
            self.message.emit(f"Paused at {where}")

    def _say_camera_size(self, result):
        """The first frame of a camera: the size it really gives."""
        if not self.info or not self.info["live"] or self._size_said:
            return
        h, w = result.raw.shape[:2]
        self._size_said = True
        self.message.emit(f"Showing {self.info['name']} at {w}x{h}")
