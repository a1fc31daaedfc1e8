"""evaluate: metrics against hand-computed numbers, batching, and the command's output."""

import json

import cv2
import numpy as np
import pytest

from app.cli import build_parser
from model import EMOTIONS
from model.data import Split
from model.errors import DataError, ModelError
from model.evaluate import evaluate_model, metrics, run_evaluate
from tests.conftest import TINY_COUNTS, write_tiny_csv


def test_metrics_match_numbers_worked_out_by_hand():
    # true 0 0 1 1 2 3, predicted 0 1 1 1 2 0
    m = metrics([0, 0, 1, 1, 2, 3], [0, 1, 1, 1, 2, 0])
    assert m["accuracy"] == pytest.approx(4 / 6)
    pc = m["per_class"]
    assert (pc["angry"]["precision"], pc["angry"]["recall"], pc["angry"]["f1"]) == \
        pytest.approx((1 / 2, 1 / 2, 1 / 2))
    assert (pc["disgust"]["precision"], pc["disgust"]["recall"], pc["disgust"]["f1"]) == \
        pytest.approx((2 / 3, 1.0, 0.8))
    assert (pc["fear"]["precision"], pc["fear"]["recall"], pc["fear"]["f1"]) == (1.0, 1.0, 1.0)
    # happy: never predicted, missed once -> 0 (not NaN)
    assert (pc["happy"]["precision"], pc["happy"]["recall"], pc["happy"]["f1"]) == (0.0, 0.0, 0.0)
    assert [pc[e]["support"] for e in EMOTIONS] == [2, 2, 1, 1, 0, 0, 0]
    # the macro average leaves out the classes that occur nowhere (sad, surprise, neutral)
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 1.0 + 0.0) / 4)
    cm = np.array(m["confusion_matrix"])
    assert cm.shape == (7, 7) and cm.sum() == 6
    assert cm[0].tolist() == [1, 1, 0, 0, 0, 0, 0] and cm[3, 0] == 1 and cm[1, 1] == 2
    assert m["labels"] == list(EMOTIONS)
    json.dumps(m)  # plain Python numbers only


def test_metrics_of_a_perfect_prediction():
    y = np.arange(7).repeat(3)
    m = metrics(y, y)
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0
    assert np.array_equal(m["confusion_matrix"], np.diag([3] * 7))


@pytest.mark.parametrize("y_true, y_pred, message", [
    ([0, 1], [0], "equal in length"),
    ([], [], "no samples"),
    ([0, 7], [0, 1], "class indices 0..6"),
    ([0, -1], [0, 1], "class indices 0..6"),
])
def test_metrics_refuse_bad_labels(y_true, y_pred, message):
    with pytest.raises(ValueError, match=message):
        metrics(y_true, y_pred)


class BrightnessClassifier:
    """A stand-in model: the class is the face's mean brightness // 37; records batch sizes."""

    def __init__(self):
        self.batches = []

    def predict(self, faces):
        self.batches.append(len(faces))
        return np.eye(7, dtype=np.float32)[faces.mean(axis=(1, 2)).astype(int) // 37]


def test_evaluate_model_batches_the_faces_and_scores_every_one():
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 7, 600)
    faces = (levels * 37 + 5).astype(np.uint8)[:, None, None].repeat(48, 1).repeat(48, 2)
    labels = levels.copy()
    labels[:60] = (labels[:60] + 1) % 7  # 60 of 600 wrong
    clf = BrightnessClassifier()
    result = evaluate_model(clf, Split(faces, labels))
    assert clf.batches == [256, 256, 88]
    assert result["samples"] == 600 and result["accuracy"] == pytest.approx(0.9)
    assert result == {"samples": 600, **metrics(labels, levels)}


def test_evaluate_model_refuses_an_empty_split():
    with pytest.raises(DataError):
        evaluate_model(BrightnessClassifier(), Split(np.zeros((0, 48, 48), np.uint8),
                                                     np.zeros(0, np.int64)))


def _args(*argv):
    return build_parser().parse_args(["evaluate", *map(str, argv)])


@pytest.mark.parametrize("split, key", [("PublicTest", "val"), ("PrivateTest", "test")])
def test_run_evaluate_prints_json_and_writes_the_confusion_matrix(
        tiny_run, tmp_path, capsys, split, key):
    cfg, out = tiny_run
    model = out / "emotion_cnn.tflite"
    png = tmp_path / "plots" / "cm.png"  # a folder that does not exist yet
    assert run_evaluate(_args("--data", cfg.data, "--split", split, "--model", model,
                              "--confusion", png)) == 0
    result = json.loads(capsys.readouterr().out)  # stdout holds the JSON and nothing else
    assert result["model"] == str(model) and result["split"] == split and result["flip"] is True
    assert result["samples"] == 7 * TINY_COUNTS[key] and result["skipped"] == 0
    assert np.array(result["confusion_matrix"]).sum(axis=1).tolist() == [TINY_COUNTS[key]] * 7
    assert set(result["per_class"]) == set(EMOTIONS)
    assert 0.0 <= result["accuracy"] <= 1.0 and 0.0 <= result["macro_f1"] <= 1.0
    assert result["confusion_png"] == str(png)
    img = cv2.imread(str(png))
    assert img is not None and img.shape[0] > 7 * 50 and img.shape[1] > 7 * 50


def test_run_evaluate_scores_the_file_it_is_given(tiny_run, tmp_path, capsys):
    """Same figures as predicting the split by hand with the same model file, no flip."""
    from model.classifier import EmotionClassifier
    from model.data import load_dataset

    _, out = tiny_run
    model = out / "best.keras"
    csv_path = write_tiny_csv(tmp_path / "fer2013.csv")
    run_evaluate(_args("--data", csv_path, "--split", "PublicTest", "--model", model,
                       "--no-flip", "--confusion", tmp_path / "cm.png"))
    result = json.loads(capsys.readouterr().out)
    val = load_dataset(csv_path, splits=("val",))["val"]
    expected = EmotionClassifier.load(model, flip=False).predict(val.x).argmax(axis=1)
    assert result["flip"] is False
    assert result["accuracy"] == pytest.approx(float(np.mean(expected == val.y)))
    assert result["confusion_matrix"] == metrics(val.y, expected)["confusion_matrix"]


def test_run_evaluate_with_a_missing_model_names_it_and_writes_nothing(tiny_folder, tmp_path,
                                                                       capsys):
    with pytest.raises(ModelError, match="model file not found: .*nope.tflite"):
        run_evaluate(_args("--data", tiny_folder, "--model", tmp_path / "nope.tflite",
                           "--confusion", tmp_path / "cm.png"))
    assert capsys.readouterr().out == "" and not (tmp_path / "cm.png").exists()


def test_run_evaluate_with_a_wrong_data_folder_says_what_was_expected(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="wrong layout in .*data.*expected"):
        run_evaluate(_args("--data", tmp_path / "data", "--confusion", tmp_path / "cm.png"))
