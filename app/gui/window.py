"""The main window: the picture, the side panel, toolbar, menus and status bar.

It only displays and controls; all frame work happens in `app.gui.engine`, and
snapshots and recordings are written by their own workers.
Problems (no camera, a file that cannot be read, a model that does not load, a
snapshot folder that cannot be written) are shown in the status bar and over
the picture, never in a blocking dialog, and the window keeps working.
"""

import datetime as dt
import logging
import math
import os
import time
from pathlib import Path

from PyQt5.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QActionGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSlider,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.baseline import neutral_reference
from app.gui.about import about_html, shortcuts_html
from app.gui.engine import STOP_TIMEOUT, CameraLister, start_worker, stop_thread
from app.gui.recorder import FINISH_TIMEOUT, Recorder
from app.gui.snapshot_writer import SnapshotWriter
from app.gui.widgets import ProbabilityBars, ReviewBar, Timeline, VideoView
from app.neutral_check import NotNeutral, checked_offset
from app.runstats import process_age, rss_mb
from app.sources import VIDEO_SUFFIXES, list_cameras
from model.errors import ModelError
from model.emotions import EMOTIONS
from model.classifier import MODEL_TYPES
from model.data import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

TITLE = "Emotion Detector"
VIDEO_FILTER = ("Videos and images ("
                + " ".join(f"*{s}" for s in sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))
                + ");;All files (*)")
MODEL_FILTER = "Models (" + " ".join(f"*{t}" for t in MODEL_TYPES) + ");;All files (*)"
SENSITIVITY_STEP = 10
# Camera resolutions offered (most webcams give these); None: the camera's default.
CAMERA_SIZES = (None, (640, 480), (1280, 720), (1920, 1080))
# Calibrate neutral: how long the person keeps a neutral face, and the fewest
# readings of their face in that time that make a measurement
NEUTRAL_SECONDS = 3.0
NEUTRAL_MIN_READINGS = 5
MARKER_KEYS = range(1, 10)     # keys 1..9 add a numbered marker
MARKER_TEXT_LENGTH = 80        # the most characters of a marker's text


def timeline_mode(info: dict) -> str:
    """The side panel timeline's mode for a source's "started" news: "camera",
    "video" (a file with a frame rate) or "photos" (a folder of photos, an image)."""
    if info.get("live"):
        return "camera"
    if info.get("photos") or not info.get("fps"):
        return "photos" if info.get("photos") or (info.get("frames") or 0) <= 1 \
            else "camera"
    return "video"


def describe(spec) -> str:
    """How a source spec reads in messages: 'camera 0' or the file name."""
    spec = str(spec)
    return f"camera {spec}" if spec.isdigit() else Path(spec).name


