"""A person's own neutral (`process --baseline`, EmotionPipeline.set_neutral_baseline),
on real pictures: drawn faces pasted into frames, found and cut out by the pipeline."""

import json

import cv2
import numpy as np
import pytest

from app.cli import main
from app.commands.fer_faces import fer_faces
from app.io import synthetic
from model import EMOTIONS
from model.runtime.calibration import NONE, Calibration
from model.runtime.errors import ModelError
from model.runtime.preprocess import frame_tight_crop
from tests.conftest import read_csv

# This person's neutral face reads "sad 40%"; their smile reads happy. The model's
# mean reading of neutral faces in general leans neutral (63%).
LEANING_NEUTRAL = np.array([.10, .05, .10, .05, .40, .05, .25])
SMILE = np.array([.03, .02, .03, .80, .04, .03, .05])
REFERENCE = tuple(np.log([.05, .02, .05, .10, .12, .03, .63]))


def frame_with(expression, centre=(320, 240), size=200):
    return synthetic.paste_face(synthetic.background(), synthetic.drawn_face(size, expression),
                                centre, size)


def template(expression, dx=0, dy=0, dw=0):
    """The crop the pipeline cuts of that expression's face, from the box a full scan
    finds (moved by dx, dy and grown by dw pixels)."""
    from app.core.crop import crop_face
    from app.core.detect import FaceDetector

    gray = cv2.cvtColor(frame_with(expression), cv2.COLOR_BGR2GRAY)
    x, y, w, h = max(FaceDetector().full_scan(gray), key=lambda b: b[2] * b[3])
    return crop_face(gray, (x + dx, y + dy, w + dw, h + dw)).astype(np.float32)


def templates(expression) -> list:
    """A nearest-template model's crops of an expression: the full scan's, and those a
    few pixels and sizes off it, as the Haar boxes of a still face wobble from frame
    to frame."""
    return [template(expression, dx, dy, dw)
            for dx in range(-8, 9, 2) for dy in range(-8, 9, 2) for dw in (-4, 0, 4)]


class PersonClassifier:
    """Reads a face crop as the nearer of the person's two drawn expressions."""

    flip, crops, networks, path = False, False, 1, "person.tflite"

    def __init__(self, reference=REFERENCE):
        self.calibration = Calibration(1.0, reference, "a test") if reference else NONE
        # each expression as the pipeline cuts it, and as a crop of it is framed
        self.templates = [[c for crop in templates(e)
                           for c in (crop, frame_tight_crop(crop.astype(np.uint8)))]
                          for e in ("neutral", "happy")]

    def predict(self, faces, network=None, mirrored=None):
        faces = np.asarray(faces, np.float32).reshape(-1, 48, 48)
        rows = []
        for f in faces:
            d = [min(np.abs(f - t).mean() for t in pair) for pair in self.templates]
            rows.append(LEANING_NEUTRAL if d[0] <= d[1] else SMILE)
        return np.array(rows, np.float32)


def photo(path, expression):
    assert cv2.imwrite(str(path), frame_with(expression))
    return path


@pytest.fixture
def person(monkeypatch):
    import model.runtime.classifier

    monkeypatch.setattr(model.runtime.classifier, "load_classifier",
                        lambda *a, **k: PersonClassifier())


def rows(folder):
    return read_csv(folder / "detections.csv")


def test_a_neutral_that_reads_sad_reads_neutral_with_the_baseline_and_a_smile_stays(
        person, tmp_path):
    photos = tmp_path / "session"
    photos.mkdir()
    photo(photos / "a_neutral.png", "neutral")
    photo(photos / "b_smile.png", "happy")
    baseline = photo(tmp_path / "my_neutral.png", "neutral")

    assert main(["process", str(photos), "-o", str(tmp_path / "plain"), "--no-progress"]) == 0
    plain = rows(tmp_path / "plain")
    assert [(r["image"], r["label"], r["calibrated"]) for r in plain] == \
        [("a_neutral.png", "sad", "0"), ("b_smile.png", "happy", "0")]
    assert float(plain[0]["confidence"]) == pytest.approx(0.40, abs=1e-3)

    assert main(["process", str(photos), "-o", str(tmp_path / "fixed"), "--no-progress",
                 "--baseline", str(baseline)]) == 0
    fixed = rows(tmp_path / "fixed")
    assert [(r["label"], r["calibrated"]) for r in fixed] == [("neutral", "1"), ("happy", "1")]
    for r in fixed:          # the label is the top of the probabilities of its row
        assert r["label"] == max(EMOTIONS, key=lambda e: float(r[e]))
    summary = json.loads((tmp_path / "fixed" / "summary.json").read_text())
    assert summary["baseline"]["source"] == str(baseline) and summary["baseline"]["faces"] == 1


