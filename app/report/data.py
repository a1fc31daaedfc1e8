"""An output folder read back for its report: summary.json, detections.csv and
markers.csv as written by app.io.results, and what each face (track) did in them.

Only the files are read, so a report can be made again at any time: for folders
written before reports existed, and after markers.csv was edited by hand.
"""

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model.runtime.emotions import EMOTIONS
from model.runtime.errors import UserError


@dataclass
class Moment:
    """The frame where a face showed one emotion most strongly."""

    emotion: str
    probability: float
    frame: int
    time: float | None
    box: tuple


@dataclass
class Track:
    """One face (track) of a video: its rows' columns and what they add up to."""

    track: int
    frames: np.ndarray          # detections.csv's frame numbers
    times: np.ndarray           # the source's time of each row (NaN where none)
    probs: np.ndarray           # (rows, 7), EMOTIONS order
    labels: list
    valence: np.ndarray         # NaN where the CSV has none
    boxes: np.ndarray           # (rows, 4) x, y, w, h
    held: np.ndarray            # bool
    calibrated: np.ndarray      # bool

    @property
    def rows(self) -> int:
        return len(self.frames)

    def seconds(self, fps: float | None) -> float | None:
        """How long it was in view: one frame's time per row."""
        return self.rows / fps if fps else None

    def shares(self) -> dict:
        """The share of its rows labelled with each emotion (0 to 1)."""
        return {e: self.labels.count(e) / self.rows for e in EMOTIONS}

    def mean_valence(self) -> float | None:
        finite = self.valence[np.isfinite(self.valence)]
        return float(finite.mean()) if len(finite) else None

    def calibrated_from(self) -> float | None:
        """The first time its readings had a neutral baseline taken out, else None."""
        if not self.calibrated.any():
            return None
        t = self.times[np.argmax(self.calibrated)]
        return float(t) if np.isfinite(t) else 0.0

    def moments(self) -> list[Moment]:
        """For each emotion it was labelled with, its strongest frame (a frame where
        the face was seen, not held, when there is one), in time order."""
        out = []
        labels = np.array(self.labels)
        for k, emotion in enumerate(EMOTIONS):
            mine = labels == emotion
            if not mine.any():
                continue
            seen = mine & ~self.held
            candidates = np.flatnonzero(seen if seen.any() else mine)
            best = candidates[np.argmax(self.probs[candidates, k])]
            t = self.times[best]
            out.append(Moment(emotion, float(self.probs[best, k]), int(self.frames[best]),
                              float(t) if np.isfinite(t) else None,
                              tuple(int(v) for v in self.boxes[best])))
        return sorted(out, key=lambda m: m.frame)


@dataclass
class Output:
    """One output folder of `process` or of a recording."""

    folder: Path
    summary: dict
    rows: list = field(repr=False)       # detections.csv as dicts
    markers: list                        # markers.csv as dicts (time, frame, number, text)

    @property
    def fps(self) -> float | None:
        return self.summary.get("fps")

    @property
    def is_video(self) -> bool:
        """A video or camera (a time axis), not separate photos."""
        return bool(self.fps)

    def tracks(self) -> list[Track]:
        """Every face, the longest in view first."""
        by_track: dict[int, list] = {}
        for r in self.rows:
            by_track.setdefault(int(r["track"]), []).append(r)
        tracks = [_track(t, rows) for t, rows in by_track.items()]
        return sorted(tracks, key=lambda tr: (-tr.rows, tr.track))

    def span(self) -> tuple[float, float]:
        """The source's time axis: 0 (or the first row's time, for a camera whose time
        runs from its start) to the end of the video or the last row."""
        times = [float(r["time"]) for r in self.rows if r.get("time")]
        marker_times = [m["time"] for m in self.markers if m["time"] is not None]
        end = max(times + marker_times + [float(self.summary.get("duration_s") or 0.0)],
                  default=0.0)
        start = min(times + marker_times, default=0.0)
        start = 0.0 if start <= 0.25 * max(end, 1e-9) else start
        return start, max(end, start + 1e-3)

    def marker_time(self, marker: dict) -> float | None:
        """A marker's place on the time axis: its time, else its frame's."""
        if marker["time"] is not None:
            return marker["time"]
        if marker["frame"] is not None and self.fps:
            return marker["frame"] / self.fps
        return None


