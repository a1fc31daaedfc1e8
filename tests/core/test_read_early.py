"""A known face is read at the box where it is expected while the detector looks for
it (FaceReader.read_early), and read again at the box found when it was not
there. Real frames: a drawn face pasted on a generated background."""

import threading

import numpy as np
import pytest

from app.core.crop import crop_face
from app.core.face_reader import EARLY_IOU
from app.core.track import iou
from app.io import synthetic
from model.runtime.preprocess import to_gray


class RecordingClassifier:
    """Stands in for the model: says happy, and records who asked about which crops."""

    flip = False
    networks = 1

    def __init__(self):
        self.calls = []          # (thread name, crops)

    def predict(self, faces):
        self.calls.append((threading.current_thread().name, np.array(faces)))
        out = np.full((len(faces), 7), 0.02, np.float32)
        out[:, 3] = 0.88
        return out


@pytest.fixture(scope="module")
def face():
    return synthetic.drawn_face(160, "happy")


def test_a_known_face_is_read_once_a_frame_beside_the_detection(face, make_pipeline):
    bg, clf = synthetic.background(), RecordingClassifier()
    pipe = make_pipeline(classifier=clf)
    for i in range(10):
        frame = synthetic.paste_face(bg, face, (300 + 2 * i, 240), 160)
        dets = pipe.process(frame, i / 30)
        assert len(dets) == 1 and dets[0].label == "happy"
    threads = [name for name, _ in clf.calls]
    assert len(threads) == 10                                # one reading a frame
    assert threads[0] == threading.current_thread().name     # a new face: read at once
    assert all(name.startswith("read-faces") for name in threads[1:])


def test_a_face_found_away_from_where_it_was_expected_is_read_again_at_its_box(face, make_pipeline):
    bg, clf = synthetic.background(), RecordingClassifier()
    pipe = make_pipeline(classifier=clf)
    for i in range(5):                                       # still at (300, 240)
        dets = pipe.process(synthetic.paste_face(bg, face, (300, 240), 160), i / 30)
    before = dets[0].box
    (track,) = pipe.tracker.tracks.values()
    expected = track.predicted(5 / 30)                       # its last box, moved on
    calls = len(clf.calls)
    jumped = synthetic.paste_face(bg, face, (350, 240), 160)   # 50 px in one frame
    dets = pipe.process(jumped, 5 / 30)
    assert len(dets) == 1 and iou(before, dets[0].box) < EARLY_IOU
    (early_thread, early), (late_thread, late) = clf.calls[calls:]
    assert early_thread.startswith("read-faces")
    assert late_thread == threading.current_thread().name
    # the early reading was of the old place, the one used of the face where it was found
    assert np.array_equal(late[0], crop_face(to_gray(jumped), dets[0].box, pipe.reader.margin))
    assert np.array_equal(early[0], crop_face(to_gray(jumped), expected, pipe.reader.margin))