def test_a_clip_as_baseline_reads_its_largest_face_in_every_frame(person, tmp_path, make_pipeline):
    from app.core.neutral import measure_baseline

    clip = tmp_path / "neutral.avi"
    out = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), 30, (640, 480))
    for _ in range(12):
        out.write(frame_with("neutral"))
    out.release()
    pipe = make_pipeline(classifier=PersonClassifier())
    offset, info = measure_baseline(clip, pipe)
    assert info["faces"] == 12
    np.testing.assert_allclose(offset, np.log(LEANING_NEUTRAL) - np.array(REFERENCE), atol=1e-4)
    assert pipe.smoothing is True and not pipe.tracker.tracks   # left as it was found


def test_a_baseline_without_a_face_is_an_error_that_names_it(person, tmp_path, caplog):
    empty = tmp_path / "wall.png"
    assert cv2.imwrite(str(empty), synthetic.background())
    target = photo(tmp_path / "in.png", "neutral")
    assert main(["process", str(target), "-o", str(tmp_path / "out"), "--no-progress",
                 "--baseline", str(empty)]) == 2
    assert f"--baseline {empty}: no face found" in caplog.text
    assert not (tmp_path / "out" / "summary.json").exists()


def test_a_model_without_a_neutral_reference_says_how_to_add_one(tmp_path, make_pipeline):
    from app.core.neutral import measure_baseline

    pipe = make_pipeline(classifier=PersonClassifier(reference=None))
    with pytest.raises(ModelError, match="no neutral reference.*calibrate --model"):
        measure_baseline(photo(tmp_path / "n.png", "neutral"), pipe)


def test_one_calibrated_face_passes_its_correction_on_only_when_it_is_gone(make_pipeline):
    frame = frame_with("neutral")
    pipe = make_pipeline(classifier=PersonClassifier())
    first = pipe.process(frame, 0.0)[0]
    assert first.label == "sad" and not first.calibrated
    pipe.set_neutral_baseline(np.log(LEANING_NEUTRAL) - np.array(REFERENCE), first.track_id)
    later = [pipe.process(frame, i / 30)[0] for i in range(1, 20)]
    assert all(d.calibrated for d in later) and later[-1].label == "neutral"
    pipe.reset()                                     # a new scene: the person comes back
    again = pipe.process(frame, 5.0)[0]
    assert again.calibrated and again.label == "neutral"
    pipe.set_neutral_baseline(None)
    assert not pipe.process(frame, 5.1)[0].calibrated


def test_the_shipped_model_carries_the_reference_the_baseline_needs():
    from app.core.neutral import neutral_reference
    from model.runtime.classifier import EmotionClassifier

    ref = neutral_reference(EmotionClassifier.load())
    assert ref.shape == (7,) and EMOTIONS[int(np.argmax(ref))] == "neutral"


def test_with_crops_the_baseline_and_the_input_are_read_whole(person, tmp_path):
    crops = tmp_path / "crops"
    crops.mkdir()
    cv2.imwrite(str(crops / "n.png"), template("neutral").astype(np.uint8))
    cv2.imwrite(str(crops / "s.png"), template("happy").astype(np.uint8))
    baseline = tmp_path / "base.png"
    cv2.imwrite(str(baseline), template("neutral").astype(np.uint8))
    assert main(["process", str(crops), "-o", str(tmp_path / "out"), "--no-progress",
                 "--crops", "--baseline", str(baseline)]) == 0
    got = [(r["image"], r["label"], r["calibrated"]) for r in rows(tmp_path / "out")]
    assert got == [("n.png", "neutral", "1"), ("s.png", "happy", "1")]


