"""The side panel: the followed face's emotions (bars) and its timeline in the
source's own time (or its valence), with their titles.

It only shows: it takes each result shown, each marker and the source's news, works
out which face to show and where on the timeline (app.gui.timeline, painted by
app.gui.widgets.TimelineView), and says by `highlight` which face to mark in the
picture.
"""

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from app.gui.timeline import Timeline, TimelineMode, timeline_mode
from app.gui.widgets import ProbabilityBars, TimelineView
from model.runtime.emotions import EMOTIONS


class SidePanel(QWidget):
    """The face title, its bars, the timeline's title with the valence button, and the
    timeline. `selected_track`: the face clicked in the picture (None: the largest)."""

    highlight = pyqtSignal(object)      # the selected face's box, or None

    def __init__(self, parent=None):
        super().__init__(parent)
        self.selected_track = None
        self._shown = None                  # the last result shown: what a click picks in
        self.face_title = QLabel("No face")
        self.face_title.setStyleSheet("font-weight: bold")
        self.face_title.setWordWrap(True)
        hint = QLabel("Click a face in the picture to follow it; click elsewhere to go "
                      "back to the largest face.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray")
        self.bars = ProbabilityBars()
        self.timeline = Timeline()
        self.timeline_view = TimelineView(self.timeline)
        # the timeline's title wraps rather than being cut at the panel's width
        self.timeline_title = QLabel(self.timeline.title())
        self.timeline_title.setWordWrap(True)
        # the panel's own control for View > Valence timeline (its action, set later)
        self.valence_button = QToolButton()
        self.valence_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)   # keep Space for snapshots
        header = QHBoxLayout()
        header.addWidget(self.timeline_title, 1)
        header.addWidget(self.valence_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        for widget in (self.face_title, hint, self.bars):
            layout.addWidget(widget)
        layout.addLayout(header)
        layout.addWidget(self.timeline_view)
        layout.addStretch(1)
        self.setMinimumWidth(260)
        self.setMaximumWidth(420)

    def reset(self, mode: TimelineMode | None = None):
        """Another source: no face followed, the timeline empty (in `mode`)."""
        self.selected_track = None
        self.timeline.reset()
        if mode is not None:
            self.timeline.set_mode(mode)
        self.timeline_title.setText(self.timeline.title())
        self.timeline_view.update()

    def started(self, info: dict):
        """The source's "started" news: the timeline in that source's mode."""
        self.reset(timeline_mode(info))

    def seeked(self):
        """The source jumped to another place (app.gui.timeline.Timeline.seeked)."""
        self.timeline.seeked()
        self.timeline_view.update()

    def set_valence(self, on: bool):
        """The timeline shows valence (on) or the emotions."""
        self.timeline.set_show_valence(on)
        self.timeline_title.setText(self.timeline.title())
        self.timeline_view.update()

    def add_marker(self, marker, frame):
        """A Marker added (app.gui.markers) at `frame`: a line on the timeline."""
        self.timeline.add_marker(self.timeline.time_of(frame), marker)
        self.timeline_view.update()

    def show_result(self, result):
        """A result shown: its faces' reading, at its frame's place on the timeline."""
        self._shown = result
        self._show_faces(result.detections, self.timeline.time_of(result.frame))

    def shown_face(self, detections):
        """The selected face if it is still there, else the largest."""
        for det in detections:
            if det.track_id == self.selected_track:
                return det
        return max(detections, key=lambda d: d.box[2] * d.box[3], default=None)

    def is_selected(self, det) -> bool:
        return det is not None and det.track_id == self.selected_track

    def _show_faces(self, detections, t):
        """The shown face's reading on the bars and the timeline at `t`."""
        det = self.shown_face(detections)
        selected = self.is_selected(det)
        self.highlight.emit(det.box if selected else None)
        if det is None:
            self.face_title.setText("No face")
            self.bars.set_probabilities(None)
            self.timeline.add(None, t=t)
            self.timeline_view.update()
            return
        which = "Selected face" if selected else "Largest face"
        reading = f"{det.label} {det.confidence * 100:.0f}%" if det.label in EMOTIONS \
            else "no emotion model"
        if det.calibrated:
            reading += " · calibrated"
        self.face_title.setText(f"{which}: {reading}")
        self.bars.set_probabilities(det.probabilities, det.label)
        self.timeline.add(det.label, det.confidence, t=t, valence=det.valence)
        self.timeline_view.update()

    def select_at(self, x, y):
        """Follow the face at frame pixel (x, y) of the result shown; empty space: the
        largest again."""
        if self._shown is None:
            return
        detections = self._shown.detections
        hit = next((d for d in detections
                    if d.box[0] <= x < d.box[0] + d.box[2] and d.box[1] <= y < d.box[1] + d.box[3]),
                   None)
        track = hit.track_id if hit is not None else None
        if track != self.selected_track:
            self.timeline.clear()
        self.selected_track = track
        self._show_faces(detections, self.timeline.time_of(self._shown.frame))
