"""Snapshots without a window: three files with the right content, written
atomically, and nothing left behind when the folder or the disk fails."""

import datetime as dt
import errno
import json
import os

import numpy as np
import pytest

from app.core.draw import draw_detections
from app.io.snapshot import SnapshotError, save_snapshot
from app.nouns import Detection
from model import EMOTIONS
from tests.conftest import read_image

WHEN = dt.datetime(2024, 5, 17, 14, 3, 9, 250000, tzinfo=dt.timezone.utc)


@pytest.fixture
def frame():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)


@pytest.fixture
def detections():
    probs = np.array([0.05, 0.01, 0.04, 0.7, 0.1, 0.05, 0.05])
    return [Detection(box=(20, 30, 50, 50), label="happy", confidence=0.7,
                      probabilities=tuple(probs), track_id=3),
            Detection(box=(90, 10, 40, 40), label="sad", confidence=0.55,
                      probabilities=tuple(np.roll(probs, 1)), track_id=4)]


def save(folder, frame, detections, **kw):
    return save_snapshot(folder, frame, draw_detections(frame, detections), detections,
                         source="/videos/clip.avi", when=kw.pop("when", WHEN), **kw)


def test_three_files_with_their_content(tmp_path, frame, detections):
    paths = save(tmp_path, frame, detections, frame_number=42, source_time=1.3666)
    assert paths.annotated.name == "emotion_20240517_140309_250_annotated.png"
    assert paths.raw.name == "emotion_20240517_140309_250_raw.png"
    assert paths.record.name == "emotion_20240517_140309_250.json"
    assert sorted(os.listdir(tmp_path)) == sorted(p.name for p in (paths.annotated, paths.raw,
                                                                  paths.record))
    assert np.array_equal(read_image(paths.raw), frame)          # PNG: exact
    assert np.array_equal(read_image(paths.annotated), draw_detections(frame, detections))
    record = json.loads(paths.record.read_text())
    assert record["time"] == "2024-05-17T14:03:09.250+00:00"
    assert record["source"] == "/videos/clip.avi"
    assert record["frame"] == {"width": 160, "height": 120, "number": 42,
                               "source_time_s": 1.367}
    assert record["files"] == {"annotated": paths.annotated.name, "raw": paths.raw.name}
    first = record["faces"][0]
    assert first == {"track": 3, "box": {"x": 20, "y": 30, "w": 50, "h": 50},
                     "tilt": 0.0, "held": False, "label": "happy", "confidence": 0.7,
                     "probabilities": dict(zip(EMOTIONS, [0.05, 0.01, 0.04, 0.7, 0.1, 0.05,
                                                          0.05])), "calibrated": False,
                     "valence": 0.6}                         # happy .7 minus sad .1
    assert [f["label"] for f in record["faces"]] == ["happy", "sad"]
    assert record["marker"] is None                          # none added


def test_no_faces_is_a_valid_snapshot(tmp_path, frame):
    paths = save(tmp_path, frame, [])
    assert json.loads(paths.record.read_text())["faces"] == []


def test_missing_folder_is_created(tmp_path, frame, detections):
    folder = tmp_path / "Pictures" / "EmotionDetector"
    paths = save(folder, frame, detections)
    assert paths.record.parent == folder and len(os.listdir(folder)) == 3


def test_same_moment_twice_gets_new_names(tmp_path, frame, detections):
    a = save(tmp_path, frame, detections)
    b = save(tmp_path, frame, detections)
    assert a.record != b.record and b.record.name == "emotion_20240517_140309_250_1.json"
    assert len(os.listdir(tmp_path)) == 6


def test_folder_that_is_a_file(tmp_path, frame, detections):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    with pytest.raises(SnapshotError, match="cannot create snapshot folder .*taken"):
        save(blocker / "snaps", frame, detections)
    with pytest.raises(SnapshotError, match="is not a folder"):
        save(blocker, frame, detections)
    assert sorted(os.listdir(tmp_path)) == ["taken"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_folder(tmp_path, frame, detections):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(SnapshotError, match="not writable"):
            save(folder, frame, detections)
        assert os.listdir(folder) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_disk_full_leaves_nothing(tmp_path, frame, detections, monkeypatch, fail_at):
    """The n-th file's write fails with ENOSPC: no snapshot file and no temp file
    remains (the files written before it are removed again)."""
    calls = []
    real_fsync = os.fsync

    def fsync(fd):
        calls.append(fd)
        if len(calls) == fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)   # (model.runtime.atomic's writes)
    with pytest.raises(SnapshotError, match=f"cannot save snapshot in {tmp_path}: "
                                            "the disk is full"):
        save(tmp_path, frame, detections)
    assert len(calls) == fail_at
    assert os.listdir(tmp_path) == []


def test_write_refused_midway_leaves_nothing(tmp_path, frame, detections, monkeypatch):
    """The rename of the JSON file fails (permission): both pictures are removed."""
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith(".json"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(SnapshotError, match="permission denied"):
        save(tmp_path, frame, detections)
    assert os.listdir(tmp_path) == []
