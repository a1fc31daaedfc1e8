"""Load FER-2013 from the Kaggle folder layout or from the original CSV.

Both give the same thing: uint8 faces (N, 48, 48) and int labels in EMOTIONS
order, split into train (Training), val (PublicTest) and test (PrivateTest).
Unreadable images and malformed rows are skipped and counted, never fatal.
"""

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from model import EMOTIONS, INPUT_SIZE
from model.errors import DataError
from model.preprocess import to_gray48

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm"}

EXPECTED_LAYOUT = (
    "expected either the Kaggle folder layout "
    "(DIR/train/<emotion>/*.jpg and DIR/test/<emotion>/PublicTest_*.jpg, PrivateTest_*.jpg, "
    f"with <emotion> one of {', '.join(EMOTIONS)}) "
    "or the original fer2013.csv with columns emotion,pixels,Usage"
)


@dataclass
class Split:
    x: np.ndarray  # uint8 (N, 48, 48)
    y: np.ndarray  # int64 (N,)

    def __len__(self):
        return len(self.y)


@dataclass
class Dataset:
    splits: dict
    skipped: dict = field(default_factory=dict)  # reason -> count

    def __getitem__(self, name) -> Split:
        return self.splits[name]

    def summary(self) -> str:
        sizes = ", ".join(f"{k} {len(v)}" for k, v in self.splits.items())
        skipped = sum(self.skipped.values())
        detail = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items()))
        return f"{sizes}; skipped {skipped}" + (f" ({detail})" if detail else "")


def load_dataset(path) -> Dataset:
    """Load a data set from a Kaggle folder or a fer2013.csv file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data set not found: {path}")
    if path.is_file() or (path / "fer2013.csv").is_file() and not (path / "train").is_dir():
        csv_path = path if path.is_file() else path / "fer2013.csv"
        data = _load_csv(csv_path)
    else:
        data = _load_folders(path)
    if len(data["train"]) == 0:
        raise DataError(f"no training images in {path}: {EXPECTED_LAYOUT}")
    if len(data["val"]) == 0:
        raise DataError(f"no PublicTest (validation) images in {path}: {EXPECTED_LAYOUT}")
    log.info("loaded %s: %s", path, data.summary())
    return data


def _load_folders(root: Path) -> Dataset:
    if not (root / "train").is_dir() or not (root / "test").is_dir():
        raise DataError(f"wrong layout in {root}: {EXPECTED_LAYOUT}")
    files = {s: [] for s in SPLITS}
    for part in ("train", "test"):
        for label, emotion in enumerate(EMOTIONS):
            folder = root / part / emotion
            if not folder.is_dir():
                log.warning("missing class folder %s", folder)
                continue
            for f in sorted(folder.iterdir()):
                if f.suffix.lower() in IMAGE_SUFFIXES:
                    files[_split_of(part, f.name)].append((f, label))
    skipped = {}
    splits = {s: _read_images(files[s], skipped) for s in SPLITS}
    return Dataset(splits, skipped)


def _split_of(part: str, name: str) -> str:
    if part == "train":
        return "train"
    return "test" if name.startswith("PrivateTest") else "val"


def _read_images(items, skipped) -> Split:
    x = np.empty((len(items), INPUT_SIZE, INPUT_SIZE), np.uint8)
    y = np.empty(len(items), np.int64)
    n = 0
    for f, label in items:
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if img is None or img.size == 0:
            skipped["unreadable image"] = skipped.get("unreadable image", 0) + 1
            log.debug("skipped unreadable image %s", f)
            continue
        x[n], y[n] = to_gray48(img), label
        n += 1
    return Split(x[:n], y[:n])


def _load_csv(path: Path) -> Dataset:
    rows = {s: ([], []) for s in SPLITS}
    skipped = {}
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"emotion", "pixels", "Usage"} <= set(reader.fieldnames):
                raise DataError(f"wrong columns in {path}: {EXPECTED_LAYOUT}")
            for row in reader:
                parsed = _parse_row(row)
                if parsed is None:
                    skipped["malformed row"] = skipped.get("malformed row", 0) + 1
                    continue
                split, face, label = parsed
                rows[split][0].append(face)
                rows[split][1].append(label)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    splits = {}
    for s, (xs, ys) in rows.items():
        x = np.stack(xs) if xs else np.empty((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
        splits[s] = Split(x, np.asarray(ys, np.int64))
    return Dataset(splits, skipped)


def _parse_row(row):
    try:
        split = SPLIT_NAMES[row["Usage"].strip()]
        label = int(row["emotion"])
        pixels = np.array(row["pixels"].split(), dtype=np.int64)
    except (KeyError, AttributeError, ValueError):
        return None
    if not 0 <= label < len(EMOTIONS) or pixels.size != INPUT_SIZE * INPUT_SIZE:
        return None
    if pixels.min() < 0 or pixels.max() > 255:
        return None
    return split, pixels.reshape(INPUT_SIZE, INPUT_SIZE).astype(np.uint8), label
