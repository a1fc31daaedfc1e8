"""The engine on videos and folders of photos: a seek or a loop back to the start
begins a new scene (the faces are found afresh), and a picture that waits (a photo
of a folder, a paused frame) processed before the model had loaded is processed
again when it arrives."""

import threading

import numpy as np
import pytest

from app.gui.engine import VideoEngine
from app.io.sources import FrameSource
from tests.gui_support import WAIT_MS, open_window, wait_frames, write_image


class NumberedVideo(FrameSource):
    """A video file look-alike whose frame i is filled with the value i, and with the
    number of times the video was opened in its second channel (so a fake pipeline
    can tell which frame of which round it was given); seekable, as VideoSource is."""

    def __init__(self, frames: int, fps: float, opened: int = 1):
        super().__init__()
        self.name, self.fps, self.frame_count = "numbered", fps, frames
        self.total = frames     # (frame_count may be None for a source in general)
        self.opened = opened
        self._next = 0

    def seek(self, frame: int):
        self._next = self.frames_read = min(max(0, frame), self.total - 1)

    def read(self):
        if self._closed or self._next >= self.total:
            return None
        frame = np.full((24, 32, 3), self._next, np.uint8)
        frame[..., 1] = self.opened
        self._next += 1
        self.frames_read += 1
        return frame


class LoggingPipeline:
    """Stands in for EmotionPipeline: logs ("reset",) and ("frame", i, opened) in
    order. With `hold_from`, the first frame numbered that or more is held (`holding`
    is set) until `release` is set."""

    smoothing, sensitivity = True, 0.5
    timings: dict[str, float] = {}

    def __init__(self, hold_from=None):
        self.log = []
        self.lock = threading.Lock()
        self.hold_from = hold_from
        self.holding, self.release = threading.Event(), threading.Event()

    def reset(self):
        with self.lock:
            self.log.append(("reset",))

    def close(self):
        pass

    def process(self, frame, timestamp=None):
        index = int(frame[0, 0, 0])
        if self.hold_from is not None and index >= self.hold_from \
                and not self.release.is_set():
            self.holding.set()
            self.release.wait(30)
        with self.lock:
            self.log.append(("frame", index, int(frame[0, 0, 1])))
        return []

    def events(self) -> list:
        with self.lock:
            return list(self.log)

    def processed(self) -> list:
        return [e[1] for e in self.events() if e[0] == "frame"]

    def reset_before(self, position: int | None) -> bool:
        """Whether a reset came between log entry `position` (a frame) and the frame
        processed before it."""
        events = self.events()[:position]
        last_frame = max((i for i, e in enumerate(events) if e[0] == "frame"), default=-1)
        return ("reset",) in events[last_frame + 1:]


@pytest.fixture
def engine_with(qtbot):
    engines = []

    def make(*pipelines, frames=300, fps=100.0, loop=False):
        """An engine playing a NumberedVideo; each model load gives the next pipeline."""
        opened, loads = [], iter(pipelines)

        def opener(spec):
            opened.append(spec)
            return NumberedVideo(frames, fps, len(opened))

        engine = VideoEngine(opener=opener, loop=loop,
                             pipeline_factory=lambda *args: next(loads))
        engines.append(engine)
        qtbot.waitUntil(lambda: engine.processing.pipeline is pipelines[0], timeout=WAIT_MS)
        engine.start("numbered")
        return engine

    yield make
    for engine in engines:
        engine.shutdown()


def first_entry(pipe, index, after=0) -> int | None:
    """Log position of the first processing of frame `index` from position `after` on."""
    return next((i for i, e in enumerate(pipe.events())
                 if i >= after and e[:2] == ("frame", index)), None)


def test_a_seek_while_paused_starts_the_faces_afresh(qtbot, engine_with):
    pipe = LoggingPipeline()
    engine = engine_with(pipe)
    qtbot.waitUntil(lambda: len(pipe.processed()) >= 5, timeout=WAIT_MS)
    engine.pause(True)
    mark = len(pipe.events())
    engine.seek(150)
    qtbot.waitUntil(lambda: first_entry(pipe, 150, mark) is not None, timeout=WAIT_MS)
    assert pipe.reset_before(first_entry(pipe, 150, mark))
    # playing on from there is the same scene: no more resets
    after = len(pipe.events())
    engine.pause(False)
    qtbot.waitUntil(lambda: len(pipe.events()) > after + 5, timeout=WAIT_MS)
    assert ("reset",) not in pipe.events()[after:]


