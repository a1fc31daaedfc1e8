"""Calibrate neutral in the window (a person's own neutral, issue 28): the followed or
largest face keeps a neutral face through a countdown, then that face's readings
have the person's lean taken out for the rest of the session; cleared by its own
action, forgotten with the model it was measured with, recorded in snapshots.

A scripted model reads every face as "sad 40%" (the person's resting face); its
neutral reference says that a neutral face in general reads "neutral 63%", so
after calibration the same face reads neutral."""

import json

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QToolButton

import app.gui.baseline as baseline_module
from app.core.pipeline import EmotionPipeline
from app.gui.actions import shortcut_rows
from model import EMOTIONS
from model.runtime.calibration import Calibration
from tests.fakes import face_frames
from tests.gui_support import (
    WAIT_MS,
    camera_opener,
    open_window,
    view_pixels,
    wait_frames,
    wait_message,
    wait_model,
    write_image,
)

RESTING = (.1, .05, .1, .05, .4, .05, .25)                 # the person at rest: sad 40%
NEUTRAL = (.05, .02, .05, .1, .12, .03, .63)                # the model's neutral in general
NEUTRAL_LOG = tuple(np.log(NEUTRAL))                        # as a model file carries it
COUNTDOWN = 1.0                                             # s (3 in the app)


class RestingFaceModel:
    """Reads every face as RESTING; carries NEUTRAL as its neutral reference
    (none with reference=None)."""

    flip = False
    crops = False
    networks = 1

    def __init__(self, path="resting.tflite", reference=NEUTRAL_LOG):
        self.path = path
        self.calibration = Calibration(1.0, neutral_reference=reference)

    def predict(self, faces, network=None, mirrored=None):
        return np.tile(np.asarray(RESTING, np.float32), (len(faces), 1))


def factory(reference=NEUTRAL_LOG):
    def make(path, smoothing, sensitivity):
        return EmotionPipeline(classifier=RestingFaceModel(path or "resting.tflite", reference),
                               smoothing=smoothing, sensitivity=sensitivity)
    return make


@pytest.fixture(autouse=True)
def short_countdown(monkeypatch):
    monkeypatch.setattr(baseline_module, "NEUTRAL_SECONDS", COUNTDOWN)


@pytest.fixture(scope="module")
def still(tmp_path_factory):
    return write_image(tmp_path_factory.mktemp("stills") / "face.png")


def camera_window(qtbot, tmp_path, **options):
    """A window on a camera (30 fps, one face holding still), its face shown sad."""
    opener = camera_opener(frames=face_frames()[:1], realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener, pipeline_factory=factory(), **options)
    wait_model(qtbot, win)
    win.start_source("0")
    qtbot.waitUntil(lambda: shown(win) is not None and shown(win).label == "sad",
                    timeout=WAIT_MS)
    return win


def shown(win):
    """The face the side panel shows, in the newest result."""
    return win.panel.shown_face(win.last_result.detections) if win.last_result else None


def reads(win, label, calibrated):
    det = shown(win)
    return det is not None and det.label == label and det.calibrated is calibrated


