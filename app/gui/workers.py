"""The two frame workers of the window, each a QObject in its own QThread:

    capture worker --(one-slot mailbox, newest frame wins)--> processing worker
    processing worker --(one-slot mailbox + signal)--> the engine, the window
    processing worker --(each frame, and the markers, from its thread)--> feeds

The rules of playing a source and the frame step are plain Python in
`app.core.playback`; these workers only run them and pass on what they produce.
Both run a loop (a camera read blocks), so what the window changes reaches them
through small locked objects (`LiveOptions`, `PlaybackControl`), not queued slots.
"""

import logging
import time
from dataclasses import replace

import cv2
from PyQt5.QtCore import QObject, pyqtSignal, pyqtSlot

from app.core.neutral import neutral_reference
from app.core.playback import FrameStep, Playback, PlaybackControl, SourceNews, describe
from app.core.run_info import describe_run
from app.core.runstats import RateMeter
from app.gui.mailbox import Closed, LatestMailbox
from app.gui.options import LiveOptions
from app.gui.packets import Packet, Result, to_qimage
from app.io.sources import open_source
from app.nouns import Frame
from model.runtime.errors import ModelError

log = logging.getLogger(__name__)


class CaptureWorker(QObject):
    """Plays one source (`Playback`, paced, one photo at a time) and posts each frame
    to the mailbox until stopped or ended.

    `news(generation, kind, payload)` reports, by a `SourceNews`, STARTED (dict),
    ENDED, STILL or FAILED (message), after the source is closed.
    """

    news = pyqtSignal(int, object, object)     # object: the SourceNews member itself
    position = pyqtSignal(int, int)         # generation, the number of the frame just read

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
        self._started_at: float | None = None

    @pyqtSlot()
    def run(self):
        ending = self.playback.play(self._post, started=self._started)
        if ending.kind is not SourceNews.STOPPED:
            self._report(ending.kind, ending.message)
        _quit(self)

    def _started(self, source):
        self._name = source.name
        self._started_at = time.monotonic()
        self._report(SourceNews.STARTED, describe(source))

    def _post(self, frame: Frame):
        self.rate.tick()
        if frame.time is None and not frame.photo:
            # the one place a live frame's time is worked out: seconds since the
            # camera started (a video's comes stamped with its position)
            frame = replace(frame, time=max(0.0, frame.captured
                                            - (self._started_at or frame.captured)))
        packet = Packet(frame, self.generation, self._name, time.monotonic())
        self.last_packet = packet
        self.mailbox.put(packet)
        self.position.emit(self.generation, frame.number)

    def _report(self, kind: SourceNews, payload):
        if not self.control.stopped:
            self.news.emit(self.generation, kind, payload)


class ProcessingWorker(QObject):
    """Turns the newest packet into a Result (`FrameStep`) until stopped; uses a new
    pipeline from the loader as soon as it is offered (frames are shown without
    emotions until one is).

    A new pipeline with no newer frame waiting processes the last frame again: a
    picture that waits (a photo of a folder, a paused video) may have been processed
    before the model had loaded, and no other frame comes to show its faces.
    A person's neutral baseline reaches the pipeline before the next frame; one asked
    of a pipeline that has since been replaced is dropped.
    `feeds` (app.io.feeds.Feeds, or None): every result's readings, and the markers,
    are handed to it here, in this thread, before the window gets the result.
    """

    resultReady = pyqtSignal()
    # a model's path, its neutral reference (None when it has none) and why not
    pipelineChanged = pyqtSignal(str, object, str)
    runDescribed = pyqtSignal(object)        # app.core.run_info.describe_run of it
    processingFailed = pyqtSignal(str)

    def __init__(self, frames: LatestMailbox, options: LiveOptions, feeds=None):
        super().__init__()
        self.frames = frames
        self.options = options
        self.feeds = feeds
        self.results = LatestMailbox()
        self.rate = RateMeter()
        # the faces start afresh on a new (generation, scene, mirror), or a photo
        self.step = FrameStep(on_error=self.processingFailed.emit)
        self._last: Packet | None = None

    @property
    def pipeline(self):
        """The pipeline in use (this thread's; the tests look at it)."""
        return self.step.pipeline

    @pyqtSlot()
    def run(self):
        while True:
            try:
                packet = self.frames.get(timeout=0.2)
            except Closed:
                break
            if self._use_new_pipeline() and packet is None and self._last is not None:
                packet = replace(self._last, posted=time.monotonic())
            self._use_baseline()
            self._send_markers()
            if packet is not None:
                self._last = packet
                result = self._process(packet)
                if self.feeds is not None:
                    self.feeds.frame(packet.frame.time, packet.frame.number, packet.source,
                                     result.detections)
                self._deliver(result)
        if self.pipeline is not None:
            self.pipeline.close()
        _quit(self)

    def _use_new_pipeline(self) -> bool:
        pipeline = self.options.take_pipeline()
        if pipeline is None:
            return False
        if self.pipeline is not None:
            self.pipeline.close()               # its reading thread ends with it
        self.step.use(pipeline)
        self.options.take_baseline()            # measured with the model just replaced
        classifier = getattr(pipeline, "classifier", None)
        path = getattr(classifier, "path", None)
        if classifier is not None and path is not None:   # a faces-only stand-in: no news
            try:
                reference, why = neutral_reference(classifier), ""
            except (ModelError, AttributeError) as exc:
                reference, why = None, str(exc)
            self.pipelineChanged.emit(str(path), reference, why)
            self.runDescribed.emit(describe_run(pipeline))
        return True

    def _use_baseline(self):
        asked = self.options.take_baseline()
        pipe = self.pipeline
        if asked is None or pipe is None:
            return
        pipe.set_neutral_baseline(*asked)

    def _send_markers(self):
        markers = self.options.take_markers()
        if self.feeds is not None:
            for marker in markers:
                self.feeds.marker(marker)

    def _process(self, packet: Packet) -> Result:
        started = time.perf_counter()
        options = self.options.current()
        frame = packet.frame
        image = cv2.flip(frame.image, 1) if options.mirror else frame.image
        pipe = self.pipeline
        if pipe is not None:
            pipe.smoothing = options.smoothing
            if pipe.sensitivity != options.sensitivity:
                pipe.sensitivity = options.sensitivity
        detections, annotated = self.step(
            image, (packet.generation, frame.scene, options.mirror), frame.photo,
            timestamp=frame.time if frame.time is not None else 0.0)
        qimage = to_qimage(annotated)
        return Result(frame=frame, raw=image, annotated=annotated, image=qimage,
                      detections=detections, generation=packet.generation,
                      source=packet.source, posted=packet.posted,
                      timings=dict(pipe.timings) if pipe else {},
                      track_epoch=self.step.epoch, work_s=time.perf_counter() - started)

    def _deliver(self, result: Result):
        self.rate.tick()
        if not self.results.put(result):
            self.resultReady.emit()   # else a signal is already on its way


def _quit(worker: QObject) -> None:
    """End the event loop of the thread `worker` lives in."""
    thread = worker.thread()
    if thread is not None:      # (every worker here is moved to a thread first)
        thread.quit()
