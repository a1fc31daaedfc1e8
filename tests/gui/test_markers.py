"""Markers (keys 1..9, Add marker… with a text) and the side panel's timeline in the
source's own time: markers go into a recording's markers.csv, onto the panel's
timeline and the recording's timeline.png, out to the live feeds and into snapshots;
the timeline runs from 0:00 to the position in a video, over the last minute of a
camera, and without a time axis for photos."""

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PyQt5.QtCore import Qt, QTimer  # noqa: E402
from PyQt5.QtWidgets import QApplication, QInputDialog  # noqa: E402

from app.gui.actions import shortcut_rows  # noqa: E402
from app.gui.timeline import Timeline, TimelineMode  # noqa: E402
from app.io.charts import MARKER_COLOR, marker_x  # noqa: E402
from app.io.results import MARKER_COLUMNS, ResultFiles  # noqa: E402
from app.nouns import Marker  # noqa: E402
from tests.gui_support import (  # noqa: E402
    WAIT_MS,
    camera_opener,
    open_window,
    wait_frames,
    wait_message,
    write_clip,
    write_photos,
)

FPS = 30.0


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


class FakeFeeds:
    """Stands in for app.io.feeds.Feeds: keeps the markers; anything else does nothing."""

    def __init__(self):
        self.markers = []

    def marker(self, marker):
        self.markers.append((marker.time, marker.frame, marker.number, marker.text))

    def __getattr__(self, name):
        return lambda *args, **kwargs: ""


@pytest.fixture()
def clip(tmp_path):
    return write_clip(tmp_path / "clip.avi", frames=150, fps=FPS)


def press(qtbot, win, key: int) -> dict:
    """Press a digit key over the picture; the frame shown then, and the marker."""
    shown = win.last_result
    qtbot.keyClick(win.view, Qt.Key.Key_0 + key)
    assert win.markers.last is not None and win.markers.last.number == key
    return {"seq": shown.number, "marker": win.markers.last.to_dict()}


def black_in_column(image, x, top, bottom) -> int:
    column = image[top:bottom, x].astype(int)
    return int(np.all(np.abs(column - np.array(MARKER_COLOR)) <= 30, axis=1).sum())


def test_keys_1_to_9_mark_the_recording_the_panel_the_feeds_and_the_plot(qtbot, tmp_path,
                                                                         clip):
    feeds = FakeFeeds()
    win = open_window(qtbot, tmp_path, record_dir=tmp_path / "rec", feeds=feeds)
    win.start_source(clip)
    qtbot.waitUntil(lambda: win.recorder.active, timeout=WAIT_MS)
    wait_frames(qtbot, win, 20, faces=True)
    first = press(qtbot, win, 1)
    wait_frames(qtbot, win, 25, faces=True)
    second = press(qtbot, win, 2)
    assert second["seq"] > first["seq"]
    wait_frames(qtbot, win, 5)
    win.acts.record.trigger()                                   # stop: the files are written
    qtbot.waitUntil(lambda: win.record_control.last is not None, timeout=WAIT_MS)
    folder, summary = win.record_control.last
    folder = Path(folder)
    assert folder.parent == tmp_path / "rec"

    # the marker is at the source's time of the frame shown when the key was pressed
    for pressed in (first, second):
        m = pressed["marker"]
        assert m["frame"] == pressed["seq"]
        assert m["time_s"] == round((pressed["seq"] - 1) / FPS, 3)
    # markers.csv: time, frame, number, text; the frame is detections.csv's, on which
    # the face rows have the marker's time
    markers = read_rows(folder / "markers.csv")
    assert list(markers[0]) == MARKER_COLUMNS == ["time", "frame", "number", "text"]
    assert [(float(r["time"]), int(r["number"]), r["text"]) for r in markers] == \
        [(p["marker"]["time_s"], n, "") for n, p in ((1, first), (2, second))]
    detections = read_rows(folder / "detections.csv")
    for row in markers:
        times = {float(d["time"]) for d in detections if d["frame"] == row["frame"]}
        assert times == {float(row["time"])}
    frames = [int(r["frame"]) for r in markers]
    assert 10 <= frames[0] < frames[1] < summary["frames"]
    assert summary["markers"] == 2 and "markers.csv" in summary["outputs"]
    # report.html, written with the other files off the GUI thread, names them
    from app.report.page import clock

    page = (folder / "report.html").read_text(encoding="utf-8")
    for row in markers:
        assert f"<tr><td>{clock(float(row['time']))}</td><td>{row['number']}</td></tr>" in page
    assert summary["settings"]["smoothing"] is True and summary["model"]["path"]

    # the side panel's timeline has them (and draws them: they are on its axis)
    assert [(t, n) for t, n, _ in win.panel.timeline.markers] == \
        [(pytest.approx(p["marker"]["time_s"], abs=1e-3), n)
         for n, p in ((1, first), (2, second))]
    timeline = win.panel.timeline
    assert all(timeline.x_fraction(t) is not None for t, _, _ in timeline.markers)
    # the live feeds got them (from the processing thread): time, the source's frame,
    # number, text
    qtbot.waitUntil(lambda: len(feeds.markers) == 2, timeout=WAIT_MS)
    assert feeds.markers == [(pytest.approx(p["marker"]["time_s"], abs=1e-3), p["seq"], n, "")
                             for n, p in ((1, first), (2, second))]

    # timeline.png: a vertical black line across the plot at each marker's frame
    image = cv2.imread(str(folder / "timeline.png"))
    height, width = image.shape[:2]
    top, bottom = 40, height - 70                              # the plot (charts.line_chart)
    span = summary["frames"] / FPS
    xs = [marker_x(f / FPS, span, width) for f in frames]
    assert xs[1] - xs[0] > 20
    for x in xs:
        assert black_in_column(image, x, top + 20, bottom - 1) > 0.85 * (bottom - top - 21)
        assert black_in_column(image, x + 8, top + 20, bottom - 1) < 0.1 * (bottom - top)


