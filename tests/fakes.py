"""A fake camera for tests: a `cv2.VideoCapture` look-alike that fails on demand.

Use it through `CameraSource(index, capture_factory=FakeCamera.factory(...))`
(or `open_source(0, capture_factory=...)`). It serves real frames (a generated
room with a drawn face moving across it, or frames you give), and can refuse to
open, return no frames, stop after N frames (unplugged) or block (stalled).
"""

import functools
import threading
import time

import cv2
import numpy as np

from app.io import synthetic


@functools.lru_cache(maxsize=8)
def face_frames(count: int = 30, width: int = 640, height: int = 480, seed: int = 0):
    """`count` BGR frames of a drawn face moving slowly across a room (shared: the
    fake hands out copies)."""
    spec = synthetic.ClipSpec(frames=count, width=width, height=height,
                              face_size=min(160, height // 3), seed=seed)
    face = synthetic.drawn_face(spec.face_size)
    frames = tuple(frame for frame, _ in synthetic.clip_frames([face], spec))
    for frame in frames:
        frame.setflags(write=False)
    return frames


class _CameraFactory:
    """FakeCamera.factory's capture_factory: `make(index)` for each camera opened."""

    def __init__(self, make):
        self.make = make
        self.cameras = []

    def __call__(self, index):
        cam = self.make(index)
        self.cameras.append(cam)
        return cam


class FakeCamera:
    """Behaves like an opened (or not) cv2.VideoCapture.

    frames: list of BGR frames served in a loop (default: `face_frames()`).
    fail_after: after this many frames every read fails (camera unplugged).
    no_frames: opens, but every read fails.
    opens: False = isOpened() is False (no such camera).
    stall_after: after this many frames read() blocks until release() (or `stall_for` s).
    realtime: sleep 1/fps before each frame, like a real camera.
    """

    def __init__(self, frames=None, fail_after=None, no_frames=False, opens=True,
                 stall_after=None, stall_for: float = 3600.0, fps: float = 30.0,
                 realtime: bool = False, index: int = 0):
        self.frames = frames if frames is not None else face_frames()
        self.fail_after = fail_after
        self.no_frames = no_frames
        self.opens = opens
        self.stall_after = stall_after
        self.stall_for = stall_for
        self.fps = fps
        self.realtime = realtime
        self.index = index
        self.reads = 0          # read() calls
        self.served = 0         # frames handed out
        self.released = False
        self.size: tuple[int, int] | None = None   # (w, h) asked for with set(); frames
        #                                              are resized to it
        self._unblock = threading.Event()

    @classmethod
    def factory(cls, **options):
        """A capture_factory: index -> FakeCamera(**options); `.cameras` lists those made."""
        return _CameraFactory(lambda index: cls(index=index, **options))

    def isOpened(self):  # noqa: N802 - the cv2.VideoCapture name
        return self.opens and not self.released

    def read(self):
        self.reads += 1
        if self.released or not self.opens or self.no_frames:
            return False, None
        if self.stall_after is not None and self.served >= self.stall_after:
            self._unblock.wait(self.stall_for)
            return False, None
        if self.fail_after is not None and self.served >= self.fail_after:
            return False, None
        if self.realtime:
            time.sleep(1.0 / self.fps)
        frame = self.frames[self.served % len(self.frames)].copy()
        if self.size and self.size[0] and self.size[1]:
            frame = cv2.resize(frame, self.size)
        self.served += 1
        return True, frame

    def get(self, prop):
        h, w = self.frames[0].shape[:2] if self.frames else (0, 0)
        return {cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FRAME_WIDTH: w,
                cv2.CAP_PROP_FRAME_HEIGHT: h}.get(prop, 0.0)

    def set(self, prop, value):
        """Like a webcam that offers any size it is asked for."""
        w, h = self.size or (0, 0)
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            self.size = (int(value), h)
        elif prop == cv2.CAP_PROP_FRAME_HEIGHT:
            self.size = (w, int(value))
        else:
            return False
        return True

    def release(self):
        self.released = True
        self._unblock.set()


def blank_frame(width: int = 640, height: int = 480) -> np.ndarray:
    return np.full((height, width, 3), 127, np.uint8)
