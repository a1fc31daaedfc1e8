"""Where frames come from: cameras, video files, still images, folders of images.

Every source hands out BGR uint8 frames from `read()` and says `None` when it has
ended normally (a video played to its end, the last image of a folder). Anything
that goes wrong - a camera that does not exist, returns nothing, is unplugged or
stalls; a corrupt, truncated, empty or non-media file - raises `SourceError`
with one line that names the source, so callers can show it as it is.

Stalls: a camera's `read()` can block for ever inside OpenCV, so `CameraSource`
reads in a helper thread and gives up after `stall_timeout` seconds (the stuck
thread is left to die with the capture). Tests drive `CameraSource` with a fake
capture through `capture_factory` (see `tests/fakes.py`).
"""

import concurrent.futures
import contextlib
import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from model.runtime.errors import UserError
from model.runtime.image_files import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

# Video files the app offers to open and a batch takes from a folder (OpenCV and
# PyAV read others too; these are the common ones).
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

# FFmpeg (inside OpenCV) prints its own lines for every damaged file ("moov atom
# not found", "overread 8"); the SourceError messages say it in one line instead.
# Read by OpenCV when it first opens a video; the user's own setting wins.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")



# The frame rate taken for a video that states none: 30 fps, the usual webcam and
# phone rate. Written once; every frame time and video writer use `frame_rate`.
DEFAULT_FPS = 30.0


def frame_rate(fps: float | None) -> float:
    """A source's frames per second, DEFAULT_FPS when it states none."""
    return fps or DEFAULT_FPS


class SourceError(UserError):
    """A source cannot be opened or stopped giving frames; the message names it."""


class FrameSource:
    """Base: `read()` -> BGR uint8 frame, or None when the source has ended."""

    name: str = ""
    fps: float | None = None
    frame_count: int | None = None
    is_live: bool = False
    still: bool = False     # separate still pictures: no time axis between frames

    def __init__(self):
        self.frames_read = 0
        self._closed = False

    def read(self) -> np.ndarray | None:
        raise NotImplementedError

    def close(self):
        self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        while (frame := self.read()) is not None:
            yield frame

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


