"""Saving snapshots off the GUI thread: a large photo takes seconds to encode.

A worker QObject in its own QThread (the pattern of the Qt for Python examples):
the window sends a request by a queued signal and hears back by `saved` or
`failed`; a failed request comes back whole, so the picture is kept for another
folder.
"""

import logging

from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

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
    """The window's handle: `save(**request)` queues one snapshot (save_snapshot's
    arguments); news arrives as `saved(request, paths)` / `failed(request, reason)`."""

    saved = pyqtSignal(object, object)
    failed = pyqtSignal(object, str)
    _request = pyqtSignal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName("snapshots")
        self.worker = SnapshotWorker()
        self.worker.moveToThread(self.thread)
        self._request.connect(self.worker.save)
        self.worker.saved.connect(self.saved)
        self.worker.failed.connect(self.failed)
        self.thread.start()

    def save(self, **request):
        self._request.emit(request)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Finish the queued snapshots (up to `timeout` s), then end the thread."""
        self.thread.quit()
        done = self.thread.wait(int(timeout * 1000))
        if not done:
            log.warning("a snapshot is still being written")
        return done
