"""Everything that can go wrong with a source or the model, and closing the window at
any moment: a clear message in the window, the app keeps running, the user can
pick another source, and every thread stops."""

import logging
import threading
import time

import pytest

from tests.gui_support import (
    WAIT_MS,
    camera_opener,
    open_window,
    threads_stopped,
    wait_frames,
    wait_message,
    wait_model,
    write_clip,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "face.avi", frames=45)


def assert_recovers(qtbot, win, clip):
    """After the failure the window still works: another source plays."""
    shown = win.frames_shown
    win.start_source(clip)
    qtbot.waitUntil(lambda: win.frames_shown > shown + 2, timeout=WAIT_MS)
    assert win.view.overlay == "" and not win.status.is_error


def assert_failure_shown(qtbot, win, *words):
    text = wait_message(qtbot, win, *words)
    assert win.status.is_error
    assert all(w in win.view.overlay for w in words), win.view.overlay
    assert "open a video or image" in win.view.overlay
    assert win.isVisible()
    return text


def test_no_camera(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path, opener=camera_opener(cameras={}))
    win.start_source(0)
    assert_failure_shown(qtbot, win, "camera 0", "cannot open")
    assert_recovers(qtbot, win, clip)


def test_busy_camera_then_another_camera(qtbot, tmp_path):
    opener = camera_opener(cameras={0: {"opens": False}, 1: {}})
    win = open_window(qtbot, tmp_path, opener=opener)
    win.start_source("0")
    assert_failure_shown(qtbot, win, "camera 0", "another program is using it")
    win.start_source("1")
    wait_frames(qtbot, win, 3)
    assert win.view.overlay == "" and "camera 1" in win.status.message.text()


def test_camera_unplugged_while_running(qtbot, tmp_path, clip):
    opener = camera_opener(fail_after=20, realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener)
    win.start_source(0)
    wait_frames(qtbot, win, 3)
    assert_failure_shown(qtbot, win, "camera 0", "stopped giving frames", "unplugged")
    assert win.last_result is not None           # the last picture stays
    assert opener.made[0].released               # the camera is given back
    assert not win.engine.running and win.acts.start.text() == "&Start"
    assert_recovers(qtbot, win, clip)


def test_camera_that_stalls(qtbot, tmp_path, clip):
    opener = camera_opener(stall_after=5, stall_for=2.0, stall_timeout=0.5)
    win = open_window(qtbot, tmp_path, opener=opener)
    win.start_source(0)
    assert_failure_shown(qtbot, win, "camera 0", "stalled")
    assert_recovers(qtbot, win, clip)


def test_camera_that_gives_no_frames(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path, opener=camera_opener(no_frames=True))
    win.start_source(0)
    assert_failure_shown(qtbot, win, "camera 0", "returns no frames")


def test_video_that_ends(qtbot, tmp_path):
    short = write_clip(tmp_path / "short.avi", frames=12)
    win = open_window(qtbot, tmp_path)
    win.start_source(short)
    text = wait_message(qtbot, win, "short.avi", "end of video")
    assert not win.status.is_error and "Start" in text
    assert win.frames_shown >= 1 and win.view.image is not None   # last picture kept
    assert not win.engine.running and win.acts.start.text() == "&Start"
    shown = win.frames_shown
    win.acts.start.trigger()                                      # plays it again
    qtbot.waitUntil(lambda: win.frames_shown > shown + 2, timeout=WAIT_MS)


@pytest.mark.parametrize("content, words", [
    (b"this is not a video at all" * 50, ("broken.avi", "corrupt")),
    (b"", ("broken.avi", "empty")),
])
def test_unreadable_file(qtbot, tmp_path, clip, content, words):
    bad = tmp_path / "broken.avi"
    bad.write_bytes(content)
    win = open_window(qtbot, tmp_path)
    win.start_source(bad)
    assert_failure_shown(qtbot, win, *words)
    assert_recovers(qtbot, win, clip)


