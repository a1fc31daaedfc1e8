"""Loading FER-2013 in both layouts, and what happens to bad data."""

import logging

import cv2
import numpy as np
import pytest

from model import EMOTIONS
from model.runtime.classifier import EmotionClassifier
from model.runtime.errors import DataError
from model.runtime.preprocess import to_gray48, to_network_input
from model.training.data import check_layout, load_dataset
from tests.conftest import (
    TINY_COUNTS,
    read_image,
    tiny_faces,
    write_tiny_csv,
    write_tiny_folder,
)


def test_folder_layout_gives_every_split_with_its_labels(tiny_folder):
    data = load_dataset(tiny_folder)
    for split, per_class in TINY_COUNTS.items():
        faces, labels = tiny_faces(split)
        assert data[split].x.dtype == np.uint8 and data[split].x.shape == (7 * per_class, 48, 48)
        np.testing.assert_array_equal(data[split].y, labels)
        np.testing.assert_array_equal(data[split].x, faces)  # PNG: exact
    assert data.skipped == {}


@pytest.mark.parametrize("as_folder", [False, True], ids=["csv-file", "folder-with-csv"])
def test_csv_layout_gives_the_same_faces_as_the_folder_layout(tiny_folder, tiny_csv, as_folder):
    from_csv = load_dataset(tiny_csv.parent if as_folder else tiny_csv)
    from_folder = load_dataset(tiny_folder)
    for split in TINY_COUNTS:
        np.testing.assert_array_equal(from_csv[split].x, from_folder[split].x)
        np.testing.assert_array_equal(from_csv[split].y, from_folder[split].y)


def test_only_the_requested_split_is_read(tiny_folder):
    data = load_dataset(tiny_folder, splits=("test",))
    assert list(data.splits) == ["test"]
    assert len(data["test"]) == 7 * TINY_COUNTS["test"]


