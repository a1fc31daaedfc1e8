"""Small charts drawn with OpenCV, so plotting needs no extra dependency."""

import cv2
import numpy as np

from model import atomic

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


def matrix_image(matrix, labels, title: str, cell=70) -> np.ndarray:
    """A heat map with counts, rows = true class, columns = predicted class."""
    m = np.asarray(matrix, dtype=np.float64)
    n = len(labels)
    left, top = 90, 80
    img = np.full((top + cell * n + 20, left + cell * n + 20, 3), 255, np.uint8)
    row_sum = np.maximum(m.sum(axis=1, keepdims=True), 1)
    frac = m / row_sum
    for i in range(n):
        for j in range(n):
            shade = int(255 - 200 * frac[i, j])
            x, y = left + j * cell, top + i * cell
            cv2.rectangle(img, (x, y), (x + cell, y + cell), (255, shade, shade), -1)
            cv2.rectangle(img, (x, y), (x + cell, y + cell), (200, 200, 200), 1)
            color = (255, 255, 255) if frac[i, j] > 0.5 else (0, 0, 0)
            cv2.putText(img, str(int(m[i, j])), (x + 8, y + cell // 2 + 5),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1)
        cv2.putText(img, labels[i][:8], (5, top + i * cell + cell // 2 + 5),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        cv2.putText(img, labels[i][:8], (left + i * cell + 4, top - 8),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.putText(img, title, (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    # axis titles: columns are the predicted class, rows (labelled left) the true one
    cv2.putText(img, "predicted", (left + cell * n // 2 - 40, 48), cv2.FONT_HERSHEY_SIMPLEX,
                0.55, (0, 0, 0), 1)
    cv2.putText(img, "true", (5, top - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    return img


def save_png(path, img):
    ok, buf = cv2.imencode(".png", img)
    if not ok:
        raise OSError(f"could not encode {path}")
    atomic.write_bytes(path, buf.tobytes())
