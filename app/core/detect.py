"""Face detection with OpenCV's Haar frontal-face cascade, full-frame and near a face.

A full-frame scan costs tens of milliseconds at webcam resolution, most of it in
the smallest window sizes, so it runs on a downscaled frame (the smallest face
wanted maps to the cascade's 24-pixel window) and the pipeline runs it only now
and then, with the faces it already follows blanked out. In between, each known
face is looked for in a small region around its last box, resized so that the
face is a few dozen pixels wide, first at its last size only: half a millisecond
or less. Boxes always come back in the pixels of the frame given.
"""

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from app.core.config import DEFAULTS, MIN_FACE_FLOOR
from app.nouns import Box
from model.runtime.errors import ModelError

log = logging.getLogger(__name__)

CASCADE_FILE = "haarcascade_frontalface_default.xml"
WINDOW = MIN_FACE_FLOOR   # the cascade's native window (pixels)
ROI_FACE = 60        # face width the region around a known face is resized to
# Searches near a known face, cheapest first: (pyramid step, smallest and largest
# face size looked for, relative to its last box). The time goes into the windows on
# the face itself, which pass many cascade stages: about 0.3 ms a pyramid level at
# ROI_FACE. So the face is looked for at its last size (one level), then at the two
# sizes beside it (5% smaller and larger), and only when both miss over 0.6-1.6 times
# its size (five levels: a face that moved towards or away from the camera).
NEAR_SEARCHES = ((1.2, 0.9, 1.1), (1.1, 0.9, 1.1), (1.2, 0.6, 1.6))
# A full scan blanks the faces found near their last box this frame (each box grown
# by this share of its size a side): it only looks for new faces, and the windows on
# a face cost most of a scan (about 6.5 -> 2.4 ms on a 640x360 frame with one face).
KNOWN_FACE_MARGIN = 0.2
# Head tilts tried, in order, when the upright search near a known face fails: the
# frontal cascade finds faces tilted up to about 10 degrees, so these cover 0-40.
TILT_ANGLES = (15.0, -15.0, 30.0, -30.0)


def cascade_path() -> Path:
    # cv2's stubs leave out its cv2.data module
    return Path(cv2.data.haarcascades) / CASCADE_FILE  # type: ignore[attr-defined]


def load_cascade(path: str | Path | None = None) -> cv2.CascadeClassifier:
    file = Path(path) if path else cascade_path()
    cascade = cv2.CascadeClassifier(str(file)) if file.is_file() else None
    if cascade is None or cascade.empty():
        raise ModelError(f"cannot load the face detector {file} (is opencv-python "
                         "installed completely?)")
    return cascade


class Cascade(Protocol):
    """What searches an image for faces (cv2.CascadeClassifier)."""

    def detectMultiScale(self, image: np.ndarray, scaleFactor: float = ...,
                         minNeighbors: int = ..., flags: int = ...,
                         minSize: tuple[int, int] = ...,
                         maxSize: tuple[int, int] = ...) -> Sequence[Sequence[int]]: ...


