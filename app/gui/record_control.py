"""The Record action: start and stop recording the running source (app.gui.recorder
writes the files), and what the window says of it."""

from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from app.gui.source_control import source_label


class RecordControl(QObject):
    """Drives `recorder` (app.gui.recorder.Recorder: the files) from the Record action
    (`action`); `review_control` (ReviewControl) says what the source is and whether
    it is paused. Recordings go into `record_dir` (--record: every source is recorded
    from its start), else into the folder of `snapshots` (app.gui.snapshot_writer).
    `last`: (folder, summary) of the last recording saved (read by what drives the
    window from outside, the tests)."""

    message = pyqtSignal(str, bool)          # text, whether it is an error

    def __init__(self, recorder, action, engine, review_control, snapshots,
                 record_dir=None, parent=None):
        super().__init__(parent)
        self.recorder, self.action, self.engine, self.review_control = \
            recorder, action, engine, review_control
        self.snapshots = snapshots
        self.record_dir = Path(record_dir) if record_dir else None
        self._source = source_label(None)    # how the running source is named
        self.last = None
        recorder.saved.connect(self._on_saved)
        recorder.failed.connect(self._on_failed)
        recorder.renamed.connect(lambda folder: self.message.emit(
            f"Recording into {folder}", False))

    def set_recording(self, on: bool):
        """The Record action turned on or off."""
        if on:
            self.start()
        else:
            self.stop()

    def starting(self, spec):
        """Source `spec` is starting: a recording of the old one ends."""
        self.stop()
        self._source = source_label(spec)

    def started(self, info):
        """--record: every source is recorded from its start."""
        if self.record_dir is not None and not self.recorder.active:
            self.action.setChecked(True)

    def start(self):
        """Record into a new folder (the Record action turned on)."""
        if self.recorder.active:
            return
        info = self.review_control.info
        if not self.engine.running or not info:
            self.action.setChecked(False)
            self.message.emit("Nothing to record: start a camera or a video first", True)
            return
        folder = self.recorder.start(self.record_dir or self.snapshots.folder,
                                     info.get("name") or "session", info.get("fps"),
                                     self._source, self.engine.run_info())
        self.recorder.set_paused(self.review_control.paused)
        self.message.emit(f"Recording into {folder}", False)

    def stop(self, stopped=None, wait: float = 0.0):
        """Finalise the recording (`stopped`: why, if it failed); the action off."""
        if self.recorder.active:
            self.recorder.stop(stopped, wait, self.engine.run_info())
        if self.action.isChecked():
            self.action.blockSignals(True)
            self.action.setChecked(False)
            self.action.blockSignals(False)

    def shown(self, result):
        """A result shown: recorded while a recording runs."""
        if self.recorder.active:
            self.recorder.add(result.annotated, result.detections, result.time, result.work_s)

    def _on_saved(self, folder, summary):
        self.last = (folder, summary)
        skipped = self.recorder.skipped
        note = f"; {skipped} frames not recorded (the disk was too slow)" if skipped else ""
        self.message.emit(f"Recording saved in {folder}: {summary['frames']} frames, "
                          f"{summary['faces']} faces{note}", False)

    def _on_failed(self, message):
        self.stop(message)
        self.message.emit(message, True)
