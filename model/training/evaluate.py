"""Measure a model file on a FER-2013 test split: the figures the model card quotes.

The model is loaded with `EmotionClassifier`, the same class and runtime the app
uses, so the numbers are those of the exact file that ships (int8 weights and
test-time flip included), not of the Keras checkpoint it came from.
"""

import json
import logging
import time
from pathlib import Path

import numpy as np

import model.runtime.atomic as atomic
import model.runtime.calibration as calibration
from model.runtime.classifier import EmotionClassifier, load_classifier
from model.runtime.emotions import EMOTIONS
from model.runtime.errors import DataError
from model.training.confusion_image import matrix_image
from model.training.data import (
    SPLIT_NAMES,
    Split,
    is_labelled_folder,
    load_dataset,
    load_labelled_folder,
)

log = logging.getLogger(__name__)

BATCH = 256  # faces per predict call: LiteRT is fastest on batches


def confusion_matrix(y_true, y_pred, n_classes: int = len(EMOTIONS)) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def metrics(y_true, y_pred) -> dict:
    """Accuracy, macro F1, per-class precision/recall/F1 and the confusion matrix.

    A class never predicted has precision 0, one never present has recall 0 (as
    scikit-learn's zero_division=0). The macro F1 averages over the classes that
    occur in y_true or y_pred, again as scikit-learn does, so a small sample that
    lacks a class is not marked down for it.
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D and equal in length, "
                         f"got {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("no samples to evaluate")
    n = len(EMOTIONS)
    if min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= n:
        raise ValueError(f"labels must be class indices 0..{n - 1}")
    m = confusion_matrix(y_true, y_pred, n)
    tp, predicted, actual = np.diag(m), m.sum(axis=0), m.sum(axis=1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, actual)
    f1 = _ratio(2 * precision * recall, precision + recall)
    seen = (predicted + actual) > 0
    return {
        "accuracy": float(tp.sum() / len(y_true)),
        "macro_f1": float(f1[seen].mean()),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(actual[i])}
            for i, name in enumerate(EMOTIONS)
        },
        "labels": list(EMOTIONS),
        "confusion_matrix": m.tolist(),
    }


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def predict_probs(classifier, faces, batch: int = BATCH) -> np.ndarray:
    """(N, 7) probabilities, `batch` faces per predict call."""
    out = [classifier.predict(faces[i:i + batch]) for i in range(0, len(faces), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(EMOTIONS)), np.float32)


def predict_labels(classifier, faces, batch: int = BATCH) -> np.ndarray:
    """Class index per face."""
    return np.argmax(predict_probs(classifier, faces, batch), axis=1)


def evaluate_model(classifier, split) -> dict:
    """metrics() of `classifier` on a data.Split with its calibration figures (ECE,
    NLL, mean confidence, the reliability bins), plus the sample count."""
    if len(split) == 0:
        raise DataError("no faces to evaluate on")
    return scores(predict_probs(classifier, split.x), split.y)


def scores(probs, labels) -> dict:
    """evaluate_model's figures from probabilities already computed."""
    return {"samples": len(labels), **metrics(labels, np.argmax(probs, axis=1)),
            "calibration": calibration.calibration_metrics(probs, labels)}


def crowd_scores(probs, split, votes) -> tuple[dict, np.ndarray, np.ndarray]:
    """Against the FER+ crowd: (figures, the index of the faces with a majority in
    `split`, their majority emotion).

    The figures beside scores() on the majority faces: FER-2013's own labels on all
    faces, the faces where those labels and the majority agree, the crowd's share of
    the model's pick (all voted faces), and what crowd-neutral faces are read as."""
    from model.training import votes as crowd

    counts = votes.lookup(split.keys)
    major = crowd.majority(counts)
    keep = np.flatnonzero(major != crowd.NO_MAJORITY)
    if len(keep) == 0:
        raise DataError("no face has a majority of the crowd's votes")
    picks = probs.argmax(axis=1)
    voted = np.flatnonzero(counts.sum(axis=1) > 0)
    agree = keep[major[keep] == split.y[keep]]
    neutral = keep[major[keep] == EMOTIONS.index("neutral")]
    fer = metrics(split.y, picks)
    read_as = np.bincount(picks[neutral], minlength=len(EMOTIONS)) / max(len(neutral), 1)
    return {
        "fer2013_labels": {"samples": len(split), "accuracy": fer["accuracy"],
                           "macro_f1": fer["macro_f1"]},
        "labels_agree": {"samples": len(agree),
                         "accuracy": float(np.mean(picks[agree] == split.y[agree]))
                         if len(agree) else None},
        "crowd_share_of_pick": float(crowd.distribution(counts[voted])[
            np.arange(len(voted)), picks[voted]].mean()),
        "crowd_neutral_read_as": {e: round(float(v), 4) for e, v in zip(EMOTIONS, read_as)},
    }, keep, major[keep]


