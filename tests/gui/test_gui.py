"""The window on real video files (offscreen unless QT_QPA_PLATFORM says otherwise):
frames arrive and are shown annotated, snapshots, switching sources, settings,
dropping frames instead of queueing them."""

import json
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import QPoint, QSettings, Qt
from PyQt5.QtWidgets import QToolButton

import app
from app.gui.about import about_html
from app.gui.actions import shortcut_rows
from app.gui.options import LiveValues
from app.gui.settings import Settings
from model import EMOTIONS
from model.runtime.emotions import EMOTION_COLORS
from model.runtime.model_card import card_results
from tests.conftest import REPO
from tests.gui_support import (
    WAIT_MS,
    open_window,
    threads_stopped,
    view_pixels,
    wait_frames,
    wait_message,
    wait_model,
    write_clip,
    write_image,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "face.avi", frames=60)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "long face.avi", frames=300)


def color_pixels(bgr: np.ndarray, color, tol: int = 12) -> int:
    return int(np.all(np.abs(bgr.astype(int) - np.array(color)) <= tol, axis=2).sum())


def test_frames_arrive_and_are_shown_annotated(qtbot, tmp_path, long_clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(long_clip)
    wait_frames(qtbot, win, 10, faces=True)

    result = win.last_result
    assert result.source == long_clip.name
    assert win.view.image.width() == 640 and win.view.image.height() == 480
    det = max(result.detections, key=lambda d: d.box[2] * d.box[3])
    assert det.label in EMOTIONS and len(det.probabilities) == 7
    assert abs(sum(det.probabilities) - 1) < 1e-3
    # the picture shown carries the drawing: the box's colour on its left edge
    x, y, w, h = det.box
    color = EMOTION_COLORS[det.label]
    edge = result.annotated[y + h // 4: y + 3 * h // 4, x:x + 2]
    assert color_pixels(edge, color, tol=2) > h // 4
    assert color_pixels(result.raw[y + h // 4: y + 3 * h // 4, x:x + 2], color, 2) < h // 8
    shown = view_pixels(win)
    assert color_pixels(shown, color) > 200          # box and label, scaled on screen
    # the side panel and the status bar follow the face
    assert win.panel.face_title.text().startswith("Largest face")
    assert win.panel.bars.probabilities == pytest.approx(list(det.probabilities))
    assert win.panel.bars.label == det.label
    assert len(win.panel.timeline.samples) >= 10
    stats = win.status.stats
    qtbot.waitUntil(lambda: "fps" in stats.text() and "1 face" in stats.text(),
                    timeout=WAIT_MS)
    assert "latency" in win.status.stats.text()


def test_view_keeps_aspect_ratio_when_resized(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(clip)
    wait_frames(qtbot, win, 2)
    for size in ((1200, 500), (700, 900)):
        win.resize(*size)
        qtbot.waitUntil(lambda: win.view.target_rect().width() > 0, timeout=WAIT_MS)
        rect = win.view.target_rect()
        assert abs(rect.width() / rect.height() - 640 / 480) < 0.01
        assert rect.width() == win.view.width() or rect.height() == win.view.height()


def _check_snapshot(paths, win):
    record = json.loads(paths.record.read_text())
    result = win.last_result
    assert record["source"] == str(win.current_spec)
    assert (record["frame"]["width"], record["frame"]["height"]) == (640, 480)
    assert len(record["faces"]) == len(result.detections) >= 1
    for face in record["faces"]:
        assert face["label"] in EMOTIONS and 0 <= face["confidence"] <= 1
        assert set(face["box"]) == {"x", "y", "w", "h"} and face["box"]["w"] > 0
        assert set(face["probabilities"]) == set(EMOTIONS)
        assert face["confidence"] == pytest.approx(face["probabilities"][face["label"]],
                                                   abs=1e-3)
    raw = cv2.imread(str(paths.raw))
    annotated = cv2.imread(str(paths.annotated))
    assert raw.shape == annotated.shape == (480, 640, 3)
    assert (annotated != raw).any()   # the drawing is in one, not the other
    return record, raw, annotated


def test_snapshot_button_and_space_key_write_three_files(qtbot, tmp_path, clip):
    folder = tmp_path / "not yet" / "there"
    win = open_window(qtbot, tmp_path, snapshot_dir=folder)
    win.start_source(clip)
    wait_frames(qtbot, win, 3, faces=True)
    win.engine.stop()                  # hold still so the snapshot matches last_result
    shown = win.last_result

    button = next(b for b in win.findChildren(QToolButton)
                  if b.defaultAction() is win.acts.snapshot)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.snapshots.last is not None, timeout=WAIT_MS)  # saved off
    first = win.snapshots.last                                                # the GUI thread
    assert first.record.parent == folder
    record, raw, annotated = _check_snapshot(first, win)
    assert record["frame"]["number"] == shown.number
    assert record["frame"]["source_time_s"] == round((shown.number - 1) / 30.0, 3)
    assert np.array_equal(raw, shown.raw) and np.array_equal(annotated, shown.annotated)
    det = shown.detections[0]
    assert record["faces"][0]["box"] == dict(zip("xywh", det.box))
    assert str(first.annotated) in win.status.message.text()

    win.view.setFocus()
    qtbot.keyClick(win.view, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: win.snapshots.last != first, timeout=WAIT_MS)
    second = win.snapshots.last
    _check_snapshot(second, win)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        p.name for s in (first, second) for p in (s.annotated, s.raw, s.record))


def test_snapshot_folder_not_writable_keeps_the_picture(qtbot, tmp_path, clip):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    win = open_window(qtbot, tmp_path, snapshot_dir=blocker / "snaps")
    win.start_source(clip)
    wait_frames(qtbot, win, 2, faces=True)
    win.engine.stop()
    assert win.take_snapshot() is True
    wait_message(qtbot, win, "Snapshot not saved", str(blocker))
    assert win.status.is_error and win.snapshots.unsaved is not None
    # choosing a writable folder saves the kept snapshot there
    good = tmp_path / "good"
    win.snapshots.set_folder(good)
    qtbot.waitUntil(lambda: win.snapshots.last is not None, timeout=WAIT_MS)
    assert win.snapshots.unsaved is None and win.snapshots.last.record.parent == good
    _check_snapshot(win.snapshots.last, win)
    assert Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)) \
        .snapshot_dir == good


def test_switching_sources(qtbot, tmp_path, clip, long_clip):
    photo = write_image(tmp_path / "photo.png", size=(480, 360))
    win = open_window(qtbot, tmp_path)
    win.start_source(long_clip)
    wait_frames(qtbot, win, 5, faces=True)
    generation = win.engine.generation

    win.start_source(photo)
    wait_message(qtbot, win, "photo.png", "still image")
    qtbot.waitUntil(lambda: win.view.image.width() == 480, timeout=WAIT_MS)
    assert win.engine.generation == generation + 1 and not win.engine.running
    assert win.last_result.source == "photo.png"
    assert win.view.overlay == ""

    win.start_source(clip)
    qtbot.waitUntil(lambda: win.last_result.source == clip.name, timeout=WAIT_MS)
    assert win.view.image.width() == 640
    # stop and start again from the toolbar action
    win.acts.start.trigger()
    assert not win.engine.running and win.acts.start.text() == "&Start"
    stopped_at = win.engine.generation
    win.acts.start.trigger()
    # the clip was opened again: frames of the new generation reach the window
    qtbot.waitUntil(lambda: win.last_result.generation == stopped_at + 1, timeout=WAIT_MS)
    assert win.last_result.source == clip.name


def test_still_image_is_processed_again_when_settings_change(qtbot, tmp_path):
    photo = write_image(tmp_path / "photo.png")
    win = open_window(qtbot, tmp_path)
    wait_model(qtbot, win)
    win.start_source(photo)
    qtbot.waitUntil(lambda: win.last_result is not None and bool(win.last_result.detections),
                    timeout=WAIT_MS)          # one frame: the photo
    wait_message(qtbot, win, "still image")
    before = win.last_result
    win.acts.mirror.trigger()
    qtbot.waitUntil(lambda: win.last_result is not before, timeout=WAIT_MS)
    assert np.array_equal(win.last_result.raw, before.raw[:, ::-1])
    x_before = before.detections[0].box[0]
    x_after = win.last_result.detections[0].box[0]
    w = before.detections[0].box[2]
    assert abs((x_after + w) - (480 - x_before)) <= 6   # the face is mirrored too


def test_settings_persist_between_runs(qtbot, tmp_path, clip):
    ini = tmp_path / "persist.ini"
    win = open_window(qtbot, tmp_path, settings_file=ini)
    win.start_source(clip)
    wait_message(qtbot, win, "Showing")
    win.acts.mirror.setChecked(True)
    win.acts.smoothing.setChecked(False)
    win.sensitivity.setValue(80)
    win.snapshots.set_folder(tmp_path / "elsewhere")
    win.close()
    assert threads_stopped(win)

    stored = Settings(QSettings(str(ini), QSettings.Format.IniFormat))
    assert (stored.source, stored.mirror, stored.smoothing, stored.sensitivity,
            stored.snapshot_dir) == (str(clip), True, False, 0.8, tmp_path / "elsewhere")
    again = open_window(qtbot, tmp_path, settings_file=ini, snapshot_dir=None)
    assert again.acts.mirror.isChecked() and not again.acts.smoothing.isChecked()
    assert again.sensitivity.value() == 80 and again.snapshots.folder == tmp_path / "elsewhere"
    assert again.engine.options.current() == LiveValues(mirror=True, smoothing=False,
                                                        sensitivity=0.8)


def test_shortcuts_are_in_the_menus(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path)
    menu_actions = {a.text(): a.shortcut().toString()
                    for m in win.menuBar().findChildren(type(win.cameras.menu))
                    for a in m.actions() if not a.isSeparator()}
    assert menu_actions["Sna&pshot"] == "Space"
    assert menu_actions["&Mirror view"] == "M"
    assert menu_actions["S&moothing"] == "S"
    assert menu_actions["&Open video or image…"] == "Ctrl+O"
    assert menu_actions["More &sensitive"] == "+"
    assert menu_actions["&Less sensitive"] == "-"
    before = win.sensitivity.value()
    qtbot.keyClick(win.view, Qt.Key.Key_Minus)
    assert win.sensitivity.value() == before - 10
    qtbot.keyClick(win.view, Qt.Key.Key_M)
    assert win.acts.mirror.isChecked()


def test_camera_chooser_lists_the_cameras_that_open(qtbot, tmp_path):
    from tests.gui_support import camera_opener

    opener = camera_opener(cameras={0: {}, 2: {}})
    win = open_window(qtbot, tmp_path, opener=opener, cameras=[0, 2])
    win.cameras.refresh()
    qtbot.waitUntil(lambda: win.cameras.box.findData(2) >= 0, timeout=WAIT_MS)
    assert [win.cameras.box.itemText(i) for i in range(win.cameras.box.count())] == \
        ["Camera 0", "Camera 2"]
    assert [a.text() for a in win.cameras.actions.actions()] == ["Camera 0", "Camera 2"]
    win.cameras.box.activated.emit(1)
    wait_message(qtbot, win, "camera 2")
    wait_frames(qtbot, win, 3)
    assert win.current_spec == "2" and win.cameras.actions.actions()[1].isChecked()


def test_old_frames_are_dropped_not_queued(qtbot, tmp_path, long_clip):
    """With processing slower than the video, each processed frame is the newest one
    captured, and the ones in between are dropped."""
    from app.core.pipeline import EmotionPipeline

    lag = []      # how many captured frames newer than the one processing starts on
    seq_of: dict[int, int] = {}   # id(frame) -> capture number (ids are unique among live frames)
    holder: dict[str, int] = {}

    class SlowPipeline(EmotionPipeline):
        def process(self, frame, timestamp=None):
            lag.append(holder["newest"] - seq_of[id(frame)])
            time.sleep(0.15)
            return super().process(frame, timestamp)

    win = open_window(qtbot, tmp_path, pipeline_factory=lambda p, s, v: SlowPipeline(
        model_path=p, smoothing=s, sensitivity=v))
    holder["engine"] = engine = win.engine
    put = engine.frames.put

    def recording_put(packet):
        seq_of[id(packet.frame.image)] = holder["newest"] = packet.frame.number
        return put(packet)

    engine.frames.put = recording_put
    wait_model(qtbot, win)
    win.start_source(long_clip)
    wait_frames(qtbot, win, 8)
    win.engine.stop()
    assert win.engine.stats()["dropped"] > 10
    seqs = win.last_result.number
    assert seqs > win.frames_shown + 10          # many more captured than shown
    # a frame can arrive in the instant between taking one and starting on it,
    # never more: nothing waits in a queue
    assert len(lag) >= 8 and max(lag) <= 1


def test_gui_path_does_not_import_tensorflow(tmp_path, clip):
    """The window, the model and a run on a clip, in a fresh interpreter."""
    code = ("import sys; from app.cli import main; "
            f"rc = main(['--source', {str(clip)!r}, '--snapshots', {str(tmp_path)!r}, "
            "'--exit-after', '4', '--stats-every', '1']); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules, rc)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "EMOTION_DETECTOR_SETTINGS": str(tmp_path / "s.ini")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False", "0"], out.stderr
    assert "model loaded" in out.stderr
    last = [line for line in out.stderr.splitlines() if "stats " in line][-1]
    assert int(last.split("with_faces=")[1].split()[0]) > 0, out.stderr


def test_no_display_is_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["EMOTION_DETECTOR_SETTINGS"] = str(tmp_path / "s.ini")
    out = subprocess.run([sys.executable, "main.py", "--source", "0"], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "ERROR: cannot open the window: no display (DISPLAY is not set). Run it on a "
        "desktop, or annotate files without a window: python main.py process --help"]


def test_clicking_a_face_selects_it_for_the_side_panel(qtbot, tmp_path, long_clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(long_clip)
    wait_frames(qtbot, win, 3, faces=True)
    win.engine.stop()
    det = win.last_result.detections[0]
    assert win.panel.face_title.text().startswith("Largest face")
    rect = win.view.target_rect()
    scale = rect.width() / 640
    x, y, w, h = det.box
    centre = rect.topLeft() + QPoint(int((x + w / 2) * scale), int((y + h / 2) * scale))
    qtbot.mouseClick(win.view, Qt.MouseButton.LeftButton, pos=centre)
    assert win.panel.selected_track == det.track_id
    assert win.panel.face_title.text().startswith(f"Selected face: {det.label}")
    assert win.view.highlight == tuple(det.box)          # marked in the picture too
    # a click on empty space (a corner of the picture) goes back to the largest face
    qtbot.mouseClick(win.view, Qt.MouseButton.LeftButton, pos=rect.topLeft() + QPoint(3, 3))
    assert win.panel.selected_track is None and win.view.highlight is None
    assert win.panel.face_title.text().startswith("Largest face")


def test_title_help_about_and_full_screen(qtbot, tmp_path, clip):
    win = open_window(qtbot, tmp_path)
    win.start_source(clip)
    assert win.windowTitle() == f"{clip.name} - Emotion Detector"
    wait_model(qtbot, win)
    qtbot.waitUntil(lambda: win.model.name == "emotion_cnn.tflite", timeout=WAIT_MS)
    rows = dict(shortcut_rows(win))
    assert rows["Snapshot"] == "Space" and rows["Record"] == "R"
    assert rows["Full screen"] == "F11" and rows["Keyboard shortcuts"] == "F1"
    # the run's description comes from the processing thread by a signal of its own
    qtbot.waitUntil(lambda: win.engine.run_info() is not None, timeout=WAIT_MS)
    card = win.engine.run_info()["model"]["card"]
    assert card == card_results("emotion_cnn.tflite") and set(card) == {"PublicTest", "PrivateTest"}
    about = about_html("Emotion Detector", win.engine.run_info())
    assert "Emotion model: emotion_cnn.tflite" in about
    assert f"PublicTest {card['PublicTest']}, PrivateTest {card['PrivateTest']}" in about
    assert f"</b> {app.__version__}<br>" in about     # the one version, also from a checkout
    win.acts.fullscreen.trigger()
    full = Qt.WindowState.WindowFullScreen
    qtbot.waitUntil(lambda: bool(win.windowState() & full), timeout=WAIT_MS)
    win.acts.fullscreen.trigger()
    qtbot.waitUntil(lambda: not win.windowState() & full, timeout=WAIT_MS)
    menus = [a.text() for a in win.menuBar().actions()]
    assert menus[-1] == "&Help"


def test_a_long_status_message_wraps_instead_of_being_cut(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path)
    long = "Snapshot not saved: " + "a very long reason " * 20 + "END"
    win.show_message(long, error=True)
    qtbot.waitUntil(lambda: win.status.message.height() > 2 * win.fontMetrics().height(),
                    timeout=WAIT_MS)                     # more than one line tall
    assert win.status.message.wordWrap() and win.status.message.text() == long
    assert win.status.message.toolTip() == long


def test_help_says_what_the_app_opens_and_that_a_folder_is_a_source(capsys):
    from app.parser import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "on the source used last time (camera 0 the first time)" in text
    assert "an image or a folder of images" in text and "--record DIR" in text
