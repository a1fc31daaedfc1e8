"""How steady and how quick the live label is, on simulated webcam streams of FER faces.

The pipeline's live mode reads a tracked face with every network, face and mirror
image, on its first frame and then with one network about one of the two a frame,
in turn (`app.core.face_reader.view_for`); the smoother (app.core.track.ProbabilitySmoother)
turns those readings into the bars and the label shown. Each labelled face of the
split is shown for FRAMES frames at 30 fps, as a camera and app.core.crop would give it:

- `--camera webcam` (the default): the Haar box wobbles every frame (a shift of
  about a pixel of the 48, a few percent in size), the head drifts slowly (a
  degree or two of roll, a little turn, a pixel or two), the light flickers and
  drifts, the sensor adds noise, and the mouth opens and closes as in talking
  (the lower face pulled down a pixel or two, a syllable every quarter second).
  The box is cut as app.core.crop cuts it: the face, padded by reflection, warped to
  the shifted and scaled window and back to 48x48.
- `--camera still`: the gentler simulation measured before (each frame shifted by
  up to 1.5 pixels, scaled by up to 3%, noise of sigma 4), to compare with the
  numbers of that day.

The readings are taken once; every smoother setting compared (`--smoother`, the
one before issue 34 and the defaults) is run on the same readings. Reported: label
changes a second on a steady face over frames 6 on (on all faces, and on those the
model reads at under 60% from a clean picture: a face between two emotions, like a
talking one), labels shown for 0.3 s or less, the accuracy of the label shown, the
label against the top of the bars shown (must never differ), and with `--switch`
how fast a real change shows: every face is followed, half-way, by another face of
the split, and the delay is the time until the label shown is the one that face
gets on its own (its label at the end of its own steady stream).

    python scripts/stream_check.py [--data ../shared/datasets/fer2013] [--split PublicTest]
        [--model MODEL] [--frames 90] [--switch] [--camera webcam|still] [--limit N]
        [--every-view] [--cache NPZ]
        [--smoother FAST_TAU,JUMP,CONFIRM,MARGIN,SURE ...]
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core.config import DEFAULTS  # noqa: E402
from app.core.face_reader import view_for  # noqa: E402
from app.core.neutral_check import NotNeutral, checked_offset  # noqa: E402
from app.core.track import ProbabilitySmoother  # noqa: E402
from model.runtime.classifier import EmotionClassifier  # noqa: E402
from model.runtime.emotions import EMOTIONS  # noqa: E402
from model.training.data import SPLIT_NAMES  # noqa: E402
from model.training.robustness import SIZE, warp  # noqa: E402
from model.training.train_config import DEFAULT_DATA, LABEL_SOURCES  # noqa: E402
from model.training.votes import load_scored_split  # noqa: E402

FPS = 30.0
# the two-speed smoother as it was before issue 34: a jump on any lead of 0.15
BEFORE = {"fast_tau": 0.15, "jump": 0.15, "confirm": 0.0, "margin": 0.0, "sure": 1.0}
YY, XX = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
# the lower lip and jaw, which drop as the mouth opens (FER faces: mouth near row 37)
JAW = np.float32(1) * np.exp(-((YY - 41) / 6) ** 2) * np.exp(-((XX - 24) / 10) ** 2) * (YY > 31)


def still_frame(faces, rng, k) -> np.ndarray:
    """The gentle simulation: a small shift and scale, sensor noise."""
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), 0.0, rng.uniform(0.97, 1.03))
        m[:, 2] += rng.uniform(-1.5, 1.5, 2)
        warped = warp(face, m)
        out[i] = np.clip(warped + rng.normal(0, 4.0, warped.shape), 0, 255)
    return out


class Webcam:
    """Per-face state of a simulated webcam stream: slow drifts (head, light) as AR(1)
    processes with time constants of about a second, talking as syllables."""

    def __init__(self, n, rng):
        self.rng = rng
        self.drift = np.zeros((n, 6))        # dx, dy, roll, turn, gain, offset
        self.scale = np.array([1.2, 1.2, 1.5, 0.03, 0.06, 5.0])   # their spread
        self.phase = rng.uniform(0, 1, n)        # where each face is in its syllable
        self.syllable = rng.uniform(0, 1, n)     # how far this syllable opens the mouth
        self.flicker = rng.uniform(0, 2 * np.pi, n)

    def step(self):
        keep = np.exp(-1 / (FPS * 0.8))
        self.drift = keep * self.drift + np.sqrt(1 - keep ** 2) * self.rng.normal(
            0, 1, self.drift.shape) * self.scale
        self.phase += 4.0 / FPS                  # four syllables a second
        new = self.phase >= 1
        self.phase[new] -= 1
        self.syllable[new] = self.rng.uniform(0, 1, int(new.sum()))

    def frame(self, faces, rng, k) -> np.ndarray:
        """Frame `k` of every face (uint8, N x 48 x 48)."""
        self.step()
        out = np.empty_like(faces)
        for i, face in enumerate(faces):
            dx, dy, roll, turn, gain, offset = self.drift[i]
            opening = 3.0 * self.syllable[i] * np.sin(np.pi * self.phase[i]) ** 2
            talking = cv2.remap(face, XX, (YY - opening * JAW).astype(np.float32),
                                cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
            # the Haar box's wobble: independent every frame
            box_scale = 1.0 + np.clip(rng.normal(0, 0.025), -0.05, 0.05)
            m = cv2.getRotationMatrix2D((SIZE / 2 - 0.5, SIZE / 2 - 0.5), roll, box_scale)
            m[0, :] *= 1.0 + turn                 # a turn narrows or widens the face
            m[0, 2] += dx + np.clip(rng.normal(0, 0.8), -1.6, 1.6) - turn * SIZE / 2
            m[1, 2] += dy + np.clip(rng.normal(0, 0.8), -1.6, 1.6)
            moved = warp(talking, m).astype(np.float32)
            light = 1.0 + gain + 0.03 * np.sin(2 * np.pi * 7 * k / FPS + self.flicker[i])
            noisy = moved * light + offset + rng.normal(0, 4.0, moved.shape)
            out[i] = np.clip(noisy, 0, 255)
        return out


def readings(classifier, faces, frames: int, camera: str, seed: int = 5,
             then=None, in_turn: bool = True) -> np.ndarray:
    """(frames, faces, 7) readings as the live pipeline takes them, one view a frame
    in turn (`in_turn` False: every view every frame); `then`: other faces shown
    from half-way on."""
    rng = np.random.default_rng(seed)
    make = Webcam(len(faces), np.random.default_rng(seed + 1)).frame \
        if camera == "webcam" else still_frame
    out = np.zeros((frames, len(faces), 7), np.float32)
    for k in range(frames):
        net, mirrored = view_for(k, k == 0, classifier.networks, classifier.flip) \
            if in_turn else (None, None)
        now = then if then is not None and k >= frames // 2 else faces
        picture = make(now, rng, k)
        out[k] = np.concatenate([classifier.predict(part, network=net, mirrored=mirrored)
                                 for part in np.array_split(picture, 8)])
    return out


def talking(read: np.ndarray, clean: np.ndarray, seed: int = 9) -> np.ndarray:
    """Readings of faces that talk: each face's own stream, broken by spells of 0.1 to
    0.4 s (about two and a half a second) in which the mouth and brows, moving with
    the words, read as another face does (that face's own stream at that moment):
    three times in four a face the model reads as this face's second emotion (a
    smile that comes and goes), else any face of the split."""
    rng = np.random.default_rng(seed)
    frames, n, _ = read.shape
    tops, seconds = clean.argmax(1), np.argsort(clean, 1)[:, -2]
    out = read.copy()
    for i in range(n):
        pool = np.flatnonzero(tops == seconds[i])
        k = int(rng.exponential(0.25 * FPS))
        while k < frames:
            length = int(rng.uniform(0.1, 0.4) * FPS)
            j = rng.choice(pool) if len(pool) and rng.random() < 0.75 else rng.integers(n)
            out[k:k + length, i] = read[k:k + length, j]
            k += length + int(rng.exponential(0.25 * FPS))
    return out


def smoothed(read: np.ndarray, setting: dict) -> tuple[np.ndarray, int]:
    """(frames, faces) labels shown by a smoother with `setting`, and how many
    frames' labels were not the top of their own bars."""
    frames, n, _ = read.shape
    smoothers = [ProbabilitySmoother(DEFAULTS.tau, **setting)
                 for _ in range(n)]
    shown = np.zeros((frames, n), int)
    wrong = 0
    for k in range(frames):
        for i, sm in enumerate(smoothers):
            bars, shown[k, i] = sm.update(read[k, i], k / FPS)
            wrong += int(np.argmax(bars) != shown[k, i])
    return shown, wrong


