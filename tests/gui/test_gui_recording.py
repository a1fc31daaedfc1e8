"""Recording a session from the window: the Record action and --record write the
same files as `process`, consistent whatever stops the recording."""

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from tests.conftest import video_frames  # noqa: E402
from tests.gui_support import (  # noqa: E402
    WAIT_MS,
    camera_opener,
    open_window,
    wait_frames,
    wait_message,
    write_clip,
)


def _check_recording(folder, video_name):
    """Every file there; the video, the CSV and the summary agree frame for frame."""
    names = {p.name for p in folder.iterdir()}
    assert names == {"detections.csv", "summary.json", "timeline.png", "markers.csv",
                     "report.html", video_name}
    summary = json.loads((folder / "summary.json").read_text())
    with open(folder / "detections.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert video_frames(folder / video_name) == summary["frames"] > 0
    assert len(rows) == summary["faces"]
    assert max(int(r["frame"]) for r in rows) < summary["frames"]
    return summary, rows


@pytest.fixture()
def clip(tmp_path):
    return write_clip(tmp_path / "clip.avi", frames=90)


def test_record_button_writes_a_session_folder(qtbot, tmp_path, clip, monkeypatch):
    from PyQt5.QtCore import QThread
    from PyQt5.QtWidgets import QApplication

    from app.gui import recorder

    on_gui_thread = []

    def report(folder):                      # the report is written off the GUI thread
        on_gui_thread.append(QThread.currentThread() is QApplication.instance().thread())
        return real_report(folder)

    def create(path):                        # and so is the folder made
        on_gui_thread.append(QThread.currentThread() is QApplication.instance().thread())
        return real_create(path)

    real_report, real_create = recorder.try_write_report, recorder.create_session_folder
    monkeypatch.setattr(recorder, "try_write_report", report)
    monkeypatch.setattr(recorder, "create_session_folder", create)
    win = open_window(qtbot, tmp_path, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 3, faces=True)
    assert "R" == win.acts.record.shortcut().toString()
    win.acts.record.trigger()
    assert win.recorder.active and win.acts.record.isChecked()
    wait_frames(qtbot, win, 20)
    qtbot.waitUntil(lambda: win.status.rec_label.text().startswith("\u25cf REC"), timeout=WAIT_MS)
    win.acts.record.trigger()                                 # stop
    assert not win.recorder.active
    qtbot.waitUntil(lambda: win.record_control.last is not None, timeout=WAIT_MS)
    folder = tmp_path / "snapshots"
    sessions = list(folder.glob("session_*"))
    assert len(sessions) == 1 and str(sessions[0]) == win.record_control.last[0]
    summary, rows = _check_recording(sessions[0], "clip_annotated.mp4")
    assert summary["frames"] >= 20 and summary["status"] == "complete"
    assert on_gui_thread == [False, False]
    times = sorted({float(r["time"]) for r in rows})
    assert times[0] >= 0 and all(b > a for a, b in zip(times, times[1:]))  # video time
    wait_message(qtbot, win, "Recording saved in", sessions[0].name)


def test_two_recordings_started_in_one_second_get_a_folder_each(qtbot, tmp_path, clip,
                                                                 monkeypatch):
    import datetime as dt

    from app.gui import recorder

    started = dt.datetime(2026, 12, 6, 12, 0, 0)                 # the same second twice
    named = recorder.session_folder
    monkeypatch.setattr(recorder, "session_folder", lambda root, when=None: named(root, started))
    # no --record here: it would start a recording of its own with the source
    win = open_window(qtbot, tmp_path, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 3, faces=True)
    folders = []
    for _ in range(2):
        win.acts.record.trigger()
        assert win.recorder.active
        wait_frames(qtbot, win, 5)
        win.acts.record.trigger()
        qtbot.waitUntil(lambda: win.record_control.last is not None
                        and win.record_control.last[0] not in folders, timeout=WAIT_MS)
        folders.append(win.record_control.last[0])
    first = tmp_path / "snapshots" / "session_20261206_120000"
    assert folders == [str(first), str(first.with_name(first.name + "_2"))]
    wait_message(qtbot, win, "Recording saved in", "session_20261206_120000_2")
    for folder in folders:                                    # each a whole recording
        summary = json.loads((Path(folder) / "summary.json").read_text())
        assert summary["frames"] >= 5 and summary["status"] == "complete"


def test_record_flag_records_until_the_window_closes(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path, loop=True, record_dir=tmp_path / "rec")
    win.start_source(clip)
    qtbot.waitUntil(lambda: win.recorder.active, timeout=WAIT_MS)
    wait_frames(qtbot, win, 15)
    win.close()                                              # finalises the files
    sessions = list((tmp_path / "rec").glob("session_*"))
    assert len(sessions) == 1
    summary, _ = _check_recording(sessions[0], "clip_annotated.mp4")
    assert summary["frames"] >= 15


def test_a_camera_unplugged_mid_recording_leaves_consistent_files(qtbot, tmp_path):
    opener = camera_opener(fail_after=40, realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener, record_dir=tmp_path / "rec")
    win.start_source(0)
    wait_message(qtbot, win, "stopped giving frames")
    assert not win.recorder.active and not win.acts.record.isChecked()
    qtbot.waitUntil(lambda: win.record_control.last is not None, timeout=WAIT_MS)
    summary, rows = _check_recording(next((tmp_path / "rec").glob("session_*")),
                                     "camera 0_annotated.mp4")
    assert summary["status"] == "failed" and "stopped giving frames" in summary["error"]


def test_record_without_a_running_source_says_so(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path)
    win.acts.record.trigger()
    assert not win.acts.record.isChecked() and not win.recorder.active
    assert "Nothing to record" in win.status.message.text()


def test_an_unwritable_record_folder_is_reported_and_nothing_is_lost(qtbot, tmp_path, clip):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    win = open_window(qtbot, tmp_path, loop=True, record_dir=blocker)
    win.start_source(clip)
    wait_message(qtbot, win, "cannot record into")
    assert not win.acts.record.isChecked()
    wait_frames(qtbot, win, 5)                               # the picture goes on


def test_a_full_disk_stops_the_recording_with_consistent_files(qtbot, tmp_path, clip,
                                                               monkeypatch):
    import errno

    from app.io import results

    real_add = results.ResultFiles.add
    calls = []

    def add_until_full(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(results.ResultFiles, "add", add_until_full)
    win = open_window(qtbot, tmp_path, loop=True, record_dir=tmp_path / "rec")
    win.start_source(clip)
    wait_message(qtbot, win, "recording stopped", "No space left")
    assert not win.recorder.active and not win.acts.record.isChecked()
    wait_frames(qtbot, win, 3)                               # the live view goes on
    # the report is the last file written, after summary.json
    qtbot.waitUntil(lambda: bool(list((tmp_path / "rec").glob("session_*/report.html"))),
                    timeout=WAIT_MS)
    summary, _ = _check_recording(next((tmp_path / "rec").glob("session_*")),
                                  "clip_annotated.mp4")
    assert summary["frames"] == 10 and summary["status"] == "failed"


def test_a_disk_slower_than_the_camera_skips_frames_and_says_so(qtbot, tmp_path, clip,
                                                                monkeypatch):
    import time

    from app.io import results

    real_add = results.ResultFiles.add

    def slow_add(self, *args, **kwargs):
        time.sleep(0.2)                                      # 5 frames/s on a 30 fps clip
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(results.ResultFiles, "add", slow_add)
    win = open_window(qtbot, tmp_path, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 2)
    win.acts.record.trigger()
    qtbot.waitUntil(lambda: "skipped: disk too slow" in win.status.rec_label.text(),
                    timeout=WAIT_MS)
    wait_frames(qtbot, win, 30)                              # the view did not freeze
    win.acts.record.trigger()
    qtbot.waitUntil(lambda: win.record_control.last is not None, timeout=WAIT_MS)
    assert "frames not recorded (the disk was too slow)" in win.status.message.text()
    summary, _ = _check_recording(Path(win.record_control.last[0]), "clip_annotated.mp4")
    assert summary["frames"] == win.recorder.frames          # every frame queued is there
