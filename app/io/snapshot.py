"""Snapshots: the annotated picture, the raw frame and a JSON record, saved together.

Plain Python (no Qt) so it is tested without a window. The three files of a
snapshot appear together or not at all: each is written atomically, and when a
later one fails (folder not writable, disk full) the ones already written are
removed again, so the folder never holds half a snapshot. The caller keeps the
frame either way and can retry elsewhere.
"""

import contextlib
import datetime as dt
import errno
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import cv2
import numpy as np

import model.runtime.atomic as atomic
from app.nouns import Detection, FaceJSON, Marker, MarkerJSON
from model.runtime.errors import UserError

log = logging.getLogger(__name__)

PREFIX = "emotion"


class SnapshotError(UserError):
    """A snapshot could not be saved; the message names the folder and the reason."""


@dataclass(frozen=True)
class Snapshot:
    annotated: Path
    raw: Path
    record: Path


class SnapshotFrame(TypedDict):
    width: int
    height: int
    number: int | None
    source_time_s: float | None


class _SnapshotRecord(TypedDict):
    time: str
    source: str
    frame: SnapshotFrame
    files: dict[str, str]
    faces: list[FaceJSON]
    marker: MarkerJSON | None


class SnapshotRecord(_SnapshotRecord, total=False):
    """A snapshot's JSON (see snapshot_record)."""

    calibration: dict[str, object]


def save_snapshot(folder: str | Path, raw: np.ndarray, annotated: np.ndarray,
                  detections: Iterable[Detection], source: str = "",
                  when: dt.datetime | None = None, frame_number: int | None = None,
                  source_time: float | None = None,
                  calibration: Mapping[str, object] | None = None,
                  marker: Marker | None = None) -> Snapshot:
    """Write `<stem>_annotated.png`, `<stem>_raw.png` and `<stem>.json` into `folder`
    (created if missing). Raises SnapshotError; never leaves partial files.
    `calibration`: a person's neutral in use, `marker`: the last marker added (see
    snapshot_record), if any."""
    folder = Path(folder).expanduser()
    when = when or dt.datetime.now().astimezone()
    blobs = {"annotated": _png(annotated), "raw": _png(raw)}
    _make_folder(folder)
    paths = _free_names(folder, when)
    record = snapshot_record(detections, source, when, raw.shape, paths, frame_number,
                             source_time, calibration, marker)
    written: list[Path] = []
    try:
        for key in ("annotated", "raw"):
            atomic.write_bytes(getattr(paths, key), blobs[key])
            written.append(getattr(paths, key))
        atomic.write_json(paths.record, record)
    except OSError as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise SnapshotError(f"cannot save snapshot in {folder}: {_reason(exc)}") from exc
    log.info("snapshot saved: %s", paths.record)
    return paths


def snapshot_record(detections: Iterable[Detection], source: str, when: dt.datetime,
                    shape: tuple[int, ...], paths: Snapshot, frame_number: int | None = None,
                    source_time: float | None = None,
                    calibration: Mapping[str, object] | None = None,
                    marker: Marker | None = None) -> SnapshotRecord:
    """The JSON content: when, from what (which frame, at what time in the source:
    seconds since a camera started, or the position in a video), and every face.

    "marker": the last marker (app.nouns.Marker) added to this source before the
    snapshot (Marker.to_dict: its time in the source "time_s", the source's frame
    "frame", its "number" 1..9 or 0, its "text", "when"), or None when none was.

    While a person's neutral is taken out of a face's readings (the window's
    Calibrate neutral), `calibration` (JSON values: which face it was measured on,
    since when) is kept as "calibration"; each face's "calibrated" says which face
    it applies to now."""
    record: SnapshotRecord = {
        "time": when.isoformat(timespec="milliseconds"),
        "source": str(source),
        "frame": {"width": int(shape[1]), "height": int(shape[0]),
                  "number": frame_number,
                  "source_time_s": None if source_time is None else round(source_time, 3)},
        "files": {"annotated": paths.annotated.name, "raw": paths.raw.name},
        "faces": [d.to_dict() for d in detections],
        "marker": None if marker is None else marker.to_dict(),
    }
    if calibration:
        record["calibration"] = dict(calibration)
    return record


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise SnapshotError("cannot encode the snapshot as PNG")
    return buf.tobytes()


def _make_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise SnapshotError(f"snapshot folder {folder} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SnapshotError(f"cannot create snapshot folder {folder}: {_reason(exc)}") from exc


def _free_names(folder: Path, when: dt.datetime) -> Snapshot:
    """Names from the time to the millisecond, with a counter if taken already."""
    base = f"{PREFIX}_{when:%Y%m%d_%H%M%S}_{when.microsecond // 1000:03d}"
    for n in range(1000):
        stem = base if n == 0 else f"{base}_{n}"
        paths = Snapshot(folder / f"{stem}_annotated.png", folder / f"{stem}_raw.png",
                         folder / f"{stem}.json")
        if not any(p.exists() for p in (paths.annotated, paths.raw, paths.record)):
            return paths
    raise SnapshotError(f"too many snapshots named {base}* in {folder}")


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (not writable)"
    return exc.strerror or str(exc)