def short_labels_per_s(steady: np.ndarray, frames_max: int = 9) -> float:
    """Labels shown for `frames_max` frames (0.3 s) or less, between two others, a second."""
    count = 0
    for col in steady.T:
        edges = np.flatnonzero(col[1:] != col[:-1]) + 1
        runs = np.diff(edges)                     # the runs with a change on both sides
        count += int(np.sum(runs <= frames_max))
    return count / steady.shape[1] / ((len(steady) - 1) / FPS)


def changes_per_s(steady: np.ndarray) -> float:
    return float(np.mean(np.sum(steady[1:] != steady[:-1], 0))) * FPS / (len(steady) - 1)


def score(read, labels, clean, setting, mixed_read=None, other=None) -> dict:
    shown, wrong = smoothed(read, setting)
    steady = shown[5:]
    unsure = clean.max(axis=1) < 0.6
    out: dict[str, Any] = {"label_changes_per_s": round(changes_per_s(steady), 4),
           "label_changes_per_s_unsure_faces": round(changes_per_s(steady[:, unsure]), 4),
           "labels_of_0_3_s_or_less_per_s": round(short_labels_per_s(steady), 4),
           "labels_of_0_3_s_or_less_per_s_unsure_faces":
               round(short_labels_per_s(steady[:, unsure]), 4),
           "accuracy_frames_6_on": round(float(np.mean(steady == labels)) * 100, 2),
           "last_frame_accuracy": round(float(np.mean(shown[-1] == labels)) * 100, 2),
           "label_not_the_top_of_its_bars": wrong}
    talk, wrong = smoothed(talking(read, clean), setting)
    out["label_not_the_top_of_its_bars"] += wrong
    out["talking"] = {"label_changes_per_s": round(changes_per_s(talk[5:]), 4),
                      "labels_of_0_3_s_or_less_per_s": round(short_labels_per_s(talk[5:]), 4),
                      "accuracy_frames_6_on": round(float(np.mean(talk[5:] == labels)) * 100, 2)}
    if mixed_read is not None:
        mixed, wrong = smoothed(mixed_read, setting)
        out["label_not_the_top_of_its_bars"] += wrong
        half, target = len(mixed) // 2, shown[-1][other]
        changed = np.where(target != mixed[half - 1])[0]
        delays = [np.argmax(mixed[half:, i] == target[i]) / FPS if
                  (mixed[half:, i] == target[i]).any() else np.nan for i in changed]
        out["change_delay_s"] = {"faces": len(changed),
                                 "median": round(float(np.nanmedian(delays)), 3),
                                 "mean": round(float(np.nanmean(delays)), 3),
                                 "within_0_2_s": round(float(np.mean(np.array(delays) <= 0.2)), 4),
                                 "never_within_the_half":
                                     round(float(np.mean(np.isnan(delays))), 4)}
    return out


