"""The check of a person's neutral (app.core.neutral_check): a face at rest passes, even one
the model reads as sad or stern; a smile, a face that talks or changes, two faces or
a dark face are refused with the reason."""

import numpy as np
import pytest

from app.core.neutral_check import NotNeutral, Seen, checked_offset
from app.core.neutral_offset import person_offset
from model import EMOTIONS
from model.runtime.errors import UserError

REFERENCE = np.log([.05, .02, .05, .10, .12, .03, .63])
RESTING_SAD = [.10, .05, .10, .05, .40, .05, .25]          # what calibration is for
SMILE = [.03, .02, .03, .62, .05, .05, .20]
NEUTRAL = [.04, .02, .04, .08, .10, .02, .70]


def noisy(base, n, seed=0, sigma=0.02):
    rng = np.random.default_rng(seed)
    rows = np.clip(np.asarray(base) + rng.normal(0, sigma, (n, 7)), 1e-3, None)
    return rows / rows.sum(1, keepdims=True)


def test_a_resting_face_read_as_sad_is_accepted_with_its_offset():
    readings = noisy(RESTING_SAD, 90)
    offset = checked_offset(readings, REFERENCE, sequence=True)
    np.testing.assert_allclose(offset, person_offset(readings, REFERENCE))
    assert EMOTIONS[int(np.argmax(offset))] == "sad"


def test_a_smile_is_refused_and_says_so():
    readings = np.concatenate([noisy(SMILE, 74), noisy(NEUTRAL, 16, seed=1)])
    with pytest.raises(NotNeutral, match="looked like a smile") as exc:
        checked_offset(readings, REFERENCE, sequence=True)
    assert "happy in 74 of 90 readings" in str(exc.value)
    assert "keep a relaxed face and try again" in str(exc.value)
    assert isinstance(exc.value, UserError)          # the CLI's one-line errors


def test_one_posed_smile_photo_is_refused():
    with pytest.raises(NotNeutral, match=r"smile \(happy in the picture, 62%"):
        checked_offset([SMILE], REFERENCE, sequence=False)


def test_a_scowl_is_refused_but_a_stern_resting_face_is_not():
    stern = [.55, .05, .05, .03, .12, .02, .18]
    checked_offset(noisy(stern, 30), REFERENCE, sequence=True)
    scowl = [.95, .01, .01, .005, .01, .005, .01]
    with pytest.raises(NotNeutral, match="looked like anger"):
        checked_offset(noisy(scowl, 30, sigma=0.002), REFERENCE, sequence=True)


def test_an_expression_that_changes_half_way_is_refused():
    happy_ish = [.04, .02, .04, .45, .05, .05, .35]
    readings = np.concatenate([noisy(NEUTRAL, 45), noisy(happy_ish, 45, seed=1)])
    with pytest.raises(NotNeutral, match="expression changed.*from neutral to happy"):
        checked_offset(readings, REFERENCE, sequence=True)
    # the same readings as separate photos of the person are each their own moment
    checked_offset(readings, REFERENCE, sequence=False)


def test_a_face_that_talks_is_refused():
    """Neutral, broken every few frames by a mouth shape that reads as another emotion."""
    rng = np.random.default_rng(3)
    readings = noisy(NEUTRAL, 90)
    k = 2
    while k < 90:
        spell = [.03, .02, .05, .30, .04, .50, .06] if rng.random() < .5 else SMILE
        readings[k:k + 5] = noisy(spell, len(readings[k:k + 5]), seed=k)
        k += 5 + int(rng.integers(3, 8))
    with pytest.raises(NotNeutral, match="expression changed.*talking"):
        checked_offset(readings, REFERENCE, sequence=True)
    # while a still face with the usual frame-to-frame noise passes
    checked_offset(noisy(NEUTRAL, 90, sigma=0.05), REFERENCE, sequence=True)


def test_two_faces_a_dark_face_or_nothing_are_refused():
    readings = noisy(NEUTRAL, 10)
    with pytest.raises(NotNeutral, match="two faces of about the same size in 8 of 10"):
        checked_offset(readings, REFERENCE, False, Seen(second_faces=8))
    checked_offset(readings, REFERENCE, False, Seen(second_faces=2))
    with pytest.raises(NotNeutral, match="too dark to read.*grey level 21"):
        checked_offset(readings, REFERENCE, False, Seen(brightness=(21.0,) * 10))
    checked_offset(readings, REFERENCE, False, Seen(brightness=(90.0,) * 10))
    with pytest.raises(NotNeutral, match="no face was read"):
        checked_offset(np.zeros((0, 7)), REFERENCE, sequence=True)
