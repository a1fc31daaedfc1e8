"""Capture, processing and model loading off the GUI thread: the `VideoEngine`.

    capture worker --(one-slot mailbox, newest frame wins)--> processing worker
    processing worker --(one-slot mailbox + signal)--> window
    model loader --(signal: loaded / failed)--> engine --(locked hand-over)--> processing
    processing worker --(each result, from its thread)--> feeds (app.io.feeds: OSC, WebSocket)

The rules of playing a source (pacing, seek, loop, pause, one photo at a time,
the ending) and the frame step (pipeline reset on a new scene, detections, drawn)
are plain Python in `app.core.playback`, shared with `process` and `bench`; the workers
here only run them in their QThreads and pass on what they produce.

One pattern throughout, that of the Qt for Python examples: each worker is a
QObject moved to its own QThread, news leaves it by signals, and the GUI thread
only paints. The capture and processing workers run a loop (a camera read blocks),
so what the window changes reaches them through a small locked object
(`LiveSettings`, `PlaybackControl`) rather than queued slots. Queues are not used
where they would hold stale work: the one-slot mailboxes that drop stale frames, results
merged rather than queued, and the generation tag on every message, so late news
from a source the user has already left is ignored.

Shutdown waits for the frame in flight (`FRAME_TIMEOUT`) and never destroys a
running QThread (that aborts the program): a thread still busy after its bound (a
camera driver stuck in a read, TensorFlow importing for a .keras model) is kept
in `_LEFT_RUNNING` and ends with the program.
"""

import logging
import time
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PyQt5 import sip
from PyQt5.QtCore import QObject, Qt, QThread, pyqtSignal, pyqtSlot
from PyQt5.QtGui import QImage

from app.gui.mailbox import Closed, LatestMailbox
from app.core.playback import Frame, FrameStep, LiveSettings, Playback, PlaybackControl, describe
from app.core.runstats import RateMeter
from app.io.sources import open_source

log = logging.getLogger(__name__)

STOP_TIMEOUT = 0.45     # s for the capture thread (a read, or the pause between frames)
FRAME_TIMEOUT = 5.0     # s for the frame in flight: milliseconds, but a .keras model is slow
LOADER_TIMEOUT = 0.45   # s for a model load at shutdown (it may be importing TensorFlow)
_LEFT_RUNNING: list = []

# PyQt's clean-up at exit destroys the QThread objects Python still holds; one that
# is still running (see _LEFT_RUNNING) would abort the program instead of exiting.
sip.setdestroyonexit(False)


@dataclass
class Packet:
    """A captured frame on its way to processing."""

    frame: np.ndarray
    seq: int
    captured: float           # time.monotonic() when read
    generation: int
    source: str
    photo: bool = False       # a separate picture: nothing is carried over from the last
    scene: int = 0            # one more after each seek or loop back: the faces start afresh
    time: float | None = None  # seconds into the source; a camera: since it started; photo: None


@dataclass
class Result:
    """A processed frame on its way to the window."""

    raw: np.ndarray           # the frame as processed (mirrored if mirror is on)
    annotated: np.ndarray
    image: QImage             # `annotated` as RGB, ready to paint
    detections: list
    seq: int
    captured: float
    generation: int
    source: str
    timings: dict = field(default_factory=dict)
    # one more each time the pipeline's faces start afresh (new source, seek, loop,
    # flipped view, photo, model): a track id names the same face only within one
    track_epoch: int = 0
    # the source's time (a video's position, a camera's time since it opened; None for
    # a separate photo): the one the feeds send, the recordings and markers use
    time: float | None = None


def to_qimage(bgr: np.ndarray) -> QImage:
    """An RGB QImage owning its pixels (safe to hand across threads)."""
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format_RGB888).copy()


