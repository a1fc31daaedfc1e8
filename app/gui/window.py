"""The main window: it assembles the widgets and the pieces that drive them, and
connects their signals; each piece speaks by signals, none calls the window.

    engine (app.gui.engine) --results--> window (the view, the rates) and each
    piece (side panel, markers, baseline, ...), which takes from it what it needs
    sources (source_control) --starting, started--> the pieces: another source
    actions (actions) --> the pieces' slots; cameras --chosen--> window
    review_control (pause, seek, loop), option_control, model_control,
    record_control (the Record action; recorder writes the files), markers,
    the neutral baseline (baseline) --message--> status bar (status)
    snapshots and recordings: written by their own workers

Problems (no camera, a file that cannot be read, a model that does not load, a
snapshot folder that cannot be written) are shown in the status bar and over the
picture, never in a blocking dialog, and the window keeps working.
"""

import logging
import time

from PyQt5.QtCore import QSize, Qt, QTimer
from PyQt5.QtWidgets import QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from app.core.runstats import process_age, rss_mb
from app.gui.about import about_html, shortcuts_html
from app.gui.actions import WindowActions, shortcut_rows
from app.gui.baseline import NeutralBaseline
from app.gui.cameras import CameraChooser
from app.gui.markers import Markers
from app.gui.model_control import ModelControl
from app.gui.option_control import OptionControl
from app.gui.panel import SidePanel
from app.gui.record_control import RecordControl
from app.gui.recorder import FINISH_TIMEOUT, Recorder
from app.gui.review import ReviewControl
from app.gui.snapshot_writer import SnapshotWriter
from app.gui.source_control import SourceControl
from app.gui.status import StatusLine
from app.gui.widgets import ReviewBar, VideoView
from app.io.sources import list_cameras

log = logging.getLogger(__name__)

TITLE = "Emotion Detector"