def test_corrupt_images_are_skipped_counted_and_reported(tiny_folder, caplog):
    angry = tiny_folder / "train" / "angry"
    (angry / "Training_empty.jpg").write_bytes(b"")
    (angry / "Training_text.jpg").write_text("not an image")
    good = (angry / "Training_0000.png").read_bytes()
    (angry / "Training_cut.png").write_bytes(good[:20])  # header only
    (angry / "notes.txt").write_text("not an image suffix: ignored, not counted")
    with caplog.at_level(logging.INFO, logger="model.training.data"):
        data = load_dataset(tiny_folder)
    assert data.skipped == {"unreadable image": 3}
    assert len(data["train"]) == 7 * TINY_COUNTS["train"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("skipped 3 (3 unreadable image)" in m for m in warnings), warnings


def test_an_empty_class_folder_is_reported_and_the_rest_loads(tiny_folder, caplog):
    for f in (tiny_folder / "train" / "disgust").iterdir():
        f.unlink()
    with caplog.at_level(logging.WARNING, logger="model.training.data"):
        data = load_dataset(tiny_folder)
    assert 1 not in data["train"].y and len(data["train"]) == 6 * TINY_COUNTS["train"]
    assert any("no images in class folder" in r.getMessage() and "disgust" in r.getMessage()
               for r in caplog.records)


def test_malformed_csv_rows_are_skipped_and_counted(tmp_path, caplog):
    pixels = " ".join(["128"] * 48 * 48)
    bad_rows = [
        f"9,{pixels},Training",                       # no such class
        f"0,{' '.join(['1'] * 100)},Training",         # wrong pixel count
        f"0,{pixels[:-3]} abc,Training",               # not a number
        f"0,{' '.join(['300'] * 48 * 48)},Training",   # not 8-bit
        f"x,{pixels},PublicTest",                     # label not a number
        "0",                                           # missing fields
    ]
    path = write_tiny_csv(tmp_path / "fer2013.csv", extra_rows=bad_rows)
    with caplog.at_level(logging.WARNING, logger="model.training.data"):
        data = load_dataset(path)
    assert data.skipped == {"malformed row": len(bad_rows)}
    assert len(data["train"]) == 7 * TINY_COUNTS["train"]
    assert any("skipped 6 (6 malformed row)" in r.getMessage() for r in caplog.records)


def test_a_csv_saved_with_a_byte_order_mark_loads(tmp_path):
    path = write_tiny_csv(tmp_path / "fer2013.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(load_dataset(path)["val"]) == 7 * TINY_COUNTS["val"]


def _flat_folder(root):
    (root / "train").mkdir(parents=True)
    (root / "test").mkdir()
    cv2.imwrite(str(root / "train" / "face.png"), np.zeros((48, 48), np.uint8))
    return root


@pytest.mark.parametrize("make", [
    lambda root: root.mkdir(),                                   # empty folder
    lambda root: (root / "train" / "happy").mkdir(parents=True),  # no test/
    _flat_folder,                                                # no class folders
], ids=["empty", "no-test", "no-class-folders"])
def test_a_folder_with_the_wrong_layout_gets_one_message_saying_what_was_expected(tmp_path, make):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(DataError) as err:
        check_layout(root)
    message = str(err.value)
    assert "wrong layout" in message and str(root) in message
    assert "train/<emotion>" in message and "fer2013.csv" in message and "\n" not in message
    with pytest.raises(DataError):
        load_dataset(root)


def test_a_csv_with_other_columns_is_rejected(tmp_path):
    path = tmp_path / "faces.csv"
    path.write_text("label,image\n0,1 2 3\n")
    with pytest.raises(DataError, match="wrong columns in .*faces.csv.*emotion,pixels,Usage"):
        load_dataset(path)


def test_a_missing_data_set_is_named(tmp_path):
    with pytest.raises(DataError, match=f"data set not found: {tmp_path / 'nope'}"):
        load_dataset(tmp_path / "nope")


def test_a_data_set_whose_images_are_all_unreadable_is_an_error(tiny_folder):
    for f in (tiny_folder / "test").rglob("PublicTest_*.png"):
        f.write_bytes(b"broken")
    with pytest.raises(DataError, match="no PublicTest images in"):
        load_dataset(tiny_folder)


def test_training_and_the_app_turn_a_face_file_into_the_same_network_input(tmp_path):
    """The loader's array for a file equals what the app makes of the same picture."""
    root = write_tiny_folder(tmp_path / "fer", suffix=".jpg")  # Kaggle's format
    # a bigger colour face too: the app crops faces out of BGR frames of any size
    rng = np.random.default_rng(3)
    colour = cv2.resize(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), (96, 96))
    colour_path = root / "test" / "happy" / "PublicTest_colour.jpg"
    cv2.imwrite(str(colour_path), colour)
    files = sorted((root / "test" / "happy").glob("PublicTest_*.jpg"))

    loaded = load_dataset(root, splits=("val",))["val"]
    happy = loaded.x[loaded.y == EMOTIONS.index("happy")]
    # the app: a BGR frame (what cv2.VideoCapture / imread give) -> to_gray48
    app_faces = np.stack([to_gray48(read_image(f, cv2.IMREAD_COLOR)) for f in files])
    np.testing.assert_array_equal(happy, app_faces)

    class Spy:  # records what the classifier feeds the network
        def run(self, x, network=None):
            self.x = x
            return np.full((len(x), 7), 1 / 7, np.float32)

    spy = Spy()
    EmotionClassifier(spy, colour_path, flip=False).predict(app_faces)
    np.testing.assert_array_equal(spy.x, to_network_input(happy))


def test_the_real_fer2013_public_test_split_loads(fer_root):
    """The Kaggle download itself (skipped where it is not beside the checkout)."""
    assert check_layout(fer_root) == ("folders", fer_root)
    data = load_dataset(fer_root, splits=("val",))
    assert len(data["val"]) == 3589 and data.skipped == {}  # FER-2013's PublicTest size
    assert data["val"].x.shape[1:] == (48, 48) and set(data["val"].y) == set(range(7))