def open_source(spec, **options) -> FrameSource:
    """A camera index (int or "0"), or the path of a video, image or folder of images."""
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec), **options)
    path = Path(os.fspath(spec)).expanduser()
    if path.is_dir():
        return ImageFolderSource(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if not path.is_file():
        raise SourceError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: the file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: permission denied")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(path)
    return VideoSource(path)


# --------------------------------------------------------------------- images

def load_image(path) -> np.ndarray:
    """Read any image OpenCV decodes (also non-ASCII paths) as BGR uint8."""
    path = Path(path)
    try:
        buf = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if buf.size == 0:
        raise SourceError(f"{path}: the file is empty (0 bytes)")
    # JPEGs (no alpha, 8 bit) decode as colour so their EXIF orientation is applied
    # (phone photos); everything else unchanged, to keep alpha and 16-bit depth.
    jpeg = path.suffix.lower() in {".jpg", ".jpeg", ".jpe"}
    with quiet_opencv():
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR if jpeg else cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise SourceError(f"{path}: not an image OpenCV can read, or corrupt")
    return to_bgr8(img)


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
        return (rgb * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    if img.shape[2] == 2:  # gray + alpha
        return to_bgr8(cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR))
    return np.ascontiguousarray(img[:, :, :3])


class ImageSource(FrameSource):
    """One still image: one frame, then the end."""

    still = True

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self.frame_count = 1
        self._image = load_image(self.path)
        self.current_path = self.path

    def read(self):
        if self._closed or self.frames_read >= 1:
            return None
        self.frames_read = 1
        return self._image.copy()

    def close(self):
        super().close()
        self._image = None


class ImageFolderSource(FrameSource):
    """The images of a folder in name order; unreadable ones are skipped with a warning."""

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)
        self.name = self.folder.name or str(self.folder)
        try:
            entries = sorted(p for p in self.folder.iterdir()
                             if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        except OSError as exc:
            raise SourceError(f"{self.folder}: cannot list folder ({exc.strerror})") from exc
        if not entries:
            raise SourceError(f"{self.folder}: no images in this folder")
        self.paths = entries
        self.frame_count = len(entries)
        self.skipped: list[tuple[Path, str]] = []
        self.current_path: Path | None = None
        self._next = 0

    photos = True   # separate pictures: shown one at a time, nothing carried between them
    still = True

    def seek(self, index: int):
        """Read picture number `index` (0-based, clamped) next."""
        self._next = min(max(0, int(index)), len(self.paths) - 1)

    def read(self):
        while not self._closed and self._next < len(self.paths):
            path = self.paths[self._next]
            self._next += 1
            try:
                frame = load_image(path)
            except SourceError as exc:
                log.warning("skipped %s", exc)
                self.skipped.append((path, str(exc)))
                continue
            self.current_path = path
            self.frames_read += 1
            return frame
        if self.frames_read == 0 and self.skipped:
            raise SourceError(f"{self.folder}: none of its {len(self.paths)} images "
                              f"could be read")
        return None


# --------------------------------------------------------------------- videos

class VideoSource(FrameSource):
    """A video file. Ends with None; a file that breaks off early raises SourceError."""

    # Containers' frame counts can be estimates (duration x rate), so a video may
    # end a little short of its count; more than this many frames short is damage.
    SHORT_TOLERANCE = 0.05

    def __init__(self, path, capture_factory=None):
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        factory = capture_factory or (lambda p: cv2.VideoCapture(p, cv2.CAP_ANY))
        with quiet_opencv():
            self._cap = factory(str(self.path))
            ok = self._cap is not None and self._cap.isOpened()
            first = self._cap.read() if ok else (False, None)
        if not ok or not first[0] or first[1] is None:
            self._release()
            raise SourceError(f"{self.path}: not a video or image OpenCV can read, "
                              "or the file is corrupt")
        self._pending = first[1]
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self.current_path = self.path

    def read(self):
        if self._closed:
            return None
        if self._pending is not None:
            frame, self._pending = self._pending, None
        else:
            with quiet_opencv():
                ok, frame = self._cap.read()
            if not ok or frame is None:
                self._check_complete()
                return None
        self.frames_read += 1
        return to_bgr8(frame) if frame.dtype != np.uint8 or frame.ndim != 3 else frame

    def seek(self, frame: int):
        """Continue from frame number `frame` (0-based; clamped to the video)."""
        if self._closed or self._cap is None:
            return
        if self.frame_count:
            frame = min(frame, self.frame_count - 1)
        frame = max(0, int(frame))
        with quiet_opencv():
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
        self._pending = None
        self.frames_read = frame   # the frames before it count as read (end-of-file check)

    def _check_complete(self):
        expected = self.frame_count
        if expected and expected - self.frames_read > max(3, self.SHORT_TOLERANCE * expected):
            raise SourceError(f"{self.path}: the video breaks off after {self.frames_read} "
                              f"of {expected} frames (truncated or corrupt)")

    def _release(self):
        cap, self._cap = getattr(self, "_cap", None), None
        if cap is not None:
            with contextlib.suppress(Exception):
                cap.release()

    def close(self):
        super().close()
        self._pending = None
        self._release()


# -------------------------------------------------------------------- cameras

class _DaemonWorker:
    """One daemon thread running submitted calls in order.

    Not a ThreadPoolExecutor: its workers are joined at interpreter exit, so a
    read stuck in a driver would keep the program from quitting.
    """

    def __init__(self, name: str):
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn, *args) -> concurrent.futures.Future:
        future = concurrent.futures.Future()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = False):
        self._jobs.put(None)
        if wait:
            self._thread.join()

    def _loop(self):
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)