def prompt_strip(win) -> np.ndarray:
    """Where the view draws its prompt: the bottom middle of the picture."""
    pixels = view_pixels(win)
    h, w = pixels.shape[:2]
    return pixels[h - 70:h - 30, w // 2 - 80:w // 2 + 80].astype(int)


def snapshot_record(qtbot, win) -> dict:
    before = win.snapshots.last
    assert win.take_snapshot()
    qtbot.waitUntil(lambda: win.snapshots.last is not before, timeout=WAIT_MS)
    return json.loads(win.snapshots.last.record.read_text())


def test_calibrate_neutral_counts_down_then_reads_the_face_as_neutral(qtbot, tmp_path):
    win = camera_window(qtbot, tmp_path)
    assert "calibrated" not in win.panel.face_title.text()
    assert not win.acts.clear_baseline.isEnabled()
    face = shown(win)
    plain = prompt_strip(win)

    qtbot.keyClick(win.view, Qt.Key.Key_N)
    # the countdown: on the picture and in the status bar, nothing corrected yet
    assert win.view.prompt == f"Keep a neutral face… {COUNTDOWN:.0f}"
    text = win.status.message.text()
    assert "keep a neutral face" in text and "largest" in text
    qtbot.waitUntil(lambda: np.abs(prompt_strip(win) - plain).mean() > 5, timeout=WAIT_MS)
    assert win.baseline.record is None and not win.acts.clear_baseline.isEnabled()
    wait_frames(qtbot, win, 3)
    assert reads(win, "sad", False)

    text = wait_message(qtbot, win, "largest face is calibrated")
    assert "readings" in text and not win.status.is_error
    assert win.view.prompt == ""
    assert win.acts.clear_baseline.isEnabled()
    assert win.baseline.record["track"] == face.track_id
    assert win.baseline.record["readings"] >= baseline_module.NEUTRAL_MIN_READINGS
    assert win.baseline.record["source"] == "camera 0"
    # the person's lean is taken out: the face reads neutral as the model's neutral does
    qtbot.waitUntil(lambda: reads(win, "neutral", True), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: shown(win).probabilities[EMOTIONS.index("neutral")] > 0.6,
                    timeout=WAIT_MS)
    assert shown(win).raw_probabilities == pytest.approx(RESTING)
    assert win.panel.face_title.text().startswith("Largest face: neutral")
    assert win.panel.face_title.text().endswith("· calibrated")

    record = snapshot_record(qtbot, win)
    assert record["calibration"]["track"] == face.track_id
    assert record["calibration"]["since"] == win.baseline.record["since"]
    assert len(record["calibration"]["offset"]) == len(EMOTIONS)
    assert [f["calibrated"] for f in record["faces"]] == [True]
    assert record["faces"][0]["label"] == "neutral"

    # a new source starts the faces afresh (new tracks, not calibrated themselves);
    # the correction passes to the new face
    win.start_source("0")
    generation = win.engine.generation
    qtbot.waitUntil(lambda: win.last_result.generation == generation and bool(shown(win)),
                    timeout=WAIT_MS)
    assert reads(win, "neutral", True)
    assert win.baseline.record is not None and win.acts.clear_baseline.isEnabled()

    qtbot.keyClick(win.view, Qt.Key.Key_N, Qt.ShiftModifier)
    assert win.baseline.record is None and not win.acts.clear_baseline.isEnabled()
    assert "cleared" in win.status.message.text()
    qtbot.waitUntil(lambda: reads(win, "sad", False), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "calibrated" not in win.panel.face_title.text(), timeout=WAIT_MS)
    record = snapshot_record(qtbot, win)
    assert "calibration" not in record
    assert [f["calibrated"] for f in record["faces"]] == [False]


def test_the_selected_face_of_a_still_picture_is_calibrated_at_once(qtbot, tmp_path, still):
    win = open_window(qtbot, tmp_path, pipeline_factory=factory())
    wait_model(qtbot, win)
    win.start_source(still)
    qtbot.waitUntil(lambda: reads(win, "sad", False) and not win.engine.running,
                    timeout=WAIT_MS)
    x, y, w, h = shown(win).box
    win.panel.select_at(x + w // 2, y + h // 2)
    assert win.panel.face_title.text().startswith("Selected face: sad")

    win.acts.measure_baseline.trigger()
    # nothing moves in a still picture: no countdown, the reading shown is measured
    assert win.view.prompt == "" and not win.baseline.counting
    assert "selected face is calibrated" in win.status.message.text()
    assert win.baseline.record["readings"] == 1
    qtbot.waitUntil(lambda: reads(win, "neutral", True), timeout=WAIT_MS)
    assert win.panel.face_title.text().startswith("Selected face: neutral 63%")
    assert win.panel.face_title.text().endswith("· calibrated")


def test_a_new_model_forgets_the_calibration(qtbot, tmp_path, still):
    win = open_window(qtbot, tmp_path, pipeline_factory=factory())
    wait_model(qtbot, win)
    win.start_source(still)
    qtbot.waitUntil(lambda: reads(win, "sad", False) and not win.engine.running,
                    timeout=WAIT_MS)
    win.acts.measure_baseline.trigger()
    qtbot.waitUntil(lambda: reads(win, "neutral", True), timeout=WAIT_MS)
    old = win.engine.processing.pipeline

    win.model.load("other.tflite")
    text = wait_message(qtbot, win, "other.tflite", "previous model")
    assert "Calibrate neutral (N) again" in text
    assert win.engine.processing.pipeline is not old
    assert win.baseline.record is None and not win.acts.clear_baseline.isEnabled()
    qtbot.waitUntil(lambda: reads(win, "sad", False), timeout=WAIT_MS)
    assert not win.engine.processing.pipeline.calibrated


def test_without_a_face_or_a_neutral_reference_it_says_why(qtbot, tmp_path, still):
    win = open_window(qtbot, tmp_path, pipeline_factory=factory(reference=None))
    wait_model(qtbot, win)
    win.acts.measure_baseline.trigger()
    assert "no face in the picture" in win.status.message.text() and win.status.is_error
    assert not win.baseline.counting and win.baseline.record is None

    win.start_source(still)
    qtbot.waitUntil(lambda: reads(win, "sad", False) and not win.engine.running,
                    timeout=WAIT_MS)
    win.acts.measure_baseline.trigger()
    text = win.status.message.text()
    assert "carries no neutral reference" in text and "calibrate --model" in text
    assert win.status.is_error and win.baseline.record is None and win.view.prompt == ""
    assert not win.engine.processing.pipeline.calibrated


def test_a_face_lost_during_the_countdown_stops_it(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(baseline_module, "NEUTRAL_SECONDS", 30.0)
    win = camera_window(qtbot, tmp_path)
    win.acts.measure_baseline.trigger()
    assert win.view.prompt == "Keep a neutral face… 30"
    win.acts.mirror.trigger()           # a flipped view starts the faces afresh
    wait_message(qtbot, win, "Calibration stopped", "face was lost")
    assert win.status.is_error and win.view.prompt == "" and not win.baseline.counting
    assert win.baseline.record is None and not win.engine.processing.pipeline.calibrated


def test_too_few_readings_are_not_a_calibration(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(baseline_module, "NEUTRAL_MIN_READINGS", 10_000)
    win = camera_window(qtbot, tmp_path)
    win.acts.measure_baseline.trigger()
    assert win.view.prompt.startswith("Keep a neutral face")
    text = wait_message(qtbot, win, "Calibration not done")
    assert "at least 10000 needed" in text and win.status.is_error
    assert win.view.prompt == "" and win.baseline.record is None
    wait_frames(qtbot, win, 3)
    assert reads(win, "sad", False) and not win.engine.processing.pipeline.calibrated


def test_calibrate_neutral_is_in_the_menu_the_toolbar_and_on_its_own_keys(qtbot, tmp_path):
    win = open_window(qtbot, tmp_path, pipeline_factory=factory())
    view_menu = next(m for m in win.menuBar().findChildren(type(win.cameras.menu))
                     if m.title() == "&View")
    assert {win.acts.measure_baseline, win.acts.clear_baseline} <= set(view_menu.actions())
    assert any(b.defaultAction() is win.acts.measure_baseline
               for b in win.findChildren(QToolButton))
    rows = dict(shortcut_rows(win))
    assert rows["Calibrate neutral"] == "N"
    assert rows["Clear neutral calibration"] == "Shift+N"
    keys = [k for _, ks in shortcut_rows(win) for k in ks.split(", ")]
    assert len(keys) == len(set(keys)), "a key is bound twice"


SMILING = (.03, .02, .03, .62, .05, .05, .20)               # the person smiles: happy 62%


class ScriptedModel(RestingFaceModel):
    """Hands out the given readings in turn, one per face read."""

    def __init__(self, rows, path="scripted.tflite"):
        super().__init__(path)
        self.rows = [np.asarray(r, np.float32) for r in rows]
        self.calls = 0

    def predict(self, faces, network=None, mirrored=None):
        out = [self.rows[(self.calls + k) % len(self.rows)] for k in range(len(faces))]
        self.calls += len(faces)
        return np.stack(out)


def scripted_window(qtbot, tmp_path, rows, **options):
    """A window on a camera (30 fps, one face) read by ScriptedModel(rows)."""
    def make(path, smoothing, sensitivity):
        return EmotionPipeline(classifier=ScriptedModel(rows), smoothing=smoothing,
                               sensitivity=sensitivity)

    opener = camera_opener(frames=face_frames()[:1], realtime=True)
    win = open_window(qtbot, tmp_path, opener=opener, pipeline_factory=make, **options)
    wait_model(qtbot, win)
    win.start_source("0")
    qtbot.waitUntil(lambda: shown(win) is not None, timeout=WAIT_MS)
    return win


@pytest.mark.parametrize("rows, says", [
    ([SMILING], "that looked like a smile"),
    # talking: a resting face broken by spells that read happy or surprise
    ([RESTING] * 4 + [SMILING] * 3 + [RESTING] * 3 + [(.02, .02, .1, .1, .03, .7, .03)] * 3,
     "the expression changed while it was read"),
])
def test_calibrate_neutral_refuses_a_face_that_was_not_at_rest(qtbot, tmp_path, rows, says):
    win = scripted_window(qtbot, tmp_path, rows)
    qtbot.keyClick(win.view, Qt.Key.Key_N)
    assert win.view.prompt.startswith("Keep a neutral face")
    text = wait_message(qtbot, win, "Calibration not done", says)
    assert "try again" in text and win.status.is_error
    assert win.view.prompt == "" and not win.baseline.counting
    assert win.baseline.record is None and not win.acts.clear_baseline.isEnabled()
    wait_frames(qtbot, win, 3)
    assert not win.engine.processing.pipeline.calibrated
    assert not shown(win).calibrated and "calibrated" not in win.panel.face_title.text()


def test_a_smiling_still_picture_is_refused_at_once(qtbot, tmp_path, still):
    def make(path, smoothing, sensitivity):
        return EmotionPipeline(classifier=ScriptedModel([SMILING]), smoothing=smoothing,
                               sensitivity=sensitivity)

    win = open_window(qtbot, tmp_path, pipeline_factory=make)
    wait_model(qtbot, win)
    win.start_source(still)
    qtbot.waitUntil(lambda: reads(win, "happy", False) and not win.engine.running,
                    timeout=WAIT_MS)
    win.acts.measure_baseline.trigger()
    text = win.status.message.text()
    assert text.startswith("Calibration not done: that looked like a smile (happy in the "
                           "picture, 62%") and win.status.is_error
    assert win.baseline.record is None and not win.engine.processing.pipeline.calibrated
