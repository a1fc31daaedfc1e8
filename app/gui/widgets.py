"""The window's custom widgets: the video view, the probability bars, the timeline.

Colours come from `model.runtime.emotions.EMOTION_COLORS` (BGR there), so a face's box in the
picture, its bar and its timeline row share one colour.
"""

from PyQt5.QtCore import QPoint, QRect, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QFont, QImage, QPainter, QPen
from PyQt5.QtWidgets import QSizePolicy, QWidget

from app.gui.timeline import TimelineMode, clock_text
from app.nouns import Marker
from model.runtime.emotions import EMOTION_COLORS, EMOTIONS

VALENCE_COLOR = QColor(30, 120, 200)
# row labels: centred on their row's height, at one end
MIDDLE_LEFT = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
MIDDLE_RIGHT = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight


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
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

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
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(QPoint(x, y), size)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))
        target, image = self.target_rect(), self.image
        if image is not None and not target.isNull():
            p.setRenderHint(QPainter.SmoothPixmapTransform)
            p.drawImage(target, image)
            if self.highlight is not None:
                self._draw_highlight(p, target, image, self.highlight)
        if self.overlay:
            self._text_box(p, self.overlay, self.rect().center(), 14)
        if self.banner:
            self._text_box(p, self.banner, QPoint(self.width() // 2, 24), 10)
        if self.prompt:
            self._text_box(p, self.prompt, QPoint(self.width() // 2, self.height() - 48), 18)
        p.end()

    def _draw_highlight(self, p: QPainter, target: QRect, image: QImage,
                        highlight: tuple[int, ...]) -> None:
        """A white frame around the selected face, just outside its box."""
        sx = target.width() / image.width()
        sy = target.height() / image.height()
        x, y, w, h = highlight
        rect = QRect(int(target.x() + x * sx) - 5, int(target.y() + y * sy) - 5,
                     int(w * sx) + 10, int(h * sy) + 10)
        pen = QPen(QColor(255, 255, 255))
        pen.setWidth(3)
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRect(rect)

    def _text_box(self, p: QPainter, text: str, centre: QPoint, size: int):
        font = QFont(self.font())
        font.setPointSize(size)
        p.setFont(font)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        bounds = p.boundingRect(QRect(0, 0, max(200, self.width() - 60), 1000), flags, text)
        bounds.moveCenter(centre)
        box = bounds.adjusted(-12, -8, 12, 8)
        p.fillRect(box, QColor(0, 0, 0, 170))
        p.setPen(QColor(245, 245, 245))
        p.drawText(bounds, flags, text)

    def mousePressEvent(self, event):
        target, image = self.target_rect(), self.image
        if image is None or target.isNull() or not target.contains(event.pos()):
            return
        sx = image.width() / target.width()
        sy = image.height() / target.height()
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
            p.drawText(QRectF(0, y, name_w, row), MIDDLE_LEFT, emotion)
            track = QRectF(name_w, y + row * 0.2, bar_w, row * 0.6)
            p.fillRect(track, QColor(128, 128, 128, 50))
            p.fillRect(QRectF(track.x(), track.y(), bar_w * max(0.0, min(1.0, prob)),
                              track.height()), emotion_qcolor(emotion))
            p.drawText(QRectF(name_w + bar_w + 4, y, pct_w, row),
                       MIDDLE_RIGHT, f"{prob * 100:.0f}%")
        p.end()


class TimelineView(QWidget):
    """Paints `timeline` (app.gui.timeline.Timeline): a row per emotion, each sample
    a mark in its label's row and colour (faint when unsure), or its valence as a
    line from -1 to 1; markers are vertical lines labelled with their number (or
    text). Whoever changes the timeline calls `update`."""

    def __init__(self, timeline, parent=None):
        super().__init__(parent)
        self.timeline = timeline
        self.setMinimumSize(220, 7 * 16 + 20)

    def paintEvent(self, event):
        p = QPainter(self)
        name_w, bottom = 70, 16
        rows = len(EMOTIONS)
        row = (self.height() - bottom) / rows
        height = rows * row
        width = max(10, self.width() - name_w - 4)
        text = self.palette().windowText().color()
        line = self.timeline
        p.setPen(text)
        p.fillRect(QRectF(name_w, 0, width, height), QColor(128, 128, 128, 40))
        for frac, label in line.axis_labels():
            align = Qt.AlignmentFlag.AlignLeft if frac == 0 \
                else Qt.AlignmentFlag.AlignRight if frac == 1 else Qt.AlignmentFlag.AlignHCenter
            p.drawText(QRectF(name_w, height, width, bottom), align, label)
        if line.mode is TimelineMode.PHOTOS:
            p.drawText(QRectF(name_w, height, width, bottom), Qt.AlignmentFlag.AlignLeft,
                       "one column per photo")
        if line.show_valence:
            self._paint_valence(p, name_w, width, height, text)
        else:
            self._paint_emotions(p, name_w, width, row, text)
        pen = QPen(text)
        pen.setWidth(1)
        pen.setStyle(Qt.PenStyle.DashLine)
        for t, number, label in line.markers:
            frac = line.x_fraction(t)
            if frac is None:
                continue
            x = name_w + width * frac
            p.setPen(pen)
            p.drawLine(QPoint(int(x), 0), QPoint(int(x), int(height)))
            p.setPen(text)
            p.drawText(QRectF(x + 2, 0, 80, p.fontMetrics().height()),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                       Marker(number=number, text=label).label)
        p.end()

    def _paint_emotions(self, p, name_w, width, row, text):
        for i, emotion in enumerate(EMOTIONS):
            p.drawText(QRectF(0, i * row, name_w, row), MIDDLE_LEFT,
                       emotion)
        line = self.timeline
        step = line.mark_width(width)
        centred = line.mode is TimelineMode.PHOTOS          # a photo's mark is its column
        for (_, idx, conf, _), frac in zip(line.samples, line.sample_fractions()):
            if idx < 0 or frac is None:
                continue
            x = name_w + width * frac - (step / 2 if centred else 0)
            color = emotion_qcolor(EMOTIONS[idx])
            color.setAlphaF(0.35 + 0.65 * max(0.0, min(1.0, conf)))
            p.fillRect(QRectF(x, idx * row + 2, step, row - 4), color)

    def _paint_valence(self, p, name_w, width, height, text):
        def y(v):
            return (1 - (max(-1.0, min(1.0, v)) + 1) / 2) * (height - 8) + 4

        for v, label in ((1.0, "+1"), (0.0, "0"), (-1.0, "-1")):
            p.drawText(QRectF(0, y(v) - 8, name_w, 16), MIDDLE_LEFT,
                       label)
        p.setPen(QPen(QColor(128, 128, 128, 120)))
        p.drawLine(QPoint(name_w, int(y(0.0))), QPoint(name_w + width, int(y(0.0))))
        pen = QPen(VALENCE_COLOR)
        pen.setWidth(2)
        p.setPen(pen)
        p.setRenderHint(QPainter.Antialiasing)
        last = None
        line = self.timeline
        for (_, _, _, v), frac in zip(line.samples, line.sample_fractions()):
            if v is None or frac is None:
                last = None                      # no face: a gap
                continue
            point = QPoint(int(name_w + width * frac), int(y(v)))
            if last is not None:
                p.drawLine(last, point)
            else:
                p.drawPoint(point)
            last = point
        p.setRenderHint(QPainter.Antialiasing, False)
        p.setPen(text)


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
        assert style is not None            # (a widget always has one)
        self.prev = QToolButton()
        self.prev.setToolTip("Previous picture (Left)")
        self.prev.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipBackward))
        self.play = QToolButton()
        self.play.setToolTip("Pause / play (P)")
        self.play.setCheckable(True)
        self.play.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.next = QToolButton()
        self.next.setToolTip("Next picture (Right)")
        self.next.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Drag to go to another place")
        self.where = QLabel("")
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("Play the video again from the start when it ends")
        for w in (self.prev, self.play, self.next, self.slider, self.loop):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)            # keep Space for snapshots
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
        self.show_paused(False)
        self.show_loop(loop)
        self.set_position(1)
        self.setVisible(self.frames > 1)

    def show_paused(self, on: bool):
        """Show the video paused (or playing) as decided elsewhere: no request back."""
        _check_quietly(self.play, on)

    def show_loop(self, on: bool):
        """Show Loop on or off as decided elsewhere: no request back."""
        _check_quietly(self.loop, on)

    def set_position(self, number: int):
        """The frame (or picture) just read, numbered from 1 as the capture counts them."""
        self.index = max(0, number - 1)
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(min(self.index, self.slider.maximum()))
            self.slider.blockSignals(False)
        self.where.setText(self.position_text())

    def position_text(self, index: int | None = None) -> str:
        """Where frame `index` (0-based; default: the one shown) is in the file."""
        index = self.index if index is None else index
        if self.photos or not self.fps:
            return f"{index + 1} / {self.frames}"
        return f"{clock_text(index / self.fps)} / {clock_text(self.frames / self.fps)}"

    def step(self, direction: int):
        """The previous or next picture (or a second back or on, in a video)."""
        jump = 1 if self.photos or not self.fps else int(round(self.fps))
        target = min(max(0, self.index + direction * jump), max(0, self.frames - 1))
        self.seekRequested.emit(target)



def _check_quietly(button, on: bool):
    button.blockSignals(True)
    button.setChecked(on)
    button.blockSignals(False)
