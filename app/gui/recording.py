"""The Record action: start and stop recording the running source (app.gui.recorder
writes the files), and what the window says of it."""

from PyQt5.QtCore import QObject, pyqtSignal


class RecordControl(QObject):
    """Drives `recorder` from the Record action (`action`); `playback` (ReviewControl)
    says what the source is and whether it is paused. `last`: (folder, summary) of the
    last recording saved (read by what drives the window from outside, the tests)."""

    message = pyqtSignal(str, bool)          # text, whether it is an error

    def __init__(self, recorder, action, engine, playback, parent=None):
        super().__init__(parent)
        self.recorder, self.action, self.engine, self.playback = \
            recorder, action, engine, playback
        self.last = None
        recorder.saved.connect(self._on_saved)
        recorder.failed.connect(self._on_failed)
        recorder.renamed.connect(lambda folder: self.message.emit(
            f"Recording into {folder}", False))

    def start(self, root, input_name: str):
        """Record into a new folder under `root` (the Record action turned on)."""
        if self.recorder.active:
            return
        info = self.playback.info
        if not self.engine.running or not info:
            self.action.setChecked(False)
            self.message.emit("Nothing to record: start a camera or a video first", True)
            return
        folder = self.recorder.start(root, info.get("name") or "session", info.get("fps"),
                                     input_name, self.engine.run_info())
        self.recorder.set_paused(self.playback.paused)
        self.message.emit(f"Recording into {folder}", False)

    def stop(self, stopped=None, wait: float = 0.0):
        """Finalise the recording (`stopped`: why, if it failed); the action off."""
        if self.recorder.active:
            self.recorder.stop(stopped, wait, self.engine.run_info())
        if self.action.isChecked():
            self.action.blockSignals(True)
            self.action.setChecked(False)
            self.action.blockSignals(False)

    def _on_saved(self, folder, summary):
        self.last = (folder, summary)
        skipped = self.recorder.skipped
        note = f"; {skipped} frames not recorded (the disk was too slow)" if skipped else ""
        self.message.emit(f"Recording saved in {folder}: {summary['frames']} frames, "
                          f"{summary['faces']} faces{note}", False)

    def _on_failed(self, message):
        self.stop(message)
        self.message.emit(message, True)
