"""The charts of `process` (a timeline for a video, a row per photo for a folder),
drawn with OpenCV: the app's install has no plotting library (matplotlib is in the
`train` extra only)."""

from collections.abc import Iterable, Mapping, Sequence

import cv2
import numpy as np
import numpy.typing as npt

Color = tuple[int, int, int]    # BGR

COLORS = [(200, 80, 30), (40, 160, 40), (30, 30, 200), (180, 40, 180),
          (20, 160, 200), (120, 120, 0), (90, 90, 90)]
MARKER_COLOR = (0, 0, 0)   # BGR: markers are black lines, unlike any series' colour
PLOT_LEFT, PLOT_RIGHT = 60, 20   # a line chart's margins (px) beside the plot


def line_chart(series: Mapping[str, Sequence[float]], title: str,
               size: tuple[int, int] = (800, 500), y_range: tuple[float, float] | None = None,
               colors: Mapping[str, Color] | None = None, x_span: float | None = None,
               x_label: str = "seconds",
               markers: Iterable[tuple[float, object]] = ()) -> np.ndarray:
    """series: name -> list of y values, evenly spread over 0..`x_span` (an axis with
    ticks labelled in `x_label`), or over their index when `x_span` is None.
    Returns a BGR image. `colors` (name -> BGR) lets a chart match colours used
    elsewhere, such as the emotion colours of the overlay. `markers`: (x, label)
    pairs, x in the axis' units, drawn as vertical lines (MARKER_COLOR) labelled
    above the plot; `marker_x` says at which pixel column."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = PLOT_LEFT, PLOT_RIGHT, 40, 70 if x_span else 40
    values = [v for ys in series.values() for v in ys if np.isfinite(v)]
    lo, hi = y_range or ((min(values), max(values)) if values else (0.0, 1.0))
    if hi <= lo:
        hi = lo + 1.0
    n = max((len(ys) for ys in series.values()), default=1)
    pw, ph = w - left - right, h - top - bottom

    def pt(i: int, v: float) -> tuple[int, int]:
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
    if x_span:
        for tick in _ticks(x_span):
            x = int(round(left + pw * tick / x_span))
            cv2.line(img, (x, top + ph), (x, top + ph + 5), (0, 0, 0), 1)
            text = f"{tick:g}"
            (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
            cv2.putText(img, text, (x - tw // 2, top + ph + 18), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4, (0, 0, 0), 1)
        cv2.putText(img, x_label, (left + pw // 2 - 25, top + ph + 36),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    span = x_span if x_span else max(n - 1, 1)
    for x_value, label in markers:
        x = marker_x(x_value, span, w)
        cv2.line(img, (x, top), (x, top + ph), MARKER_COLOR, 1)
        cv2.putText(img, str(label), (x + 3, top + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    MARKER_COLOR, 1)
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


def marker_x(x_value: float, span: float, width: int) -> int:
    """The pixel column of a marker at `x_value` on a line_chart `width` px wide whose
    axis spans 0..`span`: clamped to the plot."""
    pw = width - PLOT_LEFT - PLOT_RIGHT
    frac = min(max(float(x_value) / span, 0.0), 1.0) if span > 0 else 0.0
    return int(round(PLOT_LEFT + pw * frac))


def _ticks(span: float, most: int = 12) -> list[float]:
    """Round tick values from 0 to `span`: steps of 1, 2 or 5 times a power of ten."""
    raw = span / most
    power = 10 ** np.floor(np.log10(raw)) if raw > 0 else 1.0
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [round(k * step, 6) for k in range(int(span // step) + 1)]


def photo_chart(rows: npt.ArrayLike, names: Sequence[str], colors: Mapping[str, Color],
                title: str, width: int = 1200, row_height: int = 22,
                markers: Iterable[tuple[int, object]] = ()) -> np.ndarray:
    """One stacked bar per photo (the mean probabilities of its faces), labelled with
    its name: separate photos are not a line through time. rows: (N, 7) or NaN rows
    for photos without a face; names: the photos' names; colors: emotion -> BGR.
    `markers`: (row index, label) pairs, a line above that photo's row."""
    table = np.asarray(rows, np.float32).reshape(len(names), -1)
    left, top, legend = 260, 40, 30
    h = top + row_height * max(1, len(names)) + legend + 10
    img = np.full((h, width, 3), 255, np.uint8)
    cv2.putText(img, title, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
    bar_w = width - left - 20
    emotions = list(colors)
    for i, (name, probs) in enumerate(zip(names, table)):
        y = top + i * row_height
        label = name if len(name) <= 32 else name[:29] + "..."
        cv2.putText(img, label, (10, y + row_height - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1)
        if not np.all(np.isfinite(probs)):
            cv2.putText(img, "no face", (left, y + row_height - 7), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45, (120, 120, 120), 1)
            continue
        x = left
        total = float(probs.sum()) or 1.0
        for emotion, p in zip(emotions, probs):
            seg = int(round(bar_w * float(p) / total))
            if seg > 0:
                cv2.rectangle(img, (x, y + 3), (x + seg, y + row_height - 3), colors[emotion], -1)
            x += seg
    for index, mark in markers:
        y = top + min(max(int(index), 0), max(len(names) - 1, 0)) * row_height + 1
        cv2.line(img, (10, y), (width - 20, y), MARKER_COLOR, 1)
        cv2.putText(img, str(mark), (width - 18 - 8 * len(str(mark)), y + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, MARKER_COLOR, 1)
    for k, emotion in enumerate(emotions):
        x = left + k * 120
        y = h - legend + 5
        cv2.rectangle(img, (x, y), (x + 14, y + 14), colors[emotion], -1)
        cv2.putText(img, emotion, (x + 18, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return img