def run_evaluate(data, split: str = "PrivateTest", model=None, confusion=None,
                 flip: bool = True, accurate: bool = False,
                 robustness: bool = False, reliability=None,
                 labels: str = "fer2013", votes=None) -> dict:
    """`evaluate` command: JSON on stdout; the confusion matrix and reliability
    diagram PNGs only if asked for.

    `data` is FER-2013 (then `split` picks PublicTest or PrivateTest) or any folder
    of `<emotion>/` face crops (then every image in it is scored). `labels="ferplus"`
    scores against the crowd's majority (FER+ votes, `votes` or beside the data) on
    the faces that have one, and adds crowd_scores()'s figures."""
    t0 = time.perf_counter()
    png = Path(confusion) if confusion else None
    for path in (png, reliability):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)  # fail now, not after the work
    if reliability:
        from model.training.reliability_plot import check_matplotlib

        check_matplotlib()
    votes = _crowd_votes(data, votes) if labels == "ferplus" else None
    clf = load_classifier(model, accurate=accurate, flip=flip)
    model_name = clf.path.name if clf.path is not None else "the model"
    faces, name, skipped = _load_faces(data, split)
    if len(faces) == 0:
        raise DataError("no faces to evaluate on")
    probs = predict_probs(clf, faces.x)
    crowd: dict = {}
    if votes is not None:
        crowd, keep, majority = crowd_scores(probs, faces, votes)
        faces, probs = Split(faces.x[keep], majority, [faces.keys[i] for i in keep]), probs[keep]
    result = {"model": str(clf.path), "data": str(data), "split": name, "scored_against": labels,
              "flip": clf.flip, "accurate": accurate, "five_crops": clf.five_crops,
              **scores(probs, faces.y), **crowd, "skipped": skipped}
    result["ms_per_face"] = round(_ms_per_face(clf, faces.x), 3)
    if robustness:
        from model.training.robustness import robustness as measure
        from model.training.robustness import table

        result["robustness"] = measure(lambda f: predict_labels(clf, f), faces.x, faces.y)
        log.info("robustness of %s on %s (seed %d):\n%s", model_name, name,
                 result["robustness"]["seed"], table(result["robustness"]))
    if png:
        title = f"{model_name} on {name}: accuracy {result['accuracy']:.4f}"
        atomic.write_png(png, matrix_image(result["confusion_matrix"], EMOTIONS, title))
        result["confusion_png"] = str(png)
    cal = result["calibration"]
    if reliability:
        from model.training.reliability_plot import save_reliability

        save_reliability(cal["bins"], Path(reliability),
                         f"{model_name} on {name}: ECE {cal['ece']:.3f}")
        result["reliability_png"] = str(reliability)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("%s on %s: accuracy %.4f, macro F1 %.4f (%d faces); mean confidence %.4f, "
             "ECE %.4f, NLL %.4f (temperature %.3f)%s",
             clf.path, name, result["accuracy"], result["macro_f1"], result["samples"],
             cal["mean_confidence"], cal["ece"], cal["nll"], clf.calibration.temperature,
             f"; confusion matrix {png}" if png else "")
    print(json.dumps(result, indent=2))
    return result


def _crowd_votes(data, votes):
    """The FER+ votes, checked before any work: they need FER-2013's own files."""
    from model.training import votes as crowd

    if is_labelled_folder(data):
        raise DataError(f"--labels ferplus needs the FER-2013 folder or fer2013.csv, not "
                        f"a folder of your own crops ({data})")
    return crowd.load_votes(crowd.find_votes(data, votes))


def _load_faces(data, split: str):
    """(Split, its name, skipped count) from FER-2013 or a labelled folder of crops."""
    if is_labelled_folder(data):
        faces, skipped = load_labelled_folder(data)
        return faces, Path(data).name, sum(skipped.values())
    key = SPLIT_NAMES[split]
    dataset = load_dataset(data, splits=(key,))
    return dataset[key], split, sum(dataset.skipped.values())


def _ms_per_face(clf, faces, repeats: int = 50) -> float:
    """Median milliseconds to classify one face, as the live app does (batch of one)."""
    face = faces[:1]
    clf.predict(face)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        clf.predict(face)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


CROWD_CALIBRATION = "PublicTest's FER+ majority faces"


def calibrate_model(path, split, split_name: str = "FER-2013 PublicTest") -> dict:
    """Fit the temperature and the neutral reference of the .tflite or .json model at
    `path` on a data.Split (PublicTest: never the split accuracy is reported on) and
    write them into the file; returns the figures before and after."""
    path = Path(path)
    if path.suffix.lower() not in (".tflite", ".json"):
        raise DataError(f"cannot calibrate {path}: a .tflite or .json model file can "
                        "carry a calibration (export a .keras checkpoint first)")
    if len(split) == 0:
        raise DataError(f"cannot calibrate {path}: no {split_name} faces to fit on")
    raw = EmotionClassifier.load(path, calibrated=False)
    probs = predict_probs(raw, split.x)
    fitted = calibration.fit(probs, split.y, f"{split_name}, {len(split)} faces")
    write = calibration.write_tflite if path.suffix.lower() == ".tflite" \
        else calibration.write_ensemble
    write(path, fitted)
    before = calibration.calibration_metrics(probs, split.y)
    after = calibration.calibration_metrics(fitted.apply(probs), split.y)
    log.info("calibrated %s on %s: temperature %.3f; ECE %.4f -> %.4f, mean confidence "
             "%.4f -> %.4f (accuracy %.4f, unchanged)", path, split_name, fitted.temperature,
             before["ece"], after["ece"], before["mean_confidence"], after["mean_confidence"],
             float(np.mean(np.argmax(probs, 1) == split.y)))
    return {"model": str(path), "split": split_name, "samples": len(split),
            **fitted.to_json(),
            "before": {k: v for k, v in before.items() if k != "bins"},
            "after": {k: v for k, v in after.items() if k != "bins"}}


def run_calibrate(data, model=None, labels: str = "fer2013", votes=None) -> dict:
    """`calibrate` command: fit on FER-2013 PublicTest (against its labels, or on the
    faces where the FER+ crowd has a majority, against it), write into the model file,
    print the figures as JSON."""
    from model.runtime.classifier import DEFAULT_MODEL
    from model.training.votes import load_scored_split

    split = load_scored_split(data, SPLIT_NAMES["PublicTest"], labels, votes)
    result = calibrate_model(model or DEFAULT_MODEL, split,
                             *([CROWD_CALIBRATION] if labels == "ferplus" else []))
    print(json.dumps(result, indent=2))
    return result
