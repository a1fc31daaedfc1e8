"""Recording a session from the window: the frames shown, written off the GUI thread.

A recording is a folder with the same files `process` writes, by the same code
(`app.io.results.ResultFiles`, then `app.report`): the annotated video, detections.csv,
summary.json, timeline.png and report.html, and markers.csv (the markers added while
it ran). The writer is a
worker QObject in its own QThread (the pattern of the Qt for Python examples): frames
and markers go in by queued signals (in order), news comes out by signals, and the
GUI thread never touches the files. If the disk is slower than
the camera, frames beyond `MAX_PENDING` are not recorded (in no file, so the files
stay consistent) and the window says so instead of freezing.
"""

import datetime as dt
import logging
import threading
import time
from pathlib import Path

from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from app.report import try_write_report
from app.io.results import ResultFiles

log = logging.getLogger(__name__)

MAX_PENDING = 30        # frames waiting for the disk before new ones are skipped
FINISH_TIMEOUT = 15.0   # s to finalise the files and the report when the window closes


def session_folder(root, when: dt.datetime | None = None) -> Path:
    """A new folder name for a recording under `root` (not created here)."""
    when = when or dt.datetime.now()
    base = Path(root).expanduser() / f"session_{when:%Y%m%d_%H%M%S}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}_{n}")
    return path


class RecorderWorker(QObject):
    """Owns the ResultFiles of one recording; lives in the recorder's thread."""

    saved = pyqtSignal(str, object)     # the folder, the summary
    failed = pyqtSignal(str)            # why the files could not be written

    def __init__(self, folder: Path, name: str, fps: float | None, input_name: str,
                 extra: dict | None = None):
        super().__init__()
        self.folder, self.name, self.fps, self.input_name = folder, name, fps, input_name
        self.extra = extra         # more summary fields: the model and settings in use
        self.files = None
        self.pending = 0
        self.lock = threading.Lock()
        self._error = None
        self._start = time.perf_counter()

    @pyqtSlot()
    def open(self):
        try:
            self.files = ResultFiles(self.folder, self.name, self.fps, video=True,
                                     markers=True)
        except OSError as exc:
            self._error = f"cannot record into {self.folder}: {exc.strerror or exc}"
            self.failed.emit(self._error)

    @pyqtSlot(object, object, object)
    def add(self, annotated, detections, t):
        try:
            if self.files is not None and self._error is None:
                self.files.add(annotated, detections, t)
        except OSError as exc:              # disk full, folder removed, ...
            self._error = f"recording stopped: cannot write to {self.folder} " \
                          f"({exc.strerror or exc})"
            self.failed.emit(self._error)
        finally:
            with self.lock:
                self.pending -= 1

    @pyqtSlot(object, object, int, str)
    def mark(self, t, frame, number, text):
        """A marker, in order with the frames (the same queue): kept for markers.csv,
        written with the other files when the recording is finished."""
        if self.files is not None and self._error is None:
            self.files.add_marker(t, number, text, frame=frame)

    @pyqtSlot(object, object)
    def finish(self, stopped, extra=None):
        """Finalise the files (playable and consistent whatever stopped the recording);
        `extra`: summary fields known only now (those given at the start come first)."""
        if self.files is not None:
            try:
                summary = self.files.close(self.input_name, time.perf_counter() - self._start,
                                           self._error or stopped,
                                           extra={**(extra or {}), **(self.extra or {})})
                try_write_report(self.folder)     # here too, off the GUI thread
                self.saved.emit(str(self.folder), summary)
            except OSError as exc:
                self.failed.emit(f"recording not finished in {self.folder}: "
                                 f"{exc.strerror or exc}")
        self.thread().quit()


class Recorder(QObject):
    """The GUI side: start, feed frames, stop. One recording at a time."""

    saved = pyqtSignal(str, object)
    failed = pyqtSignal(str)
    _frame = pyqtSignal(object, object, object)
    _marker = pyqtSignal(object, object, int, str)
    _finish = pyqtSignal(object, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.worker: RecorderWorker | None = None
        self.thread: QThread | None = None
        self.folder: Path | None = None
        self.started_at = 0.0
        self.frames = 0
        self.skipped = 0
        self._finishing: list = []

    @property
    def active(self) -> bool:
        return self.worker is not None

    def start(self, root, name: str, fps: float | None, input_name: str,
              extra: dict | None = None) -> Path:
        """Record into a new session folder under `root`; returns that folder. `extra`:
        more fields for its summary.json (app.report.run_info.describe_run)."""
        self.stop()
        self.folder = session_folder(root)
        self.worker = RecorderWorker(self.folder, name, fps, input_name, extra)
        self.thread = QThread()
        self.thread.setObjectName("recorder")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.open)
        self.worker.saved.connect(self.saved)
        self.worker.failed.connect(self.failed)
        self._frame.connect(self.worker.add)
        self._marker.connect(self.worker.mark)
        self._finish.connect(self.worker.finish)
        self.started_at, self.frames, self.skipped = time.monotonic(), 0, 0
        self.thread.start()
        return self.folder

    def add(self, annotated, detections, t) -> bool:
        """Queue one frame; False (and counted) when the disk is too far behind."""
        worker = self.worker
        if worker is None:
            return False
        with worker.lock:
            if worker.pending >= MAX_PENDING:
                self.skipped += 1
                return False
            worker.pending += 1
        self.frames += 1
        self._frame.emit(annotated, detections, t)
        return True

    @property
    def last_frame(self) -> int | None:
        """The recording's number (detections.csv's frame) of the last frame queued;
        None before the first."""
        return self.frames - 1 if self.active and self.frames else None

    def marker(self, t: float, number: int, text: str, frame: int | None) -> bool:
        """Queue a marker at `t` s of the source on the recording's `frame` for
        markers.csv; False when nothing is being recorded."""
        if self.worker is None:
            return False
        self._marker.emit(t, frame, int(number), str(text))
        return True

    def stop(self, stopped=None, wait: float = 0.0, extra: dict | None = None) -> bool:
        """Finalise the recording; `wait` s for the files (at close). True when done.
        `extra`: summary fields (as `start`'s) for a recording started without them."""
        if self.worker is None:
            return True
        worker, thread = self.worker, self.thread
        self._frame.disconnect(worker.add)
        self._marker.disconnect(worker.mark)
        self._finish.emit(stopped, extra)
        self._finish.disconnect(worker.finish)
        self.worker = None
        done = thread.wait(int(wait * 1000)) if wait else False
        if wait and not done:
            log.warning("the recording in %s is still being written", self.folder)
        # keep the finishing ones alive: a running QThread must never be destroyed
        self._finishing = [(w, t) for w, t in self._finishing if not t.isFinished()]
        self._finishing.append((worker, thread))
        return done

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started_at if self.active else 0.0
