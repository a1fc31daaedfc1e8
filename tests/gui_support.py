"""Helpers for the GUI tests: generated clips, a window on an isolated settings
file, fake cameras behind the window's source opener, and waits."""

from pathlib import Path

import cv2
import numpy as np
from PyQt5.QtCore import QSettings
from PyQt5.QtWidgets import QApplication

from app.gui.engine import VideoEngine
from app.gui.settings import Settings
from app.gui.window import MainWindow
from app.io import synthetic
from app.io.sources import CameraSource, open_source
from tests.fakes import FakeCamera

WAIT_MS = 20000   # generous: the machine may be busy; a hang still fails


def clip_recipe(frames: int = 60, fps: float = 30.0, expression="neutral", size=(640, 480)):
    """(faces, ClipSpec) of the test clips: a drawn face the cascade finds."""
    spec = synthetic.ClipSpec(frames=frames, fps=fps, width=size[0], height=size[1],
                              face_size=min(160, size[1] // 3))
    return [synthetic.drawn_face(spec.face_size, expression)], spec


def write_clip(path, frames: int = 60, fps: float = 30.0, expression="neutral",
               size=(640, 480)) -> Path:
    """A real MJPG .avi (see clip_recipe)."""
    synthetic.write_clip(path, *clip_recipe(frames, fps, expression, size))
    return Path(path)


def write_photos(folder, expressions=("neutral",) * 3, size=(480, 360), face: int = 140,
                 x0: int = 200, dx: int = 40) -> Path:
    """A folder of PNG photos p0, p1, ...: a drawn face per expression on the room
    background, each a little further right (at x0 + i * dx, half-way down)."""
    folder = Path(folder)
    folder.mkdir()
    bg = synthetic.background(*size)
    for i, expression in enumerate(expressions):
        frame = synthetic.paste_face(bg, synthetic.drawn_face(face, expression),
                                     (x0 + dx * i, size[1] // 2), face)
        assert cv2.imwrite(str(folder / f"p{i}.png"), frame)
    return folder


def write_image(path, size=(480, 360)) -> Path:
    """A still photo (PNG) of a drawn face on the room background."""
    bg = synthetic.background(*size)
    frame = synthetic.paste_face(bg, synthetic.drawn_face(120), (size[0] // 2, size[1] // 2),
                                 120)
    assert cv2.imwrite(str(path), frame)
    return Path(path)


def camera_opener(cameras=None, stall_timeout=1.0, **fake):
    """A source opener: digit specs open a CameraSource over FakeCamera(**fake)
    (or over cameras[index] options when `cameras` maps index -> options);
    anything else opens for real. `.made` lists the fake captures made."""
    return _CameraOpener(cameras, stall_timeout, fake)


class _CameraOpener:
    """camera_opener's opener: a callable that keeps the fake captures it made."""

    def __init__(self, cameras, stall_timeout, fake):
        self.cameras, self.stall_timeout, self.fake = cameras, stall_timeout, fake
        self.made = []

    def factory_for(self, index):
        options = dict(self.fake)
        if self.cameras is not None:
            options = self.cameras.get(int(index), {"opens": False})
        return FakeCamera.factory(**options)

    def __call__(self, spec, **size):
        if str(spec).isdigit():
            factory = self.factory_for(spec)
            try:
                return CameraSource(int(spec), capture_factory=factory,
                                    stall_timeout=self.stall_timeout, start_timeout=5.0,
                                    retry_delay=0.01, **size)
            finally:
                self.made.extend(factory.cameras)
        return open_source(spec)


def open_window(qtbot, tmp_path, opener=open_source, model_path=None, pipeline_factory=None,
                loop=False, settings_file=None, snapshot_dir=..., cameras=(), record_dir=None,
                feeds=None):
    """A shown MainWindow over a fresh engine; closed (threads stopped) at teardown.
    Snapshots go to tmp_path/snapshots unless `snapshot_dir` is given (None: the
    folder from the settings, as without --snapshots)."""
    settings = Settings(QSettings(str(settings_file or tmp_path / "settings.ini"),
                                  QSettings.Format.IniFormat))
    engine = VideoEngine(model_path=model_path, opener=opener, loop=loop,
                         pipeline_factory=pipeline_factory, feeds=feeds)
    window = MainWindow(engine, settings,
                        snapshot_dir=tmp_path / "snapshots" if snapshot_dir is ...
                        else snapshot_dir,
                        camera_lister=lambda: list(cameras), record_dir=record_dir)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    # Window shortcuts (Space, M, ...) need the active window; the offscreen
    # platform does not activate windows by itself.
    QApplication.setActiveWindow(window)
    return window


def wait_model(qtbot, window):
    qtbot.waitUntil(lambda: window.engine.processing.pipeline is not None, timeout=WAIT_MS)


def wait_frames(qtbot, window, count: int = 1, faces: bool = False):
    """Wait until `count` more frames (with a face, if asked) have been shown."""
    start = window.frames_with_faces if faces else window.frames_shown
    attr = "frames_with_faces" if faces else "frames_shown"
    qtbot.waitUntil(lambda: getattr(window, attr) >= start + count, timeout=WAIT_MS)


def wait_message(qtbot, window, *words):
    """Wait until the status bar message contains every one of `words`."""
    qtbot.waitUntil(lambda: all(w in window.status.message.text() for w in words), timeout=WAIT_MS)
    return window.status.message.text()


def threads_stopped(window) -> bool:
    """Every worker thread of the window has finished."""
    engine = window.engine
    threads = [engine.capture_thread, engine.processing_thread, engine.loader_thread,
               window.cameras.worker_thread, window.snapshots.worker_thread]
    return all(t is None or t.isFinished() for t in threads)


def view_pixels(window) -> np.ndarray:
    """What the video view shows right now, as BGR pixels (a grab of the widget)."""
    return widget_pixels(window.view)


def widget_pixels(widget) -> np.ndarray:
    """What `widget` shows right now, as BGR pixels (a grab of it)."""
    image = widget.grab().toImage().convertToFormat(4)  # QImage.Format_RGB32
    w, h = image.width(), image.height()
    ptr = image.constBits()
    ptr.setsize(image.bytesPerLine() * h)
    arr = np.frombuffer(ptr, np.uint8).reshape(h, image.bytesPerLine() // 4, 4)
    return arr[:, :w, :3].copy()
