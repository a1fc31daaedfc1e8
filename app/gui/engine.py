"""Capture, processing and model loading off the GUI thread: the `VideoEngine`.

    capture worker --(one-slot mailbox, newest frame wins)--> processing worker
    processing worker --(one-slot mailbox + signal)--> window
    model loader --(signal: loaded / failed)--> engine --(locked hand-over)--> processing

One pattern throughout, that of the Qt for Python examples: each worker is a
QObject moved to its own QThread, news leaves it by signals, and the GUI thread
only paints. The capture and processing workers run a loop (a camera read blocks),
so what the window changes reaches them through a small locked object
(`LiveSettings`, `CaptureControl`) rather than queued slots. Kept from before,
because they beat a queue: the one-slot mailboxes that drop stale frames, results
merged rather than queued, and the generation tag on every message, so late news
from a source the user has already left is ignored.

Shutdown waits for the frame in flight (`FRAME_TIMEOUT`) and never destroys a
running QThread (that aborts the program): a thread still busy after its bound (a
camera driver stuck in a read, TensorFlow importing for a .keras model) is kept
in `_LEFT_RUNNING` and ends with the program.
"""

import logging
import threading
import time
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from PyQt5 import sip
from PyQt5.QtCore import QObject, Qt, QThread, pyqtSignal, pyqtSlot
from PyQt5.QtGui import QImage

from app.config import DEFAULTS
from app.draw import draw_detections
from app.mailbox import Closed, LatestMailbox
from app.runstats import RateMeter
from app.sources import SourceError, open_source

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

class CaptureControl:
    """What the window asks of a running capture: stop, pause, go to a frame."""

    def __init__(self, loop: bool = False):
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.paused = False
        self.seek_to: int | None = None
        self.loop = loop