def test_a_text_marker_is_asked_for_while_the_picture_goes_on(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path, loop=True)
    win.start_source(clip)
    wait_frames(qtbot, win, 10, faces=True)
    press(qtbot, win, 3)
    asked_at = win.last_result
    seen: dict[str, int] = {}
    waited = [0]            # ms the dialog has been polled

    def answer():          # runs in the dialog's own event loop
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            return
        seen.setdefault("start", win.frames_shown)
        if win.frames_shown >= seen["start"] + 10 or waited[0] > 15000:
            poll.stop()
            seen["frames"] = win.frames_shown - seen["start"]
            dialog.setTextValue("  scene   change ")
            dialog.accept()
        waited[0] += poll.interval()

    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(answer)
    poll.start()
    win.acts.marker_text.trigger()                              # returns once answered
    assert seen["frames"] >= 10                                # frames went on meanwhile
    marker = win.markers.last.to_dict()
    assert marker["number"] == 0 and marker["text"] == "scene change"
    assert marker["frame"] == asked_at.number                     # the moment it was asked
    assert marker["time_s"] == round(asked_at.time, 3)
    assert win.panel.timeline.markers[-1][1:] == (0, "scene change")

    win.acts.snapshot.trigger()
    qtbot.waitUntil(lambda: win.snapshots.last is not None, timeout=WAIT_MS)
    record = json.loads(win.snapshots.last.record.read_text())
    assert record["marker"] == marker                          # the last marker, not 3
    assert record["marker"]["time_s"] <= record["frame"]["source_time_s"]


def test_marker_keys_do_not_clash_with_the_camera_keys(qtbot, tmp_path):
    opener = camera_opener(cameras={0: {"realtime": True}, 2: {"realtime": True}})
    win = open_window(qtbot, tmp_path, opener=opener, cameras=[0, 2])
    win.cameras.refresh()
    qtbot.waitUntil(lambda: len(win.cameras.actions.actions()) == 2, timeout=WAIT_MS)
    rows = dict(shortcut_rows(win))
    assert rows["Marker 1"].split(", ")[0] == "1" and rows["Marker 9"].startswith("9")
    assert rows["Add marker"] == "Ctrl+M" and rows["Valence timeline"] == "V"
    keys = [k for _, ks in shortcut_rows(win) for k in ks.split(", ")]
    keys += [a.shortcut().toString() for a in win.cameras.actions.actions()]
    assert "Ctrl+2" in keys and len(keys) == len(set(keys)), "a key is bound twice"

    win.start_source(0)
    wait_frames(qtbot, win, 3)
    qtbot.keyClick(win.view, Qt.Key.Key_2)                         # a marker, not camera 2
    assert win.current_spec == "0" and win.markers.last.number == 2
    qtbot.keyClick(win.view, Qt.Key.Key_2,
                   Qt.KeyboardModifier.ControlModifier)          # camera 2, not a marker
    wait_message(qtbot, win, "camera 2")
    assert win.current_spec == "2" and win.markers.last is None   # a new source: none yet
    assert win.panel.timeline.markers == []


