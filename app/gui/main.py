"""`python main.py`: open the window, then the source, and load the model meanwhile.

The window is shown before anything slow happens: the model loads in the
processing thread and the source opens in the capture thread. Nothing here
imports TensorFlow (the classifier runs on LiteRT).
"""

import logging
import os
import signal
import sys
from typing import cast

from model.runtime.errors import UserError

log = logging.getLogger(__name__)


def use_pyqt_plugins():
    """Point Qt at PyQt5's own platform plugins.

    `import cv2` (opencv-python, not headless) sets QT_QPA_PLATFORM_PLUGIN_PATH to
    the Qt plugins bundled with OpenCV, built against another Qt; PyQt5 then
    fails to load its X11 ("xcb") plugin. Call before creating the QApplication.
    """
    from PyQt5.QtCore import QLibraryInfo

    ours = os.path.join(QLibraryInfo.location(QLibraryInfo.PluginsPath), "platforms")
    current = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH")
    if current != ours and os.path.isdir(ours):
        if current:
            log.debug("QT_QPA_PLATFORM_PLUGIN_PATH %s -> %s", current, ours)
        os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"] = ours


def check_display():
    """Qt aborts the whole process without a display; say so in one line instead."""
    if sys.platform.startswith("linux") and not any(
            os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        raise UserError("cannot open the window: no display (DISPLAY is not set). Run it "
                        "on a desktop, or annotate files without a window: "
                        "python main.py process --help")


def run_app(source=None, snapshots=None, model=None, loop: bool = False,
            exit_after: float = 0.0, stats_every: float = 0.0, record=None,
            osc=None, serve=None) -> int:
    """Open the window on `source` (None: the last source used, else camera 0).
    `osc` (HOST:PORT), `serve` ([HOST:]PORT): send the readings live (app.io.feeds),
    from the processing thread; a bad address or a port in use fails before the
    window opens."""
    import cv2  # noqa: F401 - imported first on purpose: it sets the variable we fix

    from app.io.feeds import Feeds

    check_display()
    feeds = Feeds.open(osc, serve)
    try:
        return _run_window(source, snapshots, model, loop, exit_after, stats_every,
                           record, feeds)
    finally:
        if feeds is not None:
            feeds.close()


def _run_window(source, snapshots, model, loop, exit_after, stats_every, record,
                feeds) -> int:
    use_pyqt_plugins()
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    from app.frozen import add_fonts_if_none
    from app.gui.engine import VideoEngine
    from app.gui.settings import Settings
    from app.gui.window import MainWindow

    # the instance there is the app's own QApplication (a test's, or one made here)
    app = cast(QApplication, QApplication.instance()) or QApplication(sys.argv[:1])
    add_fonts_if_none(app)        # the standalone app on a system without fonts
    app.setApplicationName("Emotion Detector")
    app.setWindowIcon(_icon())
    app.setOrganizationName("EmotionDetector")
    settings = Settings()
    engine = VideoEngine(model_path=model, loop=loop, feeds=feeds)
    window = MainWindow(engine, settings, snapshot_dir=snapshots, stats_every=stats_every,
                        record_dir=record)
    window.show()
    source = source if source is not None else settings.source

    def start() -> None:
        window.start_source(source)

    def close() -> None:
        window.close()

    QTimer.singleShot(0, start)
    QTimer.singleShot(0, window.cameras.refresh)
    if exit_after > 0:
        QTimer.singleShot(int(exit_after * 1000), close)
    _close_on_signals(window)
    code = app.exec_()
    log.debug("event loop ended (%d)", code)
    return code


def _icon():
    """The app's icon (the desktop entry's), drawn at start: no image file to ship."""
    import numpy as np
    from PyQt5.QtGui import QIcon, QImage, QPixmap

    from app.io.desktop_entry import icon_image

    bgra = np.ascontiguousarray(icon_image(128))
    # PyQt5's stubs leave out buffers, which QImage takes
    image = QImage(bgra.data, 128, 128, bgra.strides[0], QImage.Format_ARGB32)  # type: ignore[call-overload]
    image = image.copy()
    return QIcon(QPixmap.fromImage(image))


def _close_on_signals(window):
    """Ctrl+C / SIGTERM close the window like the close button (threads stopped,
    settings saved). The timer lets Python run its signal handlers."""
    from PyQt5.QtCore import QTimer

    def close(*_):
        window.close()

    signal.signal(signal.SIGINT, close)
    signal.signal(signal.SIGTERM, close)
    timer = window._signal_timer = QTimer(window)
    timer.setInterval(200)
    timer.timeout.connect(lambda: None)
    timer.start()