class CaptureWorker(QObject):
    """Opens one source and feeds its frames into the mailbox until stopped or ended.

    `news(generation, kind, payload)` reports "started" (dict), "ended" (message),
    "still" (message) or "failed" (message). It runs in its own QThread.
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
        self.control = CaptureControl(loop)
        self.last_packet: Packet | None = None
        self._opener = opener
        self._source = None
        self._seq = 0
        self._scene = 0

    @pyqtSlot()
    def run(self):
        news = None
        try:
            self._source = self._open()
            if self._source is not None:
                news = self._read_all()
        except SourceError as exc:
            news = ("failed", str(exc))
        except Exception as exc:  # noqa: BLE001 - any fault ends this source, not the app
            log.exception("capture of %s failed", self.spec)
            news = ("failed", f"{self.spec}: {type(exc).__name__}: {exc}")
        finally:
            source, self._source = self._source, None
            if source is not None:
                source.close()   # before the news: the camera is free when it arrives
        if news:
            self._report(*news)
        self.thread().quit()

    def _open(self):
        source = self._opener(self.spec)
        if self.control.stopped.is_set():
            source.close()
            return None
        self._report("started", {"name": source.name, "live": source.is_live,
                                  "fps": source.fps, "frames": source.frame_count,
                                  "photos": bool(getattr(source, "photos", False))})
        return source

    def _read_all(self):
        source = self._source
        interval = 1.0 / source.fps if (source.fps and not source.is_live) else 0.0
        photos = getattr(source, "photos", False)
        due = time.monotonic()
        stop = self.control.stopped
        while not stop.is_set():
            if self._hold_or_seek(source):
                due = time.monotonic()
                continue
            frame = source.read()
            if frame is not None and photos:
                self._post(frame, source.name, photo=True)
                with self.control.lock:    # one picture at a time: wait for next/previous
                    self.control.paused = True
                continue
            if frame is None:
                if photos and not stop.is_set():   # after the last picture: stay on it
                    with self.control.lock:
                        self.control.paused = True
                    continue
                if self.control.loop and not source.is_live and (source.frame_count or 0) > 1:
                    source.close()
                    source = self._source = self._opener(self.spec)
                    self._seq = 0
                    self._scene += 1
                    continue
                return self._ending(source)
            self._post(frame, source.name)
            if interval:
                due = max(due + interval, time.monotonic() - interval)
                if stop.wait(max(0.0, due - time.monotonic())):
                    return None
        return None

    def _hold_or_seek(self, source) -> bool:
        """Pause (video files) and seeking, between frames; True to look again."""
        c = self.control
        with c.lock:
            seek, c.seek_to = c.seek_to, None
            paused = c.paused
        if seek is not None and hasattr(source, "seek"):
            source.seek(seek)
            self._seq = seek
            self._scene += 1
            frame = source.read()              # show the frame sought, also when paused
            if frame is not None:
                self._post(frame, source.name, photo=getattr(source, "photos", False))
            return True
        if paused and not source.is_live:
            c.stopped.wait(0.05)
            return True
        return False

    def _post(self, frame, name, photo: bool = False):
        self._seq += 1
        self.rate.tick()
        packet = Packet(frame, self._seq, time.monotonic(), self.generation, name, photo,
                        self._scene)
        self.last_packet = packet
        self.mailbox.put(packet)
        self.position.emit(self.generation, self._seq)

    @staticmethod
    def _ending(source) -> tuple:
        if source.frame_count == 1 and source.frames_read == 1:
            return "still", f"{source.name}: still image"
        if source.frames_read == 0:
            return "failed", f"{source.name}: no frames"
        return "ended", f"{source.name}: end of video ({source.frames_read} frames)"

    def _report(self, kind, payload):
        if not self.control.stopped.is_set():
            self.news.emit(self.generation, kind, payload)


# ---------------------------------------------------------------- processing

class LiveSettings:
    """Settings the window changes while frames are processed, behind one lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values = {"smoothing": DEFAULTS.smoothing, "sensitivity": DEFAULTS.sensitivity,
                        "mirror": False}
        self._pipeline = None          # a newly loaded pipeline waiting to be used
        self._calibration = None       # (offset, track id) waiting; offset None: clear

    def update(self, **values):
        with self._lock:
            self._values.update({k: v for k, v in values.items() if v is not None})

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._values)

    def offer(self, pipeline):
        with self._lock:
            self._pipeline = pipeline

    def take_pipeline(self):
        with self._lock:
            pipeline, self._pipeline = self._pipeline, None
            return pipeline

    def ask_calibration(self, offset, track_id):
        """A person's neutral for the pipeline (calibrate_person); the newest ask wins."""
        with self._lock:
            self._calibration = (offset, track_id)

    def take_calibration(self):
        """(offset, track id) asked for since the last take, or None."""
        with self._lock:
            asked, self._calibration = self._calibration, None
            return asked


