"""`process`: run the pipeline headless on a video, an image or a folder of images.

Writes into the output folder: the annotated video (`<name>_annotated.avi`) or
images (`annotated/`), `detections.csv` (one row per face per frame),
`summary.json` and `timeline.png`. Each file appears whole or not at all (temp
file, then rename). When the input breaks off or the user presses Ctrl+C, what
was processed so far is still written out - the video finalised, the CSV and
summary complete for those frames, the summary saying why it stopped - and the
command then fails with one line.
"""

import contextlib
import csv
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from app.config import PipelineConfig
from app.draw import EMOTION_COLORS, draw_detections
from app.sources import FrameSource, SourceError, VideoSource, open_source
from common import atomic
from model import EMOTIONS
from common.errors import UserError
from app.charts import line_chart

log = logging.getLogger(__name__)

# held: 1 when the face was not found in that frame and its last reading is held
# (see PipelineConfig.hold); tilt: the head tilt in degrees at which it was found.
CSV_COLUMNS = ["frame", "time", "image", "track", "x", "y", "w", "h", "tilt", "held",
               "label", "confidence", *EMOTIONS]
TIMELINE_POINTS = 600
WRITABLE_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def run_process(input_path, output, model=None, config: PipelineConfig | None = None,
                show_progress: bool = True, crops: bool = False, accurate: bool = False) -> int:
    """`process`: annotate one input into `output`; the exit code (0, or 130 on Ctrl+C).

    `accurate`: the classifier also averages five crops of each face (six times the
    classifying time; see EmotionClassifier)."""
    from app.pipeline import EmotionPipeline
    from model.classifier import EmotionClassifier

    source = _open_input(input_path)
    with source:
        classifier = EmotionClassifier.load(model, crops=True) if accurate else None
        pipe = EmotionPipeline(model_path=model, classifier=classifier, config=config)
        progress = progress_bar(source.frame_count) if show_progress else None
        result = process_source(source, pipe, Path(output), progress=progress, crops=crops)
    log.info("%s", _summary_line(result["summary"]))
    if result["stopped"] == "interrupted":
        log.error("interrupted after %d frames; the results so far are in %s",
                  result["summary"]["frames"], output)
        return 130
    if result["stopped"]:
        raise UserError(f"{result['stopped']} (results up to there are in {output})")
    return 0


def _open_input(spec: str) -> FrameSource:
    path = Path(spec).expanduser()
    if not path.exists() and spec.strip().isdigit():
        raise UserError(f"{spec}: process takes a video, an image or a folder of images; "
                         "for a camera open the app (--source)")
    return open_source(path)


def process_source(source: FrameSource, pipe, out_dir: Path, progress=None,
                   crops: bool = False) -> dict:
    """Process every frame of `source` into `out_dir`; returns {summary, stopped}.

    `crops`: every picture is one face already cut out; classify it whole.

    `stopped` is None when the source ended normally, "interrupted" on Ctrl+C, or
    the one-line reason the source failed. The outputs are written in every case.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    is_video = isinstance(source, VideoSource)
    fps = source.fps or 30.0
    sink = _VideoSink(out_dir, source, fps) if is_video else _ImageSink(out_dir)
    stats = _Stats(fps if is_video else None)
    stopped = None
    csv_path = out_dir / "detections.csv"
    start = time.perf_counter()
    with atomic.atomic_path(csv_path) as tmp_csv, open(tmp_csv, "w", newline="",
                                                        encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        try:
            index = 0
            while (frame := source.read()) is not None:
                t = index / fps if is_video else 0.0
                if not is_video:
                    pipe.reset()                # separate photos: nothing to track
                detections = pipe.classify_whole(frame) if crops else \
                    pipe.process(frame, timestamp=t)
                if not detections and not is_video and looks_like_crop(frame):
                    stats.crop_like += 1
                annotated = draw_detections(frame, detections)
                name = _image_name(source) if not is_video else ""
                with _interrupts_deferred():    # a frame goes into every output or none
                    for det in detections:
                        writer.writerow([index, f"{t:.3f}" if is_video else "", name,
                                         *csv_fields(det.to_dict())])
                    sink.write(annotated, source)
                    stats.add(index, detections)
                    index += 1
                if progress:
                    progress.update(1)
        except KeyboardInterrupt:
            stopped = "interrupted"
        except SourceError as exc:
            stopped = str(exc)
        except OSError as exc:                  # e.g. disk full while writing
            stopped = f"cannot write the results: {exc}"
        except BaseException:
            sink.abort()
            raise
        with _no_interrupts():
            if progress:
                progress.close()
            fh.flush()
            os.fsync(fh.fileno())
            wall = time.perf_counter() - start
            outputs = sink.close()
            summary = stats.summary(source, wall, stopped, outputs,
                                    getattr(source, "skipped", []))
    if stats.crop_like:
        log.warning("%d picture(s) with no face found look like face crops (small, about "
                    "square); to classify each whole picture as one face, use --crops",
                    stats.crop_like)
    with _no_interrupts():
        atomic.write_json(out_dir / "summary.json", summary)
        atomic.write_png(out_dir / "timeline.png", stats.timeline_image())
    return {"summary": summary, "stopped": stopped}


def csv_fields(face: dict) -> list:
    """A face record (Detection.to_dict) as the CSV's columns from `track` on."""
    return [face["track"], *face["box"].values(), face["tilt"], int(face["held"]),
            face["label"], face["confidence"], *face["probabilities"].values()]


