"""Cameras: `CameraSource` (a read that can stall is made in a helper thread and
given up after `stall_timeout`; a camera unplugged mid-stream is tried again, then
reported), the capture API of each system, and the list of cameras that open.
Tests drive it with a fake capture through `capture_factory` (see `tests/fakes.py`)."""

import concurrent.futures
import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import cv2
import numpy as np

from app.io.frame_source import FrameSource, SourceError, quiet_opencv, to_bgr8

log = logging.getLogger(__name__)

_T = TypeVar("_T")


class Capture(Protocol):
    """What a camera is read through: cv2.VideoCapture, or a test's fake."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...     # (ok, a frame, or None or anything when not ok)
    def set(self, prop: int, value: float) -> bool: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[int], "Capture | None"]


class _DaemonWorker:
    """One daemon thread running submitted calls in order.

    Not a ThreadPoolExecutor: its workers are joined at interpreter exit, so a
    read stuck in a driver would keep the program from quitting.
    """

    def __init__(self, name: str) -> None:
        # (future, the call, its arguments) or None: stop
        self._jobs: queue.SimpleQueue[
            tuple[concurrent.futures.Future[Any], Callable[..., Any], tuple[Any, ...]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., _T], *args: Any) -> concurrent.futures.Future[_T]:
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._jobs.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = False) -> None:
        self._jobs.put(None)
        if wait:
            self._thread.join()

    def _loop(self) -> None:
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

    def __init__(self, index: int, capture_factory: CaptureFactory | None = None,
                 stall_timeout: float = 5.0, start_timeout: float = 10.0,
                 max_failures: int = 10, retry_delay: float = 0.05,
                 width: int | None = None, height: int | None = None) -> None:
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
        self._cap: Capture | None
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

    def read(self) -> np.ndarray | None:
        if self._closed:
            return None
        if self._broken:
            raise SourceError(self._broken)
        deadline = self.start_timeout if self.frames_read == 0 else self.stall_timeout
        cap = self._cap
        assert cap is not None       # set until closed
        while True:
            future = self._pool.submit(cap.read)
            try:
                ok, frame = future.result(timeout=deadline)
            except concurrent.futures.TimeoutError:
                self._fail(f"{self.name}: stalled, no frame for {deadline:g} s")
            except Exception as exc:  # noqa: BLE001 - a driver error ends the camera
                self._fail(f"{self.name}: read failed ({exc})")
            if ok and frame is not None and frame.size:
                self._failures = 0
                self.frames_read += 1
                bgr: np.ndarray = frame if frame.dtype == np.uint8 and frame.ndim == 3 \
                    else to_bgr8(frame)
                return bgr
            self._failures += 1
            if self._failures >= self.max_failures:
                if self.frames_read == 0:
                    self._fail(f"{self.name}: opens but returns no frames")
                self._fail(f"{self.name}: stopped giving frames after {self.frames_read} "
                           "frames (unplugged?)")
            time.sleep(self.retry_delay)

    def _fail(self, message: str) -> NoReturn:
        self._broken = message
        raise SourceError(message)

    def close(self) -> None:
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


def _open_camera(index: int) -> Capture:
    return cv2.VideoCapture(index, camera_backend())


def _open_capture(factory: CaptureFactory, index: int, width: int | None,
                  height: int | None) -> Capture | None:
    with quiet_opencv():
        cap = factory(index)
        if cap is None or not cap.isOpened():
            _release(cap)
            return None
        if width and height:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    return cap


def _get(cap: Capture, prop: int) -> float | None:
    try:
        return cap.get(prop)
    except Exception:  # noqa: BLE001 - fakes may not implement get()
        return None


def _release(cap: Capture | None) -> None:
    if cap is not None:
        with contextlib.suppress(Exception):
            cap.release()


def list_cameras(max_index: int = 5,
                 capture_factory: CaptureFactory | None = None) -> list[int]:
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
