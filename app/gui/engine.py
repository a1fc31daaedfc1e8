"""Capture, processing and model loading off the GUI thread: the `VideoEngine`.

    capture worker --(one-slot mailbox, newest frame wins)--> processing worker
    processing worker --(one-slot mailbox + signal)--> engine --(resultReady)--> window
    model loader --(loaded / failed)--> engine --(locked hand-over)--> processing
    processing worker --(each result, and the markers, from its thread)--> feeds

The workers are in `app.gui.workers`, the loader in `app.gui.loader`, their threads
started and stopped by `app.gui.threads`. The window talks to the engine only
through the methods and signals here: what it changes reaches the processing thread
through `LiveOptions`, what comes back arrives by signals in the GUI thread. Queues
are not used where they would hold stale work: the one-slot mailboxes drop stale
frames, and the generation tag on every message lets late news from a source the
user has already left be ignored.

Shutdown waits for the frame in flight (`FRAME_TIMEOUT`); see app.gui.threads.
"""

import logging
import time
from dataclasses import replace
from enum import Enum

from PyQt5.QtCore import QObject, Qt, QThread, pyqtSignal, pyqtSlot

from app.core.playback import SourceNews
from app.core.runstats import RateMeter
from app.gui.loader import ModelLoader
from app.gui.mailbox import Closed, LatestMailbox
from app.gui.options import LiveOptions
from app.gui.threads import start_worker, stop_thread
from app.gui.workers import CaptureWorker, ProcessingWorker
from app.io.sources import open_source

log = logging.getLogger(__name__)

STOP_TIMEOUT = 0.45     # s for the capture thread (a read, or the pause between frames)
FRAME_TIMEOUT = 5.0     # s for the frame in flight: milliseconds, but a .keras model is slow
LOADER_TIMEOUT = 0.45   # s for a model load at shutdown (it may be importing TensorFlow)


class _Given(Enum):
    """The pipeline processing was given: the model's, or the faces-only stand-in."""

    MODEL = "model"
    FACES = "faces"


