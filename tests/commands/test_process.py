"""`python main.py process`: every output written, CSV equal to the pipeline's
detections, bad inputs one clear line, partial results kept on failure and Ctrl+C."""

import io
import json
import logging
import signal
import subprocess
import sys
import time
from typing import cast

import cv2
import numpy as np
import pytest

from app.cli import main
from app.commands.process import process_source, progress_bar
from app.core.pipeline import EmotionPipeline
from app.core.track import iou
from app.io import synthetic
from app.io.results import CSV_COLUMNS
from app.io.sources import FrameSource, open_source
from model import EMOTIONS
from model.runtime.classifier import ACCURATE_MODEL, DEFAULT_MODEL, EmotionClassifier
from tests.conftest import REPO, read_csv, video_frames, video_with_sound


def no_temp_files(folder):
    return not [p for p in folder.rglob(".*")]


def test_video_writes_every_output_and_csv_matches(clip_truths, tmp_path, make_pipeline):
    video, truths = clip_truths
    out = tmp_path / "out"
    assert main(["process", str(video), "-o", str(out), "--no-progress"]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"detections.csv", "summary.json", "timeline.png", "report.html",
                     "face clip_annotated.mp4"}
    assert no_temp_files(out)
    assert video_frames(out / "face clip_annotated.mp4") == 45
    assert json.loads((out / "summary.json").read_text())["video_sound"] is False  # none
    assert cv2.imread(str(out / "timeline.png")).shape[2] == 3

    rows = read_csv(out / "detections.csv")
    assert list(rows[0]) == CSV_COLUMNS
    # The same frames through a fresh pipeline give the same rows.
    pipe = make_pipeline()
    expected = []
    with open_source(video) as src:
        for i, frame in enumerate(src):
            for d in pipe.process(frame, timestamp=i / 30.0):
                expected.append((i, d.track_id, d.box, d.label, round(d.confidence, 4)))
    got = [(int(r["frame"]), int(r["track"]), tuple(int(r[k]) for k in "xywh"),
            r["label"], float(r["confidence"])) for r in rows]
    assert got == expected
    assert len(got) >= 44                                   # the face, in ~every frame
    for r in rows:
        x, y, w, h = (int(r[k]) for k in "xywh")
        assert iou((x, y, w, h), truths[int(r["frame"])].box) > 0.5
        assert float(r["time"]) == pytest.approx(int(r["frame"]) / 30.0, abs=1e-3)
        assert sum(float(r[e]) for e in EMOTIONS) == pytest.approx(1.0, abs=1e-3)
        # the label is the top of the probabilities of its row, its confidence that one
        assert float(r[r["label"]]) == max(float(r[e]) for e in EMOTIONS)
        assert float(r["confidence"]) == float(r[r["label"]])

    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["frames"] == 45
    assert summary["faces"] == len(rows) and summary["tracks"] == 1
    assert sum(summary["seconds_per_emotion"].values()) == pytest.approx(len(rows) / 30.0,
                                                                         abs=0.01)
    assert summary["processing"]["fps"] > 0


def test_folder_of_images_with_a_bad_one(tmp_path):
    src = tmp_path / "fotos dé"
    src.mkdir()
    face = synthetic.drawn_face(150)
    for i, suffix in enumerate([".jpg", ".png"]):
        frame = synthetic.paste_face(synthetic.background(), face, (200 + 150 * i, 240), 150)
        cv2.imencode(suffix, frame)[1].tofile(str(src / f"img{i}{suffix}"))
    (src / "img2.png").write_bytes(b"broken")
    out = tmp_path / "résultats"
    assert main(["process", str(src), "-o", str(out), "--no-progress"]) == 0
    assert sorted(p.name for p in (out / "annotated").iterdir()) == ["img0.jpg", "img1.png"]
    rows = read_csv(out / "detections.csv")
    assert [(r["frame"], r["image"], r["time"]) for r in rows] == \
        [("0", "img0.jpg", ""), ("1", "img1.png", "")]
    assert all(r["track"] == "1" for r in rows)             # each photo on its own
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 2 and summary["faces"] == 2
    assert summary["skipped"][0]["file"].endswith("img2.png")
    assert "seconds_per_emotion" not in summary


