"""FaceFinder alone, with a scripted detector: known faces near their last box, and
which frames are scanned whole (the scan schedule), upright and turned."""

import numpy as np

from app.core.detect import TILT_ANGLES
from app.core.face_finder import FaceFinder
from app.core.track import ProbabilitySmoother, Track

GRAY = np.zeros((240, 320), np.uint8)
BOX, TURNED = (100, 60, 80, 80), (104, 62, 80, 80)


class ScriptedDetector:
    """Finds a known face at `near` (None: not there) upright, at `turned` ((box,
    angle) or None) turned; a full scan finds one other face. Records what it was asked."""

    def __init__(self, near=BOX, turned=None):
        self.sensitivity, self.min_face = 0.5, 60
        self.found_near, self.turned = near, turned
        self.scans, self.turned_asked = [], []

    def near(self, gray, box):
        return self.found_near

    def near_rotated(self, gray, box, angles=TILT_ANGLES):
        self.turned_asked.append(tuple(angles))
        return self.turned

    def full_scan(self, gray, known=()):
        self.scans.append(list(known))
        return [(200, 100, 60, 60)]


def track(confirmed=False, last_seen=0.0, angle=0.0) -> Track:
    return Track(1, BOX, last_seen, smoother=ProbabilitySmoother(), confirmed=confirmed,
                 angle=angle)


def scans(finder, tracks, frames, lose=False) -> list:
    """Whether each of `frames` frames (30 a second) was scanned whole; `lose`: the
    face counts one more frame missed after each."""
    out = []
    for i in range(frames):
        finder.find(GRAY, tracks, i / 30)
        out.append(finder.scanned)
        for tr in tracks:
            tr.missed += lose
    return out


def test_a_face_found_near_its_box_leaves_the_full_scan_to_every_rescan_interval_frames():
    detector = ScriptedDetector()
    finder = FaceFinder(detector, rescan_interval=4, hold=0.5, tilt=True)
    boxes, claimed, angles = finder.find(GRAY, [track()], 0.0)
    assert claimed == {1: BOX} and angles == {} and boxes == [(200, 100, 60, 60)]
    assert detector.scans == [[BOX]]                   # the known face blanked
    assert scans(finder, [track()], 8) == [False, False, False, True] * 2


def test_the_frame_a_face_is_lost_is_scanned_whole_then_every_other_frame():
    finder = FaceFinder(ScriptedDetector(near=None), rescan_interval=10, hold=0.0, tilt=False)
    finder.find(GRAY, [], 0.0)                         # the first frame's scan
    assert scans(finder, [track()], 5, lose=True) == [True, False, True, False, True]


def test_a_new_sensitivity_or_min_face_reaches_the_detector_and_rescans():
    detector = ScriptedDetector()
    finder = FaceFinder(detector, rescan_interval=10, hold=0.5, tilt=True)
    assert scans(finder, [track()], 2) == [True, False]
    finder.sensitivity = 0.9
    assert scans(finder, [track()], 2) == [True, False] and detector.sensitivity == 0.9
    finder.min_face = 80.0
    assert scans(finder, [track()], 2) == [True, False] and detector.min_face == 80
    finder.rescan()
    assert scans(finder, [track()], 1) == [True]


def test_a_fresh_face_not_found_upright_is_looked_for_turned():
    detector = ScriptedDetector(near=None, turned=(TURNED, 30.0))
    finder = FaceFinder(detector, rescan_interval=10, hold=0.5, tilt=True)
    _, claimed, angles = finder.find(GRAY, [track(confirmed=True)], 0.1)
    assert claimed == {1: TURNED} and angles == {1: 30.0}
    # lost for longer than the hold, or never confirmed: left to the full scans
    for stale in (track(confirmed=True, last_seen=-1.0), track(confirmed=False)):
        detector.turned_asked.clear()
        _, claimed, _ = finder.find(GRAY, [stale], 0.1)
        assert claimed == {} and detector.turned_asked == []


def test_a_face_found_tilted_is_looked_for_at_its_tilt_first():
    detector = ScriptedDetector(near=None, turned=(TURNED, 30.0))
    finder = FaceFinder(detector, rescan_interval=10, hold=0.5, tilt=True)
    finder.find(GRAY, [track(confirmed=True, angle=30.0)], 0.1)
    assert detector.turned_asked == [(30.0, 0.0, 15.0, -15.0, -30.0)]
    finder.tilt = False                                # searched upright only
    finder.find(GRAY, [track(confirmed=True, angle=30.0)], 0.1)
    assert detector.turned_asked[-1] == (0.0,)
