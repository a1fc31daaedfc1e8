"""The files of one processed stream, written as its frames come.

`process` and a recording in the window both write through `ResultFiles`, so the
two cannot drift apart: the annotated video (`<name>_annotated.mp4`) or images
(`annotated/`), `detections.csv` (one row per face per frame), `summary.json` and
`timeline.png`; a recording also `markers.csv` (the markers added while it ran).
Each file appears whole or not at all (temp file, then rename);
`close` finalises them also after an interruption, so what was written stays
playable and consistent: every frame in the video is in the CSV and the summary.
"""

import contextlib
import csv
import datetime as dt
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

import model.runtime.atomic as atomic
from app.io.charts import line_chart, photo_chart
from app.io.frame_source import frame_rate
from app.nouns import Detection, FaceJSON, Marker
from model.runtime.emotions import EMOTION_COLORS, EMOTIONS

if TYPE_CHECKING:   # PyAV itself is imported when a video is written
    from av.container import OutputContainer
    from av.video.stream import VideoStream

log = logging.getLogger(__name__)

# summary.json's object: JSON, with the fields `extra` adds (docs/usage.md lists them)
Summary = dict[str, Any]

# held: 1 when the face was not found in that frame and its last reading is held
# (see PipelineConfig.hold); tilt: the head tilt in degrees at which it was found;
# calibrated: 1 when the reading has the person's own neutral taken out (a baseline);
# valence: happy minus the largest of sad, angry, fear and disgust (model.runtime.emotions.valence),
# -1 to 1, empty without an emotion model. New columns go at the end.
CSV_COLUMNS = ["frame", "time", "image", "track", "x", "y", "w", "h", "tilt", "held",
               "label", "confidence", *EMOTIONS, "calibrated", "valence"]
# markers.csv: a marker's time in the source (as detections.csv's time), the frame of
# detections.csv it was added on (the last one recorded then; empty before the first),
# its number (the key 1..9; 0 for a marker with a text only) and its text
MARKER_COLUMNS = ["time", "frame", "number", "text"]
TIMELINE_POINTS = 600
WRITABLE_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


