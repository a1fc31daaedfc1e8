"""The window's custom widgets: the video view, the probability bars, the timeline.

Colours come from `app.draw.EMOTION_COLORS` (BGR there), so a face's box in the
picture, its bar and its timeline row share one colour.
"""

import collections
import time

from PyQt5.QtCore import QPoint, QRect, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QPen
from PyQt5.QtWidgets import QSizePolicy, QWidget

from app.draw import EMOTION_COLORS
from model.emotions import EMOTIONS

TIMELINE_SECONDS = 60.0


def emotion_qcolor(emotion: str) -> QColor:
    b, g, r = EMOTION_COLORS.get(emotion, (255, 255, 255))
    return QColor(r, g, b)


class VideoView(QWidget):
    """The picture, scaled to the widget with its aspect ratio kept, plus three texts:
    `overlay` (centred, when there is no live picture), `banner` (a strip at the
    top, e.g. the model failed but the picture still runs) and `prompt` (large, near
    the bottom: what the person in the picture is asked to do, e.g. a countdown)."""

    clicked = pyqtSignal(int, int)   # frame pixel coordinates

    def __init__(self, parent=None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.overlay = ""
        self.banner = ""
        self.prompt = ""
        self.highlight = None          # (x, y, w, h) in frame pixels: the selected face
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.StrongFocus)

    def set_image(self, image: QImage):
        self.image = image
        self.update()

    def set_overlay(self, text: str):
        self.overlay = text
        self.update()

    def set_banner(self, text: str):
        self.banner = text
        self.update()

    def set_prompt(self, text: str):
        self.prompt = text
        self.update()

    def set_highlight(self, box):
        self.highlight = tuple(box) if box is not None else None
        self.update()

    def target_rect(self) -> QRect:
        """Where the picture is drawn: centred, as large as fits, aspect kept."""
        if self.image is None or self.image.isNull():
            return QRect()
        size = self.image.size().scaled(self.size(), Qt.KeepAspectRatio)
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(QPoint(x, y), size)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))
        target = self.target_rect()
        if not target.isNull():
            p.setRenderHint(QPainter.SmoothPixmapTransform)
            p.drawImage(target, self.image)
            if self.highlight is not None:
                self._draw_highlight(p, target)
        if self.overlay:
            self._text_box(p, self.overlay, self.rect().center(), 14)
        if self.banner:
            self._text_box(p, self.banner, QPoint(self.width() // 2, 24), 10)
        if self.prompt:
            self._text_box(p, self.prompt, QPoint(self.width() // 2, self.height() - 48), 18)
        p.end()

    def _draw_highlight(self, p: QPainter, target: QRect):
        """A white frame around the selected face, just outside its box."""
        sx = target.width() / self.image.width()
        sy = target.height() / self.image.height()
        x, y, w, h = self.highlight
        rect = QRect(int(target.x() + x * sx) - 5, int(target.y() + y * sy) - 5,
                     int(w * sx) + 10, int(h * sy) + 10)
        pen = QPen(QColor(255, 255, 255))
        pen.setWidth(3)
        pen.setStyle(Qt.DashLine)
        p.setPen(pen)
        p.drawRect(rect)

    def _text_box(self, p: QPainter, text: str, centre: QPoint, size: int):
        font = QFont(self.font())
        font.setPointSize(size)
        p.setFont(font)
        flags = Qt.AlignCenter | Qt.TextWordWrap
        bounds = p.boundingRect(QRect(0, 0, max(200, self.width() - 60), 1000), flags, text)
        bounds.moveCenter(centre)
        box = bounds.adjusted(-12, -8, 12, 8)
        p.fillRect(box, QColor(0, 0, 0, 170))
        p.setPen(QColor(245, 245, 245))
        p.drawText(bounds, flags, text)

    def mousePressEvent(self, event):
        target = self.target_rect()
        if target.isNull() or not target.contains(event.pos()):
            return
        sx = self.image.width() / target.width()
        sy = self.image.height() / target.height()
        self.clicked.emit(int((event.x() - target.x()) * sx),
                          int((event.y() - target.y()) * sy))


class ProbabilityBars(QWidget):
    """The seven probabilities of one face as labelled horizontal bars."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.probabilities = [0.0] * len(EMOTIONS)
        self.label = ""
        self.setMinimumSize(220, 7 * 24)

    def set_probabilities(self, probabilities, label: str = ""):
        probs = [float(p) for p in probabilities] if probabilities is not None else []
        self.probabilities = probs if len(probs) == len(EMOTIONS) else [0.0] * len(EMOTIONS)
        self.label = label
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        row = self.height() / len(EMOTIONS)
        name_w, pct_w = 70, 44
        bar_w = max(10, self.width() - name_w - pct_w - 8)
        text = self.palette().windowText().color()
        for i, (emotion, prob) in enumerate(zip(EMOTIONS, self.probabilities)):
            y = i * row
            font = QFont(self.font())
            font.setBold(emotion == self.label)
            p.setFont(font)
            p.setPen(text)
            p.drawText(QRectF(0, y, name_w, row), Qt.AlignVCenter | Qt.AlignLeft, emotion)
            track = QRectF(name_w, y + row * 0.2, bar_w, row * 0.6)
            p.fillRect(track, QColor(128, 128, 128, 50))
            p.fillRect(QRectF(track.x(), track.y(), bar_w * max(0.0, min(1.0, prob)),
                              track.height()), emotion_qcolor(emotion))
            p.drawText(QRectF(name_w + bar_w + 4, y, pct_w, row),
                       Qt.AlignVCenter | Qt.AlignRight, f"{prob * 100:.0f}%")
        p.end()


class Timeline(QWidget):
    """The last minute of one face's emotion: a row per emotion, time to the right,
    each sample a mark in its label's row and colour (faint when unsure)."""

    def __init__(self, seconds: float = TIMELINE_SECONDS, clock=time.monotonic, parent=None):
        super().__init__(parent)
        self.seconds = seconds
        self._clock = clock
        self.samples = collections.deque(maxlen=6000)   # (t, emotion index, confidence)
        self.video_time = False    # t is the video's position, not the clock
        self.setMinimumSize(220, 7 * 16 + 20)

    def add(self, label: str | None, confidence: float = 0.0, t: float | None = None):
        """Record the shown face's label at `t` (the clock, or a video's position when
        `video_time` is set); None marks a moment with no face."""
        t = self._clock() if t is None else t
        idx = EMOTIONS.index(label) if label in EMOTIONS else -1
        self.samples.append((t, idx, float(confidence)))
        while self.samples and t - self.samples[0][0] > self.seconds:
            self.samples.popleft()
        self.update()

    def clear(self):
        self.samples.clear()
        self.update()

    def paintEvent(self, event):
        p = QPainter(self)
        name_w, bottom = 70, 16
        rows = len(EMOTIONS)
        row = (self.height() - bottom) / rows
        width = max(10, self.width() - name_w - 4)
        text = self.palette().windowText().color()
        p.setPen(text)
        for i, emotion in enumerate(EMOTIONS):
            p.drawText(QRectF(0, i * row, name_w, row), Qt.AlignVCenter | Qt.AlignLeft, emotion)
        p.fillRect(QRectF(name_w, 0, width, rows * row), QColor(128, 128, 128, 40))
        now = self.samples[-1][0] if self.video_time and self.samples else self._clock()
        left_label, right_label = (f"{now - self.seconds:.0f} s", f"{now:.1f} s") \
            if self.video_time else (f"-{self.seconds:.0f} s", "now")   # video: its time
        p.drawText(QRectF(name_w, rows * row, width, bottom), Qt.AlignLeft, left_label)
        p.drawText(QRectF(name_w, rows * row, width, bottom), Qt.AlignRight, right_label)
        step = max(1.0, width / max(1, self.seconds * 10))   # marks at least 1 px wide
        for t, idx, conf in self.samples:
            if idx < 0:
                continue
            x = name_w + width * (1 - (now - t) / self.seconds)
            if x < name_w:
                continue
            color = emotion_qcolor(EMOTIONS[idx])
            color.setAlphaF(0.35 + 0.65 * max(0.0, min(1.0, conf)))
            p.fillRect(QRectF(x, idx * row + 2, step, row - 4), color)
        p.end()


class ReviewBar(QWidget):
    """Under the picture for files: previous / play-pause / next, a seek bar, where
    the source is ("0:12 / 1:05", or "12 / 87" for a folder of photos), and Loop.

    It only shows and asks: `seekRequested(index)`, `pauseRequested(on)` and
    `loopRequested(on)` go to the window, which drives the engine."""

    seekRequested = pyqtSignal(int)
    pauseRequested = pyqtSignal(bool)
    loopRequested = pyqtSignal(bool)

    def __init__(self, parent=None):
        from PyQt5.QtWidgets import (
            QCheckBox,
            QHBoxLayout,
            QLabel,
            QSlider,
            QStyle,
            QToolButton,
        )

        super().__init__(parent)
        self.frames = 0
        self.fps = None
        self.photos = False
        self.index = 0                  # the frame or picture shown, 0-based
        style = self.style()
        self.prev = QToolButton(toolTip="Previous picture (Left)")
        self.prev.setIcon(style.standardIcon(QStyle.SP_MediaSkipBackward))
        self.play = QToolButton(toolTip="Pause / play (P)", checkable=True)
        self.play.setIcon(style.standardIcon(QStyle.SP_MediaPause))
        self.next = QToolButton(toolTip="Next picture (Right)")
        self.next.setIcon(style.standardIcon(QStyle.SP_MediaSkipForward))
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setToolTip("Drag to go to another place")
        self.where = QLabel("")
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("Play the video again from the start when it ends")
        for w in (self.prev, self.play, self.next, self.slider, self.loop):
            w.setFocusPolicy(Qt.NoFocus)            # keep Space for snapshots
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 2, 4, 2)
        for w in (self.prev, self.play, self.next):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.where)
        row.addWidget(self.loop)
        self.prev.clicked.connect(lambda: self.step(-1))
        self.next.clicked.connect(lambda: self.step(+1))
        self.play.toggled.connect(self.pauseRequested)
        self.slider.sliderReleased.connect(lambda: self.seekRequested.emit(self.slider.value()))
        self.loop.toggled.connect(self.loopRequested)
        self.hide()

    def show_for(self, frames, fps, photos: bool, loop: bool):
        """Set up for a file with `frames` frames (or photos) at `fps`, and show."""
        self.frames, self.fps, self.photos = int(frames or 0), fps, photos
        self.slider.setRange(0, max(0, self.frames - 1))
        self.prev.setVisible(photos)
        self.next.setVisible(photos)
        self.play.setVisible(not photos)
        self.loop.setVisible(not photos)
        self.play.blockSignals(True)
        self.play.setChecked(False)
        self.play.blockSignals(False)
        self.loop.blockSignals(True)
        self.loop.setChecked(loop)
        self.loop.blockSignals(False)
        self.set_position(1)
        self.setVisible(self.frames > 1)

    def set_position(self, seq: int):
        """The frame (or picture) just shown, 1-based as the capture counts them."""
        self.index = max(0, seq - 1)
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(min(self.index, self.slider.maximum()))
            self.slider.blockSignals(False)
        self.where.setText(self.position_text())

    def position_text(self) -> str:
        if self.photos or not self.fps:
            return f"{self.index + 1} / {self.frames}"
        return f"{_clock(self.index / self.fps)} / {_clock(self.frames / self.fps)}"

    def step(self, direction: int):
        """The previous or next picture (or a second back or on, in a video)."""
        jump = 1 if self.photos or not self.fps else int(round(self.fps))
        target = min(max(0, self.index + direction * jump), max(0, self.frames - 1))
        self.seekRequested.emit(target)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"
