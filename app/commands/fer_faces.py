"""The faces of the generated test clips (`bench`, the tests, scripts/webcam_clip.py):
FER-2013 crops that the face detector finds, else drawn faces.

Here, not in app.io.synthetic, because picking the crops runs the detector
(app.core) and finds the data set where training keeps it.
"""

from pathlib import Path

import cv2
import numpy as np

from app.core.detect import FaceDetector
from app.core.track import iou
from app.io import synthetic
from model.training.train_config import DEFAULT_DATA

FER_DEFAULT = (Path(__file__).resolve().parents[2] / DEFAULT_DATA).resolve()


def fer_faces(root, emotion: str, count: int = 1, split: str = "train",
              detector=None, size: int = 160) -> list[np.ndarray]:
    """The first `count` FER-2013 crops of `emotion` (name order) that the cascade
    finds when scaled to `size` px on a plain background and on the standard
    test background; [] when the data set is missing."""
    folder = Path(root) / split / emotion
    if not folder.is_dir():
        return []
    detector = FaceDetector() if detector is None else detector
    picked = []
    bg = synthetic.background(640, 480, seed=0)
    for path in sorted(folder.glob("*.jpg")):
        face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if face is None:
            continue
        if _detects(detector, face, size, bg):
            picked.append(face)
            if len(picked) >= count:
                break
    return picked


def _detects(detector, face, size, bg) -> bool:
    """Found by a full scan and near its own box, at a few places and sizes."""
    for (cx, cy), scale in (((320, 240), 1.0), ((200, 180), 0.8), ((440, 300), 1.2)):
        s = int(size * scale)
        frame = synthetic.paste_face(bg, face, (cx, cy), s)
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        truth = (cx - s // 2, cy - s // 2, s, s)
        found = detector.full_scan(gray)
        if not any(iou(b, truth) > 0.5 for b in found):
            return False
        near = detector.near(gray, truth)
        if near is None or iou(near, truth) < 0.5:
            return False
    return True


def default_faces(expressions=("neutral", "happy"), fer_root=FER_DEFAULT,
                  size: int = 160) -> tuple[list[np.ndarray], str]:
    """Faces for a test clip: FER-2013 crops when available, else drawn ones.

    Returns (faces, description of where they came from)."""
    faces = []
    for emotion in expressions:
        found = fer_faces(fer_root, emotion, 1, size=size) if fer_root else []
        if not found:
            break
        faces.append(found[0])
    if len(faces) == len(expressions):
        return faces, f"FER-2013 train crops ({', '.join(expressions)}) from {fer_root}"
    return ([synthetic.drawn_face(size, e) for e in expressions],
            f"drawn faces ({', '.join(expressions)}); FER-2013 not found at {fer_root}")