class MainWindow(QMainWindow):
    """Shows what `engine` (an app.gui.engine.VideoEngine) produces and drives it."""

    def __init__(self, engine, settings, snapshot_dir=None, camera_lister=list_cameras,
                 stats_every: float = 0.0, record_dir=None):
        super().__init__()
        self.engine, self.settings = engine, settings
        self.last_result = None
        self.latency_ms = 0.0
        self.frames_shown = self.frames_with_faces = 0
        self.shown_at: float | None = None
        self._closing = False
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.view = VideoView()
        self.view.set_overlay("Starting…")
        self.panel = SidePanel()
        self.review = ReviewBar()
        self.acts = a = WindowActions(self)
        self.cameras = CameraChooser(self, camera_lister)
        self.recent_menu = a.build_menus(self.menuBar(), self.cameras)
        self.sensitivity = a.build_toolbar(self.addToolBar("Controls"), self.cameras.box)
        bar = self.statusBar()
        assert bar is not None              # (a main window makes its own)
        self.status = StatusLine(bar)
        self.recorder = Recorder(self)
        self.review_control = ReviewControl(engine, self.review, a, self.recorder, self)
        self.baseline = NeutralBaseline(self.panel, self.review_control, self)
        self.markers = Markers(self.recorder, self)
        self.snapshots = SnapshotWriter(snapshot_dir or settings.snapshot_dir,
                                        self.baseline, self.markers, self)
        self.option_control = OptionControl(a, self.sensitivity, settings, engine, self)
        self.model = ModelControl(engine, self.view, self.status, self.baseline, self)
        self.record_control = RecordControl(self.recorder, a.record, engine,
                                            self.review_control, self.snapshots,
                                            record_dir, self)
        self.sources = SourceControl(engine, settings, self.recent_menu, a, self)
        a.loop.setChecked(engine.loop)
        self._layout()
        self._connect()
        if settings.geometry is None or not self.restoreGeometry(settings.geometry):
            self.resize(1100, 700)
        self.view.setFocus()
        self._stats_timer = QTimer(self)
        self._stats_timer.setInterval(500)
        self._stats_timer.timeout.connect(self._update_stats)
        self._stats_timer.start()
        self._log_timer = QTimer(self)
        self._log_timer.setInterval(int(stats_every * 1000))
        self._log_timer.timeout.connect(self.log_stats)
        if stats_every > 0:
            self._log_timer.start()

    def _layout(self):
        self.panel.valence_button.setDefaultAction(self.acts.valence)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.view, 1)
        column.addWidget(self.review)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setCollapsible(0, False)
        self.setCentralWidget(splitter)

    def _connect(self):
        a, e, say = self.acts, self.engine, self.show_message
        for act, slot in (
                (a.start, self.sources.toggle), (a.open, lambda: self.sources.open_dialog(self)),
                (a.snapshot, self.take_snapshot),
                (a.folder, lambda: self.snapshots.choose_folder(self)),
                (a.model, lambda: self.model.choose(self)),
                (a.shipped_model, lambda: self.model.load(None)), (a.quit, self.close),
                (a.fullscreen, self.set_fullscreen), (a.shortcuts, self.show_shortcuts),
                (a.about, self.show_about), (a.refresh, self.cameras.refresh),
                (a.pause, self.review_control.set_paused),
                (a.loop, self.review_control.set_loop),
                (a.prev, lambda: self.review.step(-1)), (a.next, lambda: self.review.step(+1)),
                (a.record, self.record_control.set_recording),
                (a.measure_baseline, self.baseline.measure),
                (a.clear_baseline, self.baseline.clear), (a.valence, self.panel.set_valence),
                (a.marker_text, lambda: self.markers.ask_text(self))):
            (act.toggled if act.isCheckable() else act.triggered).connect(slot)
        for act in a.markers:
            act.triggered.connect(self._marker_adder(act.data()))
        self.cameras.chosen.connect(self.start_source)
        self.option_control.cameraSizeChanged.connect(self._reopen_camera)
        self._connect_source()
        for slot in (self._on_result, self.baseline.feed, self.panel.show_result,
                     self.review_control.shown, self.record_control.shown, self.markers.shown,
                     self.snapshots.shown):
            e.resultReady.connect(slot)
        e.processingFailed.connect(lambda text: say(text, error=True))
        e.position.connect(self.review.set_position)
        self.view.clicked.connect(self.panel.select_at)
        self.panel.highlight.connect(self.view.set_highlight)
        self.review_control.message.connect(say)
        self.review_control.seeked.connect(self.panel.seeked)
        for piece in (self.snapshots, self.baseline, self.markers, self.option_control,
                      self.record_control, self.sources):
            piece.message.connect(lambda text, error: say(text, error=error))
        self.baseline.prompt.connect(self.view.set_prompt)
        self.baseline.apply.connect(e.set_neutral_baseline)
        self.baseline.changed.connect(a.clear_baseline.setEnabled)
        self.markers.added.connect(self.panel.add_marker)
        self.markers.added.connect(e.add_marker)
        self.snapshots.folderChanged.connect(lambda f: setattr(self.settings, "snapshot_dir", f))

    def _connect_source(self):
        """The source's news: every piece starts afresh, then hears what it is."""
        src = self.sources
        for slot in (self.record_control.starting, self.baseline.starting,
                     self.review_control.reset, lambda: self.panel.reset(), self.markers.reset,
                     self.snapshots.starting, lambda spec: self.cameras.sync(spec, True)):
            src.starting.connect(slot)
        for slot in (self.review_control.started, self.panel.started,
                     self.record_control.started):
            src.started.connect(slot)
        src.over.connect(lambda why: self.record_control.stop(why))
        src.overlay.connect(self.view.set_overlay)
        src.title.connect(lambda name: self.setWindowTitle(f"{name} - {TITLE}"))

    def sizeHint(self):
        return QSize(1100, 700)

    # -------------------------------------------------------------- sources
    def start_source(self, spec):
        """Open a camera index or a file path (replacing the current source)."""
        self.sources.start(spec)

    @property
    def current_spec(self) -> str | None:
        return self.sources.spec

    def _reopen_camera(self):
        """A running camera opens again at once at the resolution chosen."""
        if self.current_spec and self.current_spec.isdigit():
            self.start_source(self.current_spec)

    # drag and drop: a video, an image or a folder dropped on the window opens it
    def dragEnterEvent(self, event):
        if self._dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event):
        path = self._dropped_path(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.start_source(path)

    @staticmethod
    def _dropped_path(mime):
        urls = [u for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        return urls[0].toLocalFile() if urls else None

    # --------------------------------------------------------------- frames
    def _on_result(self, result):
        self.last_result = result
        self.frames_shown += 1
        self.frames_with_faces += bool(result.detections)
        self.latency_ms = (time.monotonic() - result.posted) * 1000.0
        self.view.set_image(result.image)

    # ------------------------------------------------------------- snapshots
    def take_snapshot(self) -> bool:
        """Save the picture now shown, in the snapshot thread; False if there is none."""
        return self.snapshots.take()

    # ------------------------------------------------------ view, help, status
    def set_fullscreen(self, on: bool):
        self.showFullScreen() if on else self.showNormal()

    def show_shortcuts(self):
        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_html(shortcut_rows(self)))

    def show_about(self):
        QMessageBox.about(self, f"About {TITLE}", about_html(TITLE, self.engine.run_info()))

    def show_message(self, text: str, error: bool = False):
        self.status.show(text, error)

    def stats_values(self) -> dict:
        faces = len(self.last_result.detections) if self.last_result else 0
        return {**self.engine.stats(), "latency_ms": self.latency_ms, "faces": faces}

    def _update_stats(self):
        self.status.show_recording(self.recorder)
        self.status.feed_label.setText(self.engine.feed_status())
        self.status.show_rates(self.stats_values())

    def log_stats(self):
        """One line for long runs: memory, rates, and where the picture is in the window."""
        s = self.stats_values()
        rect = self.view.target_rect()
        pos = self.view.mapTo(self, rect.topLeft())
        log.info("stats rss_mb=%.1f capture_fps=%.1f processing_fps=%.1f latency_ms=%.0f "
                 "faces=%d shown=%d with_faces=%d dropped=%d view=%d,%d,%d,%d",
                 rss_mb(), s["capture_fps"], s["processing_fps"], s["latency_ms"], s["faces"],
                 self.frames_shown, self.frames_with_faces, s["dropped"],
                 pos.x(), pos.y(), rect.width(), rect.height())

    def _marker_adder(self, number):
        """A slot adding marker `number` (triggered's checked flag aside)."""
        return lambda _=False: self.markers.add(number)

    # --------------------------------------------------------------- events
    def showEvent(self, event):
        super().showEvent(event)
        if self.shown_at is None:
            self.shown_at = time.monotonic()
            log.info("window shown %.2f s after launch", process_age())

    def closeEvent(self, event):
        if not self._closing:
            self._closing = True
            started = time.monotonic()
            self._stats_timer.stop()
            self._log_timer.stop()
            self.baseline.stop()
            self.settings.geometry = self.saveGeometry()
            self.settings.sync()
            self.engine.shutdown()
            self.record_control.stop(wait=FINISH_TIMEOUT)
            self.snapshots.stop()
            self.cameras.stop()
            log.info("stopped in %.2f s", time.monotonic() - started)
        event.accept()
