"""The main window: it assembles the widgets and the pieces that drive them, and
connects their signals.

    engine (app.gui.engine)  --results, news-->  window  --> view, side panel, status
    actions (app.gui.actions) --> window's slots; cameras (app.gui.cameras) --chosen-->
    neutral baseline (app.gui.baseline), markers (app.gui.markers): they speak by signals
    snapshots and recordings: written by their own workers

Problems (no camera, a file that cannot be read, a model that does not load, a
snapshot folder that cannot be written) are shown in the status bar and over the
picture, never in a blocking dialog, and the window keeps working.
"""

import datetime as dt
import logging
import os
import time
from pathlib import Path

from PyQt5.QtCore import QSize, Qt, QTimer
from PyQt5.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QVBoxLayout, QWidget

from app.core.runstats import process_age, rss_mb
from app.gui.about import about_html, shortcuts_html
from app.gui.actions import WindowActions, shortcut_rows
from app.gui.baseline import NeutralBaseline
from app.gui.cameras import CameraChooser
from app.gui.markers import Markers
from app.gui.panel import SidePanel
from app.gui.recorder import FINISH_TIMEOUT, Recorder
from app.gui.review import ReviewControl
from app.gui.snapshot_writer import SnapshotWriter
from app.gui.status import StatusLine
from app.gui.widgets import ReviewBar, VideoView
from app.io.sources import VIDEO_SUFFIXES, list_cameras
from model.runtime.classifier import MODEL_TYPES
from model.runtime.image_files import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

TITLE = "Emotion Detector"
VIDEO_FILTER = ("Videos and images ("
                + " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))
                + ");;All files (*)")
MODEL_FILTER = "Models (" + " ".join(f"*{t}" for t in MODEL_TYPES) + ");;All files (*)"
SENSITIVITY_STEP = 10


def short_name(spec) -> str:
    """How a source spec reads in messages: 'camera 0' or the file name."""
    spec = str(spec or "")
    return f"camera {spec}" if spec.isdigit() else Path(spec).name


def source_label(spec) -> str:
    """How snapshots and recordings name a source: 'camera 0' or the path."""
    spec = str(spec or "")
    return f"camera {spec}" if spec.isdigit() else spec


