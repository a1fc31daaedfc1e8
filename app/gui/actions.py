"""The window's actions (each with its shortcut and tip), its menus and its toolbar.

Built here, connected by the window: an action knows nothing of what it starts.
Every action is added to the window too, so its shortcut works with the menu bar
hidden (full screen).
"""

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QActionGroup, QLabel, QSlider, QStyle

from app.gui.markers import MARKER_KEYS

# Camera resolutions offered (most webcams give these); None: the camera's default.
CAMERA_SIZES = (None, (640, 480), (1280, 720), (1920, 1080))


class WindowActions:
    """The actions, by name (`start`, `open`, `snapshot`, ...), made on `window`."""

    def __init__(self, window):
        self._window = window
        a = self._action
        self.start = a("&Stop", "Ctrl+R", "Start or stop the source",
                       QStyle.StandardPixmap.SP_MediaStop)
        self.open = a("&Open video or image…", QKeySequence.Open,
                      "Show a video file or an image", QStyle.StandardPixmap.SP_DialogOpenButton)
        self.snapshot = a("Sna&pshot", "Space", "Save the annotated picture, the raw "
                          "frame and a JSON record", QStyle.StandardPixmap.SP_DialogSaveButton)
        self.folder = a("Snapshot &folder…", "Ctrl+Shift+S", "Where snapshots are saved")
        self.model = a("Load &model…", "Ctrl+L",
                       "Use another emotion model (.tflite, .keras or a .json ensemble)")
        self.shipped_model = a("Use the &shipped model", None,
                               "Go back to the model that comes with the app")
        self.quit = a("&Quit", QKeySequence.Quit)
        self.fullscreen = a("&Full screen", "F11", "Show the window on the whole screen "
                            "(F11 again to leave)", checkable=True)
        self.shortcuts = a("&Keyboard shortcuts", "F1")
        self.about = a("&About Emotion Detector")
        self.mirror = a("&Mirror view", "M", "Flip the picture left-right, like a mirror",
                        checkable=True)
        self.smoothing = a("S&moothing", "S", "Smooth each face's emotion over time",
                           checkable=True)
        self.more = a("More &sensitive", "+", "Find more faces (and more false ones)")
        self.more.setShortcuts([QKeySequence("+"), QKeySequence("=")])
        self.less = a("&Less sensitive", "-", "Find fewer false faces")
        self.refresh = a("&Refresh camera list", "F5")
        self.pause = a("&Pause", "P", "Pause or play a video file", checkable=True)
        self.prev = a("Pre&vious picture", "Left",
                      "The previous photo of a folder (a second back in a video)")
        self.next = a("Ne&xt picture", "Right",
                      "The next photo of a folder (a second on in a video)")
        self.loop = a("&Loop video", "L", "Play a video file again from the start when it "
                      "ends", checkable=True)
        self.record = a("&Record", "R", "Record what is shown: the annotated video, "
                        "detections.csv, summary.json and the timeline, in a new folder",
                        QStyle.StandardPixmap.SP_DialogYesButton, checkable=True)
        self.measure_baseline = a(
            "Calibrate &neutral", "N", "Keep a neutral face for a few seconds: the followed "
            "(or largest) face's emotions are then read with that person's own neutral "
            "taken out")
        self.clear_baseline = a("&Clear neutral calibration", "Shift+N",
                                "Read the calibrated face as the model does again")
        self.clear_baseline.setEnabled(False)
        self.valence = a("&Valence timeline", "V", "Show the followed face's valence (happy "
                         "minus the strongest of sad, angry, fear and disgust, -1 to 1) on "
                         "the side panel instead of its emotions", checkable=True)
        self.valence.setIconText("Valence")       # the panel's button says this
        self.marker_text = a("Add &marker…", "Ctrl+M", "Mark this moment with a short text "
                             "(keys 1 to 9 mark it with a number)")
        self.markers = []                         # Marker 1..9, each its number as data
        for n in MARKER_KEYS:
            act = a(f"Marker {n}", None, f"Mark this moment with the number {n}")
            keypad = int(Qt.KeyboardModifier.KeypadModifier) | (Qt.Key.Key_0 + n)
            act.setShortcuts([QKeySequence(str(n)), QKeySequence(keypad)])
            act.setData(n)
            self.markers.append(act)
        self.resolutions = QActionGroup(window)
        for size in CAMERA_SIZES:
            act = QAction(f"{size[0]} x {size[1]}" if size else "The camera's own", window)
            act.setCheckable(True)
            act.setData(size)
            self.resolutions.addAction(act)

    def _action(self, text, shortcut=None, tip=None, icon=None, checkable=False):
        window = self._window
        action = QAction(text, window)
        if icon is not None:
            action.setIcon(window.style().standardIcon(icon))
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(f"{tip} ({action.shortcut().toString()})" if shortcut else tip)
        window.addAction(action)   # shortcuts work even with the menu bar hidden
        return action

    def show_running(self, running: bool):
        """The Start/Stop action says what it will do."""
        self.start.setText("&Stop" if running else "&Start")
        self.start.setIcon(self._window.style().standardIcon(
            QStyle.StandardPixmap.SP_MediaStop if running else QStyle.StandardPixmap.SP_MediaPlay))

    def build_menus(self, bar, cameras):
        """The menu bar; the Camera menu is `cameras`' (a CameraChooser). Returns
        the Open recent menu (filled by the window)."""
        m = bar.addMenu("&File")
        for act in (self.open, self.snapshot, self.folder, self.model, self.shipped_model):
            m.addAction(act)
        recent = m.addMenu("Open &recent")
        m.addSeparator()
        m.addAction(self.quit)
        m = bar.addMenu("&Source")
        m.addAction(self.start)
        m.addAction(self.record)
        markers = m.addMenu("Mar&kers")
        markers.addAction(self.marker_text)
        markers.addSeparator()
        markers.addActions(self.markers)
        m.addSeparator()
        m.addActions([self.pause, self.prev, self.next, self.loop])
        m.addSeparator()
        cameras.menu = m.addMenu("&Camera")
        m.addMenu("Camera &resolution").addActions(self.resolutions.actions())
        m.addAction(self.refresh)
        m = bar.addMenu("&View")
        m.addActions([self.mirror, self.smoothing, self.more, self.less, self.fullscreen,
                      self.valence])
        m.addSeparator()
        m.addActions([self.measure_baseline, self.clear_baseline])
        m = bar.addMenu("&Help")
        m.addActions([self.shortcuts, self.about])
        return recent

    def build_toolbar(self, toolbar, camera_box) -> QSlider:
        """The toolbar's buttons and the sensitivity slider (returned)."""
        toolbar.setObjectName("controls")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.start)
        toolbar.addWidget(camera_box)
        toolbar.addAction(self.open)
        toolbar.addSeparator()
        toolbar.addActions([self.snapshot, self.record, self.marker_text])
        toolbar.addSeparator()
        toolbar.addActions([self.mirror, self.smoothing, self.measure_baseline])
        toolbar.addWidget(QLabel(" Sensitivity "))
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, 100)
        slider.setFixedWidth(120)
        slider.setToolTip("Face detector sensitivity (+ / -)")
        slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)       # keep Space for snapshots
        toolbar.addWidget(slider)
        return slider


def shortcut_rows(window) -> list[tuple[str, str]]:
    """(what, keys) for every action of `window` with a shortcut, as the menus show them."""
    rows = []
    for act in window.actions():
        keys = ", ".join(k.toString(QKeySequence.NativeText) for k in act.shortcuts())
        if keys:
            rows.append((act.text().replace("&", "").rstrip("…"), keys))
    return rows
