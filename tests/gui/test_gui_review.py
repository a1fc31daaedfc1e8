"""Reviewing files in the window: pause, seek, loop for videos; one photo at a time
with next/previous for a folder, nothing carried from one photo to the next."""

import pytest

pytest.importorskip("pytestqt")

from tests.gui_support import WAIT_MS, open_window, wait_frames, write_clip, write_photos  # noqa: E402


@pytest.fixture()
def clip(tmp_path):
    return write_clip(tmp_path / "clip.avi", frames=120)


def test_pause_seek_and_loop_a_video(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(clip)
    qtbot.waitUntil(lambda: win.review.isVisible(), timeout=WAIT_MS)
    assert win.review.slider.maximum() == 119 and win.review.where.text().endswith("/ 0:04")
    wait_frames(qtbot, win, 5)
    win.acts.pause.trigger()                                  # P
    assert win.acts.pause.isChecked() and win.review.play.isChecked()
    win.review_control.seek(90)                               # the seek bar, while paused
    qtbot.waitUntil(lambda: win.last_result.number == 91, timeout=WAIT_MS)
    with qtbot.assertNotEmitted(win.engine.position, wait=500):
        pass                                                  # nothing new while paused
    assert win.last_result.number == 91
    assert win.review.slider.value() == 90 and win.review.where.text().startswith("0:03")
    assert win.last_result.time == pytest.approx(3.0)
    assert win.panel.timeline.mode == "video"
    win.acts.loop.trigger()                                   # L: loop, then play on
    win.acts.pause.trigger()
    qtbot.waitUntil(lambda: win.last_result.number < 50, timeout=WAIT_MS)   # went round
    assert win.engine.running and win.review.loop.isChecked()


def test_a_folder_of_photos_one_at_a_time(qtbot, tmp_path):
    folder = write_photos(tmp_path / "photos", ("neutral", "happy", "sad"))
    win = open_window(qtbot, tmp_path)
    win.start_source(folder)
    qtbot.waitUntil(lambda: win.review.where.text() == "1 / 3", timeout=WAIT_MS)
    assert win.review.next.isVisible() and not win.review.loop.isVisible()
    qtbot.waitUntil(lambda: win.last_result is not None, timeout=WAIT_MS)
    with qtbot.assertNotEmitted(win.engine.position, wait=500):
        pass                                                  # it waits on the first photo
    assert win.last_result.number == 1
    win.acts.next.trigger()                                   # Right
    qtbot.waitUntil(lambda: win.review.where.text() == "2 / 3", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: win.last_result.number == 2, timeout=WAIT_MS)
    # no smoothing carried from the first photo: the face is a new track, read afresh
    det = win.last_result.detections[0]
    assert det.track_id == 1 and det.probabilities == det.raw_probabilities
    win.acts.next.trigger()
    win.acts.next.trigger()                                   # past the end: stays on the last
    qtbot.waitUntil(lambda: win.review.where.text() == "3 / 3", timeout=WAIT_MS)
    win.acts.prev.trigger()                                   # Left
    qtbot.waitUntil(lambda: win.review.where.text() == "2 / 3", timeout=WAIT_MS)
    assert win.engine.running


def test_dropping_a_file_opens_it_and_recent_lists_it(qtbot, tmp_path, clip):
    from PyQt5.QtCore import QMimeData, QPoint, Qt, QUrl
    from PyQt5.QtGui import QDragEnterEvent, QDropEvent

    win = open_window(qtbot, tmp_path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter.setAccepted(False)
    win.dragEnterEvent(enter)
    assert enter.isAccepted()
    win.dropEvent(QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime,
                             Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    qtbot.waitUntil(lambda: win.last_result is not None and win.last_result.source == "clip.avi",
                    timeout=WAIT_MS)
    other = write_clip(tmp_path / "other.avi", frames=30)
    win.start_source(other)
    assert win.settings.recent[:2] == [str(other), str(clip)]
    names = [a.text() for a in win.recent_menu.actions()]
    assert names[:2] == ["other.avi", "clip.avi"]
    win.recent_menu.actions()[1].trigger()                   # back to the first one
    assert win.current_spec == str(clip)
    empty = QMimeData()
    empty.setText("not a file")
    refused = QDragEnterEvent(QPoint(1, 1), Qt.DropAction.CopyAction, empty,
                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    refused.setAccepted(False)
    win.dragEnterEvent(refused)
    assert not refused.isAccepted()


def test_camera_resolution_is_asked_for_and_remembered(qtbot, tmp_path):
    from tests.gui_support import camera_opener

    win = open_window(qtbot, tmp_path, opener=camera_opener(realtime=True))
    win.start_source(0)
    qtbot.waitUntil(lambda: "at 640x480" in win.status.message.text(), timeout=WAIT_MS)
    hd = next(a for a in win.acts.resolutions.actions() if a.data() == (1280, 720))
    hd.trigger()                                             # reopens the camera
    qtbot.waitUntil(lambda: win.last_result is not None
                    and win.last_result.raw.shape[:2] == (720, 1280), timeout=WAIT_MS)
    assert "at 1280x720" in win.status.message.text() and hd.isChecked()
    assert win.settings.camera_size == (1280, 720)
    own = win.acts.resolutions.actions()[0]
    own.trigger()
    assert win.settings.camera_size is None and win.engine.camera_size is None
