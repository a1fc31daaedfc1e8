"""How much a person's own neutral (`process --baseline`, the window's Calibrate
neutral) helps when a face at rest leans, measured on PublicTest.

FER-2013 names no people, so a "person" is a resting-face trait drawn into every
face: mouth corners pulled down (looks sad), brows pulled down (looks stern), or
both. The correction is measured from 30 of that person's neutral faces and scored
on all their other faces, 20 draws; `--strength` scales the correction (1 = the
shipped method, app.core.neutral_offset.person_offset). Each baseline first goes through
the check of app.core.neutral_check, as in the app (30 photos: not a sequence); the
share it accepts is reported, and a refused baseline corrects nothing.

    python scripts/person_check.py [--data ../shared/datasets/fer2013] [--model MODEL]
"""
import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.neutral_check import NotNeutral, checked_offset  # noqa: E402
from app.core.neutral_offset import corrected  # noqa: E402
from model import EMOTIONS  # noqa: E402
from model.runtime.classifier import EmotionClassifier  # noqa: E402
from model.training.data import SPLIT_NAMES
from model.training.train_config import DEFAULT_DATA, LABEL_SOURCES  # noqa: E402
from model.training.votes import load_scored_split

YY, XX = np.mgrid[0:48, 0:48].astype(np.float32)
MOUTH_DOWN = 3 * np.exp(-((YY - 37) / 5) ** 2) * ((XX - 24) / 12) ** 2 * (np.abs(XX - 24) < 16)
BROWS_DOWN = 3 * np.exp(-((YY - 16) / 4) ** 2) * np.clip(1 - np.abs(XX - 24) / 14, 0, 1)
TRAITS = {"none": 0 * YY, "mouth corners down": MOUTH_DOWN, "brows down": BROWS_DOWN,
          "both": MOUTH_DOWN + BROWS_DOWN}


def with_trait(faces, dy):
    return np.stack([cv2.remap(f, XX, YY - dy, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE) for f in faces])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--model", default=None)
    ap.add_argument("--labels", default="fer2013", choices=LABEL_SOURCES,
                    help="score against FER-2013's labels or the FER+ crowd's majority "
                         "(the faces that have one)")
    ap.add_argument("--strength", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    a = ap.parse_args()
    key = SPLIT_NAMES["PublicTest"]
    split = load_scored_split(a.data, key, a.labels)
    clf = EmotionClassifier.load(a.model)
    ref = np.asarray(clf.calibration.neutral_reference)
    neutral = np.where(split.y == EMOTIONS.index("neutral"))[0]
    rng = np.random.default_rng(0)
    for name, dy in TRAITS.items():
        x = with_trait(split.x, dy)
        probs = np.concatenate([clf.predict(x[i:i + 256]) for i in range(0, len(x), 256)])
        read = np.bincount(probs[neutral].argmax(1), minlength=len(EMOTIONS)) / len(neutral)
        print(f"{name}: its neutral faces read " + ", ".join(
            f"{EMOTIONS[i]} {read[i]:.0%}" for i in np.argsort(-read)[:3]))
        scores: dict[float, list[float]] = {s: [] for s in a.strength}
        accepted = 0
        for _ in range(20):
            base = rng.choice(neutral, 30, replace=False)
            rest = np.setdiff1d(np.arange(len(split.y)), base)
            try:
                offset = checked_offset(probs[base], ref, sequence=False)
                accepted += 1
            except NotNeutral:
                offset = np.zeros(len(EMOTIONS))      # refused: nothing corrected
            for s in a.strength:
                scores[s].append(np.mean(corrected(probs[rest], s * offset).argmax(1)
                                         == split.y[rest]))
        print(f"  baselines accepted by the check: {accepted} of 20")
        for s, acc in scores.items():
            print(f"  strength {s}: accuracy {np.mean(acc):.2%} (sd {np.std(acc):.2%})")


if __name__ == "__main__":
    main()
