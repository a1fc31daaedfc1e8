"""The label on a talking face (issue 34): readings that swing between two emotions in
short spells keep one label, a real change still shows at once, and the label is the
top of the bars shown in every row."""

import numpy as np
import pytest

from app.core.track import ProbabilitySmoother

HAPPY, SURPRISE, NEUTRAL = 3, 5, 6
# the smoother as it was before issue 34: a jump of the bars on any lead of 0.15
BEFORE = {"fast_tau": 0.15, "jump": 0.15, "confirm": 0.0, "margin": 0.0, "sure": 1.0}


def reading(rng, happy, neutral, other=None):
    p = np.full(7, 0.02)
    p[HAPPY], p[NEUTRAL] = happy, neutral
    if other is not None:
        p[other[0]] = other[1]
    p = np.clip(p + rng.normal(0, 0.04, 7), 1e-3, None)
    return p / p.sum()


def talking(seconds, fps, seed=0):
    """A smiling face that talks: happy 0.5 / neutral 0.3, and every 0.2 to 0.6 s a
    spell of 0.1 to 0.3 s that reads neutral 0.55 (between smiles) or, one time in
    five, surprise (a mouth shape)."""
    rng = np.random.default_rng(seed)
    out, k, n = [], 0, int(seconds * fps)
    while k < n:
        for _ in range(int(rng.uniform(0.2, 0.6) * fps)):
            out.append(reading(rng, 0.5, 0.3))
        other = (SURPRISE, 0.5) if rng.random() < 0.2 else None
        spell = (0.2, 0.55) if other is None else (0.15, 0.15)
        for _ in range(max(1, int(rng.uniform(0.1, 0.3) * fps))):
            out.append(reading(rng, *spell, other))
        k = len(out)
    return out[:n]


def run(smoother, readings, fps):
    labels = []
    for i, p in enumerate(readings):
        shown, label = smoother.update(p, i / fps)
        assert label == int(np.argmax(shown))          # in every row
        labels.append(label)
    return labels


def changes(labels):
    return sum(a != b for a, b in zip(labels, labels[1:]))


@pytest.mark.parametrize("fps", [15, 30, 60])
def test_a_talking_face_keeps_its_label(fps):
    seconds = 30
    readings = talking(seconds, fps)
    before = run(ProbabilitySmoother(**BEFORE), readings, fps)
    now = run(ProbabilitySmoother(), readings, fps)
    assert changes(before) / seconds > 1.0               # the square wave of issue 34
    assert changes(now) / seconds <= 0.5
    assert max(set(now), key=now.count) == HAPPY


@pytest.mark.parametrize("fps", [15, 30, 60])
def test_a_clear_change_shows_within_0_2_s(fps):
    sm = ProbabilitySmoother()
    old = np.array([.05, .02, .05, .75, .05, .03, .05])      # happy
    new = np.array([.05, .02, .05, .05, .05, .73, .05])      # surprise
    shown = None
    for i in range(int(4 * fps)):
        t = i / fps
        label = sm.update(old if t < 2.0 else new, t)[1]
        if t >= 2.0 and label == SURPRISE and shown is None:
            shown = t - 2.0
    assert shown is not None and shown <= 0.2 + 1e-9


def test_a_modest_change_that_lasts_shows_and_a_brief_one_does_not():
    """happy -> neutral by a lead under `sure`: it must hold for `confirm` s."""
    rng = np.random.default_rng(1)
    fps = 30
    sm = ProbabilitySmoother()
    for i in range(60):
        sm.update(reading(rng, 0.5, 0.25), i / fps)
    labels = [sm.update(reading(rng, 0.2, 0.55), (60 + i) / fps)[1] for i in range(4)]
    labels += [sm.update(reading(rng, 0.5, 0.25), (64 + i) / fps)[1] for i in range(30)]
    assert set(labels) == {HAPPY}                          # 0.13 s of neutral: a blip
    labels = [sm.update(reading(rng, 0.2, 0.55), (94 + i) / fps)[1] for i in range(30)]
    first = labels.index(NEUTRAL)
    assert sm.confirm <= first / fps <= 0.6 and set(labels[first:]) == {NEUTRAL}


def test_a_held_label_is_shown_at_the_top_of_bars_that_tie():
    """The slow average's top has moved by less than the margin: the label stays, and
    the bars shown put the two at a tie with the label a hair above."""
    sm = ProbabilitySmoother(tau=0.2, jump=1.0, sure=1.0, margin=0.1)
    a = np.array([.02, .02, .02, .52, .02, .02, .38])
    b = np.array([.02, .02, .02, .42, .02, .02, .48])
    sm.update(a, 0.0)
    for i in range(1, 40):
        shown, label = sm.update(b, i / 30)
    assert label == HAPPY and int(np.argmax(shown)) == HAPPY
    assert 0 < shown[HAPPY] - shown[NEUTRAL] < 1e-3
    assert round(shown[HAPPY], 4) > round(shown[NEUTRAL], 4)      # as the CSV writes them
    assert shown.sum() == pytest.approx(1.0, abs=1e-5)
    c = np.array([.02, .02, .02, .32, .02, .02, .58])       # now it leads by more
    for i in range(40, 80):
        shown, label = sm.update(c, i / 30)
    assert label == NEUTRAL and shown[NEUTRAL] > shown[HAPPY] + 0.1
