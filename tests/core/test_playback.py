"""The playback rules without Qt (app.core.playback): pacing (on an injected clock, no
sleeps), seek, loop, pause, one photo at a time, how a playback ends; and the frame
step (faces start afresh on a new scene or a photo). On real generated clips and
pictures; the window's engine runs the same code (tests/gui/test_engine_playback.py)."""

import queue
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from app.core.playback import Ending, FrameStep, Playback, PlaybackControl, SourceNews, describe
from app.io import synthetic
from app.io.sources import CameraSource, FrameSource, SourceError, open_source
from tests.conftest import REPO, wait_until
from tests.fakes import FakeCamera

WAIT = 10.0   # s; generous: a hang still fails


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A real 12-frame MJPG clip at 25 frames/s, and its frames as read in order."""
    path = tmp_path_factory.mktemp("playback") / "clip.avi"
    spec = synthetic.ClipSpec(frames=12, fps=25.0, width=160, height=120, face_size=60)
    synthetic.write_clip(path, [synthetic.drawn_face(60)], spec)
    with open_source(path) as source:
        frames = list(source)
    assert len(frames) == 12
    return path, frames


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A folder of three pictures, each its own shade so they can be told apart."""
    folder = tmp_path_factory.mktemp("photos")
    for i in range(3):
        frame = synthetic.paste_face(synthetic.background(160, 120, seed=i),
                                     synthetic.drawn_face(60), (80, 60), 60)
        assert cv2.imwrite(str(folder / f"p{i}.png"), frame)
    return folder