def test_a_seek_resets_even_when_its_frame_is_dropped(qtbot, engine_with):
    """Processing lags: the frame sought is replaced in the mailbox by the ones read
    after it before processing gets to it; the next frame processed still starts anew."""
    pipe = LoggingPipeline(hold_from=5)
    engine = engine_with(pipe)
    qtbot.waitUntil(pipe.holding.is_set, timeout=WAIT_MS)
    engine.seek(200)                       # while a frame is held in processing
    qtbot.waitUntil(lambda: engine.capture.last_packet.frame.number > 203, timeout=WAIT_MS)
    mark = len(pipe.events())
    pipe.release.set()
    qtbot.waitUntil(lambda: any(i > 200 for i in pipe.processed()), timeout=WAIT_MS)
    assert 200 not in pipe.processed()     # the frame sought itself was dropped
    first = next(i for i in pipe.processed() if i > 200)
    assert pipe.reset_before(first_entry(pipe, first, mark))


def test_a_loop_back_to_the_start_starts_the_faces_afresh(qtbot, engine_with):
    pipe = LoggingPipeline()
    engine_with(pipe, frames=6, fps=100.0, loop=True)

    def rounds():
        """Log positions of the frames processed, split where the round changes."""
        seen = [(pos, e[2]) for pos, e in enumerate(pipe.events()) if e[0] == "frame"]
        starts = [pos for (_, a), (pos, b) in zip(seen, seen[1:]) if b != a]
        return starts, [pos for pos, _ in seen[1:] if pos not in starts]

    qtbot.waitUntil(lambda: len(rounds()[0]) >= 3, timeout=WAIT_MS)
    starts, within = rounds()
    assert all(pipe.reset_before(pos) for pos in starts)
    # within one round the faces are followed from frame to frame: no reset
    assert within and not any(pipe.reset_before(pos) for pos in within)


# ------------------------------------------------ the model arrives after a picture

@pytest.fixture
def folder(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        write_image(photos / name)
    return photos


@pytest.mark.parametrize("loads", [True, False], ids=["model", "faces-only stand-in"])
def test_first_photo_of_a_folder_read_before_the_model_loaded(qtbot, tmp_path, folder,
                                                              loads):
    """The start-up race: the first photo is processed while the model still loads
    (no pipeline: no faces), and the folder then waits on that photo. When the model
    (or, if it fails, the faces-only stand-in) arrives, the photo is processed again."""
    from app.core.pipeline import EmotionPipeline

    release = threading.Event()

    def factory(path, smoothing, sensitivity):
        release.wait(30)
        if not loads:
            raise ValueError("not a model")
        return EmotionPipeline(model_path=path, smoothing=smoothing, sensitivity=sensitivity)

    win = open_window(qtbot, tmp_path, pipeline_factory=factory)
    win.start_source(folder)
    wait_frames(qtbot, win, 1)            # the first photo, shown without a pipeline
    assert win.last_result.detections == [] and win.engine.processing.pipeline is None
    assert win.engine.running             # the folder waits on it, it has not ended
    release.set()
    qtbot.waitUntil(lambda: bool(win.last_result.detections), timeout=WAIT_MS)
    assert win.last_result.number == 1 and win.review.position_text().startswith("1 ")
    assert win.frames_with_faces >= 1


def test_a_paused_frame_is_processed_again_by_a_new_model(qtbot, engine_with):
    """The window's reprocess() does nothing while the source runs, and a paused video
    sends no more frames: the processing worker itself shows the new model's faces."""
    first, second = LoggingPipeline(), LoggingPipeline()
    engine = engine_with(first, second)
    qtbot.waitUntil(lambda: len(first.processed()) >= 3, timeout=WAIT_MS)
    engine.pause(True)
    engine.seek(100)
    qtbot.waitUntil(lambda: 100 in first.processed(), timeout=WAIT_MS)
    engine.load_model("another model")
    qtbot.waitUntil(lambda: engine.processing.pipeline is second, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: second.processed() != [], timeout=WAIT_MS)
    assert second.processed() == [100] and first.processed()[-1] == 100
