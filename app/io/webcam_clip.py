"""A webcam-like test clip (640x360 by default): a face that moves, comes nearer and
goes back, tilts its head a little and catches changing light, over a room the
camera pans across, with sensor noise and JPEG artefacts on every frame.

Closer to a real webcam than `synthetic.clip_frames` (static room, square paste, no
compression): what the detection's speed and its "face in every frame" are measured
on (`scripts/webcam_clip.py` writes one for `bench --video`; the tests use the frames).
"""

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import model.runtime.atomic as atomic
from app.io import synthetic
from app.io.synthetic import Box

PAN = (160, 90)      # pixels the camera pans over, across and up-down
MAX_TILT = 6.0       # degrees: the head tilts within what the upright search finds
NOISES = 8


def webcam_frames(face: np.ndarray, frames: int = 300, size: int = 150, seed: int = 0,
                  width: int = 640, height: int = 360, fps: float = 30.0,
                  quality: int = 80) -> Iterator[tuple[np.ndarray, Box]]:
    """Yield (BGR frame, true face box (x, y, w, h)) for each frame; `face` is gray,
    `size` its mean width in pixels (it varies by 15% either way)."""
    rng = np.random.default_rng(seed)
    room = synthetic.background(width + PAN[0], height + PAN[1], seed)
    # a few noise fields in turn: drawing one a frame costs more than the detection
    noise = [rng.standard_normal((height, width, 3), np.float32) * 4 for _ in range(NOISES)]
    for i in range(frames):
        t = i / fps
        ox = int(PAN[0] / 2 * (1 + 0.9 * math.sin(2 * math.pi * t / 7.0)))
        oy = int(PAN[1] / 2 * (1 + 0.8 * math.sin(2 * math.pi * t / 5.0)))
        frame = room[oy:oy + height, ox:ox + width].copy()
        cx = width / 2 + width * 0.18 * math.sin(2 * math.pi * t / 3.5 + seed)
        cy = height / 2 + height * 0.10 * math.sin(2 * math.pi * t / 2.7 + seed)
        s = int(size * (1 + 0.15 * math.sin(2 * math.pi * t / 6.0)))
        _paste_tilted(frame, face, (cx, cy), s, MAX_TILT * math.sin(2 * math.pi * t / 4.0))
        gain = 1 + 0.15 * math.sin(2 * math.pi * t / 8.0)
        lit = frame.astype(np.float32) * np.float32(gain) + noise[i % NOISES]
        _, jpeg = cv2.imencode(".jpg", np.clip(lit, 0, 255).astype(np.uint8),
                               [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        if decoded is None:     # (OpenCV reads back what it has just written)
            raise RuntimeError("OpenCV could not decode its own JPEG")
        yield decoded, (int(round(cx - s / 2)), int(round(cy - s / 2)), s, s)


def _paste_tilted(frame: np.ndarray, face: np.ndarray, centre: tuple[float, float],
                  size: int, tilt: float) -> None:
    """`synthetic.paste_face_posed` into `frame` in place, on the face's square alone
    (the whole frame's warp costs ten times as much)."""
    side = int(size * 1.3)
    x0 = max(0, int(centre[0] - side / 2))
    y0 = max(0, int(centre[1] - side / 2))
    region = frame[y0:y0 + side, x0:x0 + side]
    region[...] = synthetic.paste_face_posed(region, face, (centre[0] - x0, centre[1] - y0),
                                             size, tilt)


def write_webcam_clip(path: str | Path, face: np.ndarray, fps: float = 30.0,
                      **options: Any) -> list[Box]:   # options: webcam_frames' keywords
    """The clip as MJPG .avi (atomically); returns the true box per frame.
    `options`: those of `webcam_frames`."""
    path = Path(path)
    boxes: list[Box] = []
    with atomic.atomic_path(path) as tmp:
        writer = None
        try:
            for frame, box in webcam_frames(face, fps=fps, **options):
                if writer is None:
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"MJPG"), fps,
                                             (frame.shape[1], frame.shape[0]))
                    if not writer.isOpened():
                        raise OSError(f"cannot write video {path}")
                writer.write(frame)
                boxes.append(box)
        finally:
            if writer is not None:
                writer.release()
    return boxes
