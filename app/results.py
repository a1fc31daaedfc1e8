"""The files of one processed stream, written as its frames come.

`process` and a recording in the window both write through `ResultFiles`, so the
two cannot drift apart: the annotated video (`<name>_annotated.avi`) or images
(`annotated/`), `detections.csv` (one row per face per frame), `summary.json` and
`timeline.png`. Each file appears whole or not at all (temp file, then rename);
`close` finalises them also after an interruption, so what was written stays
playable and consistent: every frame in the video is in the CSV and the summary.
"""

import contextlib
import csv
import os
from pathlib import Path

import cv2
import numpy as np

from app.charts import line_chart, photo_chart
from app.draw import EMOTION_COLORS
from common import atomic
from model import EMOTIONS

# held: 1 when the face was not found in that frame and its last reading is held
# (see PipelineConfig.hold); tilt: the head tilt in degrees at which it was found.
CSV_COLUMNS = ["frame", "time", "image", "track", "x", "y", "w", "h", "tilt", "held",
               "label", "confidence", *EMOTIONS]
TIMELINE_POINTS = 600
WRITABLE_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class ResultFiles:
    """The outputs of one stream in `out_dir`: `add` each frame, then `close` once.

    `video`: frames go into one annotated video at `fps` (its time is the video's);
    else each frame is an image saved under `annotated/` with its own name.
    """

    def __init__(self, out_dir, name: str, fps: float | None, video: bool = True):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.video = video
        self.sink = _VideoSink(self.out_dir, name, fps or 30.0) if video \
            else _ImageSink(self.out_dir)
        self.stats = _Stats(fps if video else None)
        self._csv_cm = atomic.atomic_path(self.out_dir / "detections.csv")
        self._fh = open(self._csv_cm.__enter__(), "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(CSV_COLUMNS)
        self.frames = 0
        self._closed = False

    def add(self, annotated, detections, t: float | None = None, image_path=None):
        """One frame: its faces into the CSV, the picture into the video or images."""
        name = Path(image_path).name if image_path else ""
        for det in detections:
            self._csv.writerow([self.frames, "" if t is None else f"{t:.3f}", name,
                                *csv_fields(det.to_dict())])
        self.sink.write(annotated, image_path)
        self.stats.add(self.frames, detections, name)
        self.frames += 1

    def close(self, input_name: str, wall: float, stopped=None, skipped=()) -> dict:
        """Finalise every file; returns the summary. `stopped`: None (complete),
        "interrupted", or the reason the stream failed."""
        if self._closed:
            raise RuntimeError("already closed")
        self._closed = True
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._csv_cm.__exit__(None, None, None)
        outputs = self.sink.close()
        summary = self.stats.summary(input_name, wall, stopped, outputs, list(skipped))
        atomic.write_json(self.out_dir / "summary.json", summary)
        atomic.write_png(self.out_dir / "timeline.png", self.stats.timeline_image())
        return summary

    def abort(self):
        """Drop the temp files (an error that is not the stream's or the disk's)."""
        if self._closed:
            return
        self._closed = True
        self.sink.abort()
        self._fh.close()
        with contextlib.suppress(RuntimeError):
            self._csv_cm.__exit__(RuntimeError, RuntimeError("aborted"), None)


def csv_fields(face: dict) -> list:
    """A face record (Detection.to_dict) as the CSV's columns from `track` on."""
    return [face["track"], *face["box"].values(), face["tilt"], int(face["held"]),
            face["label"], face["confidence"], *face["probabilities"].values()]


# ---------------------------------------------------------------------- sinks

class _VideoSink:
    """The annotated video, written to a temp file and renamed when finalised."""

    def __init__(self, out_dir: Path, name: str, fps: float):
        self.path = out_dir / f"{Path(name).stem}_annotated.avi"
        self._cm = atomic.atomic_path(self.path)
        self._tmp = self._cm.__enter__()
        self._fps = fps
        self._writer = None
        self._done = False
        self.frames = 0

    def write(self, frame, image_path=None):
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

    def write(self, frame, image_path):
        src = Path(image_path)
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
        self.names: list[str] = []         # each frame's picture name (photos)

    def add(self, index: int, detections, name: str = ""):
        self.names.append(name)
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

    def summary(self, input_name: str, wall: float, stopped, outputs, skipped) -> dict:
        per_emotion = {e: int(n) for e, n in zip(EMOTIONS, self.label_frames)}
        out = {
            "input": str(input_name),
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
        if not self.fps:                        # separate photos: a row each
            return photo_chart(rows, self.names, EMOTION_COLORS,
                               f"Mean probability of each emotion in each of "
                               f"{len(rows)} photos (mean over the faces in it)")
        if len(rows) > TIMELINE_POINTS:         # average into bins: a readable plot
            edges = np.linspace(0, len(rows), TIMELINE_POINTS + 1).astype(int)
            with np.errstate(all="ignore"), _warnings_off():
                rows = np.array([np.nanmean(rows[a:b], axis=0) for a, b in
                                 zip(edges[:-1], edges[1:])])
        seconds = len(self.timeline) / self.fps
        series = {e: rows[:, i].tolist() for i, e in enumerate(EMOTIONS)}
        # 1200 px wide: room for all seven names in the legend
        return line_chart(series, f"Probability of each emotion over {seconds:.1f} s of "
                                  "video (mean over the faces in view)", size=(1200, 520),
                          y_range=(0.0, 1.0), colors=EMOTION_COLORS, x_span=seconds,
                          x_label="seconds into the video")


@contextlib.contextmanager
def _warnings_off():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