class FakeClock:
    """The playback's clock and sleep: time moves only when slept, or when a test
    moves it (a slow consumer)."""

    def __init__(self, start: float = 100.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.now += seconds
        return False


class Opener:
    """open_source, keeping every source opened (to see it closed)."""

    def __init__(self):
        self.opened = []

    def __call__(self, spec):
        source = open_source(spec)
        self.opened.append(source)
        return source


def same(a, b) -> bool:
    return np.array_equal(a, b)


def in_thread(playback: Playback, **kwargs):
    """Play in a thread; (queue of frames, the thread, {"ending": ...} once done)."""
    frames: queue.Queue[object] = queue.Queue()
    done: dict[str, object] = {}

    def run():
        done["ending"] = playback.play(frames.put, **kwargs)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return frames, thread, done


def quiet_for(frames: queue.Queue, seconds: float = 0.3) -> bool:
    """No frame comes within `seconds`."""
    try:
        frames.get(timeout=seconds)
    except queue.Empty:
        return True
    return False


# --------------------------------------------------------------------- pacing

def test_a_paced_video_is_read_at_its_own_rate(clip):
    path, originals = clip
    clock = FakeClock()
    got = list(Playback(path, paced=True, clock=clock, sleep=clock.sleep))
    assert [f.number for f in got] == list(range(1, 13))
    assert all(same(f.image, o) for f, o in zip(got, originals))
    assert np.diff([f.captured for f in got]) == pytest.approx([0.04] * 11)
    assert [f.time for f in got] == pytest.approx([i / 25 for i in range(12)])
    assert {f.scene for f in got} == {0} and not any(f.photo for f in got)


def test_a_late_frame_catches_up_at_most_one_interval(clip):
    """Held up 0.2 s after frame 3 (a slow reader): frame 4 comes at once, frame 5
    right after it (one interval caught up), then the rate again; the rest of the
    delay is let go rather than played fast."""
    clock = FakeClock()
    captured = []
    for frame in Playback(clip[0], paced=True, clock=clock, sleep=clock.sleep):
        captured.append(frame.captured)
        if frame.number == 3:
            clock.now += 0.2
    gaps = np.diff(captured)
    assert gaps[:2] == pytest.approx([0.04, 0.04])
    assert gaps[2] == pytest.approx(0.2)            # 3 -> 4: the hold-up itself
    assert gaps[3] == pytest.approx(0.0)            # 4 -> 5: one interval caught up
    assert gaps[4:] == pytest.approx([0.04] * 7)    # and on at the video's rate


def test_unpaced_playback_runs_flat_out(clip):
    clock = FakeClock()
    got = list(Playback(clip[0], clock=clock, sleep=clock.sleep))
    assert len(got) == 12 and clock.slept == []


def test_a_camera_is_never_paced():
    clock = FakeClock()
    control = PlaybackControl()

    def camera(spec):
        return CameraSource(0, capture_factory=FakeCamera.factory(fps=30.0), retry_delay=0.01)

    playback = Playback(0, opener=camera, control=control, paced=True, clock=clock,
                        sleep=clock.sleep)
    got = []
    for frame in playback:
        got.append(frame)
        clock.now += 0.25                # the consumer takes a quarter second
        if len(got) == 5:
            control.pause(True)          # a camera cannot pause: it goes on
        if len(got) == 10:
            control.stop()
    assert clock.slept == [] and [f.number for f in got] == list(range(1, 11))
    # a camera's time: seconds since it was opened, on the playback's clock
    assert [f.time for f in got] == [0.25 * i for i in range(10)]
    assert playback.ending == Ending(SourceNews.STOPPED)


# ------------------------------------------------------------------ seek, loop

def test_a_seek_reads_that_frame_next_in_a_new_scene(clip):
    path, originals = clip
    control = PlaybackControl()
    got = []
    for frame in Playback(path, control=control):
        got.append(frame)
        if frame.number == 3:
            control.seek(8)              # 0-based: the ninth frame
    assert [f.number for f in got] == [1, 2, 3, 9, 10, 11, 12]
    assert [f.scene for f in got] == [0, 0, 0, 1, 1, 1, 1]
    assert same(got[3].image, originals[8]) and same(got[-1].image, originals[11])


def test_a_seek_while_paused_shows_that_frame_and_stays_paused(clip):
    path, originals = clip
    control = PlaybackControl()
    control.pause(True)                  # paused from the start: nothing is read
    opener = Opener()
    frames, thread, done = in_thread(Playback(path, opener=opener, control=control))
    assert quiet_for(frames) and opener.opened[0].frames_read == 0
    control.seek(5)
    sought = frames.get(timeout=WAIT)
    assert (sought.number, sought.scene) == (6, 1) and same(sought.image, originals[5])
    assert quiet_for(frames)             # and nothing more while paused
    control.pause(False)                 # and plays on from there
    thread.join(WAIT)
    assert [f.number for f in frames.queue] == [7, 8, 9, 10, 11, 12]
    assert done["ending"].kind == "ended"


def test_a_pause_reads_nothing_until_play(clip):
    path, _ = clip
    control = PlaybackControl()
    opener = Opener()
    read_while_paused = []
    got = []

    def resume():
        read_while_paused.append(opener.opened[0].frames_read)
        control.pause(False)

    for frame in Playback(path, opener=opener, control=control):
        got.append(frame.number)
        if frame.number == 4:
            control.pause(True)
            threading.Timer(0.2, resume).start()
    assert read_while_paused == [4]              # paused after frame 4: nothing read
    assert got == list(range(1, 13))


def test_loop_plays_the_video_again_each_round_a_new_scene(clip):
    path, originals = clip
    control = PlaybackControl(loop=True)
    opener = Opener()
    got = []
    for frame in Playback(path, opener=opener, control=control):
        got.append(frame)
        if len(got) == 27:
            control.stop()
    assert [f.number for f in got] == [*range(1, 13), *range(1, 13), 1, 2, 3]
    assert [f.scene for f in got] == [0] * 12 + [1] * 12 + [2] * 3
    assert same(got[12].image, originals[0]) and same(got[23].image, originals[11])
    assert len(opener.opened) == 3 and all(s._closed for s in opener.opened)


def test_loop_turned_off_while_playing_ends_at_the_end(clip):
    control = PlaybackControl(loop=True)
    playback = Playback(clip[0], control=control)
    got = []
    for frame in playback:
        got.append(frame)
        if frame.scene == 1 and frame.number == 2:
            control.set_loop(False)
    assert len(got) == 24 and playback.ending.kind == "ended"


def test_a_single_image_does_not_loop(tmp_path, photos):
    image = next(photos.iterdir())
    playback = Playback(image, control=PlaybackControl(loop=True))
    got = list(playback)
    assert len(got) == 1
    assert playback.ending == Ending(SourceNews.STILL, f"{image.name}: still image")


# ---------------------------------------------------------------------- photos

def test_photos_one_at_a_time_then_a_seek_for_each(photos):
    control = PlaybackControl()
    playback = Playback(photos, control=control, hold_photos=True)
    frames, thread, done = in_thread(playback)
    first = frames.get(timeout=WAIT)
    assert (first.number, first.photo) == (1, True)
    assert (wait_until(lambda: control.paused, "the pause", timeout=WAIT)
            and quiet_for(frames))                       # waits for next / previous
    control.seek(2)                                      # the last one
    last = frames.get(timeout=WAIT)
    assert (last.number, last.photo) == (3, True) and quiet_for(frames)
    control.pause(False)                                 # past the last: stays on it
    assert (wait_until(lambda: control.paused, "the pause", timeout=WAIT)
            and quiet_for(frames) and thread.is_alive())
    control.seek(1)
    middle = frames.get(timeout=WAIT)
    assert middle.number == 2 and not same(middle.image, first.image)
    control.stop()
    thread.join(WAIT)
    assert done["ending"] == Ending(SourceNews.STOPPED)


def test_photos_flat_out_go_through_the_folder(photos):
    playback = Playback(photos)
    got = list(playback)
    assert [f.number for f in got] == [1, 2, 3] and all(f.photo for f in got)
    assert playback.ending == Ending(SourceNews.ENDED, f"{photos.name}: end of video (3 frames)")


# --------------------------------------------------------------------- endings

def test_a_video_ends_and_is_closed_before_play_returns(clip):
    opener = Opener()
    playback = Playback(clip[0], opener=opener)
    started: list[FrameSource] = []
    ending = playback.play(lambda frame: None, started=started.append)
    assert ending == Ending(SourceNews.ENDED, "clip.avi: end of video (12 frames)")
    assert started == opener.opened and opener.opened[0]._closed
    assert describe(started[0]) == {"name": "clip.avi", "live": False, "fps": 25.0,
                                    "frames": 12, "photos": False}


def test_a_video_that_breaks_off_fails_with_its_reason(clip, tmp_path):
    data = clip[0].read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 2 // 3])
    got: list[object] = []
    ending = Playback(cut).play(got.append)
    assert ending.kind == "failed" and "cut.avi: the video breaks off after" in ending.message
    assert 0 < len(got) < 12
    with pytest.raises(SourceError, match="breaks off"):   # iterating raises it (process)
        list(Playback(cut))


def test_a_file_that_is_no_video_fails_and_is_never_started(tmp_path):
    bad = tmp_path / "notes.avi"
    bad.write_bytes(b"not a video")
    started: list[object] = []
    ending = Playback(bad).play(lambda f: None, started=started.append)
    assert ending.kind == "failed" and "notes.avi: not a video" in ending.message
    assert started == []


class Empty(FrameSource):
    name, fps, frame_count = "empty", 25.0, None

    def read(self):
        return None


class Broken(Empty):
    name = "broken"

    def read(self):
        raise RuntimeError("driver fault")


def test_no_frames_at_all_and_a_fault_are_failures():
    assert Playback("x", opener=lambda s: Empty()).play(print) == \
        Ending(SourceNews.FAILED, "empty: no frames")
    assert Playback("x", opener=lambda s: Broken()).play(print) == \
        Ending(SourceNews.FAILED, "x: RuntimeError: driver fault")


def test_a_stop_ends_it_closed_and_a_stop_before_opening_starts_nothing(clip):
    control = PlaybackControl()
    opener = Opener()
    playback = Playback(clip[0], opener=opener, control=control)
    assert playback.play(lambda f: control.stop() if f.number == 2 else None) == \
        Ending(SourceNews.STOPPED)
    assert opener.opened[0]._closed and opener.opened[0].frames_read == 2

    control = PlaybackControl()
    started: list[object] = []
    control.stop()
    ending = Playback(clip[0], opener=opener, control=control).play(print, started.append)
    assert ending == Ending(SourceNews.STOPPED) and started == [] and opener.opened[-1]._closed


def test_an_opened_source_is_played_and_left_open(clip):
    with open_source(clip[0]) as source:
        got = list(Playback(source=source, control=PlaybackControl(loop=True)))
        assert len(got) == 12 and not source._closed     # and no loop: not ours to reopen


def test_playback_needs_no_qt():
    code = "import sys, app.core.playback; print('PyQt5' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stderr


# ------------------------------------------------------------------ frame step

class LoggingPipeline:
    """Logs "reset" and the frames given; `fail` raises instead."""

    def __init__(self):
        self.log = []
        self.fail = False

    def reset(self):
        self.log.append("reset")

    def process(self, frame, timestamp=None):
        if self.fail:
            raise ValueError("boom")
        self.log.append(int(frame[0, 0, 0]))
        return []

    def classify_whole(self, frame):
        self.log.append(("whole", int(frame[0, 0, 0])))
        return []


def image(value: int):
    return np.full((8, 8, 3), value, np.uint8)


def test_the_faces_start_afresh_on_a_new_scene_or_a_photo():
    pipe = LoggingPipeline()
    step = FrameStep(pipe)
    for value, scene, photo in [(1, 0, False), (2, 0, False), (3, 1, False), (4, 1, False),
                                (5, 1, True), (6, 1, True)]:
        step(image(value), scene, photo)
    assert pipe.log == ["reset", 1, 2, "reset", 3, 4, "reset", 5, "reset", 6]
    epoch = step.epoch
    other = LoggingPipeline()
    step.use(other)                        # a new pipeline: afresh, in the same scene too
    step(image(7), 1)
    assert other.log == ["reset", 7] and step.epoch == epoch + 2


def test_a_seek_and_a_loop_reach_the_pipeline_as_resets(clip):
    """Playback and frame step together, as process, bench and the window use them."""
    control = PlaybackControl(loop=True)
    pipe = LoggingPipeline()
    step = FrameStep(pipe)
    for frame in Playback(clip[0], control=control):
        step(frame.image, frame.scene, frame.photo, frame.time)
        if frame.scene == 0 and frame.number == 4:
            control.seek(9)
        if frame.scene == 2 and frame.number == 2:
            control.stop()
    # at the start; after the seek (frames 10-12 follow); after the loop back (1, 2)
    shape = "".join("R" if e == "reset" else "f" for e in pipe.log)
    assert shape == "RffffRfffRff"


def test_the_drawn_frame_and_a_failing_pipeline():
    pipe = LoggingPipeline()
    errors: list[object] = []
    step = FrameStep(pipe, on_error=errors.append)
    detections, drawn = step(image(1), 0)
    assert detections == [] and drawn is not None
    pipe.fail = True
    detections, drawn = step(image(2), 0)
    assert detections == [] and same(drawn, image(2))            # the frame goes on
    step(image(3), 0)
    assert errors == ["processing failed: ValueError: boom"]    # once, not every frame
    pipe.fail = False
    step(image(4), 0)
    pipe.fail = True
    step(image(5), 0)
    assert len(errors) == 2                                     # again after a good frame
    with pytest.raises(ValueError):
        FrameStep(pipe)(image(6), 0)                            # no on_error: it raises


def test_crops_are_classified_whole_and_no_pipeline_gives_no_faces():
    pipe = LoggingPipeline()
    FrameStep(pipe, crops=True)(image(9), 0, photo=True)
    assert pipe.log == [("whole", 9)]
    detections, drawn = FrameStep()(image(1), 0)
    assert detections == [] and same(drawn, image(1))
