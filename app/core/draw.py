"""Draw detections onto a copy of the frame: box, label, confidence, probability bar.

One colour per emotion (model.runtime.emotions.EMOTION_COLORS, BGR) for the box,
the label and the bar segments, as every chart and the side panel use them. Sizes
follow the face, so the drawing reads the same on a 640x480 webcam frame and an 8000x6000 photo.
"""

from collections.abc import Iterable, Sequence

import cv2
import numpy as np

from app.nouns import Detection
from model.runtime.emotions import EMOTION_COLORS, EMOTIONS

Color = tuple[int, int, int]    # BGR

FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw_detections(frame: np.ndarray, detections: Iterable[Detection]) -> np.ndarray:
    """A new BGR frame with every detection drawn; `frame` is left untouched."""
    out: np.ndarray = np.array(frame, dtype=np.uint8, copy=True)
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    for det in detections:
        _draw_one(out, det)
    return out


def _draw_one(img: np.ndarray, det: Detection) -> None:
    x, y, w, h = (int(v) for v in det.box)
    color = EMOTION_COLORS.get(det.label, (255, 255, 255))
    unit = max(1, int(round(w / 100)))               # line thickness follows the face
    held = getattr(det, "held", False)
    if held:   # lost for a moment: a dashed box with its last reading
        _dashed_rectangle(img, (x, y), (x + w, y + h), color, unit, dash=max(6, w // 12))
    else:
        cv2.rectangle(img, (x, y), (x + w, y + h), color, 2 * unit, cv2.LINE_AA)
    scale = max(0.4, w / 260)
    text = (f"{det.label} {det.confidence * 100:.0f}%" if det.label in EMOTION_COLORS
            else det.label) + (" (held)" if held else "")   # no model: just "face"
    (tw, th), base = cv2.getTextSize(text, FONT, scale, unit)
    ty = y - 4 * unit if y - th - base - 4 * unit > 0 else y + h + th + 4 * unit
    cv2.rectangle(img, (x, ty - th - base), (x + tw + 4 * unit, ty + base), color, -1)
    cv2.putText(img, text, (x + 2 * unit, ty), FONT, scale, _ink(color), unit, cv2.LINE_AA)
    # the bar under the box, or under the label when the label had to go there (a
    # face at the top edge), so that neither hides the other
    bar_y = y + h + 3 * unit if ty < y else ty + base + 3 * unit
    _draw_bar(img, det.probabilities, x, bar_y, w, max(4, 6 * unit))


def _dashed_rectangle(img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], color: Color,
                      thickness: int, dash: int) -> None:
    (x0, y0), (x1, y1) = p0, p1
    for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)),
                 ((x0, y1), (x0, y0))):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for start in range(0, length, 2 * dash):
            f0, f1 = start / length, min(start + dash, length) / length
            cv2.line(img, (int(a[0] + (b[0] - a[0]) * f0), int(a[1] + (b[1] - a[1]) * f0)),
                     (int(a[0] + (b[0] - a[0]) * f1), int(a[1] + (b[1] - a[1]) * f1)),
                     color, thickness, cv2.LINE_AA)


def _draw_bar(img: np.ndarray, probs: Sequence[float], x: int, y: int, w: int,
              height: int) -> None:
    """A stacked bar: one segment per emotion, as wide as its probability."""
    H, W = img.shape[:2]
    if y + height >= H:
        return
    left = x
    total = float(sum(probs)) or 1.0
    for emotion, p in zip(EMOTIONS, probs):
        seg = int(round(w * float(p) / total))
        if seg > 0:
            cv2.rectangle(img, (left, y), (min(left + seg, x + w), y + height),
                          EMOTION_COLORS[emotion], -1)
        left += seg
    cv2.rectangle(img, (x, y), (x + w, y + height), (40, 40, 40), 1)


def _ink(color: Color) -> Color:
    b, g, r = color
    return (0, 0, 0) if 0.114 * b + 0.587 * g + 0.299 * r > 140 else (255, 255, 255)
