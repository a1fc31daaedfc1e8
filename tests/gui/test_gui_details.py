"""Window details found when it was driven by hand: where the status says the
picture is after a seek or a photo step while paused; a recording with a pause (its
summary says what each figure means, REC says it is paused and stops counting, the
length agrees with the video file); the side panel's titles fit at the default size."""

import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PyQt5.QtCore import QRect, Qt  # noqa: E402

from tests.conftest import video_frames  # noqa: E402
from tests.gui_support import (  # noqa: E402
    WAIT_MS,
    open_window,
    wait_frames,
    wait_message,
    write_clip,
    write_photos,
)

FPS = 30.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "clip.avi", frames=150, fps=FPS)


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def test_after_a_seek_while_paused_the_status_says_where_the_picture_is(qtbot, tmp_path,
                                                                        clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(clip)
    wait_frames(qtbot, win, 5)
    win.acts.pause.trigger()                                  # P
    wait_message(qtbot, win, "Paused at")
    win.review_control.seek(30)                               # 0:01, still paused
    qtbot.waitUntil(lambda: win.last_result.number == 31, timeout=WAIT_MS)
    wait_message(qtbot, win, "Paused at 0:01 / 0:05")
    win.acts.next.trigger()                                   # Right: a second on
    qtbot.waitUntil(lambda: win.last_result.number == 61, timeout=WAIT_MS)
    text = wait_message(qtbot, win, "Paused at 0:02")
    # the status, the seek bar and the picture's own time say the same place
    assert text == f"Paused at {clock(win.last_result.time)} / 0:05"
    assert win.review.where.text() == "0:02 / 0:05" and win.review.slider.value() == 60


def test_a_photo_step_says_which_photo_is_shown(qtbot, tmp_path):
    folder = write_photos(tmp_path / "photos", size=(320, 240), face=100, x0=120, dx=30)
    win = open_window(qtbot, tmp_path)
    win.start_source(folder)
    qtbot.waitUntil(lambda: win.last_result is not None, timeout=WAIT_MS)
    win.acts.next.trigger()
    qtbot.waitUntil(lambda: win.last_result.number == 2, timeout=WAIT_MS)
    wait_message(qtbot, win, "Photo 2 / 3 of photos")


def test_a_recording_with_a_pause(qtbot, tmp_path, clip):
    """Paused mid-recording: REC says so and stops counting; summary.json gives the
    pause and the recording's own rate apart from the time spent on the frames."""
    win = open_window(qtbot, tmp_path, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 3)
    win.acts.record.trigger()
    wait_frames(qtbot, win, 20)
    win.acts.pause.trigger()
    qtbot.waitUntil(lambda: "paused with the video" in win.status.rec_label.text(),
                    timeout=WAIT_MS)
    # a frame read just before the pause may still be on its way: let it land
    with qtbot.assertNotEmitted(win.engine.position, wait=1000):
        pass
    rec = win.status.rec_label.text()
    frames = win.recorder.frames
    assert rec.startswith("\u25cf REC 0:0")
    # a second and a half more paused: no frame comes, nothing is recorded, REC stands still
    with qtbot.assertNotEmitted(win.engine.position, wait=1500):
        pass
    assert win.recorder.frames == frames and win.status.rec_label.text() == rec
    assert rec == f"\u25cf REC {clock(frames / FPS)} \u00b7 paused with the video"
    win.acts.pause.trigger()                                  # play on
    wait_frames(qtbot, win, 20)
    assert "paused" not in win.status.rec_label.text()
    win.acts.record.trigger()                                 # stop
    qtbot.waitUntil(lambda: win.record_control.last is not None, timeout=WAIT_MS)
    folder, summary = win.record_control.last
    on_disk = json.loads((Path(folder) / "summary.json").read_text())
    assert on_disk == summary
    # the video holds what the summary says: its frames, at the clip's rate
    assert video_frames(Path(folder) / "clip_annotated.mp4") == summary["frames"] \
        == win.recorder.frames
    assert summary["duration_s"] == round(summary["frames"] / FPS, 3)
    recording = summary["recording"]
    assert 2.4 <= recording["paused_s"] < recording["seconds"]
    playing = recording["seconds"] - recording["paused_s"]
    assert recording["fps"] == pytest.approx(summary["frames"] / playing, rel=0.01)
    # "processing": the time spent on the recorded frames (as `process` measures its
    # own), not the wall clock: far less than the time played, let alone the pause
    processing = summary["processing"]
    assert processing["seconds"] < playing
    assert processing["ms_per_frame"] == pytest.approx(
        1000 * processing["seconds"] / summary["frames"], rel=0.01)
    assert processing["fps"] == pytest.approx(summary["frames"] / processing["seconds"],
                                              rel=0.01)


def fits(label) -> bool:
    """The label's whole text fits in it (wrapped at its width when it wraps)."""
    area = label.contentsRect()
    flags = Qt.TextFlag.TextWordWrap if label.wordWrap() else 0
    needed = label.fontMetrics().boundingRect(QRect(0, 0, area.width(), 100000), flags,
                                              label.text())
    return needed.width() <= area.width() and needed.height() <= area.height()


def test_the_side_panels_titles_fit_at_the_default_size(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path)
    assert (win.width(), win.height()) == (1100, 700)         # the default size
    win.start_source(clip)
    title = win.panel.timeline_title
    qtbot.waitUntil(lambda: title.text() == "Emotion since the start of the video",
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: fits(title), timeout=WAIT_MS)
    win.acts.valence.trigger()
    assert title.text() == "Valence since the start of the video"
    qtbot.waitUntil(lambda: fits(title), timeout=WAIT_MS)
    # narrower still (near the panel's least width): it wraps rather than being cut
    win.resize(600, 700)
    qtbot.waitUntil(lambda: win.panel.width() < 300, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: fits(title), timeout=WAIT_MS)
    assert title.height() > 1.5 * title.fontMetrics().height()      # on two lines