class ResultFiles:
    """The outputs of one stream in `out_dir`: `add` each frame, then `close` once.

    `video`: frames go into one annotated video at `fps` (its time is the video's);
    else each frame is an image saved under `annotated/` with its own name.
    `annotated` False: no annotated video or images, only the CSV, summary and chart
    (the fast path). `markers` True: a `markers.csv` too (a recording in the window),
    with what `add_marker` was given, drawn on the timeline.
    """

    def __init__(self, out_dir: str | Path, name: str, fps: float | None, video: bool = True,
                 audio_from: str | Path | None = None, annotated: bool = True,
                 markers: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.video = video
        self.sink: _Sink = _NoSink() if not annotated else \
            _VideoSink(self.out_dir, name, frame_rate(fps), audio_from) if video \
            else _ImageSink(self.out_dir)
        self.stats = _Stats(frame_rate(fps) if video else None)
        self._csv_cm = atomic.atomic_path(self.out_dir / "detections.csv")
        self._fh = open(self._csv_cm.__enter__(), "w", newline="", encoding="utf-8")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(CSV_COLUMNS)
        self.frames = 0
        self.markers: list[Marker] | None = [] if markers else None
        self.started = dt.datetime.now().astimezone()   # the summary's "started"
        self._closed = False

    def add(self, annotated: np.ndarray | None, detections: Sequence[Detection],
            t: float | None = None, image_path: str | Path | None = None) -> None:
        """One frame: its faces into the CSV, the picture into the video or images
        (None: not drawn, as the results were opened with annotated=False)."""
        name = Path(image_path).name if image_path else ""
        for det in detections:
            self._csv.writerow([self.frames, "" if t is None else f"{t:.3f}", name,
                                *csv_fields(det.to_dict())])
        if annotated is not None:
            self.sink.write(annotated, image_path)
        self.stats.add(self.frames, detections, name)
        self.frames += 1

    def add_marker(self, marker: Marker) -> None:
        """A Marker on its `frame` (detections.csv's numbering; None: the last frame
        added, if any), written to markers.csv at `close`."""
        if self.markers is None:
            raise RuntimeError("these results keep no markers (markers=False)")
        if marker.frame is None and self.frames:
            marker = replace(marker, frame=self.frames - 1)
        self.markers.append(marker)

    def close(self, input_name: str, wall: float, stopped: str | None = None,
              skipped: Iterable[tuple[str | Path, str]] = (),
              extra: Summary | None = None) -> Summary:
        """Finalise every file; returns the summary. `stopped`: None (complete),
        "interrupted", or the reason the stream failed; `extra`: more summary fields."""
        if self._closed:
            raise RuntimeError("already closed")
        self._closed = True
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._csv_cm.__exit__(None, None, None)
        outputs = self.sink.close()
        if self.markers is not None:
            atomic.write_text(self.out_dir / "markers.csv", markers_csv(self.markers))
            outputs = ["markers.csv", *outputs]
        summary = self.stats.summary(input_name, wall, stopped, outputs, list(skipped))
        summary["started"] = self.started.isoformat(timespec="seconds")
        if self.markers is not None:
            summary["markers"] = len(self.markers)
        summary.update(extra or {})
        if self.video:
            summary["video_sound"] = self.sink.audio   # the source's sound copied in
        atomic.write_png(self.out_dir / "timeline.png",
                         self.stats.timeline_image(self.markers or ()))
        # last: a folder with summary.json is finished (the batch's resume reads it so)
        atomic.write_json(self.out_dir / "summary.json", summary)
        return summary

    def abort(self) -> None:
        """Drop the temp files (an error that is not the stream's or the disk's)."""
        if self._closed:
            return
        self._closed = True
        self.sink.abort()
        self._fh.close()
        with contextlib.suppress(RuntimeError):
            self._csv_cm.__exit__(RuntimeError, RuntimeError("aborted"), None)


def csv_fields(face: FaceJSON) -> list[object]:
    """A face record (Detection.to_dict) as the CSV's columns from `track` on."""
    valence = face.get("valence")
    return [face["track"], *face["box"].values(), face["tilt"], int(face["held"]),
            face["label"], face["confidence"], *face["probabilities"].values(),
            int(face["calibrated"]), "" if valence is None else valence]


def markers_csv(markers: Iterable[Marker]) -> str:
    """markers.csv's text: MARKER_COLUMNS, a row per Marker."""
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MARKER_COLUMNS)
    for m in markers:
        writer.writerow(["" if m.time is None else f"{m.time:.3f}",
                         "" if m.frame is None else int(m.frame), int(m.number), str(m.text)])
    return buf.getvalue()


# ---------------------------------------------------------------------- sinks

class _Sink(Protocol):
    """Where the annotated frames go: a video, images, or nowhere."""

    audio: bool      # the source's sound was copied in (a video's)

    def write(self, frame: np.ndarray, image_path: str | Path | None) -> None: ...
    def close(self) -> list[str]: ...   # the files written, for the summary
    def abort(self) -> None: ...