def test_single_image_in_a_non_ascii_path(tmp_path):
    folder = tmp_path / "mes images ü"
    folder.mkdir()
    image = folder / "visage été.png"
    frame = synthetic.paste_face(synthetic.background(), synthetic.drawn_face(150),
                                 (320, 240), 150)
    cv2.imencode(".png", frame)[1].tofile(str(image))
    out = folder / "sortie"
    assert main(["process", str(image), "-o", str(out), "--no-progress"]) == 0
    annotated = cv2.imdecode(np.fromfile(out / "annotated" / "visage été.png", np.uint8),
                             cv2.IMREAD_COLOR)
    assert annotated is not None
    assert annotated.shape == frame.shape and not np.array_equal(annotated, frame)
    assert len(read_csv(out / "detections.csv")) == 1


def _file(name, content):
    def make(folder):
        path = folder / name
        path.write_bytes(content)
        return path
    return make


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.mp4", "missing.mp4: no such file"),
    (_file("zero.avi", b""), "zero.avi: the file is empty"),
    (_file("notes.mp4", b"not a video"), "notes.mp4: not a video or image"),
    (_file("bad.png", b"\x89PNG junk"), "bad.png: not an image"),
    (lambda d: "3", "3: process takes a video, an image or a folder"),
])
def test_bad_input_one_line_and_exit_code(tmp_path, caplog, make, message):
    target = make(tmp_path)
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR):
        code = main(["process", str(target), "-o", str(out), "--no-progress"])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0]
    assert not out.exists()


