"""The small parts the pipeline and the window lean on: the tracker's identities
through a short occlusion, the one-slot mailbox, the rate meter and a frame's laps."""

import threading

import pytest

from app.core.runstats import Laps, RateMeter
from app.core.track import Tracker
from app.gui.mailbox import Closed, LatestMailbox

FACE = (100, 100, 80, 80)


def _frames(tracker, boxes_per_frame, fps=30.0, start=0.0):
    """Feed full-scan boxes frame by frame; the track ids seen in each frame."""
    ids = []
    for i, boxes in enumerate(boxes_per_frame):
        pairs = tracker.assign({}, boxes, start + i / fps)
        ids.append([tr.id for tr, _ in pairs])
    return ids


def test_a_track_keeps_its_id_through_a_brief_occlusion():
    tracker = Tracker(forget_after=1.0)
    ids = _frames(tracker, [[FACE]] * 10 + [[]] * 9 + [[(104, 102, 80, 80)]] * 5)
    assert ids[:10] == [[1]] * 10 and ids[10:19] == [[]] * 9   # 0.3 s hidden
    assert ids[19:] == [[1]] * 5                               # the same face again
    assert tracker.tracks[1].missed == 0


def test_a_face_back_after_the_tracker_forgot_it_gets_a_new_id():
    tracker = Tracker(forget_after=1.0)
    ids = _frames(tracker, [[FACE]] * 10 + [[]] * 40 + [[FACE]] * 3)  # 1.33 s hidden
    assert ids[-3:] == [[2]] * 3 and 1 not in tracker.tracks


def test_a_second_face_far_away_is_a_second_track():
    tracker = Tracker()
    ids = _frames(tracker, [[FACE]] * 3 + [[FACE, (400, 100, 80, 80)]] * 3)
    assert ids[-1] == [1, 2]


def test_the_mailbox_keeps_only_the_newest_item_and_counts_the_dropped():
    box = LatestMailbox()
    assert box.put(1) is False and box.put(2) is True and box.put(3) is True
    assert box.dropped == 2
    assert box.get(timeout=0) == 3
    assert box.get(timeout=0.01) is None          # empty: waits, then None


def test_the_mailbox_wakes_a_waiting_reader_with_the_item_or_with_closed():
    box = LatestMailbox()
    got = []
    reader = threading.Thread(target=lambda: got.append(box.get(timeout=5)))
    reader.start()
    box.put("frame")
    reader.join(5)
    assert got == ["frame"]

    errors = []

    def wait_for_close():
        try:
            box.get(timeout=5)
        except Closed:
            errors.append("closed")

    waiter = threading.Thread(target=wait_for_close)
    waiter.start()
    box.close()
    waiter.join(5)
    assert errors == ["closed"] and box.closed
    with pytest.raises(Closed):
        box.get(timeout=0)


def test_clear_drops_an_unread_item_without_counting_it():
    box = LatestMailbox()
    box.put(1)
    box.clear()
    assert box.get(timeout=0) is None and box.dropped == 0


def test_the_rate_meter_counts_events_per_second_over_its_window():
    meter = RateMeter(window=2.0, clock=lambda: 0.0)
    for i in range(31):
        meter.tick(now=i / 15)                    # 15 per second for 2 s
    assert meter.rate(now=2.0) == pytest.approx(15.0)
    assert meter.count == 31
    assert meter.rate(now=10.0) == 0.0            # all older than the window
    meter.reset()
    meter.tick(now=20.0)
    assert meter.rate(now=20.0) == 0.0            # one event is no rate yet


def test_laps_time_each_stage_from_the_end_of_the_one_before():
    ticks = iter([10.0, 10.002, 10.005, 10.0125])
    lap = Laps(clock=lambda: next(ticks))
    lap("gray")
    lap("detect")
    lap("smooth")
    assert lap.ms() == pytest.approx({"gray": 2.0, "detect": 3.0, "smooth": 7.5,
                                      "total": 12.5})