def is_output(folder: Path) -> bool:
    return (folder / "summary.json").is_file() and (folder / "detections.csv").is_file()


def is_batch(folder: Path) -> bool:
    """A batch's top folder: its summary.json lists the inputs."""
    try:
        return "inputs" in read_summary(folder)
    except UserError:
        return False


def read_summary(folder: Path) -> dict:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder}: cannot read summary.json ({exc})") from None
    if not isinstance(summary, dict):
        raise UserError(f"{folder}: summary.json is not an output folder's summary")
    return summary


def not_an_output(folder: Path) -> str:
    """What `report` says of a folder it cannot make a report of."""
    if not folder.is_dir():
        return f"{folder} is not a folder"
    return (f"{folder} is not an output folder of process, a recording or a batch "
            "(it needs summary.json and detections.csv)")


def read_output(folder) -> Output:
    """The files of one output folder; a UserError when it is not one."""
    folder = Path(folder)
    if not is_output(folder):
        raise UserError(not_an_output(folder))
    summary = read_summary(folder)
    try:
        with open(folder / "detections.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise UserError(f"{folder}: cannot read detections.csv ({exc})") from None
    if rows and not {"frame", "track", "label", *EMOTIONS} <= set(rows[0]):
        raise UserError(f"{folder}: detections.csv lacks the columns frame, track, label "
                        "and the seven probabilities")
    for line, r in enumerate(rows, start=2):          # line 1 is the header
        if _number(r["frame"], int) is None or _number(r["track"], int) is None or \
                (r.get("time") and _number(r["time"], float) is None):
            raise UserError(f"{folder}: detections.csv line {line}: its frame, track or "
                            "time is not a number")
    return Output(folder, summary, rows, read_markers(folder / "markers.csv"))


def read_markers(path: Path) -> list[dict]:
    """markers.csv (time, frame, number, text) as dicts; [] when there is none. A
    hand-edited row with a bad number keeps its text and loses only that field."""
    if not path.is_file():
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path} ({exc})") from None
    return [{"time": _number(r.get("time"), float), "frame": _number(r.get("frame"), int),
             "number": _number(r.get("number"), int) or 0, "text": (r.get("text") or "")}
            for r in rows]


def marker_name(marker: dict) -> str:
    """A marker's name: its text, else its number."""
    text = marker.get("text") or ""
    number = marker.get("number") or 0
    return f"{number}: {text}" if number and text else text or str(number)


def _number(text, kind):
    try:
        return kind(float(text)) if kind is int else kind(text)
    except (TypeError, ValueError):
        return None


def _track(track: int, rows: list) -> Track:
    def col(name, default=np.nan):
        return np.array([_number(r.get(name), float) if r.get(name) not in (None, "")
                         else default for r in rows], np.float64)

    probs = np.stack([col(e, 0.0) for e in EMOTIONS], axis=1) if rows else \
        np.zeros((0, len(EMOTIONS)))
    return Track(track=track, frames=col("frame", 0).astype(np.int64), times=col("time"),
                 probs=probs, labels=[r.get("label", "") for r in rows],
                 valence=col("valence"),
                 boxes=np.stack([col(k, 0.0) for k in "xywh"], axis=1).astype(np.int64),
                 held=col("held", 0.0) > 0, calibrated=col("calibrated", 0.0) > 0)


def photo_faces(rows: list) -> dict:
    """Separate photos: image name -> its faces' rows, in the order first seen."""
    out: dict[str, list] = {}
    for r in rows:
        out.setdefault(r.get("image") or "", []).append(r)
    return out


def binned(times: np.ndarray, values: np.ndarray, start: float, end: float,
           bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The mean of `values` (rows, k) in `bins` equal slices of start..end: (centres,
    means), NaN in a slice without a row, so that a line breaks where a face was gone."""
    values = np.asarray(values, np.float64).reshape(len(times), -1)
    ok = np.isfinite(times)
    width = (end - start) / bins
    # slices centred on start + k * width: with a slice per frame, the frame at k/fps
    # (rounded to the ms in the CSV) is in the middle of slice k, not on its edge
    idx = np.clip(np.floor((times[ok] - start) / width + 0.5).astype(np.int64), 0, bins - 1)
    sums = np.zeros((bins, values.shape[1]))
    np.add.at(sums, idx, np.nan_to_num(values[ok]))
    counts = np.bincount(idx, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts[:, None]
    return start + width * np.arange(bins), means
