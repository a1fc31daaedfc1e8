"""Which source the window shows: open one (a camera index, a video, an image, a
folder of photos), stop it and start it again, the recent list; and what the
engine's news of it means (shown, ended, failed).

It drives the engine and speaks by signals: `starting` (the other pieces start
afresh), `started` (its news, a dict), `over` (it ended or stopped: None, or why it
failed), and the texts for the status bar, the picture and the title.
"""

import logging
import os
from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import QFileDialog

from app.core.playback import SourceNews
from app.io.sources import VIDEO_SUFFIXES
from model.runtime.image_files import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

VIDEO_FILTER = ("Videos and images ("
                + " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))
                + ");;All files (*)")


def short_name(spec) -> str:
    """How a source spec reads in messages: 'camera 0' or the file name."""
    spec = str(spec or "")
    return f"camera {spec}" if spec.isdigit() else Path(spec).name


def source_label(spec) -> str:
    """How snapshots and recordings name a source: 'camera 0' or the path."""
    spec = str(spec or "")
    return f"camera {spec}" if spec.isdigit() else spec


class SourceControl(QObject):
    """The source now shown (`spec`: a camera index or an absolute path; None before
    the first), opened through `engine`, remembered in `settings`; `recent_menu` lists
    the files opened last; `actions`' Start/Stop says what it will do."""

    starting = pyqtSignal(str)
    started = pyqtSignal(object)
    over = pyqtSignal(object)
    message = pyqtSignal(str, bool)          # text, whether it is an error
    overlay = pyqtSignal(str)                # over the picture ("" : none)
    title = pyqtSignal(str)                  # the source's name, for the window's title

    def __init__(self, engine, settings, recent_menu, actions, parent=None):
        super().__init__(parent)
        self.engine, self.settings, self.recent_menu, self.acts = \
            engine, settings, recent_menu, actions
        self.spec: str | None = None
        engine.sourceEvent.connect(self._on_news)
        self.fill_recent()

    def start(self, spec):
        """Open a camera index or a file path (replacing the current source)."""
        spec = str(spec).strip()
        if not spec.isdigit():   # remembered as given from any folder next time
            spec = os.path.abspath(os.path.expanduser(spec))
            self.settings.add_recent(spec)
            self.fill_recent()
        self.spec = spec
        self.starting.emit(spec)
        self.title.emit(short_name(spec))
        self.overlay.emit(f"Opening {short_name(spec)}…")
        self.message.emit(f"Opening {short_name(spec)}…", False)
        self.engine.start(spec)
        self.acts.show_running(True)

    def toggle(self):
        """Stop the source, or start it again."""
        if self.engine.running:
            self.engine.stop()
            self.message.emit(f"Stopped {short_name(self.spec)}", False)
            self.acts.show_running(False)
            self.over.emit(None)
        elif self.spec is not None:
            self.start(self.spec)

    def open_dialog(self, parent):
        spec = self.spec
        start = str(Path(spec).parent) if spec and not spec.isdigit() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(parent, "Open a video or image", start,
                                              VIDEO_FILTER)
        if path:
            self.start(path)

    def fill_recent(self):
        self.recent_menu.clear()
        for path in self.settings.recent:
            act = self.recent_menu.addAction(Path(path).name or path)
            act.setToolTip(path)
            act.triggered.connect(lambda _=False, p=path: self.start(p))
        self.recent_menu.setEnabled(bool(self.settings.recent))

    def _on_news(self, kind: SourceNews, payload):
        if kind is SourceNews.STARTED:
            self.overlay.emit("")
            self.settings.source = self.spec
            fps = f", {payload['fps']:.0f} fps" if payload.get("fps") else ""
            self.message.emit(f"Showing {payload['name']}{fps}", False)
            self.started.emit(payload)
            return
        self.acts.show_running(False)
        self.over.emit(payload if kind is SourceNews.FAILED else None)
        if kind is SourceNews.STILL:
            self.message.emit(f"Showing {payload}", False)
        elif kind is SourceNews.ENDED:
            self.message.emit(f"{payload}. Start (Ctrl+R) plays it again; "
                              "or choose a camera or open a file.", False)
        else:
            self.message.emit(payload, True)
            self.overlay.emit(f"{payload}\n\nChoose a camera, or open a video or "
                              "image (Ctrl+O).")
            log.warning("source %s: %s", short_name(self.spec), payload)