class FaceDetector:
    """Haar-cascade face finder; `sensitivity` 0..1 trades false faces for missed ones."""

    def __init__(self, sensitivity: float = DEFAULTS.sensitivity,
                 min_face: int = DEFAULTS.min_face, max_scan_side: int = DEFAULTS.max_scan_side,
                 roi_margin: float = 0.4,
                 cascade: Cascade | None = None) -> None:
        self.cascade: Cascade = cascade if cascade is not None else load_cascade()
        self.sensitivity = sensitivity
        self.min_face = min_face
        self.max_scan_side = max_scan_side
        self.roi_margin = roi_margin

    @property
    def sensitivity(self) -> float:
        return self._sensitivity

    @sensitivity.setter
    def sensitivity(self, value: float) -> None:
        value = float(np.clip(value, 0.0, 1.0))
        self._sensitivity = value
        # 0 -> strict (7 neighbours, coarse pyramid); 1 -> lenient (2, fine pyramid).
        self.min_neighbors = int(round(7 - 5 * value))
        self.scale_factor = 1.2 - 0.1 * value

    def scan_scale(self, shape: tuple[int, ...]) -> float:
        """Downscale for a full scan: min_face -> 24 px, longest side <= max_scan_side."""
        longest = max(shape[:2])
        return min(1.0, WINDOW / max(self.min_face, WINDOW), self.max_scan_side / longest)

    def full_scan(self, gray: np.ndarray, known: Sequence[Box] = ()) -> list[Box]:
        """All faces in a grayscale frame, as (x, y, w, h) in that frame's pixels,
        but those in the `known` boxes (faces already found in it), which are blanked."""
        scale = self.scan_scale(gray.shape)
        if min(gray.shape[:2]) * scale < WINDOW:
            return []                                  # smaller than any face we look for
        small = gray if scale == 1.0 else cv2.resize(
            gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if len(known):
            small = _blanked(small, [_scale_box(b, scale) for b in known])
        found = self.cascade.detectMultiScale(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(WINDOW, WINDOW))
        return [_scale_box(b, 1.0 / scale) for b in found]

    def near(self, gray: np.ndarray, box: Box) -> Box | None:
        """The face closest to `box` within a margin around it, or None if gone."""
        x, y, w, h = box
        m = self.roi_margin
        x0, y0 = max(0, int(x - m * w)), max(0, int(y - m * h))
        x1 = min(gray.shape[1], int(x + w + m * w))
        y1 = min(gray.shape[0], int(y + h + m * h))
        if x1 - x0 < WINDOW or y1 - y0 < WINDOW:
            return None
        scale = ROI_FACE / max(w, 1)
        roi = gray[y0:y1, x0:x1]
        if scale != 1.0:
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
            roi = cv2.resize(roi, None, fx=scale, fy=scale, interpolation=interp)
        found: Sequence[Sequence[int]] = ()
        for search in NEAR_SEARCHES:                   # cheapest first
            found = self._search(roi, search)
            if len(found):
                break
        if len(found) == 0:
            return None
        cx, cy = (x + w / 2 - x0) * scale, (y + h / 2 - y0) * scale
        best = min(found, key=lambda b: (b[0] + b[2] / 2 - cx) ** 2 + (b[1] + b[3] / 2 - cy) ** 2)
        bx, by, bw, bh = _scale_box(best, 1.0 / scale)
        return bx + x0, by + y0, bw, bh


    def near_rotated(self, gray: np.ndarray, box: Box,
                     angles: Iterable[float] = TILT_ANGLES) -> tuple[Box, float] | None:
        """A tilted face near `box`: (box, tilt) for the first head tilt in `angles`
        (degrees, counter-clockwise in the picture) at which the region, turned back
        by it, shows an upright face; None if none does.

        The region around the face is rotated and scaled in one warp, searched like
        `near`, and the face's centre mapped back into the frame. The box is the
        upright face's size around that centre; `crop_face` cuts it along the angle."""
        x, y, w, h = box
        if w < 1 or h < 1:
            return None
        cx, cy = x + w / 2, y + h / 2
        scale = ROI_FACE / max(w, 1)
        side = int(round(max(w, h) * (1 + 2 * self.roi_margin) * scale))
        turned: dict[float, np.ndarray] = {}
        # each search at every tilt before the next, wider one: the cheap search at
        # the right tilt costs less than the wide one at the first tilt tried
        for search, angle in ((s, a) for s in NEAR_SEARCHES for a in angles):
            m = _rotation(cx, cy, -angle, scale, side)   # turn the head upright
            if angle not in turned:
                turned[angle] = cv2.warpAffine(gray, m, (side, side), flags=cv2.INTER_LINEAR,
                                               borderMode=cv2.BORDER_REPLICATE)
            found = self._search(turned[angle], search)
            if len(found) == 0:
                continue
            bx, by, bw, bh = min(found, key=lambda b: (b[0] + b[2] / 2 - side / 2) ** 2
                                 + (b[1] + b[3] / 2 - side / 2) ** 2)
            back = cv2.invertAffineTransform(m)
            fx, fy = back @ np.array([bx + bw / 2, by + bh / 2, 1.0])
            s = max(bw, bh) / scale
            return (int(round(fx - s / 2)), int(round(fy - s / 2)), int(round(s)),
                    int(round(s))), float(angle)
        return None

    def _search(self, roi: np.ndarray,
                search: tuple[float, float, float]) -> Sequence[Sequence[int]]:
        """Faces in a region whose known face is ROI_FACE wide, for one of NEAR_SEARCHES."""
        step, lo, hi = search
        lo, hi = max(WINDOW, int(ROI_FACE * lo)), int(ROI_FACE * hi)
        return self.cascade.detectMultiScale(
            roi, scaleFactor=step, minNeighbors=max(2, self.min_neighbors - 1),
            minSize=(lo, lo), maxSize=(hi, hi))


def _blanked(gray: np.ndarray, boxes: Iterable[Box]) -> np.ndarray:
    """A copy of `gray` with each box, grown by KNOWN_FACE_MARGIN a side, filled with
    its own mean: no face left there, and no strong edge for the cascade to take for one."""
    out: np.ndarray = gray.copy()
    for x, y, w, h in boxes:
        mx, my = int(w * KNOWN_FACE_MARGIN), int(h * KNOWN_FACE_MARGIN)
        patch = out[max(0, y - my):max(0, y + h + my), max(0, x - mx):max(0, x + w + mx)]
        if patch.size:
            patch[...] = int(patch.mean())
    return out


def _rotation(cx: float, cy: float, angle: float, scale: float, side: int) -> np.ndarray:
    """The affine map that turns the frame by `angle` degrees about (cx, cy), scales
    it by `scale` and puts (cx, cy) at the centre of a `side`-pixel square."""
    m: np.ndarray = cv2.getRotationMatrix2D((cx, cy), angle, scale)
    m[:, 2] += np.array((side / 2 - cx, side / 2 - cy))
    return m


def _scale_box(box: Sequence[float], factor: float) -> Box:
    x, y, w, h = (float(v) * factor for v in box)
    return int(round(x)), int(round(y)), int(round(w)), int(round(h))