class VideoEngine(QObject):
    """What the window drives: start/stop a source, options, the latest result.

    Signals arrive in the GUI thread. `sourceEvent(kind, payload)`, kind a
    `SourceNews`: STARTED (dict: name, live, fps, frames), STILL, ENDED, FAILED (message).
    `position(number)`: the number of the frame just read from the current source.
    `modelLoaded(path, neutral reference or None, why none)`: a model is in use.
    `feeds` (app.io.feeds.Feeds, or None): where the processing thread sends every
    frame's readings and the markers; closed by `shutdown`.
    """

    sourceEvent = pyqtSignal(object, object)
    position = pyqtSignal(int)
    resultReady = pyqtSignal(object)
    modelLoaded = pyqtSignal(str, object, str)
    modelFailed = pyqtSignal(str, bool)    # why; whether the previous model is kept
    processingFailed = pyqtSignal(str)
    _load = pyqtSignal(object, object)

    def __init__(self, model_path=None, opener=open_source, loop=False,
                 pipeline_factory=None, parent=None, feeds=None):
        super().__init__(parent)
        self._feeds = feeds
        self.opener = opener
        self.loop = loop
        self._camera_size: tuple[int, int] | None = None   # asked of cameras; None: theirs
        self.generation = 0
        self.capture_rate = RateMeter()
        self.frames = LatestMailbox()
        self.options = LiveOptions()
        self.capture: CaptureWorker | None = None
        self.capture_thread: QThread | None = None
        self._source_over = False      # its last news (ENDED, STILL, FAILED) came
        self.processing = ProcessingWorker(self.frames, self.options, feeds)
        self.processing.resultReady.connect(self._take_result)
        self.processing.pipelineChanged.connect(self.modelLoaded)
        self._run = None
        self.processing.runDescribed.connect(self._on_run_described)
        self.processing.processingFailed.connect(self.processingFailed)
        self.processing_thread = start_worker(self.processing, "processing",
                                              self.processing.run)
        self.loader = ModelLoader(pipeline_factory)
        # straight from the loader's thread to the locked hand-over (thread-safe): the
        # new model reaches processing even while the GUI thread is busy
        # PyQt5's stubs leave out connect's type
        self.loader.loaded.connect(self._offer,  # type: ignore[call-arg]
                                   Qt.ConnectionType.DirectConnection)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self._load.connect(self.loader.load)
        self.loader_thread = start_worker(self.loader, "model-loader")
        self.loading = 0               # loads asked for and not answered yet
        self._pipeline_kind: _Given | None = None     # what processing was given
        self._shut = False
        self.load_model(model_path)

    # ---- sources
    def start(self, spec):
        """Stop the current source and open `spec` (camera index or path)."""
        self.stop()
        self.generation += 1
        self._source_over = False
        self.capture_rate.reset()
        self.processing.rate.reset()
        opener = self.opener
        if self._camera_size and str(spec).strip().isdigit():
            w, h = self._camera_size
            opener = lambda s, _o=self.opener: _o(s, width=w, height=h)  # noqa: E731
        self.capture = CaptureWorker(spec, self.frames, self.generation, opener,
                                     self.loop, self.capture_rate)
        self.capture.news.connect(self._on_capture_news)
        self.capture.position.connect(self._on_position)
        self.capture_thread = start_worker(self.capture, f"capture-{self.generation}",
                                           self.capture.run)

    def stop(self):
        """Stop the current source (the last picture stays for snapshots)."""
        if self.capture is not None and self._capture_alive:
            self.capture.control.stop()
            if self.capture_thread is not None:
                stop_thread(self.capture_thread, self.capture, STOP_TIMEOUT,
                            f"capture of {self.capture.spec}")
        self.frames.clear()

    @property
    def running(self) -> bool:
        """A source is playing: not once its last news arrived, even while its thread
        is still winding down (the window and reprocess act on the news)."""
        return self._capture_alive and not self._source_over

    @property
    def _capture_alive(self) -> bool:
        return self.capture_thread is not None and self.capture_thread.isRunning()

    def pause(self, on: bool):
        """Pause or resume a video file (a camera cannot pause)."""
        if self.capture is not None:
            self.capture.control.pause(on)

    def seek(self, index: int):
        """Go to frame (or picture) `index`, 0-based, of a video or a folder."""
        if self.capture is not None:
            self.capture.control.seek(index)

    def set_loop(self, on: bool):
        """Play video files again from the start when they end (now and from now on)."""
        self.loop = bool(on)
        if self.capture is not None:
            self.capture.control.set_loop(self.loop)

    @property
    def camera_size(self) -> tuple[int, int] | None:
        return self._camera_size

    def set_camera_size(self, size):
        """Ask cameras opened from now on for `size` (width, height); None: their own."""
        self._camera_size = tuple(size) if size else None

    def reprocess(self):
        """Process the last frame again (still image or stopped video; new options)."""
        if self.running or self.frames.closed or self.capture is None \
                or self.capture.last_packet is None:
            return
        self.frames.put(replace(self.capture.last_packet, posted=time.monotonic()))

    # ---- what reaches the processing thread before its next frame
    def set_options(self, smoothing=None, sensitivity=None, mirror=None):
        self.options.update(smoothing=None if smoothing is None else bool(smoothing),
                            sensitivity=None if sensitivity is None else float(sensitivity),
                            mirror=None if mirror is None else bool(mirror))
        self.reprocess()

    def set_neutral_baseline(self, offset, track_id=None):
        """Take a person's neutral lean (app.core.neutral_offset.person_offset) out of
        the tracked face `track_id`'s readings from the next frame on (handed on to the
        next new face once it is gone: EmotionPipeline.set_neutral_baseline); `None`
        offset: clear it. A still picture is read again at once."""
        self.options.ask_baseline(offset, track_id)
        self.reprocess()

    @pyqtSlot(object)
    def add_marker(self, marker):
        """A Marker added (app.gui.markers; it carries its frame's number and time, so
        the Frame that `added` also sends is not needed) for the live feeds, sent by
        the processing thread (in order with the frames); nothing without feeds."""
        if self._feeds is not None:
            self.options.post_marker(marker)

    def run_info(self) -> dict | None:
        """The model and settings in use, for a recording's summary (None before the
        first pipeline: a recording started with the source is described at its end)."""
        if self._run is None:
            return None
        now = self.options.current()
        return {**self._run, "settings": {**self._run["settings"],
                                          "smoothing": now.smoothing,
                                          "sensitivity": round(now.sensitivity, 3)}}

    def _on_run_described(self, info):
        self._run = info

    def feed_status(self) -> str:
        """Where the live feeds go and how many clients they have; "" without feeds."""
        return self._feeds.status() if self._feeds is not None else ""

    def load_model(self, path):
        """Load a model file (None: the shipped one); the current one works meanwhile."""
        self.loading += 1
        self._load.emit(path, self.options.current())

    def stats(self) -> dict:
        """Rates (frames/s, 0 while stopped) and frames dropped because processing lagged."""
        running = self.running
        return {"capture_fps": self.capture_rate.rate() if running else 0.0,
                "processing_fps": self.processing.rate.rate() if running else 0.0,
                "dropped": self.frames.dropped}

    # ---- shutdown
    def shutdown(self):
        """Stop every thread, each within its bound, release the source, close the feeds."""
        if self._shut:
            return
        self._shut = True
        if self.capture is not None:
            self.capture.control.stop()
            if self.capture_thread is not None:
                stop_thread(self.capture_thread, self.capture, STOP_TIMEOUT,
                            f"capture of {self.capture.spec}")
        self.frames.close()
        self.processing.results.close()
        stop_thread(self.processing_thread, self.processing, FRAME_TIMEOUT, "processing")
        stop_thread(self.loader_thread, self.loader, LOADER_TIMEOUT, "the model loader")
        waiting = self.options.take_pipeline()   # loaded, never taken: closed unused
        if waiting is not None:
            waiting.close()
        if self._feeds is not None:      # after processing: no frame is sent half-closed
            self._feeds.close()

    # ---- plumbing (all in the GUI thread)
    def _on_capture_news(self, generation, kind, payload):
        if generation == self.generation and not self._shut:
            self._source_over = kind is not SourceNews.STARTED
            self.sourceEvent.emit(kind, payload)

    def _on_position(self, generation, number):
        if generation == self.generation and not self._shut:
            self.position.emit(number)

    def _offer(self, pipeline, path):
        """In the loader's thread: the processing worker takes it within 0.2 s."""
        self.options.offer(pipeline)

    def _on_loaded(self, pipeline, path):
        self.loading -= 1
        self._pipeline_kind = _Given.MODEL

    def _on_load_failed(self, message, stand_in):
        self.loading -= 1
        log.warning("model not loaded: %s", message)
        if stand_in is not None and (self._shut or self._pipeline_kind is not None):
            stand_in.close()                    # not needed: a pipeline is in use
            stand_in = None
        if self._shut:
            return
        kept = self._pipeline_kind is _Given.MODEL
        if stand_in is not None:
            self.options.offer(stand_in)        # faces are still boxed meanwhile
            self._pipeline_kind = _Given.FACES
        self.modelFailed.emit(message, kept)

    def _take_result(self):
        try:
            result = self.processing.results.get(timeout=0)
        except Closed:
            return
        if result is not None and result.generation == self.generation and not self._shut:
            self.resultReady.emit(result)