def clip(path, expressions):
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (640, 480))
    for e in expressions:
        out.write(frame_with(e))
    out.release()
    return path


def test_a_posed_smile_as_the_baseline_is_refused_naming_the_file(person, tmp_path, caplog):
    target = photo(tmp_path / "in.png", "neutral")
    smile = photo(tmp_path / "smile.png", "happy")
    args = ["process", str(target), "-o", str(tmp_path / "out"), "--no-progress",
            "--baseline", str(smile)]
    assert main(args) == 2
    line = next(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert line.startswith(f"--baseline {smile}: that looked like a smile (happy in the "
                           "picture, 80%")
    assert "--force-baseline" in line and "\n" not in line
    assert not (tmp_path / "out" / "summary.json").exists()
    # forced, it is used as given: the neutral face then reads as something else
    assert main(args + ["--force-baseline"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["baseline"]["source"] == str(smile)
    assert rows(tmp_path / "out")[0]["label"] != "happy"


def test_a_baseline_clip_of_a_person_talking_and_smiling_is_refused(person, tmp_path,
                                                                     caplog):
    target = photo(tmp_path / "in.png", "neutral")
    spells = ["neutral"] * 4 + ["happy"] * 3 + ["neutral"] * 5 + ["happy"] * 2
    talking = clip(tmp_path / "talking.avi", spells * 3)
    assert main(["process", str(target), "-o", str(tmp_path / "out"), "--no-progress",
                 "--baseline", str(talking)]) == 2
    assert f"--baseline {talking}: the expression changed while it was read" in caplog.text
    smiling = clip(tmp_path / "smiling.avi", ["neutral"] * 4 + ["happy"] * 26)
    assert main(["process", str(target), "-o", str(tmp_path / "out"), "--no-progress",
                 "--baseline", str(smiling)]) == 2
    assert f"--baseline {smiling}: that looked like a smile (happy in 26 of 30" in caplog.text
    assert not (tmp_path / "out" / "summary.json").exists()


def test_a_baseline_photo_with_two_faces_is_refused(person, tmp_path, make_pipeline):
    from app.core.neutral import measure_baseline
    from app.core.neutral_check import NotNeutral

    two = synthetic.paste_face(frame_with("neutral", (170, 240), 160),
                               synthetic.drawn_face(160, "neutral"), (470, 240), 160)
    path = tmp_path / "two.png"
    assert cv2.imwrite(str(path), two)
    pipe = make_pipeline(classifier=PersonClassifier())
    assert len(pipe.process(two, 0.0)) == 2            # both faces are found
    with pytest.raises(NotNeutral, match=f"--baseline {path}: two faces of about the same"):
        measure_baseline(path, pipe)
    one = photo(tmp_path / "one.png", "neutral")       # the same face alone passes
    assert measure_baseline(one, pipe)[1]["faces"] == 1


def test_the_shipped_model_refuses_a_real_smile_as_the_baseline(fer_root, tmp_path, caplog):
    """A FER-2013 smile, pasted into a frame, as someone's "neutral" photo."""
    from model.runtime.classifier import EmotionClassifier

    classifier = EmotionClassifier.load()
    smiles = [f for f in fer_faces(fer_root, "happy", 6)
              if classifier.predict(f)[0][EMOTIONS.index("happy")] >= 0.6]
    assert smiles, "no FER smile the shipped model reads as happy"
    smile = tmp_path / "smile.png"
    assert cv2.imwrite(str(smile), synthetic.paste_face(
        synthetic.background(), cv2.cvtColor(smiles[0], cv2.COLOR_GRAY2BGR), (320, 240), 160))
    target = photo(tmp_path / "in.png", "neutral")
    assert main(["process", str(target), "-o", str(tmp_path / "out"), "--no-progress",
                 "--baseline", str(smile)]) == 2
    assert f"--baseline {smile}: that looked like a smile (happy in the picture" in caplog.text
