"""Valence (model.runtime.emotions.valence: happy minus the largest of sad, angry, fear and
disgust): a column of detections.csv, a field of a face's JSON, the mean per track
in summary.json, and a line on the side panel instead of the emotion timeline."""

import csv
import json
from collections import defaultdict

import cv2
import numpy as np
import pytest

from app.cli import main
from app.core.pipeline import NO_MODEL_LABEL
from app.io import synthetic
from app.io.results import CSV_COLUMNS, ResultFiles
from app.nouns import Detection
from model.runtime.emotions import EMOTIONS, valence


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def row_probabilities(row):
    return [float(row[e]) for e in EMOTIONS]


def detection(track, probs, label=None):
    probs = tuple(float(p) for p in probs)
    label = label or EMOTIONS[int(np.argmax(probs))]
    return Detection(box=(10 * track, 10, 40, 40), label=label, confidence=max(probs),
                     probabilities=probs, track_id=track)


def test_the_valence_column_comes_after_the_existing_ones():
    assert CSV_COLUMNS == ["frame", "time", "image", "track", "x", "y", "w", "h", "tilt",
                           "held", "label", "confidence", "angry", "disgust", "fear",
                           "happy", "sad", "surprise", "neutral", "calibrated", "valence"]


def test_a_face_json_has_the_valence_of_its_rounded_probabilities():
    # happy .61236 -> .6124; the largest negative is disgust .20004 -> .2: .4124
    probs = (0.10004, 0.20004, 0.05, 0.61236, 0.01, 0.0, 0.02756)
    face = detection(1, probs).to_dict()
    assert face["valence"] == 0.4124
    assert face["valence"] == round(valence(face["probabilities"].values()), 4)
    assert detection(1, probs).valence == face["valence"]
    sad = detection(2, (0.05, 0.0, 0.1, 0.05, 0.7, 0.05, 0.05)).to_dict()
    assert sad["valence"] == -0.65                       # happy .05 minus sad .7
    no_model = Detection(box=(0, 0, 9, 9), label=NO_MODEL_LABEL, confidence=0.0,
                         probabilities=(0.0,) * 7, track_id=3)
    assert no_model.to_dict()["valence"] is None         # no reading, no valence


def test_result_files_write_valence_and_its_mean_per_track(tmp_path):
    files = ResultFiles(tmp_path, "x", fps=10.0, video=True, annotated=False)
    frames = [
        [detection(1, (0.1, 0.0, 0.1, 0.7, 0.2, 0.0, 0.0)),      # .7 - .2 = .5
         detection(2, (0.5, 0.1, 0.1, 0.3, 0.0, 0.0, 0.0))],     # .3 - .5 = -.2
        [detection(1, (0.0, 0.0, 0.1, 0.4, 0.0, 0.0, 0.5)),      # .4 - .1 = .3
         Detection(box=(0, 0, 9, 9), label=NO_MODEL_LABEL, confidence=0.0,
                   probabilities=(0.0,) * 7, track_id=3)],
    ]
    for i, dets in enumerate(frames):
        files.add(None, dets, t=i / 10.0)
    summary = files.close("x", 1.0)
    rows = read_rows(tmp_path / "detections.csv")
    assert [r["valence"] for r in rows] == ["0.5", "-0.2", "0.3", ""]
    assert summary["mean_valence_per_track"] == {"1": 0.4, "2": -0.2}   # no model: none
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["mean_valence_per_track"] == summary["mean_valence_per_track"]


@pytest.fixture(scope="module")
def two_faces(tmp_path_factory):
    """A 30-frame clip with a happy drawn face on the left and a sad one on the right."""
    path = tmp_path_factory.mktemp("in") / "two faces.avi"
    bg = synthetic.background(640, 480)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (640, 480))
    for _ in range(30):
        frame = synthetic.paste_face(bg.copy(), synthetic.drawn_face(140, "happy"),
                                     (160, 240), 140)
        writer.write(synthetic.paste_face(frame, synthetic.drawn_face(140, "sad"),
                                          (480, 240), 140))
    writer.release()
    return path


