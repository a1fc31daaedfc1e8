"""Capture and processing off the GUI thread.

    capture thread --(one-slot mailbox, newest frame wins)--> processing thread
    processing thread --(one-slot mailbox + Qt signal)--> window

The capture thread opens the source (a camera can take seconds) and reads it,
pacing video files to their frame rate. It is a daemon Python thread, not a
QThread: a camera driver can block a read for seconds, and a daemon thread
stuck there can be left behind at exit, where a running QThread would abort
the program. The processing thread (a QThread, as in Qt's camera example)
loads the model, then runs the pipeline on the newest frame and hands the
window the annotated picture. Every signal carries the source's generation,
so late news from a source the user has already left is ignored.
"""

import logging
import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from PyQt5.QtCore import QObject, QThread, pyqtSignal
from PyQt5.QtGui import QImage

from app.config import DEFAULTS
from app.draw import draw_detections
from app.mailbox import Closed, LatestMailbox
from app.runstats import RateMeter
from app.sources import SourceError, open_source

log = logging.getLogger(__name__)

STOP_TIMEOUT = 0.45     # s for the capture thread at shutdown (a read, or a pause)
FRAME_TIMEOUT = 5.0     # s for the frame in flight: milliseconds, but a .keras model is slow
# A processing thread still busy after FRAME_TIMEOUT is kept here, never destroyed:
# destroying a running QThread aborts the program ("QThread: Destroyed while thread
# is still running"). run_app turns off PyQt's destroy-on-exit for the same reason.
_LEFT_RUNNING: list = []


@dataclass
class Packet:
    """A captured frame on its way to processing."""

    frame: np.ndarray
    seq: int
    captured: float           # time.monotonic() when read
    generation: int
    source: str


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


def to_qimage(bgr: np.ndarray) -> QImage:
    """An RGB QImage owning its pixels (safe to hand across threads)."""
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format_RGB888).copy()


# ------------------------------------------------------------------- capture

class CaptureWorker:
    """Opens one source and feeds its frames into the mailbox until stopped or ended.

    `emit(kind, payload)` reports "started" (dict), "ended" (message), "still"
    (message) or "failed" (message); it is called from the capture thread.
    """

    def __init__(self, spec, mailbox: LatestMailbox, generation: int, emit,
                 opener=open_source, loop: bool = False, rate: RateMeter | None = None):
        self.spec = spec
        self.mailbox = mailbox
        self.generation = generation
        self.loop = loop
        self.rate = rate or RateMeter()
        self.last_packet: Packet | None = None
        self._emit = emit
        self._opener = opener
        self._stop = threading.Event()
        self._source = None
        self._seq = 0
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"capture-{generation}")

    def start(self):
        self.thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        """Ask the thread to stop and wait up to `timeout` s; True if it has."""
        self._stop.set()
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.warning("capture of %s did not stop within %.1f s; releasing it in the "
                        "background", self.spec, timeout)
            source = self._source
            if source is not None and source.is_live:
                # A camera may be closed under a stuck read; its close() can wait.
                threading.Thread(target=source.close, daemon=True).start()
            return False
        return True

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def _run(self):
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

    def _open(self):
        source = self._opener(self.spec)
        if self._stop.is_set():
            source.close()
            return None
        self._report("started", {"name": source.name, "live": source.is_live,
                                 "fps": source.fps, "frames": source.frame_count})
        return source

    def _read_all(self):
        source = self._source
        interval = 1.0 / source.fps if (source.fps and not source.is_live) else 0.0
        due = time.monotonic()
        while not self._stop.is_set():
            frame = source.read()
            if frame is None:
                if self.loop and not source.is_live and (source.frame_count or 0) > 1:
                    source.close()
                    source = self._source = self._opener(self.spec)
                    continue
                return self._ending(source)
            self._post(frame, source.name)
            if interval:
                due = max(due + interval, time.monotonic() - interval)
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return None
        return None

    def _post(self, frame, name):
        self._seq += 1
        self.rate.tick()
        packet = Packet(frame, self._seq, time.monotonic(), self.generation, name)
        self.last_packet = packet
        self.mailbox.put(packet)

    @staticmethod
    def _ending(source) -> tuple:
        if source.frame_count == 1 and source.frames_read == 1:
            return "still", f"{source.name}: still image"
        if source.frames_read == 0:
            return "failed", f"{source.name}: no frames"
        return "ended", f"{source.name}: end of video ({source.frames_read} frames)"

    def _report(self, kind, payload):
        if not self._stop.is_set():
            self._emit(self.generation, kind, payload)


