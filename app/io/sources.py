"""Where frames come from: cameras, video files, still images, folders of images.

Every source hands out BGR uint8 frames from `read()` and says `None` when it has
ended normally (a video played to its end, the last image of a folder). Anything
that goes wrong - a camera that does not exist, returns nothing, is unplugged or
stalls; a corrupt, truncated, empty or non-media file - raises `SourceError`
with one line that names the source, so callers can show it as it is.

`open_source` picks the kind; the files are read here, cameras in `app.io.cameras`,
and what every source shares is in `app.io.frame_source`.
"""

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.io.cameras import CameraSource as CameraSource
from app.io.cameras import Capture
from app.io.cameras import list_cameras as list_cameras  # (the window lists them)
from app.io.frame_source import FrameSource as FrameSource  # what every source is
from app.io.frame_source import SourceError as SourceError  # and what it raises
from app.io.frame_source import quiet_opencv, to_bgr8
from model.runtime.image_files import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

# Video files the app offers to open and a batch takes from a folder (OpenCV and
# PyAV read others too; these are the common ones).
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

# FFmpeg (inside OpenCV) prints its own lines for every damaged file ("moov atom
# not found", "overread 8"); the SourceError messages say it in one line instead.
# Read by OpenCV when it first opens a video; the user's own setting wins.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


def open_source(spec: int | np.integer | str | os.PathLike[str],
                **options: Any) -> FrameSource:   # options: CameraSource's keywords
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

def load_image(path: str | Path) -> np.ndarray:
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


class ImageSource(FrameSource):
    """One still image: one frame, then the end."""

    still = True

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        self.frame_count = 1
        self._image: np.ndarray | None = load_image(self.path)
        self.current_path = self.path

    def read(self) -> np.ndarray | None:
        if self._closed or self.frames_read >= 1 or self._image is None:
            return None
        self.frames_read = 1
        image: np.ndarray = self._image.copy()
        return image

    def close(self) -> None:
        super().close()
        self._image = None


class ImageFolderSource(FrameSource):
    """The images of a folder in name order; unreadable ones are skipped with a warning."""

    def __init__(self, folder: str | Path) -> None:
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

    def seek(self, index: int) -> None:
        """Read picture number `index` (0-based, clamped) next."""
        self._next = min(max(0, int(index)), len(self.paths) - 1)

    def read(self) -> np.ndarray | None:
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

    def __init__(self, path: str | Path,
                 capture_factory: Callable[[str], Capture | None] | None = None) -> None:
        super().__init__()
        self.path = Path(path)
        self.name = self.path.name
        factory = capture_factory or _open_video
        with quiet_opencv():
            self._cap = cap = factory(str(self.path))
            ok = cap is not None and cap.isOpened()
            first = cap.read() if cap is not None and ok else (False, None)
        if cap is None or not ok or not first[0] or first[1] is None:
            self._release()
            raise SourceError(f"{self.path}: not a video or image OpenCV can read, "
                              "or the file is corrupt")
        self._pending: np.ndarray | None = first[1]
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else None
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self.current_path = self.path

    def read(self) -> np.ndarray | None:
        if self._closed or self._cap is None:
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
        bgr: np.ndarray = to_bgr8(frame) if frame.dtype != np.uint8 or frame.ndim != 3 else frame
        return bgr

    def seek(self, frame: int) -> None:
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

    def _check_complete(self) -> None:
        expected = self.frame_count
        if expected and expected - self.frames_read > max(3, self.SHORT_TOLERANCE * expected):
            raise SourceError(f"{self.path}: the video breaks off after {self.frames_read} "
                              f"of {expected} frames (truncated or corrupt)")

    def _release(self) -> None:
        cap: Capture | None = getattr(self, "_cap", None)
        self._cap = None
        if cap is not None:
            with contextlib.suppress(Exception):
                cap.release()

    def close(self) -> None:
        super().close()
        self._pending = None
        self._release()


def _open_video(path: str) -> Capture:
    return cv2.VideoCapture(path, cv2.CAP_ANY)