class _VideoSink:
    """The annotated video as H.264 .mp4 (FFmpeg, through PyAV) that common players
    open, at about the source's size; the source's sound, if it has any, is copied in
    when the video is finalised. Written to a temp file, renamed when complete."""

    def __init__(self, out_dir: Path, name: str, fps: float,
                 audio_from: str | Path | None = None) -> None:
        self.path = out_dir / f"{Path(name).stem}_annotated.mp4"
        self._cm = atomic.atomic_path(self.path, suffix=".mp4")
        self._tmp = self._cm.__enter__()
        self._fps = fps
        self._audio_from = audio_from
        self._container: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._done = False
        self.frames = 0
        self.audio = False

    def write(self, frame: np.ndarray, image_path: str | Path | None = None) -> None:
        import av

        if self._container is None or self._stream is None:
            self._container, self._stream = self._open(frame.shape[1], frame.shape[0])
        container, stream = self._container, self._stream
        h, w = stream.height, stream.width
        try:
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]),
                                                 format="bgr24")
            picture.pts = self.frames
            for packet in stream.encode(picture):
                container.mux(packet)
        except av.FFmpegError as exc:
            raise OSError(f"cannot write the annotated video {self.path}: {exc}") from exc
        self.frames += 1

    def _open(self, width: int, height: int) -> "tuple[OutputContainer, VideoStream]":
        import av

        try:
            self._container = container = av.open(str(self._tmp), "w", format="mp4")
            stream = container.add_stream("libx264", rate=_rate(self._fps))
            stream.width, stream.height = width - width % 2, height - height % 2  # 4:2:0
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "23", "preset": "veryfast"}
            # as many encoder threads as OpenCV may use: one in a batch worker, whose
            # pool already keeps every core busy
            stream.thread_count = max(1, cv2.getNumThreads())
            self._stream = stream
        except av.FFmpegError as exc:
            raise OSError(f"cannot write the annotated video {self.path}: {exc}") from exc
        return container, stream

    def close(self) -> list[str]:
        """Finalise the video (also after an interruption); [] if it has no frames."""
        if self._done:
            return [self.path.name] if self.frames else []
        if self.frames == 0:
            self.abort()
            return []
        self._finish_encoding()
        if self._audio_from is not None:
            self.audio = _add_audio(self._tmp, self._audio_from)
        self._done = True
        self._cm.__exit__(None, None, None)
        return [self.path.name]

    def _finish_encoding(self) -> None:
        if self._container is not None:
            if self._stream is not None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
            self._container.close()
            self._container = None

    def abort(self) -> None:
        """Drop the temp file."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            if self._container is not None:
                self._container.close()
        with contextlib.suppress(RuntimeError):
            self._cm.__exit__(RuntimeError, RuntimeError("aborted"), None)


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


# audio codecs an .mp4 holds as they are; others (PCM in an .avi, Vorbis) become AAC
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}


def _add_audio(video_path: Path, source_path: str | Path) -> bool:
    """Put the source's first audio stream into the .mp4 at `video_path` (copied, or
    encoded as AAC); False when the source has no sound or it cannot be read."""
    import av

    try:
        with av.open(str(source_path)) as src:
            audio = next((st for st in src.streams if st.type == "audio"), None)
            if audio is None:
                return False
            mixed = video_path.with_name(video_path.name + ".audio.mp4")
            with av.open(str(video_path)) as vid, av.open(str(mixed), "w",
                                                            format="mp4") as out:
                v_in = vid.streams.video[0]
                v_out = out.add_stream_from_template(v_in)
                copy = audio.codec_context.name in MP4_AUDIO
                a_out = out.add_stream_from_template(audio) if copy else \
                    out.add_stream("aac", rate=audio.codec_context.sample_rate or 44100)
                for packet in vid.demux(v_in):
                    if packet.dts is not None:
                        packet.stream = v_out
                        out.mux(packet)
                for packet in src.demux(audio):
                    if packet.dts is None:
                        continue
                    if copy:
                        packet.stream = a_out
                        out.mux(packet)
                    else:
                        for frame in packet.decode():
                            frame.pts = None
                            out.mux(a_out.encode(frame))
                if not copy:
                    out.mux(a_out.encode(None))
            os.replace(mixed, video_path)
            return True
    except (av.FFmpegError, OSError, ValueError) as exc:
        log.warning("the sound of %s was not copied into the annotated video: %s",
                    source_path, exc)
        with contextlib.suppress(OSError):
            video_path.with_name(video_path.name + ".audio.mp4").unlink()
        return False


class _NoSink:
    """--no-video: the frames are counted in the CSV and summary, not saved."""

    audio = False

    def write(self, frame: np.ndarray, image_path: str | Path | None = None) -> None:
        pass

    def close(self) -> list[str]:
        return []

    def abort(self) -> None:
        pass


class _ImageSink:
    """Annotated images under `annotated/`, same names (PNG where OpenCV cannot write)."""

    audio = False

    def __init__(self, out_dir: Path) -> None:
        self.folder = out_dir / "annotated"
        self.written: list[str] = []

    def write(self, frame: np.ndarray, image_path: str | Path | None) -> None:
        if image_path is None:
            raise TypeError("an annotated image is saved under its source's name")
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

    def abort(self) -> None:
        pass


# ---------------------------------------------------------------------- stats

class _Stats:
    """Counts for summary.json and the per-frame mean probabilities for the timeline."""

    def __init__(self, fps: float | None) -> None:
        self.fps = fps
        self.frames = 0
        self.frames_with_faces = 0
        self.faces = 0
        self.tracks: set[int] = set()
        self.label_frames = np.zeros(len(EMOTIONS), np.int64)
        self.crop_like = 0             # pictures with no face found that look like crops
        # photos: a row and a name each; a video: the timeline in at most 2 x
        # TIMELINE_POINTS buckets of `bucket` frames (sums and counts of the faces'
        # mean probabilities), halved as the video grows, so memory stays flat
        self.rows: list[np.ndarray] = []
        self.names: list[str] = []
        self.bucket = 1
        self.sums = np.zeros((0, len(EMOTIONS)), np.float64)
        self.counts = np.zeros(0, np.int64)
        self.valence: dict[int, list[float]] = {}   # track -> [sum, faces] of its valence

    def add(self, index: int, detections: Sequence[Detection], name: str = "") -> None:
        self.frames += 1
        self.faces += len(detections)
        self.frames_with_faces += bool(detections)
        mean = np.full(len(EMOTIONS), np.nan, np.float32)
        if detections:
            mean = np.mean([d.probabilities for d in detections], axis=0).astype(np.float32)
        if self.fps:
            self._add_to_timeline(mean)
        else:
            self.rows.append(mean)
            self.names.append(name)
        for d in detections:
            self.tracks.add(d.track_id)
            if d.label in EMOTIONS:        # not a face read by no model (recorded so)
                self.label_frames[EMOTIONS.index(d.label)] += 1
            v = d.valence
            if v is not None:
                total = self.valence.setdefault(int(d.track_id), [0.0, 0])
                total[0] += v
                total[1] += 1

    def _add_to_timeline(self, mean: np.ndarray) -> None:
        slot = (self.frames - 1) // self.bucket
        if slot >= len(self.counts):
            if len(self.counts) >= 2 * TIMELINE_POINTS:     # full: merge pairs
                self.sums = self.sums.reshape(-1, 2, len(EMOTIONS)).sum(axis=1)
                self.counts = self.counts.reshape(-1, 2).sum(axis=1)
                self.bucket *= 2
                slot = (self.frames - 1) // self.bucket
            if slot >= len(self.counts):
                self.sums = np.vstack([self.sums, np.zeros((1, len(EMOTIONS)))])
                self.counts = np.append(self.counts, 0)
        if np.all(np.isfinite(mean)):
            self.sums[slot] += mean
            self.counts[slot] += 1

    def summary(self, input_name: str, wall: float, stopped: str | None, outputs: list[str],
                skipped: list[tuple[str | Path, str]]) -> Summary:
        per_emotion = {e: int(n) for e, n in zip(EMOTIONS, self.label_frames)}
        out: Summary = {
            "input": str(input_name),
            "status": "complete" if stopped is None else
                      ("interrupted" if stopped == "interrupted" else "failed"),
            "error": stopped if stopped not in (None, "interrupted") else None,
            "frames": self.frames,
            "frames_with_faces": self.frames_with_faces,
            "faces": self.faces,
            "tracks": len(self.tracks),
            "face_frames_per_emotion": per_emotion,
            # the mean of the valence column over each track's rows
            "mean_valence_per_track": {str(t): round(total / n, 4) for t, (total, n)
                                       in sorted(self.valence.items())},
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

    def timeline_image(self, markers: Sequence[Marker] = ()) -> np.ndarray:
        """The chart; `markers` (Markers, as ResultFiles.add_marker keeps them) as
        vertical lines at their frame."""
        if not self.fps:                        # separate photos: a row each
            rows = np.array(self.rows, np.float32).reshape(-1, len(EMOTIONS))
            return photo_chart(rows, self.names, EMOTION_COLORS,
                               f"Mean probability of each emotion in each of "
                               f"{len(rows)} photos (mean over the faces in it)",
                               markers=[(m.frame or 0, m.label) for m in markers])
        with np.errstate(all="ignore"):         # a bucket with no face: a gap (NaN)
            means = self.sums / self.counts[:, None]
        seconds = self.frames / self.fps
        series = {e: means[:, i].tolist() for i, e in enumerate(EMOTIONS)}
        # 1200 px wide: room for all seven names in the legend
        return line_chart(series, f"Probability of each emotion over {seconds:.1f} s of "
                                  "video (mean over the faces in view)", size=(1200, 520),
                          y_range=(0.0, 1.0), colors=EMOTION_COLORS, x_span=seconds,
                          x_label="seconds into the video",
                          markers=[((m.frame or 0) / self.fps, m.label) for m in markers])
