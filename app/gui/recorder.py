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

What summary.json says of a recording, beside what `process` writes:
"processing" has the names `process` uses ("seconds", "fps", "ms_per_frame") for
the same thing, the work done on the frames recorded (processing each frame and
writing it), not the waits between them; "recording" has the recording's own wall
clock: "seconds" from start to stop, "paused_s" of that spent paused with the video
(no frame is recorded then) and "fps", the frames recorded per second while not
paused. "duration_s" (frames / fps) is what the video file holds.
"""

import datetime as dt
import logging
import threading
import time
from pathlib import Path

from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from app.gui.threads import start_worker
from app.io.frame_source import frame_rate
from app.io.results import ResultFiles
from app.report import try_write_report

log = logging.getLogger(__name__)

MAX_PENDING = 30        # frames waiting for the disk before new ones are skipped
FINISH_TIMEOUT = 15.0   # s to finalise the files and the report when the window closes


def session_folder(root, when: dt.datetime | None = None) -> Path:
    """The folder name for a recording started `when` under `root` (no disk access:
    the GUI thread names it; `create_session_folder` makes it, in the recorder's)."""
    when = when or dt.datetime.now()
    return Path(root).expanduser() / f"session_{when:%Y%m%d_%H%M%S}"


def create_session_folder(path: Path) -> Path:
    """Create `path`, or `path_2`, `path_3`... when taken (two recordings in one
    second): mkdir itself decides, so two writers can never share a folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, n = path, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            n += 1
            candidate = path.with_name(f"{path.name}_{n}")


class RecorderWorker(QObject):
    """Owns the ResultFiles of one recording; lives in the recorder's thread."""

    saved = pyqtSignal(str, object)     # the folder, the summary
    failed = pyqtSignal(str)            # why the files could not be written
    renamed = pyqtSignal(str)           # the folder it records into, when not the one named

    def __init__(self, folder: Path, name: str, fps: float | None, input_name: str,
                 extra: dict | None = None):
        super().__init__()
        self.folder, self.name, self.fps, self.input_name = folder, name, fps, input_name
        self.extra = extra         # more summary fields: the model and settings in use
        self.files: ResultFiles | None = None
        self.pending = 0
        self.lock = threading.Lock()
        self._error: str | None = None
        self._start = time.perf_counter()
        self._work = 0.0               # s spent on the recorded frames: processing + writing

    @pyqtSlot()
    def open(self):
        try:
            folder = create_session_folder(self.folder)
            if folder != self.folder:
                self.folder = folder
                self.renamed.emit(str(folder))
            self.files = ResultFiles(self.folder, self.name, self.fps, video=True,
                                     markers=True)
        except OSError as exc:
            self._error = f"cannot record into {self.folder}: {exc.strerror or exc}"
            self.failed.emit(self._error)

    @pyqtSlot(object, object, object, float)
    def add(self, annotated, detections, t, work_s):
        """One frame; `work_s`: the seconds its processing took."""
        try:
            if self.files is not None and self._error is None:
                started = time.perf_counter()
                self.files.add(annotated, detections, t)
                self._work += work_s + time.perf_counter() - started
        except OSError as exc:              # disk full, folder removed, ...
            self._error = f"recording stopped: cannot write to {self.folder} " \
                          f"({exc.strerror or exc})"
            self.failed.emit(self._error)
        finally:
            with self.lock:
                self.pending -= 1

    @pyqtSlot(object)
    def mark(self, marker):
        """A Marker, in order with the frames (the same queue): kept for markers.csv,
        written with the other files when the recording is finished."""
        if self.files is not None and self._error is None:
            self.files.add_marker(marker)

    @pyqtSlot(object, float, object)
    def finish(self, stopped, paused_s, extra=None):
        """Finalise the files (playable and consistent whatever stopped the recording);
        `paused_s`: how long of it the video was paused; `extra`: summary fields known
        only now (those given at the start come first)."""
        if self.files is not None:
            wall = time.perf_counter() - self._start
            playing = wall - paused_s
            recording = {"seconds": round(wall, 3), "paused_s": round(paused_s, 3),
                         "fps": round(self.files.frames / playing, 2) if playing > 0
                         else None}
            try:
                summary = self.files.close(self.input_name, self._work,
                                           self._error or stopped,
                                           extra={**(extra or {}), **(self.extra or {}),
                                                  "recording": recording})
                try_write_report(self.folder)     # here too, off the GUI thread
                self.saved.emit(str(self.folder), summary)
            except OSError as exc:
                self.failed.emit(f"recording not finished in {self.folder}: "
                                 f"{exc.strerror or exc}")
        thread = self.thread()
        if thread is not None:      # (it is moved to the recorder's thread first)
            thread.quit()


class Recorder(QObject):
    """The GUI side: start, feed frames, stop. One recording at a time."""

    saved = pyqtSignal(str, object)
    failed = pyqtSignal(str)
    renamed = pyqtSignal(str)           # the folder, when the one `start` named was taken
    _frame = pyqtSignal(object, object, object, float)
    _marker = pyqtSignal(object)
    _finish = pyqtSignal(object, float, object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.worker: RecorderWorker | None = None
        self.worker_thread: QThread | None = None
        self.folder: Path | None = None
        self.fps = frame_rate(None)    # the video's rate (as ResultFiles' when it starts)
        self.frames = 0
        self.skipped = 0
        self._paused_since: float | None = None
        self._paused_s = 0.0
        self._finishing: list = []

    @property
    def active(self) -> bool:
        return self.worker is not None

    def start(self, root, name: str, fps: float | None, input_name: str,
              extra: dict | None = None) -> Path:
        """Record into a new session folder under `root`; returns that folder. `extra`:
        more fields for its summary.json (app.core.run_info.describe_run)."""
        self.stop()
        self.folder = session_folder(root)
        self.worker = RecorderWorker(self.folder, name, fps, input_name, extra)
        self.worker.saved.connect(self.saved)
        self.worker.failed.connect(self.failed)
        self.worker.renamed.connect(self._on_renamed)
        self._frame.connect(self.worker.add)
        self._marker.connect(self.worker.mark)
        self._finish.connect(self.worker.finish)
        self.fps, self.frames, self.skipped = frame_rate(fps), 0, 0
        self._paused_since, self._paused_s = None, 0.0
        self.worker_thread = start_worker(self.worker, "recorder", self.worker.open)
        return self.folder

    def _on_renamed(self, folder: str):
        if self.worker is not None:
            self.folder = Path(folder)
            self.renamed.emit(folder)

    def set_paused(self, on: bool):
        """The video was paused (no frames come) or plays again: the recording's
        paused time, for its summary."""
        now = time.monotonic()
        if on and self._paused_since is None:
            self._paused_since = now
        elif not on and self._paused_since is not None:
            self._paused_s += now - self._paused_since
            self._paused_since = None

    @property
    def paused(self) -> bool:
        return self.active and self._paused_since is not None

    def add(self, annotated, detections, t, work_s: float = 0.0) -> bool:
        """Queue one frame (`work_s`: what processing it took); False (and counted)
        when the disk is too far behind."""
        worker = self.worker
        if worker is None:
            return False
        with worker.lock:
            if worker.pending >= MAX_PENDING:
                self.skipped += 1
                return False
            worker.pending += 1
        self.frames += 1
        self._frame.emit(annotated, detections, t, float(work_s))
        return True

    @property
    def last_frame(self) -> int | None:
        """The recording's number (detections.csv's frame) of the last frame queued;
        None before the first."""
        return self.frames - 1 if self.active and self.frames else None

    def marker(self, marker) -> bool:
        """Queue a Marker for markers.csv, its `frame` the recording's (None: the last
        one written); False when nothing is being recorded."""
        if self.worker is None:
            return False
        self._marker.emit(marker)
        return True

    def stop(self, stopped=None, wait: float = 0.0, extra: dict | None = None) -> bool:
        """Finalise the recording; `wait` s for the files (at close). True when done.
        `extra`: summary fields (as `start`'s) for a recording started without them."""
        if self.worker is None:
            return True
        worker, thread = self.worker, self.worker_thread
        self.set_paused(False)
        self._frame.disconnect(worker.add)
        self._marker.disconnect(worker.mark)
        self._finish.emit(stopped, self._paused_s, extra)
        self._finish.disconnect(worker.finish)
        self.worker = None
        done = thread.wait(int(wait * 1000)) if wait and thread is not None else False
        if wait and not done:
            log.warning("the recording in %s is still being written", self.folder)
        # keep the finishing ones alive: a running QThread must never be destroyed
        self._finishing = [(w, t) for w, t in self._finishing if not t.isFinished()]
        self._finishing.append((worker, thread))
        return done

    @property
    def length_s(self) -> float:
        """How long the video recorded so far plays: the frames queued at its rate."""
        return self.frames / self.fps if self.active else 0.0