# ---------------------------------------------------------------- processing

class ModelLoader:
    """Builds a pipeline (loads the model) in a daemon thread.

    A .keras model imports TensorFlow, which takes seconds; meanwhile the
    processing thread keeps showing frames, and it can quit at once on close
    (a loader still busy then dies with the program)."""

    def __init__(self, factory, path, smoothing, sensitivity):
        self.path = path
        self.pipeline = None
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="model-loader",
                                        args=(factory, path, smoothing, sensitivity))
        self._thread.start()

    def _run(self, factory, path, smoothing, sensitivity):
        try:
            self.pipeline = factory(path, smoothing, sensitivity)
        except Exception as exc:  # noqa: BLE001 - ModelError and any bad-file error
            self.error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


class ProcessingThread(QThread):
    """Turns the newest packet into a Result, until stopped; swaps in the model
    when it has loaded (frames are shown without emotions until then)."""

    resultReady = pyqtSignal()
    modelLoaded = pyqtSignal(str)
    modelFailed = pyqtSignal(str, bool)    # why; whether the previous model is kept
    processingFailed = pyqtSignal(str)

    def __init__(self, frames: LatestMailbox, model_path=None, pipeline_factory=None,
                 parent=None):
        super().__init__(parent)
        self.frames = frames
        self.results = LatestMailbox()
        self.rate = RateMeter()
        self.pipeline = None
        self.smoothing = DEFAULTS.smoothing
        self.sensitivity = DEFAULTS.sensitivity
        self.mirror = False
        self._factory = pipeline_factory or _default_pipeline
        self._model_request = (model_path,)
        self._loader: ModelLoader | None = None
        self._stopping = False
        self._generation = None
        self._mirrored = False
        self._failed_once = False

    def request_model(self, path):
        """Load another model file; the current one works until it is ready."""
        self._model_request = (path,)

    def stop(self, timeout: float = STOP_TIMEOUT) -> bool:
        self._stopping = True
        self.frames.close()
        self.results.close()
        return self.wait(int(timeout * 1000))

    def run(self):
        while not self._stopping:
            self._check_model()
            try:
                packet = self.frames.get(timeout=0.05 if self._loader else 0.2)
            except Closed:
                break
            if packet is not None and not self._stopping:
                self._deliver(self._process(packet))

    def _check_model(self):
        if self._loader is None and self._model_request is not None:
            (path,), self._model_request = self._model_request, None
            self._loader = ModelLoader(self._factory, path, self.smoothing, self.sensitivity)
        if self._loader is None or not self._loader.done:
            return
        loader, self._loader = self._loader, None
        if loader.error is not None:
            # a working model stays: a bad file picked by mistake costs nothing
            log.warning("model not loaded: %s", loader.error)
            self.modelFailed.emit(str(loader.error), self.pipeline is not None)
            return
        self.pipeline = loader.pipeline
        self._generation = None
        name = getattr(getattr(loader.pipeline, "classifier", None), "path", loader.path)
        self.modelLoaded.emit(str(name))

    def _process(self, packet: Packet) -> Result:
        frame = cv2.flip(packet.frame, 1) if self.mirror else packet.frame
        detections = self._detect(frame, packet)
        annotated = draw_detections(frame, detections) if detections else frame
        pipe = self.pipeline
        return Result(raw=frame, annotated=annotated, image=to_qimage(annotated),
                      detections=detections, seq=packet.seq, captured=packet.captured,
                      generation=packet.generation,
                      source=packet.source, timings=dict(pipe.timings) if pipe else {})

    def _detect(self, frame, packet) -> list:
        pipe = self.pipeline
        if pipe is None:
            return []
        if packet.generation != self._generation or self.mirror != self._mirrored:
            pipe.reset()   # new source or flipped view: old tracks no longer apply
            self._generation, self._mirrored = packet.generation, self.mirror
        pipe.smoothing = self.smoothing
        if pipe.sensitivity != self.sensitivity:
            pipe.sensitivity = self.sensitivity
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