class CameraSource(FrameSource):
    """A live camera, read in a helper thread so that a stalled camera cannot hang us.

    `read()` raises SourceError when the camera gives no first frame within
    `start_timeout`, fails `max_failures` reads in a row, `retry_delay` s apart
    (no frames at all, or unplugged), or a read takes longer than `stall_timeout`
    seconds (stalled). It never returns None. `capture_factory(index)` makes the
    capture object (default: cv2.VideoCapture); tests pass a fake.
    """

    CLOSE_WAIT = 1.0   # seconds close() waits for the camera to be released

    def __init__(self, index: int, capture_factory=None, stall_timeout: float = 5.0,
                 start_timeout: float = 10.0, max_failures: int = 10,
                 retry_delay: float = 0.05, width=None, height=None):
        super().__init__()
        self.index = int(index)
        self.name = f"camera {self.index}"
        self.is_live = True
        self.stall_timeout = stall_timeout
        self.start_timeout = start_timeout
        self.max_failures = max_failures
        self.retry_delay = retry_delay
        self._failures = 0
        self._broken: str | None = None
        self._pool = _DaemonWorker(f"camera{self.index}")
        factory = capture_factory or _open_camera
        future = self._pool.submit(_open_capture, factory, self.index, width, height)
        try:
            self._cap = future.result(timeout=start_timeout)
        except concurrent.futures.TimeoutError:
            self._cap = None
            self._pool.shutdown(wait=False)
            raise SourceError(f"camera {self.index}: did not open within "
                              f"{start_timeout:g} s") from None
        if self._cap is None:
            self._pool.shutdown(wait=False)
            raise SourceError(f"camera {self.index}: cannot open it (no such camera, "
                              "or another program is using it)")
        fps = _get(self._cap, cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None

    def read(self):
        if self._closed:
            return None
        if self._broken:
            raise SourceError(self._broken)
        deadline = self.start_timeout if self.frames_read == 0 else self.stall_timeout
        while True:
            future = self._pool.submit(self._cap.read)
            try:
                ok, frame = future.result(timeout=deadline)
            except concurrent.futures.TimeoutError:
                self._fail(f"{self.name}: stalled, no frame for {deadline:g} s")
            except Exception as exc:  # noqa: BLE001 - a driver error ends the camera
                self._fail(f"{self.name}: read failed ({exc})")
            if ok and frame is not None and frame.size:
                self._failures = 0
                self.frames_read += 1
                return frame if frame.dtype == np.uint8 and frame.ndim == 3 else to_bgr8(frame)
            self._failures += 1
            if self._failures >= self.max_failures:
                if self.frames_read == 0:
                    self._fail(f"{self.name}: opens but returns no frames")
                self._fail(f"{self.name}: stopped giving frames after {self.frames_read} "
                           "frames (unplugged?)")
            time.sleep(self.retry_delay)

    def _fail(self, message: str):
        self._broken = message
        raise SourceError(message)

    def close(self):
        if self._closed:
            return
        super().close()
        cap, self._cap = self._cap, None
        if cap is not None:
            # Release in the reader thread, after any read in progress, so the
            # camera is free again when close() returns. A stalled read keeps that
            # daemon thread; the release then happens if the read ever returns.
            done = self._pool.submit(_release, cap)
            try:
                done.result(timeout=self.CLOSE_WAIT)
            except concurrent.futures.TimeoutError:
                log.warning("%s: still blocked; it is released when it returns", self.name)
        self._pool.shutdown(wait=False)


def camera_backend(platform: str = sys.platform) -> int:
    """The capture API each system's cameras are meant to be opened with: Video4Linux2,
    Media Foundation (Windows 10 and later; DirectShow drivers are bridged to it) and
    AVFoundation; CAP_ANY elsewhere (OpenCV then tries what it was built with)."""
    if platform.startswith("linux"):
        return cv2.CAP_V4L2
    if platform == "win32":
        return cv2.CAP_MSMF
    if platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_ANY


def _open_camera(index):
    return cv2.VideoCapture(index, camera_backend())


def _open_capture(factory, index, width, height):
    with quiet_opencv():
        cap = factory(index)
        if cap is None or not cap.isOpened():
            _release(cap)
            return None
        if width and height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    return cap


def _get(cap, prop):
    try:
        return cap.get(prop)
    except Exception:  # noqa: BLE001 - fakes may not implement get()
        return None


def _release(cap):
    if cap is not None:
        with contextlib.suppress(Exception):
            cap.release()


def list_cameras(max_index: int = 5, capture_factory=None) -> list[int]:
    """Indexes 0..max_index-1 of cameras that open and give a frame (quietly)."""
    found = []
    for index in range(max_index):
        if capture_factory is None and sys.platform.startswith("linux") \
                and not Path(f"/dev/video{index}").exists():
            continue
        with quiet_opencv():
            cap = (capture_factory or _open_camera)(index)
            try:
                if cap is not None and cap.isOpened() and cap.read()[0]:
                    found.append(index)
            finally:
                _release(cap)
    return found


_quiet_lock = threading.Lock()
_quiet_depth = 0


@contextlib.contextmanager
def quiet_opencv():
    """Silence OpenCV's own log lines (probing cameras, opening bad files)."""
    global _quiet_depth
    logging_mod = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_mod is None:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            quiet_opencv.previous = logging_mod.getLogLevel()
            logging_mod.setLogLevel(logging_mod.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                logging_mod.setLogLevel(quiet_opencv.previous)