def test_truncated_video_keeps_what_was_processed(clip, tmp_path, caplog):
    data = clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    with caplog.at_level(logging.ERROR):
        code = main(["process", str(cut), "-o", str(out), "--no-progress"])
    assert code == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "cut.avi: the video breaks off after" in errors[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "breaks off" in summary["error"]
    n = summary["frames"]
    assert 10 < n < 45
    assert video_frames(out / "cut_annotated.mp4") == n
    assert {int(r["frame"]) for r in read_csv(out / "detections.csv")} <= set(range(n))
    assert no_temp_files(out)


class InterruptAfter:
    """A source that raises KeyboardInterrupt (as Ctrl+C does) after n frames."""

    def __init__(self, source, n):
        self.source, self.n = source, n
        self.name, self.fps, self.frame_count = source.name, source.fps, source.frame_count

    def read(self):
        if self.source.frames_read >= self.n:
            raise KeyboardInterrupt
        return self.source.read()


def test_interrupt_leaves_complete_outputs(clip, tmp_path, make_pipeline):
    out = tmp_path / "out"
    with open_source(clip) as src:
        # (a stand-in with a source's attributes, not a FrameSource subclass)
        interrupting = cast(FrameSource, InterruptAfter(src, 12))
        result = process_source(interrupting, make_pipeline(), out)
    assert result["stopped"] == "interrupted"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["frames"] == 12
    assert len(read_csv(out / "detections.csv")) == summary["faces"] >= 11
    assert cv2.imread(str(out / "timeline.png")) is not None
    assert no_temp_files(out)


def _as_from_a_terminal():
    """The command's Ctrl+C as a terminal leaves it: handled by default, not blocked.
    The test worker's own state (inherited across exec) must not decide it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_ctrl_c_on_the_command(tmp_path):
    """A real SIGINT: exit code 130, every output complete and consistent."""
    video = tmp_path / "long.avi"
    # long enough that the run cannot end (and finalise, with Ctrl+C held off) before
    # the signal comes, even on a fast CPU with the other test worker busy
    frames = 5400
    spec = synthetic.ClipSpec(frames=frames, width=320, height=240, face_size=90, noise=0)
    synthetic.write_clip(video, [synthetic.drawn_face(90)], spec)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "main.py", "process", str(video), "-o", str(out),
                             "--no-progress"], cwd=REPO, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_terminal)

    def rows_bytes():       # the temp CSV grows (in 8 KB steps) once frames flow; the
        # video's encoder holds back its first 256 KB, a third of this clip
        return sum(p.stat().st_size for p in out.glob(".detections.*"))

    deadline = time.monotonic() + 60
    while rows_bytes() < 16_000 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted after" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 0 < summary["frames"] < frames
    assert video_frames(out / "long_annotated.mp4") == summary["frames"]
    assert len(read_csv(out / "detections.csv")) == summary["faces"]
    assert no_temp_files(out)


def test_the_progress_bar_counts_every_frame(clip, tmp_path, make_pipeline):
    video = clip
    stream = io.StringIO()
    with open_source(video) as src:
        process_source(src, make_pipeline(), tmp_path / "out",
                       progress=progress_bar(src.frame_count, stream=stream))
    text = stream.getvalue()
    assert "45/45" in text and "frame" in text
    assert "0/45" in text  # drawn from the start, not only at the end


def test_process_options_reach_the_pipeline(clip, tmp_path, monkeypatch):
    import app.core.pipeline

    built = []

    class Spy(EmotionPipeline):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(app.core.pipeline, "EmotionPipeline", Spy)
    video = clip
    assert main(["process", str(video), "-o", str(tmp_path / "a"), "--no-progress",
                 "--no-smoothing", "--sensitivity", "0.8", "--min-face", "60"]) == 0
    cfg = built[-1].config
    assert (cfg.smoothing, cfg.sensitivity, cfg.min_face) == (False, 0.8, 60)
    # (process loads the model file: an EmotionClassifier)
    loaded = cast(EmotionClassifier, built[-1].classifier)
    assert loaded.five_crops is False and built[-1].in_turn is True
    assert built[-1].detector.min_face == 60 and built[-1].smoothing is False
    # and they act: no face as large as 400 pixels is in the clip
    assert main(["process", str(video), "-o", str(tmp_path / "b"), "--no-progress",
                 "--min-face", "400"]) == 0
    assert read_csv(tmp_path / "b" / "detections.csv") == []
    assert len(read_csv(tmp_path / "a" / "detections.csv")) > 0
    assert main(["process", str(video), "-o", str(tmp_path / "c"), "--no-progress",
                 "--accurate"]) == 0  # the large network on five crops, every view a frame
    clf = cast(EmotionClassifier, built[-1].classifier)
    assert (clf.path, clf.networks, clf.five_crops) == (ACCURATE_MODEL, 1, True)
    assert built[-1].in_turn is False
    assert main(["process", str(video), "-o", str(tmp_path / "d"), "--no-progress",
                 "--accurate", "--model", str(DEFAULT_MODEL)]) == 0  # a model's crops
    clf = cast(EmotionClassifier, built[-1].classifier)
    assert (clf.path, clf.networks, clf.five_crops) == (DEFAULT_MODEL, 1, True)


def test_crops_classifies_each_whole_picture_and_a_hint_says_so(tmp_path, caplog):
    from model.runtime.classifier import EmotionClassifier
    from model.runtime.preprocess import frame_tight_crop

    folder = tmp_path / "crops"
    folder.mkdir()
    rng = np.random.default_rng(0)
    pictures = {}
    for i, size in enumerate((48, 96, 150)):  # face crops: the face fills the picture
        img = np.clip(synthetic.drawn_face(size, "happy").astype(int)
                      + rng.integers(-20, 20, (size, size)), 0, 255).astype(np.uint8)
        img = img[size // 8: size - size // 8, size // 8: size - size // 8]  # cut tight
        cv2.imwrite(str(folder / f"c{i}.png"), img)
        pictures[f"c{i}.png"] = img
    caplog.set_level(logging.WARNING)
    assert main(["process", str(folder), "-o", str(tmp_path / "plain"), "--no-progress"]) == 0
    plain = json.loads((tmp_path / "plain" / "summary.json").read_text())
    assert plain["faces"] < 3 and "--crops" in plain["hint"] and "--crops" in caplog.text

    assert main(["process", str(folder), "-o", str(tmp_path / "whole"), "--no-progress",
                 "--crops"]) == 0
    rows = read_csv(tmp_path / "whole" / "detections.csv")
    assert [r["image"] for r in rows] == ["c0.png", "c1.png", "c2.png"]
    clf = EmotionClassifier.load()
    for r in rows:
        img = pictures[r["image"]]
        assert (int(r["x"]), int(r["y"]), int(r["w"]), int(r["h"])) == (0, 0, *img.shape[::-1])
        expected = clf.predict(frame_tight_crop(img))[0]
        assert [float(r[e]) for e in EMOTIONS] == pytest.approx(expected, abs=1e-4)
        assert r["label"] == EMOTIONS[int(np.argmax(expected))]
    assert "hint" not in json.loads((tmp_path / "whole" / "summary.json").read_text())


def test_chart_ticks_are_round_seconds():
    from app.io.charts import _ticks

    assert _ticks(10.0) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert _ticks(95.0) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert _ticks(1.5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4]


def test_a_folder_of_photos_gets_a_row_per_photo(tmp_path):
    from app.io.charts import photo_chart
    from model.runtime.emotions import EMOTION_COLORS

    happy = [0, 0, 0, 1.0, 0, 0, 0]
    img = photo_chart([happy, [np.nan] * 7, [0.5, 0, 0, 0, 0.5, 0, 0]],
                      ["a.png", "b.png", "c.png"], EMOTION_COLORS, "t")
    assert img.shape[0] == 40 + 3 * 22 + 30 + 10
    row = lambda i: img[40 + i * 22 + 11, 260:1180]                       # noqa: E731
    assert np.all(np.all(row(0) == EMOTION_COLORS["happy"], axis=1))    # all happy
    assert not np.any(np.all(row(1) == EMOTION_COLORS["happy"], axis=1))  # no face
    third = row(2)
    angry = np.all(third == EMOTION_COLORS["angry"], axis=1).sum()
    sad = np.all(third == EMOTION_COLORS["sad"], axis=1).sum()
    assert abs(angry - sad) <= 2 and angry + sad >= len(third) - 2      # half and half


@pytest.mark.parametrize("name, codec", [("talk.mp4", "aac"), ("talk.avi", "pcm_s16le")],
                         ids=["aac-copied", "pcm-as-aac"])
def test_the_annotated_video_is_an_mp4_with_the_sources_sound(tmp_path, name, codec):
    import av

    source = video_with_sound(tmp_path / name, codec)
    out = tmp_path / "out"
    assert main(["process", str(source), "-o", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    video = out / f"{source.stem}_annotated.mp4"
    assert summary["video_sound"] is True and video.name in summary["outputs"]
    assert video_frames(video) == summary["frames"] == 45
    with av.open(str(video)) as got:
        streams = {s.type: s for s in got.streams}
        assert streams["video"].codec_context.name == "h264"
        assert streams["audio"].codec_context.name == "aac"
        seconds = float(streams["audio"].duration * streams["audio"].time_base)
    assert abs(seconds - 1.5) < 0.1                     # all of the sound, in step
    assert video.stat().st_size < 3 * source.stat().st_size + 200_000


def test_the_timeline_keeps_a_bounded_summary_of_a_long_video():
    from app.io.results import TIMELINE_POINTS, _Stats
    from app.nouns import Detection

    stats = _Stats(fps=30.0)
    rng = np.random.default_rng(0)
    means = []
    for i in range(20000):                               # 11 minutes of video
        if i % 7 == 3:                                   # some frames without a face
            stats.add(i, [])
            means.append(np.full(7, np.nan))
            continue
        p = rng.dirichlet(np.ones(7))
        stats.add(i, [Detection((0, 0, 10, 10), EMOTIONS[int(np.argmax(p))], 1.0,
                                tuple(p), 1)])
        means.append(p)
    assert len(stats.counts) <= 2 * TIMELINE_POINTS and stats.bucket > 1
    table = np.array(means)
    b = stats.bucket
    for k in (0, 5, len(stats.counts) - 1):             # each bucket: the mean of its frames
        chunk = table[k * b:(k + 1) * b]
        expected = np.nanmean(chunk, axis=0)
        np.testing.assert_allclose(stats.sums[k] / stats.counts[k], expected, rtol=1e-5)
    assert stats.timeline_image().shape == (520, 1200, 3)


def test_no_video_writes_only_the_data(clip, tmp_path):
    video = clip
    full, fast = tmp_path / "full", tmp_path / "fast"
    assert main(["process", str(video), "-o", str(full), "--no-progress"]) == 0
    assert main(["process", str(video), "-o", str(fast), "--no-progress", "--no-video"]) == 0
    assert sorted(p.name for p in fast.iterdir()) == ["detections.csv", "report.html",
                                                      "summary.json", "timeline.png"]
    assert read_csv(fast / "detections.csv") == read_csv(full / "detections.csv")
    summary = json.loads((fast / "summary.json").read_text())
    assert summary["frames"] == 45 and not any(o.endswith(".mp4") for o in summary["outputs"])
