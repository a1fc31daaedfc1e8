"""held_faces alone: a face lost for a moment keeps its last reading, its box moved
on and kept half in view; faces seen, never confirmed or lost too long are not held."""

from app.core.held_faces import held_faces
from app.core.track import ProbabilitySmoother, Track
from app.nouns import Detection

SHAPE = (240, 320)


def shown(box, label, held=False) -> Detection:
    return Detection(box, label, 0.9, (), 1, held=held)


def lost(id_, box, last_seen, velocity=(0.0, 0.0), confirmed=True) -> Track:
    return Track(id_, box, last_seen, ProbabilitySmoother(), confirmed=confirmed, velocity=velocity,
                 shown=shown(box, "happy"))


def test_a_face_lost_for_a_moment_is_held_with_its_box_moved_on():
    face = lost(1, (100, 60, 80, 80), 0.9, velocity=(100.0, 0.0))
    assert held_faces([face], [], 1.0, 0.5, SHAPE) == [shown((110, 60, 80, 80), "happy", True)]


def test_a_held_box_stays_at_least_half_in_view():
    face = lost(1, (260, 200, 80, 80), 0.7, velocity=(400.0, 400.0))
    (held,) = held_faces([face], [], 1.0, 0.5, SHAPE)
    assert held.box == (320 - 40, 240 - 40, 80, 80)


def test_faces_seen_unconfirmed_or_lost_too_long_are_not_held():
    seen = lost(1, (0, 0, 80, 80), 0.9)
    unconfirmed = lost(2, (100, 0, 80, 80), 0.9, confirmed=False)
    too_long = lost(3, (200, 0, 80, 80), 0.4)
    never_read = Track(4, (0, 100, 80, 80), 0.9, ProbabilitySmoother(), confirmed=True)
    faces = [seen, unconfirmed, too_long, never_read]
    assert held_faces(faces, [(seen, seen.box)], 1.0, 0.5, SHAPE) == []
    assert len(held_faces([seen], [], 1.0, 0.5, SHAPE)) == 1
    assert held_faces([seen], [], 1.0, 0.0, SHAPE) == []        # the hold switched off
