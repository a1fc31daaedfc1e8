"""Is a person's "neutral" really a face at rest? Checked before it becomes their baseline.

A neutral calibration (the window's Calibrate neutral, `process --baseline`) takes
whatever it is given as the person's resting face and takes its lean out of every
later reading: given a smile, it reads every later smile as neutral. So the
readings of the baseline (the model's own, uncorrected) are checked first, in
`checked_offset`, and a face that was not at rest is refused with the reason:

- a smile or surprise read clearly in most of it: never a resting face;
- any other emotion read very strongly in most of it: a face that reads sad or
  stern at rest is what the calibration is for, a scowl is not;
- in a clip or a countdown, the expression changing (talking, smiling, moving):
  the readings of one part of it differ from those of another, or swing from
  reading to reading far more than on a still face;
- too few readings, too dark a face, two faces of the same size (whose is it?).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.core.neutral_offset import person_offset
from model.runtime.emotions import EMOTIONS
from model.runtime.errors import UserError

# Expressions a resting face never shows, and how clearly they must be read (the top
# of a reading at this probability or more) in how much of the baseline to refuse it.
NEVER_AT_REST = {"happy": "a smile", "surprise": "surprise"}
CLEAR = 0.4
MOST = 0.5
# Any other emotion is refused only when read this strongly, in most of it.
STRONG = 0.9
NAMES = {"angry": "anger", "disgust": "disgust", "fear": "fear", "sad": "sadness"}
# A clip or countdown: cut into PARTS, the mean readings of two parts may differ by at
# most CHANGE (total variation distance), and the readings (each averaged with the one
# before: face and mirror image take turns) may stray from their mean by SWING on
# average. Both were set on 3-s simulated webcam streams of the 3,589 PublicTest faces
# (scripts/stream_check.py): none of them held still is refused, 95% of them talking
# and 88% of those followed half-way by another face are.
PARTS = 6
CHANGE = 0.35
SWING = 0.25
MIN_SEQUENCE = 12          # readings a clip needs for the change to be judged
DARK = 40                  # mean grey level of the face below which it is too dark


class NotNeutral(UserError):
    """The baseline given is not a face at rest; the message says what was seen."""


@dataclass(frozen=True)
class Seen:
    """What a baseline showed besides the readings (None: not known)."""

    brightness: tuple[float, ...] | None = None   # mean grey level of the face, per reading
    second_faces: int = 0             # readings with a second face as large as the first


def checked_offset(readings: npt.ArrayLike, reference: npt.ArrayLike, sequence: bool,
                   seen: Seen = Seen()) -> np.ndarray:
    """The person's offset (app.core.neutral_offset.person_offset) from their neutral
    readings ((N, 7) uncorrected probabilities), or NotNeutral saying why not.
    `sequence`: the readings follow one another in time (a clip, a countdown), so
    a change of expression can be seen; photos are each their own moment."""
    probs = np.asarray(readings, np.float64).reshape(-1, len(EMOTIONS))
    if not len(probs):
        raise NotNeutral("no face was read in it")
    _check_the_picture(probs, seen)
    _check_the_expression(probs)
    if sequence:
        _check_it_stayed(probs)
    return person_offset(probs, reference)


def _check_the_picture(probs: np.ndarray, seen: Seen) -> None:
    n = len(probs)
    if seen.second_faces > n / 2:
        raise NotNeutral(f"two faces of about the same size in {seen.second_faces} of {n} "
                         "pictures: give one with only the person's face")
    if seen.brightness is not None and len(seen.brightness) and \
            float(np.median(seen.brightness)) < DARK:
        raise NotNeutral(f"the face is too dark to read (mean grey level "
                         f"{np.median(seen.brightness):.0f} of 255): light it and try again")


def _check_the_expression(probs: np.ndarray) -> None:
    n, tops, conf = len(probs), probs.argmax(1), probs.max(1)
    for index, emotion in enumerate(EMOTIONS):
        if emotion == "neutral":
            continue
        limit = CLEAR if emotion in NEVER_AT_REST else STRONG
        clear = int(np.sum((tops == index) & (conf >= limit)))
        if clear > MOST * n:
            what = NEVER_AT_REST.get(emotion) or NAMES.get(emotion, emotion)
            raise NotNeutral(f"that looked like {what} ({emotion} in {_share(clear, n)}, "
                             f"{probs[tops == index, index].mean():.0%} on average), not "
                             "a resting face: keep a relaxed face and try again")


def _check_it_stayed(probs: np.ndarray) -> None:
    if len(probs) < MIN_SEQUENCE:
        return
    pair = (probs[1:] + probs[:-1]) / 2
    means = np.array([part.mean(0) for part in np.array_split(pair, PARTS)])
    change = max(0.5 * np.abs(a - b).sum() for a in means for b in means)
    swing = float(np.mean(0.5 * np.abs(pair - pair.mean(0)).sum(1)))
    if change > CHANGE or swing > SWING:
        first, last = EMOTIONS[int(means[0].argmax())], EMOTIONS[int(means[-1].argmax())]
        moved = f"from {first} to {last}" if first != last else "back and forth"
        raise NotNeutral(f"the expression changed while it was read ({moved}: talking, "
                         "smiling or moving?): keep a still, relaxed face and try again")


def _share(count: int, n: int) -> str:
    return "the picture" if n == 1 else f"{count} of {n} readings"
