"""The timeline chart of `process`, drawn with OpenCV: the app's install has no
plotting library (matplotlib is in the `train` extra only)."""

import cv2
import numpy as np

COLORS = [(200, 80, 30), (40, 160, 40), (30, 30, 200), (180, 40, 180),
          (20, 160, 200), (120, 120, 0), (90, 90, 90)]


def line_chart(series: dict, title: str, size=(800, 500), y_range=None,
               colors: dict | None = None) -> np.ndarray:
    """series: name -> list of y values (x is the index). Returns a BGR image.

    `colors` (name -> BGR) lets a chart match colours used elsewhere, such as the
    emotion colours of the overlay."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 60, 20, 40, 40
    values = [v for ys in series.values() for v in ys if np.isfinite(v)]
    lo, hi = y_range or ((min(values), max(values)) if values else (0.0, 1.0))
    if hi <= lo:
        hi = lo + 1.0
    n = max((len(ys) for ys in series.values()), default=1)
    pw, ph = w - left - right, h - top - bottom

    def pt(i, v):
        x = left + (pw * i / max(n - 1, 1))
        y = top + ph * (1 - (v - lo) / (hi - lo))
        return int(round(x)), int(round(y))

    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = pt(0, v)[1]
        cv2.line(img, (left, y), (left + pw, y), (225, 225, 225), 1)
        cv2.putText(img, f"{v:.2f}", (5, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(img, title, (left, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    for idx, (name, ys) in enumerate(series.items()):
        color = (colors or {}).get(name, COLORS[idx % len(COLORS)])
        pts = [pt(i, v) for i, v in enumerate(ys) if np.isfinite(v)]
        if len(pts) > 1:
            cv2.polylines(img, [np.array(pts, np.int32)], False, color, 2, cv2.LINE_AA)
        elif pts:
            cv2.circle(img, pts[0], 3, color, -1)
        cv2.putText(img, name, (left + 10 + 150 * idx, h - 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, 2)
    return img
