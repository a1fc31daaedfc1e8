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

from common import atomic
from model import EMOTIONS
from model.classifier import load_classifier
from model.confusion_image import matrix_image
from model.data import SPLIT_NAMES, is_labelled_folder, load_dataset, load_labelled_folder
from common.errors import DataError

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


def predict_labels(classifier, faces, batch: int = BATCH) -> np.ndarray:
    """Class index per face, `batch` faces per predict call."""
    out = [np.argmax(classifier.predict(faces[i:i + batch]), axis=1)
           for i in range(0, len(faces), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def evaluate_model(classifier, split) -> dict:
    """metrics() of `classifier` on a data.Split, plus the sample count."""
    if len(split) == 0:
        raise DataError("no faces to evaluate on")
    result = metrics(split.y, predict_labels(classifier, split.x))
    return {"samples": len(split), **result}


def run_evaluate(data, split: str = "PrivateTest", model=None, confusion=None,
                 flip: bool = True, accurate: bool = False,
                 robustness: bool = False) -> dict:
    """`evaluate` command: JSON on stdout; the confusion matrix PNG only if asked for.

    `data` is FER-2013 (then `split` picks PublicTest or PrivateTest) or any folder
    of `<emotion>/` face crops (then every image in it is scored)."""
    t0 = time.perf_counter()
    png = Path(confusion) if confusion else None
    if png:
        png.parent.mkdir(parents=True, exist_ok=True)  # fail here, not after the work
    clf = load_classifier(model, accurate=accurate, flip=flip)
    faces, name, skipped = _load_faces(data, split)
    result = {"model": str(clf.path), "data": str(data), "split": name,
              "flip": clf.flip, "accurate": accurate, "crops": clf.crops,
              **evaluate_model(clf, faces), "skipped": skipped}
    result["ms_per_face"] = round(_ms_per_face(clf, faces.x), 3)
    if robustness:
        from model.robustness import robustness as measure, table

        result["robustness"] = measure(lambda f: predict_labels(clf, f), faces.x, faces.y)
        log.info("robustness of %s on %s (seed %d):\n%s", clf.path.name, name,
                 result["robustness"]["seed"], table(result["robustness"]))
    if png:
        title = f"{clf.path.name} on {name}: accuracy {result['accuracy']:.4f}"
        atomic.write_png(png, matrix_image(result["confusion_matrix"], EMOTIONS, title))
        result["confusion_png"] = str(png)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("%s on %s: accuracy %.4f, macro F1 %.4f (%d faces)%s",
             clf.path, name, result["accuracy"], result["macro_f1"], result["samples"],
             f"; confusion matrix {png}" if png else "")
    print(json.dumps(result, indent=2))
    return result


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