class MainWindow(QMainWindow):
    """Shows what `engine` (an app.gui.engine.VideoEngine) produces and drives it."""

    def __init__(self, engine, settings, snapshot_dir=None, camera_lister=list_cameras,
                 stats_every: float = 0.0, record_dir=None):
        super().__init__()
        self.engine = engine
        self.settings = settings
        # --record DIR: record every source from its start; else Record goes to the
        # snapshot folder
        self.record_dir = Path(record_dir) if record_dir else None
        self.recorder = Recorder(self)
        self.snapshots = SnapshotWriter(
            Path(snapshot_dir) if snapshot_dir else settings.snapshot_dir, self)
        # (folder, summary) of the last recording saved; read by what drives the window
        # from outside (the tests), not by the window itself
        self.last_recording = None
        self.current_spec = None
        self.last_result = None
        self.latency_ms = 0.0
        self.frames_shown = 0
        self.frames_with_faces = 0
        self.shown_at = None
        self.model_name = ""           # the file name of the model in use
        self._model_asked = False      # the user asked for another model
        self._closing = False

        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.view = VideoView()
        self.view.set_overlay("Starting…")
        self.panel = SidePanel()
        self.review = ReviewBar()
        self.acts = WindowActions(self)
        self.cameras = CameraChooser(self, camera_lister)
        self.recent_menu = self.acts.build_menus(self.menuBar(), self.cameras)
        self.sensitivity = self.acts.build_toolbar(self.addToolBar("Controls"),
                                                   self.cameras.box)
        self.status = StatusLine(self.statusBar())
        self.baseline = NeutralBaseline(self)
        self.markers = Markers(self.recorder, self)
        self.playback = ReviewControl(engine, self.review, self.acts, self.panel,
                                      self.recorder, self)
        self._layout()
        self._fill_recent()
        self._restore(settings)
        self._connect()
        self.view.setFocus()

        self._stats_timer = QTimer(self, interval=500, timeout=self._update_stats)
        self._stats_timer.start()
        self._log_timer = QTimer(self, interval=int(stats_every * 1000), timeout=self.log_stats)
        if stats_every > 0:
            self._log_timer.start()

    # ------------------------------------------------------------- building
    def _layout(self):
        self.acts.valence.setParent(self)
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

    def _restore(self, settings):
        a = self.acts
        a.loop.setChecked(self.engine.loop)
        self.engine.set_camera_size(settings.camera_size)
        for act in a.resolutions.actions():
            act.setChecked(act.data() == settings.camera_size)
        a.mirror.setChecked(settings.mirror)
        a.smoothing.setChecked(settings.smoothing)
        self.sensitivity.setValue(int(round(settings.sensitivity * 100)))
        self.engine.set_options(smoothing=settings.smoothing, mirror=settings.mirror,
                                sensitivity=settings.sensitivity)
        geometry = settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 700)

    def _connect(self):
        a, e, show = self.acts, self.engine, self.show_message
        for act, slot in (
                (a.start, self.toggle_running), (a.open, self.open_file_dialog),
                (a.snapshot, self.take_snapshot), (a.folder, self.choose_snapshot_dir),
                (a.model, self.choose_model), (a.shipped_model, lambda: self.load_model(None)),
                (a.quit, self.close), (a.fullscreen, self.set_fullscreen),
                (a.shortcuts, self.show_shortcuts), (a.about, self.show_about),
                (a.mirror, self.set_mirror), (a.smoothing, self.set_smoothing),
                (a.more, lambda: self._step_sensitivity(+1)),
                (a.less, lambda: self._step_sensitivity(-1)),
                (a.refresh, self.refresh_cameras), (a.pause, self.playback.set_paused),
                (a.prev, lambda: self.review.step(-1)), (a.next, lambda: self.review.step(+1)),
                (a.loop, self.playback.set_loop), (a.record, self.set_recording),
                (a.measure_baseline, self.measure_baseline),
                (a.clear_baseline, self.baseline.clear), (a.valence, self.panel.set_valence),
                (a.marker_text, self.add_text_marker)):
            (act.toggled if act.isCheckable() else act.triggered).connect(slot)
        for act in a.markers:
            act.triggered.connect(lambda _=False, n=act.data(): self.add_marker(n))
        a.resolutions.triggered.connect(lambda act: self.set_camera_size(act.data()))
        self.cameras.chosen.connect(self.start_source)
        e.sourceEvent.connect(self._on_source_event)
        e.resultReady.connect(self._on_result)
        e.modelLoaded.connect(self._on_model_loaded)
        e.modelFailed.connect(self._on_model_failed)
        e.processingFailed.connect(lambda msg: show(msg, error=True))
        e.position.connect(self.review.set_position)
        self.sensitivity.valueChanged.connect(self.set_sensitivity)
        self.view.clicked.connect(self._select_at)
        self.panel.highlight.connect(self.view.set_highlight)
        self.playback.message.connect(show)
        self.snapshots.message.connect(lambda text, error: show(text, error=error))
        self.recorder.saved.connect(self._on_recording_saved)
        self.recorder.failed.connect(self._on_recording_failed)
        self.baseline.message.connect(lambda text, error: show(text, error=error))
        self.baseline.prompt.connect(self.view.set_prompt)
        self.baseline.apply.connect(e.set_neutral_baseline)
        self.baseline.changed.connect(a.clear_baseline.setEnabled)
        self.markers.message.connect(lambda text, error: show(text, error=error))
        self.markers.added.connect(self._on_marker_added)

    def sizeHint(self):
        return QSize(1100, 700)

    # -------------------------------------------------------------- sources
    def start_source(self, spec):
        """Open a camera index or a file path (replacing the current source)."""
        spec = str(spec).strip()
        if not spec.isdigit():   # remembered as given from any folder next time
            spec = os.path.abspath(os.path.expanduser(spec))
            self.settings.add_recent(spec)
            self._fill_recent()
        self._stop_recording()
        self.baseline.stop()
        self.playback.reset()
        self.current_spec = spec
        self.setWindowTitle(f"{short_name(spec)} - {TITLE}")
        self.panel.reset()
        self.markers.reset()
        self.view.set_overlay(f"Opening {short_name(spec)}…")
        self.show_message(f"Opening {short_name(spec)}…")
        self.cameras.sync(spec, True)
        self.engine.start(spec)
        self.acts.show_running(True)

    def toggle_running(self):
        if self.engine.running:
            self.engine.stop()
            self.show_message(f"Stopped {short_name(self.current_spec)}")
            self.acts.show_running(False)
            self._stop_recording()
        elif self.current_spec is not None:
            self.start_source(self.current_spec)

    def open_file_dialog(self):
        spec = self.current_spec
        start = str(Path(spec).parent) if spec and not spec.isdigit() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a video or image", start, VIDEO_FILTER)
        if path:
            self.start_source(path)

    def _on_source_event(self, kind, payload):
        if kind == "started":
            self.view.set_overlay("")
            self.settings.source = self.current_spec
            self.playback.started(payload)
            fps = f", {payload['fps']:.0f} fps" if payload.get("fps") else ""
            self.show_message(f"Showing {payload['name']}{fps}")
            if self.record_dir is not None and not self.recorder.active:
                self.acts.record.setChecked(True)
            return
        self.acts.show_running(False)
        self._stop_recording(payload if kind == "failed" else None)
        if kind == "still":
            self.show_message(f"Showing {payload}")
        elif kind == "ended":
            self.show_message(f"{payload}. Start (Ctrl+R) plays it again; "
                              "or choose a camera or open a file.")
        else:
            self.show_message(payload, error=True)
            self.view.set_overlay(f"{payload}\n\nChoose a camera, or open a video or "
                                  "image (Ctrl+O).")
            log.warning("source %s: %s", short_name(self.current_spec), payload)

    def _fill_recent(self):
        self.recent_menu.clear()
        for path in self.settings.recent:
            act = self.recent_menu.addAction(Path(path).name or path)
            act.setToolTip(path)
            act.triggered.connect(lambda _=False, p=path: self.start_source(p))
        self.recent_menu.setEnabled(bool(self.settings.recent))

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

    def refresh_cameras(self):
        self.cameras.refresh()

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
        result = self.last_result
        if result is not None:
            self.panel.select_at(result.detections, x, y, self.panel.timeline_time(result.frame))

    # ------------------------------------------------ markers, neutral baseline
    def add_marker(self, number: int, text: str = "") -> dict | None:
        """Mark the moment shown (keys 1..9: `number`): see app.gui.markers."""
        return self.markers.add(number, text, self.markers.moment(self.last_result))

    def add_text_marker(self):
        self.markers.ask_text(self, self.last_result, lambda: self.current_spec)

    def _on_marker_added(self, marker, frame):
        self.panel.timeline.add_marker(self.panel.timeline_time(frame), marker["number"],
                                       marker["text"])
        self.engine.add_marker(frame.time, frame.number, marker["number"], marker["text"])

    def measure_baseline(self):
        """Calibrate neutral on the followed (or largest) face: app.gui.baseline."""
        result = self.last_result
        det = self.panel.shown_face(result.detections) if result is not None else None
        which = "selected" if self.panel.is_selected(det) else "largest"
        self.baseline.measure(result, det, which, self.playback.still,
                              source_label(self.current_spec))

    # ------------------------------------------------------------- recording
    def set_recording(self, on: bool):
        """Start or stop recording the running source (the Record action)."""
        if not on or self.recorder.active:
            return self._stop_recording() if not on else None
        info = self.playback.info
        if not self.engine.running or not info:
            self.acts.record.setChecked(False)
            self.show_message("Nothing to record: start a camera or a video first", error=True)
            return
        folder = self.recorder.start(self.record_dir or self.snapshots.folder,
                                     info.get("name") or "session", info.get("fps"),
                                     source_label(self.current_spec))
        self.recorder.set_paused(self.acts.pause.isChecked())
        self.show_message(f"Recording into {folder}")

    def _stop_recording(self, stopped=None, wait: float = 0.0):
        if self.recorder.active:
            self.recorder.stop(stopped, wait)
        if self.acts.record.isChecked():
            self.acts.record.blockSignals(True)
            self.acts.record.setChecked(False)
            self.acts.record.blockSignals(False)

    def _on_recording_saved(self, folder, summary):
        self.last_recording = (folder, summary)
        skipped = self.recorder.skipped
        note = f"; {skipped} frames not recorded (the disk was too slow)" if skipped else ""
        self.show_message(f"Recording saved in {folder}: {summary['frames']} frames, "
                          f"{summary['faces']} faces{note}")

    def _on_recording_failed(self, message):
        self._stop_recording(message)
        self.show_message(message, error=True)

    # ------------------------------------------------------------- snapshots
    def take_snapshot(self) -> bool:
        """Save the picture now shown, in the snapshot thread; False if there is none."""
        return self.snapshots.take(self.last_result, source_label(self.current_spec),
                                   self.baseline.record, self.markers.last)

    def choose_snapshot_dir(self):
        folder = QFileDialog.getExistingDirectory(self, "Snapshot folder",
                                                  str(self.snapshots.folder))
        if folder:
            self.set_snapshot_dir(folder)

    def set_snapshot_dir(self, folder):
        """Use `folder` from now on (remembered); saves a snapshot that failed before."""
        self.settings.snapshot_dir = str(folder)
        self.snapshots.set_folder(folder)

    # ------------------------------------------------------------- settings
    def set_mirror(self, on: bool):
        self.settings.mirror = on
        self.engine.set_options(mirror=on)

    def set_smoothing(self, on: bool):
        self.settings.smoothing = on
        self.engine.set_options(smoothing=on)

    def set_sensitivity(self, value: int):
        self.settings.sensitivity = value / 100.0
        self.engine.set_options(sensitivity=value / 100.0)
        self.show_message(f"Detector sensitivity {value}%")

    def _step_sensitivity(self, direction: int):
        self.sensitivity.setValue(self.sensitivity.value() + direction * SENSITIVITY_STEP)

    def set_fullscreen(self, on: bool):
        self.showFullScreen() if on else self.showNormal()

    def show_shortcuts(self):
        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_html(shortcut_rows(self)))

    def show_about(self):
        QMessageBox.about(self, f"About {TITLE}", about_html(TITLE, self.model_name))

    def set_camera_size(self, size):
        """Ask cameras for `size` (width, height), or None for their own; a running
        camera opens again at once."""
        size = tuple(size) if size else None
        self.engine.set_camera_size(size)
        self.settings.camera_size = size
        for act in self.acts.resolutions.actions():
            act.setChecked((tuple(act.data()) if act.data() else None) == size)
        if self.current_spec and self.current_spec.isdigit():
            self.start_source(self.current_spec)

    # ---------------------------------------------------------------- model
    def choose_model(self):
        path, _ = QFileDialog.getOpenFileName(self, "Emotion model", str(Path.home()),
                                              MODEL_FILTER)
        if path:
            self.load_model(path)

    def load_model(self, path):
        self._model_asked = True
        self.view.set_banner("Loading model…")
        self.engine.load_model(path)

    def _on_model_loaded(self, name, reference, why_none):
        self.model_name = Path(name).name
        self.status.model_error = ""
        self.view.set_banner("")
        # a new pipeline: a person's neutral measured with the old model is gone
        note = self.baseline.use_model(reference, why_none)
        if self._model_asked or note:   # not at start-up: would hide the source's news
            self.show_message(f"Emotion model loaded: {self.model_name}{note}", about_model=True)
        self._model_asked = False
        log.info("model loaded: %s", name)
        self.engine.reprocess()

    def _on_model_failed(self, message, kept: bool):
        if kept:   # the model in use goes on; only this file was refused
            self.view.set_banner("")
            self.show_message(f"Emotion model not loaded: {message}. Still using "
                              f"{self.model_name}.", error=True, about_model=True)
            return
        self.status.model_error = message
        self.view.set_banner(f"Emotion model not loaded: {message}. The picture is shown "
                             "without emotions; load another model with File > Load model "
                             "(Ctrl+L).")
        self.show_message(f"Emotion model not loaded: {message}", error=True, about_model=True)
        self.engine.reprocess()

    # ---------------------------------------------------------- status bar
    def show_message(self, text: str, error: bool = False, about_model: bool = False):
        self.status.show(text, error, about_model)

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
            self._stop_recording(wait=FINISH_TIMEOUT)
            self.snapshots.stop()
            self.cameras.stop()
            log.info("stopped in %.2f s", time.monotonic() - started)
        event.accept()
