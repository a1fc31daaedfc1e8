"""The side panel's timeline without a window (app.gui.timeline): which samples it
keeps in each mode, and the arithmetic of its axis, on an injected clock."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from app.gui.timeline import TIMELINE_SAMPLES, Timeline, TimelineMode, clock_text, timeline_mode
from app.nouns import Marker
from tests.conftest import REPO


def timeline(mode="camera", now=100.0, **kw) -> Timeline:
    line = Timeline(clock=lambda: now, **kw)
    line.set_mode(TimelineMode(mode))
    return line


def times(line) -> list:
    return [s[0] for s in line.samples]


# ------------------------------------------------------------- the samples kept

def test_a_second_reading_of_the_same_moment_replaces_the_first():
    line = timeline("video")
    line.add("happy", 0.9, t=1.0)
    line.add("sad", 0.4, t=1.0, valence=-0.5)
    assert line.samples == [(1.0, 4, 0.4, -0.5)]           # sad is the fifth emotion


def test_a_moment_without_a_face_is_kept_as_no_emotion():
    line = timeline("video")
    line.add(None, t=2.0)
    assert line.samples == [(2.0, -1, 0.0, None)] and line.now == 2.0


def test_a_video_going_back_starts_afresh_a_camera_keeps_its_last_seconds():
    video = timeline("video")
    for t in (1.0, 2.0, 3.0):
        video.add("happy", t=t)
    video.add("happy", t=0.5)                               # a loop back
    assert times(video) == [0.5]

    camera = timeline("camera", seconds=10.0)
    camera.add_marker(1.0, Marker(number=1))
    camera.add_marker(5.0, Marker(number=2))
    for t in range(0, 16):
        camera.add("happy", t=float(t))
    assert times(camera)[0] == 5.0 and times(camera)[-1] == 15.0
    assert [m[1] for m in camera.markers] == [2]            # the older marker is gone


def test_photos_keep_a_column_for_each_of_the_last_photos_shown():
    photos = timeline("photos", seconds=3.0)                # three columns
    for n in range(1, 6):
        photos.add("happy", t=float(n))
    assert times(photos) == [3.0, 4.0, 5.0]


def test_a_long_video_is_thinned_to_every_other_sample_keeping_the_newest():
    video = timeline("video")
    for t in range(TIMELINE_SAMPLES + 1):
        video.add("happy", t=float(t))
    kept = times(video)
    assert len(kept) == TIMELINE_SAMPLES // 2 + 1
    assert kept[-1] == float(TIMELINE_SAMPLES) and kept[1] - kept[0] == 2.0


def test_a_seek_clears_a_videos_samples_but_not_its_markers_nor_the_photos():
    video = timeline("video")
    video.add("happy", t=4.0)
    video.add_marker(4.0, Marker(number=3))
    video.seeked()
    assert video.samples == [] and video.markers == [(4.0, 3, "")]
    photos = timeline("photos")
    photos.add("happy", t=1.0)
    photos.seeked()
    assert times(photos) == [1.0]


def test_another_mode_or_source_forgets_everything():
    line = timeline("video")
    line.add("happy", t=4.0)
    line.add_marker(4.0, Marker(number=1))
    line.set_mode(TimelineMode.CAMERA)
    assert line.samples == [] and line.markers == [] and line.now is None
    with pytest.raises(ValueError):
        TimelineMode("radio")


# --------------------------------------------------------------- the axis

def test_the_axis_of_each_mode():
    assert timeline("video").axis() == (0.0, 0.0)           # nothing played yet
    assert timeline("camera", now=100.0).axis() == (40.0, 100.0)   # by the clock
    video = timeline("video")
    video.add("happy", t=90.0)
    assert video.axis() == (0.0, 90.0)
    assert video.axis_labels() == [(0.0, "0:00"), (0.5, "0:45"), (1.0, "1:30")]
    assert timeline("camera").axis_labels()[0] == (0.0, "-60 s")
    assert timeline("photos").axis() is None and timeline("photos").axis_labels() == []


def test_where_a_moment_is_across_the_timeline():
    camera = timeline("camera")
    camera.add("happy", t=100.0)
    assert camera.x_fraction(70.0) == pytest.approx(0.5)
    assert camera.x_fraction(39.0) is None and camera.x_fraction(101.0) is None
    photos = timeline("photos")
    for n in (1.0, 2.0, 1.0):                               # photo 1 shown again
        photos.add("happy", t=n)
    assert photos.x_fraction(1.0) == pytest.approx(0.25)    # its last column of ten
    assert photos.x_fraction(7.0) is None
    assert photos.sample_fractions() == pytest.approx([0.05, 0.15, 0.25])


def test_a_marks_width_is_a_tenth_of_a_second_at_least_a_pixel_or_a_column():
    video = timeline("video")
    video.add("happy", t=10.0)
    assert video.mark_width(500.0) == pytest.approx(5.0)    # 100 tenths over 500 px
    video.add("happy", t=6000.0)
    assert video.mark_width(500.0) == 1.0
    photos = timeline("photos")
    for n in range(1, 21):
        photos.add("happy", t=float(n))
    assert photos.mark_width(500.0) == pytest.approx(25.0)  # 20 columns


def test_a_frames_place_is_its_time_or_for_photos_its_number():
    frame = SimpleNamespace(time=2.5, number=76)
    assert timeline("video").time_of(frame) == 2.5
    assert timeline("photos").time_of(frame) == 76.0
    assert timeline("camera").time_of(SimpleNamespace(time=None, number=3)) == 3.0


def test_the_mode_follows_the_sources_news():
    assert timeline_mode({"live": True, "fps": 30}) == "camera"
    assert timeline_mode({"fps": 30.0, "frames": 120}) == "video"
    assert timeline_mode({"photos": True, "frames": 12}) == "photos"
    assert timeline_mode({"frames": 1}) == "photos"         # an image
    assert timeline_mode({"frames": 50}) == "camera"        # a video with no frame rate


def test_the_clock_text_reads_minutes_and_seconds():
    assert clock_text(0.0) == "0:00" and clock_text(125.9) == "2:05"


def test_the_timeline_model_needs_no_qt():
    code = "import sys, app.gui.timeline; print('PyQt5' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"