def neutral_checks(read, talk, mixed, labels) -> dict:
    """How Calibrate neutral's check (app.core.neutral_check) judges 3-s countdowns of these
    streams: the share refused, per kind of stream and the face's own label."""
    def refused(stream, faces) -> float | None:
        out = []
        for i in faces:
            try:
                checked_offset(stream[:, i], np.zeros(7), sequence=True)
                out.append(False)
            except NotNeutral:
                out.append(True)
        return round(float(np.mean(out)), 4) if out else None

    neutral = np.flatnonzero(labels == EMOTIONS.index("neutral"))
    happy = np.flatnonzero(labels == EMOTIONS.index("happy"))
    leaning = np.flatnonzero(np.isin(labels, [EMOTIONS.index(e) for e in ("sad", "angry")]))
    out = {"neutral_faces_held_still": refused(read, neutral),
           "sad_or_angry_faces_held_still": refused(read, leaning),
           "happy_faces_held_still": refused(read, happy),
           "neutral_faces_talking": refused(talk, neutral)}
    if mixed is not None:
        out["any_face_then_another_half_way"] = refused(mixed, range(mixed.shape[1]))
    return out


def parse_setting(text: str) -> dict:
    fast_tau, jump, confirm, margin, sure = (float(v) for v in text.split(","))
    return {"fast_tau": fast_tau, "jump": jump, "confirm": confirm, "margin": margin, "sure": sure}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--split", default="PublicTest", choices=list(SPLIT_NAMES)[1:])
    ap.add_argument("--model", default=None)
    ap.add_argument("--labels", default="fer2013", choices=LABEL_SOURCES,
                    help="score against FER-2013's labels or the FER+ crowd's majority "
                         "(the faces that have one)")
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--camera", default="webcam", choices=("webcam", "still"))
    ap.add_argument("--limit", type=int, default=None,
                    help="only N faces, drawn at random (the same ones every run)")
    ap.add_argument("--switch", action="store_true", help="also measure the change delay")
    ap.add_argument("--every-view", action="store_true",
                    help="read every view every frame (process --accurate), not in turn")
    ap.add_argument("--cache", default=None, metavar="NPZ",
                    help="keep the readings in this file (taken once, reused when it exists)")
    ap.add_argument("--smoother", nargs="*", default=[],
                    metavar="FAST_TAU,JUMP,CONFIRM,MARGIN,SURE",
                    help="more smoother settings to compare (besides before and the defaults)")
    a = ap.parse_args()
    name = SPLIT_NAMES[a.split]
    split = load_scored_split(a.data, name, a.labels)
    pick = np.arange(len(split.y)) if a.limit is None else np.sort(
        np.random.default_rng(0).choice(len(split.y), a.limit, replace=False))
    x, y = split.x[pick], split.y[pick]          # the split is sorted by label
    clf = EmotionClassifier.load(a.model)
    clean = np.concatenate([clf.predict(part) for part in np.array_split(x, 8)])
    unsure = clean.max(axis=1) < 0.6
    other = np.random.default_rng(0).permutation(len(x)) if a.switch else None
    if a.cache and Path(a.cache).exists():
        kept = np.load(a.cache)
        read, mixed_read = kept["read"], (kept["mixed"] if a.switch else None)
    else:
        read = readings(clf, x, a.frames, a.camera, in_turn=not a.every_view)
        mixed_read = readings(clf, x, a.frames, a.camera, then=x[other],
                              in_turn=not a.every_view) if a.switch else None
        if a.cache:
            np.savez(a.cache, read=read, mixed=mixed_read if mixed_read is not None else read[:0])
    settings = {"before (issue 34)": BEFORE,
                "defaults": {"fast_tau": DEFAULTS.fast_tau, "jump": DEFAULTS.jump,
                             "confirm": DEFAULTS.confirm, "margin": DEFAULTS.label_margin,
                             "sure": DEFAULTS.sure}}
    name = "fast_tau {fast_tau}, jump {jump}, confirm {confirm}, margin {margin}, sure {sure}"
    settings.update({name.format(**s): s for s in map(parse_setting, a.smoother)})
    res = {"model": str(clf.path), "networks": clf.networks, "split": a.split,
           "labels": a.labels,
           "faces": len(x), "unsure_faces": int(unsure.sum()), "frames": a.frames,
           "camera": a.camera, "in_turn": not a.every_view, "tau": DEFAULTS.tau,
           "raw_label_changes_per_s": round(changes_per_s(read[5:].argmax(-1)), 4),
           "smoothers": {k: {**s, **score(read, y, clean, s, mixed_read, other)}
                         for k, s in settings.items()},
           "calibrate_neutral_refused": neutral_checks(read[:a.frames], talking(read, clean),
                                                       mixed_read, y)}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
