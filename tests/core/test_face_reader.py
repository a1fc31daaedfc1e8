"""FaceReader alone, with a recording classifier: the early reading beside detection
and when it is kept, the views taken in turn, and the reading thread's end (also
the pipeline's, when it is closed)."""

import threading

import numpy as np

from app.core.face_reader import FaceReader, view_for
from app.core.pipeline import EmotionPipeline
from app.core.track import ProbabilitySmoother, Track
from app.io import synthetic
from app.nouns import Detection
from model.runtime.calibration import NONE

IMAGE = np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8)
BOX, OTHER = (100, 60, 80, 80), (10, 10, 60, 60)


class RecordingClassifier:
    """Reads every face of its n-th call as n (all seven bars), and records each call:
    (thread, faces, network, mirrored)."""

    path, calibration = None, NONE

    def __init__(self, networks=1, flip=False):
        self.networks, self.flip = networks, flip
        self.calls = []

    def predict(self, faces, network=None, mirrored=None):
        self.calls.append((threading.current_thread(), len(faces), network, mirrored))
        return np.full((len(faces), 7), len(self.calls), np.float32)


def track(id_=1, box=BOX, shown=True, missed=0) -> Track:
    return Track(id_, box, 0.0, smoother=ProbabilitySmoother(), missed=missed,
                 shown=Detection(box, "neutral", 1.0, (), id_) if shown else None)


def test_a_face_read_and_seen_last_frame_is_read_early_in_the_readers_thread():
    clf = RecordingClassifier()
    reader = FaceReader(clf, margin=0.2)
    assert reader.read_early(IMAGE, [track(shown=False), track(missed=1)], 0.0, None) is None
    known = track()
    early = reader.read_early(IMAGE, [known], 0.0, None)
    new = track(2, OTHER, shown=False)
    probs, crop_ms, classify_ms = reader.read(IMAGE, [(known, (102, 61, 80, 80)), (new, OTHER)],
                                              early, None)
    # the known face where expected: its early reading (call 1); the new one read now
    assert probs[:, 0].tolist() == [1.0, 2.0]
    assert clf.calls[0][0].name.startswith("read-faces")
    assert clf.calls[1][0] is threading.current_thread()
    assert crop_ms > 0 and classify_ms > 0
    reader.close()


def test_a_face_found_away_from_its_expected_box_is_read_again_where_it_was_found():
    clf = RecordingClassifier()
    reader = FaceReader(clf, margin=0.2)
    known = track()
    early = reader.read_early(IMAGE, [known], 0.0, None)
    probs, _, _ = reader.read(IMAGE, [(known, (160, 60, 80, 80))], early, None)
    assert probs[:, 0].tolist() == [2.0] and len(clf.calls) == 2
    known.angle = 15.0                   # found tilted: not the upright early reading
    early = reader.read_early(IMAGE, [track()], 0.0, None)
    probs, _, _ = reader.read(IMAGE, [(known, BOX)], early, None)
    assert probs[:, 0].tolist() == [4.0]
    reader.close()


def test_taking_turns_a_known_face_is_asked_one_view_and_a_new_face_every_view():
    clf = RecordingClassifier(networks=3, flip=True)
    reader = FaceReader(clf, margin=0.2)
    pairs = [(track(), BOX), (track(2, OTHER, shown=False), OTHER)]
    reader.read(IMAGE, pairs, None, turn=4)
    assert view_for(4, False, 3, True) == (1, True)
    assert sorted(((n, net, m) for _, n, net, m in clf.calls), key=str) == [
        (1, 1, True), (1, None, None)]          # one batch a view asked
    clf.calls.clear()
    reader.read(IMAGE, pairs, None, turn=None)         # not taking turns: every view
    assert [(n, net, m) for _, n, net, m in clf.calls] == [(2, None, None)]
    reader.close()


def test_close_ends_the_reading_thread():
    clf = RecordingClassifier()
    reader = FaceReader(clf, margin=0.2)
    early = reader.read_early(IMAGE, [track()], 0.0, None)
    reader.read(IMAGE, [(track(), BOX)], early, None)
    (thread, *_), = clf.calls
    assert thread.is_alive()
    reader.close()
    assert not thread.is_alive()


def test_a_pipeline_used_in_a_with_block_ends_its_reading_thread_with_it():
    clf = RecordingClassifier()
    face, bg = synthetic.drawn_face(160, "happy"), synthetic.background()
    with EmotionPipeline(classifier=clf) as pipe:
        for i in range(3):
            pipe.process(synthetic.paste_face(bg, face, (300, 240), 160), i / 30)
        beside = [call[0] for call in clf.calls if call[0].name.startswith("read-faces")]
        assert beside and beside[0].is_alive()
    assert not beside[0].is_alive()
