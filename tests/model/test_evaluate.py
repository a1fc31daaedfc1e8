"""evaluate: metrics against hand-computed numbers, batching, and the command's output."""

import json

import cv2
import numpy as np
import pytest

from model import EMOTIONS
from model.runtime.errors import DataError, ModelError
from model.training.data import Split
from model.training.evaluate import evaluate_model, metrics, run_evaluate
from tests.conftest import TINY_COUNTS, read_image, write_tiny_csv


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
    calibration = result.pop("calibration")
    assert result == {"samples": 600, **metrics(labels, levels)}
    # certain of every face (confidence 1) and right on 90%: 0.1 off, in the top bin
    assert calibration["mean_confidence"] == 1.0 and calibration["ece"] == pytest.approx(0.1)
    assert calibration["bins"][-1]["faces"] == 600


def test_evaluate_model_refuses_an_empty_split():
    with pytest.raises(DataError):
        evaluate_model(BrightnessClassifier(), Split(np.zeros((0, 48, 48), np.uint8),
                                                     np.zeros(0, np.int64)))


@pytest.mark.parametrize("split, key", [("PublicTest", "val"), ("PrivateTest", "test")])
def test_run_evaluate_prints_json_and_writes_the_confusion_matrix(
        tiny_run, tmp_path, capsys, split, key):
    cfg, out = tiny_run
    model = out / "emotion_cnn.tflite"
    png = tmp_path / "plots" / "cm.png"  # a folder that does not exist yet
    returned = run_evaluate(cfg.data, split=split, model=model, confusion=png)
    result = json.loads(capsys.readouterr().out)  # stdout holds the JSON and nothing else
    assert returned == result
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
    from model.runtime.classifier import EmotionClassifier
    from model.training.data import load_dataset

    _, out = tiny_run
    model = out / "best.keras"
    csv_path = write_tiny_csv(tmp_path / "fer2013.csv")
    run_evaluate(csv_path, split="PublicTest", model=model, flip=False)
    result = json.loads(capsys.readouterr().out)
    val = load_dataset(csv_path, splits=("val",))["val"]
    expected = EmotionClassifier.load(model, flip=False).predict(val.x).argmax(axis=1)
    assert result["flip"] is False
    assert result["accuracy"] == pytest.approx(float(np.mean(expected == val.y)))
    assert result["confusion_matrix"] == metrics(val.y, expected)["confusion_matrix"]


def test_run_evaluate_with_a_missing_model_names_it_and_writes_nothing(tiny_folder, tmp_path,
                                                                       capsys):
    with pytest.raises(ModelError, match="model file not found: .*nope.tflite"):
        run_evaluate(tiny_folder, model=tmp_path / "nope.tflite", confusion=tmp_path / "cm.png")
    assert capsys.readouterr().out == "" and not (tmp_path / "cm.png").exists()


