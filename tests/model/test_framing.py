"""Users' own face crops are framed like FER-2013 faces before they are read
(`frame_tight_crop`), in `process --crops` and in `evaluate` on a folder of crops."""

import cv2
import numpy as np
import pytest

from model import EMOTIONS
from model.runtime.preprocess import FRAME_BORDER, frame_tight_crop, to_gray48
from model.training.data import load_labelled_folder


def _face(side=48 - 2 * FRAME_BORDER, seed=0):
    """A gray picture already at the framed face's inner size, so no resampling blurs it."""
    return np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)


def _expected(inner):
    """The inner face with its edge pixels repeated FRAME_BORDER times around it."""
    return np.pad(inner, FRAME_BORDER, mode="edge")


def test_a_crop_is_shrunk_and_its_edge_repeated_around_it():
    inner = _face()
    out = frame_tight_crop(inner)
    assert out.dtype == np.uint8 and out.shape == (48, 48)
    np.testing.assert_array_equal(out, _expected(inner))
    b = FRAME_BORDER
    np.testing.assert_array_equal(out[0, b:-b], inner[0])       # the ring is the edge
    np.testing.assert_array_equal(out[b:-b, -1], inner[:, -1])


def test_any_size_and_colour_gives_a_framed_48_pixel_face():
    bgr = cv2.cvtColor(cv2.resize(_face(), (80, 60), interpolation=cv2.INTER_NEAREST),
                       cv2.COLOR_GRAY2BGR)
    out = frame_tight_crop(bgr)
    assert out.shape == (48, 48) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0], out[FRAME_BORDER])     # repeated edge rows
    np.testing.assert_array_equal(frame_tight_crop(bgr, border=0), to_gray48(bgr))


def test_classify_whole_reads_the_framed_face_and_boxes_the_whole_picture(make_pipeline):
    class Recorder:
        path, flip, crops, networks = None, False, False, 1

        def predict(self, faces):
            self.faces = np.asarray(faces).reshape(-1, 48, 48)
            probs = np.full((len(self.faces), len(EMOTIONS)), 0.01, np.float32)
            probs[:, EMOTIONS.index("happy")] = 0.94
            return probs

    inner = _face()
    clf = Recorder()
    (det,) = make_pipeline(classifier=clf).classify_whole(cv2.cvtColor(inner, cv2.COLOR_GRAY2BGR))
    np.testing.assert_array_equal(clf.faces[0], _expected(inner))
    assert det.box == (0, 0, *inner.shape[::-1]) and det.label == "happy"


def test_a_labelled_folder_of_crops_is_read_framed(tmp_path):
    inner = _face()
    (tmp_path / "sad").mkdir()
    assert cv2.imwrite(str(tmp_path / "sad" / "me.png"), inner)
    faces, skipped = load_labelled_folder(tmp_path)
    assert skipped == {} and faces.y.tolist() == [EMOTIONS.index("sad")]
    np.testing.assert_array_equal(faces.x[0], _expected(inner))


def tight_crop(face, fraction, side=120):
    """The central `fraction` of a 48x48 FER face as a user's larger photo crop
    (cut from the face scaled up 5x, then resized to `side`), as runs/framing measured."""
    big = cv2.resize(face, (240, 240), interpolation=cv2.INTER_CUBIC)
    s = int(round(240 * fraction))
    o = (240 - s) // 2
    return cv2.resize(big[o:o + s, o:o + s], (side, side), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("model, fraction", [("emotion_cnn.tflite", 0.7),
                                             ("emotion_cnn_large.tflite", 0.7),
                                             ("emotion_cnn_large.tflite", 0.8)])
def test_framing_reads_tight_crops_of_public_test_faces_better(fer_root, model, fraction):
    """PublicTest's 2,854 faces with a crowd majority (what the shipped models learnt):
    framed, a tight crop reads better (the large network, 2026-12-07: +1.1 points at 70%,
    +0.4 at 80%; the default of 2026-12-08: +0.6 at 70%, none at 80%, so not asked of it
    there); 500 faces are too few to show the gain at 80% (its standard error there is
    1.0 point)."""
    from model.runtime.classifier import ASSETS, EmotionClassifier
    from model.training.votes import VOTES_FILE, load_scored_split

    if not (fer_root / VOTES_FILE).is_file():
        pytest.skip(f"the FER+ votes ({VOTES_FILE}) are not in {fer_root}")
    val = load_scored_split(fer_root, "val", "ferplus")
    clf = EmotionClassifier.load(ASSETS / model)
    crops = [tight_crop(face, fraction) for face in val.x]

    def correct(faces):
        probs = np.concatenate([clf.predict(faces[i:i + 256]) for i in range(0, len(faces), 256)])
        return int((probs.argmax(axis=1) == val.y).sum())

    as_is = correct(np.stack([to_gray48(c) for c in crops]))
    framed = correct(np.stack([frame_tight_crop(c) for c in crops]))
    assert framed > as_is, \
        f"{fraction:.0%} crops of {len(val)} faces: framed {framed}, as is {as_is}"