def test_process_writes_valence_in_the_csv_and_the_mean_per_track(two_faces, tmp_path):
    out = tmp_path / "out"
    assert main(["process", str(two_faces), "-o", str(out), "--no-progress",
                 "--no-video"]) == 0
    rows = read_rows(out / "detections.csv")
    assert list(rows[0]) == CSV_COLUMNS and len(rows) >= 40
    by_track = defaultdict(list)
    for row in rows:
        assert float(row["valence"]) == round(valence(row_probabilities(row)), 4)
        by_track[row["track"]].append(float(row["valence"]))
    summary = json.loads((out / "summary.json").read_text())
    means = summary["mean_valence_per_track"]
    assert set(means) == set(by_track) and len(means) == 2
    for track, values in by_track.items():
        assert means[track] == pytest.approx(np.mean(values), abs=1e-4)
    assert len({round(m, 3) for m in means.values()}) == 2    # two faces, two means


# ------------------------------------------------------------ the side panel

def timeline_pixels(win) -> np.ndarray:
    from tests.gui_support import widget_pixels

    return widget_pixels(win.panel.timeline_view)                            # BGR


def valence_rows(win) -> np.ndarray:
    """The rows of the timeline's picture where the valence line's colour is."""
    from app.gui.widgets import VALENCE_COLOR

    bgr = np.array([VALENCE_COLOR.blue(), VALENCE_COLOR.green(), VALENCE_COLOR.red()])
    near = np.all(np.abs(timeline_pixels(win).astype(int) - bgr) <= 10, axis=2)
    return np.nonzero(near)[0]


def test_the_side_panel_shows_valence_instead_of_the_emotions(qtbot, tmp_path):
    pytest.importorskip("pytestqt")
    from PyQt5.QtCore import Qt

    from tests.gui_support import WAIT_MS, open_window, wait_frames, write_clip

    clip = write_clip(tmp_path / "clip.avi", frames=150, expression="happy")
    win = open_window(qtbot, tmp_path)
    win.start_source(clip)
    wait_frames(qtbot, win, 15, faces=True)
    win.acts.pause.trigger()
    # paused: the last frame read is the one shown (and on the timeline)
    qtbot.waitUntil(lambda: win.last_result.number == win.review.index + 1, timeout=WAIT_MS)
    det = win.panel.shown_face(win.last_result.detections)
    last = win.panel.timeline.samples[-1]
    assert last[3] == det.valence == round(valence([round(p, 4) for p in
                                                    det.probabilities]), 4)
    assert abs(det.valence - valence(det.probabilities)) <= 1e-4
    assert "Emotion" in win.panel.timeline_title.text() and not win.panel.timeline.show_valence
    assert len(valence_rows(win)) == 0                        # emotions: no valence line

    qtbot.keyClick(win.view, Qt.Key.Key_V)                         # View > Valence timeline
    assert win.acts.valence.isChecked() and win.panel.valence_button.isChecked()
    assert win.panel.timeline.show_valence and "Valence" in win.panel.timeline_title.text()
    qtbot.waitUntil(lambda: len(valence_rows(win)) > 20, timeout=WAIT_MS)
    # the line is where the face's valence is on a -1..1 scale (top +1, bottom -1)
    height = win.panel.timeline_view.height() - 16
    expected = (1 - (det.valence + 1) / 2) * (height - 8) + 4
    assert abs(np.median(valence_rows(win)) - expected) < 0.08 * height

    win.panel.valence_button.click()                                 # the panel's own control
    assert not win.acts.valence.isChecked() and not win.panel.timeline.show_valence
    qtbot.waitUntil(lambda: len(valence_rows(win)) == 0, timeout=WAIT_MS)
    assert "Emotion" in win.panel.timeline_title.text()
