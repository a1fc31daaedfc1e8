"""The main window: it assembles the widgets and the pieces that drive them, and
connects their signals; each piece speaks by signals, none calls the window.

    engine (app.gui.engine) --results, news--> window --> view, side panel (panel)
    actions (actions) --> the pieces' slots; cameras --chosen--> window
    review (pause, seek, loop), options, model_control, recording, markers,
    the neutral baseline (baseline) --message--> status bar (status)
    snapshots and recordings: written by their own workers

Problems (no camera, a file that cannot be read, a model that does not load, a
snapshot folder that cannot be written) are shown in the status bar and over the
picture, never in a blocking dialog, and the window keeps working.
"""

import logging
import time
from pathlib import Path

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
from app.gui.recorder import FINISH_TIMEOUT, Recorder
from app.gui.recording import RecordControl
from app.gui.review import ReviewControl
from app.gui.snapshot_writer import SnapshotWriter
from app.gui.source_control import SourceControl
from app.gui.status import StatusLine
from app.gui.widgets import ReviewBar, VideoView
from app.io.sources import list_cameras
from app.nouns import Marker

log = logging.getLogger(__name__)

TITLE = "Emotion Detector"


class MainWindow(QMainWindow):
    """Shows what `engine` (an app.gui.engine.VideoEngine) produces and drives it."""

    def __init__(self, engine, settings, snapshot_dir=None, camera_lister=list_cameras,
                 stats_every: float = 0.0, record_dir=None):
        super().__init__()
        self.engine, self.settings = engine, settings
        # --record DIR: record every source from its start; else Record goes to the
        # snapshot folder
        self.record_dir = Path(record_dir) if record_dir else None
        self.last_result = None
        self.latency_ms = 0.0
        self.frames_shown = self.frames_with_faces = 0
        self.shown_at = None
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
        self.status = StatusLine(self.statusBar())
        self.recorder = Recorder(self)
        self.snapshots = SnapshotWriter(snapshot_dir or settings.snapshot_dir, self)
        self.baseline = NeutralBaseline(self)
        self.markers = Markers(self.recorder, self)
        self.playback = ReviewControl(engine, self.review, a, self.panel, self.recorder, self)
        self.options = OptionControl(a, self.sensitivity, settings, engine, self)
        self.model = ModelControl(engine, self.view, self.status, self.baseline, self)
        self.recording = RecordControl(self.recorder, a.record, engine, self.playback, self)
        self.sources = SourceControl(engine, settings, self.recent_menu, a, self)
        a.loop.setChecked(engine.loop)
        self._layout()
        self._connect()
        if settings.geometry is None or not self.restoreGeometry(settings.geometry):
            self.resize(1100, 700)
        self.view.setFocus()
        self._stats_timer = QTimer(self, interval=500, timeout=self._update_stats)
        self._stats_timer.start()
        self._log_timer = QTimer(self, interval=int(stats_every * 1000), timeout=self.log_stats)
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
        splitter = QSplitter(Qt.Horizontal)
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
                (a.pause, self.playback.set_paused), (a.loop, self.playback.set_loop),
                (a.prev, lambda: self.review.step(-1)), (a.next, lambda: self.review.step(+1)),
                (a.record, self.set_recording), (a.measure_baseline, self.measure_baseline),
                (a.clear_baseline, self.baseline.clear), (a.valence, self.panel.set_valence),
                (a.marker_text, self.add_text_marker)):
            (act.toggled if act.isCheckable() else act.triggered).connect(slot)
        for act in a.markers:
            act.triggered.connect(lambda _=False, n=act.data(): self.add_marker(n))
        self.cameras.chosen.connect(self.start_source)
        self.options.cameraSizeChanged.connect(self._reopen_camera)
        src = self.sources
        for slot in (lambda: self.recording.stop(), self.baseline.stop, self.playback.reset,
                     lambda: self.panel.reset(), self.markers.reset,
                     lambda spec: self.cameras.sync(spec, True)):
            src.starting.connect(slot)
        src.started.connect(self.playback.started)
        src.started.connect(self._record_from_the_start)
        src.over.connect(lambda why: self.recording.stop(why))
        src.overlay.connect(self.view.set_overlay)
        src.title.connect(lambda name: self.setWindowTitle(f"{name} - {TITLE}"))
        e.resultReady.connect(self._on_result)
        e.processingFailed.connect(lambda text: say(text, error=True))
        e.position.connect(self.review.set_position)
        self.view.clicked.connect(self._select_at)
        self.panel.highlight.connect(self.view.set_highlight)
        self.playback.message.connect(say)
        for piece in (self.snapshots, self.baseline, self.markers, self.options,
                      self.recording, src):
            piece.message.connect(lambda text, error: say(text, error=error))
        self.baseline.prompt.connect(self.view.set_prompt)
        self.baseline.apply.connect(e.set_neutral_baseline)
        self.baseline.changed.connect(a.clear_baseline.setEnabled)
        self.markers.added.connect(self._on_marker_added)
        self.snapshots.folderChanged.connect(lambda f: setattr(self.settings, "snapshot_dir", f))

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

    def _record_from_the_start(self, info):
        """--record: every source is recorded from its start."""
        if self.record_dir is not None and not self.recorder.active:
            self.acts.record.setChecked(True)

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
        size = self.playback.camera_size_news(result)
        if size:
            self.show_message(size)
        self.view.set_image(result.image)
        self.baseline.feed(result)
        self.panel.show_faces(result.detections, self.panel.timeline_time(result.frame))
        self.playback.shown(result)
        if self.recorder.active:
            self.recorder.add(result.annotated, result.detections, result.time, result.work_s)

    def _select_at(self, x, y):
        if self.last_result is not None:
            self.panel.select_at(self.last_result.detections, x, y,
                                 self.panel.timeline_time(self.last_result.frame))

    # ------------------------------------ markers, neutral baseline, recording
    def add_marker(self, number: int, text: str = "") -> Marker | None:
        """Mark the moment shown (keys 1..9: `number`): see app.gui.markers."""
        return self.markers.add(number, text, self.markers.moment(self.last_result))

    def add_text_marker(self):
        self.markers.ask_text(self, self.last_result, lambda: self.sources.spec)

    def _on_marker_added(self, marker, frame):
        self.panel.timeline.add_marker(self.panel.timeline_time(frame), marker)
        self.engine.add_marker(marker)

    def measure_baseline(self):
        """Calibrate neutral on the followed (or largest) face: app.gui.baseline."""
        result = self.last_result
        det = self.panel.shown_face(result.detections) if result is not None else None
        which = "selected" if self.panel.is_selected(det) else "largest"
        self.baseline.measure(result, det, which, self.playback.still,
                              self.sources.label)

    def set_recording(self, on: bool):
        if on:
            self.recording.start(self.record_dir or self.snapshots.folder,
                                 self.sources.label)
        else:
            self.recording.stop()

    # ------------------------------------------------------------- snapshots
    def take_snapshot(self) -> bool:
        """Save the picture now shown, in the snapshot thread; False if there is none."""
        return self.snapshots.take(self.last_result, self.sources.label,
                                   self.baseline.record, self.markers.last)

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
            self.recording.stop(wait=FINISH_TIMEOUT)
            self.snapshots.stop()
            self.cameras.stop()
            log.info("stopped in %.2f s", time.monotonic() - started)
        event.accept()
