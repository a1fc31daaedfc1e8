"""Test footage with known faces: for `bench`, the tests and demos, no camera needed.

A clip is a static room-like background with one face moving on a smooth path
(and a little towards and away from the camera), sensor noise on every frame,
and optionally a change of expression part-way. The face is a drawn one that the
Haar cascade finds, or a FER-2013 crop it finds (app.commands.fer_faces). Every
frame comes with the true face box, so detection rate and box accuracy can be
measured.
"""

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

import model.runtime.atomic as atomic

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]     # a face's x, y, width, height in the frame's pixels
T = TypeVar("T")                    # what a generated frame comes with: its truth


# ---------------------------------------------------------------------- faces

def drawn_face(size: int = 200, expression: str = "neutral") -> np.ndarray:
    """A simple grayscale face (hair, brows, eyes, nose, mouth) the cascade detects."""
    s = int(size)
    img = np.full((s, s), 90, np.uint8)
    cv2.ellipse(img, (s // 2, s // 2 + s // 20), (int(s * .40), int(s * .50)), 0, 0, 360, 185, -1)
    cv2.ellipse(img, (s // 2, int(s * .12)), (int(s * .42), int(s * .2)), 0, 180, 360, 60, -1)
    ey = int(s * .40)
    raised = expression in ("surprise", "fear")
    for ex in (int(s * .32), int(s * .68)):
        brow_y = ey - int(s * (.13 if raised else .09))
        cv2.ellipse(img, (ex, brow_y), (int(s * .12), int(s * .03)), 0, 180, 360, 70, -1)
        cv2.ellipse(img, (ex, ey), (int(s * .09), int(s * (.06 if raised else .045))),
                    0, 0, 360, 235, -1)
        cv2.circle(img, (ex, ey), int(s * .035), 40, -1)
    cv2.line(img, (s // 2, int(s * .42)), (s // 2, int(s * .60)), 205, max(2, s // 25))
    for nx in (int(s * .45), int(s * .55)):
        cv2.circle(img, (nx, int(s * .62)), max(2, s // 45), 110, -1)
    my, thick = int(s * .76), max(3, s // 25)
    if expression == "happy":
        cv2.ellipse(img, (s // 2, my - int(s * .04)), (int(s * .16), int(s * .08)),
                    0, 0, 180, 60, thick)
    elif expression == "surprise":
        cv2.ellipse(img, (s // 2, my), (int(s * .07), int(s * .09)), 0, 0, 360, 50, -1)
    elif expression == "sad":
        cv2.ellipse(img, (s // 2, my + int(s * .04)), (int(s * .14), int(s * .06)),
                    0, 180, 360, 60, thick)
    else:
        cv2.line(img, (int(s * .36), my), (int(s * .64), my), 80, thick)
    return cv2.GaussianBlur(img, (0, 0), s / 120)


# ----------------------------------------------------------------- composing

def background(width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """A plausible static room: a lit wall, a door, a shelf, a lamp, soft shading."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    wall = 150 + 40 * (xx / width) - 30 * (yy / height)
    img = np.stack([wall * 0.95, wall * 1.0, wall * 1.05], axis=-1)
    img = np.clip(img, 0, 255).astype(np.uint8)
    w, h = width, height
    cv2.rectangle(img, (int(w * .04), int(h * .15)), (int(w * .20), h), (60, 80, 110), -1)
    cv2.rectangle(img, (int(w * .75), int(h * .25)), (w, int(h * .30)), (50, 70, 90), -1)
    for i in range(6):
        x = int(w * .77 + i * w * .035)
        color = tuple(int(c) for c in rng.integers(40, 220, 3))
        cv2.rectangle(img, (x, int(h * .14)), (x + int(w * .025), int(h * .25)), color, -1)
    cv2.circle(img, (int(w * .88), int(h * .62)), int(h * .08), (210, 230, 240), -1)
    cv2.rectangle(img, (0, int(h * .88)), (w, h), (70, 90, 100), -1)
    blurred: np.ndarray = cv2.GaussianBlur(img, (0, 0), 1.5)
    return blurred


def paste_face(frame: np.ndarray, face: np.ndarray, centre: tuple[float, float],
               size: int) -> np.ndarray:
    """A copy of `frame` with the gray `face` scaled to `size` px, centred at `centre`."""
    out = frame.copy()
    size = int(size)
    patch = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    if patch.ndim == 2:
        patch = cv2.cvtColor(patch, cv2.COLOR_GRAY2BGR)
    x0, y0 = int(round(centre[0] - size / 2)), int(round(centre[1] - size / 2))
    H, W = out.shape[:2]
    fx0, fy0 = max(0, -x0), max(0, -y0)
    fx1, fy1 = min(size, W - x0), min(size, H - y0)
    if fx1 > fx0 and fy1 > fy0:
        out[y0 + fy0:y0 + fy1, x0 + fx0:x0 + fx1] = patch[fy0:fy1, fx0:fx1]
    pasted: np.ndarray = out
    return pasted


# ---------------------------------------------------------------------- clips

@dataclass(frozen=True)
class ClipSpec:
    """What a generated clip shows. `faces`: one gray face per expression segment."""

    frames: int = 150
    fps: float = 30.0
    width: int = 640
    height: int = 480
    face_size: int = 160
    change_at: float | None = None   # seconds: switch from faces[0] to faces[1]
    motion: float = 1.0              # 0: still face; 1: moves ~1/5 of the frame
    noise: float = 3.0               # sensor noise, grey levels (std)
    seed: int = 0


@dataclass
class Truth:
    """The face as generated: its box, which face/expression segment it belongs to."""

    frame: int
    time: float
    box: Box
    segment: int


def face_path(spec: ClipSpec, i: int) -> tuple[tuple[float, float], int]:
    """Centre and size of the face in frame i: a slow Lissajous path."""
    t = i / spec.fps
    ax, ay = spec.width * 0.2 * spec.motion, spec.height * 0.12 * spec.motion
    cx = spec.width / 2 + ax * math.sin(2 * math.pi * t / 4.0)
    cy = spec.height / 2 + ay * math.sin(2 * math.pi * t / 3.0)
    size = spec.face_size * (1 + 0.1 * spec.motion * math.sin(2 * math.pi * t / 5.0))
    return (cx, cy), int(round(size))


def clip_frames(faces: Sequence[np.ndarray],
                spec: ClipSpec = ClipSpec()) -> Iterator[tuple[np.ndarray, Truth]]:
    """Yield (BGR frame, Truth) for each frame of the clip."""
    rng = np.random.default_rng(spec.seed)
    bg = background(spec.width, spec.height, spec.seed)
    for i in range(spec.frames):
        t = i / spec.fps
        segment = 1 if (spec.change_at is not None and t >= spec.change_at
                        and len(faces) > 1) else 0
        centre, size = face_path(spec, i)
        frame = paste_face(bg, faces[segment], centre, size)
        if spec.noise > 0:
            noise = rng.normal(0, spec.noise, frame.shape).astype(np.float32)
            frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
        box = (int(round(centre[0] - size / 2)), int(round(centre[1] - size / 2)), size, size)
        yield frame, Truth(i, t, box, segment)


def write_clip(path: str | Path, faces: Sequence[np.ndarray],
               spec: ClipSpec = ClipSpec()) -> list[Truth]:
    """Write the clip as MJPG .avi (atomically); returns the truth per frame."""
    return _write(path, clip_frames(faces, spec), spec.fps, (spec.width, spec.height))


def _write(path: str | Path, frames: Iterator[tuple[np.ndarray, T]], fps: float,
           size: tuple[int, int]) -> list[T]:
    """The frames as MJPG .avi (atomically); their truths in a list."""
    path = Path(path)
    truths = []
    with atomic.atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
        if not writer.isOpened():
            raise OSError(f"cannot write video {path}")
        try:
            for frame, truth in frames:
                writer.write(frame)
                truths.append(truth)
        finally:
            writer.release()
    return truths


def group_frames(faces: Sequence[np.ndarray], count: int,
                 spec: ClipSpec = ClipSpec()) -> Iterator[tuple[np.ndarray, list[Box]]]:
    """Yield (BGR frame, the faces' boxes): `count` faces (taking `faces` in turn) side
    by side in rows of up to three, as a group in front of one webcam, each swaying a
    little on its own; the speed of a frame with several faces."""
    rng = np.random.default_rng(spec.seed)
    bg = background(spec.width, spec.height, spec.seed)
    rows = math.ceil(count / 3)
    size = int(min(spec.face_size, spec.width / 3.6, spec.height / (rows + 0.6)))
    for i in range(spec.frames):
        t = i / spec.fps
        frame, boxes = bg, []
        for k in range(count):
            row, col = divmod(k, 3)
            in_row = min(3, count - 3 * row)
            cx = spec.width * (col + 0.5) / in_row + 0.04 * spec.width * spec.motion * \
                math.sin(2 * math.pi * t / 4.0 + k)
            cy = spec.height * (row + 0.5) / rows + 0.03 * spec.height * spec.motion * \
                math.sin(2 * math.pi * t / 3.0 + 2 * k)
            frame = paste_face(frame, faces[k % len(faces)], (cx, cy), size)
            boxes.append((int(round(cx - size / 2)), int(round(cy - size / 2)), size, size))
        if spec.noise > 0:
            noise = rng.normal(0, spec.noise, frame.shape).astype(np.float32)
            frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
        yield frame, boxes


def write_group_clip(path: str | Path, faces: Sequence[np.ndarray], count: int,
                     spec: ClipSpec = ClipSpec()) -> list[list[Box]]:
    """The group clip as MJPG .avi (atomically); the faces' boxes per frame."""
    return _write(path, group_frames(faces, count, spec), spec.fps, (spec.width, spec.height))


# ------------------------------------------------------------ the hard clip

@dataclass
class HardTruth:
    """What is in a frame of the hard clip: the main face's box and whether it can
    be seen (a hand hides it for a moment), the second face's box while any of it
    is in the frame and whether all of it is, and which challenge the frame shows."""

    frame: int
    time: float
    main: Box
    main_visible: bool
    second: Box | None
    second_whole: bool
    event: str


HARD_EVENTS = (  # (start s, end s, what): the 10-second script of the hard clip
    (0.0, 2.0, "upright"), (2.0, 6.0, "tilt"), (6.0, 6.3, "hand"), (6.3, 6.8, "upright"),
    (6.8, 7.8, "turn"), (7.8, 10.0, "dim"),
)


def _event(t: float) -> str:
    return next((name for a, b, name in HARD_EVENTS if a <= t < b), "upright")


def paste_face_posed(frame: np.ndarray, face: np.ndarray, centre: tuple[float, float],
                     size: int, angle: float = 0.0, squeeze: float = 1.0) -> np.ndarray:
    """Like paste_face, with the head tilted by `angle` degrees and turned (narrowed
    to `squeeze` of its width); only the face's oval is pasted."""
    size = int(size)
    patch = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    if patch.ndim == 2:
        patch = cv2.cvtColor(patch, cv2.COLOR_GRAY2BGR)
    mask = np.zeros((size, size), np.float32)
    cv2.ellipse(mask, (size // 2, size // 2), (int(size * .48), int(size * .56)), 0, 0, 360,
                1.0, -1)
    m = np.asarray(cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0), np.float64)
    m[0, :] *= squeeze
    m[0, 2] += size * (1 - squeeze) / 2
    out = frame.copy()
    H, W = out.shape[:2]
    x0, y0 = int(round(centre[0] - size / 2)), int(round(centre[1] - size / 2))
    m[:, 2] += (x0, y0)
    warped = cv2.warpAffine(patch, m, (W, H), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, m, (W, H), flags=cv2.INTER_LINEAR)[..., None]
    posed: np.ndarray = (out * (1 - alpha) + warped * alpha).astype(np.uint8)
    return posed


def hard_clip_frames(faces: Sequence[np.ndarray], seconds: float = 10.0, fps: float = 30.0,
                     seed: int = 0, width: int = 640,
                     height: int = 480) -> Iterator[tuple[np.ndarray, HardTruth]]:
    """Yield (BGR frame, HardTruth): a face that tilts up to +-30 degrees, is hidden by
    a passing hand, turns, and is dimmed, with camera noise; a second face comes
    in from the right at 3 s and leaves by 9 s."""
    rng = np.random.default_rng(seed)
    bg = background(width, height, seed)
    size = 150
    for i in range(int(seconds * fps)):
        t = i / fps
        event = _event(t)
        cx = width * 0.38 + 30 * math.sin(2 * math.pi * t / 5.0)
        cy = height * 0.5 + 15 * math.sin(2 * math.pi * t / 3.0)
        angle = 30 * math.sin(2 * math.pi * (t - 2.0) / 4.0) if event == "tilt" else 0.0
        squeeze = 1 - 0.35 * math.sin(math.pi * (t - 6.8)) if event == "turn" else 1.0
        frame = paste_face_posed(bg, faces[0], (cx, cy), size, angle, squeeze)
        second: Box | None = None
        whole = False
        if 3.0 <= t < 9.0:                        # enters, stays, leaves on the right
            u = (t - 3.0) / 6.0
            sx = width + 80 - 230 * math.sin(math.pi * u)
            frame = paste_face_posed(frame, faces[-1], (sx, height * 0.45), 120)
            if sx - 60 < width:
                second = (int(sx - 60), int(height * 0.45 - 60), 120, 120)
                whole = sx + 60 <= width
        main = (int(round(cx - size / 2)), int(round(cy - size / 2)), size, size)
        visible = True
        if event == "hand":                       # a hand sweeps across the face
            hx = int(cx - 160 + 320 * (t - 6.0) / 0.3)
            cv2.ellipse(frame, (hx, int(cy)), (70, 110), 10, 0, 360, (120, 150, 190), -1)
            visible = abs(hx - cx) >= 70
        if event == "dim":
            gain = 1 - 0.55 * min(1.0, (t - 7.8) / 0.5)
            frame = (frame.astype(np.float32) * gain).astype(np.uint8)
        noise = rng.normal(0, 5.0, frame.shape).astype(np.float32)
        frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
        yield frame, HardTruth(i, t, main, visible, second, whole, event)


def write_hard_clip(path: str | Path, faces: Sequence[np.ndarray], seconds: float = 10.0,
                    fps: float = 30.0) -> list[HardTruth]:
    """The hard clip as MJPG .avi (atomically); returns the truth per frame."""
    return _write(path, hard_clip_frames(faces, seconds, fps), fps, (640, 480))