def _default_pipeline(path, smoothing, sensitivity):
    from app.pipeline import EmotionPipeline

    return EmotionPipeline(model_path=path, smoothing=smoothing, sensitivity=sensitivity)


# -------------------------------------------------------------------- engine

class VideoEngine(QObject):
    """What the window drives: start/stop a source, settings, the latest result.

    Signals arrive in the GUI thread. `sourceEvent(kind, payload)`: "started"
    (dict: name, live, fps, frames), "still", "ended", "failed" (message).
    """

    sourceEvent = pyqtSignal(str, object)
    resultReady = pyqtSignal(object)
    modelLoaded = pyqtSignal(str)
    modelFailed = pyqtSignal(str, bool)
    processingFailed = pyqtSignal(str)
    _captureEvent = pyqtSignal(int, str, object)

    def __init__(self, model_path=None, opener=open_source, loop=False,
                 pipeline_factory=None, parent=None):
        super().__init__(parent)
        self.opener = opener
        self.loop = loop
        self.generation = 0
        self.capture_rate = RateMeter()
        self.frames = LatestMailbox()
        self.capture: CaptureWorker | None = None
        self.processing = ProcessingThread(self.frames, model_path, pipeline_factory)
        self.processing.resultReady.connect(self._take_result)
        self.processing.modelLoaded.connect(self.modelLoaded)
        self.processing.modelFailed.connect(self.modelFailed)
        self.processing.processingFailed.connect(self.processingFailed)
        self._captureEvent.connect(self._on_capture_event)
        self._shut = False
        self.processing.start()

    # ---- sources
    def start(self, spec):
        """Stop the current source and open `spec` (camera index or path)."""
        self.stop()
        self.generation += 1
        self.capture_rate.reset()
        self.processing.rate.reset()
        self.capture = CaptureWorker(spec, self.frames, self.generation, self._emit_capture,
                                     self.opener, self.loop, self.capture_rate)
        self.capture.start()

    def stop(self):
        """Stop the current source (the last picture stays for snapshots)."""
        if self.capture is not None and self.capture.running:
            self.capture.stop()
        self.frames.clear()

    @property
    def running(self) -> bool:
        return self.capture is not None and self.capture.running

    def reprocess(self):
        """Process the last frame again (still image or stopped video; new settings)."""
        if self.running or self.capture is None or self.capture.last_packet is None:
            return
        old = self.capture.last_packet
        self.frames.put(Packet(old.frame, old.seq, time.monotonic(), old.generation,
                               old.source))

    # ---- settings (read by the processing thread before each frame)
    def set_options(self, smoothing=None, sensitivity=None, mirror=None):
        p = self.processing
        if smoothing is not None:
            p.smoothing = bool(smoothing)
        if sensitivity is not None:
            p.sensitivity = float(sensitivity)
        if mirror is not None:
            p.mirror = bool(mirror)
        self.reprocess()

    def load_model(self, path):
        self.processing.request_model(path)

    def stats(self) -> dict:
        """Rates (frames/s, 0 while stopped) and frames dropped because processing lagged."""
        running = self.running
        return {"capture_fps": self.capture_rate.rate() if running else 0.0,
                "processing_fps": self.processing.rate.rate() if running else 0.0,
                "dropped": self.frames.dropped}

    # ---- shutdown
    def shutdown(self):
        """Stop both threads (each waits at most STOP_TIMEOUT) and release the source."""
        if self._shut:
            return
        self._shut = True
        if self.capture is not None:
            self.capture.stop()
        if not self.processing.stop(FRAME_TIMEOUT):
            log.warning("processing did not stop within %.1f s; leaving it to end with the "
                        "program", FRAME_TIMEOUT)
            _LEFT_RUNNING.append(self.processing)

    # ---- plumbing
    def _emit_capture(self, generation, kind, payload):
        """Called from the capture thread; queued into the GUI thread."""
        try:
            self._captureEvent.emit(generation, kind, payload)
        except RuntimeError:   # the engine is gone (app closing)
            pass

    def _on_capture_event(self, generation, kind, payload):
        if generation == self.generation and not self._shut:
            self.sourceEvent.emit(kind, payload)

    def _take_result(self):
        try:
            result = self.processing.results.get(timeout=0)
        except Closed:
            return
        if result is not None and result.generation == self.generation and not self._shut:
            self.resultReady.emit(result)
