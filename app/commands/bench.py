"""`bench`: how fast and how steady the pipeline is, as JSON on stdout.

Per-stage median and p90 milliseconds (decode, detect, track: matching boxes to
known faces, crop, classify, smooth: probabilities over time, draw) and the end-to-end
rate on a video - by default a generated
640x480 clip with one face that moves and changes expression half-way; start-up
cost (importing the inference path vs TensorFlow, each in a fresh interpreter);
per-face classification time; the same pipeline with 1 and with 5 faces in view (per
frame and per face); the network's multiply-adds (counted from the file) and one pass's
time on one thread; label flips per second per track with and without
smoothing, and how long a real change of expression takes to show; the share of
frames in which the face was found. `--soak N` runs N more frames (looping the
clip) and reports resident memory before and after.

`hard_clip` measures detection on a harder generated clip (`synthetic.hard_clip_frames`:
head tilts up to 30 degrees, a passing hand, a turn, dimmed light, camera noise, a
second face coming and going): frames with the face found, held (kept through a
short miss) or missed per challenge, false boxes, identity switches and the speed,
with the default settings and with hold and tilt search switched off.
"""

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.commands.fer_faces import default_faces
from app.commands.options import BenchOptions, ProcessOptions
from app.core.draw import draw_detections
from app.core.playback import FrameStep, Playback, PlaybackControl
from app.core.runstats import rss_mb
from app.core.track import iou
from app.frozen import is_frozen
from app.io import synthetic
from app.io.frame_source import SourceError, frame_rate
from app.io.sources import open_source
from model.runtime.emotions import EMOTIONS
from model.runtime.errors import UserError

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
STAGES = ("decode", "detect", "track", "crop", "classify", "smooth", "draw")
STEADY_SKIP_S = 0.5     # after an expression change, frames this close are not "steady"
GROUP_SIZES = (1, 5)    # faces in view for the per-frame / per-face speed
GROUP_FRAMES = 150
GROUP_EXPRESSIONS = ("neutral", "happy", "surprise", "sad", "angry")


def run_bench(options: BenchOptions = BenchOptions()) -> int:
    """`bench`: print the JSON report; `options.video` None = the generated clip;
    `options.hard_seconds` 0 leaves out the hard clip."""
    from app.core.pipeline import EmotionPipeline
    from model.runtime.classifier import EmotionClassifier

    count = options.frames
    if count < 1:
        raise UserError(f"--frames must be at least 1, got {count}")
    result = {"machine": _machine()}
    t0 = time.perf_counter()
    # threads None: chosen as the pipeline would (by the network's speed on this CPU)
    classifier = EmotionClassifier.load(options.model, threads=None)
    pipe = EmotionPipeline(classifier=classifier)
    result["startup"] = {"pipeline_construct_ms": _r((time.perf_counter() - t0) * 1000)}
    # chosen by the network's speed on this CPU (model.runtime.classifier.auto_threads)
    result["machine"]["classifier_threads"] = classifier.threads
    with pipe, tempfile.TemporaryDirectory(prefix="emotion-bench-") as tmp:
        if options.video:
            video, truths, clip = Path(options.video), None, {"video": str(options.video)}
        else:
            video, truths, clip = _make_clip(Path(tmp) / "bench.avi", count)
        result["clip"] = clip
        frames = _run_clip(pipe, video, count)
        if options.soak_frames:
            result["soak"] = soak(pipe, video, options.soak_frames)
        if options.batch_clips:
            result["batch"] = batch_speed(Path(tmp) / "batch", options.batch_clips,
                                          model=options.model)
        if options.hard_seconds > 0:
            result["hard_clip"] = hard_clip(Path(tmp) / "hard.avi", pipe.classifier,
                                            options.hard_seconds)
        result["groups"] = group_speed(Path(tmp) / "groups", pipe.classifier,
                                       min(count, GROUP_FRAMES))
    result.update(_report(frames, truths, clip))
    result["classify_one_face_ms"] = per_face_ms(pipe.classifier)
    result["network"] = network_cost(pipe.classifier.path)
    result["startup"].update(import_times())
    print(json.dumps(result, indent=2))
    return 0