def test_missing_file(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(tmp_path / "gone.mp4")
    assert_failure_shown(qtbot, win, "gone.mp4", "no such file")
    assert_recovers(qtbot, win, clip)


def test_corrupt_image(qtbot, tmp_path):
    bad = tmp_path / "photo.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    win = open_window(qtbot, tmp_path)
    win.start_source(bad)
    assert_failure_shown(qtbot, win, "photo.jpg", "corrupt")


@pytest.mark.parametrize("name, content, words", [
    ("missing.tflite", None, ("model file not found", "missing.tflite")),
    ("corrupt.tflite", b"\x00garbage" * 100, ("corrupt.tflite",)),
])
def test_missing_or_corrupt_model(qtbot, tmp_path, clip, name, content, words):
    model = tmp_path / name
    if content is not None:
        model.write_bytes(content)
    win = open_window(qtbot, tmp_path, model_path=model)
    win.start_source(clip)
    qtbot.waitUntil(lambda: all(w in win.view.banner for w in words), timeout=WAIT_MS)
    assert "Emotion model not loaded" in win.view.banner and "Load model" in win.view.banner
    # the picture still runs, without emotions: faces are still boxed, labelled "face"
    wait_frames(qtbot, win, 3, faces=True)
    det = win.last_result.detections[0]
    assert det.label == "face" and det.probabilities == (0.0,) * 7
    # the status bar says so as well, also with later news from the source
    wait_message(qtbot, win, "end of video", "Emotion model not loaded", *words)
    assert win.status.is_error
    win.start_source(clip)
    # loading the shipped model from the menu brings the emotions back
    from model.runtime.classifier import DEFAULT_MODEL

    # read as it arrives: the clip may end, and say so, before the model loads
    with qtbot.waitSignal(win.engine.modelLoaded, timeout=WAIT_MS):
        win.model.load(DEFAULT_MODEL)
    assert "Emotion model loaded: emotion_cnn.tflite" in win.status.message.text()
    assert win.view.banner == ""
    win.start_source(clip)
    wait_frames(qtbot, win, 2, faces=True)


def test_processing_error_is_shown_and_the_picture_goes_on(qtbot, tmp_path, clip):
    class Broken:
        timings = {}
        sensitivity = 0.5
        smoothing = True

        def reset(self):
            pass

        def close(self):
            pass

        def process(self, frame, timestamp=None):
            raise ValueError("boom")

    win = open_window(qtbot, tmp_path, pipeline_factory=lambda *a: Broken())
    win.start_source(clip)
    wait_message(qtbot, win, "processing failed", "boom")
    wait_frames(qtbot, win, 3)


# ------------------------------------------------------------------ shutdown

def test_close_waits_for_a_slow_frame_in_flight(qtbot, tmp_path, clip, caplog):
    """A frame that takes 1.5 s (longer than the capture thread's 0.45 s bound) is
    finished, not cut off: the processing thread ends, nothing is left running."""
    from app.core.pipeline import EmotionPipeline

    in_frame = threading.Event()

    class Slow(EmotionPipeline):
        def process(self, frame, timestamp=None):
            in_frame.set()
            time.sleep(1.5)
            return super().process(frame, timestamp)

    caplog.set_level(logging.WARNING)
    win = open_window(qtbot, tmp_path, loop=True,
                      pipeline_factory=lambda path, smoothing, sensitivity: Slow(path))
    win.start_source(clip)
    in_frame.clear()
    assert in_frame.wait(20)                 # a frame is being processed now
    started = time.monotonic()
    close_and_check(qtbot, win, caplog)
    assert time.monotonic() - started > 0.5  # it waited for that frame
    assert win.engine.processing_thread.isFinished()


def close_and_check(qtbot, win, caplog):
    win.close()
    assert threads_stopped(win)
    assert not [r for r in caplog.records if "did not stop" in r.getMessage()]


def test_close_while_camera_runs_releases_it(qtbot, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    opener = camera_opener(realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener)
    win.start_source(0)
    wait_frames(qtbot, win, 5)
    close_and_check(qtbot, win, caplog)
    assert [cam.released for cam in opener.made] == [True]


def test_close_right_after_start_stops_everything(qtbot, tmp_path, clip, caplog):
    """Closed while the model may still load and the source still opens."""
    caplog.set_level(logging.WARNING)
    opener = camera_opener(realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener)
    win.start_source(0)
    close_and_check(qtbot, win, caplog)
    qtbot.waitUntil(lambda: all(cam.released for cam in opener.made), timeout=WAIT_MS)


def test_close_while_video_plays(qtbot, tmp_path, clip, caplog):
    caplog.set_level(logging.WARNING)
    win = open_window(qtbot, tmp_path, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 5)
    close_and_check(qtbot, win, caplog)


def test_close_with_a_stalled_camera_does_not_hang(qtbot, tmp_path, caplog):
    """A driver read that never returns: the window still closes at once; the stuck
    daemon reader is left behind (it dies with the program)."""
    opener = camera_opener(stall_after=15, stall_for=30.0, stall_timeout=20.0, realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener)
    wait_model(qtbot, win)
    win.start_source(0)
    wait_frames(qtbot, win, 2)
    qtbot.waitUntil(lambda: opener.made[0].reads > 15, timeout=WAIT_MS)   # now stuck
    win.close()
    assert win.engine.processing_thread.isFinished()
    assert "did not stop" in caplog.text   # and it said so
    opener.made[0].release()               # let the fake's reader go for the next tests


def test_picture_shows_while_a_slow_model_loads_and_close_does_not_wait(qtbot, tmp_path,
                                                                       clip, caplog):
    """A model that takes long to load (a .keras file imports TensorFlow): frames are
    shown meanwhile, without emotions, and closing does not wait for the load: the
    loader's thread is left to finish (never destroyed while running)."""
    from app.core.pipeline import EmotionPipeline

    release = threading.Event()

    def slow_factory(path, smoothing, sensitivity):
        release.wait(30)
        return EmotionPipeline(model_path=path, smoothing=smoothing, sensitivity=sensitivity)

    caplog.set_level(logging.WARNING)
    win = open_window(qtbot, tmp_path, pipeline_factory=slow_factory, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 5)
    assert win.frames_with_faces == 0 and win.engine.processing.pipeline is None
    release.set()                                   # the model arrives: emotions appear
    wait_frames(qtbot, win, 3, faces=True)
    # and again, closing while another load is under way
    release.clear()
    win.model.load(None)
    qtbot.waitUntil(lambda: win.engine.loading > 0, timeout=WAIT_MS)
    started = time.monotonic()
    win.close()
    engine = win.engine
    assert time.monotonic() - started < 3.0          # not the 30 s the load could take
    assert engine.capture_thread.isFinished() and engine.processing_thread.isFinished()
    assert engine.loader_thread.isRunning()          # kept alive, not destroyed mid-load
    assert "the model loader did not stop" in caplog.text
    release.set()                                    # the load ends; so does its thread
    qtbot.waitUntil(engine.loader_thread.isFinished, timeout=WAIT_MS)


def test_a_bad_model_file_keeps_the_working_model(qtbot, tmp_path, clip):
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"TFL3" + bytes(64))
    win = open_window(qtbot, tmp_path, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 3, faces=True)
    working = win.engine.processing.pipeline
    win.model.load(bad)
    wait_message(qtbot, win, "Emotion model not loaded", "broken.tflite",
                 "Still using emotion_cnn.tflite")
    assert win.engine.processing.pipeline is working and win.view.banner == ""
    wait_frames(qtbot, win, 3, faces=True)          # emotions go on
    win.acts.shipped_model.trigger()                 # and the way back is one click
    wait_message(qtbot, win, "Emotion model loaded: emotion_cnn.tflite")