def test_run_evaluate_with_a_wrong_data_folder_says_what_was_expected(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(DataError, match="wrong layout in .*data.*expected"):
        run_evaluate(tmp_path / "data", confusion=tmp_path / "cm.png")


def _write_crops(root, faces, labels, sizes=(48, 96, 150)):
    """Face crops of several sizes (as a user's own would be) in <emotion>/ folders."""
    for i, (face, label) in enumerate(zip(faces, labels)):
        folder = root / EMOTIONS[label]
        folder.mkdir(parents=True, exist_ok=True)
        side = sizes[i % len(sizes)]
        big = cv2.resize(face, (side, side), interpolation=cv2.INTER_NEAREST)
        assert cv2.imwrite(str(folder / f"face{i}.png"), cv2.cvtColor(big, cv2.COLOR_GRAY2BGR))


def test_evaluate_scores_a_labelled_folder_of_crops_of_any_size(tiny_run, tmp_path, capsys):
    from model.runtime.classifier import EmotionClassifier
    from model.runtime.preprocess import to_gray48
    from tests.conftest import tiny_faces

    _, out = tiny_run
    model = out / "emotion_cnn.tflite"
    faces, labels = tiny_faces("val")
    keep = labels != EMOTIONS.index("disgust")      # a class may be missing
    _write_crops(tmp_path / "mine", faces[keep], labels[keep])
    (tmp_path / "mine" / "notes.txt").write_text("not a class")  # loose files are fine
    result = run_evaluate(tmp_path / "mine", model=model)
    assert result["samples"] == int(keep.sum()) and result["split"] == "mine"
    assert result["per_class"]["disgust"]["support"] == 0
    # the same figures as classifying the files by hand (read back, resized to 48)
    order = sorted(range(int(keep.sum())),
                   key=lambda i: (EMOTIONS[labels[keep][i]], f"face{i}.png"))
    read = np.stack([to_gray48(read_image(tmp_path / "mine" / EMOTIONS[labels[keep][i]]
                                          / f"face{i}.png")) for i in order])
    expected = EmotionClassifier.load(model).predict(read).argmax(axis=1)
    assert result["accuracy"] == pytest.approx(float(np.mean(expected == labels[keep][order])))
    assert "confusion_png" not in result


def test_a_folder_with_an_unknown_class_is_refused_by_name(tmp_path):
    from tests.conftest import tiny_faces

    faces, labels = tiny_faces("test")
    _write_crops(tmp_path / "mine", faces, labels)
    (tmp_path / "mine" / "happpy").mkdir()
    with pytest.raises(DataError, match="unknown class folder.*happpy"):
        run_evaluate(tmp_path / "mine")


def test_the_confusion_matrix_is_written_only_when_asked(tiny_run, tmp_path, monkeypatch,
                                                         capsys):
    cfg, out = tiny_run
    monkeypatch.chdir(tmp_path)
    run_evaluate(cfg.data, split="PublicTest", model=out / "emotion_cnn.tflite")
    assert list(tmp_path.iterdir()) == []


def test_robustness_reports_each_perturbation_and_the_mean_drop(tiny_run, capsys):
    from model.training.robustness import PERTURBATIONS

    cfg, out = tiny_run
    result = run_evaluate(cfg.data, split="PublicTest", model=out / "emotion_cnn.tflite",
                          robustness=True)["robustness"]
    assert list(result["perturbations"]) == list(PERTURBATIONS)
    assert result["clean_accuracy"] == pytest.approx(result_accuracy(capsys))
    drops = [r["drop_points"] for r in result["perturbations"].values()]
    for r in result["perturbations"].values():
        assert r["drop_points"] == pytest.approx(100 * (result["clean_accuracy"] - r["accuracy"]),
                                                 abs=0.01)
    assert result["mean_drop_points"] == pytest.approx(np.mean(drops), abs=0.01)


def result_accuracy(capsys):
    return json.loads(capsys.readouterr().out)["accuracy"]


def test_robustness_measures_what_each_perturbation_costs():
    """A stand-in that reads mean brightness: light changes cost it, a flip-free shift not."""
    from model.training.robustness import perturb, robustness

    rng = np.random.default_rng(1)
    levels = rng.integers(1, 6, 140)
    faces = (levels * 37 + 18).astype(np.uint8)[:, None, None].repeat(48, 1).repeat(48, 2)
    clf = BrightnessClassifier()
    result = robustness(lambda f: clf.predict(f).argmax(axis=1), faces, levels)
    rows = result["perturbations"]
    assert result["clean_accuracy"] == 1.0
    assert rows["shift 10%"]["drop_points"] == 0.0      # a flat face looks the same shifted
    assert rows["dark"]["accuracy"] == pytest.approx(
        float(np.mean(((faces[:, 0, 0] * 0.5).astype(int) // 37) == levels)))
    assert rows["dark"]["drop_points"] > 50
    # the same seed gives the same noisy faces; another seed other ones
    np.testing.assert_array_equal(perturb(faces, "noise sigma 8"), perturb(faces, "noise sigma 8"))
    assert not np.array_equal(perturb(faces, "noise sigma 8"),
                              perturb(faces, "noise sigma 8", seed=5))
    noisy = perturb(faces, "noise sigma 8").astype(float) - faces
    assert 7 < noisy.std() < 9
