"""The FER+ crowd's votes (ten people per face) beside FER-2013's one label.

FER-2013's labels came from a keyword search and are often wrong; FER+ had ten
people label every face. `ferplus_votes.csv` (in the data-set folder) gives each
image's votes for neutral, happiness, surprise, sadness, anger, disgust, fear,
contempt, unknown and NF (not a face). Training learns the vote distribution over
the seven emotions; evaluation scores against the majority, where there is one.

Contempt, unknown and not-a-face votes are left out of the distribution: contempt
is not one of the seven classes, it has 1.7% of all votes, and most faces with a
contempt vote (63%) are called neutral by most of the others; unknown and NF say
nothing about which emotion it is.
"""

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.runtime.emotions import EMOTIONS
from model.runtime.errors import DataError

log = logging.getLogger(__name__)

VOTES_FILE = "ferplus_votes.csv"
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt", "unknown", "NF")
# FER+'s name for each of the seven emotions
COLUMN_OF = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
             "sad": "sadness", "surprise": "surprise", "neutral": "neutral"}
_TO_EMOTIONS = [VOTE_COLUMNS.index(COLUMN_OF[e]) for e in EMOTIONS]
NO_MAJORITY = -1


@dataclass
class Votes:
    """Ten-ish votes per image, keyed by its path in the data-set folder and by its
    row in the original fer2013.csv (so both layouts find their votes)."""
    by_file: dict
    by_row: dict

    def lookup(self, keys) -> np.ndarray:
        """(N, 10) vote counts for these image keys; a row of zeros where there is none."""
        out = np.zeros((len(keys), len(VOTE_COLUMNS)), np.float32)
        for i, key in enumerate(keys):
            row = self.by_row.get(key) if isinstance(key, (int, np.integer)) else \
                self.by_file.get(key)
            if row is not None:
                out[i] = row
        return out


def find_votes(data_path, votes=None) -> Path:
    """The votes file: `votes` if given, else ferplus_votes.csv in the data-set folder."""
    path = Path(votes) if votes else Path(data_path) / VOTES_FILE
    if Path(data_path).is_file() and not votes:
        path = Path(data_path).parent / VOTES_FILE
    if not path.is_file():
        raise DataError(f"FER+ votes not found: {path} (the file ferplus_votes.csv that "
                        "comes with the data set, or give its path)")
    return path


def load_votes(path) -> Votes:
    by_file, by_row = {}, {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = {"file", "fer2013_row", *VOTE_COLUMNS} - set(reader.fieldnames or [])
            if missing:
                raise DataError(f"wrong columns in {path}: missing {', '.join(sorted(missing))}")
            bad = 0
            for row in reader:
                try:
                    counts = np.array([float(row[c]) for c in VOTE_COLUMNS], np.float32)
                    index = int(row["fer2013_row"])
                except (TypeError, ValueError):
                    bad += 1
                    continue
                by_file[row["file"]] = counts
                by_row[index] = counts
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if not by_file:
        raise DataError(f"no votes in {path}")
    if bad:
        log.warning("%s: %d malformed rows skipped", path, bad)
    return Votes(by_file, by_row)


def distribution(counts: np.ndarray) -> np.ndarray:
    """(N, 7) share of each emotion among the emotion votes (contempt, unknown and NF
    left out); rows without any emotion vote are zeros."""
    emotions = np.asarray(counts, np.float32)[:, _TO_EMOTIONS]
    total = emotions.sum(axis=1, keepdims=True)
    return np.divide(emotions, total, out=np.zeros_like(emotions), where=total > 0)


def majority(counts: np.ndarray) -> np.ndarray:
    """The emotion (EMOTIONS index) with more than half of all of a face's votes,
    NO_MAJORITY where none has (or where contempt, unknown or NF has)."""
    counts = np.asarray(counts, np.float32)
    total = counts.sum(axis=1)
    emotions = counts[:, _TO_EMOTIONS]
    top = emotions.argmax(axis=1)
    has = emotions.max(axis=1) > total / 2
    return np.where(has & (total > 0), top, NO_MAJORITY).astype(np.int64)



def crowd_targets(split, votes: Votes, unvoted: str = "drop"):
    """(split, targets): the faces with emotion votes and their vote distributions.

    `unvoted="label"` keeps the faces the crowd did not vote on (mostly not faces, in
    FER+'s words) with their FER-2013 label as the target instead of leaving them out."""
    if len(split.keys) != len(split):
        raise DataError("these faces have no file names or rows to find their votes by")
    targets = distribution(votes.lookup(split.keys))
    voted = targets.sum(axis=1) > 0
    if unvoted == "label":
        targets[~voted] = np.eye(len(EMOTIONS), dtype=np.float32)[split.y[~voted]]
        return split, targets
    if unvoted != "drop":
        raise ValueError(f"unvoted must be 'drop' or 'label', not {unvoted!r}")
    keep = np.flatnonzero(voted)
    log.info("%d of %d faces have the crowd's votes; the other %d are left out",
             len(keep), len(split), len(split) - len(keep))
    return _subset(split, keep), targets[keep]


def majority_split(split, votes: Votes):
    """The faces where one emotion has more than half the votes, labelled with it."""
    if len(split.keys) != len(split):
        raise DataError("these faces have no file names or rows to find their votes by")
    labels = majority(votes.lookup(split.keys))
    keep = np.flatnonzero(labels != NO_MAJORITY)
    sub = _subset(split, keep)
    sub.y = labels[keep]
    return sub


def _subset(split, index):
    from model.training.data import Split

    return Split(split.x[index], split.y[index], [split.keys[i] for i in index])


def load_scored_split(data, split: str, labels: str = "fer2013", votes=None):
    """A FER-2013 split ("val", "test") with the labels a measurement scores against:
    FER-2013's, or ("ferplus") the crowd's majority on the faces that have one."""
    from model.training.data import load_dataset

    faces = load_dataset(data, splits=(split,))[split]
    if labels == "fer2013":
        return faces
    return majority_split(faces, load_votes(find_votes(data, votes)))
