"""Cut a face out of a frame the way FER-2013 faces were cut, as 48x48 grayscale.

FER-2013 crops are close to the Haar cascade's own box: on upscaled FER faces the
cascade returns a box 0.97 times the crop's side, centred on it (median of 157
faces), so the crop is the box grown by `FER_MARGIN` per side. Parts of the crop
outside the frame are filled by repeating the edge, so a face at the border keeps
its proportions instead of being stretched.
"""

from collections.abc import Sequence

import cv2
import numpy as np

from app.nouns import Box
from model.runtime.preprocess import to_gray48

FER_MARGIN = 0.02


def crop_box(box: Box, margin: float = FER_MARGIN) -> Box:
    """The square crop (x, y, side, side) around a face box, grown by `margin` per side."""
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * margin)
    cx, cy = x + w / 2, y + h / 2
    s = max(1, int(round(side)))
    return int(round(cx - s / 2)), int(round(cy - s / 2)), s, s


def crop_face(gray: np.ndarray, box: Box, margin: float = FER_MARGIN) -> np.ndarray:
    """uint8 (48, 48) face crop from a grayscale (or BGR) frame."""
    x, y, w, h = crop_box(box, margin)
    H, W = gray.shape[:2]
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {tuple(box)} lies outside the {W}x{H} frame")
    patch = gray[y0:y1, x0:x1]
    pads = (y0 - y, (y + h) - y1, x0 - x, (x + w) - x1)
    if any(pads):
        patch = cv2.copyMakeBorder(patch, *pads, cv2.BORDER_REPLICATE)
    return to_gray48(patch)


def crop_tilted(gray: np.ndarray, box: Box, angle: float, margin: float = FER_MARGIN) -> np.ndarray:
    """uint8 (48, 48) crop of a head tilted by `angle` degrees (counter-clockwise in
    the picture), turned upright."""
    x, y, side, _ = crop_box(box, margin)
    cx, cy = x + side / 2, y + side / 2
    m = cv2.getRotationMatrix2D((cx, cy), -angle, 1.0)   # turn at full size, then
    m[:, 2] += np.array((side / 2 - cx, side / 2 - cy))  # shrink as crop_face does
    patch = cv2.warpAffine(gray, m, (side, side), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    return to_gray48(patch)


def crop_faces(gray: np.ndarray, boxes: Sequence[Box], margin: float = FER_MARGIN,
               angles: Sequence[float] | None = None) -> np.ndarray:
    """All faces of a frame as one uint8 (N, 48, 48) batch; `angles`: tilt per face."""
    if not boxes:
        return np.zeros((0, 48, 48), np.uint8)
    angles = angles or [0.0] * len(boxes)
    return np.stack([crop_tilted(gray, b, a, margin) if a else crop_face(gray, b, margin)
                     for b, a in zip(boxes, angles)])
