"""How right the live label is when each frame asks one network about one view.

The pipeline's live mode reads a tracked face with every network, face and mirror
image, on its first frame and then with one network about one of the two a frame,
in turn (`app.core.pipeline.view_for`); the smoothing averages them. This script
measures what that costs in accuracy against asking everything every frame, on
simulated streams: each labelled
face is shown for FRAMES frames at 30 fps, each frame shifted by up to a pixel
and a half, scaled by up to 3% and given camera noise (sigma 4), as a steady
face in front of a webcam would be. It reports the accuracy of the label shown
on the last frame, of the labels shown over frames 6 on, and label changes (per
face, and per second over frames 6 on). `--switch` also measures how fast a real
change shows: every face is followed, half-way, by another face of the split, and
the delay is the time until the label shown is the one that face gets on its own.

    python scripts/stream_check.py [--data ../shared/datasets/fer2013] [--split PublicTest]
                                [--model MODEL] [--frames 15] [--switch]
"""
import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.config import DEFAULTS  # noqa: E402
from app.core.pipeline import view_for  # noqa: E402
from app.core.track import ProbabilitySmoother  # noqa: E402
from model.runtime.classifier import EmotionClassifier  # noqa: E402
from model.training.data import SPLIT_NAMES, load_dataset
from model.training.train_config import DEFAULT_DATA  # noqa: E402
from model.training.robustness import SIZE, warp  # noqa: E402


def jittered(faces: np.ndarray, rng) -> np.ndarray:
    """One camera frame of each face: a small shift and scale, sensor noise."""
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), 0.0, rng.uniform(0.97, 1.03))
        m[:, 2] += rng.uniform(-1.5, 1.5, 2)
        warped = warp(face, m)
        out[i] = np.clip(warped + rng.normal(0, 4.0, warped.shape), 0, 255)
    return out


def shown_labels(classifier, faces, frames: int, in_turn: bool, seed: int = 5,
                 then=None) -> np.ndarray:
    """(frames, faces) labels shown; `then`: other faces shown from half-way on."""
    rng = np.random.default_rng(seed)
    smoothers = [ProbabilitySmoother(DEFAULTS.tau, DEFAULTS.fast_tau, DEFAULTS.jump)
                 for _ in faces]
    shown = np.zeros((frames, len(faces)), int)
    for k in range(frames):
        net, mirrored = (view_for(k, k == 0, classifier.networks, classifier.flip)
                         if in_turn else (None, None))
        now = then if then is not None and k >= frames // 2 else faces
        probs = np.concatenate([classifier.predict(part, network=net, mirrored=mirrored)
                                for part in np.array_split(jittered(now, rng), 8)])
        for i, (sm, p) in enumerate(zip(smoothers, probs)):
            shown[k, i] = sm.update(p, k / 30.0)[1]
    return shown


def run(classifier, faces, labels, frames: int, in_turn: bool, switch: bool = False) -> dict:
    shown = shown_labels(classifier, faces, frames, in_turn)
    steady = shown[5:]
    out = {"last_frame_accuracy": round(float(np.mean(shown[-1] == labels)) * 100, 2),
           "accuracy_frames_6_on": round(float(np.mean(steady == labels)) * 100, 2),
           "label_changes_per_face": round(float(np.mean(np.sum(shown[1:] != shown[:-1], 0))), 3),
           "label_changes_per_s": round(float(np.mean(np.sum(steady[1:] != steady[:-1], 0)))
                                        * 30.0 / (len(steady) - 1), 4)}
    if switch:
        other = np.random.default_rng(0).permutation(len(faces))
        mixed = shown_labels(classifier, faces, frames, in_turn, then=faces[other])
        half, target = frames // 2, shown[-1][other]
        changed = np.where(target != mixed[half - 1])[0]
        delays = [np.argmax(mixed[half:, i] == target[i]) / 30.0 if
                  (mixed[half:, i] == target[i]).any() else np.nan for i in changed]
        out["change_delay_s"] = {"faces": len(changed),
                                 "median": round(float(np.nanmedian(delays)), 3),
                                 "mean": round(float(np.nanmean(delays)), 3),
                                 "never_within_the_half": round(float(np.mean(np.isnan(delays))), 4)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--split", default="PublicTest", choices=list(SPLIT_NAMES)[1:])
    ap.add_argument("--model", default=None)
    ap.add_argument("--frames", type=int, default=15)
    ap.add_argument("--switch", action="store_true", help="also measure the change delay")
    ap.add_argument("--in-turn-only", action="store_true",
                    help="only the live mode (one view a frame, in turn)")
    a = ap.parse_args()
    name = SPLIT_NAMES[a.split]
    split = load_dataset(a.data, splits=(name,))[name]
    clf = EmotionClassifier.load(a.model)
    res = {"model": str(clf.path), "networks": clf.networks, "split": a.split,
           "faces": len(split), "frames": a.frames,
           "smoother": {"tau": DEFAULTS.tau, "fast_tau": DEFAULTS.fast_tau, "jump": DEFAULTS.jump},
           "one_view_a_frame_in_turn": run(clf, split.x, split.y, a.frames, True, a.switch)}
    if not a.in_turn_only:
        res["every_view_every_frame"] = run(clf, split.x, split.y, a.frames, False, a.switch)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
