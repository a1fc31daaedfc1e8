"""NeutralCorrection alone: whose readings have a person's neutral lean taken out,
and how one face's correction passes to the next face once it is gone."""

import numpy as np

from app.core.neutral_correction import NeutralCorrection
from app.core.neutral_offset import corrected
from app.core.track import ProbabilitySmoother, Track
from app.nouns import Detection

OFFSET = np.log([0.05, 0.05, 0.05, 0.05, 0.4, 0.05, 0.35]) - np.log(1 / 7)   # leans sad
READING = np.array([0.05, 0.02, 0.03, 0.3, 0.4, 0.05, 0.15], np.float32)


class CountingSmoother(ProbabilitySmoother):
    resets = 0      # (the smoother's own constructor resets it once first)

    def __init__(self):
        super().__init__()
        self.resets = 0

    def reset(self):
        super().reset()
        self.resets += 1


def tracks(*boxes) -> list:
    """Tracks 1, 2, ... at `boxes`, each already shown (not new)."""
    return [Track(i, box, 0.0, CountingSmoother(), shown=Detection(box, "neutral", 1.0, (), i))
            for i, box in enumerate(boxes, 1)]


def test_without_a_correction_readings_pass_unchanged():
    fix = NeutralCorrection()
    shown, calibrated = fix.reading(READING, tracks((0, 0, 50, 50))[0])
    assert not fix.active and shown is READING and calibrated is False


def test_a_correction_for_every_face_applies_to_tracked_and_whole_pictures_alike():
    fix, faces = NeutralCorrection(), tracks((0, 0, 50, 50), (60, 0, 50, 50))
    fix.set(OFFSET, None, faces)
    for face in (faces[0], faces[1], None):
        shown, calibrated = fix.reading(READING, face)
        np.testing.assert_allclose(shown, corrected(READING, OFFSET))
        assert calibrated is True
    assert shown.argmax() != READING.argmax()                 # the sad lean taken out
    assert [f.smoother.resets for f in faces] == [1, 1]       # shown corrected at once
    fix.set(None, None, faces)
    assert not fix.active and fix.reading(READING, faces[0])[1] is False


def test_a_correction_for_one_face_applies_to_it_alone():
    fix, faces = NeutralCorrection(), tracks((0, 0, 50, 50), (60, 0, 50, 50))
    fix.set(OFFSET, 2, faces)
    assert [f.calibrated for f in faces] == [False, True]
    assert [f.smoother.resets for f in faces] == [0, 1]
    for face in (faces[0], None):                             # None: a whole picture
        shown, calibrated = fix.reading(READING, face)
        assert shown is READING and calibrated is False
    assert fix.reading(READING, faces[1])[1] is True


def test_the_correction_of_a_face_gone_passes_to_the_largest_new_face():
    fix, (kept, gone) = NeutralCorrection(), tracks((0, 0, 50, 50), (60, 0, 50, 50))
    fix.set(OFFSET, 2, [kept, gone])
    small, large = (Track(3, (0, 0, 40, 40), 0.0, ProbabilitySmoother()),
                    Track(4, (60, 0, 90, 90), 0.0, ProbabilitySmoother()))
    pairs = [(kept, kept.box), (small, small.box), (large, large.box)]
    fix.hand_on([kept, gone, small, large], pairs)            # still in view: kept by it
    assert not small.calibrated and not large.calibrated
    fix.hand_on([kept, small, large], pairs)                  # gone: to the largest new face
    assert not kept.calibrated and not small.calibrated and large.calibrated


def test_a_correction_for_every_face_is_handed_to_nobody():
    fix, faces = NeutralCorrection(), tracks((0, 0, 50, 50))
    fix.set(OFFSET, None, faces)
    new = Track(2, (60, 0, 90, 90), 0.0, ProbabilitySmoother())
    fix.hand_on(faces + [new], [(new, new.box)])
    assert not new.calibrated