def looks_like_crop(frame) -> bool:
    """A picture the size and shape of a face crop (48-200 px, about square)."""
    h, w = frame.shape[:2]
    return 40 <= min(h, w) and max(h, w) <= 256 and 0.75 <= w / h <= 1.33


def _image_name(source) -> str:
    path = getattr(source, "current_path", None)
    return path.name if path else ""


@contextlib.contextmanager
def _no_interrupts():
    """Hold Ctrl+C off while the outputs are finalised (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold a Ctrl+C until the block is done, then raise it (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


# ---------------------------------------------------------------------- sinks

class _VideoSink:
    """The annotated video, written to a temp file and renamed when finalised."""

    def __init__(self, out_dir: Path, source, fps: float):
        self.path = out_dir / f"{Path(source.name).stem}_annotated.avi"
        self._cm = atomic.atomic_path(self.path)
        self._tmp = self._cm.__enter__()
        self._fps = fps
        self._writer = None
        self._done = False
        self.frames = 0

    def write(self, frame, source):
        if self._writer is None:
            h, w = frame.shape[:2]
            self._writer = cv2.VideoWriter(str(self._tmp), cv2.VideoWriter_fourcc(*"MJPG"),
                                           self._fps, (w, h))
            if not self._writer.isOpened():
                raise OSError(f"cannot write the annotated video {self.path}")
        self._writer.write(frame)
        self.frames += 1

    def close(self) -> list[str]:
        """Finalise the video (also after an interruption); [] if it has no frames."""
        if self._done:
            return [self.path.name] if self.frames else []
        if self._writer is not None:
            self._writer.release()
        if self.frames == 0:
            self.abort()
            return []
        self._done = True
        self._cm.__exit__(None, None, None)
        return [self.path.name]

    def abort(self):
        """Drop the temp file."""
        if self._done:
            return
        self._done = True
        if self._writer is not None:
            self._writer.release()
        with contextlib.suppress(RuntimeError):
            self._cm.__exit__(RuntimeError, RuntimeError("aborted"), None)


class _ImageSink:
    """Annotated images under `annotated/`, same names (PNG where OpenCV cannot write)."""

    def __init__(self, out_dir: Path):
        self.folder = out_dir / "annotated"
        self.written: list[str] = []

    def write(self, frame, source):
        src = getattr(source, "current_path", None) or Path(source.name)
        suffix = src.suffix.lower() if src.suffix.lower() in WRITABLE_IMAGE_SUFFIXES else ".png"
        self.folder.mkdir(exist_ok=True)
        path = self.folder / (src.stem + suffix if suffix == src.suffix.lower()
                              else src.name + suffix)
        ok, buf = cv2.imencode(suffix, frame)
        if not ok:
            raise OSError(f"cannot encode {path}")
        atomic.write_bytes(path, buf.tobytes())
        self.written.append(f"annotated/{path.name}")

    def close(self) -> list[str]:
        return self.written

    def abort(self):
        pass


# ---------------------------------------------------------------------- stats

class _Stats:
    """Counts for summary.json and the per-frame mean probabilities for the timeline."""

    def __init__(self, fps: float | None):
        self.fps = fps
        self.frames = 0
        self.frames_with_faces = 0
        self.faces = 0
        self.tracks: set[int] = set()
        self.label_frames = np.zeros(len(EMOTIONS), np.int64)
        self.crop_like = 0             # pictures with no face found that look like crops
        self.timeline: list[np.ndarray] = []

    def add(self, index: int, detections):
        self.frames += 1
        self.faces += len(detections)
        self.frames_with_faces += bool(detections)
        mean = np.full(len(EMOTIONS), np.nan, np.float32)
        if detections:
            mean = np.mean([d.probabilities for d in detections], axis=0).astype(np.float32)
        self.timeline.append(mean)
        for d in detections:
            self.tracks.add(d.track_id)
            self.label_frames[EMOTIONS.index(d.label)] += 1

    def summary(self, source, wall: float, stopped, outputs, skipped) -> dict:
        per_emotion = {e: int(n) for e, n in zip(EMOTIONS, self.label_frames)}
        out = {
            "input": str(getattr(source, "path", getattr(source, "folder", source.name))),
            "status": "complete" if stopped is None else
                      ("interrupted" if stopped == "interrupted" else "failed"),
            "error": stopped if stopped not in (None, "interrupted") else None,
            "frames": self.frames,
            "frames_with_faces": self.frames_with_faces,
            "faces": self.faces,
            "tracks": len(self.tracks),
            "face_frames_per_emotion": per_emotion,
            "processing": {"seconds": round(wall, 3),
                           "fps": round(self.frames / wall, 2) if wall > 0 else None,
                           "ms_per_frame": round(1000 * wall / self.frames, 2)
                           if self.frames else None},
            "outputs": ["detections.csv", "summary.json", "timeline.png", *outputs],
        }
        if self.fps:
            out["fps"] = round(self.fps, 3)
            out["duration_s"] = round(self.frames / self.fps, 3)
            out["seconds_per_emotion"] = {e: round(n / self.fps, 3) for e, n in
                                          per_emotion.items()}
        if skipped:
            out["skipped"] = [{"file": str(p), "reason": r} for p, r in skipped]
        if self.crop_like:
            out["hint"] = (f"{self.crop_like} picture(s) with no face found look like face "
                           "crops; --crops classifies each whole picture as one face")
        return out

    def timeline_image(self) -> np.ndarray:
        rows = np.array(self.timeline, np.float32).reshape(-1, len(EMOTIONS))
        if len(rows) > TIMELINE_POINTS:         # average into bins: a readable plot
            edges = np.linspace(0, len(rows), TIMELINE_POINTS + 1).astype(int)
            with np.errstate(all="ignore"), _warnings_off():
                rows = np.array([np.nanmean(rows[a:b], axis=0) for a, b in
                                 zip(edges[:-1], edges[1:])])
        span = f"{len(self.timeline) / self.fps:.1f} s of video" if self.fps else \
            f"{len(self.timeline)} images in name order"
        series = {e: rows[:, i].tolist() for i, e in enumerate(EMOTIONS)}
        # 1200 px wide: room for all seven names in the legend
        return line_chart(series, f"Probability of each emotion over {span} "
                                  "(mean over the faces in view)", size=(1200, 500),
                          y_range=(0.0, 1.0), colors=EMOTION_COLORS)


@contextlib.contextmanager
def _warnings_off():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _summary_line(summary: dict) -> str:
    p = summary["processing"]
    return (f"{summary['frames']} frames, {summary['faces']} faces, "
            f"{summary['tracks']} tracks; {p['fps']} frames/s")


# ------------------------------------------------------------------- progress

def progress_bar(total: int | None, stream=None):
    """A tqdm bar of frames on stderr (off when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total if total and total > 0 else None, unit="frame",
                file=stream or sys.stderr, disable=None if stream is None else False,
                dynamic_ncols=True, mininterval=0.2)