def _report(frames, truths, clip) -> dict:
    """The stages, the end-to-end speed, the detection rate and the steadiness."""
    e2e = [f["end_to_end"] for f in frames]
    return {"stages_ms": _stage_stats(frames),
            "end_to_end": {"frames": len(frames), "median_ms": _r(np.median(e2e)),
                           "p90_ms": _r(np.percentile(e2e, 90)),
                           "fps": _r(len(e2e) / (sum(e2e) / 1000.0))},
            "detection": detection_rate(frames, truths),
            "steadiness": steadiness(frames, truths, frame_rate(clip.get("fps")))}


def _machine() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": _cpu_name(), "cpus": os.cpu_count(),
            "load_average_1min": _r(load[0]) if load else None,
            "python": sys.version.split()[0]}


def _cpu_name() -> str:
    """The CPU's model name: the figures depend on it (fast int8 arithmetic or not)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _make_clip(path: Path, frames: int):
    faces, origin = default_faces(("neutral", "happy"))
    spec = synthetic.ClipSpec(frames=frames)
    spec = dataclasses.replace(spec, change_at=frames / spec.fps / 2)
    truths = synthetic.write_clip(path, faces, spec)
    clip = {"generated": f"{spec.width}x{spec.height}, {frames} frames at {spec.fps:g} fps, "
                         f"one face moving, expression changes at {spec.change_at:.2f} s",
            "faces": origin, "fps": spec.fps}
    return path, truths, clip


def _run_clip(pipe, video: Path, limit: int) -> list[dict]:
    """Decode, process and draw up to `limit` frames (app.core.playback, flat out),
    timing each stage."""
    clock = time.perf_counter
    frames = []
    step = FrameStep(pipe)
    with open_source(video) as source:
        playing = iter(Playback(source=source))
        for index in range(limit):
            t0 = clock()
            frame = next(playing, None)
            t1 = clock()
            if frame is None:
                break
            detections = step.detect(frame.image, frame.scene, timestamp=frame.time)
            t2 = clock()
            draw_detections(frame.image, detections)
            t3 = clock()
            tm = pipe.timings
            frames.append({"index": index, "time": frame.time, "detections": detections,
                           "decode": (t1 - t0) * 1000, "detect": tm["gray"] + tm["detect"],
                           "track": tm["track"], "crop": tm["crop"], "classify": tm["classify"],
                           "smooth": tm["smooth"], "draw": (t3 - t2) * 1000,
                           "full_scan": tm["full_scan"], "end_to_end": (t3 - t0) * 1000})
    if not frames:
        raise SourceError(f"{video}: no frames")
    return frames


def _stage_stats(frames) -> dict:
    out = {}
    for stage in STAGES:
        v = [f[stage] for f in frames]
        out[stage] = {"median": _r(np.median(v)), "p90": _r(np.percentile(v, 90))}
    scans = [f["detect"] for f in frames if f["full_scan"]]
    out["detect"]["full_scans"] = len(scans)
    out["detect"]["full_scan_median"] = _r(np.median(scans)) if scans else None
    rest = [f["detect"] for f in frames if not f["full_scan"]]
    out["detect"]["near_face_median"] = _r(np.median(rest)) if rest else None
    return out


def group_speed(folder: Path, classifier, frames: int = GROUP_FRAMES) -> dict:
    """The pipeline on generated clips with 1 and with 5 faces in view (a group in
    front of one webcam): per frame, and classifying per face, median ms."""
    from app.core.pipeline import EmotionPipeline

    faces, origin = default_faces(GROUP_EXPRESSIONS)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"faces": origin, "frames": frames}
    for count in GROUP_SIZES:
        path = folder / f"{count}_faces.avi"
        truths = synthetic.write_group_clip(path, faces, count,
                                            synthetic.ClipSpec(frames=frames, face_size=130))
        with EmotionPipeline(classifier=classifier) as pipe:
            run = _run_clip(pipe, path, frames)
        found = [sum(any(iou(d.box, box) > 0.5 for d in f["detections"] if not d.held)
                     for box in truths[f["index"]]) for f in run]
        e2e = [f["end_to_end"] for f in run]
        per_face = [f["classify"] / len(f["detections"]) for f in run if f["detections"]]
        out[f"{count}_faces"] = {
            "found_per_frame_mean": _r(np.mean(found)),
            "per_frame_ms": _r(np.median(e2e)), "fps": _r(1000.0 / np.median(e2e), 1),
            "classify_per_frame_ms": _r(np.median([f["classify"] for f in run])),
            "classify_per_face_ms": _r(np.median(per_face)) if per_face else None}
    return out


def network_cost(path) -> dict:
    """The network's multiply-adds a face, counted from its file, and one pass of one
    face on one thread (the network alone: the app reads each face and its mirror)."""
    from model.runtime.network_cost import multiply_adds, one_pass_ms

    out: dict[str, Any] = {"file": str(path)}
    try:
        out["multiply_adds_millions"] = _r(multiply_adds(path) / 1e6, 1)
    except UserError as exc:
        out["multiply_adds_millions"] = None
        out["note"] = str(exc)
        return out
    if Path(path).suffix == ".tflite":
        out["one_pass_one_thread_ms"] = _r(one_pass_ms(path), 3)
    else:
        out["note"] = "a list of networks: the sum of one pass through each"
    return out


def batch_speed(folder: Path, clips: int = 4, frames: int = 300, jobs: int | None = None,
                model=None) -> dict:
    """`process` on `clips` generated clips with one job, then with `jobs` (default:
    every core), then again (everything finished: skipped): seconds and the ratio."""
    import io

    from app.commands.batch import run_batch

    faces, _ = default_faces(("neutral", "happy"))
    inputs = []
    for i in range(clips):
        path = folder / "in" / f"clip{i}.avi"
        path.parent.mkdir(parents=True, exist_ok=True)
        synthetic.write_clip(path, [faces[i % len(faces)]],
                             synthetic.ClipSpec(frames=frames, seed=i))
        inputs.append(path)
    jobs = jobs or os.cpu_count() or 1
    out = {"clips": clips, "frames_each": frames, "jobs": jobs}
    for name, n, target in (("one_job_s", 1, "one"), ("jobs_s", jobs, "many"),
                            ("rerun_s", jobs, "many")):
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            run_batch(inputs, folder / target,
                      ProcessOptions(model=model, jobs=n, show_progress=False))
        out[name] = _r(time.perf_counter() - t0)
    out["jobs_over_one_job"] = _r(out["jobs_s"] / out["one_job_s"], 3)
    out["rerun_s_per_input"] = _r(out["rerun_s"] / clips, 3)
    return out


def hard_clip(path: Path, classifier, seconds: float = BenchOptions.hard_seconds) -> dict:
    """Detection on the hard clip, default settings vs hold and tilt search off."""
    faces, origin = default_faces(("neutral", "happy"))
    truths = synthetic.write_hard_clip(path, faces, seconds)
    from app.core.pipeline import EmotionPipeline

    out: dict[str, Any] = {"clip": f"640x480, {len(truths)} frames at 30 fps: "
                   + ", ".join(f"{name} {a:g}-{b:g} s" for a, b, name in synthetic.HARD_EVENTS)
                   + "; a second face 3-9 s; noise sigma 5", "faces": origin}
    settings: dict[str, dict[str, Any]] = {"default": {},
                                           "no_hold_no_tilt": {"hold": 0.0, "tilt": False}}
    for name, changes in settings.items():
        with EmotionPipeline(classifier=classifier, **changes) as pipe:
            frames = _run_clip(pipe, path, len(truths))
        out[name] = hard_clip_scores(frames, truths)
    return out


def hard_clip_scores(frames, truths) -> dict:
    """Per challenge: frames with the main face found / held / missed; false boxes
    (a box on neither face; those the hold or the tilt search made counted apart),
    identity switches of the main face, the second face's
    share of frames found while wholly in view, and the end-to-end speed."""
    events: dict[str, dict[str, int]] = {}     # per challenge: frames found, held, missed
    ids, false, false_kept, second = [], 0, 0, [0, 0]
    for f in frames:
        truth = truths[f["index"]]
        on_main = [d for d in f["detections"] if iou(d.box, truth.main) > 0.3]
        found = [d for d in on_main if not d.held]
        held = [d for d in on_main if d.held]
        e = events.setdefault(truth.event, {"frames": 0, "found": 0, "held": 0, "missed": 0})
        e["frames"] += 1
        e["found" if found else "held" if held else "missed"] += 1
        if found or held:
            ids.append((found or held)[0].track_id)
        wrong = [d for d in f["detections"] if iou(d.box, truth.main) <= 0.1
                 and (truth.second is None or iou(d.box, truth.second) <= 0.1)]
        false += len(wrong)
        false_kept += sum(1 for d in wrong if d.held or d.tilt)
        if truth.second is not None and truth.second_whole:
            second[0] += 1
            second[1] += any(iou(d.box, truth.second) > 0.3 and not d.held
                             for d in f["detections"])
    total = {k: sum(e[k] for e in events.values()) for k in ("frames", "found", "held", "missed")}
    e2e = [f["end_to_end"] for f in frames]
    return {"main_face": {**total, "found_or_held_rate": _r((total["found"] + total["held"])
                                                            / max(total["frames"], 1), 4),
                          "per_challenge": events},
            "identity_switches": sum(a != b for a, b in zip(ids, ids[1:])),
            "false_boxes": false,
            "false_boxes_held_or_tilted": false_kept,
            "second_face_found_rate": _r(second[1] / second[0], 4) if second[0] else None,
            "end_to_end_ms": {"median": _r(np.median(e2e)), "p90": _r(np.percentile(e2e, 90))}}


def detection_rate(frames, truths) -> dict:
    """Share of frames in which the face in view was found.

    With a generated clip "found" means a box overlapping the true face (IoU > 0.5)
    and false boxes are counted; on a user's video, any face in the frame counts.
    """
    if truths is None:
        hits = sum(bool(f["detections"]) for f in frames)
        return {"rate": _r(hits / len(frames), 4), "frames": len(frames),
                "note": "any face counts (no ground truth for this video)"}
    hits = held = false = 0
    for f in frames:
        truth = truths[f["index"]].box
        good = [d for d in f["detections"] if iou(d.box, truth) > 0.5]
        hits += any(not d.held for d in good)
        held += bool(good) and all(d.held for d in good)
        false += len(f["detections"]) - len(good)
    ids = {d.track_id for f in frames for d in f["detections"]}
    return {"rate": _r(hits / len(frames), 4), "held_frames": held, "frames": len(frames),
            "false_boxes": false, "track_ids": len(ids)}


def steadiness(frames, truths, fps: float) -> dict:
    """Label flips per second per track, smoothed vs raw, and the change latency."""
    changes = sorted({truths[i].time for i in range(1, len(truths))
                      if truths[i].segment != truths[i - 1].segment}) if truths else []
    out = {"flips_per_s_smoothed": _r(_flips(frames, changes, smoothed=True), 3),
           "flips_per_s_raw": _r(_flips(frames, changes, smoothed=False), 3),
           "note": f"mean over tracks; frames less than {STEADY_SKIP_S:.1f} s after a change "
                   "of expression are left out"}
    if changes and truths:
        out["change_latency_s"] = _change_latency(frames, truths, changes[0])
    return out


def _flips(frames, changes, smoothed: bool) -> float:
    """Mean over tracks of label changes per second of steady footage."""
    tracks: dict[int, list] = {}
    for f in frames:
        if any(0 <= f["time"] - c < STEADY_SKIP_S for c in changes):
            for d in f["detections"]:
                tracks.setdefault(d.track_id, []).append(None)   # break the run
            continue
        for d in f["detections"]:
            label = d.label if smoothed else EMOTIONS[int(np.argmax(d.raw_probabilities))]
            tracks.setdefault(d.track_id, []).append((f["time"], label))
    rates = []
    for seq in tracks.values():
        flips, seconds, prev = 0, 0.0, None
        for item in seq:
            if item is not None and prev is not None:
                flips += item[1] != prev[1]
                seconds += item[0] - prev[0]
            prev = item
        if seconds > 0:
            rates.append(flips / seconds)
    return float(np.mean(rates)) if rates else float("nan")


def _change_latency(frames, truths, change: float):
    """Seconds from the change until the smoothed label shows the new expression.

    The new expression's label is what the raw classifier says most often on the
    steady part after the change; if that equals the old one the model does not
    tell the two faces apart and there is nothing to measure.
    """
    def majority(lo, hi):
        labels = [EMOTIONS[int(np.argmax(d.raw_probabilities))] for f in frames
                  if lo <= f["time"] < hi for d in f["detections"]]
        return max(set(labels), key=labels.count) if labels else None

    before = majority(0.0, change)
    after = majority(change + STEADY_SKIP_S, float("inf"))
    if after is None or after == before:
        return {"seconds": None, "note": f"the model labels both expressions '{before}'; "
                                         "no change to measure"}
    for f in frames:
        if f["time"] >= change and any(d.label == after for d in f["detections"]):
            return {"seconds": _r(f["time"] - change, 3), "from": before, "to": after}
    return {"seconds": None, "from": before, "to": after, "note": "never shown"}


def per_face_ms(classifier, repeats: int = 200) -> dict:
    face = np.zeros((1, 48, 48), np.uint8)
    face[0] = synthetic.drawn_face(48)
    classifier.predict(face)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        classifier.predict(face)
        times.append((time.perf_counter() - t0) * 1000)
    return {"median": _r(np.median(times)), "p90": _r(np.percentile(times, 90)),
            "repeats": repeats, "test_time_flip": bool(classifier.flip)}


IMPORT_SNIPPETS = {
    "import_inference_path_s": "import ai_edge_litert.interpreter, model.runtime.classifier, "
                               "app.core.pipeline",
    "import_tensorflow_s": "import tensorflow",
}


def import_times() -> dict:
    """Seconds to import each in a fresh interpreter (so nothing is cached in-process);
    None in the standalone app, which has no interpreter to start on its own."""
    if is_frozen():
        return dict.fromkeys(IMPORT_SNIPPETS)
    out = {}
    for key, statement in IMPORT_SNIPPETS.items():
        code = ("import time; t = time.perf_counter(); " + statement +
                "; print(time.perf_counter() - t)")
        try:
            res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                                 text=True, timeout=300,
                                 env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
            out[key] = _r(float(res.stdout.strip().splitlines()[-1]), 3) \
                if res.returncode == 0 else None
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            out[key] = None
    return out


def soak(pipe, video: Path, frames: int) -> dict:
    """Process `frames` frames, looping the clip (its time runs on, and its faces are
    followed across each loop back); resident memory before and after."""
    pipe.reset()
    start = rss_mb()
    done, t, peak = 0, 0.0, start
    t0 = time.perf_counter()
    step = FrameStep(pipe)
    playback = Playback(video, control=PlaybackControl(loop=True))
    with contextlib.closing(playback.frames()) as playing:
        for frame in itertools.islice(playing, max(0, frames)):
            # one scene: the faces are not looked for afresh at a loop back
            draw_detections(frame.image, step.detect(frame.image, "soak", timestamp=t))
            t += 1.0 / frame_rate(playback.open().fps)   # (open while it plays)
            done += 1
            if done % 1000 == 0:
                peak = max(peak, rss_mb())
    end = rss_mb()
    return {"frames": done, "seconds": _r(time.perf_counter() - t0, 1),
            "rss_start_mb": _r(start, 1), "rss_end_mb": _r(end, 1),
            "rss_peak_mb": _r(max(peak, end), 1), "growth_mb": _r(end - start, 1)}


def _r(value, digits: int = 2):
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None
