"""report.html: written by `process` (video, photos, a batch's index) and made again
from the files by `report FOLDER`; self-contained, escaped, and rendered by a real
headless Chromium without an error or a request outside the file."""

import csv
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from app.cli import main
from app.io import synthetic
from app.report.data import Track, binned, read_output
from app.report.frames import find_video, read_frames
from app.report.limits import card_accuracy
from model.runtime.emotions import EMOTIONS

CHROMIUM = Path("/usr/bin/chromium")     # Debian's package (.ci/run installs it)
# headless, offline, quiet: no GPU, no sandbox (root in CI), nothing fetched in the
# background (updates, sync, safe browsing lists)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = '<script>alert("x")</script> & "quoted"'


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 2.5 s clip whose drawn face turns from neutral to happy at 1.2 s."""
    path = tmp_path_factory.mktemp("in") / "a <clip>.avi"
    faces = [synthetic.drawn_face(160, "neutral"), synthetic.drawn_face(160, "happy")]
    synthetic.write_clip(path, faces, synthetic.ClipSpec(frames=75, change_at=1.2))
    return path


@pytest.fixture(scope="module")
def processed(clip, tmp_path_factory):
    """`process` on the clip; then markers.csv added by hand and the report made again."""
    out = tmp_path_factory.mktemp("out") / "out"
    assert main(["process", str(clip), "-o", str(out), "--no-progress"]) == 0
    first = (out / "report.html").read_text(encoding="utf-8")
    (out / "markers.csv").write_text(f"time,frame,number,text\n0.500,15,1,\n1.800,54,0,"
                                     f'"{HOSTILE.replace(chr(34), chr(34) * 2)}"\n',
                                     encoding="utf-8")
    assert main(["report", str(out)]) == 0
    return out, first


def images_of(page: str) -> list[str]:
    return re.findall(r'<img[^>]* src="([^"]*)"', page)


def test_process_writes_a_self_contained_report(processed):
    out, page = processed
    assert page.startswith("<!DOCTYPE html>")
    sources = images_of(page)
    charts = [s for s in sources if s.startswith("data:image/png;base64,")]
    moments = [s for s in sources if s.startswith("data:image/jpeg;base64,")]
    assert len(charts) == 1 and len(moments) >= 1 and len(sources) == len(charts) + len(moments)
    # nothing to fetch: no script, no stylesheet or font link, no URL but the video's
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(src|href)=\"(https?:|//)", page) and "url(" not in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(h.startswith("a &lt;clip&gt;_annotated.mp4#t=") for h in hrefs)
    for emotion in EMOTIONS:
        assert f">{emotion}<" in page
    assert "a &lt;clip&gt;.avi" in page and "<clip>" not in page      # escaped
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["path"].endswith("emotion_cnn.tflite")
    assert summary["settings"] == {"smoothing": True, "sensitivity": 0.5, "min_face": 48}
    assert "emotion_cnn.tflite" in page and "sensitivity 0.5" in page and summary["started"] in \
        page.replace(" ", "T")


def test_the_moments_are_the_faces_strongest_frames(processed):
    out, _ = processed
    output = read_output(out)
    (track,) = output.tracks()
    moments = track.moments()
    labels = np.array(track.labels)
    assert {m.emotion for m in moments} == set(track.labels)
    for m in moments:
        k = EMOTIONS.index(m.emotion)
        assert m.probability == pytest.approx(track.probs[labels == m.emotion, k].max())
        assert track.probs[list(track.frames).index(m.frame), k] == pytest.approx(m.probability)
    page = (out / "report.html").read_text(encoding="utf-8")
    for m in moments:
        assert f"{m.emotion} {100 * m.probability:.0f}% at 0:0{m.time:.1f}" in page


def test_a_moments_picture_is_that_frame_of_the_video(processed):
    out, _ = processed
    summary = json.loads((out / "summary.json").read_text())
    video, why = find_video(out, summary)
    assert video.annotated and why == ""
    cap = cv2.VideoCapture(str(video.path))
    decoded = []
    while (frame := cap.read()[1]) is not None:
        decoded.append(frame)
    cap.release()

    class At:
        def __init__(self, frame):
            self.frame, self.time = frame, frame / 30.0

    wanted = [At(60), At(3), At(31), At(32), At(74)]          # back, forward, next
    got = read_frames(video, wanted, 30.0)
    assert len(got) == 5
    for m in wanted:
        assert np.array_equal(got[(m.frame, m.time)], decoded[m.frame])


def test_markers_edited_by_hand_are_drawn_named_and_escaped(processed):
    out, first = processed
    page = (out / "report.html").read_text(encoding="utf-8")
    assert HOSTILE not in page and "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quoted&quot;" in page
    assert "0:00.5" in page and "0:01.8" in page
    # the chart was drawn again, with the two marker lines on it
    assert images_of(page)[0] != images_of(first)[0]
    assert "No markers" in first and "No markers" not in page


def render(report: Path) -> dict:
    """The report in headless Chromium: what it logged and requested (every request
    but the page itself is refused and counted), its text, its pictures' sizes, how
    far it overflows a phone's width, and the page printed to an A4 PDF."""
    from playwright.sync_api import sync_playwright

    url = report.resolve().as_uri()
    seen: dict[str, Any] = {"problems": [], "requests": []}

    def refuse(route):
        if route.request.url == url:
            route.continue_()
        else:
            seen["requests"].append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.on("console", lambda m: seen["problems"].append(m.text)
                    if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: seen["problems"].append(str(e)))
            page.on("requestfailed", lambda r: seen["requests"].append(r.url)
                    if r.url not in seen["requests"] else None)
            page.route("**/*", refuse)
            page.goto(url, wait_until="load")
            seen["text"] = page.inner_text("body")
            seen["images"] = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
            page.set_viewport_size({"width": 380, "height": 700})     # a phone
            seen["overflow"] = page.evaluate("document.documentElement.scrollWidth - innerWidth")
            seen["pdf"] = page.pdf(format="A4")                       # printing
        finally:
            browser.close()
    return seen