class ProcessingWorker(QObject):
    """Turns the newest packet into a Result until stopped; uses a new pipeline from
    the loader as soon as it is offered (frames are shown without emotions until one
    is).

    A new pipeline with no newer frame waiting processes the last frame again: a
    picture that waits (a photo of a folder, a paused video) may have been processed
    before the model had loaded, and no other frame comes to show its faces.

    A person's neutral (`VideoEngine.calibrate_person`) reaches the pipeline before
    the next frame (the faces it changes start their smoothing afresh, so a still
    picture read just once more shows it too); one
    asked of a pipeline that has since been replaced is dropped (the window forgets
    it on `pipelineChanged`).
    """

    resultReady = pyqtSignal()
    pipelineChanged = pyqtSignal(str)
    processingFailed = pyqtSignal(str)

    def __init__(self, frames: LatestMailbox, settings: LiveSettings):
        super().__init__()
        self.frames = frames
        self.settings = settings
        self.results = LatestMailbox()
        self.rate = RateMeter()
        self.pipeline = None
        self._scene = None             # (generation, scene) the pipeline's tracks belong to
        self._epoch = 0                # Result.track_epoch
        self._mirrored = False
        self._last: Packet | None = None
        self._failed_once = False

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
                self._deliver(self._process(packet))
        self.thread().quit()

    def _use_new_pipeline(self) -> bool:
        pipeline = self.settings.take_pipeline()
        if pipeline is None:
            return False
        self.pipeline, self._scene = pipeline, None
        self._epoch += 1
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
        detections = self._detect(frame, packet, options)
        annotated = draw_detections(frame, detections) if detections else frame
        pipe = self.pipeline
        return Result(raw=frame, annotated=annotated, image=to_qimage(annotated),
                      detections=detections, seq=packet.seq, captured=packet.captured,
                      generation=packet.generation, source=packet.source,
                      timings=dict(pipe.timings) if pipe else {}, track_epoch=self._epoch)

    def _detect(self, frame, packet, options) -> list:
        pipe = self.pipeline
        if pipe is None:
            return []
        scene = (packet.generation, packet.scene)
        if scene != self._scene or options["mirror"] != self._mirrored or packet.photo:
            # new source, seek, loop back, flipped view, another photo: old tracks do not apply
            pipe.reset()
            self._scene, self._mirrored = scene, options["mirror"]
            self._epoch += 1
        pipe.smoothing = options["smoothing"]
        if pipe.sensitivity != options["sensitivity"]:
            pipe.sensitivity = options["sensitivity"]
        try:
            detections = pipe.process(frame, timestamp=packet.captured)
        except Exception as exc:  # noqa: BLE001 - show the frame, report once
            if not self._failed_once:
                log.exception("processing failed")
                self.processingFailed.emit(f"processing failed: {type(exc).__name__}: {exc}")
            self._failed_once = True
            return []
        self._failed_once = False
        return detections

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
    from app.pipeline import EmotionPipeline, NoModel

    try:
        return EmotionPipeline(classifier=NoModel(), smoothing=options["smoothing"],
                               sensitivity=options["sensitivity"])
    except Exception:  # noqa: BLE001 - no detector either: frames are shown bare
        log.exception("face detector not available")
        return None


def _default_pipeline(path, smoothing, sensitivity):
    from app.pipeline import EmotionPipeline

    return EmotionPipeline(model_path=path, smoothing=smoothing, sensitivity=sensitivity)


# -------------------------------------------------------------------- engine

class VideoEngine(QObject):
    """What the window drives: start/stop a source, settings, the latest result.

    Signals arrive in the GUI thread. `sourceEvent(kind, payload)`: "started"
    (dict: name, live, fps, frames), "still", "ended", "failed" (message).
    `position(frame)`: the frame number just read from the current source.
    """

    sourceEvent = pyqtSignal(str, object)
    position = pyqtSignal(int)
    resultReady = pyqtSignal(object)
    modelLoaded = pyqtSignal(str)
    modelFailed = pyqtSignal(str, bool)    # why; whether the previous model is kept
    processingFailed = pyqtSignal(str)
    _load = pyqtSignal(object, object)

    def __init__(self, model_path=None, opener=open_source, loop=False,
                 pipeline_factory=None, parent=None):
        super().__init__(parent)
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
        self.processing = ProcessingWorker(self.frames, self.settings)
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
            self.capture.control.stopped.set()
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
            with self.capture.control.lock:
                self.capture.control.paused = bool(on)

    def seek(self, frame: int):
        """Go to frame (or picture) number `frame`, 0-based, of a video or a folder."""
        if self.capture is not None:
            with self.capture.control.lock:
                self.capture.control.seek_to = max(0, int(frame))

    def set_loop(self, on: bool):
        """Play video files again from the start when they end (now and from now on)."""
        self.loop = bool(on)
        if self.capture is not None:
            with self.capture.control.lock:
                self.capture.control.loop = self.loop

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
        """Take a person's neutral lean (model.calibration.person_offset) out of the
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
        """Stop every thread, each within its bound, and release the source."""
        if self._shut:
            return
        self._shut = True
        if self.capture is not None:
            self.capture.control.stopped.set()
            stop_thread(self.capture_thread, self.capture, STOP_TIMEOUT,
                        f"capture of {self.capture.spec}")
        self.frames.close()
        self.processing.results.close()
        stop_thread(self.processing_thread, self.processing, FRAME_TIMEOUT, "processing")
        stop_thread(self.loader_thread, self.loader, LOADER_TIMEOUT, "the model loader")

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
