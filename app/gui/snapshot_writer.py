"""Saving snapshots off the GUI thread: a large photo takes seconds to encode.

A worker QObject in its own QThread (the pattern of the Qt for Python examples):
the window sends a request by a queued signal and hears back by `saved` or
`failed`; a failed request comes back whole, so the picture is kept for another
folder.
"""

import datetime as dt
import logging
from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal, pyqtSlot
from PyQt5.QtWidgets import QFileDialog

from app.gui.source_control import source_label
from app.gui.threads import start_worker, stop_thread
from app.io.snapshot import SnapshotError, save_snapshot

log = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0   # s to finish a snapshot in progress when the window closes


class SnapshotWorker(QObject):
    saved = pyqtSignal(object, object)     # request, Snapshot paths
    failed = pyqtSignal(object, str)       # request, the reason

    @pyqtSlot(object)
    def save(self, request: dict):
        try:
            paths = save_snapshot(**request)
        except SnapshotError as exc:
            self.failed.emit(request, str(exc))
            return
        self.saved.emit(request, paths)


class SnapshotWriter(QObject):
    """The window's handle: `take()` queues a snapshot of the result shown (heard by
    `shown`) into `folder`, with the source (heard by `starting`), `baseline`'s record
    (app.gui.baseline) and the last of `markers` (app.gui.markers); news arrives as
    `saved(request, paths)` / `failed(request, reason)` and as a line for the status
    bar (`message`). A failed request is kept (`unsaved`) and saved into the next
    folder chosen (`set_folder`)."""

    saved = pyqtSignal(object, object)
    failed = pyqtSignal(object, str)
    message = pyqtSignal(str, bool)          # text, whether it is an error
    folderChanged = pyqtSignal(str)          # another folder was chosen (to remember)
    _request = pyqtSignal(object)

    def __init__(self, folder, baseline, markers, parent=None):
        super().__init__(parent)
        self.folder = Path(folder)
        self.baseline, self.markers = baseline, markers
        self._shown = None                   # the last result shown
        self._source = source_label(None)    # how the running source is named
        self.last = None                     # the paths of the last snapshot saved
        self.unsaved = None                  # the request of a snapshot that failed
        self.worker = SnapshotWorker()
        self._request.connect(self.worker.save)
        self.worker.saved.connect(self._on_saved)
        self.worker.failed.connect(self._on_failed)
        self.worker_thread = start_worker(self.worker, "snapshots")

    def starting(self, spec):
        self._source = source_label(spec)

    def shown(self, result):
        self._shown = result

    def take(self) -> bool:
        """Save the result shown (False: nothing yet) with what is known of it: the
        source, its frame's number and time, the neutral baseline and the last marker."""
        result = self._shown
        if result is None:
            self.message.emit("Nothing to save yet: no picture", True)
            return False
        self.save(folder=self.folder, raw=result.raw, annotated=result.annotated,
                  detections=result.detections, source=self._source,
                  when=dt.datetime.now().astimezone(), frame_number=result.number,
                  source_time=result.time, calibration=self.baseline.record,
                  marker=self.markers.last)
        self.message.emit("Saving the snapshot…", False)
        return True

    def choose_folder(self, parent):
        """Ask for another folder (Snapshot folder…)."""
        folder = QFileDialog.getExistingDirectory(parent, "Snapshot folder", str(self.folder))
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder):
        """Save into `folder` from now on; a snapshot that failed before is saved there."""
        self.folder = Path(folder)
        self.folderChanged.emit(str(self.folder))
        self.message.emit(f"Snapshots go to {self.folder}", False)
        if self.unsaved is not None:
            self.save(**{**self.unsaved, "folder": self.folder})

    def save(self, **request):
        """Queue one snapshot (save_snapshot's arguments)."""
        self._request.emit(request)

    def _on_saved(self, request, paths):
        self.unsaved = None
        self.last = paths
        self.message.emit(f"Snapshot saved: {paths.annotated} (+ raw frame and .json)", False)
        self.saved.emit(request, paths)

    def _on_failed(self, request, reason):
        self.unsaved = request
        self.message.emit(f"Snapshot not saved: {reason}. It is kept: choose another "
                          "folder (Ctrl+Shift+S) to save it there.", True)
        log.warning("snapshot not saved: %s", reason)
        self.failed.emit(request, reason)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Finish the queued snapshots (up to `timeout` s), then end the thread."""
        return stop_thread(self.worker_thread, self.worker, timeout, "the snapshot writer")