def test_report_opens_in_chromium_without_errors_or_requests(processed):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package "
                    "(.ci/run does) to render the report in a real browser")
    out, _ = processed
    seen = render(out / "report.html")
    assert seen["problems"] == [] and seen["requests"] == []
    for emotion in EMOTIONS:
        assert emotion in seen["text"]
    accuracy = card_accuracy("emotion_cnn.tflite")          # the card's PrivateTest figure
    assert "Moments worth watching again" in seen["text"] and f" {accuracy} " in seen["text"]
    sizes = seen["images"]
    assert len(sizes) >= 2 and all(done and w > 0 and h > 0 for done, w, h in sizes)
    assert seen["overflow"] <= 0
    assert seen["pdf"].startswith(b"%PDF") and len(seen["pdf"]) > 10_000


def test_no_video_takes_pictures_from_the_source_or_says_there_are_none(clip, tmp_path):
    source = tmp_path / "moved.avi"
    shutil.copy(clip, source)
    out = tmp_path / "fast"
    assert main(["process", str(source), "-o", str(out), "--no-progress", "--no-video"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Pictures from the source video" in page
    assert any(s.startswith("data:image/jpeg") for s in images_of(page))
    source.unlink()
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not any(s.startswith("data:image/jpeg") for s in images_of(page))
    assert "No pictures: no annotated video was written (--no-video) and the source " \
           "video" in page


def test_no_report_leaves_it_out(clip, tmp_path):
    out = tmp_path / "out"
    assert main(["process", str(clip), "-o", str(out), "--no-progress", "--no-video",
                 "--no-report"]) == 0
    assert not (out / "report.html").exists() and (out / "summary.json").exists()


def test_a_folder_written_before_reports_gets_one(processed, tmp_path):
    out, _ = processed
    old = tmp_path / "old"
    shutil.copytree(out, old)
    (old / "report.html").unlink()
    summary = json.loads((old / "summary.json").read_text())
    for key in ("model", "settings", "started"):
        del summary[key]
    (old / "summary.json").write_text(json.dumps(summary))
    assert main(["report", str(old)]) == 0
    page = (old / "report.html").read_text(encoding="utf-8")
    assert page.count("not recorded (an output written before reports)") == 2
    assert "(when summary.json was written)" in page


def test_without_matplotlib_the_report_says_it_has_no_plots(processed, tmp_path,
                                                            monkeypatch):
    import app.report.charts

    out, _ = processed
    bare = tmp_path / "bare"
    shutil.copytree(out, bare)
    monkeypatch.setattr(app.report.charts, "plotting", lambda: False)
    assert main(["report", str(bare)]) == 0
    page = (bare / "report.html").read_text(encoding="utf-8")
    assert "No plots: they need matplotlib" in page
    assert [s[:15] for s in images_of(page)] == [s[:15] for s in images_of(
        (out / "report.html").read_text(encoding="utf-8"))][1:]          # moments only


def test_the_report_says_whose_readings_had_a_neutral_baseline_taken_out(clip, processed,
                                                                         tmp_path):
    # process --baseline: every face's (forced: what a drawn face reads as depends on the
    # network, and the check that refuses a face not at rest has tests of its own)
    neutral = tmp_path / "my neutral.png"
    cv2.imwrite(str(neutral), synthetic.paste_face(synthetic.background(), synthetic.drawn_face(
        160, "neutral"), (320, 240), 160))
    out = tmp_path / "based"
    assert main(["process", str(clip), "-o", str(out), "--no-progress", "--no-video",
                 "--baseline", str(neutral), "--force-baseline"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert (f"yes: measured from {neutral} (1 face(s) read) and taken out of every "
            "face&#x27;s readings") in page
    # calibrated in the window: the CSV's calibrated column says for which face, from when
    window, _ = processed
    copy = tmp_path / "calibrated"
    shutil.copytree(window, copy)
    with open(copy / "detections.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["calibrated"] = "1" if float(r["time"]) >= 1.0 else "0"
    with open(copy / "detections.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["report", str(copy)]) == 0
    page = (copy / "report.html").read_text(encoding="utf-8")
    assert "yes, calibrated in the window, for face 1 (from 0:01.0)" in page
    assert "none: every face read as the model reads it" in \
        (window / "report.html").read_text(encoding="utf-8")


def test_not_an_output_folder_is_one_line(tmp_path, caplog):
    (tmp_path / "notes.txt").write_text("hello")
    with caplog.at_level(logging.ERROR):
        assert main(["report", str(tmp_path)]) == 2
        assert main(["report", str(tmp_path / "missing")]) == 2
        assert main(["report", str(tmp_path / "notes.txt")]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"{tmp_path} is not an output folder of process, a recording or a "
                      "batch (it needs summary.json and detections.csv)",
                      f"{tmp_path / 'missing'}: no such folder",
                      f"{tmp_path / 'notes.txt'} is not a folder"]
    assert not (tmp_path / "report.html").exists()


def test_photos_get_a_table_of_their_faces(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i, expression in enumerate(("happy", "neutral")):
        frame = synthetic.paste_face(synthetic.background(seed=i),
                                     synthetic.drawn_face(150, expression), (320, 240), 150)
        cv2.imwrite(str(src / f"p{i} <{expression}>.png"), frame)
    cv2.imwrite(str(src / "empty.png"), synthetic.background(seed=5))
    out = tmp_path / "out"
    assert main(["process", str(src), "-o", str(out), "--no-progress"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    with open(out / "detections.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["image"] for r in rows} == {"p0 <happy>.png", "p1 <neutral>.png"}
    for r in rows:
        assert esc_name(r["image"]) in page
        assert f"{r['label']} {100 * float(r['confidence']):.0f}%" in page
    assert len(images_of(page)) == 2 and all(s.startswith("data:image/jpeg")
                                             for s in images_of(page))
    assert "1 picture(s) with no face found" in page and "Moments" not in page
    assert "2 faces in 2 of 3 pictures" in page


def esc_name(name: str) -> str:
    return name.replace("<", "&lt;").replace(">", "&gt;")


def test_a_batch_gets_an_index_linking_each_report(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i, expression in enumerate(("happy", "sad")):
        synthetic.write_clip(folder / f"clip{i}.avi", [synthetic.drawn_face(160, expression)],
                             synthetic.ClipSpec(frames=20, seed=i))
    out = tmp_path / "out"
    assert main(["process", str(folder), "-o", str(out), "--no-progress", "--jobs", "1",
                 "--no-video"]) == 0
    index = (out / "report.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', index)
    assert links == [("clip0/report.html", "clip0.avi"), ("clip1/report.html", "clip1.avi")]
    assert all((out / href).is_file() for href, _ in links)
    assert index.count("0.7 s") == 2 and index.count(">complete<") == 2
    # made again from the files: every input's report and the index
    for path in out.rglob("report.html"):
        path.unlink()
    assert main(["report", str(out)]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("report.html")) == \
        ["clip0/report.html", "clip1/report.html", "report.html"]


def test_the_accuracy_is_read_from_the_model_card(tmp_path):
    card = tmp_path / "card.md"
    card.write_text("# card\n\n| model | PublicTest | PrivateTest |\n| --- | --- | --- |\n"
                    "| **`net.tflite`, shipped** | 60.00% | **61.25%** |\n\nafter\n")
    assert card_accuracy("net.tflite", card) == "61.25%"
    assert card_accuracy("other.tflite", card) is None
    assert card_accuracy("net.tflite", tmp_path / "missing.md") is None
    assert re.fullmatch(r"\d\d\.\d\d%", card_accuracy("emotion_cnn.tflite") or "")


def test_the_timeline_breaks_where_a_face_was_gone():
    times = np.array([0.0, 0.033, 0.067, 1.0, 1.033])
    values = np.arange(5, dtype=float)[:, None]
    x, means = binned(times, values, 0.0, 1.1, 33)
    assert means[0, 0] == 0 and means[1, 0] == 1 and means[2, 0] == 2     # a slice a frame
    assert np.isnan(means[3:30, 0]).all() and means[30, 0] == 3 and means[31, 0] == 4
    assert x[30] == pytest.approx(1.0)


def test_moments_skip_held_frames_when_the_face_was_seen():
    probs = np.zeros((4, 7))
    happy = EMOTIONS.index("happy")
    probs[:, happy] = [0.6, 0.9, 0.7, 0.2]
    probs[3, EMOTIONS.index("sad")] = 0.8
    track = Track(track=1, frames=np.arange(4), times=np.arange(4) / 10.0, probs=probs,
                  labels=["happy", "happy", "happy", "sad"], valence=np.zeros(4),
                  boxes=np.zeros((4, 4), np.int64), held=np.array([0, 1, 0, 0], bool),
                  calibrated=np.zeros(4, bool))
    assert [(m.emotion, m.frame) for m in track.moments()] == [("happy", 2), ("sad", 3)]
    assert track.shares()["happy"] == 0.75 and track.calibrated_from() is None


@pytest.mark.parametrize("end, step, label", [(60.0, None, "seconds"), (3600.0, 600, "10:00"),
                                              (300.0, 30, "0:30")])
def test_time_axes_are_in_seconds_or_round_minutes(end, step, label):
    from matplotlib.figure import Figure

    from app.report.charts import time_axis

    axis = Figure().subplots()
    time_axis(axis, 0.0, end)
    if step is None:
        assert axis.get_xlabel() == "time in the source (seconds)"
        return
    assert axis.get_xlabel() == "time in the source (minutes:seconds)"
    ticks = [t for t in axis.get_xticks() if 0 <= t <= end]
    assert ticks[1] - ticks[0] == step and len(ticks) <= 11
    assert axis.xaxis.get_major_formatter()(ticks[1], 1) == label


def test_a_bad_number_in_the_csv_is_one_line_that_names_it(tmp_path, caplog):
    out = tmp_path / "out"
    (out).mkdir()
    (out / "summary.json").write_text('{"frames": 1, "faces": 1, "tracks": 1, "fps": 30}')
    header = "frame,time,track,x,y,w,h,label,confidence," + ",".join(EMOTIONS)
    (out / "detections.csv").write_text(header + "\n0,zz,1,1,1,9,9,happy,0.9" +
                                        ",0.1" * len(EMOTIONS) + "\n")
    with caplog.at_level(logging.ERROR):
        assert main(["report", str(out)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"{out}: detections.csv line 2: its frame, track or time is not a "
                      "number"]