# ---------------------------------------------------- the timeline's own time

def test_a_videos_timeline_runs_from_0_00_to_where_it_is(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(clip)
    wait_frames(qtbot, win, 20, faces=True)
    win.acts.pause.trigger()
    win.review_control.seek(30)                                # 1.0 s, shown while paused
    qtbot.waitUntil(lambda: win.last_result.number == 31, timeout=WAIT_MS)
    now = win.last_result.time
    assert win.panel.timeline.mode == "video" and now == pytest.approx(1.0)
    assert win.panel.timeline.axis() == (0.0, pytest.approx(now))
    labels = win.panel.timeline.axis_labels()
    assert labels[0] == (0.0, "0:00") and labels[-1][0] == 1.0
    win.review_control.seek(120)                                        # 4.0 s
    qtbot.waitUntil(lambda: win.last_result.number == 121, timeout=WAIT_MS)
    assert win.panel.timeline.axis() == (0.0, pytest.approx(4.0))
    assert win.panel.timeline.axis_labels()[-1] == (1.0, "0:04")
    assert "since the start" in win.panel.timeline_title.text()


def test_a_cameras_timeline_is_the_last_minute_in_seconds(qtbot, tmp_path):
    opener = camera_opener(realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener)
    win.start_source(0)
    wait_frames(qtbot, win, 10)
    start, end = win.panel.timeline.axis()
    assert win.panel.timeline.mode == "camera"
    assert end == pytest.approx(win.last_result.time, abs=0.2)
    assert end - start == 60.0
    assert [text for _, text in win.panel.timeline.axis_labels()] == ["-60 s", "-30 s", "now"]
    assert "last minute" in win.panel.timeline_title.text()


def test_a_folder_of_photos_has_no_time_axis(qtbot, tmp_path):
    folder = write_photos(tmp_path / "photos")
    win = open_window(qtbot, tmp_path)
    win.start_source(folder)
    qtbot.waitUntil(lambda: win.last_result is not None and bool(win.last_result.detections),
                    timeout=WAIT_MS)
    win.acts.next.trigger()
    qtbot.waitUntil(lambda: win.last_result.number == 2, timeout=WAIT_MS)
    assert win.panel.timeline.mode == "photos"
    assert win.panel.timeline.axis() is None and win.panel.timeline.axis_labels() == []
    assert [s[0] for s in win.panel.timeline.samples][-1] == 2.0     # by photo, not by time
    press(qtbot, win, 5)
    assert win.panel.timeline.markers == [(2.0, 5, "")]
    assert win.panel.timeline.x_fraction(2.0) > win.panel.timeline.x_fraction(1.0)


def test_the_timeline_keeps_a_videos_whole_run_and_a_cameras_last_minute():
    video = Timeline()
    video.set_mode(TimelineMode.VIDEO)
    for t in range(0, 101):
        video.add("happy", 0.9, t=float(t), valence=0.5)
    assert video.axis() == (0.0, 100.0) and video.samples[0][0] == 0.0
    video.add_marker(30.0, Marker(number=4))
    assert video.x_fraction(30.0) == pytest.approx(0.3)
    video.add("sad", 0.9, t=5.0)                               # looped back: from here
    assert [s[0] for s in video.samples] == [5.0] and video.axis() == (0.0, 5.0)
    assert video.x_fraction(30.0) is None                      # past where it is

    camera = Timeline()
    for t in range(0, 101):
        camera.add("happy", 0.9, t=float(t))
    assert camera.axis() == (40.0, 100.0)
    assert min(s[0] for s in camera.samples) == 40.0          # older ones are gone
    camera.add_marker(70.0, Marker(number=1))
    assert camera.x_fraction(70.0) == pytest.approx(0.5)
    assert camera.x_fraction(30.0) is None


def test_markers_csv_is_written_whole_by_result_files(tmp_path):
    files = ResultFiles(tmp_path, "x", fps=10.0, annotated=False, markers=True)
    files.add_marker(Marker(0.0, number=1))                    # before any frame: no frame
    for i in range(5):
        files.add(None, [], t=i / 10.0)
    files.add_marker(Marker(0.4, number=0, text='a "quoted", text'))
    files.close("x", 1.0)
    rows = read_rows(tmp_path / "markers.csv")
    assert rows == [{"time": "0.000", "frame": "", "number": "1", "text": ""},
                    {"time": "0.400", "frame": "4", "number": "0",
                     "text": 'a "quoted", text'}]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp file
