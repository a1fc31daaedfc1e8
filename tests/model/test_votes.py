"""The FER+ crowd's votes: targets from them, scoring against their majority, and
`train`/`evaluate`/`calibrate --labels ferplus` on a tiny data set with its own votes."""

import json

import numpy as np
import pytest

from model import EMOTIONS
from model.runtime.errors import DataError
from model.training import votes as crowd
from model.training.data import load_dataset
from tests.conftest import TINY_COUNTS, TINY_PREFIX, tiny_faces, write_tiny_csv, write_tiny_folder

COLUMNS = ",".join(crowd.VOTE_COLUMNS)


def counts(**votes) -> np.ndarray:
    """One face's vote counts, by FER+ column name."""
    return np.array([[votes.get(c, 0) for c in crowd.VOTE_COLUMNS]], np.float32)


def crowd_label(split: str, label: int) -> int:
    """What the tiny data set's crowd calls a face: the next emotion on val and test
    (so scoring against the crowd and against the labels cannot agree), the label on
    train."""
    return label if split == "train" else (label + 1) % len(EMOTIONS)


def write_votes(path, files_and_rows, unvoted=()):
    """A ferplus_votes.csv: 7 votes for the crowd's emotion, 2 contempt, 1 unknown, so
    the emotion holds the majority; `unvoted` files get no row."""
    lines = [f"file,fer2013_row,{COLUMNS}"]
    for file, row, emotion in files_and_rows:
        if file in unvoted:
            continue
        votes = counts(**{crowd.COLUMN_OF[EMOTIONS[emotion]]: 7, "contempt": 2, "unknown": 1})
        lines.append(f"{file},{row}," + ",".join(str(int(v)) for v in votes[0]))
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_with_votes(root, unvoted=()):
    """The tiny folder data set with a votes file beside it; returns its root."""
    root = write_tiny_folder(root)
    rows, row = [], 0
    for split in TINY_COUNTS:
        _, labels = tiny_faces(split)
        part = "train" if split == "train" else "test"
        for i, label in enumerate(labels):
            file = f"{part}/{EMOTIONS[label]}/{TINY_PREFIX[split]}_{i:04d}.png"
            rows.append((file, row, crowd_label(split, label)))
            row += 1
    write_votes(root / crowd.VOTES_FILE, rows, unvoted)
    return root


def test_the_distribution_follows_emotions_order_without_contempt_unknown_or_nf():
    d = crowd.distribution(counts(happiness=6, neutral=2, contempt=1, unknown=1, NF=0))
    expected = np.zeros(7)
    expected[EMOTIONS.index("happy")], expected[EMOTIONS.index("neutral")] = 0.75, 0.25
    np.testing.assert_allclose(d[0], expected)
    assert crowd.distribution(counts(contempt=5, unknown=5)).sum() == 0  # no emotion vote


@pytest.mark.parametrize("votes, expected", [
    (dict(anger=6, neutral=4), "angry"),
    (dict(sadness=5, neutral=5), None),            # half is not more than half
    (dict(surprise=5, fear=3, unknown=1), "surprise"),   # 5 of 9
    (dict(contempt=6, neutral=4), None),           # contempt is not one of the seven
    (dict(NF=10), None),
])
def test_the_majority_needs_more_than_half_of_all_votes(votes, expected):
    want = crowd.NO_MAJORITY if expected is None else EMOTIONS.index(expected)
    assert crowd.majority(counts(**votes))[0] == want


def test_both_layouts_find_each_face_s_votes(tmp_path):
    root = tiny_with_votes(tmp_path / "fer")
    votes = crowd.load_votes(root / crowd.VOTES_FILE)
    folder = load_dataset(root)
    csv = load_dataset(write_tiny_csv(tmp_path / "fer2013.csv"))   # same faces, same order
    for split in ("train", "val", "test"):
        want = np.array([crowd_label(split, y) for y in folder[split].y])
        assert folder[split].keys[0].startswith(("train/", "test/"))
        for data in (folder, csv):
            np.testing.assert_array_equal(crowd.majority(votes.lookup(data[split].keys)), want)