def start_worker(worker: QObject, name: str, run=None) -> QThread:
    """Move `worker` to a new QThread named `name` and start it (`run` on start)."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    if run is not None:
        thread.started.connect(run)
    thread.start()
    return thread


def stop_thread(thread: QThread, worker: QObject, timeout: float, what: str) -> bool:
    """Quit `thread` and wait up to `timeout` s; one still busy is kept alive, with its
    worker (destroying either while it runs would crash the program)."""
    thread.quit()
    if thread.wait(int(timeout * 1000)):
        return True
    log.warning("%s did not stop within %.2f s; leaving it to end with the program",
                what, timeout)
    _LEFT_RUNNING.append((thread, worker))
    return False


# ------------------------------------------------------------------- capture

class CaptureWorker(QObject):
    """Plays one source (`app.core.playback.Playback`, paced, one photo at a time) in its
    QThread and posts each frame to the mailbox until stopped or ended.

    `news(generation, kind, payload)` reports "started" (dict), "ended" (message),
    "still" (message) or "failed" (message), after the source is closed.
    """

    news = pyqtSignal(int, str, object)
    position = pyqtSignal(int, int)         # generation, frame number just read

    def __init__(self, spec, mailbox: LatestMailbox, generation: int,
                 opener=open_source, loop: bool = False, rate: RateMeter | None = None):
        super().__init__()
        self.spec = spec
        self.mailbox = mailbox
        self.generation = generation
        self.rate = rate or RateMeter()
        self.control = PlaybackControl(loop)
        self.playback = Playback(spec, opener=opener, control=self.control, paced=True,
                                 hold_photos=True)
        self.last_packet: Packet | None = None
        self._name = str(spec)
        self._started_at = None

    @pyqtSlot()
    def run(self):
        ending = self.playback.play(self._post, started=self._started)
        if ending.kind != "stopped":
            self._report(ending.kind, ending.message)
        self.thread().quit()

    def _started(self, source):
        self._name = source.name
        self._started_at = time.monotonic()
        self._report("started", describe(source))

    def _post(self, frame: Frame):
        self.rate.tick()
        t = frame.time       # a video's position; a camera's time since it started;
        if t is None and not frame.photo:       # a separate photo has none
            t = max(0.0, frame.captured - (self._started_at or frame.captured))
        packet = Packet(frame.image, frame.number, frame.captured, self.generation,
                        self._name, frame.photo, frame.scene, t)
        self.last_packet = packet
        self.mailbox.put(packet)
        self.position.emit(self.generation, frame.number)

    def _report(self, kind, payload):
        if not self.control.stopped:
            self.news.emit(self.generation, kind, payload)


# ---------------------------------------------------------------- processing

class ProcessingWorker(QObject):
    """Turns the newest packet into a Result (`app.core.playback.FrameStep`) until
    stopped; uses a new pipeline from the loader as soon as it is offered (frames
    are shown without emotions until one is).

    A new pipeline with no newer frame waiting processes the last frame again: a
    picture that waits (a photo of a folder, a paused video) may have been processed
    before the model had loaded, and no other frame comes to show its faces.

    A person's neutral (`VideoEngine.calibrate_person`) reaches the pipeline before
    the next frame (the faces it changes start their smoothing afresh, so a still
    picture read just once more shows it too); one
    asked of a pipeline that has since been replaced is dropped (the window forgets
    it on `pipelineChanged`).

    `feeds` (app.io.feeds.Feeds, or None): every result's readings are handed to it
    here, in this thread, before the window gets the result.
    """

    resultReady = pyqtSignal()
    pipelineChanged = pyqtSignal(str)
    processingFailed = pyqtSignal(str)

    def __init__(self, frames: LatestMailbox, settings: LiveSettings, feeds=None):
        super().__init__()
        self.frames = frames
        self.settings = settings
        self.feeds = feeds
        self.results = LatestMailbox()
        self.rate = RateMeter()
        # the faces start afresh on a new (generation, scene, mirror), or a photo
        self.step = FrameStep(on_error=self.processingFailed.emit)
        self._last: Packet | None = None

    @property
    def pipeline(self):
        return self.step.pipeline

    @pyqtSlot()
    def run(self):
        while True:
            try:
                packet = self.frames.get(timeout=0.2)
            except Closed:
                break
            if self._use_new_pipeline() and packet is None and self._last is not None:
                packet = replace(self._last, captured=time.monotonic())
            self._use_calibration()
            if packet is not None:
                self._last = packet
                result = self._process(packet)
                if self.feeds is not None:
                    self.feeds.frame(packet.time, packet.seq, packet.source,
                                     result.detections)
                self._deliver(result)
        self.thread().quit()

    def _use_new_pipeline(self) -> bool:
        pipeline = self.settings.take_pipeline()
        if pipeline is None:
            return False
        self.step.use(pipeline)
        self.settings.take_calibration()       # measured with the model just replaced
        path = getattr(getattr(pipeline, "classifier", None), "path", None)
        if path is not None:                   # a faces-only stand-in is no news
            self.pipelineChanged.emit(str(path))
        return True

    def _use_calibration(self):
        asked = self.settings.take_calibration()
        pipe = self.pipeline
        if asked is None or pipe is None:
            return
        pipe.calibrate_person(*asked)

    def _process(self, packet: Packet) -> Result:
        options = self.settings.snapshot()
        frame = cv2.flip(packet.frame, 1) if options["mirror"] else packet.frame
        pipe = self.pipeline
        if pipe is not None:
            pipe.smoothing = options["smoothing"]
            if pipe.sensitivity != options["sensitivity"]:
                pipe.sensitivity = options["sensitivity"]
        detections, annotated = self.step(
            frame, (packet.generation, packet.scene, options["mirror"]), packet.photo,
            timestamp=packet.captured)
        return Result(raw=frame, annotated=annotated, image=to_qimage(annotated),
                      detections=detections, seq=packet.seq, captured=packet.captured,
                      generation=packet.generation, source=packet.source,
                      timings=dict(pipe.timings) if pipe else {},
                      track_epoch=self.step.epoch, time=packet.time)

    def _deliver(self, result: Result):
        self.rate.tick()
        if not self.results.put(result):
            self.resultReady.emit()   # else a signal is already on its way


# -------------------------------------------------------------- model loading

class ModelLoader(QObject):
    """Builds a pipeline (loads the model) in its own thread; a .keras model imports
    TensorFlow, which takes seconds, and frames go on meanwhile."""

    loaded = pyqtSignal(object, object)     # pipeline, the path asked for
    failed = pyqtSignal(str, object)        # the reason, a faces-only stand-in (or None)

    def __init__(self, factory):
        super().__init__()
        self._factory = factory

    @pyqtSlot(object, object)
    def load(self, path, options):
        try:
            pipeline = self._factory(path, options["smoothing"], options["sensitivity"])
        except Exception as exc:  # noqa: BLE001 - ModelError and any bad-file error
            self.failed.emit(str(exc), faces_only_pipeline(options))
            return
        self.loaded.emit(pipeline, path)


def faces_only_pipeline(options):
    """Boxes without emotions, for while no model works (None if even that fails)."""
    from app.core.pipeline import EmotionPipeline, NoModel

    try:
        return EmotionPipeline(classifier=NoModel(), smoothing=options["smoothing"],
                               sensitivity=options["sensitivity"])
    except Exception:  # noqa: BLE001 - no detector either: frames are shown bare
        log.exception("face detector not available")
        return None


def _default_pipeline(path, smoothing, sensitivity):
    from app.core.pipeline import EmotionPipeline

    return EmotionPipeline(model_path=path, smoothing=smoothing, sensitivity=sensitivity)


# -------------------------------------------------------------------- engine

class VideoEngine(QObject):
    """What the window drives: start/stop a source, settings, the latest result.

    Signals arrive in the GUI thread. `sourceEvent(kind, payload)`: "started"
    (dict: name, live, fps, frames), "still", "ended", "failed" (message).
    `position(frame)`: the frame number just read from the current source.
    `feeds` (app.io.feeds.Feeds, or None): where the processing thread sends every
    frame's readings; closed by `shutdown`.
    """

    sourceEvent = pyqtSignal(str, object)
    position = pyqtSignal(int)
    resultReady = pyqtSignal(object)
    modelLoaded = pyqtSignal(str)
    modelFailed = pyqtSignal(str, bool)    # why; whether the previous model is kept
    processingFailed = pyqtSignal(str)
    _load = pyqtSignal(object, object)

    def __init__(self, model_path=None, opener=open_source, loop=False,
                 pipeline_factory=None, parent=None, feeds=None):
        super().__init__(parent)
        self.feeds = feeds
        self.opener = opener
        self.loop = loop
        self.camera_size: tuple[int, int] | None = None   # asked of cameras; None: theirs
        self.generation = 0
        self.capture_rate = RateMeter()
        self.frames = LatestMailbox()
        self.settings = LiveSettings()
        self.capture: CaptureWorker | None = None
        self.capture_thread: QThread | None = None
        self._source_over = False      # its last news ("ended", "still", "failed") came
        self.processing = ProcessingWorker(self.frames, self.settings, feeds)
        self.processing.resultReady.connect(self._take_result)
        self.processing.pipelineChanged.connect(self._on_pipeline_changed)
        self.processing.processingFailed.connect(self.processingFailed)
        self.processing_thread = start_worker(self.processing, "processing",
                                              self.processing.run)
        self.loader = ModelLoader(pipeline_factory or _default_pipeline)
        # straight from the loader's thread to the locked hand-over (thread-safe): the
        # new model reaches processing even while the GUI thread is busy
        self.loader.loaded.connect(self._offer, Qt.DirectConnection)
        self.loader.loaded.connect(self._on_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self._load.connect(self.loader.load)
        self.loader_thread = start_worker(self.loader, "model-loader")
        self.loading = 0               # loads asked for and not answered yet
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
        if self.camera_size and str(spec).strip().isdigit():
            w, h = self.camera_size
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

    def seek(self, frame: int):
        """Go to frame (or picture) number `frame`, 0-based, of a video or a folder."""
        if self.capture is not None:
            self.capture.control.seek(frame)

    def set_loop(self, on: bool):
        """Play video files again from the start when they end (now and from now on)."""
        self.loop = bool(on)
        if self.capture is not None:
            self.capture.control.set_loop(self.loop)

    def reprocess(self):
        """Process the last frame again (still image or stopped video; new settings)."""
        if self.running or self.capture is None or self.capture.last_packet is None:
            return
        self.frames.put(replace(self.capture.last_packet, captured=time.monotonic()))

    # ---- settings (read by the processing worker before each frame)
    def set_options(self, smoothing=None, sensitivity=None, mirror=None):
        self.settings.update(smoothing=None if smoothing is None else bool(smoothing),
                             sensitivity=None if sensitivity is None else float(sensitivity),
                             mirror=None if mirror is None else bool(mirror))
        self.reprocess()

    def calibrate_person(self, offset, track_id=None):
        """Take a person's neutral lean (model.runtime.calibration.person_offset) out of the
        tracked face `track_id`'s readings from the next frame on (handed on to the
        next new face once it is gone: EmotionPipeline.calibrate_person); `None`
        offset: clear it. A still picture is read again at once."""
        self.settings.ask_calibration(offset, track_id)
        self.reprocess()

    def load_model(self, path):
        """Load a model file (None: the shipped one); the current one works meanwhile."""
        self.loading += 1
        self._load.emit(path, self.settings.snapshot())

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
            stop_thread(self.capture_thread, self.capture, STOP_TIMEOUT,
                        f"capture of {self.capture.spec}")
        self.frames.close()
        self.processing.results.close()
        stop_thread(self.processing_thread, self.processing, FRAME_TIMEOUT, "processing")
        stop_thread(self.loader_thread, self.loader, LOADER_TIMEOUT, "the model loader")
        if self.feeds is not None:       # after processing: no frame is sent half-closed
            self.feeds.close()

    # ---- plumbing (all in the GUI thread)
    def _on_capture_news(self, generation, kind, payload):
        if generation == self.generation and not self._shut:
            self._source_over = kind in ("ended", "still", "failed")
            self.sourceEvent.emit(kind, payload)

    def _on_position(self, generation, frame):
        if generation == self.generation and not self._shut:
            self.position.emit(frame)

    def _offer(self, pipeline, path):
        """In the loader's thread: the processing worker takes it within 0.2 s."""
        self.settings.offer(pipeline)

    def _on_loaded(self, pipeline, path):
        self.loading -= 1

    def _on_pipeline_changed(self, name):
        self.modelLoaded.emit(name)

    def _on_load_failed(self, message, stand_in):
        self.loading -= 1
        log.warning("model not loaded: %s", message)
        if self._shut:
            return
        current = self.processing.pipeline
        kept = current is not None and getattr(current.classifier, "path", None) is not None
        if current is None and stand_in is not None:   # faces are still boxed meanwhile
            self.settings.offer(stand_in)
        self.modelFailed.emit(message, kept)

    def _take_result(self):
        try:
            result = self.processing.results.get(timeout=0)
        except Closed:
            return
        if result is not None and result.generation == self.generation and not self._shut:
            self.resultReady.emit(result)


# ------------------------------------------------------------------- cameras

class CameraLister(QObject):
    """Probes which cameras open, in its own thread (opening one can take a while)."""

    found = pyqtSignal(object)     # list of camera indexes

    def __init__(self, lister):
        super().__init__()
        self._lister = lister

    @pyqtSlot()
    def probe(self):
        try:
            found = self._lister()
        except Exception:  # noqa: BLE001 - a broken driver must not end the app
            log.exception("listing cameras failed")
            found = []
        self.found.emit(found)