class MainWindow(QMainWindow):
    """Shows what `engine` (an app.gui.engine.VideoEngine) produces and drives it."""

    _probe = pyqtSignal()

    def __init__(self, engine, settings, snapshot_dir=None, camera_lister=list_cameras,
                 stats_every: float = 0.0, record_dir=None):
        super().__init__()
        self.engine = engine
        # where the readings go live (app.feeds.Feeds: OSC, WebSocket); None when off
        self.feeds = getattr(engine, "feeds", None)
        self.settings = settings
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else settings.snapshot_dir
        # --record DIR: record every source from its start; else Record goes to the
        # snapshot folder
        self.record_dir = Path(record_dir) if record_dir else None
        self.recorder = Recorder(self)
        self.snapshots = SnapshotWriter(self)
        # (folder, summary) of the last recording saved; read by what drives the window
        # from outside (the tests), not by the window itself
        self.last_recording = None
        self.source_info = {}          # the running source: name, live, fps, started
        self.camera_lister = camera_lister
        self.current_spec = None
        self.last_result = None
        self.selected_track = None
        self.latency_ms = 0.0
        self.frames_shown = 0
        self.frames_with_faces = 0
        self.last_snapshot = None      # the last snapshot's paths; as last_recording
        self.unsaved = None            # the request of a snapshot that failed (kept)
        self.shown_at = None
        self.message_is_error = False
        self.model_error = ""          # why no model is working; "" when one is
        self.model_name = ""           # the file name of the model in use
        self._model_asked = False      # the user asked for another model
        # a person's own neutral taken out of a face's readings (Calibrate neutral):
        # what snapshots record of it while it is set (None: not set)
        self.calibration = None
        self._neutral = None           # the countdown in progress: what it collects
        # the last marker added to this source (keys 1..9, Add marker): what snapshots
        # record of it; None before the first
        self.last_marker = None
        self._closing = False

        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self._build_view()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_statusbar()
        self._restore(settings)
        self._connect()
        self.view.setFocus()

        self._stats_timer = QTimer(self, interval=500, timeout=self._update_stats)
        self._stats_timer.start()
        self._neutral_timer = QTimer(self, interval=100, timeout=self._neutral_tick)
        self._log_timer = None
        if stats_every > 0:
            self._log_timer = QTimer(self, interval=int(stats_every * 1000),
                                     timeout=self.log_stats)
            self._log_timer.start()

    # ------------------------------------------------------------- building
    def _build_view(self):
        self.view = VideoView()
        self.view.set_overlay("Starting…")
        self.bars = ProbabilityBars()
        self.timeline = Timeline()
        self.face_title = QLabel("No face")
        self.face_title.setStyleSheet("font-weight: bold")
        hint = QLabel("Click a face in the picture to follow it; click elsewhere to go "
                      "back to the largest face.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray")
        panel = QWidget()
        layout = QVBoxLayout(panel)
        layout.addWidget(self.face_title)
        layout.addWidget(hint)
        layout.addWidget(self.bars)
        header = QHBoxLayout()
        self.timeline_title = QLabel(self.timeline.title())
        # the panel's own control for View > Valence timeline (its action, set later)
        self.valence_button = QToolButton()
        self.valence_button.setFocusPolicy(Qt.NoFocus)   # keep Space for snapshots
        header.addWidget(self.timeline_title, 1)
        header.addWidget(self.valence_button)
        layout.addLayout(header)
        layout.addWidget(self.timeline)
        layout.addStretch(1)
        panel.setMinimumWidth(260)
        panel.setMaximumWidth(420)
        self.review = ReviewBar()
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.view, 1)
        column.addWidget(self.review)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(panel)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 0)
        splitter.setCollapsible(0, False)
        self.setCentralWidget(splitter)

    def _action(self, text, shortcut=None, slot=None, checkable=False, tip=None, icon=None):
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        if slot:
            (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)   # shortcuts work even with the menu bar hidden
        return action

    def _build_actions(self):
        a = self._action
        self.act_start = a("&Stop", "Ctrl+R", self.toggle_running, tip="Start or stop the source",
                           icon=QStyle.SP_MediaStop)
        self.act_open = a("&Open video or image…", QKeySequence.Open, self.open_file_dialog,
                          tip="Show a video file or an image", icon=QStyle.SP_DialogOpenButton)
        self.act_snapshot = a("Sna&pshot", "Space", self.take_snapshot,
                              tip="Save the annotated picture, the raw frame and a JSON record",
                              icon=QStyle.SP_DialogSaveButton)
        self.act_folder = a("Snapshot &folder…", "Ctrl+Shift+S", self.choose_snapshot_dir,
                            tip="Where snapshots are saved")
        self.act_model = a("Load &model…", "Ctrl+L", self.choose_model,
                           tip="Use another emotion model (.tflite, .keras or a .json ensemble)")
        self.act_shipped_model = a("Use the &shipped model", None,
                                   lambda: self.load_model(None),
                                   tip="Go back to the model that comes with the app")
        self.act_quit = a("&Quit", QKeySequence.Quit, self.close)
        self.act_fullscreen = a("&Full screen", "F11", self.set_fullscreen, checkable=True,
                                tip="Show the window on the whole screen (F11 again to leave)")
        self.act_shortcuts = a("&Keyboard shortcuts", "F1", self.show_shortcuts)
        self.act_about = a("&About Emotion Detector", None, self.show_about)
        self.act_mirror = a("&Mirror view", "M", self.set_mirror, checkable=True,
                            tip="Flip the picture left-right, like a mirror")
        self.act_smoothing = a("S&moothing", "S", self.set_smoothing, checkable=True,
                               tip="Smooth each face's emotion over time")
        self.act_more = a("More &sensitive", "+", lambda: self._step_sensitivity(+1),
                          tip="Find more faces (and more false ones)")
        self.act_more.setShortcuts([QKeySequence("+"), QKeySequence("=")])
        self.act_less = a("&Less sensitive", "-", lambda: self._step_sensitivity(-1),
                          tip="Find fewer false faces")
        self.act_refresh = a("&Refresh camera list", "F5", self.refresh_cameras)
        self.act_pause = a("&Pause", "P", self.set_paused, checkable=True,
                           tip="Pause or play a video file")
        self.act_prev = a("Pre&vious picture", "Left", lambda: self.review.step(-1),
                          tip="The previous photo of a folder (a second back in a video)")
        self.act_next = a("Ne&xt picture", "Right", lambda: self.review.step(+1),
                          tip="The next photo of a folder (a second on in a video)")
        self.act_loop = a("&Loop video", "L", self.set_loop, checkable=True,
                          tip="Play a video file again from the start when it ends")
        self.act_record = a("&Record", "R", self.set_recording, checkable=True,
                            tip="Record what is shown: the annotated video, detections.csv, "
                                "summary.json and the timeline, in a new folder",
                            icon=QStyle.SP_DialogYesButton)
        self.act_calibrate = a("Calibrate &neutral", "N", self.calibrate_neutral,
                               tip="Keep a neutral face for a few seconds: the followed "
                                   "(or largest) face's emotions are then read with that "
                                   "person's own neutral taken out")
        self.act_uncalibrate = a("&Clear neutral calibration", "Shift+N",
                                 self.clear_calibration,
                                 tip="Read the calibrated face as the model does again")
        self.act_uncalibrate.setEnabled(False)
        self.act_valence = a("&Valence timeline", "V", self.set_valence_view, checkable=True,
                             tip="Show the followed face's valence (happy minus the "
                                 "strongest of sad, angry, fear and disgust, -1 to 1) "
                                 "on the side panel instead of its emotions")
        self.act_valence.setIconText("Valence")       # the panel's button says this
        self.valence_button.setDefaultAction(self.act_valence)
        self.act_marker_text = a("Add &marker…", "Ctrl+M", self.add_text_marker,
                                 tip="Mark this moment with a short text (keys 1 to 9 "
                                     "mark it with a number)")
        self.marker_actions = []
        for n in MARKER_KEYS:
            act = a(f"Marker {n}", None, lambda _=False, n=n: self.add_marker(n),
                    tip=f"Mark this moment with the number {n}")
            act.setShortcuts([QKeySequence(str(n)),
                              QKeySequence(int(Qt.KeypadModifier) | (Qt.Key_0 + n))])
            self.marker_actions.append(act)
        self.camera_actions = QActionGroup(self)
        self.camera_actions.triggered.connect(lambda act: self.start_source(act.data()))

    def _build_menus(self):
        bar = self.menuBar()
        m = bar.addMenu("&File")
        for act in (self.act_open, self.act_snapshot, self.act_folder, self.act_model,
                    self.act_shipped_model):
            m.addAction(act)
        self.recent_menu = m.addMenu("Open &recent")
        self._fill_recent()
        m.addSeparator()
        m.addAction(self.act_quit)
        m = bar.addMenu("&Source")
        m.addAction(self.act_start)
        m.addAction(self.act_record)
        markers = m.addMenu("Mar&kers")
        markers.addAction(self.act_marker_text)
        markers.addSeparator()
        for act in self.marker_actions:
            markers.addAction(act)
        m.addSeparator()
        for act in (self.act_pause, self.act_prev, self.act_next, self.act_loop):
            m.addAction(act)
        m.addSeparator()
        self.camera_menu = m.addMenu("&Camera")
        self.resolution_menu = m.addMenu("Camera &resolution")
        self.resolution_actions = QActionGroup(self)
        for size in CAMERA_SIZES:
            act = self.resolution_menu.addAction(
                f"{size[0]} x {size[1]}" if size else "The camera's own")
            act.setCheckable(True)
            act.setData(size)
            self.resolution_actions.addAction(act)
        self.resolution_actions.triggered.connect(
            lambda act: self.set_camera_size(act.data()))
        m.addAction(self.act_refresh)
        m = bar.addMenu("&View")
        for act in (self.act_mirror, self.act_smoothing, self.act_more, self.act_less,
                    self.act_fullscreen, self.act_valence):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.act_calibrate)
        m.addAction(self.act_uncalibrate)
        m = bar.addMenu("&Help")
        m.addAction(self.act_shortcuts)
        m.addAction(self.act_about)

    def _build_toolbar(self):
        tb = self.addToolBar("Controls")
        tb.setObjectName("controls")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        tb.addAction(self.act_start)
        self.camera_box = QComboBox()
        self.camera_box.setMinimumContentsLength(10)
        self.camera_box.setToolTip("Camera (only the cameras that open are listed)")
        self.camera_box.activated.connect(self._camera_chosen)
        tb.addWidget(self.camera_box)
        tb.addAction(self.act_open)
        tb.addSeparator()
        tb.addAction(self.act_snapshot)
        tb.addAction(self.act_record)
        tb.addAction(self.act_marker_text)
        tb.addSeparator()
        tb.addAction(self.act_mirror)
        tb.addAction(self.act_smoothing)
        tb.addAction(self.act_calibrate)
        tb.addWidget(QLabel(" Sensitivity "))
        self.sensitivity = QSlider(Qt.Horizontal)
        self.sensitivity.setRange(0, 100)
        self.sensitivity.setFixedWidth(120)
        self.sensitivity.setToolTip("Face detector sensitivity (+ / -)")
        tb.addWidget(self.sensitivity)
        for w in (self.camera_box, self.sensitivity):
            w.setFocusPolicy(Qt.NoFocus)   # keep Space for snapshots

    def _build_statusbar(self):
        self.message = QLabel("")
        self.message.setWordWrap(True)        # long messages wrap instead of being cut
        self.stats = QLabel("")
        self.rec_label = QLabel("")
        self.rec_label.setStyleSheet("color: #c0392b; font-weight: bold")
        self.statusBar().addWidget(self.message, 1)
        self.statusBar().addPermanentWidget(self.rec_label)
        # the live feeds: where, how many clients
        self.feed_label = QLabel(self.feeds.status() if self.feeds is not None else "")
        self.statusBar().addPermanentWidget(self.feed_label)
        self.statusBar().addPermanentWidget(self.stats)

    def _restore(self, settings):
        self.act_loop.setChecked(self.engine.loop)
        self.engine.camera_size = settings.camera_size
        for act in self.resolution_actions.actions():
            act.setChecked(act.data() == settings.camera_size)
        self.act_mirror.setChecked(settings.mirror)
        self.act_smoothing.setChecked(settings.smoothing)
        self.sensitivity.setValue(int(round(settings.sensitivity * 100)))
        self.engine.set_options(smoothing=settings.smoothing, mirror=settings.mirror,
                                sensitivity=settings.sensitivity)
        geometry = settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1100, 700)

    def _connect(self):
        e = self.engine
        e.sourceEvent.connect(self._on_source_event)
        e.resultReady.connect(self._on_result)
        e.modelLoaded.connect(self._on_model_loaded)
        e.modelFailed.connect(self._on_model_failed)
        e.processingFailed.connect(lambda msg: self.show_message(msg, error=True))
        self.sensitivity.valueChanged.connect(self.set_sensitivity)
        self.view.clicked.connect(self._select_at)
        self.cameras = CameraLister(self.camera_lister)
        self.cameras.found.connect(self._fill_cameras)
        self._probe.connect(self.cameras.probe)
        self.cameras_thread = start_worker(self.cameras, "camera-probe")
        e.position.connect(self._on_position)
        self.review.seekRequested.connect(self.seek)
        self.review.pauseRequested.connect(self.act_pause.setChecked)
        self.review.loopRequested.connect(self.act_loop.setChecked)
        self.snapshots.saved.connect(self._on_snapshot_saved)
        self.snapshots.failed.connect(self._on_snapshot_failed)
        self.recorder.saved.connect(self._on_recording_saved)
        self.recorder.failed.connect(self._on_recording_failed)

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
        self._stop_neutral()
        self.source_info = {}
        self.current_spec = spec
        self.setWindowTitle(f"{describe(spec)} - {TITLE}")
        self.selected_track = None
        self.timeline.reset()
        self.last_marker = None
        self.view.set_overlay(f"Opening {describe(spec)}…")
        self.show_message(f"Opening {describe(spec)}…")
        self._sync_camera_box()
        self.engine.start(spec)
        self._update_start_action(True)

    def toggle_running(self):
        if self.engine.running:
            self.engine.stop()
            self.show_message(f"Stopped {describe(self.current_spec)}")
            self._update_start_action(False)
            self._stop_recording()
        elif self.current_spec is not None:
            self.start_source(self.current_spec)

    def open_file_dialog(self):
        start = str(Path(self.current_spec).parent) if self.current_spec and \
            not self.current_spec.isdigit() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open a video or image", start, VIDEO_FILTER)
        if path:
            self.start_source(path)

    def _on_source_event(self, kind, payload):
        name = describe(self.current_spec)
        if kind == "started":
            self.view.set_overlay("")
            self.settings.source = self.current_spec
            self.source_info = {**payload, "started": time.monotonic()}
            live = payload.get("live")
            self.timeline.set_mode(timeline_mode(payload))
            self.timeline_title.setText(self.timeline.title())
            if not live:
                self.act_pause.setChecked(False)
                self.review.show_for(payload.get("frames"), payload.get("fps"),
                                     payload.get("photos", False), self.act_loop.isChecked())
            else:
                self.review.hide()
            fps = f", {payload['fps']:.0f} fps" if payload.get("fps") else ""
            self.show_message(f"Showing {payload['name']}{fps}")
            if self.record_dir is not None and not self.recorder.active:
                self.act_record.setChecked(True)
            return
        self._update_start_action(False)
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
            log.warning("source %s: %s", name, payload)

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

    def _update_start_action(self, running: bool):
        self.act_start.setText("&Stop" if running else "&Start")
        self.act_start.setIcon(self.style().standardIcon(
            QStyle.SP_MediaStop if running else QStyle.SP_MediaPlay))

    # -------------------------------------------------------------- cameras
    def refresh_cameras(self):
        """Probe the cameras in the camera thread (opening one can take a while)."""
        self.camera_box.clear()
        self.camera_box.addItem("Looking…")
        self.camera_box.setEnabled(False)
        self._probe.emit()

    def _fill_cameras(self, found):
        cameras = sorted(set(found) | ({int(self.current_spec)}
                                       if self.current_spec and self.current_spec.isdigit()
                                       and self.engine.running else set()))
        self.camera_box.clear()
        self.camera_menu.clear()
        for act in self.camera_actions.actions():
            self.camera_actions.removeAction(act)
        for i, index in enumerate(cameras):
            self.camera_box.addItem(f"Camera {index}", index)
            act = QAction(f"Camera {index}", self, checkable=True)
            act.setData(str(index))
            if i < 9:
                act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            self.camera_actions.addAction(act)
            self.camera_menu.addAction(act)
        if not cameras:   # an item, not placeholder text: Qt 5.15 does not draw that
            self.camera_box.addItem("No camera")
            self.camera_menu.addAction("No camera found").setEnabled(False)
        self.camera_box.setEnabled(bool(cameras))
        self._sync_camera_box()

    def _camera_chosen(self, row):
        index = self.camera_box.itemData(row)
        if index is not None:
            self.start_source(index)

    def _sync_camera_box(self):
        spec = self.current_spec
        row = self.camera_box.findData(int(spec)) if spec and spec.isdigit() else -1
        if row < 0 and self.camera_box.count() and self.camera_box.itemData(0) is None:
            row = 0   # the "No camera" / "Looking…" item
        self.camera_box.setCurrentIndex(row)
        for act in self.camera_actions.actions():
            act.setChecked(act.data() == spec)

    # --------------------------------------------------------------- frames
    def _on_result(self, result):
        self.last_result = result
        self.frames_shown += 1
        self.frames_with_faces += bool(result.detections)
        self.latency_ms = (time.monotonic() - result.captured) * 1000.0
        if self.source_info.get("live") and "size" not in self.source_info:
            h, w = result.raw.shape[:2]       # what the camera really gives
            self.source_info["size"] = (w, h)
            self.show_message(f"Showing {self.source_info.get('name')} at {w}x{h}")
        self.view.set_image(result.image)
        if self._neutral is not None:
            self._collect_neutral(result)
        self._update_panel(result.detections, self.timeline_time(result))
        if self.recorder.active:
            self.recorder.add(result.annotated, result.detections, self.source_time(result))

    def source_time(self, result) -> float:
        """Seconds since the camera session started, or the position in the video: the
        time the capture stamped (as the feeds send it); a photo's, from the clock."""
        if result.time is not None:
            return result.time
        info = self.source_info
        if info.get("live") or not info.get("fps"):
            return max(0.0, result.captured - info.get("started", result.captured))
        return (result.seq - 1) / info["fps"]

    def timeline_time(self, result) -> float:
        """The side panel timeline's `t` for a frame: its source_time, or for photos
        (no time axis) the photo's number."""
        if self.timeline.mode == "photos":
            return float(result.seq)
        return self.source_time(result)

    # ---------------------------------------------------------------- markers
    def add_marker(self, number: int, text: str = "", moment=None) -> dict | None:
        """Mark the moment shown (keys 1..9: `number`; Add marker: 0 and a `text`): on
        the side panel's timeline, in the recording's markers.csv, out over the live
        feeds, and in the next snapshots. `moment`: (result, recording frame,
        recording folder) taken earlier (while the text was asked for); default now.
        Returns the marker (as snapshots record it), or None when nothing is shown."""
        result, rec_frame, rec_folder = moment or self._marker_moment()
        if result is None:
            self.show_message("Nothing to mark yet: no picture", error=True)
            return None
        t = self.source_time(result)
        marker = {"time_s": round(t, 3), "frame": int(result.seq), "number": int(number),
                  "text": str(text),
                  "when": dt.datetime.now().astimezone().isoformat(timespec="milliseconds")}
        self.last_marker = marker
        self.timeline.add_marker(self.timeline_time(result), number, text)
        recorded = ""
        if self.recorder.active and self.recorder.folder == rec_folder:
            self.recorder.marker(t, number, text, frame=rec_frame)
            recorded = " (recorded)"
        feeds = self.feeds
        if feeds is not None:       # a separate photo has no time in the feeds
            feeds.marker(None if self.timeline.mode == "photos" else t, int(result.seq),
                         int(number), str(text))
        name = f"Marker {number}" if number else f"Marker \"{text}\""
        where = f"photo {result.seq}" if self.timeline.mode == "photos" else \
            f"{t:.1f} s"
        self.show_message(f"{name} at {where}{recorded}")
        log.info("marker %d %r at %.3f s (frame %d)", number, text, t, result.seq)
        return marker

    def _marker_moment(self):
        """What a marker added now refers to: the result shown, the recording's number
        for the last frame queued, and the recording's folder."""
        active = self.recorder.active
        return (self.last_result, self.recorder.last_frame if active else None,
                self.recorder.folder if active else None)

    def add_text_marker(self):
        """Add marker…: asks for a short text; the marker is at the moment asked (the
        picture goes on meanwhile: the dialog runs its own event loop)."""
        moment = self._marker_moment()
        if moment[0] is None:
            self.show_message("Nothing to mark yet: no picture", error=True)
            return
        spec = self.current_spec
        text, ok = QInputDialog.getText(self, "Add marker", "A short text for this moment:")
        text = " ".join(text.split())[:MARKER_TEXT_LENGTH]
        if not ok or not text:
            return
        if self.current_spec != spec:
            self.show_message("Marker not added: the source changed meanwhile", error=True)
            return
        self.add_marker(0, text, moment)

    def set_valence_view(self, on: bool):
        """The side panel's timeline shows valence (on) or the emotions."""
        self.timeline.set_show_valence(on)
        self.timeline_title.setText(self.timeline.title())

    # ---------------------------------------------------------------- review
    def _on_position(self, seq):
        self.review.set_position(seq)

    def seek(self, index: int):
        """Show frame (or picture) `index` of the file playing; a video's timeline
        restarts (photos keep theirs: a column per photo shown)."""
        if self.engine.running and not self.source_info.get("live"):
            if self.timeline.mode != "photos":
                self.timeline.clear()
            self.engine.seek(index)

    def set_paused(self, on: bool):
        if on and (self.source_info.get("live") or self.source_info.get("photos")):
            self.act_pause.setChecked(False)    # a camera cannot pause; photos wait anyway
            return
        self.engine.pause(on)
        self.review.play.blockSignals(True)
        self.review.play.setChecked(on)
        self.review.play.blockSignals(False)
        self.show_message(f"Paused at {self.review.position_text()}" if on else
                          f"Playing {self.source_info.get('name', '')}")

    def set_loop(self, on: bool):
        self.engine.set_loop(on)
        self.review.loop.blockSignals(True)
        self.review.loop.setChecked(on)
        self.review.loop.blockSignals(False)

    # ------------------------------------------------------------- recording
    def set_recording(self, on: bool):
        """Start or stop recording the running source (the Record action)."""
        if not on:
            self._stop_recording()
            return
        if self.recorder.active:
            return
        if not self.engine.running or not self.source_info:
            self.act_record.setChecked(False)
            self.show_message("Nothing to record: start a camera or a video first", error=True)
            return
        info = self.source_info
        root = self.record_dir or self.snapshot_dir
        folder = self.recorder.start(root, info.get("name") or "session", info.get("fps"),
                                     self._source_label())
        self.show_message(f"Recording into {folder}")

    def _stop_recording(self, stopped=None, wait: float = 0.0):
        if self.recorder.active:
            self.recorder.stop(stopped, wait)
        if self.act_record.isChecked():
            self.act_record.blockSignals(True)
            self.act_record.setChecked(False)
            self.act_record.blockSignals(False)

    def _on_recording_saved(self, folder, summary):
        self.last_recording = (folder, summary)
        skipped = self.recorder.skipped
        note = f"; {skipped} frames not recorded (the disk was too slow)" if skipped else ""
        self.show_message(f"Recording saved in {folder}: {summary['frames']} frames, "
                          f"{summary['faces']} faces{note}")

    def _on_recording_failed(self, message):
        self._stop_recording(message)
        self.show_message(message, error=True)

    def _shown_face(self, detections):
        """The selected face if it is still there, else the largest."""
        for det in detections:
            if det.track_id == self.selected_track:
                return det
        return max(detections, key=lambda d: d.box[2] * d.box[3], default=None)

    def _update_panel(self, detections, t=None):
        det = self._shown_face(detections)
        selected = det is not None and det.track_id == self.selected_track
        self.view.set_highlight(det.box if selected else None)
        if det is None:
            self.face_title.setText("No face")
            self.bars.set_probabilities(None)
            self.timeline.add(None, t=t)
            return
        which = "Selected face" if selected else "Largest face"
        reading = f"{det.label} {det.confidence * 100:.0f}%" if det.label in EMOTIONS \
            else "no emotion model"
        if det.calibrated:
            reading += " · calibrated"
        self.face_title.setText(f"{which}: {reading}")
        self.bars.set_probabilities(det.probabilities, det.label)
        self.timeline.add(det.label, det.confidence, t=t, valence=det.valence)

    def _select_at(self, x, y):
        if self.last_result is None:
            return
        hit = next((d for d in self.last_result.detections
                    if d.box[0] <= x < d.box[0] + d.box[2] and d.box[1] <= y < d.box[1] + d.box[3]),
                   None)
        track = hit.track_id if hit is not None else None   # empty space: deselect
        if track != self.selected_track:
            self.timeline.clear()
        self.selected_track = track
        self._update_panel(self.last_result.detections, self.timeline_time(self.last_result))

    # ------------------------------------------------------- calibrate neutral
    def calibrate_neutral(self):
        """Calibrate neutral: the followed (or largest) face keeps a neutral face for
        NEUTRAL_SECONDS, counted down on the picture; the model's readings of it
        meanwhile give the person's lean (model.calibration.person_offset), taken out
        of that face's readings for the rest of the session (passed on to the next
        new face when it is gone: a new source, a seek). A still picture (a photo, a
        paused video) is measured at once, from the reading shown."""
        if self._neutral is not None:
            self.show_message("Already calibrating: keep a neutral face")
            return
        result = self.last_result
        det = self._shown_face(result.detections) if result is not None else None
        if det is None or det.held:
            self.show_message("Calibrate neutral: no face in the picture; start a camera "
                              "and look into it", error=True)
            return
        pipe = self.engine.processing.pipeline
        if det.label not in EMOTIONS or pipe is None:
            self.show_message("Calibrate neutral needs an emotion model: load one with "
                              "File > Load model (Ctrl+L)", error=True)
            return
        try:
            reference = neutral_reference(pipe.classifier)
        except ModelError as exc:
            self.show_message(f"Calibrate neutral: {exc}", error=True)
            return
        which = "selected" if det.track_id == self.selected_track else "largest"
        if self._picture_is_still():
            self._calibrate(det.track_id, which, reference, [det.raw_probabilities],
                            "this picture's reading", sequence=False)
            return
        self._neutral = {"track": det.track_id, "epoch": result.track_epoch,
                         "which": which, "reference": reference, "readings": [],
                         "ends": time.monotonic() + NEUTRAL_SECONDS, "shown": None}
        self._neutral_timer.start()
        self._neutral_tick()

    def _picture_is_still(self) -> bool:
        """No new frames come: a still image, a stopped or paused video, a photo."""
        return (not self.engine.running or self.act_pause.isChecked()
                or bool(self.source_info.get("photos")))

    def _neutral_tick(self):
        """The countdown, on the picture and in the status bar; at its end, calibrate."""
        n = self._neutral
        if n is None:
            return
        left = n["ends"] - time.monotonic()
        if left <= 0:
            self._finish_neutral()
            return
        second = math.ceil(left)
        if second != n["shown"]:
            n["shown"] = second
            self.view.set_prompt(f"Keep a neutral face… {second}")
            self.show_message(f"Calibrating the {n['which']} face: keep a neutral face "
                              f"for {second} s more")

    def _collect_neutral(self, result):
        """The countdown's face's reading in this frame (uncorrected, unsmoothed)."""
        n = self._neutral
        det = next((d for d in result.detections if d.track_id == n["track"]), None) \
            if result.track_epoch == n["epoch"] else None    # ids start again on a reset
        if det is None:
            self._stop_neutral()
            self.show_message("Calibration stopped: the face was lost. Calibrate neutral "
                              "(N) again while the face is in view.", error=True)
        elif not det.held and det.raw_probabilities:   # held: an old reading, shown again
            n["readings"].append(det.raw_probabilities)

    def _finish_neutral(self):
        n = self._stop_neutral()
        got = len(n["readings"])
        if got < NEUTRAL_MIN_READINGS:
            self.show_message(f"Calibration not done: the face was read only {got} times "
                              f"in {NEUTRAL_SECONDS:g} s (at least {NEUTRAL_MIN_READINGS} "
                              "needed). Calibrate neutral (N) again.", error=True)
            return
        self._calibrate(n["track"], n["which"], n["reference"], n["readings"],
                        f"{got} readings", sequence=True)

    def _stop_neutral(self):
        """End the countdown (if any); what it collected, or None."""
        n, self._neutral = self._neutral, None
        self._neutral_timer.stop()
        self.view.set_prompt("")
        return n

    def _calibrate(self, track, which, reference, readings, measured: str, sequence: bool):
        try:      # a smile, a face that talks: not a resting face (app.neutral_check)
            offset = checked_offset(readings, reference, sequence)
        except NotNeutral as exc:
            self.show_message(f"Calibration not done: {exc}.", error=True)
            log.info("neutral calibration refused: %s", exc)
            return
        self.engine.calibrate_person(offset, track)
        result = self.last_result
        self.calibration = {
            "track": int(track),
            "since": dt.datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "source": self._source_label(),
            "source_time_s": None if result is None else round(self.source_time(result), 3),
            "readings": len(readings),
            "offset": [round(float(v), 4) for v in offset]}
        self.act_uncalibrate.setEnabled(True)
        self.show_message(f"The {which} face is calibrated (from {measured}): its "
                          "emotions are read with this person's own neutral taken out. "
                          "Clear neutral calibration (Shift+N) undoes it.")
        log.info("neutral calibrated on face %d from %d reading(s)", track, len(readings))

    def clear_calibration(self):
        """Read every face as the model does again."""
        if self.calibration is None:
            return
        self._forget_calibration()
        self.show_message("Neutral calibration cleared: faces are read as the model "
                          "reads them")

    def _forget_calibration(self):
        self.calibration = None
        self.act_uncalibrate.setEnabled(False)
        self.engine.calibrate_person(None)

    # ------------------------------------------------------------- snapshots
    def take_snapshot(self) -> bool:
        """Save the picture now shown, in the snapshot thread; False if there is none.
        On failure the picture is kept for another folder."""
        result = self.last_result
        if result is None:
            self.show_message("Nothing to save yet: no picture", error=True)
            return False
        self.snapshots.save(folder=self.snapshot_dir, raw=result.raw,
                            annotated=result.annotated, detections=result.detections,
                            source=self._source_label(), when=dt.datetime.now().astimezone(),
                            frame_number=result.seq, source_time=self.source_time(result),
                            calibration=self.calibration, marker=self.last_marker)
        self.show_message("Saving the snapshot…")
        return True

    def _on_snapshot_saved(self, request, paths):
        self.unsaved = None
        self.last_snapshot = paths
        self.show_message(f"Snapshot saved: {paths.annotated} (+ raw frame and .json)")

    def _on_snapshot_failed(self, request, reason):
        self.unsaved = request
        self.show_message(f"Snapshot not saved: {reason}. It is kept: choose another "
                          "folder (Ctrl+Shift+S) to save it there.", error=True)
        log.warning("snapshot not saved: %s", reason)

    def _source_label(self) -> str:
        spec = self.current_spec or ""
        return f"camera {spec}" if spec.isdigit() else spec

    def choose_snapshot_dir(self):
        folder = QFileDialog.getExistingDirectory(self, "Snapshot folder", str(self.snapshot_dir))
        if folder:
            self.set_snapshot_dir(folder)

    def set_snapshot_dir(self, folder):
        """Use `folder` from now on (remembered); saves a snapshot that failed before."""
        self.snapshot_dir = Path(folder)
        self.settings.snapshot_dir = str(self.snapshot_dir)
        self.show_message(f"Snapshots go to {self.snapshot_dir}")
        if self.unsaved is not None:
            self.snapshots.save(**{**self.unsaved, "folder": self.snapshot_dir})

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

    def set_fullscreen(self, on: bool):
        self.showFullScreen() if on else self.showNormal()

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what, keys) for every action with a shortcut, as the menus show them."""
        rows = []
        for act in self.actions():
            keys = ", ".join(k.toString(QKeySequence.NativeText) for k in act.shortcuts())
            if keys:
                rows.append((act.text().replace("&", "").rstrip("…"), keys))
        return rows

    def show_shortcuts(self):
        QMessageBox.information(self, "Keyboard shortcuts", shortcuts_html(self.shortcut_rows()))

    def about_text(self) -> str:
        return about_html(TITLE, self.model_name)

    def show_about(self):
        QMessageBox.about(self, f"About {TITLE}", self.about_text())

    def set_camera_size(self, size):
        """Ask cameras for `size` (width, height), or None for their own; a running
        camera opens again at once."""
        size = tuple(size) if size else None
        self.engine.camera_size = size
        self.settings.camera_size = size
        for act in self.resolution_actions.actions():
            act.setChecked((tuple(act.data()) if act.data() else None) == size)
        if self.current_spec and self.current_spec.isdigit():
            self.start_source(self.current_spec)

    def _step_sensitivity(self, direction: int):
        self.sensitivity.setValue(self.sensitivity.value() + direction * SENSITIVITY_STEP)

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

    def _on_model_loaded(self, name):
        self.model_name = Path(name).name
        self.model_error = ""
        self.view.set_banner("")
        # a new pipeline: a person's neutral measured with the old model is gone
        note = ""
        if self._stop_neutral() is not None:
            note = "; calibration stopped: Calibrate neutral (N) again"
        if self.calibration is not None:
            self._forget_calibration()
            note = "; the neutral calibration was for the previous model: Calibrate " \
                   "neutral (N) again"
        if self._model_asked or note:   # not at start-up: would hide the source's news
            self.show_message(f"Emotion model loaded: {Path(name).name}{note}",
                              about_model=True)
        self._model_asked = False
        log.info("model loaded: %s", name)
        self.engine.reprocess()

    def _on_model_failed(self, message, kept: bool):
        if kept:   # the model in use goes on; only this file was refused
            self.view.set_banner("")
            self.show_message(f"Emotion model not loaded: {message}. Still using "
                              f"{self.model_name}.", error=True, about_model=True)
            return
        self.model_error = message
        text = (f"Emotion model not loaded: {message}. The picture is shown without "
                "emotions; load another model with File > Load model (Ctrl+L).")
        self.view.set_banner(text)
        self.show_message(f"Emotion model not loaded: {message}", error=True, about_model=True)
        self.engine.reprocess()

    # ---------------------------------------------------------- status bar
    def show_message(self, text: str, error: bool = False, about_model: bool = False):
        """The status bar's message; while the model is missing, other news says so too."""
        if self.model_error and not about_model:
            text, error = f"{text} | Emotion model not loaded: {self.model_error}", True
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message_is_error = error
        self.message.setStyleSheet("color: #c0392b; font-weight: bold" if error else "")

    def stats_values(self) -> dict:
        faces = len(self.last_result.detections) if self.last_result else 0
        return {**self.engine.stats(), "latency_ms": self.latency_ms, "faces": faces}

    def _update_stats(self):
        s = self.stats_values()
        n = s["faces"]
        if self.recorder.active:
            secs = int(self.recorder.elapsed)
            behind = f" ({self.recorder.skipped} skipped: disk too slow)" \
                if self.recorder.skipped else ""
            self.rec_label.setText(f"\u25cf REC {secs // 60}:{secs % 60:02d}{behind}")
        else:
            self.rec_label.setText("")
        if self.feeds is not None:
            self.feed_label.setText(self.feeds.status())
        self.stats.setText(f"capture {s['capture_fps']:.1f} fps · processing "
                           f"{s['processing_fps']:.1f} fps · latency {s['latency_ms']:.0f} ms"
                           f" · {n} face{'s' if n != 1 else ''}")

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
            self._stop_neutral()
            if self._log_timer is not None:
                self._log_timer.stop()
            self.settings.geometry = self.saveGeometry()
            self.settings.sync()
            self.engine.shutdown()
            self._stop_recording(wait=FINISH_TIMEOUT)
            self.snapshots.stop()
            stop_thread(self.cameras_thread, self.cameras, STOP_TIMEOUT, "the camera probe")
            log.info("stopped in %.2f s", time.monotonic() - started)
        event.accept()
