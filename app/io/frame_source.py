"""What every source is: `FrameSource` (`read()` -> a BGR uint8 frame, or None at
the end), the one error a source raises (`SourceError`, one line naming it), the
frame rate taken when a video states none, and OpenCV's own log lines silenced."""

import contextlib
import threading
from collections.abc import Iterator
from typing import TypeVar

import cv2
import numpy as np

from model.runtime.errors import UserError

# The frame rate taken for a video that states none: 30 fps, the usual webcam and
# phone rate. Written once; every frame time and video writer use `frame_rate`.
DEFAULT_FPS = 30.0


def frame_rate(fps: float | None) -> float:
    """A source's frames per second, DEFAULT_FPS when it states none."""
    return fps or DEFAULT_FPS


class SourceError(UserError):
    """A source cannot be opened or stopped giving frames; the message names it."""


_Source = TypeVar("_Source", bound="FrameSource")


class FrameSource:
    """Base: `read()` -> BGR uint8 frame, or None when the source has ended."""

    name: str = ""
    fps: float | None = None
    frame_count: int | None = None
    is_live: bool = False
    still: bool = False     # separate still pictures: no time axis between frames

    def __init__(self) -> None:
        self.frames_read = 0
        self._closed = False

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True

    def __enter__(self: _Source) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[np.ndarray]:
        while (frame := self.read()) is not None:
            yield frame

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_previous = 0     # OpenCV's log level before the outermost quiet_opencv


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log lines (probing cameras, opening bad files)."""
    global _quiet_depth, _quiet_previous
    logging_mod = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_mod is None:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_previous = logging_mod.getLogLevel()
            logging_mod.setLogLevel(logging_mod.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logging_mod.setLogLevel(_quiet_previous)


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Gray / BGR / BGRA, 8 / 16 bit / float -> BGR uint8 (alpha blended over white)."""
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        scale = 255.0 if float(np.nanmax(img)) <= 1.0 else 1.0
        img = np.clip(np.nan_to_num(img) * scale, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        return cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32)
        blended: np.ndarray = (rgb * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
        return blended
    if img.shape[2] == 2:  # gray + alpha
        return to_bgr8(cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR))
    bgr: np.ndarray = np.ascontiguousarray(img[:, :, :3])
    return bgr
