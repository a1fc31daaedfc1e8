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

from model.runtime.emotions import EMOTIONS, INPUT_SIZE
from model.runtime.errors import DataError
from model.runtime.image_files import IMAGE_SUFFIXES
from model.runtime.preprocess import frame_tight_crop, to_gray48

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
USAGE = {v: k for k, v in SPLIT_NAMES.items()}  # split -> FER-2013 Usage name
PARTS = {"train": ("train",), "test": ("val", "test")}  # Kaggle folder -> splits in it

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
    # where each face came from: its path in the data-set folder, or its row in
    # fer2013.csv (the keys of model.training.votes); empty for other sources
    keys: list = field(default_factory=list)

    def __len__(self):
        return len(self.y)


@dataclass
class Dataset:
    splits: dict
    skipped: dict = field(default_factory=dict)  # reason -> count
    # soft targets of the train and val faces where they are not the labels (the
    # crowd's votes: model.training.train.use_crowd), and the faces to calibrate on
    targets: np.ndarray | None = None
    val_targets: np.ndarray | None = None
    calibration: Split | None = None

    def __getitem__(self, name) -> Split:
        return self.splits[name]

    def summary(self) -> str:
        sizes = ", ".join(f"{k} {len(v)}" for k, v in self.splits.items())
        skipped = sum(self.skipped.values())
        detail = ", ".join(f"{n} {r}" for r, n in sorted(self.skipped.items()))
        return f"{sizes}; skipped {skipped}" + (f" ({detail})" if detail else "")


def load_dataset(path, splits=SPLITS) -> Dataset:
    """Load the given splits of a data set from a Kaggle folder or a fer2013.csv file."""
    kind, source = check_layout(path)
    data = _load_csv(source, splits) if kind == "csv" else _load_folders(source, splits)
    for name in splits:
        if len(data[name]) == 0:
            raise DataError(f"no {USAGE[name]} images in {path}: {EXPECTED_LAYOUT}")
    # a warning when something was skipped, so that it shows without --verbose
    log.log(logging.WARNING if data.skipped else logging.INFO,
            "loaded %s: %s", path, data.summary())
    return data


def check_layout(path):
    """("csv", file) or ("folders", root); a DataError saying what was expected otherwise.

    Cheap (no image is read), so the CLI can reject a wrong path before it spends
    seconds importing TensorFlow.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data set not found: {path}")
    if path.is_file() or (path / "fer2013.csv").is_file() and not (path / "train").is_dir():
        csv_path = path if path.is_file() else path / "fer2013.csv"
        _csv_columns(csv_path)
        return "csv", csv_path
    for part in PARTS:
        if not (path / part).is_dir():
            raise DataError(f"wrong layout in {path}: no {part}/ folder; {EXPECTED_LAYOUT}")
        if not any((path / part / e).is_dir() for e in EMOTIONS):
            raise DataError(f"wrong layout in {path}: no class folders in {part}/; "
                            f"{EXPECTED_LAYOUT}")
    return "folders", path


def _load_folders(root: Path, splits=SPLITS) -> Dataset:
    files: dict[str, list[tuple[Path, int]]] = {s: [] for s in SPLITS}
    for part, part_splits in PARTS.items():
        if not set(part_splits) & set(splits):
            continue
        for label, emotion in enumerate(EMOTIONS):
            folder = root / part / emotion
            if not folder.is_dir():
                log.warning("missing class folder %s", folder)
                continue
            images = [f for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
            if not images:
                log.warning("no images in class folder %s", folder)
            for f in images:
                files[_split_of(part, f.name)].append((f, label))
    skipped: dict[str, int] = {}
    return Dataset({s: _read_images(files[s], skipped, keys_from=root) for s in splits}, skipped)


def is_labelled_folder(path) -> bool:
    """True for a folder of `<emotion>/` subfolders (a user's own face crops)."""
    path = Path(path)
    return path.is_dir() and not (path / "train").is_dir() and \
        any((path / e).is_dir() for e in EMOTIONS)


def load_labelled_folder(path) -> tuple[Split, dict]:
    """Face crops of any size in `<emotion>/*.jpg|png` subfolders -> (Split, skipped).

    Classes may be missing. A subfolder that is not an emotion name is refused
    rather than ignored, so a misspelt class ("happpy") cannot silently vanish.
    Each face is framed like a FER-2013 face (`frame_tight_crop`), as `process
    --crops` reads it: users cut their crops tighter.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"data set not found: {path}")
    folders = [f for f in sorted(path.iterdir()) if f.is_dir() and not f.name.startswith(".")]
    unknown = [f.name for f in folders if f.name.lower() not in EMOTIONS]
    if unknown or not folders:
        what = f"unknown class folder(s) {', '.join(unknown)}" if unknown else "no class folders"
        raise DataError(f"wrong layout in {path}: {what}; expected <emotion>/ folders of "
                        f"face images, <emotion> one of {', '.join(EMOTIONS)}")
    items = [(f, EMOTIONS.index(folder.name.lower())) for folder in folders
             for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not items:
        raise DataError(f"no images in {path}: expected <emotion>/*.jpg or *.png")
    skipped: dict[str, int] = {}
    split = _read_images(items, skipped, frame_tight_crop)
    if len(split) == 0:
        raise DataError(f"no readable images in {path} ({len(items)} unreadable)")
    return split, skipped


def _split_of(part: str, name: str) -> str:
    if part == "train":
        return "train"
    return "test" if name.startswith("PrivateTest") else "val"


def _read_images(items, skipped, prepare=to_gray48, keys_from=None) -> Split:
    x = np.empty((len(items), INPUT_SIZE, INPUT_SIZE), np.uint8)
    y = np.empty(len(items), np.int64)
    keys = []
    n = 0
    for f, label in items:
        try:
            img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
            if img is None:
                raise ValueError("unreadable")
            x[n] = prepare(img)
        except (ValueError, cv2.error):  # not an image, or an odd channel count
            skipped["unreadable image"] = skipped.get("unreadable image", 0) + 1
            log.debug("skipped unreadable image %s", f)
            continue
        y[n] = label
        if keys_from is not None:
            keys.append(f.relative_to(keys_from).as_posix())
        n += 1
    return Split(x[:n], y[:n], keys)


def _csv_columns(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    if not {"emotion", "pixels", "Usage"} <= {h.strip() for h in header}:
        raise DataError(f"wrong columns in {path}: {EXPECTED_LAYOUT}")


def _load_csv(path: Path, splits=SPLITS) -> Dataset:
    # split -> (faces, labels, row numbers)
    rows: dict[str, tuple[list[np.ndarray], list[int], list[int]]] = \
        {s: ([], [], []) for s in splits}
    skipped: dict[str, int] = {}
    try:
        # utf-8-sig: a CSV saved by Excel starts with a byte-order mark
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            reader.fieldnames = [h.strip() for h in reader.fieldnames or []]  # checked before
            for index, row in enumerate(reader):
                if SPLIT_NAMES.get((row.get("Usage") or "").strip(), "train") not in rows:
                    continue  # a split that was not asked for
                parsed = _parse_row(row)
                if parsed is None:
                    skipped["malformed row"] = skipped.get("malformed row", 0) + 1
                    continue
                split, face, label = parsed
                rows[split][0].append(face)
                rows[split][1].append(label)
                rows[split][2].append(index)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    splits = {}
    for s, (xs, ys, keys) in rows.items():
        x = np.stack(xs) if xs else np.empty((0, INPUT_SIZE, INPUT_SIZE), np.uint8)
        splits[s] = Split(x, np.asarray(ys, np.int64), keys)
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
