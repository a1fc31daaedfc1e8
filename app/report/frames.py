"""Pictures for the report: moments read back from the annotated video (or the source
video), and the photos of a folder, as small JPEGs ready to embed."""

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.io.frame_source import frame_rate
from app.io.sources import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

THUMB_HEIGHT = 150        # px of a moment's picture
PHOTO_WIDTH = 220         # px of a photo's picture in the photo table
JPEG_QUALITY = 82


@dataclass
class VideoRef:
    """Where the report reads its moments from: `path`, and whether its frames are
    detections.csv's (the annotated video) or must be found by time (the source)."""

    path: Path
    annotated: bool


def find_video(folder: Path, summary: dict) -> tuple[VideoRef | None, str]:
    """The annotated video, else the source video; (None, why) when neither is there."""
    for name in summary.get("outputs", []):
        if name.endswith("_annotated.mp4") and (folder / name).is_file():
            return VideoRef(folder / name, True), ""
    annotated = sorted(folder.glob("*_annotated.mp4"))
    if annotated:
        return VideoRef(annotated[0], True), ""
    source = Path(str(summary.get("input", "")))
    if source.suffix.lower() in VIDEO_SUFFIXES and source.is_file():
        return VideoRef(source, False), ""
    why = ("no annotated video was written (--no-video)" if summary.get("fps") else
           "this output has no video")
    if source.suffix.lower() in VIDEO_SUFFIXES:
        why += f" and the source video {source} is not there"
    return None, why


def read_frames(video: VideoRef, moments, fps: float | None) -> dict:
    """{(frame, time): BGR image} for each moment (Moment.frame and .time) that could be
    read; frames in order, seeking only when a jump is ahead or behind."""
    cap = cv2.VideoCapture(str(video.path))
    if not cap.isOpened():
        log.warning("cannot open %s for the report's pictures", video.path)
        return {}
    source_fps = cap.get(cv2.CAP_PROP_FPS) or frame_rate(fps)
    wanted: dict[int, list[tuple[int | None, float | None]]] = {}   # frame -> (moments)
    for m in moments:
        index = m.frame if video.annotated else \
            int(round((m.time or 0.0) * source_fps)) if m.time is not None else m.frame
        wanted.setdefault(index, []).append((m.frame, m.time))
    out, position = {}, 0
    try:
        for index in sorted(wanted):
            if index != position:
                cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, image = cap.read()
            position = index + 1
            if ok:
                for key in wanted[index]:
                    out[key] = image
    finally:
        cap.release()
    return out


def face_picture(image: np.ndarray, box) -> bytes:
    """The face with some room around it (the drawn label and bar of an annotated
    frame included), THUMB_HEIGHT px high, as JPEG."""
    x, y, w, h = (int(v) for v in box)
    H, W = image.shape[:2]
    x0, x1 = max(0, x - w // 2), min(W, x + w + w // 2)
    y0, y1 = max(0, y - h // 2), min(H, y + h + h // 2)
    crop = image[y0:y1, x0:x1] if x1 > x0 and y1 > y0 else image
    return jpeg(crop, height=THUMB_HEIGHT)


def photo_picture(path: Path) -> bytes | None:
    """A photo shrunk to PHOTO_WIDTH px wide, as JPEG; None when it cannot be read."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    return jpeg(image, width=PHOTO_WIDTH)


def jpeg(image: np.ndarray, height: int | None = None, width: int | None = None) -> bytes:
    h, w = image.shape[:2]
    scale = (height / h) if height else (width / w)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError("cannot encode a picture for the report")
    return buf.tobytes()


def photo_path(folder: Path, summary: dict, name: str) -> Path | None:
    """A photo by its name: the annotated copy, else the original in the input."""
    annotated = folder / "annotated"
    if annotated.is_dir():
        stem = Path(name).stem
        for candidate in (annotated / name, *sorted(annotated.glob(f"{stem}.*")),
                          *sorted(annotated.glob(f"{name}.*"))):
            if candidate.is_file():
                return candidate
    source = Path(str(summary.get("input", "")))
    for candidate in (source / name, source):
        if candidate.is_file() and (candidate.name == name or candidate == source / name):
            return candidate
    return None