def test_faces_without_votes_are_left_out_or_keep_their_label(tmp_path):
    unvoted = {"train/angry/Training_0000.png", "train/happy/Training_0013.png"}
    root = tiny_with_votes(tmp_path / "fer", unvoted)
    votes = crowd.load_votes(root / crowd.VOTES_FILE)
    train = load_dataset(root)["train"]
    kept, targets = crowd.crowd_targets(train, votes)
    assert len(kept) == len(train) - 2 and not unvoted & set(kept.keys)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0)
    np.testing.assert_array_equal(targets.argmax(axis=1), kept.y)   # train: crowd == label
    assert targets.max() == pytest.approx(1.0)    # 7 of 7 emotion votes (contempt left out)
    same, targets = crowd.crowd_targets(train, votes, unvoted="label")
    assert len(same) == len(train)
    first = train.keys.index("train/angry/Training_0000.png")
    assert targets[first].tolist() == np.eye(7)[train.y[first]].tolist()


def test_a_votes_file_with_wrong_columns_or_missing_is_a_clear_error(tmp_path):
    bad = tmp_path / "votes.csv"
    bad.write_text("file,neutral\nx.png,3\n")
    with pytest.raises(DataError, match="wrong columns.*fer2013_row"):
        crowd.load_votes(bad)
    with pytest.raises(DataError, match="FER\\+ votes not found"):
        crowd.find_votes(tmp_path)


def test_train_on_the_crowd_learns_and_is_scored_against_the_votes(tmp_path):
    pytest.importorskip("tensorflow", reason="training needs TensorFlow (pip install '.[test]')")
    from model.runtime.calibration import tflite_calibration
    from model.training.train import train, use_crowd
    from tests.conftest import tiny_config

    root = tiny_with_votes(tmp_path / "fer")
    cfg = tiny_config(root, tmp_path / "run", labels="ferplus")
    data = use_crowd(cfg, load_dataset(root))
    val = data["val"]
    np.testing.assert_array_equal(data.val_targets.argmax(axis=1),
                                  [crowd_label("val", y) for y in val.y])
    np.testing.assert_array_equal(data.calibration.y, [crowd_label("val", y) for y in val.y])
    path = train(cfg)
    assert "FER+ majority" in tflite_calibration(path.read_bytes(), path).fitted_on
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    assert state["config"]["labels"] == "ferplus"


def test_evaluate_scores_against_the_crowd_and_reports_fer2013_labels_beside(
        tmp_path, monkeypatch, capsys):
    """A stand-in model that reads every face as its FER-2013 label: perfect on those
    labels, wrong on every face where the crowd says otherwise (all of the tiny test
    split's), and it says what crowd-neutral faces are read as."""
    import model.training.evaluate as ev

    root = tiny_with_votes(tmp_path / "fer")
    test = load_dataset(root, splits=("test",))["test"]
    truth = {face.tobytes(): label for face, label in zip(test.x, test.y)}

    class LabelReader:
        path, flip, five_crops = root / "stand-in.tflite", True, False

        class calibration:
            temperature = 1.0

        def predict(self, faces):
            return np.eye(7, dtype=np.float32)[[truth[f.tobytes()] for f in faces]]

    monkeypatch.setattr(ev, "load_classifier", lambda *a, **k: LabelReader())
    result = ev.run_evaluate(root, labels="ferplus")
    assert json.loads(capsys.readouterr().out)["accuracy"] == result["accuracy"]
    assert result["scored_against"] == "ferplus" and result["samples"] == len(test)
    assert result["accuracy"] == 0.0 and result["fer2013_labels"]["accuracy"] == 1.0
    assert result["labels_agree"] == {"samples": 0, "accuracy": None}
    # the crowd calls the tiny surprise faces neutral (the next emotion): read surprise
    assert result["crowd_neutral_read_as"]["surprise"] == 1.0
    assert result["crowd_share_of_pick"] == 0.0


def test_evaluate_with_the_crowd_refuses_a_folder_of_crops(tmp_path):
    from model.training.evaluate import run_evaluate

    (tmp_path / "crops" / "happy").mkdir(parents=True)
    with pytest.raises(DataError, match="needs the FER-2013 folder"):
        run_evaluate(tmp_path / "crops", labels="ferplus")
